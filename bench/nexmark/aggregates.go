package nexmark

import (
	"time"

	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

// BidderCount is a row of q11 and q12: a bidder's bids in one window.
type BidderCount struct {
	Bidder, Count, Start, End int64
}

func bidderCountRow(c BidderCount) Row {
	return Row{[]Column{{"bidder", c.Bidder}, {"bid_count", c.Count}, {"starttime", c.Start}, {"endtime", c.End}}}
}

func buildQ11(j *topology.Job, events topology.Stream[Event], out Output) {
	byBidder := topology.KeyBy(Bids(events), func(b Bid) int64 { return b.Bidder })
	sessions := topology.WindowAggregateProcess(
		topology.Window(byBidder, timers.EventTimeSession(10*time.Second)), "count-session-bids", countBids{},
		topology.ProcessWindowFunc[int64, BidderCount, int64, timers.TimeWindow](
			func(ctx *topology.WindowContext[int64, timers.TimeWindow], n []int64, out topology.Collector[BidderCount]) error {
				w := ctx.Window()
				out.Collect(BidderCount{Bidder: ctx.Key(), Count: n[0], Start: w.Start, End: w.End})
				return nil
			}))
	sinkRows(sessions, out, "q11", bidderCountRow)
}

// q12Window is q12's processing-time window, in milliseconds.
const q12Window = 10_000

func buildQ12(j *topology.Job, events topology.Stream[Event], out Output) {
	byBidder := topology.KeyBy(Bids(events), func(b Bid) int64 { return b.Bidder })
	sinkRows(topology.KeyedProcess(byBidder, "count-per-processing-window", &processingTimeCount{}), out, "q12", bidderCountRow)
}

// processingTimeCount counts a bidder's bids in tumbling 10 s windows of
// processing time, each window emitted when processing time passes its end.
// Unlike Flink, which drops the processing-time windows still open when a
// bounded input ends, it emits them then, so that every bid is counted once.
// (A processing-time window operator cannot do that, hence a keyed process.)
type processingTimeCount struct {
	counts keyspace.MapState[int64, int64] // window start → bids
}

func (p *processingTimeCount) Open(ctx *topology.KeyedContext[int64]) (err error) {
	p.counts, err = keyspace.NewMapState[int64, int64, int64](ctx.State(), "window-counts")
	return err
}

func (p *processingTimeCount) ProcessElement(ctx *topology.KeyedContext[int64], _ Bid, _ topology.Collector[BidderCount]) error {
	now := ctx.CurrentProcessingTime()
	start := now - now%q12Window
	n, ok := p.counts.Get(start)
	p.counts.Put(start, n+1)
	if !ok {
		ctx.RegisterProcessingTimeTimer(start + q12Window - 1)
	}
	return nil
}

func (p *processingTimeCount) OnTimer(ctx *topology.KeyedContext[int64], t int64, out topology.Collector[BidderCount]) error {
	start := t + 1 - q12Window
	if n, ok := p.counts.Get(start); ok {
		out.Collect(BidderCount{Bidder: ctx.Key(), Count: n, Start: start, End: start + q12Window})
		p.counts.Remove(start)
	}
	return nil
}

func (p *processingTimeCount) Finish(ctx *topology.KeyedContext[int64], out topology.Collector[BidderCount]) error {
	return ctx.ForEachKey("window-counts", func(bidder int64) error {
		for start, n := range p.counts.All() {
			out.Collect(BidderCount{Bidder: bidder, Count: n, Start: start, End: start + q12Window})
		}
		p.counts.Clear()
		return nil
	})
}

// The price ranks of q15–q17's FILTER clauses.
const (
	rank1Below = 10_000    // rank 1: price < 10 000
	rank2Below = 1_000_000 // rank 2: 10 000 ≤ price < 1 000 000; rank 3 above
)

// priceRank is 1, 2 or 3, by the price bands of q15–q17.
func priceRank(price int64) int {
	switch {
	case price < rank1Below:
		return 1
	case price < rank2Below:
		return 2
	}
	return 3
}

const dayMillis = 24 * 60 * 60 * 1000

// dayOf is the day of an epoch-millisecond time, counted from 1970-01-01 UTC.
func dayOf(t int64) int64 { return t / dayMillis }

// formatDay is DATE_FORMAT(dateTime, 'yyyy-MM-dd') of a day from dayOf
// (dateTime is a TIMESTAMP, so UTC).
func formatDay(day int64) string { return time.UnixMilli(day * dayMillis).UTC().Format("2006-01-02") }

// RankCounts is a count in total (index 0) and per price rank (1–3).
type RankCounts [4]int64

// BidStats is a row of q15 and q16: the bids of a day (per channel, for
// q16) so far, with count(*) and count(DISTINCT bidder), count(DISTINCT
// auction), each in total and FILTERed by price rank, and for q16 the
// latest minute (max(DATE_FORMAT(dateTime, 'HH:mm')), as minutes since
// midnight).
type BidStats struct {
	Channel           string // q16 only
	Day               int64
	MaxMinute         int64
	Bids              RankCounts
	Bidders, Auctions RankCounts
}

// statsKey groups q15's bids by day (Channel empty) and q16's by channel
// and day.
type statsKey struct {
	Channel string
	Day     int64
}

// bidStats computes BidStats incrementally and emits the group's new row
// for every bid: the SQL's unbounded aggregate as an upsert stream keyed by
// the group. COUNT(DISTINCT x) FILTER (rank r) is kept as, per distinct x,
// the set of ranks x was seen with (bit 0: any): a count goes up when x
// first gains the bit.
type bidStats struct {
	stats    keyspace.ValueState[BidStats]
	bidders  keyspace.MapState[int64, uint8]
	auctions keyspace.MapState[int64, uint8]
}

func (s *bidStats) Open(ctx *topology.KeyedContext[statsKey]) (err error) {
	if s.stats, err = keyspace.NewValueState[statsKey, BidStats](ctx.State(), "stats"); err != nil {
		return err
	}
	if s.bidders, err = keyspace.NewMapState[statsKey, int64, uint8](ctx.State(), "bidder-ranks"); err != nil {
		return err
	}
	s.auctions, err = keyspace.NewMapState[statsKey, int64, uint8](ctx.State(), "auction-ranks")
	return err
}

// countDistinct notes that x was seen with rank r in seen, and counts it in
// c where it is new.
func countDistinct(seen keyspace.MapState[int64, uint8], x int64, r int, c *RankCounts) {
	old, _ := seen.Get(x)
	now := old | 1 | 1<<r
	if now == old {
		return
	}
	seen.Put(x, now)
	if old&1 == 0 {
		c[0]++
	}
	if old&(1<<r) == 0 {
		c[r]++
	}
}

func (s *bidStats) ProcessElement(ctx *topology.KeyedContext[statsKey], b Bid, out topology.Collector[BidStats]) error {
	st, ok := s.stats.Value()
	if !ok {
		k := ctx.Key()
		st = BidStats{Channel: k.Channel, Day: k.Day, MaxMinute: -1}
	}
	r := priceRank(b.Price)
	st.Bids[0]++
	st.Bids[r]++
	st.MaxMinute = max(st.MaxMinute, b.DateTime%dayMillis/60_000)
	countDistinct(s.bidders, b.Bidder, r, &st.Bidders)
	countDistinct(s.auctions, b.Auction, r, &st.Auctions)
	s.stats.Update(st)
	out.Collect(st)
	return nil
}

func rankColumns(cols []Column, what string, c RankCounts) []Column {
	return append(cols, Column{"total_" + what, c[0]}, Column{"rank1_" + what, c[1]},
		Column{"rank2_" + what, c[2]}, Column{"rank3_" + what, c[3]})
}

func buildQ15(j *topology.Job, events topology.Stream[Event], out Output) {
	byDay := topology.KeyBy(Bids(events), func(b Bid) statsKey { return statsKey{Day: dayOf(b.DateTime)} })
	sinkRows(topology.KeyedProcess(byDay, "bid-stats-per-day", &bidStats{}), out, "q15", func(s BidStats) Row {
		cols := []Column{{"day", formatDay(s.Day)}}
		cols = rankColumns(cols, "bids", s.Bids)
		cols = rankColumns(cols, "bidders", s.Bidders)
		return Row{rankColumns(cols, "auctions", s.Auctions)}
	})
}

func buildQ16(j *topology.Job, events topology.Stream[Event], out Output) {
	byChannelDay := topology.KeyBy(Bids(events), func(b Bid) statsKey {
		return statsKey{Channel: b.Channel, Day: dayOf(b.DateTime)}
	})
	sinkRows(topology.KeyedProcess(byChannelDay, "bid-stats-per-channel-day", &bidStats{}), out, "q16", func(s BidStats) Row {
		minute := time.UnixMilli(s.MaxMinute * 60_000).UTC().Format("15:04")
		cols := []Column{{"channel", s.Channel}, {"day", formatDay(s.Day)}, {"minute", minute}}
		cols = rankColumns(cols, "bids", s.Bids)
		cols = rankColumns(cols, "bidders", s.Bidders)
		return Row{rankColumns(cols, "auctions", s.Auctions)}
	})
}

// AuctionDayStats is a row of q17: an auction's bids of one day so far.
type AuctionDayStats struct {
	Auction, Day  int64
	Bids          RankCounts
	Min, Max, Sum int64
}

type auctionDay struct{ Auction, Day int64 }

// auctionDayStats is q17's unbounded aggregate per auction and day, emitted
// as an upsert stream keyed by (auction, day): a new row for every bid.
type auctionDayStats struct {
	stats keyspace.ValueState[AuctionDayStats]
}

func (a *auctionDayStats) Open(ctx *topology.KeyedContext[auctionDay]) (err error) {
	a.stats, err = keyspace.NewValueState[auctionDay, AuctionDayStats](ctx.State(), "stats")
	return err
}

func (a *auctionDayStats) ProcessElement(ctx *topology.KeyedContext[auctionDay], b Bid, out topology.Collector[AuctionDayStats]) error {
	st, ok := a.stats.Value()
	if !ok {
		k := ctx.Key()
		st = AuctionDayStats{Auction: k.Auction, Day: k.Day, Min: b.Price, Max: b.Price}
	}
	r := priceRank(b.Price)
	st.Bids[0]++
	st.Bids[r]++
	st.Min, st.Max, st.Sum = min(st.Min, b.Price), max(st.Max, b.Price), st.Sum+b.Price
	a.stats.Update(st)
	out.Collect(st)
	return nil
}

func buildQ17(j *topology.Job, events topology.Stream[Event], out Output) {
	byAuctionDay := topology.KeyBy(Bids(events), func(b Bid) auctionDay {
		return auctionDay{Auction: b.Auction, Day: dayOf(b.DateTime)}
	})
	sinkRows(topology.KeyedProcess(byAuctionDay, "auction-day-stats", &auctionDayStats{}), out, "q17", func(s AuctionDayStats) Row {
		cols := []Column{{"auction", s.Auction}, {"day", formatDay(s.Day)}}
		cols = rankColumns(cols, "bids", s.Bids)
		// avg(price) of BIGINT is a BIGINT: the sum divided by the count, truncated.
		return Row{append(cols, Column{"min_price", s.Min}, Column{"max_price", s.Max},
			Column{"avg_price", s.Sum / s.Bids[0]}, Column{"sum_price", s.Sum})}
	})
}
