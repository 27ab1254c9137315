package nexmark

import (
	"cmp"

	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

// People selects the people of an event stream.
func People(events topology.Stream[Event]) topology.Stream[Person] {
	return topology.FlatMap(events, "people", func(e Event, out topology.Collector[Person]) {
		if e.Kind == KindPerson {
			out.Collect(*e.Person)
		}
	})
}

// Auctions selects the auctions of an event stream.
func Auctions(events topology.Stream[Event]) topology.Stream[Auction] {
	return topology.FlatMap(events, "auctions", func(e Event, out topology.Collector[Auction]) {
		if e.Kind == KindAuction {
			out.Collect(*e.Auction)
		}
	})
}

// uniqueJoin is a regular inner join, for the life of the job as the SQL's,
// of a side with many rows per key (M, input 1) to a side with at most one
// row per key (O, input 2: a person by id, an auction by id). The one row is
// kept if keep accepts it; rows of the many side that come before it wait
// for it, and are dropped once a rejected one came.
type uniqueJoin[K comparable, M, O, R any] struct {
	keep func(O) bool
	join func(M, O) R

	one      keyspace.ValueState[O]
	rejected keyspace.ValueState[bool]
	pending  keyspace.ListState[M]
}

func (q *uniqueJoin[K, M, O, R]) Open(ctx *topology.KeyedContext[K]) (err error) {
	if q.one, err = keyspace.NewValueState[K, O](ctx.State(), "one"); err != nil {
		return err
	}
	if q.rejected, err = keyspace.NewValueState[K, bool](ctx.State(), "rejected"); err != nil {
		return err
	}
	q.pending, err = keyspace.NewListState[K, M](ctx.State(), "pending")
	return err
}

func (q *uniqueJoin[K, M, O, R]) ProcessElement1(_ *topology.KeyedContext[K], m M, out topology.Collector[R]) error {
	if o, ok := q.one.Value(); ok {
		out.Collect(q.join(m, o))
		return nil
	}
	if _, rejected := q.rejected.Value(); !rejected {
		q.pending.Add(m)
	}
	return nil
}

func (q *uniqueJoin[K, M, O, R]) ProcessElement2(_ *topology.KeyedContext[K], o O, out topology.Collector[R]) error {
	if !q.keep(o) {
		q.rejected.Update(true)
		q.pending.Clear()
		return nil
	}
	q.one.Update(o)
	for _, m := range q.pending.Get() {
		out.Collect(q.join(m, o))
	}
	q.pending.Clear()
	return nil
}

// LocalItem is a row of q3.
type LocalItem struct {
	Name, City, State string
	ID                int64
}

func buildQ3(j *topology.Job, events topology.Stream[Event], out Output) {
	auctions := topology.KeyBy(topology.Filter(Auctions(events), "category-10",
		func(a Auction) bool { return a.Category == 10 }), func(a Auction) int64 { return a.Seller })
	people := topology.KeyBy(People(events), func(p Person) int64 { return p.ID })
	joined := topology.KeyedCoProcess(topology.ConnectKeyed(auctions, people), "join-seller",
		&uniqueJoin[int64, Auction, Person, LocalItem]{
			keep: func(p Person) bool { return p.State == "OR" || p.State == "ID" || p.State == "CA" },
			join: func(a Auction, p Person) LocalItem { return LocalItem{p.Name, p.City, p.State, a.ID} },
		})
	sinkRows(joined, out, "q3", func(l LocalItem) Row {
		return Row{[]Column{{"name", l.Name}, {"city", l.City}, {"state", l.State}, {"id", l.ID}}}
	})
}

// compareBids orders bids by price, highest first, as q9 and q19 rank them,
// then by dateTime, earliest first (q9's second key); the remaining columns
// break the ties the SQL leaves open, so that the result does not depend on
// the order in which a parallel run delivers bids.
func compareBids(a, b Bid) int {
	if c := cmp.Compare(b.Price, a.Price); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DateTime, b.DateTime); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Bidder, b.Bidder); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Channel, b.Channel); c != 0 {
		return c
	}
	if c := cmp.Compare(a.URL, b.URL); c != 0 {
		return c
	}
	return cmp.Compare(a.Extra, b.Extra)
}

// WinningBid is a row of q9: an auction and its winning bid.
type WinningBid struct {
	Auction Auction
	Bid     Bid
}

// winningBids is q9's join of bids to their auction (B.dateTime BETWEEN
// A.dateTime AND A.expires) with the top bid per auction. The top bid is
// final once the watermark passes the auction's expiry, so it is emitted
// then, once: an append-only result equal to the SQL's final one.
//
// A bid that comes before its auction (at parallelism > 1 the two travel
// different channels) waits for it until the watermark passes the bid's
// time: an auction that has not come by then starts after the bid.
type winningBids struct {
	auction keyspace.ValueState[Auction]
	best    keyspace.ValueState[Bid]
	closed  keyspace.ValueState[bool] // the auction expired: later bids are outside it
	pending keyspace.ListState[Bid]
}

