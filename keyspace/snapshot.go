package keyspace

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// The keyed snapshot format, shared by both backends so that a snapshot of
// either restores into either. All integers are unsigned varints
// (encoding/binary.AppendUvarint) unless said otherwise; a "string" or
// "bytes" is a uvarint length followed by that many bytes.
//
//	header:   magic "FLOEKEYS" (8 bytes), format version (1), max parallelism,
//	          key-group range start, range end, number of states, then per
//	          state: name, kind, stored types, flags (1 byte: bit 0 = TTL)
//	sections: per key group with entries, in ascending order, each at most
//	          once: key group + 1, then entries, then 0. An entry is
//	          state index + 1, key, user key, value (three "bytes").
//	end:      0, then a CRC-32C (Castagnoli) of every byte before it,
//	          4 bytes big-endian.
//
// A key is its canonical encoding (KeyEncoder); a user key (map states only,
// empty otherwise) is the state's user-key encoding; a value is the state's
// value encoding: for lists the framed elements (listCodec), for TTL states
// preceded by the 8-byte timestamp (stampedCodec). Because sections carry
// their key group, a restore reads every snapshot of an operator and keeps
// the groups in its own range, whatever parallelism wrote them.
const (
	snapshotMagic   = "FLOEKEYS"
	snapshotVersion = 1
	// maxFieldLen bounds a string or bytes field, so that a corrupt length
	// fails rather than allocating without limit.
	maxFieldLen = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stateMeta is what a snapshot records about one state: enough to check that
// the state it is restored into stores the same bytes.
type stateMeta struct {
	Name  string
	Kind  string // value, list, map, reducing, aggregating
	Types string // the stored types, e.g. "int64" or "string to int64"
	TTL   bool
}

func (m stateMeta) String() string {
	s := fmt.Sprintf("%s state of %s", m.Kind, m.Types)
	if m.TTL {
		s += " with TTL"
	}
	return s
}

// check says whether registering the state as reg can read the entries
// that were snapshotted as m.
func (m stateMeta) check(reg stateMeta) error {
	if m.Kind != reg.Kind || m.Types != reg.Types || m.TTL != reg.TTL {
		return fmt.Errorf("state %q was restored as %s and cannot be registered as %s: register it as it was when snapshotted, or under another name",
			m.Name, m, reg)
	}
	return nil
}

// restoredState is a state brought in by a restore that no handle has
// registered yet. The heap keeps its entries, still encoded, per key group
// offset; Pebble keeps only the description (its entries are in Pebble).
type restoredState struct {
	meta    stateMeta
	groups  [][]rawEntry // heap only
	entries int          // as Stats counts them for the backend
	bytes   int64
	lastKey []byte // heap: the key of the last entry added, to count map keys once
}

// rawEntry is one snapshot entry kept encoded.
type rawEntry struct{ key, ukey, val []byte }

// appendEntry appends one snapshot entry of state number idx.
func appendEntry(dst []byte, idx int, key, ukey, val []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(idx)+1)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(ukey)))
	dst = append(dst, ukey...)
	dst = binary.AppendUvarint(dst, uint64(len(val)))
	return append(dst, val...)
}

// KeyedSnapshot is a consistent picture of a KeyedStore's state, taken by
// KeyedStore.Snapshot. Taking it is the synchronous part of a checkpoint;
// writing it out is the asynchronous part.
type KeyedSnapshot interface {
	// WriteTo writes the snapshot to w in the keyed snapshot format and
	// returns the number of bytes written. It may run on any goroutine,
	// concurrently with the store's processing, and may be called more than
	// once until Release.
	WriteTo(w io.Writer) (int64, error)
	// Release frees what the snapshot holds: the heap's copies, or the
	// Pebble snapshot that pins old versions of the data. Call it once,
	// after the last WriteTo, or instead of it.
	Release()
}

