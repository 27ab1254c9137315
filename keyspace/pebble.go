package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"
)

// PebbleOptions configures OpenPebble. The zero value gives the defaults.
type PebbleOptions struct {
	// CacheBytes is the capacity of the cache of decoded values that reads go
	// through (ristretto), counted as encoded key and value bytes plus a
	// per-entry overhead. Default 64 MiB; a negative value disables it.
	CacheBytes int64
	// BlockCacheBytes is the size of Pebble's own cache of table blocks.
	// Default 32 MiB.
	BlockCacheBytes int64
	// MemTableBytes is the size of a Pebble memtable. Default 4 MiB, as
	// Pebble's: a larger memtable defers more compaction work but makes each
	// insert slower (a deeper skiplist, more cache misses).
	MemTableBytes int64
	// BatchBytes is how large a store's write batch grows before the store
	// commits it. Default 4 MiB.
	BatchBytes int
	// DisableWAL turns off Pebble's write-ahead log. floe never recovers
	// state from the working database (a restarted job restores from its
	// snapshots), so the log only costs write bandwidth; with it off, Flush
	// commits but cannot make anything durable.
	DisableWAL bool
}

// Defaults of PebbleOptions.
const (
	defaultCacheBytes      = 64 << 20
	defaultBlockCacheBytes = 32 << 20
	defaultMemTableBytes   = 4 << 20
	defaultBatchBytes      = 4 << 20
	// maxDirtyEntries bounds the entries a store writes between commits. A
	// commit re-inserts each written entry into the read cache, and
	// ristretto's insert buffer (32K items, shared by the process) drops
	// inserts beyond it, so a bound well below that keeps the cache warm.
	maxDirtyEntries = 8 << 10
	// cellOverhead is the cache cost of a decoded value beyond its encoded
	// key and value: the cell, and the Go value's header.
	cellOverhead = 64
)

// PebbleDB is the process-wide Pebble database that Pebble keyed stores share,
// with a cache of decoded values in front of it. Open one per process with
// OpenPebble, create stores on it with NewPebbleKeyedStore, and Close it after
// closing them. It is safe for concurrent use by the stores of different
// subtasks.
//
// Layout. Every entry's key is
//
//	key group (2 bytes, big-endian) | state id (12 bytes) | key | namespace | user key
//
// where the state id is the operator id — xxhash64 of the operator's UID,
// 8 bytes big-endian — followed by the high 32 bits of xxhash64 of the
// state's name; the key is its canonical encoding (KeyEncoder) preceded by
// its length as a uvarint; the namespace is a uvarint length (0, since no
// state is namespaced yet) followed by that many bytes; and the user key,
// present for map states only, is the state's user-key encoding. So a key
// group is one contiguous span, and within it one operator's state is one
// contiguous span, which is what a store clears and a snapshot iterates.
// State ids are derived from names, not allocated, so they are the same in
// every process and across restores; a collision between two names of one
// operator is detected when the second is registered.
//
// Values are the state's value encoding (see RestoreKeyedStore for the
// snapshot format, which holds the same bytes). A list state's value is its
// elements, each framed by its length: Add writes one framed element as a
// Pebble merge operand, and Pebble's default merger concatenates operands,
// so appending to a list is a blind write that costs the same whatever the
// list's length, with no read.
//
// Reads go through a ristretto cache of decoded values keyed by the store's
// incarnation and the Pebble key. Ristretto applies inserts asynchronously
// and its admission policy drops some, so it is only ever a cache: a store
// keeps the entries it wrote since its last commit in its own map (where
// reads look first), and after each commit it waits for ristretto's buffer to
// drain and re-inserts or deletes every entry it wrote, so that no stale
// insert can land after a newer write.
type PebbleDB struct {
	db          *pebble.DB
	cache       *ristretto.Cache[[]byte, any]
	batchBytes  int
	walDisabled bool
	mu          struct {
		sync.Mutex
		incarnation uint32
		open        map[[8]byte]*openOperator
		closed      bool
	}
}

// openOperator records the stores open on one operator id.
type openOperator struct {
	uid    string
	ranges []KeyGroupRange
}

// OpenPebble opens the Pebble database in dir, creating it if needed, and
// empties it: the working database never carries state from one process to
// the next (jobs restore from snapshots). Only one process may use dir at a
// time. Pebble's log messages go to log/slog.
func OpenPebble(dir string, opts PebbleOptions) (*PebbleDB, error) {
	if opts.CacheBytes == 0 {
		opts.CacheBytes = defaultCacheBytes
	}
	if opts.BlockCacheBytes <= 0 {
		opts.BlockCacheBytes = defaultBlockCacheBytes
	}
	if opts.MemTableBytes <= 0 {
		opts.MemTableBytes = defaultMemTableBytes
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = defaultBatchBytes
	}
	po := &pebble.Options{
		CacheSize:    opts.BlockCacheBytes,
		MemTableSize: uint64(opts.MemTableBytes),
		DisableWAL:   opts.DisableWAL,
		Logger:       pebbleLogger{},
		Merger:       concatenate,
	}
	// Bloom filters (the later levels inherit L0's) make the read of a key
	// that does not exist yet, the first touch of every new key, cheap.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open the Pebble state database in %s: %w (is another process using it?)", dir, err)
	}
	if err := db.DeleteRange([]byte{0}, []byte{0xff}, pebble.NoSync); err != nil {
		db.Close()
		return nil, fmt.Errorf("empty the Pebble state database in %s: %w", dir, err)
	}
	d := &PebbleDB{db: db, batchBytes: opts.BatchBytes, walDisabled: opts.DisableWAL}
	d.mu.open = make(map[[8]byte]*openOperator)
	if opts.CacheBytes > 0 {
		d.cache, err = ristretto.NewCache(&ristretto.Config[[]byte, any]{
			// About 4 counters per entry of ~128 bytes: ristretto's
			// admission needs more counters than entries, and each costs
			// about 3 bytes.
			NumCounters: max(opts.CacheBytes/32, 1<<12),
			MaxCost:     opts.CacheBytes,
			BufferItems: 64,
			KeyToHash:   func(k []byte) (uint64, uint64) { return z.MemHash(k), xxhash.Sum64(k) },
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("create the state read cache: %w", err)
		}
	}
	return d, nil
}

