package nexmark

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/topology"
)

// The expected rows below are computed by brute force from the SQL of each
// query over the same events, without the query code.

func rowJSON(cols ...any) string {
	r := Row{}
	for i := 0; i < len(cols); i += 2 {
		r.Columns = append(r.Columns, Column{Name: cols[i].(string), Value: cols[i+1]})
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func bruteForce(query string, events []Event) []string {
	var bids []Bid
	var people []*Person
	var auctions []*Auction
	for _, e := range events {
		switch e.Kind {
		case KindBid:
			bids = append(bids, e.Bid)
		case KindPerson:
			people = append(people, e.Person)
		case KindAuction:
			auctions = append(auctions, e.Auction)
		}
	}
	var rows []string
	switch query {
	case "q0", "q1":
		for _, b := range bids {
			var price any = b.Price
			if query == "q1" {
				price = 0.908 * float64(b.Price)
			}
			rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", price, "dateTime", b.DateTime, "extra", b.Extra))
		}
	case "q2":
		for _, b := range bids {
			if b.Auction%123 == 0 {
				rows = append(rows, rowJSON("auction", b.Auction, "price", b.Price))
			}
		}
	case "q5": // HOP(10 s, 2 s): window starts are multiples of 2 s
		type key struct{ auction, start int64 }
		counts := map[key]int64{}
		for _, b := range bids {
			for s := b.DateTime - b.DateTime%2000; s > b.DateTime-10000; s -= 2000 {
				counts[key{b.Auction, s}]++
			}
		}
		most := map[int64]int64{}
		for k, n := range counts {
			most[k.start] = max(most[k.start], n)
		}
		for k, n := range counts {
			if n >= most[k.start] {
				rows = append(rows, rowJSON("auction", k.auction, "num", n))
			}
		}
	case "q7": // TUMBLE(10 s) max price, joined on price with dateTime BETWEEN end − 10 s AND end
		most := map[int64]int64{} // window start → max price
		for _, b := range bids {
			s := b.DateTime - b.DateTime%10000
			if m, ok := most[s]; !ok || b.Price > m {
				most[s] = b.Price
			}
		}
		for s, m := range most {
			for _, b := range bids {
				if b.Price == m && b.DateTime >= s && b.DateTime <= s+10000 {
					rows = append(rows, rowJSON("auction", b.Auction, "price", b.Price, "bidder", b.Bidder, "dateTime", b.DateTime, "extra", b.Extra))
				}
			}
		}
	case "q8":
		for _, p := range people {
			s := p.DateTime - p.DateTime%10000
			for _, a := range auctions {
				if a.Seller == p.ID && a.DateTime-a.DateTime%10000 == s {
					rows = append(rows, rowJSON("id", p.ID, "name", p.Name, "starttime", s))
					break
				}
			}
		}
	case "q20":
		for _, b := range bids {
			for _, a := range auctions {
				if a.ID == b.Auction && a.Category == 10 {
					rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", b.Price, "channel", b.Channel,
						"url", b.URL, "dateTime", b.DateTime, "extra", b.Extra, "itemName", a.ItemName, "description", a.Description,
						"initialBid", a.InitialBid, "reserve", a.Reserve, "dateTime0", a.DateTime, "expires", a.Expires,
						"seller", a.Seller, "category", a.Category, "extra0", a.Extra))
				}
			}
		}
	case "q3":
		for _, a := range auctions {
			for _, p := range people {
				if a.Seller == p.ID && a.Category == 10 && (p.State == "OR" || p.State == "ID" || p.State == "CA") {
					rows = append(rows, rowJSON("name", p.Name, "city", p.City, "state", p.State, "id", a.ID))
				}
			}
		}
	case "q4": // MAX(price) per auction over its bids while open, then AVG per category
		type avg struct{ sum, n int64 }
		perCategory := map[int64]*avg{}
		for _, a := range auctions {
			var final int64 = -1
			for _, b := range bids {
				if b.Auction == a.ID && b.DateTime >= a.DateTime && b.DateTime <= a.Expires {
					final = max(final, b.Price)
				}
			}
			if final >= 0 {
				if perCategory[a.Category] == nil {
					perCategory[a.Category] = &avg{}
				}
				perCategory[a.Category].sum += final
				perCategory[a.Category].n++
			}
		}
		for c, v := range perCategory {
			rows = append(rows, rowJSON("id", c, "final", v.sum/v.n))
		}
	case "q9":
		for _, a := range auctions {
			var win *Bid
			for i, b := range bids {
				if b.Auction == a.ID && b.DateTime >= a.DateTime && b.DateTime <= a.Expires && (win == nil || bidBefore(b, *win)) {
					win = &bids[i]
				}
			}
			if win != nil {
				rows = append(rows, rowJSON("id", a.ID, "itemName", a.ItemName, "description", a.Description,
					"initialBid", a.InitialBid, "reserve", a.Reserve, "dateTime", a.DateTime, "expires", a.Expires,
					"seller", a.Seller, "category", a.Category, "extra", a.Extra, "auction", win.Auction,
					"bidder", win.Bidder, "price", win.Price, "bid_dateTime", win.DateTime, "bid_extra", win.Extra))
			}
		}
	case "q11": // SESSION(10 s): a bid more than 10 s after the session's last one starts another
		byBidder := map[int64][]int64{}
		for _, b := range bids {
			byBidder[b.Bidder] = append(byBidder[b.Bidder], b.DateTime)
		}
		for bidder, times := range byBidder {
			slices.Sort(times)
			start, n := times[0], int64(0)
			for i, t := range times {
				if i > 0 && t > times[i-1]+10000 {
					rows = append(rows, rowJSON("bidder", bidder, "bid_count", n, "starttime", start, "endtime", times[i-1]+10000))
					start, n = t, 0
				}
				n++
			}
			rows = append(rows, rowJSON("bidder", bidder, "bid_count", n, "starttime", start, "endtime", times[len(times)-1]+10000))
		}
	case "q12": // windows of processing time: only each bidder's total is known
		counts := map[int64]int64{}
		for _, b := range bids {
			counts[b.Bidder]++
		}
		for bidder, n := range counts {
			rows = append(rows, rowJSON("bidder", bidder, "bid_count", n))
		}
	case "q14":
		for _, b := range bids {
			price := 0.908 * float64(b.Price)
			if price <= 1_000_000 || price >= 50_000_000 {
				continue
			}
			kind := "otherTime"
			if h := time.UnixMilli(b.DateTime).UTC().Hour(); h >= 8 && h <= 18 {
				kind = "dayTime"
			} else if h <= 6 || h >= 20 {
				kind = "nightTime"
			}
			var c int64
			for _, r := range b.Extra {
				if r == 'c' {
					c++
				}
			}
			rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", price, "bidTimeType", kind,
				"dateTime", b.DateTime, "extra", b.Extra, "c_counts", c))
		}
	case "q15", "q16":
		type group struct{ channel, day string }
		type stats struct {
			minute            string
			bids              [4]int64
			bidders, auctions [4]map[int64]bool
		}
		groups := map[group]*stats{}
		for _, b := range bids {
			t := time.UnixMilli(b.DateTime).UTC()
			g := group{day: t.Format("2006-01-02")}
			if query == "q16" {
				g.channel = b.Channel
			}
			st := groups[g]
			if st == nil {
				st = &stats{}
				for i := range 4 {
					st.bidders[i], st.auctions[i] = map[int64]bool{}, map[int64]bool{}
				}
				groups[g] = st
			}
			st.minute = max(st.minute, t.Format("15:04"))
			for _, r := range []int{0, rankOf(b.Price)} {
				st.bids[r]++
				st.bidders[r][b.Bidder] = true
				st.auctions[r][b.Auction] = true
			}
		}
		for g, st := range groups {
			var cols []any
			if query == "q16" {
				cols = append(cols, "channel", g.channel, "day", g.day, "minute", st.minute)
			} else {
				cols = append(cols, "day", g.day)
			}
			for i, r := range []string{"total", "rank1", "rank2", "rank3"} {
				cols = append(cols, r+"_bids", st.bids[i])
			}
			for i, r := range []string{"total", "rank1", "rank2", "rank3"} {
				cols = append(cols, r+"_bidders", int64(len(st.bidders[i])))
			}
			for i, r := range []string{"total", "rank1", "rank2", "rank3"} {
				cols = append(cols, r+"_auctions", int64(len(st.auctions[i])))
			}
			rows = append(rows, rowJSON(cols...))
		}
	case "q17":
		type group struct {
			auction int64
			day     string
		}
		groups := map[group][]int64{}
		for _, b := range bids {
			g := group{b.Auction, time.UnixMilli(b.DateTime).UTC().Format("2006-01-02")}
			groups[g] = append(groups[g], b.Price)
		}
		for g, prices := range groups {
			var ranks [4]int64
			var sum int64
			for _, p := range prices {
				ranks[rankOf(p)]++
				sum += p
			}
			rows = append(rows, rowJSON("auction", g.auction, "day", g.day, "total_bids", int64(len(prices)),
				"rank1_bids", ranks[1], "rank2_bids", ranks[2], "rank3_bids", ranks[3],
				"min_price", slices.Min(prices), "max_price", slices.Max(prices),
				"avg_price", sum/int64(len(prices)), "sum_price", sum))
		}
	case "q18":
		type pair struct{ bidder, auction int64 }
		last := map[pair]Bid{}
		for _, b := range bids {
			if l, ok := last[pair{b.Bidder, b.Auction}]; !ok || b.DateTime > l.DateTime {
				last[pair{b.Bidder, b.Auction}] = b
			}
		}
		for _, b := range last {
			rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", b.Price, "channel", b.Channel,
				"url", b.URL, "dateTime", b.DateTime, "extra", b.Extra))
		}
	case "q19":
		byAuction := map[int64][]Bid{}
		for _, b := range bids {
			byAuction[b.Auction] = append(byAuction[b.Auction], b)
		}
		for _, all := range byAuction {
			slices.SortFunc(all, func(x, y Bid) int {
				if bidBefore(x, y) {
					return -1
				}
				if bidBefore(y, x) {
					return 1
				}
				return 0
			})
			for i, b := range all[:min(len(all), 10)] {
				rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", b.Price, "channel", b.Channel,
					"url", b.URL, "dateTime", b.DateTime, "extra", b.Extra, "rank_number", int64(i+1)))
			}
		}
	case "q21":
		channelID := regexp.MustCompile(`(&|^)channel_id=([^&]*)`)
		hot := map[string]string{"apple": "0", "google": "1", "facebook": "2", "baidu": "3"}
		for _, b := range bids {
			id, ok := hot[strings.ToLower(b.Channel)]
			if !ok {
				m := channelID.FindStringSubmatch(b.URL)
				if m == nil {
					continue
				}
				id = m[2]
			}
			rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", b.Price, "channel", b.Channel, "channel_id", id))
		}
	case "q22":
		for _, b := range bids {
			parts := strings.Split(b.URL, "/")
			dir := func(i int) any {
				if i < len(parts) {
					return parts[i]
				}
				return nil
			}
			rows = append(rows, rowJSON("auction", b.Auction, "bidder", b.Bidder, "price", b.Price, "channel", b.Channel,
				"dir1", dir(3), "dir2", dir(4), "dir3", dir(5)))
		}
	}
	slices.Sort(rows)
	return rows
}

