package keyspace

import (
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"time"
)

// KeyedStore holds the keyed state of one keyed operator instance (one
// parallel subtask) for the key groups in its range, on one of two backends
// behind the same API:
//
//   - heap (NewHeapKeyedStore): Go maps, one per state and key group — the
//     fast default;
//   - pebble (NewPebbleKeyedStore): a process-wide Pebble database, with a
//     cache of decoded values in front of it, for state larger than memory.
//
// The runtime calls SetCurrentKey before every call into user code, and the
// state handles (NewValueState and friends) read and write the entries of
// that key. Handles are created by the same functions for both backends, and
// the package's tests run one suite against both.
//
// A KeyedStore, and every handle on it, belongs to one subtask and must only
// be used from the goroutine that subtask runs on; nothing in it is safe for
// concurrent use. The one exception is a KeyedSnapshot, whose WriteTo may run
// on another goroutine while the store goes on (see Snapshot).
type KeyedStore[K comparable] struct {
	maxParallelism int
	rng            KeyGroupRange

	// The current key, its key group, and that group's index in every heap
	// table's groups slice (keyGroup - rng.Start). Heap handles read key and
	// offset on every call; caching the offset keeps each access to one
	// slice index and one map operation.
	key    K
	group  int
	offset int

	// states holds every registered state, whatever the backend.
	states map[string]stateTable[K]

	// pb is the Pebble backend, nil for the heap backend.
	pb *pebbleStore[K]

	clock func() time.Time

	// keyCodec encodes keys for Pebble and snapshots; built on first need,
	// since a heap store without snapshots never needs it.
	kc    *keyCodec[K]
	kcErr error

	// restored holds states that a restore brought in and that have not been
	// registered yet: their description, to check the registration against,
	// and for the heap backend their entries, still encoded.
	restored map[string]*restoredState

	// cleaners and cleanAt drive CleanupExpired: one cleaner per TTL state,
	// and a cursor over (cleaner, key group) pairs.
	cleaners []ttlCleaner
	cleanAt  int

	closed bool
}

// NewHeapKeyedStore returns an empty heap store for the key groups in rng,
// out of maxParallelism key groups in all. rng is normally
// RangeForSubtask(maxParallelism, parallelism, index). Until SetCurrentKey is
// called the current key is the zero K in key group rng.Start.
//
// maxParallelism must lie in [1, UpperBoundMaxParallelism] and rng must be a
// non-empty range within [0, maxParallelism); anything else is a bug in the
// caller and panics.
func NewHeapKeyedStore[K comparable](maxParallelism int, rng KeyGroupRange) *KeyedStore[K] {
	if maxParallelism < 1 || maxParallelism > UpperBoundMaxParallelism {
		panic(fmt.Sprintf("keyspace: max parallelism %d out of range [1, %d]", maxParallelism, UpperBoundMaxParallelism))
	}
	if rng.Start < 0 || rng.End > maxParallelism || rng.Len() == 0 {
		panic(fmt.Sprintf("keyspace: key group range %s is empty or outside [0, %d)", rng, maxParallelism))
	}
	return &KeyedStore[K]{
		maxParallelism: maxParallelism,
		rng:            rng,
		group:          rng.Start,
		states:         make(map[string]stateTable[K]),
		clock:          time.Now,
		restored:       make(map[string]*restoredState),
	}
}

// SetCurrentKey makes key, whose key group is keyGroup, the key that every
// handle on the store reads and writes until the next call. The caller
// computes keyGroup once per record (KeyHasher, KeyGroupForHash); the store
// trusts it, and a wrong key group silently files the key's state under
// another group.
//
// keyGroup must lie in the store's KeyGroupRange. A key group outside it
// means a record reached the wrong subtask, or its key group was computed
// with another max parallelism: an internal bug, so SetCurrentKey panics.
func (s *KeyedStore[K]) SetCurrentKey(key K, keyGroup int) {
	off := keyGroup - s.rng.Start
	if uint(off) >= uint(s.rng.End-s.rng.Start) {
		s.panicOutOfRange(keyGroup)
	}
	s.key, s.group, s.offset = key, keyGroup, off
}