// Snapshot captures the store's state for a checkpoint and returns it; the
// store can be used again as soon as Snapshot returns.
//
// Heap: states whose keys and values are reference-free (numbers, strings,
// arrays and structs of them, lists of those) are captured by copying their
// maps, and encoded later by WriteTo; other states are encoded now, since
// their values may change in place afterwards. Pebble: the pending write
// batch is committed with a synced write-ahead log, then a Pebble snapshot
// is taken, which WriteTo iterates. Restored states that no handle has
// registered are included, so that a state survives a checkpoint taken
// before its operator asked for it.
func (s *KeyedStore[K]) Snapshot() (KeyedSnapshot, error) {
	if s.closed {
		return nil, errors.New("snapshot of a closed keyed store")
	}
	if s.pb != nil {
		return s.pb.snapshot()
	}
	names := s.stateNames()
	snap := &heapSnapshot{maxParallelism: s.maxParallelism, rng: s.rng, metas: make([]stateMeta, len(names)), groups: make([]groupWriter, len(names))}
	for i, name := range names {
		if t, ok := s.states[name]; ok {
			snap.metas[i] = t.desc().meta(name)
			snap.groups[i] = t.(interface{ capture(int) groupWriter }).capture(i)
			continue
		}
		r := s.restored[name]
		snap.metas[i] = r.meta
		snap.groups[i] = restoredGroups{r: r, idx: i}
	}
	return snap, nil
}

