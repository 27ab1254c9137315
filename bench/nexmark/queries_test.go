package nexmark

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
	}
	slices.Sort(rows)
	return rows
}

func TestQueriesMatchBruteForce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 20_000
	cfg.FirstEventRate = 1000 // 20 s of event time: several windows
	var events []Event
	for n := range cfg.Events {
		events = append(events, cfg.Event(n))
	}
	for _, name := range QueryNames() {
		want := bruteForce(name, events)
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
				var got []string
				for _, r := range sink.Records() {
					b, err := json.Marshal(r)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, string(b))
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("%d rows, the SQL semantics give %d", len(got), len(want))
				}
			})
		}
	}
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