// panicOutOfRange is kept out of SetCurrentKey so that the latter stays
// small enough to inline.
//
//go:noinline
func (s *KeyedStore[K]) panicOutOfRange(keyGroup int) {
	panic(fmt.Sprintf("keyspace: SetCurrentKey: key group %d is outside this store's key groups %s (max parallelism %d): "+
		"the record was routed to the wrong subtask or its key group was computed with another max parallelism",
		keyGroup, s.rng, s.maxParallelism))
}

// CurrentKey returns the key set by the last SetCurrentKey.
func (s *KeyedStore[K]) CurrentKey() K { return s.key }

// CurrentKeyGroup returns the key group set by the last SetCurrentKey.
func (s *KeyedStore[K]) CurrentKeyGroup() int { return s.group }

// KeyGroupRange returns the key groups the store holds state for.
func (s *KeyedStore[K]) KeyGroupRange() KeyGroupRange { return s.rng }

// MaxParallelism returns the total number of key groups of the operator.
func (s *KeyedStore[K]) MaxParallelism() int { return s.maxParallelism }

// Backend names the store's backend: "heap" or "pebble".
func (s *KeyedStore[K]) Backend() string {
	if s.pb != nil {
		return "pebble"
	}
	return "heap"
}

// SetClock replaces the clock that state TTL reads (time.Now by default);
// tests pass a fake one. It applies to every state of the store, including
// those already created. now must be cheap and must not go backwards by
// much: a value written at a later time than now reads as fresh.
func (s *KeyedStore[K]) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.clock = now
}

func (s *KeyedStore[K]) nowMillis() int64 { return s.clock().UnixMilli() }

// Stats summarises the store's state.
//
// Heap: counting entries costs a few map-length reads per state and key
// group; the byte estimate walks every entry of the states whose keys or
// values have a variable size (strings, lists, maps).
//
// Pebble: both figures are tracked as writes are committed, so Stats first
// commits the pending write batch. Keys counts Pebble entries, so a map
// state counts one per user key rather than one per key; ApproxBytes is the
// encoded size of those entries (Pebble key plus value), before compression
// and without Pebble's own overhead.
//
// For both, restored state that no handle has registered yet counts its
// restored entries and their encoded size. Call Stats for periodic metrics,
// not per record.
func (s *KeyedStore[K]) Stats() Stats {
	if s.pb != nil {
		s.pb.commitOrPanic(false)
	}
	st := Stats{States: len(s.states)}
	for _, t := range s.states {
		n, b := t.stats()
		st.Keys += n
		st.ApproxBytes += b
	}
	for _, r := range s.restored {
		st.States++
		st.Keys += r.entries
		st.ApproxBytes += r.bytes
	}
	return st
}

// Keys returns the keys that have an entry in the named state, in ascending
// key-group order (keys within one key group come in no particular order).
// An unknown name, or a restored state no handle has registered yet, yields
// nothing. The sequence reads the store as it is when ranged over; clearing
// a yielded key's state during the range is allowed, while entries added
// during it may or may not be yielded.
func (s *KeyedStore[K]) Keys(state string) iter.Seq[K] {
	return func(yield func(K) bool) {
		if t, ok := s.states[state]; ok {
			t.keys(yield)
		}
	}
}

// Flush makes every write so far durable in the backend: for Pebble it
// commits the pending write batch and syncs Pebble's write-ahead log; for
// the heap it does nothing. Snapshot flushes by itself; the runtime need not
// call Flush before it.
func (s *KeyedStore[K]) Flush() error {
	if s.pb != nil {
		return s.pb.commit(true)
	}
	return nil
}

// Close releases the store; neither it nor its handles may be used
// afterwards (Pebble handles panic). A Pebble store's entries are deleted
// from the database — a store's state lives on in its snapshots, not in the
// working database — and its key groups may then be opened by another store
// of the same operator. Snapshots taken before stay valid until released.
// Closing twice is a no-op.
func (s *KeyedStore[K]) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.pb != nil {
		err = s.pb.close()
	}
	s.states, s.restored, s.cleaners = nil, nil, nil
	return err
}

