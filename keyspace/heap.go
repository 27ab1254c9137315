package keyspace

import (
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"unsafe"
)

// KeyedStore is the heap backend for the keyed state of one keyed operator
// instance (one parallel subtask): Go maps, one per state and key group,
// holding entries only for the key groups in the store's range. Keeping each
// key group in its own map is what lets a snapshot or a rescale take or
// restore whole key-group ranges without touching individual keys.
//
// The runtime calls SetCurrentKey before every call into user code, and the
// state handles (NewValueState and friends) read and write the entries of
// that key. A KeyedStore, and every handle on it, belongs to one subtask and
// must only be used from the goroutine that subtask runs on; nothing in it is
// safe for concurrent use.
type KeyedStore[K comparable] struct {
	maxParallelism int
	rng            KeyGroupRange

	// The current key, its key group, and that group's index in every
	// table's groups slice (keyGroup - rng.Start). Handles read key and
	// offset on every call; caching the offset keeps each access to one
	// slice index and one map operation.
	key    K
	group  int
	offset int

	states map[string]stateTable[K]
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

// Stats summarises the store's state. Counting entries costs a few map-length
// reads per state and key group; the byte estimate walks every entry of the
// states whose keys or values have a variable size (strings, lists, maps), so
// call it for periodic metrics, not per record.
func (s *KeyedStore[K]) Stats() Stats {
	st := Stats{States: len(s.states)}
	for _, t := range s.states {
		n, b := t.stats()
		st.Keys += n
		st.ApproxBytes += b
	}
	return st
}

// Keys returns the keys that have an entry in the named state, in ascending
// key-group order (keys within one key group come in no particular order).
// An unknown name yields nothing. The sequence reads the store as it is when
// ranged over; as with a Go map, clearing a yielded key's state during the
// range is allowed, while entries added during it may or may not be yielded.
func (s *KeyedStore[K]) Keys(state string) iter.Seq[K] {
	return func(yield func(K) bool) {
		if t, ok := s.states[state]; ok {
			t.keys(yield)
		}
	}
}

// NewValueState returns a handle on the value state called name, registering
// it on first use. Asking again for the same name with the same V returns a
// handle on the same data. It fails if name is empty or already names a state
// of another kind or type.
func NewValueState[K comparable, V any](s *KeyedStore[K], name string) (ValueState[V], error) {
	t, err := register[K, V](s, name, stateDesc{kind: "value", types: typesOf[V]()}, scalarSize[K, V]())
	if err != nil {
		return nil, err
	}
	return &heapValueState[K, V]{store: s, groups: t.groups}, nil
}

// NewListState returns a handle on the list state called name, registering it
// on first use. Asking again for the same name with the same V returns a
// handle on the same data. It fails if name is empty or already names a state
// of another kind or type.
func NewListState[K comparable, V any](s *KeyedStore[K], name string) (ListState[V], error) {
	t, err := register[K, []V](s, name, stateDesc{kind: "list", types: typesOf[V]()}, listSize[K, V]())
	if err != nil {
		return nil, err
	}
	return &heapListState[K, V]{store: s, groups: t.groups}, nil
}

// NewMapState returns a handle on the map state called name, registering it
// on first use. Asking again for the same name with the same UK and UV
// returns a handle on the same data. It fails if name is empty or already
// names a state of another kind or type.
func NewMapState[K comparable, UK comparable, UV any](s *KeyedStore[K], name string) (MapState[UK, UV], error) {
	desc := stateDesc{kind: "map", types: append(typesOf[UK](), typesOf[UV]()...)}
	t, err := register[K, map[UK]UV](s, name, desc, mapSize[K, UK, UV]())
	if err != nil {
		return nil, err
	}
	return &heapMapState[K, UK, UV]{store: s, groups: t.groups}, nil
}

// NewReducingState returns a handle on the reducing state called name,
// registering it on first use; reduce combines the stored value with each
// added one and must be deterministic. Asking again for the same name with
// the same V returns a handle on the same data, which reduces with the
// function passed to the call that created it. It fails if name is empty,
// reduce is nil, or name already names a state of another kind or type.
func NewReducingState[K comparable, V any](s *KeyedStore[K], name string, reduce func(a, b V) V) (ReducingState[V], error) {
	if reduce == nil {
		return nil, fmt.Errorf("reducing state %q: the reduce function is nil", name)
	}
	t, err := register[K, V](s, name, stateDesc{kind: "reducing", types: typesOf[V]()}, scalarSize[K, V]())
	if err != nil {
		return nil, err
	}
	return &heapReducingState[K, V]{store: s, groups: t.groups, reduce: reduce}, nil
}

// NewAggregatingState returns a handle on the aggregating state called name,
// registering it on first use; fn creates, folds into and reads the per-key
// accumulators. Asking again for the same name with the same IN, ACC and OUT
// returns a handle on the same data, which aggregates with the fn passed to
// the call that created it. It fails if name is empty, fn is nil, or name
// already names a state of another kind or type.
func NewAggregatingState[K comparable, IN, ACC, OUT any](s *KeyedStore[K], name string, fn AggregateFunction[IN, ACC, OUT]) (AggregatingState[IN, OUT], error) {
	if fn == nil {
		return nil, fmt.Errorf("aggregating state %q: the aggregate function is nil", name)
	}
	desc := stateDesc{kind: "aggregating", types: append(append(typesOf[IN](), typesOf[ACC]()...), typesOf[OUT]()...)}
	t, err := register[K, ACC](s, name, desc, scalarSize[K, ACC]())
	if err != nil {
		return nil, err
	}
	return &heapAggregatingState[K, IN, ACC, OUT]{store: s, groups: t.groups, fn: fn}, nil
}

// stateDesc identifies a state's kind and type parameters. Registering a name
// again must present an equal descriptor; that is also what guarantees the
// type assertion in register.
type stateDesc struct {
	kind  string         // value, list, map, reducing, aggregating
	types []reflect.Type // the handle's type parameters, in declaration order
}

func (d stateDesc) equal(o stateDesc) bool {
	if d.kind != o.kind || len(d.types) != len(o.types) {
		return false
	}
	for i := range d.types {
		if d.types[i] != o.types[i] {
			return false
		}
	}
	return true
}

// String names the descriptor for error messages, e.g. "value state of int64"
// or "map state of string to int64".
func (d stateDesc) String() string {
	names := make([]string, len(d.types))
	for i, t := range d.types {
		names[i] = t.String()
	}
	switch d.kind {
	case "map":
		return fmt.Sprintf("map state of %s to %s", names[0], names[1])
	case "aggregating":
		return fmt.Sprintf("aggregating state of %s (accumulator %s, result %s)", names[0], names[1], names[2])
	}
	return fmt.Sprintf("%s state of %s", d.kind, strings.Join(names, ", "))
}

func typesOf[T any]() []reflect.Type { return []reflect.Type{reflect.TypeFor[T]()} }

// stateTable is what the store needs from a registered state whatever its
// kind and value type.
type stateTable[K comparable] interface {
	desc() stateDesc
	// stats returns the number of entries and their approximate size.
	stats() (entries int, approxBytes int64)
	// keys yields the keys with an entry, in key-group order, until yield
	// returns false.
	keys(yield func(K) bool)
}

// table stores one state: an entry of type V per key, in one map per key
// group of the store's range. Every kind of state is a table; lists store
// []V, maps map[UK]UV, aggregations the accumulator.
type table[K comparable, V any] struct {
	d stateDesc
	// groups[i] holds key group rng.Start+i. Its length is fixed at
	// registration, so handles share the backing array by copying the slice
	// header; a group's map is created with its first entry.
	groups []map[K]V
	size   entrySize[K, V]
}

// entrySize estimates the bytes an entry holds: fixed for every entry, plus
// variable(k, v) when that is non-nil (keys or values with strings, lists,
// maps).
type entrySize[K comparable, V any] struct {
	fixed    int64
	variable func(k K, v V) int64
}

// register returns the table called name, creating it on first use. An
// existing table must have an equal descriptor.
func register[K comparable, V any](s *KeyedStore[K], name string, d stateDesc, size entrySize[K, V]) (*table[K, V], error) {
	if name == "" {
		return nil, errors.New("a keyed state needs a non-empty name")
	}
	if existing, ok := s.states[name]; ok {
		if !existing.desc().equal(d) {
			return nil, fmt.Errorf("state %q is already registered as %s and cannot also be %s; give one of them another name",
				name, existing.desc(), d)
		}
		return existing.(*table[K, V]), nil
	}
	t := &table[K, V]{d: d, groups: make([]map[K]V, s.rng.Len()), size: size}
	s.states[name] = t
	return t, nil
}

func (t *table[K, V]) desc() stateDesc { return t.d }

func (t *table[K, V]) stats() (entries int, approxBytes int64) {
	for _, m := range t.groups {
		entries += len(m)
		if t.size.variable != nil {
			for k, v := range m {
				approxBytes += t.size.variable(k, v)
			}
		}
	}
	return entries, approxBytes + int64(entries)*t.size.fixed
}

func (t *table[K, V]) keys(yield func(K) bool) {
	for _, m := range t.groups {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// stringLen returns a function giving the length of a T whose underlying type
// is string, or nil for any other T. Sizes only need it for Stats, off the
// hot path.
func stringLen[T any]() func(T) int64 {
	if reflect.TypeFor[T]().Kind() != reflect.String {
		return nil
	}
	return func(x T) int64 { return int64(len(*(*string)(unsafe.Pointer(&x)))) }
}

// sumSizes combines the non-nil variable sizes of an entry's parts; nil if
// every part has a fixed size.
func sumSizes[K comparable, V any](keyLen func(K) int64, valueLen func(V) int64) func(K, V) int64 {
	switch {
	case keyLen == nil && valueLen == nil:
		return nil
	case valueLen == nil:
		return func(k K, _ V) int64 { return keyLen(k) }
	case keyLen == nil:
		return func(_ K, v V) int64 { return valueLen(v) }
	}
	return func(k K, v V) int64 { return keyLen(k) + valueLen(v) }
}

func scalarSize[K comparable, V any]() entrySize[K, V] {
	var (
		k K
		v V
	)
	return entrySize[K, V]{
		fixed:    int64(unsafe.Sizeof(k) + unsafe.Sizeof(v)),
		variable: sumSizes(stringLen[K](), stringLen[V]()),
	}
}

func listSize[K comparable, V any]() entrySize[K, []V] {
	var (
		k K
		v V
	)
	elem, elemLen := int64(unsafe.Sizeof(v)), stringLen[V]()
	return entrySize[K, []V]{
		fixed: int64(unsafe.Sizeof(k) + unsafe.Sizeof([]V(nil))),
		variable: sumSizes(stringLen[K](), func(l []V) int64 {
			n := int64(len(l)) * elem
			if elemLen != nil {
				for _, x := range l {
					n += elemLen(x)
				}
			}
			return n
		}),
	}
}

func mapSize[K comparable, UK comparable, UV any]() entrySize[K, map[UK]UV] {
	var (
		k  K
		uk UK
		uv UV
	)
	entry, entryLen := int64(unsafe.Sizeof(uk)+unsafe.Sizeof(uv)), sumSizes(stringLen[UK](), stringLen[UV]())
	return entrySize[K, map[UK]UV]{
		fixed: int64(unsafe.Sizeof(k) + unsafe.Sizeof(map[UK]UV(nil))),
		variable: sumSizes(stringLen[K](), func(m map[UK]UV) int64 {
			n := int64(len(m)) * entry
			if entryLen != nil {
				for x, y := range m {
					n += entryLen(x, y)
				}
			}
			return n
		}),
	}
}

// currentGroup returns the map of the store's current key group in groups,
// creating it if the group has no entries yet.
func currentGroup[K comparable, V any](s *KeyedStore[K], groups []map[K]V) map[K]V {
	m := groups[s.offset]
	if m == nil {
		m = make(map[K]V)
		groups[s.offset] = m
	}
	return m
}

// The handles hold the store, for the current key and offset, and their
// table's groups slice header, which saves an indirection per call.

type heapValueState[K comparable, V any] struct {
	store  *KeyedStore[K]
	groups []map[K]V
}

func (h *heapValueState[K, V]) Value() (V, bool) {
	v, ok := h.groups[h.store.offset][h.store.key]
	return v, ok
}

func (h *heapValueState[K, V]) Update(v V) {
	currentGroup(h.store, h.groups)[h.store.key] = v
}

func (h *heapValueState[K, V]) Clear() {
	delete(h.groups[h.store.offset], h.store.key)
}

type heapListState[K comparable, V any] struct {
	store  *KeyedStore[K]
	groups []map[K][]V
}

func (h *heapListState[K, V]) Get() []V {
	return h.groups[h.store.offset][h.store.key]
}

func (h *heapListState[K, V]) Add(v V) {
	m := currentGroup(h.store, h.groups)
	m[h.store.key] = append(m[h.store.key], v)
}

func (h *heapListState[K, V]) AddAll(vs []V) {
	if len(vs) == 0 {
		return // an empty list has no entry; do not create one
	}
	m := currentGroup(h.store, h.groups)
	m[h.store.key] = append(m[h.store.key], vs...)
}

func (h *heapListState[K, V]) Update(vs []V) {
	if len(vs) == 0 {
		h.Clear()
		return
	}
	currentGroup(h.store, h.groups)[h.store.key] = append([]V(nil), vs...)
}

func (h *heapListState[K, V]) Clear() {
	delete(h.groups[h.store.offset], h.store.key)
}

type heapMapState[K comparable, UK comparable, UV any] struct {
	store  *KeyedStore[K]
	groups []map[K]map[UK]UV
}

// current returns the current key's map, nil if it has none.
func (h *heapMapState[K, UK, UV]) current() map[UK]UV {
	return h.groups[h.store.offset][h.store.key]
}

func (h *heapMapState[K, UK, UV]) Get(k UK) (UV, bool) {
	v, ok := h.current()[k]
	return v, ok
}

func (h *heapMapState[K, UK, UV]) Put(k UK, v UV) {
	inner := h.current()
	if inner == nil {
		inner = make(map[UK]UV)
		currentGroup(h.store, h.groups)[h.store.key] = inner
	}
	inner[k] = v
}

func (h *heapMapState[K, UK, UV]) Remove(k UK) {
	inner := h.current()
	if inner == nil {
		return
	}
	delete(inner, k)
	if len(inner) == 0 {
		h.Clear()
	}
}

func (h *heapMapState[K, UK, UV]) Contains(k UK) bool {
	_, ok := h.current()[k]
	return ok
}

func (h *heapMapState[K, UK, UV]) All() iter.Seq2[UK, UV] {
	return func(yield func(UK, UV) bool) {
		for k, v := range h.current() {
			if !yield(k, v) {
				return
			}
		}
	}
}

func (h *heapMapState[K, UK, UV]) Len() int { return len(h.current()) }

func (h *heapMapState[K, UK, UV]) Clear() {
	delete(h.groups[h.store.offset], h.store.key)
}

type heapReducingState[K comparable, V any] struct {
	store  *KeyedStore[K]
	groups []map[K]V
	reduce func(a, b V) V
}

func (h *heapReducingState[K, V]) Get() (V, bool) {
	v, ok := h.groups[h.store.offset][h.store.key]
	return v, ok
}

func (h *heapReducingState[K, V]) Add(v V) {
	m := currentGroup(h.store, h.groups)
	if old, ok := m[h.store.key]; ok {
		v = h.reduce(old, v)
	}
	m[h.store.key] = v
}

func (h *heapReducingState[K, V]) Clear() {
	delete(h.groups[h.store.offset], h.store.key)
}

type heapAggregatingState[K comparable, IN, ACC, OUT any] struct {
	store  *KeyedStore[K]
	groups []map[K]ACC
	fn     AggregateFunction[IN, ACC, OUT]
}

func (h *heapAggregatingState[K, IN, ACC, OUT]) Get() (OUT, bool) {
	acc, ok := h.groups[h.store.offset][h.store.key]
	if !ok {
		var zero OUT
		return zero, false
	}
	return h.fn.Result(acc), true
}

func (h *heapAggregatingState[K, IN, ACC, OUT]) Add(in IN) {
	m := currentGroup(h.store, h.groups)
	acc, ok := m[h.store.key]
	if !ok {
		acc = h.fn.CreateAccumulator()
	}
	m[h.store.key] = h.fn.Add(in, acc)
}

func (h *heapAggregatingState[K, IN, ACC, OUT]) Clear() {
	delete(h.groups[h.store.offset], h.store.key)
}