func (w *winningBids) Open(ctx *topology.KeyedContext[int64]) (err error) {
	if w.auction, err = keyspace.NewValueState[int64, Auction](ctx.State(), "auction"); err != nil {
		return err
	}
	if w.best, err = keyspace.NewValueState[int64, Bid](ctx.State(), "best-bid"); err != nil {
		return err
	}
	if w.closed, err = keyspace.NewValueState[int64, bool](ctx.State(), "closed"); err != nil {
		return err
	}
	w.pending, err = keyspace.NewListState[int64, Bid](ctx.State(), "pending-bids")
	return err
}

// offer makes b the best bid of a if it falls within a and beats the best.
func (w *winningBids) offer(a Auction, b Bid) {
	if b.DateTime < a.DateTime || b.DateTime > a.Expires {
		return
	}
	if best, ok := w.best.Value(); !ok || compareBids(b, best) < 0 {
		w.best.Update(b)
	}
}

func (w *winningBids) ProcessElement1(ctx *topology.KeyedContext[int64], b Bid, _ topology.Collector[WinningBid]) error {
	if a, ok := w.auction.Value(); ok {
		w.offer(a, b)
		return nil
	}
	if _, closed := w.closed.Value(); !closed {
		w.pending.Add(b)
		ctx.RegisterEventTimeTimer(b.DateTime)
	}
	return nil
}

func (w *winningBids) ProcessElement2(ctx *topology.KeyedContext[int64], a Auction, _ topology.Collector[WinningBid]) error {
	w.auction.Update(a)
	for _, b := range w.pending.Get() {
		w.offer(a, b)
	}
	w.pending.Clear()
	ctx.RegisterEventTimeTimer(a.Expires)
	return nil
}

func (w *winningBids) OnTimer(_ *topology.KeyedContext[int64], t int64, out topology.Collector[WinningBid]) error {
	if a, ok := w.auction.Value(); ok {
		if t < a.Expires {
			return nil
		}
		if b, ok := w.best.Value(); ok {
			out.Collect(WinningBid{a, b})
		}
		w.auction.Clear()
		w.best.Clear()
		w.closed.Update(true)
		return nil
	}
	// No auction yet: the pending bids up to t can no longer meet one.
	var keep []Bid
	for _, b := range w.pending.Get() {
		if b.DateTime > t {
			keep = append(keep, b)
		}
	}
	w.pending.Update(keep)
	return nil
}

// WinningBids joins bids to their auctions and returns each auction's
// winning bid once the auction expired (q9, and the inner query of q4).
func WinningBids(events topology.Stream[Event]) topology.Stream[WinningBid] {
	return topology.KeyedCoProcess(topology.ConnectKeyed(
		topology.KeyBy(Bids(events), func(b Bid) int64 { return b.Auction }),
		topology.KeyBy(Auctions(events), func(a Auction) int64 { return a.ID })), "winning-bids", &winningBids{})
}

func buildQ9(j *topology.Job, events topology.Stream[Event], out Output) {
	sinkRows(WinningBids(events), out, "q9", func(w WinningBid) Row {
		a, b := w.Auction, w.Bid
		return Row{[]Column{{"id", a.ID}, {"itemName", a.ItemName}, {"description", a.Description},
			{"initialBid", a.InitialBid}, {"reserve", a.Reserve}, {"dateTime", a.DateTime}, {"expires", a.Expires},
			{"seller", a.Seller}, {"category", a.Category}, {"extra", a.Extra}, {"auction", b.Auction},
			{"bidder", b.Bidder}, {"price", b.Price}, {"bid_dateTime", b.DateTime}, {"bid_extra", b.Extra}}}
	})
}

// CategoryAverage is a row of q4: the average winning price of the
// auctions of a category closed so far.
type CategoryAverage struct {
	Category, Final int64
}

// priceSum is the running sum and count behind an average.
type priceSum struct {
	Sum, Count int64
}

func buildQ4(j *topology.Job, events topology.Stream[Event], out Output) {
	// MAX(B.price) per auction is its winning bid's price.
	finals := topology.KeyBy(WinningBids(events), func(w WinningBid) int64 { return w.Auction.Category })
	averages := topology.KeyedProcess(finals, "average-per-category", &categoryAverage{})
	sinkRows(averages, out, "q4", func(c CategoryAverage) Row {
		return Row{[]Column{{"id", c.Category}, {"final", c.Final}}}
	})
}

// categoryAverage keeps each category's sum and count of winning prices and
// emits the new average (BIGINT AVG: the sum divided by the count,
// truncated) as each auction closes: an upsert stream keyed by category.
type categoryAverage struct {
	sum keyspace.ValueState[priceSum]
}

func (c *categoryAverage) Open(ctx *topology.KeyedContext[int64]) (err error) {
	c.sum, err = keyspace.NewValueState[int64, priceSum](ctx.State(), "price-sum")
	return err
}

func (c *categoryAverage) ProcessElement(ctx *topology.KeyedContext[int64], w WinningBid, out topology.Collector[CategoryAverage]) error {
	s, _ := c.sum.Value()
	s.Sum += w.Bid.Price
	s.Count++
	c.sum.Update(s)
	out.Collect(CategoryAverage{Category: ctx.Key(), Final: s.Sum / s.Count})
	return nil
}