// CleanupExpired removes expired entries of the store's TTL states, the
// background half of TTL cleanup (the other half happens on access). Each
// call examines entries of one state and one key group at a time, resuming
// where the previous call stopped and wrapping around, until it has examined
// at least budget entries or visited every state and key group once; it
// returns how many values (values, list elements, map entries) it removed.
//
// The contract with the runtime: call it from the subtask's goroutine, never
// concurrently with handle use — between record batches, for instance every
// 100 ms with a budget of a few thousand. A call can examine more than
// budget entries, by up to the entries of one state in one key group. A
// store without TTL states returns 0 at once.
func (s *KeyedStore[K]) CleanupExpired(budget int) (removed int) {
	groups := s.rng.Len()
	n := len(s.cleaners) * groups
	if n == 0 || budget <= 0 {
		return 0
	}
	now := s.nowMillis()
	examined := 0
	for step := 0; step < n && examined < budget; step++ {
		i := s.cleanAt % n
		e, r := s.cleaners[i/groups].cleanGroup(i%groups, now)
		examined += e
		removed += r
		s.cleanAt = (i + 1) % n
	}
	return removed
}

// keyCodec returns the store's key codec, building it on first use; keys
// whose type KeyEncoder rejects cannot be stored in Pebble or snapshotted.
func (s *KeyedStore[K]) keyCodec() (*keyCodec[K], error) {
	if s.kc == nil && s.kcErr == nil {
		s.kc, s.kcErr = newKeyCodec[K]()
	}
	return s.kc, s.kcErr
}

// NewValueState returns a handle on the value state called name, registering
// it on first use. Asking again for the same name with the same V and TTL
// returns a handle on the same data. It fails if name is empty, already
// names a state of another kind, type or TTL, a restored state of that name
// does not match, or V has no codec (see CodecFor; supply one with
// WithValueCodec). Options: WithValueCodec, WithTTL.
func NewValueState[K comparable, V any](s *KeyedStore[K], name string, opts ...StateOption) (ValueState[V], error) {
	o, d, err := s.prepare(name, "value", typesOf[V](), typeName[V](), opts)
	if err != nil {
		return nil, err
	}
	vc, err := valueCodecOf[V](&o)
	if err != nil {
		return nil, fmt.Errorf("value state %q: %w", name, err)
	}
	if o.ttl == nil {
		return valueState(s, name, d, vc, scalarSize[K, V](), nil)
	}
	p := s.ttlPolicy(*o.ttl)
	inner, err := valueState(s, name, d, stampedCodec[V]{vc}, scalarSize[K, stamped[V]](), &ttlHook[stamped[V]]{p, stampTime[V]})
	if err != nil {
		return nil, err
	}
	return &ttlValue[V]{inner: inner, p: p}, nil
}

// NewListState returns a handle on the list state called name, registering it
// on first use. Asking again for the same name with the same V and TTL
// returns a handle on the same data. It fails as NewValueState does; the
// codec is for the list's elements. With WithTTL, each element has its own
// time to live, and Get returns a new slice of the live elements.
func NewListState[K comparable, V any](s *KeyedStore[K], name string, opts ...StateOption) (ListState[V], error) {
	o, d, err := s.prepare(name, "list", typesOf[V](), typeName[V](), opts)
	if err != nil {
		return nil, err
	}
	vc, err := valueCodecOf[V](&o)
	if err != nil {
		return nil, fmt.Errorf("list state %q: %w", name, err)
	}
	if o.ttl == nil {
		return listState(s, name, d, vc, listSize[K, V](), nil)
	}
	p := s.ttlPolicy(*o.ttl)
	inner, err := listState(s, name, d, stampedCodec[V]{vc}, listSize[K, stamped[V]](), &ttlHook[stamped[V]]{p, stampTime[V]})
	if err != nil {
		return nil, err
	}
	return &ttlList[V]{inner: inner, p: p}, nil
}

