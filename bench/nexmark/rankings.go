package nexmark

import (
	"slices"

	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

func bidColumns(b Bid) []Column {
	return []Column{{"auction", b.Auction}, {"bidder", b.Bidder}, {"price", b.Price}, {"channel", b.Channel},
		{"url", b.URL}, {"dateTime", b.DateTime}, {"extra", b.Extra}}
}

type bidderAuction struct{ Bidder, Auction int64 }

func buildQ18(j *topology.Job, events topology.Stream[Event], out Output) {
	byPair := topology.KeyBy(Bids(events), func(b Bid) bidderAuction { return bidderAuction{b.Bidder, b.Auction} })
	sinkRows(topology.KeyedProcess(byPair, "last-bid", &lastBid{}), out, "q18", func(b Bid) Row {
		return Row{bidColumns(b)}
	})
}

// lastBid is q18's deduplication (ROW_NUMBER() OVER (PARTITION BY bidder,
// auction ORDER BY dateTime DESC) = 1): it keeps each pair's latest bid and
// emits it whenever it changes, an upsert stream keyed by (bidder, auction).
// A bid no later than the kept one changes nothing; of two at the same time
// the first to arrive stays (Flink keeps the later: the SQL leaves it open).
type lastBid struct {
	last keyspace.ValueState[Bid]
}

func (l *lastBid) Open(ctx *topology.KeyedContext[bidderAuction]) (err error) {
	l.last, err = keyspace.NewValueState[bidderAuction, Bid](ctx.State(), "last-bid")
	return err
}

func (l *lastBid) ProcessElement(_ *topology.KeyedContext[bidderAuction], b Bid, out topology.Collector[Bid]) error {
	if last, ok := l.last.Value(); ok && b.DateTime <= last.DateTime {
		return nil
	}
	l.last.Update(b)
	out.Collect(b)
	return nil
}

// q19TopN is how many bids per auction q19 keeps.
const q19TopN = 10

// RankedBid is a row of q19: a bid and its rank_number in its auction.
type RankedBid struct {
	Bid  Bid
	Rank int64
}

func buildQ19(j *topology.Job, events topology.Stream[Event], out Output) {
	byAuction := topology.KeyBy(Bids(events), func(b Bid) int64 { return b.Auction })
	sinkRows(topology.KeyedProcess(byAuction, "top-10-bids", &topBids{}), out, "q19", func(r RankedBid) Row {
		return Row{append(bidColumns(r.Bid), Column{"rank_number", r.Rank})}
	})
}

// topBids is q19's Top-N (ROW_NUMBER() OVER (PARTITION BY auction ORDER BY
// price DESC) <= 10): it keeps an auction's ten best bids in compareBids
// order and, when a bid enters, emits the rows of every rank that changed,
// an upsert stream keyed by (auction, rank_number).
type topBids struct {
	top keyspace.ValueState[[]Bid]
}

func (t *topBids) Open(ctx *topology.KeyedContext[int64]) (err error) {
	t.top, err = keyspace.NewValueState[int64, []Bid](ctx.State(), "top-bids")
	return err
}

func (t *topBids) ProcessElement(_ *topology.KeyedContext[int64], b Bid, out topology.Collector[RankedBid]) error {
	top, _ := t.top.Value()
	at, _ := slices.BinarySearchFunc(top, b, compareBids)
	if at >= q19TopN {
		return nil
	}
	// A new slice: the state may hold on to the old one.
	next := make([]Bid, 0, min(len(top)+1, q19TopN))
	next = append(append(append(next, top[:at]...), b), top[at:min(len(top), q19TopN-1)]...)
	t.top.Update(next)
	for r := at; r < len(next); r++ {
		out.Collect(RankedBid{Bid: next[r], Rank: int64(r + 1)})
	}
	return nil
}