// rankOf is the price band of q15–q17's FILTER clauses.
func rankOf(price int64) int {
	if price < 10000 {
		return 1
	}
	if price < 1000000 {
		return 2
	}
	return 3
}

// bidBefore orders bids as q9 (price DESC, dateTime ASC) and q19 (price
// DESC) rank them, with the remaining columns breaking the ties the SQL
// leaves open, as the queries document.
func bidBefore(x, y Bid) bool {
	if x.Price != y.Price {
		return x.Price > y.Price
	}
	if x.DateTime != y.DateTime {
		return x.DateTime < y.DateTime
	}
	if x.Bidder != y.Bidder {
		return x.Bidder < y.Bidder
	}
	return x.Channel+"\x00"+x.URL+"\x00"+x.Extra < y.Channel+"\x00"+y.URL+"\x00"+y.Extra
}

// upsertKeys are the key columns of the queries whose result is an updating
// table, written as an upsert stream: the last row of a key is its row in
// the result.
var upsertKeys = map[string][]string{
	"q4": {"id"}, "q15": {"day"}, "q16": {"channel", "day"}, "q17": {"auction", "day"},
	"q18": {"bidder", "auction"}, "q19": {"auction", "rank_number"},
}

func column(r Row, name string) any {
	for _, c := range r.Columns {
		if c.Name == name {
			return c.Value
		}
	}
	return nil
}

