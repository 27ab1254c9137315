package topology

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
)

// Sliding windows overlap: with size 10 s and slide 2 s every record belongs
// to five windows. In slice mode the window operator keeps one accumulator
// per key and slice (here 2 s, the gcd of size and slide) in its
// window-major table, adds each record to one slice, and when the watermark
// passes a window's end merges the window's slices per key and fires it —
// Flink SQL's sliced windows. It applies to window-major state (heap), the
// default event-time trigger, no allowed lateness, and contents that merge.
type slicing struct {
	slice, size, slide, offset int64
	// fired is the start of the last window fired; before a restore's
	// watermark catches up, restoredFired holds, per restored key group,
	// the start of the last window its old subtask fired.
	fired         int64
	restoredFired map[int]int64
}

// slicedAcc is one key's merged contents while a window fires.
type slicedAcc[K comparable, ACC any] struct {
	key   K
	group int32
	acc   ACC
}

// enableSlicing turns slice mode on where it applies.
func (o *windowOp[T, ACC, OUT, K, W]) enableSlicing() {
	s, ok := o.assigner.(timers.Sliced)
	if !ok || o.fast == nil || !o.byWatermark || o.lateness != 0 || o.contents.merge == nil {
		return
	}
	var w W
	if _, ok := any(w).(timers.TimeWindow); !ok {
		return
	}
	slice, size, slide, offset, ok := s.Slices()
	if !ok {
		return
	}
	o.slices = &slicing{slice: slice, size: size, slide: slide, offset: offset, fired: math.MinInt64}
}

func asWindow[W any](tw timers.TimeWindow) W { return any(tw).(W) }

func asTimeWindow[W any](w W) timers.TimeWindow { return any(w).(timers.TimeWindow) }

// processSliced adds v, of timestamp ts, to its slice; a record whose
// every window has fired goes to the late output.
func (o *windowOp[T, ACC, OUT, K, W]) processSliced(v T, ts int64) {
	s := o.slices
	// The last window that holds ts starts at the slide boundary at or
	// before it; once that one fired, so had all the others.
	if timers.WindowStart(ts, s.offset, s.slide)+s.size-1 <= o.ctx.watermark {
		if o.late != nil {
			o.late.Collect(v)
		}
		return
	}
	start := timers.WindowStart(ts, s.offset, s.slice)
	p, existed := o.fast.ref(o.curKey(), o.ctx.store.CurrentKeyGroup(), asWindow[W](timers.TimeWindow{Start: start, End: start + s.slice}))
	if !existed {
		*p = o.contents.create()
	}
	*p = o.contents.add(v, *p)
}

// fireSliced fires, in order, every window the watermark passed that holds
// a slice, merging its slices per key, and drops the slices whose last
// window fired.
func (o *windowOp[T, ACC, OUT, K, W]) fireSliced(wm int64) {
	s := o.slices
	if len(o.fast.byWindow) == 0 || wm < math.MinInt64+s.size {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for w := range o.fast.byWindow {
		start := asTimeWindow(w).Start
		lo, hi = min(lo, start), max(hi, start)
	}
	// Windows that hold a slice start in (lo+slice-size, hi]; those the
	// watermark passed end at or before wm.
	first := timers.WindowStart(lo+s.slice-s.size, s.offset, s.slide)
	if first < lo+s.slice-s.size {
		first += s.slide
	}
	if s.fired != math.MinInt64 {
		first = max(first, s.fired+s.slide)
	}
	last := timers.WindowStart(min(hi, wm-s.size+1), s.offset, s.slide)
	for start := first; start <= last; start += s.slide {
		o.fireSlicedWindow(start)
		s.fired = start
	}
	for w := range o.fast.byWindow {
		if ws := timers.WindowStart(asTimeWindow(w).Start, s.offset, s.slide); ws+s.size-1 <= wm {
			o.fast.drop(w)
		}
	}
}

// fireSlicedWindow merges window [start, start+size)'s slices per key and
// emits the window for each key, keys in the order they first appear.
func (o *windowOp[T, ACC, OUT, K, W]) fireSlicedWindow(start int64) {
	s := o.slices
	clear(o.sliceIndex)
	merged := o.sliceAccs[:0]
	for p := start; p < start+s.size; p += s.slice {
		wk := o.fast.byWindow[asWindow[W](timers.TimeWindow{Start: p, End: p + s.slice})]
		if wk == nil {
			continue
		}
		for sl := range wk.live() {
			if f, ok := s.restoredFired[int(sl.group)]; ok && start <= f {
				continue // fired before the restore
			}
			if i, ok := o.sliceIndex[sl.key]; ok {
				merged[i].acc = o.contents.merge(merged[i].acc, sl.v)
				continue
			}
			o.sliceIndex[sl.key] = len(merged)
			merged = append(merged, slicedAcc[K, ACC]{key: sl.key, group: sl.group, acc: sl.v})
		}
	}
	w := asWindow[W](timers.TimeWindow{Start: start, End: start + s.size})
	for i := range merged {
		o.ctx.store.SetCurrentKey(merged[i].key, int(merged[i].group))
		o.emit(w, merged[i].acc)
	}
	clear(merged) // drop references to keys and contents
	o.sliceAccs = merged[:0]
}

// slicesPart is the part holding a sliced window operator's slices, and,
// per key group, the last window fired.
const slicesPart = "slices"

// snapshotSlices encodes every slice's values and, per key group of the
// subtask, the start of the last window fired.
func (o *windowOp[T, ACC, OUT, K, W]) snapshotSlices(c windowTableCodec[K, W, ACC]) StatePart {
	g := keyspace.NewGroupedEntries(4)
	c.addEntries(g, o.fast) // slices never fire: their flag is 0

	fired := binary.BigEndian.AppendUint64(nil, uint64(o.slices.fired))
	for kg := o.env.KeyGroups.Start; kg < o.env.KeyGroups.End; kg++ {
		f := fired
		if rf, ok := o.slices.restoredFired[kg]; ok && (o.slices.fired == math.MinInt64 || rf > o.slices.fired) {
			f = binary.BigEndian.AppendUint64(nil, uint64(rf))
		}
		g.Add(kg, nil, nil, f, []byte{1})
	}
	return bytesPart(slicesPart, g.Bytes())
}

// restoreSlices loads the slices and fired windows of the env's key groups.
func (o *windowOp[T, ACC, OUT, K, W]) restoreSlices(c windowTableCodec[K, W, ACC]) error {
	o.slices.restoredFired = map[int]int64{}
	return o.env.readParts(slicesPart, func(r io.Reader) error {
		return keyspace.ReadGroupedEntries(r, o.env.KeyGroups, func(kg int, f [][]byte) error {
			if f[3][0] == 1 {
				if len(f[2]) != 8 {
					return fmt.Errorf("slices: bad fired-window entry of key group %d", kg)
				}
				if v := int64(binary.BigEndian.Uint64(f[2])); v != math.MinInt64 {
					o.slices.restoredFired[kg] = v
				}
				return nil
			}
			k, w, v, err := c.decodeEntry(f)
			if err != nil {
				return err
			}
			p, existed := o.fast.ref(k, kg, w)
			if existed {
				v = o.contents.merge(*p, v)
			}
			*p = v
			return nil
		})
	})
}
