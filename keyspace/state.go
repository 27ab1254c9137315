package keyspace

import "iter"

// ValueState holds one value of type V per key.
type ValueState[V any] interface {
	// Value returns the current key's value and true, or the zero V and
	// false if the key has none.
	Value() (V, bool)
	// Update sets the current key's value to v.
	Update(v V)
	// Clear removes the current key's value.
	Clear()
}

// ListState holds a list of V per key.
type ListState[V any] interface {
	// Get returns the current key's list, or nil if it has none. The slice
	// is the stored one, not a copy: the caller must not modify it or keep
	// it across a call that modifies the state.
	Get() []V
	// Add appends v to the current key's list.
	Add(v V)
	// AddAll appends vs, in order, to the current key's list. It does not
	// retain vs.
	AddAll(vs []V)
	// Update replaces the current key's list with a copy of vs; an empty vs
	// removes the entry.
	Update(vs []V)
	// Clear removes the current key's list.
	Clear()
}

// MapState holds a map from UK to UV per key.
type MapState[UK comparable, UV any] interface {
	// Get returns the value stored under k in the current key's map, and
	// whether there is one.
	Get(k UK) (UV, bool)
	// Put stores v under k in the current key's map.
	Put(k UK, v UV)
	// Remove deletes k from the current key's map; removing the last entry
	// removes the key's map.
	Remove(k UK)
	// Contains reports whether the current key's map holds k.
	Contains(k UK) bool
	// All ranges over the current key's map, in no particular order. The key
	// is the one current when ranging starts. As with a Go map, entries may
	// be removed during the range; entries put during it may or may not be
	// visited.
	All() iter.Seq2[UK, UV]
	// Len returns the number of entries in the current key's map.
	Len() int
	// Clear removes the current key's map.
	Clear()
}

// ReducingState keeps, per key, the reduction of every value added since the
// key's state was last cleared.
type ReducingState[V any] interface {
	// Get returns the current key's reduced value and true, or the zero V
	// and false if nothing was added.
	Get() (V, bool)
	// Add folds v into the current key's value: the first value is stored as
	// is, later ones as reduce(stored, v).
	Add(v V)
	// Clear removes the current key's value.
	Clear()
}

// AggregateFunction folds inputs of type IN into an accumulator of type ACC
// and derives a result of type OUT from it, as in Flink. Implementations must
// be deterministic and must not keep references to accumulators they were
// given: the store owns them.
type AggregateFunction[IN, ACC, OUT any] interface {
	// CreateAccumulator returns a fresh accumulator, the start of each key's
	// aggregation.
	CreateAccumulator() ACC
	// Add folds in into acc and returns the updated accumulator (which may be
	// acc itself, modified).
	Add(in IN, acc ACC) ACC
	// Result returns the aggregate of acc. It must not modify acc.
	Result(acc ACC) OUT
	// Merge combines two accumulators into one, for when the runtime merges
	// state (session windows). It may return a or b, modified.
	Merge(a, b ACC) ACC
}

// AggregatingState keeps, per key, an accumulator of every input added since
// the key's state was last cleared, and reads as the accumulator's result.
type AggregatingState[IN, OUT any] interface {
	// Get returns the result of the current key's accumulator and true, or
	// the zero OUT and false if nothing was added.
	Get() (OUT, bool)
	// Add folds in into the current key's accumulator, creating it first if
	// the key has none.
	Add(in IN)
	// Clear removes the current key's accumulator.
	Clear()
}

// Stats summarises the keyed state held by one store, for metrics and the
// dashboard (KeyedStore.Stats).
type Stats struct {
	// States is the number of states (distinct names), registered or
	// restored.
	States int
	// Keys is the number of entries summed over all states: a key with state
	// in three states counts three times. The Pebble backend counts a map
	// state's entries, one per user key, where the heap counts its keys.
	Keys int
	// ApproxBytes estimates the bytes the entries hold.
	//
	// Heap: per entry the size of the key and of the stored value as
	// unsafe.Sizeof reports them, plus the bytes of string keys and values,
	// and of list elements and map entries (including their strings). It
	// ignores the maps' own overhead and anything reached through pointers,
	// so it is a lower bound, good for trends and comparisons rather than
	// for accounting.
	//
	// Pebble: the encoded size of the entries, Pebble key plus value, before
	// compression and without Pebble's own overhead.
	ApproxBytes int64
}
