package keyspace

import (
	"fmt"
	"iter"
	"maps"
	"reflect"
	"unsafe"
)

// The heap backend: every state is a table of Go maps, one per key group of
// the store's range. Keeping each key group in its own map is what lets a
// snapshot or a rescale take or restore whole key-group ranges without
// touching individual keys.

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
	codec  heapCodec[K, V] // snapshot entries of one stored V
	kc     *keyCodec[K]
}

// entrySize estimates the bytes an entry holds: fixed for every entry, plus
// variable(k, v) when that is non-nil (keys or values with strings, lists,
// maps).
type entrySize[K comparable, V any] struct {
	fixed    int64
	variable func(k K, v V) int64
}

// register returns the heap table called name, creating it on first use; an
// existing table must have an equal descriptor. A new table adopts the
// entries of a restored state of the same name, and a new TTL table gets the
// cleaner that newCleaner (nil without TTL) makes for it.
func register[K comparable, V any](s *KeyedStore[K], name string, d stateDesc, size entrySize[K, V], codec heapCodec[K, V], newCleaner func(*table[K, V]) ttlCleaner) (*table[K, V], error) {
	existing, err := s.admit(name, d)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return existing.(*table[K, V]), nil
	}
	t := &table[K, V]{d: d, groups: make([]map[K]V, s.rng.Len()), size: size, codec: codec, kc: s.kc}
	if r := s.restored[name]; r != nil {
		if err := t.adopt(r); err != nil {
			return nil, fmt.Errorf("state %q: restored entries: %w", name, err)
		}
		delete(s.restored, name)
	}
	s.states[name] = t
	if newCleaner != nil {
		s.cleaners = append(s.cleaners, newCleaner(t))
	}
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

// heapCodec turns one stored value of a heap table into snapshot entries and
// back; there is one implementation per shape of state.
type heapCodec[K comparable, V any] interface {
	// appendEntries appends to dst the snapshot entries, for state number
	// idx, of the key encoded as kenc holding v. scratch is a reusable
	// buffer; the grown one is returned with dst.
	appendEntries(dst, scratch []byte, idx int, kenc []byte, v V) (out, scratchOut []byte)
	// restore folds one restored entry of key k into the key group's map m.
	restore(m map[K]V, k K, ukey, val []byte) error
	// copyable reports whether a shallow copy of a stored V is an immutable
	// picture of it, which lets a snapshot copy maps instead of encoding
	// them (see table.capture).
	copyable() bool
}

// scalarHeapCodec serves value, reducing and aggregating states: one entry
// per key, no user key.
type scalarHeapCodec[K comparable, V any] struct{ c Codec[V] }

func (h scalarHeapCodec[K, V]) appendEntries(dst, scratch []byte, idx int, kenc []byte, v V) ([]byte, []byte) {
	scratch = h.c.Append(scratch[:0], v)
	return appendEntry(dst, idx, kenc, nil, scratch), scratch
}

func (h scalarHeapCodec[K, V]) restore(m map[K]V, k K, _, val []byte) error {
	v, err := h.c.Decode(val)
	if err != nil {
		return err
	}
	m[k] = v
	return nil
}

func (scalarHeapCodec[K, V]) copyable() bool { return referenceFree(reflect.TypeFor[V]()) }

// listHeapCodec serves list states: one entry per key whose value is the
// list's elements, each framed by its length (listCodec), the same bytes a
// Pebble list holds.
type listHeapCodec[K comparable, E any] struct{ c Codec[E] }

func (h listHeapCodec[K, E]) appendEntries(dst, scratch []byte, idx int, kenc []byte, l []E) ([]byte, []byte) {
	scratch = scratch[:0]
	for _, e := range l {
		scratch = appendListElem(scratch, h.c, e)
	}
	return appendEntry(dst, idx, kenc, nil, scratch), scratch
}

func (h listHeapCodec[K, E]) restore(m map[K][]E, k K, _, val []byte) error {
	l, err := decodeList(val, h.c, m[k])
	if err != nil {
		return err
	}
	if len(l) > 0 {
		m[k] = l
	}
	return nil
}

// copyable holds for lists of reference-free elements because the heap list
// never changes an element in place: Add appends past the length a copied
// slice header sees, and Update installs a new array.
func (listHeapCodec[K, E]) copyable() bool { return referenceFree(reflect.TypeFor[E]()) }

// mapHeapCodec serves map states: one entry per user key.
type mapHeapCodec[K comparable, UK comparable, UV any] struct {
	uk Codec[UK]
	uv Codec[UV]
}

func (h mapHeapCodec[K, UK, UV]) appendEntries(dst, scratch []byte, idx int, kenc []byte, m map[UK]UV) ([]byte, []byte) {
	for uk, uv := range m {
		scratch = h.uk.Append(scratch[:0], uk)
		n := len(scratch)
		scratch = h.uv.Append(scratch, uv)
		dst = appendEntry(dst, idx, kenc, scratch[:n], scratch[n:])
	}
	return dst, scratch
}

func (h mapHeapCodec[K, UK, UV]) restore(m map[K]map[UK]UV, k K, ukey, val []byte) error {
	uk, err := h.uk.Decode(ukey)
	if err != nil {
		return err
	}
	uv, err := h.uv.Decode(val)
	if err != nil {
		return err
	}
	inner := m[k]
	if inner == nil {
		inner = make(map[UK]UV)
		m[k] = inner
	}
	inner[uk] = uv
	return nil
}

