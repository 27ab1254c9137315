package keyspace

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
)

// BroadcastState is a map that every parallel instance of an operator holds
// in full, as in Flink's broadcast state pattern: the broadcast side of a
// connected stream writes it (Put, Remove), the keyed side reads it through
// ReadOnly. The runtime sends every broadcast record to every subtask, so
// each subtask applies the same updates to its own copy; the copies stay
// equal as long as the updates are deterministic and depend only on the
// broadcast records and the state itself.
//
// It lives in an OperatorStateStore (NewBroadcastState): every subtask
// snapshots its copy with the store, and on restore every new subtask gets
// one copy, whichever (RedistributeOperatorState). Like the store, it is not
// safe for concurrent use.
type BroadcastState[K comparable, V any] struct {
	m    map[K]V
	kc   Codec[K]
	vc   Codec[V]
	desc string // "K to V"
}

// ReadOnlyBroadcastState is the view of a BroadcastState given to the keyed
// side of a connected stream, which must not change it. Its methods behave
// as BroadcastState's.
type ReadOnlyBroadcastState[K comparable, V any] interface {
	Get(k K) (V, bool)
	Contains(k K) bool
	All() iter.Seq2[K, V]
	Len() int
}

// NewBroadcastState returns the broadcast state called name in s,
// registering it on first use. Asking again for the same name with the same
// K and V returns the same state. It fails if name is empty or names another
// state of s, if a restored state of that name does not match, or if K or V
// cannot be encoded: keys use the canonical key encoding (KeyEncoder) unless
// WithUserKeyCodec supplies a deterministic codec, values CodecFor unless
// WithValueCodec supplies one. WithTTL does not apply.
func NewBroadcastState[K comparable, V any](s *OperatorStateStore, name string, opts ...StateOption) (*BroadcastState[K, V], error) {
	if name == "" {
		return nil, errors.New("an operator state needs a non-empty name")
	}
	o := collectOptions(opts)
	if err := checkOperatorOptions(o, "broadcast state", name); err != nil {
		return nil, err
	}
	types := typesString(reflect.TypeFor[K](), reflect.TypeFor[V]())
	if existing, ok := s.broadcasts[name]; ok {
		b, ok := existing.(*BroadcastState[K, V])
		if !ok {
			return nil, fmt.Errorf("broadcast state %q is already registered as a map of %s and cannot also be a map of %s; give one of them another name",
				name, existing.types(), types)
		}
		return b, nil
	}
	if _, ok := s.lists[name]; ok {
		return nil, fmt.Errorf("operator state %q is already registered as a list; give one of them another name", name)
	}
	kc, err := userKeyCodecOf[K](&o)
	if err != nil {
		return nil, fmt.Errorf("broadcast state %q: %w", name, err)
	}
	vc, err := valueCodecOf[V](&o)
	if err != nil {
		return nil, fmt.Errorf("broadcast state %q: %w", name, err)
	}
	b := &BroadcastState[K, V]{m: map[K]V{}, kc: kc, vc: vc, desc: types}
	if d, ok := s.restoredBroadcasts[name]; ok {
		if err := b.restore(d); err != nil {
			return nil, fmt.Errorf("broadcast state %q: %w", name, err)
		}
		delete(s.restoredBroadcasts, name)
	}
	s.broadcasts[name] = b
	return b, nil
}

// Put stores v under k.
func (b *BroadcastState[K, V]) Put(k K, v V) { b.m[k] = v }

// Get returns the value stored under k and whether there is one.
func (b *BroadcastState[K, V]) Get(k K) (V, bool) {
	v, ok := b.m[k]
	return v, ok
}

// Contains reports whether a value is stored under k.
func (b *BroadcastState[K, V]) Contains(k K) bool {
	_, ok := b.m[k]
	return ok
}

// Remove deletes k's entry, if any.
func (b *BroadcastState[K, V]) Remove(k K) { delete(b.m, k) }

// All ranges over the entries in no particular order; as with a Go map,
// entries may be removed during the range.
func (b *BroadcastState[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for k, v := range b.m {
			if !yield(k, v) {
				return
			}
		}
	}
}

// Len returns the number of entries.
func (b *BroadcastState[K, V]) Len() int { return len(b.m) }

// ReadOnly returns a read-only view of b, which sees b's later changes.
func (b *BroadcastState[K, V]) ReadOnly() ReadOnlyBroadcastState[K, V] { return readOnly[K, V]{b} }

// readOnly hides BroadcastState's writing methods.
type readOnly[K comparable, V any] struct{ b *BroadcastState[K, V] }

func (r readOnly[K, V]) Get(k K) (V, bool)    { return r.b.Get(k) }
func (r readOnly[K, V]) Contains(k K) bool    { return r.b.Contains(k) }
func (r readOnly[K, V]) All() iter.Seq2[K, V] { return r.b.All() }
func (r readOnly[K, V]) Len() int             { return r.b.Len() }

// broadcastTable is what an OperatorStateStore needs from a broadcast state
// whatever its types.
type broadcastTable interface {
	types() string
	data(name string) BroadcastStateData
	restore(d BroadcastStateData) error
}

func (b *BroadcastState[K, V]) types() string { return b.desc }

// data encodes the entries sorted by encoded key, so that the equal copies
// of all subtasks snapshot to equal bytes.
func (b *BroadcastState[K, V]) data(name string) BroadcastStateData {
	d := BroadcastStateData{Name: name, Types: b.desc, Entries: make([]BroadcastEntry, 0, len(b.m))}
	for k, v := range b.m {
		d.Entries = append(d.Entries, BroadcastEntry{Key: b.kc.Append(nil, k), Value: b.vc.Append(nil, v)})
	}
	slices.SortFunc(d.Entries, func(x, y BroadcastEntry) int { return bytes.Compare(x.Key, y.Key) })
	return d
}

func (b *BroadcastState[K, V]) restore(d BroadcastStateData) error {
	if d.Types != b.desc {
		return fmt.Errorf("restored as a map of %s, registered as a map of %s: register it as it was snapshotted", d.Types, b.desc)
	}
	m := make(map[K]V, len(d.Entries))
	for _, e := range d.Entries {
		k, err := b.kc.Decode(e.Key)
		if err != nil {
			return err
		}
		v, err := b.vc.Decode(e.Value)
		if err != nil {
			return fmt.Errorf("key %v: %w", k, err)
		}
		m[k] = v
	}
	b.m = m
	return nil
}