// NewMapState returns a handle on the map state called name, registering it
// on first use. Asking again for the same name with the same UK, UV and TTL
// returns a handle on the same data. It fails as NewValueState does, and
// also if UK has no deterministic encoding: by default user keys use the
// canonical key encoding (KeyEncoder's rules); supply another with
// WithUserKeyCodec. WithValueCodec is for the map's values. With WithTTL,
// each entry has its own time to live.
func NewMapState[K comparable, UK comparable, UV any](s *KeyedStore[K], name string, opts ...StateOption) (MapState[UK, UV], error) {
	o, d, err := s.prepare(name, "map", append(typesOf[UK](), typesOf[UV]()...), typeName[UK]()+" to "+typeName[UV](), opts)
	if err != nil {
		return nil, err
	}
	ukc, err := userKeyCodecOf[UK](&o)
	if err != nil {
		return nil, fmt.Errorf("map state %q: %w", name, err)
	}
	vc, err := valueCodecOf[UV](&o)
	if err != nil {
		return nil, fmt.Errorf("map state %q: %w", name, err)
	}
	if o.ttl == nil {
		return mapState(s, name, d, ukc, vc, mapSize[K, UK, UV](), nil)
	}
	p := s.ttlPolicy(*o.ttl)
	inner, err := mapState(s, name, d, ukc, stampedCodec[UV]{vc}, mapSize[K, UK, stamped[UV]](), &ttlHook[stamped[UV]]{p, stampTime[UV]})
	if err != nil {
		return nil, err
	}
	return &ttlMap[UK, UV]{inner: inner, p: p}, nil
}

// NewReducingState returns a handle on the reducing state called name,
// registering it on first use; reduce combines the stored value with each
// added one and must be deterministic. Asking again for the same name with
// the same V and TTL returns a handle on the same data, which reduces with
// the function passed to that call. It fails if reduce is nil, and otherwise
// as NewValueState does.
func NewReducingState[K comparable, V any](s *KeyedStore[K], name string, reduce func(a, b V) V, opts ...StateOption) (ReducingState[V], error) {
	if reduce == nil {
		return nil, fmt.Errorf("reducing state %q: the reduce function is nil", name)
	}
	o, d, err := s.prepare(name, "reducing", typesOf[V](), typeName[V](), opts)
	if err != nil {
		return nil, err
	}
	vc, err := valueCodecOf[V](&o)
	if err != nil {
		return nil, fmt.Errorf("reducing state %q: %w", name, err)
	}
	switch {
	case o.ttl != nil:
		p := s.ttlPolicy(*o.ttl)
		inner, err := valueState(s, name, d, stampedCodec[V]{vc}, scalarSize[K, stamped[V]](), &ttlHook[stamped[V]]{p, stampTime[V]})
		if err != nil {
			return nil, err
		}
		tv := &ttlValue[V]{inner: inner, p: p}
		return &reducingOn[V]{v: tv, live: tv.live, reduce: reduce}, nil
	case s.pb != nil:
		v, err := valueState(s, name, d, vc, scalarSize[K, V](), nil)
		if err != nil {
			return nil, err
		}
		return &reducingOn[V]{v: v, live: v.Value, reduce: reduce}, nil
	}
	t, err := register(s, name, d, scalarSize[K, V](), heapCodec[K, V](scalarHeapCodec[K, V]{vc}), nil)
	if err != nil {
		return nil, err
	}
	return &heapReducingState[K, V]{store: s, groups: t.groups, reduce: reduce}, nil
}

// NewAggregatingState returns a handle on the aggregating state called name,
// registering it on first use; fn creates, folds into and reads the per-key
// accumulators. Asking again for the same name with the same IN, ACC, OUT
// and TTL returns a handle on the same data, which aggregates with the fn
// passed to that call. It fails if fn is nil, and otherwise as NewValueState
// does; the codec is for the accumulators (ACC).
func NewAggregatingState[K comparable, IN, ACC, OUT any](s *KeyedStore[K], name string, fn AggregateFunction[IN, ACC, OUT], opts ...StateOption) (AggregatingState[IN, OUT], error) {
	if fn == nil {
		return nil, fmt.Errorf("aggregating state %q: the aggregate function is nil", name)
	}
	types := append(append(typesOf[IN](), typesOf[ACC]()...), typesOf[OUT]()...)
	o, d, err := s.prepare(name, "aggregating", types, typeName[ACC](), opts)
	if err != nil {
		return nil, err
	}
	vc, err := valueCodecOf[ACC](&o)
	if err != nil {
		return nil, fmt.Errorf("aggregating state %q: %w", name, err)
	}
	switch {
	case o.ttl != nil:
		p := s.ttlPolicy(*o.ttl)
		inner, err := valueState(s, name, d, stampedCodec[ACC]{vc}, scalarSize[K, stamped[ACC]](), &ttlHook[stamped[ACC]]{p, stampTime[ACC]})
		if err != nil {
			return nil, err
		}
		tv := &ttlValue[ACC]{inner: inner, p: p}
		return &aggregatingOn[IN, ACC, OUT]{v: tv, live: tv.live, fn: fn}, nil
	case s.pb != nil:
		v, err := valueState(s, name, d, vc, scalarSize[K, ACC](), nil)
		if err != nil {
			return nil, err
		}
		return &aggregatingOn[IN, ACC, OUT]{v: v, live: v.Value, fn: fn}, nil
	}
	t, err := register(s, name, d, scalarSize[K, ACC](), heapCodec[K, ACC](scalarHeapCodec[K, ACC]{vc}), nil)
	if err != nil {
		return nil, err
	}
	return &heapAggregatingState[K, IN, ACC, OUT]{store: s, groups: t.groups, fn: fn}, nil
}