// stateNames returns the names of the registered and the restored states,
// sorted so that snapshots of equal state are equal.
func (s *KeyedStore[K]) stateNames() []string {
	names := make([]string, 0, len(s.states)+len(s.restored))
	for name := range s.states {
		names = append(names, name)
	}
	for name := range s.restored {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

type heapSnapshot struct {
	maxParallelism int
	rng            KeyGroupRange
	metas          []stateMeta
	groups         []groupWriter
}

func (h *heapSnapshot) WriteTo(w io.Writer) (int64, error) {
	if h.groups == nil {
		return 0, errors.New("keyed snapshot used after Release")
	}
	sw := newSnapshotWriter(w, h.maxParallelism, h.rng, h.metas)
	var buf []byte
	for off := range h.rng.Len() {
		buf = buf[:0]
		for _, g := range h.groups {
			buf = g.appendGroup(buf, off)
		}
		if len(buf) > 0 {
			sw.startGroup(h.rng.Start + off)
			sw.write(buf)
			sw.endGroup()
		}
	}
	return sw.finish()
}

func (h *heapSnapshot) Release() { h.groups, h.metas = nil, nil }

// restoredGroups writes a restored, unregistered heap state back out.
type restoredGroups struct {
	r   *restoredState
	idx int
}

func (g restoredGroups) appendGroup(dst []byte, off int) []byte {
	for _, e := range g.r.groups[off] {
		dst = appendEntry(dst, g.idx, e.key, e.ukey, e.val)
	}
	return dst
}

// snapshotWriter writes the keyed snapshot format. Errors are sticky and
// reported by finish.
type snapshotWriter struct {
	w   io.Writer
	crc *crcWriter
	bw  *bufio.Writer
	buf []byte
}

type crcWriter struct {
	w   io.Writer
	sum uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.sum = crc32.Update(c.sum, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

func newSnapshotWriter(w io.Writer, maxParallelism int, rng KeyGroupRange, metas []stateMeta) *snapshotWriter {
	crc := &crcWriter{w: w}
	sw := &snapshotWriter{w: w, crc: crc, bw: bufio.NewWriterSize(crc, 64<<10)}
	b := append(sw.buf[:0], snapshotMagic...)
	for _, x := range []int{snapshotVersion, maxParallelism, rng.Start, rng.End, len(metas)} {
		b = binary.AppendUvarint(b, uint64(x))
	}
	for _, m := range metas {
		b = appendString(b, m.Name)
		b = appendString(b, m.Kind)
		b = appendString(b, m.Types)
		b = append(b, boolByte(m.TTL))
	}
	sw.write(b)
	sw.buf = b
	return sw
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func (sw *snapshotWriter) write(b []byte) { sw.bw.Write(b) } // bufio keeps the first error

func (sw *snapshotWriter) startGroup(kg int) {
	sw.buf = binary.AppendUvarint(sw.buf[:0], uint64(kg)+1)
	sw.write(sw.buf)
}

// entry writes one entry of state number idx.
func (sw *snapshotWriter) entry(idx int, key, ukey, val []byte) {
	sw.buf = appendEntry(sw.buf[:0], idx, key, ukey, val)
	sw.write(sw.buf)
}

func (sw *snapshotWriter) endGroup() { sw.write([]byte{0}) }

// finish writes the end marker and checksum and returns the bytes written.
func (sw *snapshotWriter) finish() (int64, error) {
	sw.write([]byte{0})
	if err := sw.bw.Flush(); err != nil {
		return sw.crc.n, fmt.Errorf("write keyed snapshot: %w", err)
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], sw.crc.sum)
	n, err := sw.w.Write(sum[:])
	if err == nil && n < 4 {
		err = io.ErrShortWrite
	}
	if err != nil {
		return sw.crc.n + int64(n), fmt.Errorf("write keyed snapshot: %w", err)
	}
	return sw.crc.n + 4, nil
}

// restoreSink receives what a restore reads. states is called once per
// snapshot, before its entries; entry's state is an index into the metas of
// the snapshot being read, and its byte slices are only valid during the
// call.
type restoreSink interface {
	states(metas []stateMeta) error
	entry(state, kg int, key, ukey, val []byte) error
	done() error
}

// RestoreKeyedStore loads into store every key group of its range found in
// snapshots, which are keyed snapshots (KeyedSnapshot.WriteTo) of the same
// operator written by any backend, any parallelism and any subtask; key
// groups outside the store's range are skipped. Pass every snapshot of the
// operator's last checkpoint (only those holding the store's key groups
// matter, but reading others is harmless).
//
// The store must be empty — freshly created, before it processes any record
// — and its max parallelism must be the one the snapshots were taken with.
// States may be registered before or after the restore; a state registered
// later must match what was snapshotted (kind, stored types, TTL), and until
// it is registered its entries are kept and go into the next snapshot.
//
// A snapshot that is truncated or fails its checksum makes the restore fail;
// the store may then hold part of the state and must be discarded.
func RestoreKeyedStore[K comparable](store *KeyedStore[K], snapshots ...io.Reader) error {
	if store.closed {
		return errors.New("restore into a closed keyed store")
	}
	if _, err := store.keyCodec(); err != nil {
		return fmt.Errorf("restore keyed state: %w", err)
	}
	if n := store.Stats().Keys; n > 0 {
		return fmt.Errorf("restore keyed state: the store already holds %d entries; restore into a new store before it processes any record", n)
	}
	var sink restoreSink
	if store.pb != nil {
		sink = store.pb.restoreSink()
	} else {
		sink = &heapRestore[K]{s: store, pending: map[string]*restoredState{}}
	}
	seen := make([]bool, store.rng.Len()) // key groups already restored
	for i, r := range snapshots {
		if err := readKeyedSnapshot(r, store.maxParallelism, store.rng, seen, sink); err != nil {
			return fmt.Errorf("restore keyed state from snapshot %d of %d: %w", i+1, len(snapshots), err)
		}
	}
	if err := sink.done(); err != nil {
		return fmt.Errorf("restore keyed state: %w", err)
	}
	return nil
}

// heapRestore collects restored entries encoded, per state; done hands
// those of registered states to their tables and keeps the others for
// registration.
type heapRestore[K comparable] struct {
	s       *KeyedStore[K]
	pending map[string]*restoredState
	cur     []*restoredState // by state index of the snapshot being read
}

func (h *heapRestore[K]) states(metas []stateMeta) error {
	h.cur = h.cur[:0]
	for _, m := range metas {
		if t, ok := h.s.states[m.Name]; ok {
			if err := m.check(t.desc().meta(m.Name)); err != nil {
				return err
			}
		}
		r := h.pending[m.Name]
		if r == nil {
			r = &restoredState{meta: m, groups: make([][]rawEntry, h.s.rng.Len())}
			h.pending[m.Name] = r
		} else if r.meta != m {
			return fmt.Errorf("state %q is %s in one snapshot and %s in another: the snapshots come from different operators", m.Name, r.meta, m)
		}
		h.cur = append(h.cur, r)
	}
	return nil
}

func (h *heapRestore[K]) entry(state, kg int, key, ukey, val []byte) error {
	r := h.cur[state]
	b := make([]byte, len(key)+len(ukey)+len(val))
	n := copy(b, key)
	n += copy(b[n:], ukey)
	copy(b[n:], val)
	e := rawEntry{key: b[:len(key):len(key)], ukey: b[len(key) : len(key)+len(ukey) : len(key)+len(ukey)], val: b[len(key)+len(ukey):]}
	off := kg - h.s.rng.Start
	// The heap counts a map state's keys, not its entries; a snapshot holds
	// the entries of one key together.
	if r.meta.Kind != "map" || len(r.groups[off]) == 0 || !bytes.Equal(r.lastKey, e.key) {
		r.entries++
	}
	r.lastKey = e.key
	r.groups[off] = append(r.groups[off], e)
	r.bytes += int64(len(b))
	return nil
}

func (h *heapRestore[K]) done() error {
	for name, r := range h.pending {
		if t, ok := h.s.states[name]; ok {
			if err := t.(interface{ adopt(*restoredState) error }).adopt(r); err != nil {
				return fmt.Errorf("state %q: %w", name, err)
			}
			continue
		}
		h.s.restored[name] = r
	}
	return nil
}

// readKeyedSnapshot reads one keyed snapshot and passes sink the entries of
// the key groups in rng. seen marks the groups of rng found in earlier
// snapshots of the same restore: finding one again means the same state was
// passed twice.
func readKeyedSnapshot(r io.Reader, maxParallelism int, rng KeyGroupRange, seen []bool, sink restoreSink) error {
	sr := &snapshotReader{r: r, buf: make([]byte, 64<<10)}
	magic, err := sr.fixed(len(snapshotMagic))
	if err != nil {
		return err
	}
	if string(magic) != snapshotMagic {
		return errors.New("not a keyed state snapshot (bad magic bytes)")
	}
	var hdr [5]uint64
	for i := range hdr {
		if hdr[i], err = sr.uvarint(); err != nil {
			return err
		}
	}
	version, m, start, end, nStates := hdr[0], hdr[1], hdr[2], hdr[3], hdr[4]
	switch {
	case version != snapshotVersion:
		return fmt.Errorf("keyed snapshot format version %d is not supported (this build reads version %d)", version, snapshotVersion)
	case m != uint64(maxParallelism):
		return fmt.Errorf("the snapshot was taken with max parallelism %d but the store has %d: max parallelism cannot change across a snapshot; restore with %d", m, maxParallelism, m)
	case start >= end || end > m:
		return fmt.Errorf("corrupt keyed snapshot: key-group range [%d, %d) with max parallelism %d", start, end, m)
	case nStates > 1<<20:
		return fmt.Errorf("corrupt keyed snapshot: %d states", nStates)
	}
	metas := make([]stateMeta, nStates)
	for i := range metas {
		var f [3][]byte
		for j := range f {
			if f[j], err = sr.field(nil, 1<<16); err != nil {
				return err
			}
		}
		flags, err := sr.fixed(1)
		if err != nil {
			return err
		}
		metas[i] = stateMeta{Name: string(f[0]), Kind: string(f[1]), Types: string(f[2]), TTL: flags[0]&1 != 0}
	}
	if err := sink.states(metas); err != nil {
		return err
	}
	var key, ukey, val []byte
	last := -1
	for {
		x, err := sr.uvarint()
		if err != nil {
			return err
		}
		if x == 0 {
			break
		}
		kg := int(x - 1)
		if kg <= last || uint64(kg) < start || uint64(kg) >= end {
			return fmt.Errorf("corrupt keyed snapshot: key group %d after %d in range [%d, %d)", kg, last, start, end)
		}
		last = kg
		keep := rng.Contains(kg)
		if keep {
			if seen[kg-rng.Start] {
				return fmt.Errorf("key group %d is also in an earlier snapshot: pass each subtask's snapshot once", kg)
			}
			seen[kg-rng.Start] = true
		}
		for {
			si, err := sr.uvarint()
			if err != nil {
				return err
			}
			if si == 0 {
				break
			}
			if si > nStates {
				return fmt.Errorf("corrupt keyed snapshot: entry of state %d of %d", si-1, nStates)
			}
			if key, err = sr.field(key[:0], maxFieldLen); err != nil {
				return err
			}
			if ukey, err = sr.field(ukey[:0], maxFieldLen); err != nil {
				return err
			}
			if val, err = sr.field(val[:0], maxFieldLen); err != nil {
				return err
			}
			if keep {
				if err := sink.entry(int(si-1), kg, key, ukey, val); err != nil {
					return fmt.Errorf("key group %d, state %q: %w", kg, metas[si-1].Name, err)
				}
			}
		}
	}
	want := sr.sum()
	got, err := sr.fixed(4)
	if err != nil {
		return err
	}
	if binary.BigEndian.Uint32(got) != want {
		return errors.New("keyed snapshot checksum mismatch: the file is corrupt")
	}
	return nil
}

// snapshotReader reads the snapshot format through its own buffer, so that
// it knows exactly which bytes were consumed: the checksum covers those, not
// what a bufio.Reader may have read ahead.
type snapshotReader struct {
	r        io.Reader
	buf      []byte
	pos, end int
	hashed   int // buf[hashed:pos] is consumed but not yet hashed
	crc      uint32
}

// fill makes at least n (≤ len(buf)) unread bytes available.
func (sr *snapshotReader) fill(n int) error {
	if sr.end-sr.pos >= n {
		return nil
	}
	sr.crc = crc32.Update(sr.crc, castagnoli, sr.buf[sr.hashed:sr.pos])
	sr.end = copy(sr.buf, sr.buf[sr.pos:sr.end])
	sr.pos, sr.hashed = 0, 0
	for sr.end < n {
		k, err := sr.r.Read(sr.buf[sr.end:])
		sr.end += k
		if sr.end >= n {
			break
		}
		if err == io.EOF {
			return errors.New("keyed snapshot is truncated")
		}
		if err != nil {
			return fmt.Errorf("read keyed snapshot: %w", err)
		}
	}
	return nil
}

// sum returns the checksum of every byte consumed so far.
func (sr *snapshotReader) sum() uint32 {
	sr.crc = crc32.Update(sr.crc, castagnoli, sr.buf[sr.hashed:sr.pos])
	sr.hashed = sr.pos
	return sr.crc
}

func (sr *snapshotReader) fixed(n int) ([]byte, error) {
	if err := sr.fill(n); err != nil {
		return nil, err
	}
	b := sr.buf[sr.pos : sr.pos+n]
	sr.pos += n
	return b, nil
}

func (sr *snapshotReader) uvarint() (uint64, error) {
	if sr.end-sr.pos < binary.MaxVarintLen64 {
		// Near the end of the input fewer bytes may remain; fill what can be.
		if err := sr.fill(binary.MaxVarintLen64); err != nil && sr.end == sr.pos {
			return 0, err
		}
	}
	x, k := binary.Uvarint(sr.buf[sr.pos:sr.end])
	if k <= 0 {
		return 0, errors.New("corrupt keyed snapshot: bad varint")
	}
	sr.pos += k
	return x, nil
}

// field reads a length-prefixed field, appending it to dst.
func (sr *snapshotReader) field(dst []byte, limit int) ([]byte, error) {
	n, err := sr.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("corrupt keyed snapshot: field of %d bytes", n)
	}
	for left := int(n); left > 0; {
		if sr.pos == sr.end {
			if err := sr.fill(1); err != nil {
				return nil, err
			}
		}
		k := min(left, sr.end-sr.pos)
		dst = append(dst, sr.buf[sr.pos:sr.pos+k]...)
		sr.pos += k
		left -= k
	}
	return dst, nil
}
