package timers

import (
	"container/heap"
	"iter"
	"math"
)

// Timer is a timer of one key in one namespace (a window, or the void
// namespace of plain keyed functions), due at Time.
type Timer[K comparable, N comparable] struct {
	Time      int64
	Key       K
	Namespace N
	// KeyGroup is the key group of Key, kept so that timers can be found by
	// key-group range for snapshots and fired with the key made current.
	KeyGroup int
}

type timerID[K comparable, N comparable] struct {
	time int64
	key  K
	ns   N
}

// Queue holds the timers of one time domain of one operator instance. A
// timer is unique by (time, key, namespace): registering it again is a
// no-op, as in Flink. Timers are kept per key group (for snapshots and
// rescaling) and in a heap by time (for firing in order); a deleted timer is
// removed from its key group at once and from the heap lazily.
type Queue[K comparable, N comparable] struct {
	byGroup map[int]map[timerID[K, N]]struct{}
	heap    timerHeap[K, N]
	size    int
}

// NewQueue returns an empty queue.
func NewQueue[K comparable, N comparable]() *Queue[K, N] {
	return &Queue[K, N]{byGroup: map[int]map[timerID[K, N]]struct{}{}}
}

// Register adds a timer; it reports false if the same timer was already
// registered.
func (q *Queue[K, N]) Register(t Timer[K, N]) bool {
	id := timerID[K, N]{t.Time, t.Key, t.Namespace}
	g := q.byGroup[t.KeyGroup]
	if g == nil {
		g = map[timerID[K, N]]struct{}{}
		q.byGroup[t.KeyGroup] = g
	}
	n := len(g)
	g[id] = struct{}{} // one hash look-up: the length says whether it was new
	if len(g) == n {
		return false
	}
	heap.Push(&q.heap, t)
	q.size++
	return true
}

// Delete removes a timer; it reports whether it was registered.
func (q *Queue[K, N]) Delete(t Timer[K, N]) bool {
	id := timerID[K, N]{t.Time, t.Key, t.Namespace}
	g := q.byGroup[t.KeyGroup]
	n := len(g)
	delete(g, id) // one hash look-up: the length says whether it was there
	if len(g) == n {
		return false
	}
	if len(g) == 0 {
		delete(q.byGroup, t.KeyGroup)
	}
	q.size--
	if len(q.heap) > 2*q.size+64 {
		q.compact() // deleted timers must not pile up in the heap
	}
	return true
}

// compact rebuilds the heap from the live timers.
func (q *Queue[K, N]) compact() {
	h := q.heap[:0]
	for _, t := range q.heap {
		if q.live(t) {
			h = append(h, t)
		}
	}
	clear(q.heap[len(h):])
	q.heap = h
	heap.Init(&q.heap)
}

func (q *Queue[K, N]) live(t Timer[K, N]) bool {
	_, ok := q.byGroup[t.KeyGroup][timerID[K, N]{t.Time, t.Key, t.Namespace}]
	return ok
}

// Peek returns the earliest timer, if any.
func (q *Queue[K, N]) Peek() (Timer[K, N], bool) {
	for len(q.heap) > 0 {
		t := q.heap[0]
		if q.live(t) {
			return t, true
		}
		heap.Pop(&q.heap) // deleted earlier
	}
	return Timer[K, N]{}, false
}

// PopDue removes and returns the earliest timer due at or before time, if
// any. Call it in a loop: a timer registered while firing that is also due
// fires in the same advance, as in Flink.
func (q *Queue[K, N]) PopDue(time int64) (Timer[K, N], bool) {
	for len(q.heap) > 0 && q.heap[0].Time <= time {
		t := heap.Pop(&q.heap).(Timer[K, N])
		if q.Delete(t) { // false: deleted earlier, skip it
			return t, true
		}
	}
	return Timer[K, N]{}, false
}

// Next returns the time of the earliest timer, or math.MaxInt64 when there
// is none.
func (q *Queue[K, N]) Next() int64 {
	if t, ok := q.Peek(); ok {
		return t.Time
	}
	return math.MaxInt64
}

// Len returns the number of registered timers.
func (q *Queue[K, N]) Len() int { return q.size }

// InKeyGroup ranges over the timers of one key group, in no order.
func (q *Queue[K, N]) InKeyGroup(kg int) iter.Seq[Timer[K, N]] {
	return func(yield func(Timer[K, N]) bool) {
		for id := range q.byGroup[kg] {
			if !yield(Timer[K, N]{Time: id.time, Key: id.key, Namespace: id.ns, KeyGroup: kg}) {
				return
			}
		}
	}
}

type timerHeap[K comparable, N comparable] []Timer[K, N]

func (h timerHeap[K, N]) Len() int           { return len(h) }
func (h timerHeap[K, N]) Less(i, j int) bool { return h[i].Time < h[j].Time }
func (h timerHeap[K, N]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap[K, N]) Push(x any)        { *h = append(*h, x.(Timer[K, N])) }
func (h *timerHeap[K, N]) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