// resultRows turns a query's output rows into the rows of its result, as
// bruteForce gives them.
func resultRows(t *testing.T, query string, records []Row) []string {
	t.Helper()
	if keys, ok := upsertKeys[query]; ok {
		last := map[string]Row{}
		for _, r := range records {
			var k []any
			for _, name := range keys {
				k = append(k, column(r, name))
			}
			last[fmt.Sprint(k...)] = r
		}
		records = records[:0]
		for _, r := range last {
			records = append(records, r)
		}
	}
	if query == "q12" {
		// Windows of processing time: each is 10 s, aligned, and a bidder's
		// bids are counted once over its windows.
		type window struct{ bidder, start int64 }
		seen := map[window]bool{}
		totals := map[int64]int64{}
		for _, r := range records {
			bidder, n := column(r, "bidder").(int64), column(r, "bid_count").(int64)
			start, end := column(r, "starttime").(int64), column(r, "endtime").(int64)
			if w := (window{bidder, start}); seen[w] || n <= 0 || start%10000 != 0 || end != start+10000 {
				t.Fatalf("q12 row %+v: want a new 10 s window aligned on 10 s with bids", r)
			}
			seen[window{bidder, start}] = true
			totals[bidder] += n
		}
		records = records[:0]
		for bidder, n := range totals {
			records = append(records, Row{[]Column{{"bidder", bidder}, {"bid_count", n}}})
		}
	}
	var rows []string
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, string(b))
	}
	slices.Sort(rows)
	return rows
}

