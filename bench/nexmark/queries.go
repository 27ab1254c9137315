package nexmark

import (
	"fmt"
	"sort"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

// WatermarkDelay is the Nexmark SQL watermark: dateTime − 4 s.
const WatermarkDelay = 4 * time.Second

// Query is a Nexmark query written as a floe topology.
type Query struct {
	Name        string
	Description string
	// Build adds the query to j, reading events, and sends its rows to out.
	Build func(j *topology.Job, events topology.Stream[Event], out Output)
}

// Output is where a query's rows go: each query turns its rows into JSON
// lines with the SQL's column names.
type Output interface {
	// sink returns the sink of a query's rows.
	sink(name string) connectors.Sink[Row]
}

// Row is one result row: the query's columns in SQL order, JSON-encoded.
type Row struct {
	Columns []Column
}

// Column is one named value of a row.
type Column struct {
	Name  string
	Value any
}

// Queries lists the queries floe implements, by name.
var Queries = map[string]Query{}

func register(q Query) { Queries[q.Name] = q }

// QueryNames returns the implemented queries, in order.
func QueryNames() []string {
	var names []string
	for n := range Queries {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool {
		var x, y int
		fmt.Sscanf(names[a], "q%d", &x)
		fmt.Sscanf(names[b], "q%d", &y)
		return x < y
	})
	return names
}

// sinkRows sends a query's results to out: as rows of named columns, or
// just counted (no rows are built for a counting output, as a blackhole
// sink does not format what it drops).
func sinkRows[R any](s topology.Stream[R], out Output, name string, row func(R) Row) {
	if c, ok := out.(CountingOutput); ok {
		topology.Sink(s, name+"-sink", counting[R]{c.Rows})
		return
	}
	rows := topology.Map(s, name+"-rows", row)
	topology.Sink(rows, name+"-sink", out.sink(name))
}

// Bids selects the bids of an event stream.
func Bids(events topology.Stream[Event]) topology.Stream[Bid] {
	return topology.FlatMap(events, "bids", func(e Event, out topology.Collector[Bid]) {
		if e.Kind == KindBid {
			out.Collect(e.Bid)
		}
	})
}

func init() {
	register(Query{Name: "q0", Description: "pass-through: every bid",
		Build: func(j *topology.Job, events topology.Stream[Event], out Output) {
			sinkRows(Bids(events), out, "q0", func(b Bid) Row {
				return Row{[]Column{{"auction", b.Auction}, {"bidder", b.Bidder}, {"price", b.Price},
					{"dateTime", b.DateTime}, {"extra", b.Extra}}}
			})
		}})
	register(Query{Name: "q1", Description: "currency conversion: bid prices × 0.908",
		Build: func(j *topology.Job, events topology.Stream[Event], out Output) {
			sinkRows(Bids(events), out, "q1", func(b Bid) Row {
				return Row{[]Column{{"auction", b.Auction}, {"bidder", b.Bidder}, {"price", Q1Price(b.Price)},
					{"dateTime", b.DateTime}, {"extra", b.Extra}}}
			})
		}})
	register(Query{Name: "q2", Description: "selection: bids on auctions whose id is a multiple of 123",
		Build: func(j *topology.Job, events topology.Stream[Event], out Output) {
			sel := topology.Filter(Bids(events), "auction-mod-123", func(b Bid) bool { return b.Auction%123 == 0 })
			sinkRows(sel, out, "q2", func(b Bid) Row { return Row{[]Column{{"auction", b.Auction}, {"price", b.Price}}} })
		}})
	register(Query{Name: "q3", Description: "local item suggestion: sellers in OR, ID or CA of auctions in category 10",
		Build: buildQ3})
	register(Query{Name: "q4", Description: "average price for a category: the mean winning bid of each category's closed auctions",
		Build: buildQ4})
	register(Query{Name: "q5", Description: "hot items: the auctions with the most bids in each 10 s window sliding by 2 s",
		Build: buildQ5})
	register(Query{Name: "q7", Description: "highest bid: the bids with the top price of each 10 s tumbling window",
		Build: buildQ7})
	register(Query{Name: "q8", Description: "new users: people who created an auction in the 10 s window they registered in",
		Build: buildQ8})
	register(Query{Name: "q9", Description: "winning bids: each auction with its highest bid placed while it was open",
		Build: buildQ9})
	register(Query{Name: "q11", Description: "user sessions: bids per bidder in sessions closed by 10 s without a bid",
		Build: buildQ11})
	register(Query{Name: "q12", Description: "processing-time windows: bids per bidder in 10 s tumbling windows of processing time",
		Build: buildQ12})
	register(Query{Name: "q14", Description: "calculation: bids of 0.908 × price between 1 M and 50 M, with the time of day and the 'c's of extra",
		Build: buildQ14})
	register(Query{Name: "q15", Description: "bidding statistics per day: bids, distinct bidders and auctions, in total and by price rank",
		Build: buildQ15})
	register(Query{Name: "q16", Description: "channel statistics per channel and day: q15's figures and the latest minute",
		Build: buildQ16})
	register(Query{Name: "q17", Description: "auction statistics per auction and day: bids by price rank, min, max, avg and sum of prices",
		Build: buildQ17})
	register(Query{Name: "q18", Description: "last bid of each bidder on each auction",
		Build: buildQ18})
	register(Query{Name: "q19", Description: "the 10 highest bids of each auction, with their rank",
		Build: buildQ19})
	register(Query{Name: "q20", Description: "expanded bids: bids joined with their auction, for auctions of category 10",
		Build: buildQ20})
	register(Query{Name: "q21", Description: "channel id: bids with a channel id from the hot channel's name or the URL",
		Build: buildQ21})
	register(Query{Name: "q22", Description: "URL directories: each bid with the first three directories of its URL",
		Build: buildQ22})
}

// Q1Price is q1's conversion, 0.908 × price.
func Q1Price(p int64) float64 { return 0.908 * float64(p) }

// AuctionCount is one auction's bid count in one window (q5).
type AuctionCount struct {
	Auction, Num, Start, End int64
}

type countBids struct{}

func (countBids) CreateAccumulator() int64 { return 0 }
func (countBids) Add(_ Bid, n int64) int64 { return n + 1 }
func (countBids) Result(n int64) int64     { return n }
func (countBids) Merge(a, b int64) int64   { return a + b }

var _ keyspace.AggregateFunction[Bid, int64, int64] = countBids{}

func buildQ5(j *topology.Job, events topology.Stream[Event], out Output) {
	byAuction := topology.KeyBy(Bids(events), func(b Bid) int64 { return b.Auction })
	counts := topology.WindowAggregateProcess(
		topology.Window(byAuction, timers.SlidingEventTime(10*time.Second, 2*time.Second, 0)), "count-bids", countBids{},
		topology.ProcessWindowFunc[int64, AuctionCount, int64, timers.TimeWindow](
			func(ctx *topology.WindowContext[int64, timers.TimeWindow], n []int64, out topology.Collector[AuctionCount]) error {
				w := ctx.Window()
				out.Collect(AuctionCount{Auction: ctx.Key(), Num: n[0], Start: w.Start, End: w.End})
				return nil
			}))
	hottest := topology.KeyedProcess(topology.KeyBy(counts, func(c AuctionCount) int64 { return c.Start }),
		"max-per-window", &maxCount{})
	sinkRows(hottest, out, "q5", func(c AuctionCount) Row {
		return Row{[]Column{{"auction", c.Auction}, {"num", c.Num}}}
	})
}

// maxCount collects a window's auction counts (they come before the
// watermark that passes the window's end) and emits those with the highest
// count when the watermark passes.
type maxCount struct {
	counts keyspace.ListState[AuctionCount]
}

func (m *maxCount) Open(ctx *topology.KeyedContext[int64]) (err error) {
	m.counts, err = keyspace.NewListState[int64, AuctionCount](ctx.State(), "window-counts")
	return err
}

func (m *maxCount) ProcessElement(ctx *topology.KeyedContext[int64], c AuctionCount, _ topology.Collector[AuctionCount]) error {
	m.counts.Add(c)
	ctx.RegisterEventTimeTimer(c.End - 1)
	return nil
}

func (m *maxCount) OnTimer(_ *topology.KeyedContext[int64], _ int64, out topology.Collector[AuctionCount]) error {
	all := m.counts.Get()
	var most int64
	for _, c := range all {
		most = max(most, c.Num)
	}
	for _, c := range all {
		if c.Num >= most {
			out.Collect(c)
		}
	}
	m.counts.Clear()
	return nil
}

// windowMax is the highest bid price of a 10 s tumbling window (q7).
type windowMax struct {
	Price, End int64
}

// endBid is a bid routed to the window end whose maximum it is compared
// with (q7).
type endBid struct {
	End int64
	Bid Bid
}

type maxPrice struct{}

func (maxPrice) CreateAccumulator() int64 { return -1 }
func (maxPrice) Add(b Bid, m int64) int64 { return max(m, b.Price) }
func (maxPrice) Result(m int64) int64     { return m }
func (maxPrice) Merge(a, b int64) int64   { return max(a, b) }

const q7Window = 10_000 // ms

func buildQ7(j *topology.Job, events topology.Stream[Event], out Output) {
	bids := Bids(events)
	maxes := topology.WindowAggregateProcess(
		topology.Window(topology.KeyBy(bids, func(Bid) int { return 0 }), timers.TumblingEventTime(q7Window*time.Millisecond, 0)),
		"max-price", maxPrice{},
		topology.ProcessWindowFunc[int64, windowMax, int, timers.TimeWindow](
			func(ctx *topology.WindowContext[int, timers.TimeWindow], m []int64, out topology.Collector[windowMax]) error {
				out.Collect(windowMax{Price: m[0], End: ctx.Window().End})
				return nil
			}))
	// B.dateTime BETWEEN end − 10 s AND end: a bid belongs to the window it
	// falls in and, when it falls exactly on an end, to the window that ends
	// there as well.
	routed := topology.FlatMap(bids, "route-to-window-end", func(b Bid, out topology.Collector[endBid]) {
		start := b.DateTime - b.DateTime%q7Window
		out.Collect(endBid{End: start + q7Window, Bid: b})
		if b.DateTime%q7Window == 0 {
			out.Collect(endBid{End: b.DateTime, Bid: b})
		}
	})
	joined := topology.KeyedCoProcess(topology.ConnectKeyed(
		topology.KeyBy(routed, func(e endBid) int64 { return e.End }),
		topology.KeyBy(maxes, func(m windowMax) int64 { return m.End })), "highest-bids", &highestBids{})
	sinkRows(joined, out, "q7", func(b Bid) Row {
		return Row{[]Column{{"auction", b.Auction}, {"price", b.Price}, {"bidder", b.Bidder},
			{"dateTime", b.DateTime}, {"extra", b.Extra}}}
	})
}

// highestBids keeps a window's bids until its maximum arrives, then emits
// the bids at that price; the maximum stays until the watermark passes the
// window's end, for bids on the end itself. Only the bids at the highest
// price seen so far can turn out to be at the maximum, so it keeps only
// those (a handful, not the window's every bid).
type highestBids struct {
	max     keyspace.ValueState[int64]
	highest keyspace.ValueState[int64] // the highest price of the pending bids
	pending keyspace.ListState[Bid]
}

func (h *highestBids) Open(ctx *topology.KeyedContext[int64]) (err error) {
	if h.max, err = keyspace.NewValueState[int64, int64](ctx.State(), "max-price"); err != nil {
		return err
	}
	if h.highest, err = keyspace.NewValueState[int64, int64](ctx.State(), "pending-price"); err != nil {
		return err
	}
	h.pending, err = keyspace.NewListState[int64, Bid](ctx.State(), "pending-bids")
	return err
}

func (h *highestBids) ProcessElement1(_ *topology.KeyedContext[int64], e endBid, out topology.Collector[Bid]) error {
	if m, ok := h.max.Value(); ok {
		if e.Bid.Price == m {
			out.Collect(e.Bid)
		}
		return nil
	}
	switch highest, ok := h.highest.Value(); {
	case !ok || e.Bid.Price > highest:
		h.highest.Update(e.Bid.Price)
		h.pending.Update([]Bid{e.Bid})
	case e.Bid.Price == highest:
		h.pending.Add(e.Bid)
	}
	return nil
}

func (h *highestBids) ProcessElement2(ctx *topology.KeyedContext[int64], m windowMax, out topology.Collector[Bid]) error {
	h.max.Update(m.Price)
	for _, b := range h.pending.Get() {
		if b.Price == m.Price {
			out.Collect(b)
		}
	}
	h.pending.Clear()
	h.highest.Clear()
	ctx.RegisterEventTimeTimer(m.End)
	return nil
}

func (h *highestBids) OnTimer(*topology.KeyedContext[int64], int64, topology.Collector[Bid]) error {
	h.max.Clear()
	h.pending.Clear()
	h.highest.Clear()
	return nil
}

// NewUser is a row of q8.
type NewUser struct {
	ID        int64
	Name      string
	StartTime int64
}

func buildQ8(j *topology.Job, events topology.Stream[Event], out Output) {
	people, auctions := People(events), Auctions(events)
	joined := topology.WindowProcess(topology.Window(topology.KeyBy(
		topology.Union(
			topology.Map(people, "tag-people", func(p Person) topology.Either[Person, Auction] {
				return topology.Either[Person, Auction]{Left: p}
			}),
			topology.Map(auctions, "tag-auctions", func(a Auction) topology.Either[Person, Auction] {
				return topology.Either[Person, Auction]{Right: a, IsRight: true}
			})),
		func(e topology.Either[Person, Auction]) int64 {
			if e.IsRight {
				return e.Right.Seller
			}
			return e.Left.ID
		}), timers.TumblingEventTime(10*time.Second, 0)), "new-users",
		topology.ProcessWindowFunc[topology.Either[Person, Auction], NewUser, int64, timers.TimeWindow](
			func(ctx *topology.WindowContext[int64, timers.TimeWindow], in []topology.Either[Person, Auction], out topology.Collector[NewUser]) error {
				var sold bool
				for _, e := range in {
					sold = sold || e.IsRight
				}
				if !sold {
					return nil
				}
				seen := map[NewUser]bool{} // GROUP BY id, name, window
				for _, e := range in {
					if u := (NewUser{ID: e.Left.ID, Name: e.Left.Name, StartTime: ctx.Window().Start}); !e.IsRight && !seen[u] {
						seen[u] = true
						out.Collect(u)
					}
				}
				return nil
			}))
	sinkRows(joined, out, "q8", func(u NewUser) Row {
		return Row{[]Column{{"id", u.ID}, {"name", u.Name}, {"starttime", u.StartTime}}}
	})
}

// ExpandedBid is a row of q20.
type ExpandedBid struct {
	Bid     Bid
	Auction Auction
}

func buildQ20(j *topology.Job, events topology.Stream[Event], out Output) {
	bids := topology.KeyBy(Bids(events), func(b Bid) int64 { return b.Auction })
	auctions := topology.KeyBy(Auctions(events), func(a Auction) int64 { return a.ID })
	joined := topology.KeyedCoProcess(topology.ConnectKeyed(bids, auctions), "join-auction",
		&uniqueJoin[int64, Bid, Auction, ExpandedBid]{
			keep: func(a Auction) bool { return a.Category == 10 },
			join: func(b Bid, a Auction) ExpandedBid { return ExpandedBid{b, a} },
		})
	sinkRows(joined, out, "q20", func(x ExpandedBid) Row {
		b, a := x.Bid, x.Auction
		return Row{[]Column{{"auction", b.Auction}, {"bidder", b.Bidder}, {"price", b.Price}, {"channel", b.Channel},
			{"url", b.URL}, {"dateTime", b.DateTime}, {"extra", b.Extra}, {"itemName", a.ItemName},
			{"description", a.Description}, {"initialBid", a.InitialBid}, {"reserve", a.Reserve},
			{"dateTime0", a.DateTime}, {"expires", a.Expires}, {"seller", a.Seller}, {"category", a.Category},
			{"extra0", a.Extra}}}
	})
}
