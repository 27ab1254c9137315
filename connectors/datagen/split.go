package datagen

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/throttle"
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

// part is one split of a generated source: the offsets next, next+step, …
// up to last inclusive. A part is never empty: a reader drops a part once it
// emitted last, or the largest offset before it.
type part struct {
	name string
	next uint64
	last uint64
	step uint64
}

// partName names the split that subtask i of p reads in a fresh run. The
// name stays the split's name when a restored run at another parallelism
// reads it.
func partName(i, p int) string { return fmt.Sprintf("share-%d-of-%d", i, p) }

// partStateVersion is the first byte of an encoded part position.
const partStateVersion = 1

// partStateSize is the size of an encoded part position: the version and
// next, last and step as big-endian uint64s.
const partStateSize = 1 + 3*8

func (p part) state() connectors.SplitState {
	b := make([]byte, partStateSize)
	b[0] = partStateVersion
	binary.BigEndian.PutUint64(b[1:], p.next)
	binary.BigEndian.PutUint64(b[9:], p.last)
	binary.BigEndian.PutUint64(b[17:], p.step)
	return connectors.SplitState{Split: p.name, State: b}
}

// decodeParts turns split positions back into parts. maxLast is the largest
// offset the source generates; a position beyond it, or one that is not a
// position of this package at all, belongs to another source and is
// rejected.
func decodeParts(splits []connectors.SplitState, maxLast uint64) ([]part, error) {
	parts := make([]part, 0, len(splits))
	for _, s := range splits {
		b := s.State
		if len(b) != partStateSize || b[0] != partStateVersion {
			return nil, fmt.Errorf("datagen: split %q: the position is not one of a generated source (%d bytes): restore the job with the source it was checkpointed with", s.Split, len(b))
		}
		p := part{
			name: s.Split,
			next: binary.BigEndian.Uint64(b[1:]),
			last: binary.BigEndian.Uint64(b[9:]),
			step: binary.BigEndian.Uint64(b[17:]),
		}
		if p.step == 0 || p.next > p.last || p.last > maxLast {
			return nil, fmt.Errorf("datagen: split %q: position next=%d last=%d step=%d does not fit a source of offsets up to %d: restore the job with the source it was checkpointed with",
				s.Split, p.next, p.last, p.step, maxLast)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// reader emits at(offset) for the offsets of its parts, always the smallest
// offset not yet emitted next, optionally held back by a rate schedule. In a
// fresh run a reader has one part; a restored reader may have several, and
// merging them in offset order keeps the records of interleaved and
// unbounded parts advancing together (an unbounded part read to its end
// first would starve the others).
type reader[T any] struct {
	at    func(offset uint64) T
	parts []part             // the unfinished parts, in the order given
	rate  *throttle.Schedule // nil: no rate limit
}

func (r *reader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	n, limited := max, false
	if r.rate != nil {
		if allowed := r.rate.Allowance(); allowed < uint64(max) {
			n, limited = int(allowed), true
		}
	}
	so, _ := out.(connectors.SplitOutput[T])
	emitted := 0
	for emitted < n && len(r.parts) > 0 {
		m, bound := r.lowest()
		p := &r.parts[m]
		c := out
		if so != nil {
			c = so.ForSplit(p.name)
		}
		for emitted < n {
			c.Collect(r.at(p.next))
			emitted++
			if p.last-p.next < p.step {
				if so != nil {
					so.FinishSplit(p.name)
				}
				r.parts = slices.Delete(r.parts, m, m+1)
				break
			}
			p.next += p.step
			if p.next > bound {
				break
			}
		}
	}
	if r.rate != nil {
		r.rate.Emitted(uint64(emitted))
	}
	switch {
	case len(r.parts) == 0:
		return connectors.EndOfInput, nil
	case limited:
		return connectors.NothingAvailable, nil
	}
	return connectors.MoreAvailable, nil
}

// lowest returns the index of the part with the smallest next offset, and
// the smallest next offset of the others (math.MaxUint64 if there are none):
// the part may emit up to that bound before another part's turn comes.
func (r *reader[T]) lowest() (m int, bound uint64) {
	bound = math.MaxUint64
	for i := 1; i < len(r.parts); i++ {
		switch next := r.parts[i].next; {
		case next < r.parts[m].next:
			bound = r.parts[m].next
			m = i
		case next < bound:
			bound = next
		}
	}
	return m, bound
}

// SnapshotSplits returns the position of every unfinished part: the next
// offset to emit, the last and the step. It allocates the result and does
// nothing else.
func (r *reader[T]) SnapshotSplits() ([]connectors.SplitState, error) {
	states := make([]connectors.SplitState, len(r.parts))
	for i, p := range r.parts {
		states[i] = p.state()
	}
	return states, nil
}

func (r *reader[T]) Close() error {
	r.parts = nil
	return nil
}

// maxIndex is the largest index an unbounded generator emits.
const maxIndex = uint64(math.MaxInt64)