// Close closes the database and its cache. Stores on it must be closed
// first; using one afterwards panics.
func (d *PebbleDB) Close() error {
	d.mu.Lock()
	if d.mu.closed {
		d.mu.Unlock()
		return nil
	}
	d.mu.closed = true
	d.mu.Unlock()
	d.cache.Close()
	return d.db.Close()
}

// DiskUsage returns Pebble's estimate of the bytes its files hold on disk for
// all stores (tables and write-ahead log), for metrics.
func (d *PebbleDB) DiskUsage() uint64 { return d.db.Metrics().DiskSpaceUsage() }

// register records a store of uid on op over rng, refusing an operator id
// already used by another UID (a hash collision) and overlapping ranges.
func (d *PebbleDB) register(op [8]byte, uid string, rng KeyGroupRange) (incarnation uint32, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return 0, errors.New("the Pebble state database is closed")
	}
	o := d.mu.open[op]
	if o == nil {
		o = &openOperator{uid: uid}
		d.mu.open[op] = o
	}
	if o.uid != uid {
		return 0, fmt.Errorf("operator UIDs %q and %q hash to the same operator id; give one of them another UID", o.uid, uid)
	}
	for _, r := range o.ranges {
		if r.Start < rng.End && rng.Start < r.End {
			return 0, fmt.Errorf("operator %q already has an open store for key groups %s, which overlap %s: close it first", uid, r, rng)
		}
	}
	o.ranges = append(o.ranges, rng)
	d.mu.incarnation++
	return d.mu.incarnation, nil
}

func (d *PebbleDB) unregister(op [8]byte, rng KeyGroupRange) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if o := d.mu.open[op]; o != nil {
		o.ranges = removeRange(o.ranges, rng)
		if len(o.ranges) == 0 {
			delete(d.mu.open, op)
		}
	}
}

func removeRange(rs []KeyGroupRange, r KeyGroupRange) []KeyGroupRange {
	for i, x := range rs {
		if x == r {
			return append(rs[:i], rs[i+1:]...)
		}
	}
	return rs
}

func (d *PebbleDB) nextIncarnation() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.incarnation++
	return d.mu.incarnation
}

// NewPebbleKeyedStore returns an empty Pebble store on db for the keyed state
// of one subtask of the operator with the given UID: the key groups in rng,
// out of maxParallelism. It deletes whatever an earlier store of the same
// operator left in those key groups. operatorUID must be the operator's
// stable UID, the one snapshots are matched by; two open stores of one
// operator must not overlap.
//
// It fails if K has no canonical encoding (see KeyEncoder: Pebble keys and
// snapshots hold encoded keys), if the arguments are out of range, or if the
// key groups are already open.
func NewPebbleKeyedStore[K comparable](db *PebbleDB, operatorUID string, maxParallelism int, rng KeyGroupRange) (*KeyedStore[K], error) {
	switch {
	case operatorUID == "":
		return nil, errors.New("a Pebble keyed store needs the operator's UID")
	case maxParallelism < 1 || maxParallelism > UpperBoundMaxParallelism:
		return nil, fmt.Errorf("Pebble keyed store for %q: max parallelism %d is outside [1, %d]", operatorUID, maxParallelism, UpperBoundMaxParallelism)
	case rng.Start < 0 || rng.End > maxParallelism || rng.Len() == 0:
		return nil, fmt.Errorf("Pebble keyed store for %q: key group range %s is empty or outside [0, %d)", operatorUID, rng, maxParallelism)
	}
	kc, err := newKeyCodec[K]()
	if err != nil {
		return nil, fmt.Errorf("Pebble keyed store for %q: %w", operatorUID, err)
	}
	op := operatorID(operatorUID)
	inc, err := db.register(op, operatorUID, rng)
	if err != nil {
		return nil, fmt.Errorf("Pebble keyed store for %q: %w", operatorUID, err)
	}
	ps := &pebbleStore[K]{db: db, uid: operatorUID, op: op, inc: inc, kc: kc, bySID: map[uint32]*sidInfo{}}
	if err := ps.deleteAll(rng); err != nil {
		db.unregister(op, rng)
		return nil, fmt.Errorf("Pebble keyed store for %q: clear leftovers: %w", operatorUID, err)
	}
	s := NewHeapKeyedStore[K](maxParallelism, rng)
	s.pb, s.kc, ps.s = ps, kc, s
	ps.batch = db.db.NewIndexedBatch()
	return s, nil
}

// operatorID is the first part of a state id: xxhash64 of the operator UID.
func operatorID(uid string) [8]byte {
	var op [8]byte
	binary.BigEndian.PutUint64(op[:], xxhash.Sum64String(uid))
	return op
}

// stateID is the second part of a state id: the high 32 bits of xxhash64 of
// the state name.
func stateID(name string) uint32 { return uint32(xxhash.Sum64String(name) >> 32) }

// Key layout offsets: key group, operator id, state id, then the key.
const (
	groupLen  = 2
	prefixLen = groupLen + 8 + 4
	incLen    = 4 // the incarnation before a Pebble key in a cache key
)

// appendGroupPrefix appends the key-group and operator part of a key.
func appendGroupPrefix(dst []byte, kg int, op [8]byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(kg))
	return append(dst, op[:]...)
}

// successor returns the smallest key greater than every key starting with
// prefix (prefix is not all 0xff bytes).
func successor(prefix []byte) []byte {
	s := bytes.Clone(prefix)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	panic("keyspace: successor of an all-0xff prefix")
}

