package topology

import (
	"iter"

	"github.com/floestream/floe/keyspace"
)

// windowTable keeps a value per key and window for the window operator. The
// key is always the keyed store's current key.
type windowTable[K comparable, W comparable, V any] interface {
	get(k K, w W) (V, bool)
	put(k K, w W, v V)
	remove(k K, w W)
	// windows ranges over the windows the key has values in (merging
	// assigners only).
	windows(k K) iter.Seq[W]
}

// keyMajor keeps window values in keyed map state, per key: what merging
// windows need, since they look up a key's windows on every record.
type keyMajor[K comparable, W comparable, V any] struct{ m keyspace.MapState[W, V] }

func (t keyMajor[K, W, V]) get(_ K, w W) (V, bool) { return t.m.Get(w) }
func (t keyMajor[K, W, V]) put(_ K, w W, v V)      { t.m.Put(w, v) }
func (t keyMajor[K, W, V]) remove(_ K, w W)        { t.m.Remove(w) }
func (t keyMajor[K, W, V]) windows(_ K) iter.Seq[W] {
	return func(yield func(W) bool) {
		for w := range t.m.All() {
			if !yield(w) {
				return
			}
		}
	}
}

// windowMajor keeps a map of keys per window. Windows that do not merge
// open and close together for all keys, so the window operator can fire and
// drop a whole window's map at once, driven by the watermark, with no timer
// per key and window (see windowOp.fireWindows). Values are held by pointer
// so that they are updated with one look-up (ref), with the key's key group
// beside them for firing outside a record.
type windowMajor[K comparable, W comparable, V any] struct {
	byWindow map[W]*windowKeys[K, V]
	last     W                 // the window of the last look-up, and its keys: records of a
	lastKeys *windowKeys[K, V] // window tend to come together
}

// windowKeys holds one window's values in a slice, found through a map of
// indexes: the map's values stay inline and small, and the values sit
// together in memory.
type windowKeys[K comparable, V any] struct {
	index map[K]int32
	slots []slot[K, V]
	fired bool // fired by the watermark; kept until its allowed lateness ends
}

type slot[K comparable, V any] struct {
	key   K
	v     V
	group int32
	gone  bool // removed: its index entry is deleted
}

// live ranges over the window's keys and values in insertion order.
func (wk *windowKeys[K, V]) live() iter.Seq[*slot[K, V]] {
	return func(yield func(*slot[K, V]) bool) {
		for i := range wk.slots {
			if s := &wk.slots[i]; !s.gone && !yield(s) {
				return
			}
		}
	}
}

func newWindowMajor[K comparable, W comparable, V any]() *windowMajor[K, W, V] {
	return &windowMajor[K, W, V]{byWindow: map[W]*windowKeys[K, V]{}}
}

func (t *windowMajor[K, W, V]) window(w W, create bool) *windowKeys[K, V] {
	if t.lastKeys != nil && w == t.last {
		return t.lastKeys
	}
	wk := t.byWindow[w]
	if wk == nil {
		if !create {
			return nil
		}
		wk = &windowKeys[K, V]{index: map[K]int32{}}
		t.byWindow[w] = wk
	}
	t.last, t.lastKeys = w, wk
	return wk
}

// ref returns the value of key k (in key group group) in window w,
// creating it (zero) if new. The pointer is valid until the next ref.
func (t *windowMajor[K, W, V]) ref(k K, group int, w W) (v *V, existed bool) {
	wk := t.window(w, true)
	if i, ok := wk.index[k]; ok {
		return &wk.slots[i].v, true
	}
	wk.index[k] = int32(len(wk.slots))
	wk.slots = append(wk.slots, slot[K, V]{key: k, group: int32(group)})
	return &wk.slots[len(wk.slots)-1].v, false
}

func (t *windowMajor[K, W, V]) get(k K, w W) (V, bool) {
	if wk := t.window(w, false); wk != nil {
		if i, ok := wk.index[k]; ok {
			return wk.slots[i].v, true
		}
	}
	var zero V
	return zero, false
}

func (t *windowMajor[K, W, V]) put(k K, w W, v V) {
	p, _ := t.ref(k, 0, w) // only ever called for keys already there
	*p = v
}

func (t *windowMajor[K, W, V]) remove(k K, w W) {
	wk := t.window(w, false)
	if wk == nil {
		return
	}
	if i, ok := wk.index[k]; ok {
		wk.slots[i].gone = true
		var zero V
		wk.slots[i].v = zero
		delete(wk.index, k)
	}
	if len(wk.index) == 0 && !wk.fired {
		t.drop(w)
	}
}

// drop removes window w with all its keys.
func (t *windowMajor[K, W, V]) drop(w W) {
	delete(t.byWindow, w)
	if t.lastKeys != nil && t.last == w {
		t.lastKeys = nil
	}
}

func (t *windowMajor[K, W, V]) windows(k K) iter.Seq[W] {
	return func(yield func(W) bool) {
		for w, wk := range t.byWindow {
			if _, ok := wk.index[k]; ok && !yield(w) {
				return
			}
		}
	}
}
