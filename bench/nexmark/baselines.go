package nexmark

import (
	"fmt"

	"github.com/floestream/floe/connectors"
)

// Baselines are the queries written as directly as Go allows: one
// goroutine, the same generator reader floe's source uses, plain maps, rows
// counted instead of written (as with floe's counting output). They are the
// physical limit floe is measured against.
var Baselines = map[string]func(cfg Config) (rows int64, err error){
	"q0": func(cfg Config) (int64, error) { return eachBid(cfg, func(Bid) int64 { return 1 }) },
	"q1": baselineQ1,
	"q2": func(cfg Config) (int64, error) {
		return eachBid(cfg, func(b Bid) int64 { return btoi(b.Auction%123 == 0) })
	},
	"q5":  baselineQ5,
	"q7":  baselineQ7,
	"q8":  baselineQ8,
	"q20": baselineQ20,
}

func btoi(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// baselineSink keeps results from being optimised away.
var baselineSink float64

// each runs fn over every event of cfg, read with the source's own reader.
func each(cfg Config, fn func(e *Event)) error {
	r, err := Source(cfg).Reader(connectors.SubtaskInfo{Job: "baseline", Operator: "events", Index: 0, Parallelism: 1})
	if err != nil {
		return err
	}
	defer r.Close()
	out := connectors.CollectorFunc[Event](func(e Event) { fn(&e) })
	for {
		st, err := r.Poll(out, 1024)
		if err != nil {
			return err
		}
		if st == connectors.EndOfInput {
			return nil
		}
	}
}

func eachBid(cfg Config, fn func(b Bid) int64) (int64, error) {
	var rows int64
	err := each(cfg, func(e *Event) {
		if e.Kind == KindBid {
			rows += fn(e.Bid)
		}
	})
	return rows, err
}

func baselineQ1(cfg Config) (int64, error) {
	var total float64
	rows, err := eachBid(cfg, func(b Bid) int64 { total += Q1Price(b.Price); return 1 })
	baselineSink = total
	return rows, err
}

// baselineQ5 counts bids per auction in 2 s panes and emits, as event time
// passes each 10 s window (the watermark, dateTime − 4 s), the auctions with
// the most bids in it.
func baselineQ5(cfg Config) (int64, error) {
	const pane, size = 2000, 10000
	panes := map[int64]map[int64]int64{} // pane start → auction → bids
	next := int64(-1)                    // start of the next window to emit
	var rows int64
	emit := func(start int64) {
		counts := map[int64]int64{}
		for p := start; p < start+size; p += pane {
			for a, n := range panes[p] {
				counts[a] += n
			}
		}
		var most int64
		for _, n := range counts {
			most = max(most, n)
		}
		for _, n := range counts {
			if n >= most {
				rows++
			}
		}
		delete(panes, start) // the oldest pane is in no later window
	}
	err := each(cfg, func(e *Event) {
		if e.Kind != KindBid {
			return
		}
		ts := e.Bid.DateTime
		p := ts - ts%pane
		m := panes[p]
		if m == nil {
			m = map[int64]int64{}
			panes[p] = m
			if next < 0 {
				next = p - size + pane
			}
		}
		m[e.Bid.Auction]++
		for wm := ts - int64(WatermarkDelay/1e6); next+size-1 <= wm; next += pane {
			emit(next)
		}
	})
	for ; len(panes) > 0; next += pane {
		emit(next)
	}
	return rows, err
}

// baselineQ7 keeps each 10 s window's bids at its top price and emits them
// once the next window's end is passed (bids on the end itself count for
// both windows).
func baselineQ7(cfg Config) (int64, error) {
	const size = 10000
	type window struct {
		max  int64
		bids []Bid
	}
	windows := map[int64]*window{}
	var rows int64
	add := func(start int64, b Bid) {
		w := windows[start]
		if w == nil {
			w = &window{max: -1}
			windows[start] = w
		}
		switch {
		case b.Price > w.max:
			w.max, w.bids = b.Price, append(w.bids[:0], b)
		case b.Price == w.max:
			w.bids = append(w.bids, b)
		}
	}
	err := each(cfg, func(e *Event) {
		if e.Kind != KindBid {
			return
		}
		ts := e.Bid.DateTime
		start := ts - ts%size
		add(start, e.Bid)
		if ts%size == 0 && windows[ts-size] != nil { // on the end of the previous window
			if w := windows[ts-size]; e.Bid.Price == w.max {
				w.bids = append(w.bids, e.Bid)
			}
		}
		for s, w := range windows {
			if s+size < ts-int64(WatermarkDelay/1e6) {
				rows += int64(len(w.bids))
				delete(windows, s)
			}
		}
	})
	for _, w := range windows {
		rows += int64(len(w.bids))
	}
	return rows, err
}

// baselineQ8 keeps per 10 s window the people who registered and the
// sellers who created auctions, and joins them when the window closes.
func baselineQ8(cfg Config) (int64, error) {
	const size = 10000
	type window struct{ people, sellers map[int64]bool }
	windows := map[int64]*window{}
	var rows int64
	closeWindow := func(w *window) {
		for id := range w.people {
			if w.sellers[id] {
				rows++
			}
		}
	}
	err := each(cfg, func(e *Event) {
		if e.Kind == KindBid {
			return
		}
		ts := e.DateTime()
		start := ts - ts%size
		w := windows[start]
		if w == nil {
			w = &window{people: map[int64]bool{}, sellers: map[int64]bool{}}
			windows[start] = w
		}
		if e.Kind == KindPerson {
			w.people[e.Person.ID] = true
		} else {
			w.sellers[e.Auction.Seller] = true
		}
		for s, w := range windows {
			if s+size <= ts-int64(WatermarkDelay/1e6) {
				closeWindow(w)
				delete(windows, s)
			}
		}
	})
	for _, w := range windows {
		closeWindow(w)
	}
	return rows, err
}

// baselineQ20 joins bids with auctions of category 10, bids waiting for
// their auction as long as it takes.
func baselineQ20(cfg Config) (int64, error) {
	auctions := map[int64]*Auction{}
	other := map[int64]bool{}
	pending := map[int64][]Bid{}
	var rows int64
	err := each(cfg, func(e *Event) {
		switch e.Kind {
		case KindAuction:
			a := e.Auction
			if a.Category != 10 {
				other[a.ID] = true
				delete(pending, a.ID)
				return
			}
			auctions[a.ID] = a
			rows += int64(len(pending[a.ID]))
			delete(pending, a.ID)
		case KindBid:
			if auctions[e.Bid.Auction] != nil {
				rows++
			} else if !other[e.Bid.Auction] {
				pending[e.Bid.Auction] = append(pending[e.Bid.Auction], e.Bid)
			}
		}
	})
	return rows, err
}

// CheckBaselines runs every baseline on cfg and compares its row count with
// want, for tests.
func CheckBaselines(cfg Config, want map[string]int64) error {
	for name, run := range Baselines {
		rows, err := run(cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if rows != want[name] {
			return fmt.Errorf("%s baseline: %d rows, the query gives %d", name, rows, want[name])
		}
	}
	return nil
}
