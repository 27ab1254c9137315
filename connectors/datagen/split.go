package datagen

import (
	"math"

	"github.com/floestream/floe/connectors"
)

// share returns subtask i's part of the offsets [0, last] cut into p
// contiguous parts whose sizes differ by at most one, the larger parts first.
// The part is [first, first+size-1] when ok, and empty when !ok (there are
// fewer offsets than subtasks). last is inclusive so that a range of 2^64
// offsets (every int64) can be split.
func share(last uint64, p, i int) (first, partLast uint64, ok bool) {
	if p == 1 {
		return 0, last, true
	}
	// n = last+1 = q*p + r with 0 ≤ r < p, computed without forming n.
	up := uint64(p)
	q, r := last/up, last%up+1
	if r == up {
		q, r = q+1, 0
	}
	ui := uint64(i)
	first = ui*q + min(ui, r)
	size := q
	if ui < r {
		size++
	}
	if size == 0 {
		return 0, 0, false
	}
	return first, first + size - 1, true
}

// reader emits at(offset) for offset = next, next+step, … up to last
// inclusive, optionally held back by a rate schedule.
type reader[T any] struct {
	at   func(offset uint64) T
	next uint64
	last uint64
	step uint64
	done bool
	rate *schedule // nil: no rate limit
}

func (r *reader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	n, limited := max, false
	if r.rate != nil {
		if allowed := r.rate.allowance(); allowed < uint64(max) {
			n, limited = int(allowed), true
		}
	}
	emitted := 0
	for ; emitted < n && !r.done; emitted++ {
		out.Collect(r.at(r.next))
		if r.last-r.next < r.step {
			r.done = true
		} else {
			r.next += r.step
		}
	}
	if r.rate != nil {
		r.rate.emitted += uint64(emitted)
	}
	switch {
	case r.done:
		return connectors.EndOfInput, nil
	case limited:
		return connectors.NothingAvailable, nil
	}
	return connectors.MoreAvailable, nil
}

func (r *reader[T]) Close() error {
	r.done = true
	return nil
}

// maxIndex is the largest index an unbounded generator emits.
const maxIndex = uint64(math.MaxInt64)