// ttlHook tells a backend that a state has TTL: the policy, and where the
// timestamp of a stored value (a value, list element or map value) is.
type ttlHook[T any] struct {
	p  *ttlPolicy
	ts func(T) int64
}

func stampTime[V any](s stamped[V]) int64 { return s.ts }

func (s *KeyedStore[K]) ttlPolicy(cfg TTLConfig) *ttlPolicy {
	return newTTLPolicy(cfg, s.nowMillis)
}

// valueState registers a value-shaped state storing T on the store's
// backend and returns its handle. Value, reducing and aggregating states
// all store one T per key.
func valueState[K comparable, T any](s *KeyedStore[K], name string, d stateDesc, c Codec[T], size entrySize[K, T], hook *ttlHook[T]) (ValueState[T], error) {
	if s.pb != nil {
		t, err := registerPebble(s, name, d, Codec[T](c), pebbleValueKind, hookPolicy(hook))
		if err != nil {
			return nil, err
		}
		return &pebbleValue[K, T]{t: t}, nil
	}
	var cleaner func(*table[K, T]) ttlCleaner
	if hook != nil {
		cleaner = func(t *table[K, T]) ttlCleaner { return &heapValueCleaner[K, T]{t: t, hook: hook} }
	}
	t, err := register(s, name, d, size, heapCodec[K, T](scalarHeapCodec[K, T]{c}), cleaner)
	if err != nil {
		return nil, err
	}
	return &heapValueState[K, T]{store: s, groups: t.groups}, nil
}

// listState registers a list state of E elements and returns its handle.
func listState[K comparable, E any](s *KeyedStore[K], name string, d stateDesc, c Codec[E], size entrySize[K, []E], hook *ttlHook[E]) (ListState[E], error) {
	if s.pb != nil {
		t, err := registerPebble(s, name, d, Codec[[]E](listCodec[E]{c}), pebbleListKind, hookPolicy(hook))
		if err != nil {
			return nil, err
		}
		return &pebbleList[K, E]{t: t, elem: c}, nil
	}
	var cleaner func(*table[K, []E]) ttlCleaner
	if hook != nil {
		cleaner = func(t *table[K, []E]) ttlCleaner { return &heapListCleaner[K, E]{t: t, hook: hook} }
	}
	t, err := register(s, name, d, size, heapCodec[K, []E](listHeapCodec[K, E]{c}), cleaner)
	if err != nil {
		return nil, err
	}
	return &heapListState[K, E]{store: s, groups: t.groups}, nil
}

// mapState registers a map state from UK to T and returns its handle.
func mapState[K comparable, UK comparable, T any](s *KeyedStore[K], name string, d stateDesc, ukc Codec[UK], c Codec[T], size entrySize[K, map[UK]T], hook *ttlHook[T]) (MapState[UK, T], error) {
	if s.pb != nil {
		t, err := registerPebble(s, name, d, c, pebbleMapKind, hookPolicy(hook))
		if err != nil {
			return nil, err
		}
		return &pebbleMap[K, UK, T]{t: t, ukc: ukc}, nil
	}
	var cleaner func(*table[K, map[UK]T]) ttlCleaner
	if hook != nil {
		cleaner = func(t *table[K, map[UK]T]) ttlCleaner { return &heapMapCleaner[K, UK, T]{t: t, hook: hook} }
	}
	t, err := register(s, name, d, size, heapCodec[K, map[UK]T](mapHeapCodec[K, UK, T]{ukc, c}), cleaner)
	if err != nil {
		return nil, err
	}
	return &heapMapState[K, UK, T]{store: s, groups: t.groups}, nil
}