// BackendError is the panic value of a state handle whose backend failed: a
// Pebble read, write or commit error, or stored bytes its codec cannot
// decode. Handle methods have no error results, so such a failure panics;
// the runtime recovers it and fails the task, which restores from the last
// checkpoint.
type BackendError struct {
	Op    string // what was being done, e.g. "read", "commit"
	State string // the state's name, if one was involved
	Err   error
}

// Error says what failed, on which state, and why.
func (e *BackendError) Error() string {
	if e.State != "" {
		return fmt.Sprintf("keyspace: %s state %q: %v", e.Op, e.State, e.Err)
	}
	return fmt.Sprintf("keyspace: %s: %v", e.Op, e.Err)
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *BackendError) Unwrap() error { return e.Err }

// pebbleLogger routes Pebble's logging to log/slog.
type pebbleLogger struct{}

func (pebbleLogger) Infof(format string, args ...any) {
	slog.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (pebbleLogger) Errorf(format string, args ...any) {
	slog.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf must not return; Pebble calls it on corruption or a broken
// invariant, which the runtime treats as a task failure.
func (pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	slog.Error(msg, "component", "pebble")
	panic(&BackendError{Op: "pebble", Err: errors.New(msg)})
}

// pebbleStore is the Pebble backend of one KeyedStore.
type pebbleStore[K comparable] struct {
	s     *KeyedStore[K]
	db    *PebbleDB
	uid   string
	op    [8]byte
	inc   uint32 // incarnation: the cache-key prefix of this store's entries
	kc    *keyCodec[K]
	batch *pebble.Batch // indexed: reads through it see the store's writes

	// The encoding of the current key, and gen, which changes whenever the
	// encoding (or the incarnation) does, so that tables rebuild their keys.
	encKey   K
	encGroup int
	encValid bool
	gen      uint64
	kenc     []byte
	kpart    []byte // uvarint length, key, empty namespace

	tables []pebbleTable
	bySID  map[uint32]*sidInfo
	dirty  int // entries written since the last commit, over all tables
	iters  int // iterators open on the batch; commits wait for them
	closed bool
	buf    []byte
}

// pebbleTable is what the store needs from a table around a commit.
type pebbleTable interface {
	// flushPending writes the deferred writes into the batch.
	flushPending()
	// resolve learns, before the batch is committed, the sizes the dirty
	// entries had at the last commit and will have after this one, where
	// the table does not know them.
	resolve() error
	// settle brings the read cache and the tracked statistics up to date
	// after the batch is committed, and forgets the dirty entries.
	settle()
	// reset forgets the dirty entries and the last entry used, after a
	// restore replaced the store's contents.
	reset()
}

// sidInfo is what the store knows about a state id: its name, and the
// tracked size of its entries.
type sidInfo struct {
	name    string
	entries int64
	bytes   int64
}

// sync brings the current key's encoding up to date.
func (ps *pebbleStore[K]) sync() {
	if ps.closed {
		panic("keyspace: use of a closed keyed store")
	}
	s := ps.s
	if ps.encValid && s.key == ps.encKey && s.group == ps.encGroup {
		return
	}
	ps.kenc = ps.kc.Append(ps.kenc[:0], s.key)
	ps.kpart = binary.AppendUvarint(ps.kpart[:0], uint64(len(ps.kenc)))
	ps.kpart = append(ps.kpart, ps.kenc...)
	ps.kpart = append(ps.kpart, 0) // the empty namespace
	ps.encKey, ps.encGroup, ps.encValid = s.key, s.group, true
	ps.gen++
}

func (ps *pebbleStore[K]) maybeCommit() {
	if ps.dirty >= maxDirtyEntries || ps.batch.Len() >= ps.db.batchBytes {
		ps.commitOrPanic(false)
	}
}

func (ps *pebbleStore[K]) commitOrPanic(sync bool) {
	if err := ps.commit(sync); err != nil {
		panic(&BackendError{Op: "commit", Err: err})
	}
}

// commit writes the pending writes to the batch, commits it, and settles
// the tables. With sync the write-ahead log is synced, even if there was
// nothing to commit. While an iteration is open the batch cannot be
// replaced, so commit does nothing then, or fails if sync was asked.
func (ps *pebbleStore[K]) commit(sync bool) error {
	if ps.closed {
		return errors.New("the keyed store is closed")
	}
	if ps.iters > 0 {
		if sync {
			return errors.New("cannot flush a Pebble keyed store while one of its iterations (Keys, MapState.All) is open")
		}
		return nil
	}
	for _, t := range ps.tables {
		t.flushPending()
	}
	sync = sync && !ps.db.walDisabled // without a log there is nothing to sync
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if ps.dirty == 0 && ps.batch.Empty() {
		if sync {
			return ps.db.db.LogData(nil, pebble.Sync)
		}
		return nil
	}
	for _, t := range ps.tables {
		if err := t.resolve(); err != nil {
			return err
		}
	}
	if err := ps.batch.Commit(opts); err != nil {
		return err
	}
	ps.batch.Close()
	ps.batch = ps.db.db.NewIndexedBatch()
	ps.db.cache.Wait() // no insert issued before the commit can land after settle
	for _, t := range ps.tables {
		t.settle()
	}
	ps.dirty = 0
	return nil
}

// newIter returns an iterator over the batch (and the database under it)
// within [lower, upper). Commits are held back until closeIter.
func (ps *pebbleStore[K]) newIter(lower, upper []byte) *pebble.Iterator {
	it, err := ps.batch.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		panic(&BackendError{Op: "iterate", Err: err})
	}
	ps.iters++
	return it
}

func (ps *pebbleStore[K]) closeIter(it *pebble.Iterator) {
	ps.iters--
	if err := it.Close(); err != nil {
		panic(&BackendError{Op: "iterate", Err: err})
	}
}

// deleteAll deletes the store's entries in rng: one range per key group.
func (ps *pebbleStore[K]) deleteAll(rng KeyGroupRange) error {
	b := ps.db.db.NewBatch()
	defer b.Close()
	for kg := rng.Start; kg < rng.End; kg++ {
		lower := appendGroupPrefix(nil, kg, ps.op)
		if err := b.DeleteRange(lower, successor(lower), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

func (ps *pebbleStore[K]) close() error {
	ps.closed = true
	ps.batch.Close()
	err := ps.deleteAll(ps.s.rng)
	ps.db.unregister(ps.op, ps.s.rng)
	return err
}

// registerPebble returns the Pebble table called name, creating it on first
// use; an existing table must have an equal descriptor.
func registerPebble[K comparable, V any](s *KeyedStore[K], name string, d stateDesc, c Codec[V], kind pebbleKind, ttl *ttlPolicy) (*ptable[K, V], error) {
	existing, err := s.admit(name, d)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return existing.(*ptable[K, V]), nil
	}
	ps := s.pb
	sid := stateID(name)
	info := ps.bySID[sid]
	if info != nil && info.name != name {
		return nil, fmt.Errorf("state names %q and %q hash to the same state id; give one of them another name", info.name, name)
	}
	if info == nil {
		info = &sidInfo{name: name}
		ps.bySID[sid] = info
	}
	delete(s.restored, name)
	t := &ptable[K, V]{ps: ps, name: name, d: d, sid: sid, kind: kind, codec: c, ttl: ttl, info: info, dirty: map[string]*pcell[V]{}}
	ps.tables = append(ps.tables, t)
	s.states[name] = t
	if ttl != nil {
		s.cleaners = append(s.cleaners, t)
	}
	return t, nil
}

// pebbleKind is the shape of a Pebble table's entries.
type pebbleKind uint8

const (
	pebbleValueKind pebbleKind = iota // one value per key
	pebbleListKind                    // one framed list per key
	pebbleMapKind                     // one value per key and user key
)

// ptable is one state in Pebble. Every entry the table touches is
// represented by a cell holding its decoded value; cells are shared between
// the read cache and the table's dirty map.
type ptable[K comparable, V any] struct {
	ps    *pebbleStore[K]
	name  string
	d     stateDesc
	sid   uint32
	kind  pebbleKind
	codec Codec[V] // for lists, the framed list codec
	ttl   *ttlPolicy
	info  *sidInfo

	// dirty holds the cells written since the last commit, by Pebble key.
	// Reads look here before the cache: it is the truth for these entries.
	dirty map[string]*pcell[V]
	// pending holds the dirty cells whose value is still to be written
	// into the batch (writes are deferred to coalesce repeated ones).
	pending []*pcell[V]

	// buf is the cache key of the current key: incarnation, Pebble key
	// through the namespace (keyEnd bytes), then for map states a user key.
	buf    []byte
	bufGen uint64
	keyEnd int

	// last is the cell of the entry used last, valid while lastGen equals
	// the store's gen and, for map states, lastUK is the same user key.
	last    *pcell[V]
	lastGen uint64
	lastUK  []byte

	scratch []byte
}

// Sizes a cell records for the entry at the last commit (base) or now (size)
// when there is no value, or when the table does not know.
const (
	sizeAbsent  = -1
	sizeUnknown = -2
)

// pcell is one entry's decoded value. A known cell holds the entry's current
// value (or its absence). A cell that is only sized knows whether the entry
// exists and its encoded size, not its value: it stands for an entry the
// table changed without decoding it (a list append, a TTL cleanup), and is
// read when needed. A cell that is neither exists only in the dirty map,
// for an entry written blind, until the commit learns its size.
type pcell[V any] struct {
	v       V
	key     string // the Pebble key, set when the cell first becomes dirty
	size    int32  // encoded size of the current value when sized
	base    int32  // encoded size at the last commit, or sizeAbsent/sizeUnknown
	known   bool   // v is the entry's value; implies sized
	sized   bool   // present and size are the entry's
	present bool
	dirty   bool // in the table's dirty map
	pending bool // in the table's pending list
}

func (t *ptable[K, V]) desc() stateDesc { return t.d }

func (t *ptable[K, V]) stats() (int, int64) { return int(t.info.entries), t.info.bytes }

// key returns the cache key of the current key, without a user key.
func (t *ptable[K, V]) key() []byte {
	ps := t.ps
	ps.sync()
	if t.bufGen != ps.gen {
		b := binary.BigEndian.AppendUint32(t.buf[:0], ps.inc)
		b = appendGroupPrefix(b, ps.s.group, ps.op)
		b = binary.BigEndian.AppendUint32(b, t.sid)
		b = append(b, ps.kpart...)
		t.buf, t.keyEnd, t.bufGen = b, len(b), ps.gen
	}
	return t.buf[:t.keyEnd]
}

// current returns the cell of the current key (value and list states).
// With read, the cell is known; without, it may be unknown (a blind write
// needs no read).
func (t *ptable[K, V]) current(read bool) *pcell[V] {
	ck := t.key()
	if t.last != nil && t.lastGen == t.ps.gen {
		c := t.last
		if read && !c.known {
			t.load(c, ck[incLen:])
		}
		return c
	}
	c := t.lookup(ck, read)
	t.last, t.lastGen = c, t.ps.gen
	return c
}

// lookup returns the cell of the entry with cache key ck: the dirty one, a
// cached one, or, with read, one loaded from Pebble (and offered to the
// cache); without read, a new unknown cell, registered as dirty.
func (t *ptable[K, V]) lookup(ck []byte, read bool) *pcell[V] {
	pk := ck[incLen:]
	if c, ok := t.dirty[string(pk)]; ok {
		if read && !c.known {
			t.load(c, pk)
		}
		return c
	}
	if x, ok := t.ps.db.cache.Get(ck); ok {
		if c, ok := x.(*pcell[V]); ok {
			if read && !c.known {
				t.load(c, pk)
			}
			return c
		}
	}
	c := &pcell[V]{}
	if !read {
		t.markDirty(pk, c)
		return c
	}
	t.load(c, pk)
	t.ps.db.cache.Set(ck, c, cost(ck, c))
	return c
}

func cost[V any](ck []byte, c *pcell[V]) int64 {
	return int64(len(ck)) + int64(max(c.size, 0)) + cellOverhead
}

// load reads the entry with Pebble key pk into c: through the batch if c
// is dirty (the batch may hold writes to it), else from the database.
func (t *ptable[K, V]) load(c *pcell[V], pk []byte) {
	var (
		raw    []byte
		closer io.Closer
		err    error
	)
	if c.dirty {
		raw, closer, err = t.ps.batch.Get(pk)
	} else {
		raw, closer, err = t.ps.db.db.Get(pk)
	}
	var zero V
	if errors.Is(err, pebble.ErrNotFound) {
		c.v, c.known, c.sized, c.present, c.size = zero, true, true, false, sizeAbsent
		return
	}
	if err != nil {
		panic(&BackendError{Op: "read", State: t.name, Err: err})
	}
	v, err := t.codec.Decode(raw)
	n := len(raw)
	closer.Close()
	if err != nil {
		panic(&BackendError{Op: "decode", State: t.name, Err: err})
	}
	c.v, c.known, c.sized, c.present, c.size = v, true, true, true, int32(n)
}

// markDirty enters c, the cell of Pebble key pk, in the dirty map,
// remembering its size at the last commit.
func (t *ptable[K, V]) markDirty(pk []byte, c *pcell[V]) {
	if c.dirty {
		return
	}
	switch {
	case !c.sized:
		c.base = sizeUnknown
	case c.present:
		c.base = c.size
	default:
		c.base = sizeAbsent
	}
	if c.key == "" {
		c.key = string(pk)
	}
	c.dirty = true
	t.dirty[c.key] = c
	t.ps.dirty++
}

// write records that c, the cell of Pebble key pk, now holds v (or nothing)
// and defers writing it to the batch.
func (t *ptable[K, V]) write(pk []byte, c *pcell[V], v V, present bool) {
	t.markDirty(pk, c)
	if !present {
		var zero V
		v = zero
	}
	c.v, c.known, c.present = v, true, present
	if !c.pending {
		c.pending = true
		t.pending = append(t.pending, c)
	}
	t.ps.maybeCommit()
}

func (t *ptable[K, V]) flushPending() {
	// In key order: Pebble applies a batch to its memtable (a skiplist) in
	// batch order, and an insert next to the previous one is several times
	// cheaper than one at a random place.
	slices.SortFunc(t.pending, func(a, b *pcell[V]) int { return strings.Compare(a.key, b.key) })
	for _, c := range t.pending {
		if !c.pending {
			continue
		}
		c.pending = false
		var err error
		c.sized = true
		if c.present {
			t.scratch = t.codec.Append(t.scratch[:0], c.v)
			c.size = int32(len(t.scratch))
			err = t.ps.batch.Set([]byte(c.key), t.scratch, nil)
		} else {
			c.size = sizeAbsent
			err = t.ps.batch.Delete([]byte(c.key), nil)
		}
		if err != nil {
			panic(&BackendError{Op: "write", State: t.name, Err: err})
		}
	}
	clear(t.pending)
	t.pending = t.pending[:0]
}

// sizeIn returns the size of pk's value in r, or sizeAbsent.
func sizeIn(r pebble.Reader, pk []byte) (int32, error) {
	raw, closer, err := r.Get(pk)
	if errors.Is(err, pebble.ErrNotFound) {
		return sizeAbsent, nil
	}
	if err != nil {
		return 0, err
	}
	n := int32(len(raw))
	closer.Close()
	return n, nil
}

func (t *ptable[K, V]) resolve() error {
	for k, c := range t.dirty {
		var err error
		if c.base == sizeUnknown {
			if c.base, err = sizeIn(t.ps.db.db, []byte(k)); err != nil {
				return err
			}
		}
		if !c.sized {
			if c.size, err = sizeIn(t.ps.batch, []byte(k)); err != nil {
				return err
			}
			c.sized, c.present = true, c.size >= 0
		}
	}
	return nil
}

func (t *ptable[K, V]) settle() {
	ps := t.ps
	for k, c := range t.dirty {
		final := c.size
		if !c.present {
			final = sizeAbsent
		}
		if c.base >= 0 {
			t.info.entries--
			t.info.bytes -= int64(len(k)) + int64(c.base)
		}
		if final >= 0 {
			t.info.entries++
			t.info.bytes += int64(len(k)) + int64(final)
		}
		ps.buf = binary.BigEndian.AppendUint32(ps.buf[:0], ps.inc)
		ps.buf = append(ps.buf, k...)
		// The cache must hold this cell or none. Having held it is no
		// proof: ristretto applies inserts asynchronously, so an older
		// cell's insert can land after this one was evicted (the commit's
		// Wait has applied every insert issued before it). A Set replaces
		// another cell of the key at once.
		if x, ok := ps.db.cache.Get(ps.buf); !ok || x != any(c) {
			ps.db.cache.Set(ps.buf, c, cost(ps.buf, c))
		}
		c.dirty = false
	}
	clear(t.dirty)
}

func (t *ptable[K, V]) reset() {
	for _, c := range t.dirty {
		c.dirty, c.pending = false, false
	}
	clear(t.dirty)
	t.pending = t.pending[:0]
	t.last, t.bufGen = nil, 0
}

// groupSpan returns the bounds of the table's entries in key group kg.
func (t *ptable[K, V]) groupSpan(kg int) (lower, upper []byte) {
	lower = appendGroupPrefix(nil, kg, t.ps.op)
	lower = binary.BigEndian.AppendUint32(lower, t.sid)
	return lower, successor(lower)
}

// splitKey returns the encoded key and the user key of a Pebble key of this
// layout.
func splitKey(pk []byte) (key, ukey []byte, err error) {
	rest := pk[prefixLen:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)-k) {
		return nil, nil, errors.New("malformed state key")
	}
	key, rest = rest[k:k+int(n)], rest[k+int(n):]
	ns, k := binary.Uvarint(rest)
	if k <= 0 || ns > uint64(len(rest)-k) {
		return nil, nil, errors.New("malformed state key namespace")
	}
	return key, rest[k+int(ns):], nil
}

func (t *ptable[K, V]) keys(yield func(K) bool) {
	ps := t.ps
	t.flushPending()
	rng := ps.s.rng
	it := ps.newIter(nil, nil)
	defer ps.closeIter(it)
	var prev []byte
	for kg := rng.Start; kg < rng.End; kg++ {
		it.SetBounds(t.groupSpan(kg))
		for ok := it.First(); ok; ok = it.Next() {
			key, _, err := splitKey(it.Key())
			if err != nil {
				panic(&BackendError{Op: "iterate", State: t.name, Err: err})
			}
			if t.kind == pebbleMapKind && bytes.Equal(key, prev) {
				continue // the next entry of the same key's map
			}
			prev = append(prev[:0], key...)
			k, err := ps.kc.Decode(key)
			if err != nil {
				panic(&BackendError{Op: "decode", State: t.name, Err: err})
			}
			if !yield(k) {
				return
			}
		}
		if err := it.Error(); err != nil {
			panic(&BackendError{Op: "iterate", State: t.name, Err: err})
		}
	}
}

// cleanGroup removes the table's expired entries in key group rng.Start+off:
// whole entries for values and maps, elements for lists. It writes the batch
// directly and leaves unknown cells for the entries it changed.
func (t *ptable[K, V]) cleanGroup(off int, now int64) (examined, removed int) {
	ps := t.ps
	if ps.closed {
		return 0, 0
	}
	t.flushPending()
	it := ps.newIter(t.groupSpan(ps.s.rng.Start + off))
	var kept []byte
	for ok := it.First(); ok; ok = it.Next() {
		pk := it.Key()
		val, err := it.ValueAndErr()
		if err != nil {
			panic(&BackendError{Op: "read", State: t.name, Err: err})
		}
		n, total := 0, 0
		kept = kept[:0]
		if t.kind == pebbleListKind {
			err = forEachFrame(val, func(f []byte) error {
				total++
				if ts, ok := stampOf(f); ok && t.ttl.expired(ts, now) {
					n++
				} else {
					kept = binary.AppendUvarint(kept, uint64(len(f)))
					kept = append(kept, f...)
				}
				return nil
			})
			if err != nil {
				panic(&BackendError{Op: "decode", State: t.name, Err: err})
			}
		} else {
			total = 1
			if ts, ok := stampOf(val); ok && t.ttl.expired(ts, now) {
				n = 1
			}
		}
		examined += total
		if n == 0 {
			continue
		}
		removed += n
		if len(kept) == 0 {
			err = ps.batch.Delete(pk, nil)
		} else {
			err = ps.batch.Set(pk, kept, nil)
		}
		if err != nil {
			panic(&BackendError{Op: "write", State: t.name, Err: err})
		}
		ps.buf = binary.BigEndian.AppendUint32(ps.buf[:0], ps.inc)
		ps.buf = append(ps.buf, pk...)
		c := t.lookup(ps.buf, false)
		t.markDirty(pk, c)
		var zero V
		c.v, c.known, c.sized, c.present, c.size = zero, false, true, len(kept) > 0, int32(len(kept))
		if !c.present {
			c.size = sizeAbsent
		}
	}
	if err := it.Error(); err != nil {
		panic(&BackendError{Op: "iterate", State: t.name, Err: err})
	}
	ps.closeIter(it)
	t.last = nil // cells may have been replaced
	ps.maybeCommit()
	return examined, removed
}

// pebbleValue is a ValueState in Pebble; reducing and aggregating states
// build on it.
type pebbleValue[K comparable, V any] struct{ t *ptable[K, V] }

func (h *pebbleValue[K, V]) Value() (V, bool) {
	c := h.t.current(true)
	return c.v, c.present
}

func (h *pebbleValue[K, V]) Update(v V) {
	t := h.t
	c := t.current(false)
	t.write(t.buf[incLen:t.keyEnd], c, v, true)
}

func (h *pebbleValue[K, V]) Clear() {
	t := h.t
	c := t.current(false)
	var zero V
	t.write(t.buf[incLen:t.keyEnd], c, zero, false)
}

// pebbleList is a ListState in Pebble; the table stores []E with the framed
// list codec.
type pebbleList[K comparable, E any] struct {
	t    *ptable[K, []E]
	elem Codec[E]
}

func (h *pebbleList[K, E]) Get() []E {
	c := h.t.current(true)
	if !c.present {
		return nil
	}
	return c.v
}

func (h *pebbleList[K, E]) Add(v E) {
	h.appendAll(v)
}

func (h *pebbleList[K, E]) AddAll(vs []E) {
	if len(vs) > 0 {
		h.appendAll(vs...)
	}
}

// appendAll appends vs to the current key's list. A list whose new value is
// still to be written (after an Update in this batch) is only extended in
// memory; otherwise the framed elements go to Pebble as one merge operand,
// and a known cell is extended to match.
func (h *pebbleList[K, E]) appendAll(vs ...E) {
	t := h.t
	c := t.current(false)
	pk := t.buf[incLen:t.keyEnd]
	t.markDirty(pk, c)
	if c.pending {
		c.v, c.present = append(c.v, vs...), true
		t.ps.maybeCommit()
		return
	}
	t.scratch = t.scratch[:0]
	for _, v := range vs {
		t.scratch = appendListElem(t.scratch, h.elem, v)
	}
	if err := t.ps.batch.Merge(pk, t.scratch, nil); err != nil {
		panic(&BackendError{Op: "write", State: t.name, Err: err})
	}
	if c.sized {
		if !c.present {
			c.v, c.present, c.size = nil, true, 0
		}
		c.size += int32(len(t.scratch))
	}
	if c.known {
		c.v = append(c.v, vs...)
	}
	t.ps.maybeCommit()
}

func (h *pebbleList[K, E]) Update(vs []E) {
	t := h.t
	c := t.current(false)
	t.write(t.buf[incLen:t.keyEnd], c, append([]E(nil), vs...), len(vs) > 0)
}

func (h *pebbleList[K, E]) Clear() {
	t := h.t
	c := t.current(false)
	t.write(t.buf[incLen:t.keyEnd], c, nil, false)
}

// pebbleMap is a MapState in Pebble: one entry per user key, the table's
// cells holding UV.
type pebbleMap[K comparable, UK comparable, UV any] struct {
	t   *ptable[K, UV]
	ukc Codec[UK]
}

// cell returns the cell of user key k of the current key, and leaves its
// cache key in t.buf.
func (h *pebbleMap[K, UK, UV]) cell(k UK, read bool) *pcell[UV] {
	t := h.t
	ck := h.ukc.Append(t.key(), k)
	t.buf = ck
	uk := ck[t.keyEnd:]
	if t.last != nil && t.lastGen == t.ps.gen && bytes.Equal(uk, t.lastUK) {
		c := t.last
		if read && !c.known {
			t.load(c, ck[incLen:])
		}
		return c
	}
	c := t.lookup(ck, read)
	t.last, t.lastGen, t.lastUK = c, t.ps.gen, append(t.lastUK[:0], uk...)
	return c
}

func (h *pebbleMap[K, UK, UV]) Get(k UK) (UV, bool) {
	c := h.cell(k, true)
	return c.v, c.present
}

func (h *pebbleMap[K, UK, UV]) Put(k UK, v UV) {
	c := h.cell(k, false)
	h.t.write(h.t.buf[incLen:], c, v, true)
}

func (h *pebbleMap[K, UK, UV]) Remove(k UK) {
	c := h.cell(k, false)
	var zero UV
	h.t.write(h.t.buf[incLen:], c, zero, false)
}

func (h *pebbleMap[K, UK, UV]) Contains(k UK) bool {
	_, ok := h.Get(k)
	return ok
}

// entries ranges over the current key's entries in Pebble order, with their
// Pebble keys. An entry written during the range is read from its dirty
// cell, so that a removal hides it as in a Go map.
func (h *pebbleMap[K, UK, UV]) entries(yield func(pk []byte, uk UK, v UV) bool) {
	t := h.t
	prefix := bytes.Clone(t.key()[incLen:])
	t.flushPending()
	ps := t.ps
	it := ps.newIter(prefix, successor(prefix))
	defer ps.closeIter(it)
	for ok := it.First(); ok; ok = it.Next() {
		pk := it.Key()
		var v UV
		if c, ok := t.dirty[string(pk)]; ok && c.known {
			if !c.present {
				continue
			}
			v = c.v
		} else {
			raw, err := it.ValueAndErr()
			if err != nil {
				panic(&BackendError{Op: "read", State: t.name, Err: err})
			}
			if v, err = t.codec.Decode(raw); err != nil {
				panic(&BackendError{Op: "decode", State: t.name, Err: err})
			}
		}
		uk, err := h.ukc.Decode(pk[len(prefix):])
		if err != nil {
			panic(&BackendError{Op: "decode", State: t.name, Err: err})
		}
		if !yield(pk, uk, v) {
			return
		}
	}
	if err := it.Error(); err != nil {
		panic(&BackendError{Op: "iterate", State: t.name, Err: err})
	}
}

// All ranges over the current key's map in the order of the encoded user
// keys.
func (h *pebbleMap[K, UK, UV]) All() iter.Seq2[UK, UV] {
	return func(yield func(UK, UV) bool) {
		h.entries(func(_ []byte, uk UK, v UV) bool { return yield(uk, v) })
	}
}

func (h *pebbleMap[K, UK, UV]) Len() int {
	n := 0
	h.entries(func([]byte, UK, UV) bool { n++; return true })
	return n
}

func (h *pebbleMap[K, UK, UV]) Clear() {
	t := h.t
	var cks [][]byte
	h.entries(func(pk []byte, _ UK, _ UV) bool {
		ck := binary.BigEndian.AppendUint32(make([]byte, 0, incLen+len(pk)), t.ps.inc)
		cks = append(cks, append(ck, pk...))
		return true
	})
	var zero UV
	for _, ck := range cks {
		t.write(ck[incLen:], t.lookup(ck, false), zero, false)
	}
	t.last = nil // cells may have been replaced
}

// snapshot commits with a synced log and takes a Pebble snapshot.
func (ps *pebbleStore[K]) snapshot() (KeyedSnapshot, error) {
	if err := ps.commit(true); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s := ps.s
	names := s.stateNames()
	snap := &pebbleSnapshot{op: ps.op, rng: s.rng, maxParallelism: s.maxParallelism, metas: make([]stateMeta, len(names)), idx: map[uint32]int{}}
	for i, name := range names {
		if t, ok := s.states[name]; ok {
			snap.metas[i] = t.desc().meta(name)
		} else {
			snap.metas[i] = s.restored[name].meta
		}
		snap.idx[stateID(name)] = i
	}
	snap.snap = ps.db.db.NewSnapshot()
	return snap, nil
}

// pebbleSnapshot writes a keyed snapshot by iterating a Pebble snapshot of
// the store's key groups.
type pebbleSnapshot struct {
	snap           *pebble.Snapshot
	op             [8]byte
	rng            KeyGroupRange
	maxParallelism int
	metas          []stateMeta
	idx            map[uint32]int // state id to index in metas
}

func (p *pebbleSnapshot) WriteTo(w io.Writer) (int64, error) {
	if p.snap == nil {
		return 0, errors.New("keyed snapshot used after Release")
	}
	sw := newSnapshotWriter(w, p.maxParallelism, p.rng, p.metas)
	it, err := p.snap.NewIter(nil)
	if err != nil {
		return 0, fmt.Errorf("write keyed snapshot: %w", err)
	}
	defer it.Close()
	for kg := p.rng.Start; kg < p.rng.End; kg++ {
		lower := appendGroupPrefix(nil, kg, p.op)
		it.SetBounds(lower, successor(lower))
		started := false
		for ok := it.First(); ok; ok = it.Next() {
			pk := it.Key()
			i, ok := p.idx[binary.BigEndian.Uint32(pk[prefixLen-4:])]
			if !ok {
				return 0, fmt.Errorf("write keyed snapshot: key group %d holds an entry of unknown state id %x", kg, pk[prefixLen-4:prefixLen])
			}
			key, ukey, err := splitKey(pk)
			if err != nil {
				return 0, fmt.Errorf("write keyed snapshot: key group %d: %w", kg, err)
			}
			val, err := it.ValueAndErr()
			if err != nil {
				return 0, fmt.Errorf("write keyed snapshot: %w", err)
			}
			if !started {
				sw.startGroup(kg)
				started = true
			}
			sw.entry(i, key, ukey, val)
		}
		if err := it.Error(); err != nil {
			return 0, fmt.Errorf("write keyed snapshot: %w", err)
		}
		if started {
			sw.endGroup()
		}
	}
	return sw.finish()
}

func (p *pebbleSnapshot) Release() {
	if p.snap != nil {
		p.snap.Close()
		p.snap = nil
	}
}

// pebbleRestore writes restored entries straight into Pebble, in batches.
type pebbleRestore[K comparable] struct {
	ps    *pebbleStore[K]
	batch *pebble.Batch
	names map[string]stateMeta
	cur   []*sidInfo // by state index of the snapshot being read
	sids  []uint32
	key   []byte
}

func (ps *pebbleStore[K]) restoreSink() restoreSink {
	return &pebbleRestore[K]{ps: ps, batch: ps.db.db.NewBatch(), names: map[string]stateMeta{}}
}

func (r *pebbleRestore[K]) states(metas []stateMeta) error {
	r.cur, r.sids = r.cur[:0], r.sids[:0]
	s := r.ps.s
	for _, m := range metas {
		if t, ok := s.states[m.Name]; ok {
			if err := m.check(t.desc().meta(m.Name)); err != nil {
				return err
			}
		}
		if prev, ok := r.names[m.Name]; ok && prev != m {
			return fmt.Errorf("state %q is %s in one snapshot and %s in another: the snapshots come from different operators", m.Name, prev, m)
		}
		r.names[m.Name] = m
		sid := stateID(m.Name)
		info := r.ps.bySID[sid]
		if info != nil && info.name != m.Name {
			return fmt.Errorf("state names %q and %q hash to the same state id; give one of them another name", info.name, m.Name)
		}
		if info == nil {
			info = &sidInfo{name: m.Name}
			r.ps.bySID[sid] = info
		}
		r.cur, r.sids = append(r.cur, info), append(r.sids, sid)
	}
	return nil
}

func (r *pebbleRestore[K]) entry(state, kg int, key, ukey, val []byte) error {
	k := appendGroupPrefix(r.key[:0], kg, r.ps.op)
	k = binary.BigEndian.AppendUint32(k, r.sids[state])
	k = binary.AppendUvarint(k, uint64(len(key)))
	k = append(k, key...)
	k = append(k, 0) // the empty namespace
	k = append(k, ukey...)
	r.key = k
	if err := r.batch.Set(k, val, nil); err != nil {
		return err
	}
	info := r.cur[state]
	info.entries++
	info.bytes += int64(len(k) + len(val))
	if r.batch.Len() >= r.ps.db.batchBytes {
		if err := r.batch.Commit(pebble.NoSync); err != nil {
			return err
		}
		r.batch.Close()
		r.batch = r.ps.db.db.NewBatch()
	}
	return nil
}

// done commits the last batch and moves the store to a new incarnation, so
// that nothing cached before the restore can be read after it.
func (r *pebbleRestore[K]) done() error {
	defer r.batch.Close()
	if err := r.batch.Commit(pebble.NoSync); err != nil {
		return err
	}
	ps := r.ps
	for name, m := range r.names {
		if _, ok := ps.s.states[name]; !ok {
			info := ps.bySID[stateID(name)]
			ps.s.restored[name] = &restoredState{meta: m, entries: int(info.entries), bytes: info.bytes}
		}
	}
	ps.inc = ps.db.nextIncarnation()
	ps.gen++
	for _, t := range ps.tables {
		t.reset()
	}
	return nil
}

// concatenate is the merge operator of list appends: it concatenates
// operands, as Pebble's default merger does (and under the same name, so a
// database keeps opening with either), but in time linear in the result.
// The default copies the whole value for every older operand, quadratic in
// the number of appends not yet compacted: a list that grows by one element
// per record and is read now and then cost seconds per read.
var concatenate = &pebble.Merger{
	Name: pebble.DefaultMerger.Name,
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		return &concatMerger{newer: append([]byte(nil), value...)}, nil
	},
}

// concatMerger keeps each operand once: newer ones appended in place, older
// ones set aside and put in front when the merge finishes.
type concatMerger struct {
	older [][]byte // newest first
	size  int
	newer []byte
}

func (m *concatMerger) MergeNewer(value []byte) error {
	m.newer = append(m.newer, value...)
	return nil
}

func (m *concatMerger) MergeOlder(value []byte) error {
	m.older = append(m.older, append([]byte(nil), value...))
	m.size += len(value)
	return nil
}

func (m *concatMerger) Finish(bool) ([]byte, io.Closer, error) {
	if len(m.older) == 0 {
		return m.newer, nil, nil
	}
	out := make([]byte, 0, m.size+len(m.newer))
	for i := len(m.older) - 1; i >= 0; i-- {
		out = append(out, m.older[i]...)
	}
	return append(out, m.newer...), nil, nil
}