// copyable is false: a map state's inner maps change in place.
func (mapHeapCodec[K, UK, UV]) copyable() bool { return false }

// referenceFree reports whether values of t hold nothing that can change
// behind a copy: booleans, numbers, strings (immutable), and arrays and
// structs of those.
func referenceFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return referenceFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !referenceFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// groupWriter appends the snapshot entries of one key group (by offset in
// the store's range) of one captured state.
type groupWriter interface {
	appendGroup(dst []byte, off int) []byte
}

// capture takes the synchronous part of a heap snapshot of t as state
// number idx. When keys and stored values are reference-free (the common
// case of counters, sums, strings and lists of them) it copies the group
// maps, which is several times cheaper than encoding and leaves the encoding
// to the asynchronous WriteTo; otherwise it encodes now, because values
// reachable through pointers, slices or maps may change in place after the
// capture, and a deep copy would cost about as much as encoding.
func (t *table[K, V]) capture(idx int) groupWriter {
	if t.codec.copyable() {
		groups := make([]map[K]V, len(t.groups))
		for i, m := range t.groups {
			if len(m) > 0 {
				groups[i] = maps.Clone(m)
			}
		}
		return &copiedGroups[K, V]{t: t, idx: idx, groups: groups}
	}
	enc := make(encodedGroups, len(t.groups))
	var scratch, kbuf []byte
	for i, m := range t.groups {
		enc[i], scratch, kbuf = t.encodeGroup(nil, scratch, kbuf, idx, m)
	}
	return enc
}

// encodeGroup appends the snapshot entries of the group map m.
func (t *table[K, V]) encodeGroup(dst, scratch, kbuf []byte, idx int, m map[K]V) (out, scratchOut, kbufOut []byte) {
	for k, v := range m {
		kbuf = t.kc.Append(kbuf[:0], k)
		dst, scratch = t.codec.appendEntries(dst, scratch, idx, kbuf, v)
	}
	return dst, scratch, kbuf
}

// copiedGroups is a capture by copy: encoded when written.
type copiedGroups[K comparable, V any] struct {
	t      *table[K, V]
	idx    int
	groups []map[K]V
}

func (c *copiedGroups[K, V]) appendGroup(dst []byte, off int) []byte {
	dst, _, _ = c.t.encodeGroup(dst, nil, nil, c.idx, c.groups[off])
	return dst
}

// encodedGroups is a capture by encoding: the entries of each group.
type encodedGroups [][]byte

func (e encodedGroups) appendGroup(dst []byte, off int) []byte { return append(dst, e[off]...) }

// adopt decodes the entries of a restored state into t.
func (t *table[K, V]) adopt(r *restoredState) error {
	for off, entries := range r.groups {
		if len(entries) == 0 {
			continue
		}
		m := t.groups[off]
		if m == nil {
			m = make(map[K]V, len(entries))
			t.groups[off] = m
		}
		for _, e := range entries {
			k, err := t.kc.Decode(e.key)
			if err != nil {
				return err
			}
			if err := t.codec.restore(m, k, e.ukey, e.val); err != nil {
				return fmt.Errorf("key %v: %w", k, err)
			}
		}
		if len(m) == 0 {
			t.groups[off] = nil
		}
	}
	return nil
}

// The heap TTL cleaners remove expired entries of one key group's map.

type heapValueCleaner[K comparable, T any] struct {
	t    *table[K, T]
	hook *ttlHook[T]
}

func (c *heapValueCleaner[K, T]) cleanGroup(off int, now int64) (examined, removed int) {
	m := c.t.groups[off]
	for k, v := range m {
		examined++
		if c.hook.p.expired(c.hook.ts(v), now) {
			delete(m, k)
			removed++
		}
	}
	return examined, removed
}

type heapListCleaner[K comparable, E any] struct {
	t    *table[K, []E]
	hook *ttlHook[E]
}

func (c *heapListCleaner[K, E]) cleanGroup(off int, now int64) (examined, removed int) {
	m := c.t.groups[off]
	for k, l := range m {
		examined += len(l)
		var kept []E
		n := 0
		for i, e := range l {
			if c.hook.p.expired(c.hook.ts(e), now) {
				if n == 0 {
					kept = append(make([]E, 0, len(l)), l[:i]...)
				}
				n++
			} else if n > 0 {
				kept = append(kept, e)
			}
		}
		switch {
		case n == 0:
		case len(kept) == 0:
			delete(m, k)
		default:
			m[k] = kept // a new array: snapshots may share the old one
		}
		removed += n
	}
	return examined, removed
}

type heapMapCleaner[K comparable, UK comparable, T any] struct {
	t    *table[K, map[UK]T]
	hook *ttlHook[T]
}

func (c *heapMapCleaner[K, UK, T]) cleanGroup(off int, now int64) (examined, removed int) {
	m := c.t.groups[off]
	for k, inner := range m {
		for uk, v := range inner {
			examined++
			if c.hook.p.expired(c.hook.ts(v), now) {
				delete(inner, uk)
				removed++
			}
		}
		if len(inner) == 0 {
			delete(m, k)
		}
	}
	return examined, removed
}