// testBaseTimes moves the start of a query's test events where its result
// depends on the time of day: q14 across 19:00 (day time to other time),
// the per-day statistics across midnight.
var testBaseTimes = map[string]int64{
	"q14": DefaultBaseTime + 19*3_600_000 - 10_000,
	"q15": DefaultBaseTime - 10_000, "q16": DefaultBaseTime - 10_000, "q17": DefaultBaseTime - 10_000,
}

func TestQueriesMatchBruteForce(t *testing.T) {
	events := map[int64][]Event{} // by base time
	for _, name := range QueryNames() {
		cfg := DefaultConfig()
		cfg.Events = 20_000
		cfg.FirstEventRate = 1000 // 20 s of event time: several windows
		if base, ok := testBaseTimes[name]; ok {
			cfg.BaseTime = base
		}
		if events[cfg.BaseTime] == nil {
			for n := range cfg.Events {
				events[cfg.BaseTime] = append(events[cfg.BaseTime], cfg.Event(n))
			}
		}
		want := bruteForce(name, events[cfg.BaseTime])
		if len(want) == 0 {
			t.Fatalf("%s: the brute force finds no rows; the test would prove nothing", name)
		}
		for _, p := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/p%d", name, p), func(t *testing.T) {
				sink := collection.NewSink[Row]()
				j := topology.NewJob("nexmark-"+name, topology.WithParallelism(p))
				Queries[name].Build(j, Events(j, cfg, ""), CollectingOutput{Sink: sink})
				g, err := j.Build()
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := actors.Execute(ctx, g); err != nil {
					t.Fatal(err)
				}
				if got := resultRows(t, name, sink.Records()); !slices.Equal(got, want) {
					t.Fatalf("%d rows, the SQL semantics give %d%s", len(got), len(want), firstDifference(got, want))
				}
			})
		}
	}
}

// firstDifference describes the first row in which got and want, both
// sorted, differ.
func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("; first difference:\n got  %s\n want %s", got[i], want[i])
		}
	}
	return ""
}

func TestBaselinesAgreeWithBruteForce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 20_000
	cfg.FirstEventRate = 1000
	var events []Event
	for n := range cfg.Events {
		events = append(events, cfg.Event(n))
	}
	want := map[string]int64{}
	for name := range Baselines {
		want[name] = int64(len(bruteForce(name, events)))
	}
	if err := CheckBaselines(cfg, want); err != nil {
		t.Fatal(err)
	}
}