func hookPolicy[T any](h *ttlHook[T]) *ttlPolicy {
	if h == nil {
		return nil
	}
	return h.p
}

// prepare checks what every state creation checks first — the name and the
// options — and returns the options and the state's descriptor.
func (s *KeyedStore[K]) prepare(name, kind string, types []reflect.Type, format string, opts []StateOption) (stateOptions, stateDesc, error) {
	if s.closed {
		return stateOptions{}, stateDesc{}, fmt.Errorf("%s state %q: the store is closed", kind, name)
	}
	if name == "" {
		return stateOptions{}, stateDesc{}, errors.New("a keyed state needs a non-empty name")
	}
	o := collectOptions(opts)
	if o.err != nil {
		return o, stateDesc{}, fmt.Errorf("%s state %q: %w", kind, name, o.err)
	}
	d := stateDesc{kind: kind, types: types, format: format}
	if o.ttl != nil {
		d.ttl = *o.ttl
	}
	return o, d, nil
}

// admit checks a registration of name with descriptor d against the store:
// it returns the existing table if name is registered with an equal
// descriptor, an error if it is registered otherwise or a restored state of
// that name does not match, and (nil, nil) if the caller is to create the
// table.
func (s *KeyedStore[K]) admit(name string, d stateDesc) (stateTable[K], error) {
	if existing, ok := s.states[name]; ok {
		if !existing.desc().equal(d) {
			return nil, fmt.Errorf("state %q is already registered as %s and cannot also be %s; give one of them another name",
				name, existing.desc(), d)
		}
		return existing, nil
	}
	if _, err := s.keyCodec(); err != nil {
		return nil, fmt.Errorf("state %q: the store's keys cannot be encoded for snapshots: %w", name, err)
	}
	if r, ok := s.restored[name]; ok {
		if err := r.meta.check(d.meta(name)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// stateDesc identifies a state's kind, type parameters and TTL. Registering
// a name again must present an equal descriptor; that is also what
// guarantees the type assertions on registered tables.
type stateDesc struct {
	kind   string         // value, list, map, reducing, aggregating
	types  []reflect.Type // the handle's type parameters, in declaration order
	ttl    TTLConfig      // zero without TTL
	format string         // the stored types as snapshots record them
}

func (d stateDesc) equal(o stateDesc) bool {
	if d.kind != o.kind || len(d.types) != len(o.types) || d.ttl != o.ttl {
		return false
	}
	for i := range d.types {
		if d.types[i] != o.types[i] {
			return false
		}
	}
	return true
}

// String names the descriptor for error messages, e.g. "value state of
// int64", "map state of string to int64" or "list state of string with TTL
// 1m0s on create and write, never return expired".
func (d stateDesc) String() string {
	names := make([]string, len(d.types))
	for i, t := range d.types {
		names[i] = t.String()
	}
	var s string
	switch d.kind {
	case "map":
		s = fmt.Sprintf("map state of %s to %s", names[0], names[1])
	case "aggregating":
		s = fmt.Sprintf("aggregating state of %s (accumulator %s, result %s)", names[0], names[1], names[2])
	default:
		s = fmt.Sprintf("%s state of %s", d.kind, strings.Join(names, ", "))
	}
	if d.ttl != (TTLConfig{}) {
		s += " with " + d.ttl.String()
	}
	return s
}

// meta returns what a snapshot records about the state called name.
func (d stateDesc) meta(name string) stateMeta {
	return stateMeta{Name: name, Kind: d.kind, Types: d.format, TTL: d.ttl != (TTLConfig{})}
}

func typesOf[T any]() []reflect.Type { return []reflect.Type{reflect.TypeFor[T]()} }

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// stateTable is what the store needs from a registered state whatever its
// kind, value type and backend.
type stateTable[K comparable] interface {
	desc() stateDesc
	// stats returns the number of entries and their approximate size.
	stats() (entries int, approxBytes int64)
	// keys yields the keys with an entry, in key-group order, until yield
	// returns false.
	keys(yield func(K) bool)
}

// ttlCleaner removes the expired entries of one TTL state, one key group
// (by offset in the store's range) at a time.
type ttlCleaner interface {
	cleanGroup(off int, now int64) (examined, removed int)
}
