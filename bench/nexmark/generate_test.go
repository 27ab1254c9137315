package nexmark

import (
	"bytes"
	"math"
	"math/bits"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// events returns events [0, n) of cfg.
func events(cfg Config, n int64) []Event {
	g := makeGenerator(cfg)
	out := make([]Event, n)
	for i := range out {
		out[i] = g.event(int64(i))
	}
	return out
}

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	c := DefaultConfig()
	c.Events = -1
	c.FirstEventRate = math.NaN()
	c.Rate = -5
	c.BaseTime = math.MaxInt64
	c.BidProportion = 0
	c.HotAuctionRatio = 0
	c.NumActivePeople = 0
	c.AvgBidByteSize = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, name := range []string{"Events", "FirstEventRate", "Rate", "BaseTime", "BidProportion", "HotAuctionRatio", "NumActivePeople", "AvgBidByteSize"} {
		if !strings.Contains(err.Error(), name+" is") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("the zero Config is valid")
	}
}

func TestEventMixByNumber(t *testing.T) {
	cfg := DefaultConfig()
	evs := events(cfg, 5000)
	// The stream starts at event id 2, as Flink's does: event n has id n+2.
	for n, e := range evs {
		want := KindBid
		switch (n + firstEventID) % 50 {
		case 0:
			want = KindPerson
		case 1, 2, 3:
			want = KindAuction
		}
		if e.Kind != want {
			t.Fatalf("event %d is a %v, want a %v", n, e.Kind, want)
		}
	}
	// Every block of 50 consecutive events holds 1 person, 3 auctions, 46 bids.
	for start := 0; start+50 <= len(evs); start += 17 {
		var count [3]int
		for _, e := range evs[start : start+50] {
			count[e.Kind]++
		}
		if count != [3]int{1, 3, 46} {
			t.Fatalf("events [%d, %d) hold %v people/auctions/bids, want [1 3 46]", start, start+50, count)
		}
	}
	if e := evs[0]; e.Kind != KindAuction || e.Auction.ID != FirstAuctionID+1 {
		t.Errorf("event 0 = %+v, want auction %d", e, FirstAuctionID+1)
	}
	if e := evs[48]; e.Kind != KindPerson || e.Person.ID != FirstPersonID+1 {
		t.Errorf("event 48 = %+v, want person %d", e, FirstPersonID+1)
	}
}

func TestCustomProportions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PersonProportion, cfg.AuctionProportion, cfg.BidProportion = 2, 3, 5
	var count [3]int
	for _, e := range events(cfg, 1000) {
		count[e.Kind]++
	}
	if count != [3]int{200, 300, 500} {
		t.Errorf("1000 events hold %v people/auctions/bids, want [200 300 500]", count)
	}
}

// TestIDs checks the ids of every event against the people and auctions
// generated before it: new ids are consecutive, and references point at
// existing ids or a few ahead, within the ranges the original allows.
func TestIDs(t *testing.T) {
	cfg := DefaultConfig()
	// The original never generates person 1000 and auction 1000 (its first
	// event id is 2), but references them until the next ones exist.
	lastPerson, lastAuction := int64(FirstPersonID), int64(FirstAuctionID)
	inPeople := func(id int64) bool {
		return id >= max(FirstPersonID, lastPerson-int64(cfg.NumActivePeople)) && id <= lastPerson+personIDLead
	}
	for n, e := range events(cfg, 300_000) {
		switch e.Kind {
		case KindPerson:
			if e.Person.ID != lastPerson+1 {
				t.Fatalf("event %d: person %d after person %d", n, e.Person.ID, lastPerson)
			}
			lastPerson = e.Person.ID
		case KindAuction:
			a := e.Auction
			if a.ID != lastAuction+1 {
				t.Fatalf("event %d: auction %d after auction %d", n, a.ID, lastAuction)
			}
			lastAuction = a.ID
			if !inPeople(a.Seller) {
				t.Fatalf("event %d: seller %d with last person %d", n, a.Seller, lastPerson)
			}
			if a.Category < FirstCategoryID || a.Category >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: category %d", n, a.Category)
			}
		case KindBid:
			b := e.Bid
			if b.Auction < max(FirstAuctionID, lastAuction-int64(cfg.NumInFlightAuctions)) || b.Auction > lastAuction+auctionIDLead {
				t.Fatalf("event %d: bid on auction %d with last auction %d", n, b.Auction, lastAuction)
			}
			// The original's bidder ids are FirstPersonID above person ids.
			if !inPeople(b.Bidder - FirstPersonID) {
				t.Fatalf("event %d: bidder %d with last person %d", n, b.Bidder, lastPerson)
			}
		}
	}
}

// TestHotRatios checks the share of bids on the hot auction and by the hot
// bidder, and of auctions by the hot seller. A cold pick lands on the hot id
// too, once in len(range) times.
func TestHotRatios(t *testing.T) {
	cfg := DefaultConfig()
	var bids, hotAuction, hotBidder, auctions, hotSeller int
	lastPerson, lastAuction := int64(0), int64(0) // 0-based
	const skip = 100_000                          // past the first 1000 people
	for n, e := range events(cfg, 600_000) {
		switch e.Kind {
		case KindPerson:
			lastPerson = e.Person.ID - FirstPersonID
		case KindAuction:
			lastAuction = e.Auction.ID - FirstAuctionID
			if n < skip {
				continue
			}
			auctions++
			if e.Auction.Seller == FirstPersonID+lastPerson/100*100 {
				hotSeller++
			}
		case KindBid:
			if n < skip {
				continue
			}
			bids++
			if e.Bid.Auction == FirstAuctionID+lastAuction/100*100 {
				hotAuction++
			}
			if e.Bid.Bidder == 2*FirstPersonID+lastPerson/100*100+1 {
				hotBidder++
			}
		}
	}
	check := func(what string, got, of int, want float64) {
		t.Helper()
		share := float64(got) / float64(of)
		if math.Abs(share-want) > 0.01 {
			t.Errorf("%s: %d of %d = %.4f, want %.4f ± 0.01", what, got, of, share, want)
		}
	}
	check("bids on the hot auction", hotAuction, bids, 0.5+0.5/111)
	check("bids by the hot bidder", hotBidder, bids, 0.75+0.25/1010)
	check("auctions by the hot seller", hotSeller, auctions, 0.75+0.25/1010)
}

func TestPricesAndAuctions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstEventRate = 1000 // auctions last long enough to vary
	var logSum float64
	var bids int
	for n, e := range events(cfg, 200_000) {
		switch e.Kind {
		case KindBid:
			p := e.Bid.Price
			if p < 100 || p > 100_000_000 {
				t.Fatalf("event %d: price %d outside [100, 10⁸]", n, p)
			}
			logSum += math.Log10(float64(p) / 100)
			bids++
		case KindAuction:
			a := e.Auction
			if a.InitialBid < 100 || a.Reserve < a.InitialBid+100 || a.Reserve > a.InitialBid+100_000_000 {
				t.Fatalf("event %d: initial bid %d, reserve %d", n, a.InitialBid, a.Reserve)
			}
			if a.Expires <= a.DateTime {
				t.Fatalf("event %d: expires %d is not after %d", n, a.Expires, a.DateTime)
			}
			// 1666 events at 1000 events/s: the horizon is 1666 ms and auctions
			// last up to twice that.
			if a.Expires-a.DateTime > 2*1667 {
				t.Fatalf("event %d: auction lasts %d ms", n, a.Expires-a.DateTime)
			}
		}
	}
	// log10(price/100) is uniform in [0, 6): its mean is 3.
	if mean := logSum / float64(bids); math.Abs(mean-3) > 0.02 {
		t.Errorf("mean of log10(price/100) = %.4f, want 3 ± 0.02", mean)
	}
}

func TestPriceOfMatchesPow(t *testing.T) {
	r := newEventRand(1, 2)
	mismatches := 0
	const draws = 1_000_000
	for k := range draws + 2 {
		u := r.float64()
		switch k { // the ends of the range
		case draws:
			u = 0
		case draws + 1:
			u = math.Nextafter(1, 0)
		}
		want := int64(math.Round(math.Pow(10, u*6) * 100))
		got := priceOf(u)
		if got != want {
			mismatches++
			if got-want > 1 || want-got > 1 {
				t.Fatalf("priceOf(%v) = %d, math.Pow gives %d", u, got, want)
			}
		}
	}
	// Only a price within 10⁻⁷ of a half may round the other way.
	if mismatches > 10 {
		t.Errorf("%d of %d prices differ by one from math.Pow's", mismatches, draws)
	}
}

func TestAuctionLengthAverage(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstEventRate = 100
	var sum, n float64
	for _, e := range events(cfg, 100_000) {
		if e.Kind == KindAuction {
			sum += float64(e.Auction.Expires - e.Auction.DateTime)
			n++
		}
	}
	// 100·50/3 = 1666 events at 100 events/s: a horizon of 16.66 s, the
	// average length.
	if avg := sum / n; math.Abs(avg-16_660) > 400 {
		t.Errorf("auctions last %.0f ms on average, want 16660 ± 400", avg)
	}
}

var (
	emailForm      = regexp.MustCompile(`^[a-z]([a-z ]*[a-z])?@[a-z]([a-z ]*[a-z])?\.com$`)
	creditCardForm = regexp.MustCompile(`^\d{4} \d{4} \d{4} \d{4}$`)
	wordForm       = regexp.MustCompile(`^([a-z]([a-z ]*[a-z])?)?$`)
	urlForm        = regexp.MustCompile(`^https://www\.nexmark\.com/[a-z_]{3,4}/[a-z_]{3,4}/[a-z_]{3,4}/item\.htm\?query=1(&channel_id=(-?\d+))?$`)
)

func TestStrings(t *testing.T) {
	cfg := DefaultConfig()
	var bids, hot int
	for n, e := range events(cfg, 100_000) {
		switch e.Kind {
		case KindPerson:
			p := e.Person
			first, last, _ := strings.Cut(p.Name, " ")
			if !slices.Contains(firstNames[:], first) || !slices.Contains(lastNames[:], last) {
				t.Fatalf("event %d: name %q", n, p.Name)
			}
			if !emailForm.MatchString(p.EmailAddress) || !creditCardForm.MatchString(p.CreditCard) {
				t.Fatalf("event %d: email %q, credit card %q", n, p.EmailAddress, p.CreditCard)
			}
			if !slices.Contains(usCities[:], p.City) || !slices.Contains(usStates[:], p.State) {
				t.Fatalf("event %d: city %q, state %q", n, p.City, p.State)
			}
		case KindAuction:
			a := e.Auction
			if !wordForm.MatchString(a.ItemName) || len(a.ItemName) > 19 || !wordForm.MatchString(a.Description) || len(a.Description) > 99 {
				t.Fatalf("event %d: item name %q, description %q", n, a.ItemName, a.Description)
			}
		case KindBid:
			b := e.Bid
			bids++
			if i := slices.Index(hotChannels[:], b.Channel); i >= 0 {
				hot++
				if b.URL != sharedTables().hotURLs[i] || strings.Contains(b.URL, "channel_id") {
					t.Fatalf("event %d: hot channel %q with URL %q", n, b.Channel, b.URL)
				}
			} else if c, err := strconv.Atoi(strings.TrimPrefix(b.Channel, "channel-")); err != nil || c < 0 || c >= numChannels || b.URL != sharedTables().urls[c] {
				t.Fatalf("event %d: channel %q with URL %q", n, b.Channel, b.URL)
			}
		}
	}
	if share := float64(hot) / float64(bids); math.Abs(share-0.5) > 0.01 {
		t.Errorf("%.4f of bids come through a hot channel, want 0.5 ± 0.01", share)
	}
}

func TestChannelURLs(t *testing.T) {
	tab := sharedTables()
	withID := 0
	for c, url := range tab.urls {
		m := urlForm.FindStringSubmatch(url)
		if m == nil {
			t.Fatalf("channel %d: URL %q", c, url)
		}
		if tab.channels[c] != "channel-"+strconv.Itoa(c) {
			t.Fatalf("channel %d is named %q", c, tab.channels[c])
		}
		if m[1] == "" {
			continue
		}
		withID++
		// Java's Math.abs(Integer.reverse(c)), which stays negative for c = 1.
		want := int64(int32(bits.Reverse32(uint32(c))))
		if want < 0 && want != math.MinInt32 {
			want = -want
		}
		if m[2] != strconv.FormatInt(want, 10) {
			t.Fatalf("channel %d: channel_id %s, want %d", c, m[2], want)
		}
	}
	if share := float64(withID) / numChannels; math.Abs(share-0.9) > 0.02 {
		t.Errorf("%.3f of channel URLs carry a channel_id, want 0.9 ± 0.02", share)
	}
	for i, url := range tab.hotURLs {
		if m := urlForm.FindStringSubmatch(url); m == nil || m[1] != "" {
			t.Errorf("hot channel %s: URL %q", hotChannels[i], url)
		}
	}
}

// idealizedSize is the original's size of an event: the count its generator
// pads with extra, plus extra.
func idealizedSize(e Event) int {
	switch e.Kind {
	case KindPerson:
		p := e.Person
		return 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
	case KindAuction:
		a := e.Auction
		return 8 + len(a.ItemName) + len(a.Description) + 5*8 + len(a.Extra)
	}
	return 4*8 + len(e.Bid.Extra)
}

func TestAverageSizes(t *testing.T) {
	cfg := DefaultConfig()
	var size, jsonSize, count [3]float64
	var buf []byte
	for _, e := range events(cfg, 200_000) {
		size[e.Kind] += float64(idealizedSize(e))
		buf, _ = e.AppendJSON(buf[:0])
		jsonSize[e.Kind] += float64(len(buf))
		count[e.Kind]++
	}
	for k, want := range [3]float64{200, 500, 100} {
		avg := size[k] / count[k]
		// The padding makes the average exact up to rounding; ±20 % is the
		// spread of single events.
		if math.Abs(avg-want) > 0.02*want {
			t.Errorf("%v: average idealized size %.1f bytes, want %.0f ± 2 %%", EventKind(k), avg, want)
		}
		t.Logf("%v: average idealized size %.1f bytes, JSON line %.1f bytes", EventKind(k), avg, jsonSize[k]/count[k])
	}
	// Single events stay within ±20 % of the padded part.
	for _, e := range events(cfg, 10_000) {
		if e.Kind == KindBid {
			if l := len(e.Bid.Extra); l < 54 || l >= 82 {
				t.Fatalf("bid extra of %d bytes, want [54, 82)", l)
			}
		}
	}
}

func TestLargeExtraIsGenerated(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AvgBidByteSize = 200_000 // beyond the shared text
	e := cfg.Event(2)
	if l := len(e.Bid.Extra); l < 150_000 || l > 250_000 || strings.Trim(e.Bid.Extra, "abcdefghijklmnopqrstuvwxyz") != "" {
		t.Errorf("extra of %d bytes, want about 200,000 lowercase letters", l)
	}
	cfg.AvgBidByteSize = 10 // below the fixed fields: no padding
	if e := cfg.Event(2); e.Bid.Extra != "" {
		t.Errorf("extra %q, want none", e.Bid.Extra)
	}
}

func TestEventTime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstEventRate = 3 // a delay of 333333.33 µs
	for _, tc := range []struct{ n, want int64 }{
		{0, 333}, // event number 1 in the original's count
		{1, 666},
		{2, 1000},
		{299, 100_000},
	} {
		if got := cfg.DateTime(tc.n) - cfg.BaseTime; got != tc.want {
			t.Errorf("DateTime(%d) = base + %d, want base + %d", tc.n, got, tc.want)
		}
		if got := cfg.Event(tc.n).DateTime(); got != cfg.DateTime(tc.n) {
			t.Errorf("Event(%d).DateTime() = %d, DateTime(%d) = %d", tc.n, got, tc.n, cfg.DateTime(tc.n))
		}
	}
	cfg = DefaultConfig() // 10 M events/s: 10,000 events per millisecond
	if got := cfg.DateTime(10_000_000-1) - cfg.BaseTime; got != 1000 {
		t.Errorf("event 10⁷−1 is at base + %d ms, want base + 1000", got)
	}
	prev := int64(math.MinInt64)
	for n, e := range events(cfg, 100_000) {
		if e.DateTime() < prev {
			t.Fatalf("event %d at %d after %d", n, e.DateTime(), prev)
		}
		prev = e.DateTime()
	}
	// Far events stay ordered and do not overflow.
	cfg.FirstEventRate = 1e-3
	if a, b := cfg.DateTime(MaxEventNumber-2), cfg.DateTime(MaxEventNumber-1); a > b || b <= cfg.BaseTime {
		t.Errorf("far events at %d and %d", a, b)
	}
	n := int64(MaxEventNumber - 1)
	for cfg.Event(n).Kind != KindAuction {
		n--
	}
	if a := cfg.Event(n).Auction; a.Expires <= a.DateTime || a.DateTime != cfg.BaseTime+maxOffsetMs {
		t.Errorf("far auction %d: %+v", n, a)
	}
}

func TestEventNumberOutOfRangePanics(t *testing.T) {
	for _, n := range []int64{-1, MaxEventNumber} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Event(%d) did not panic", n)
				}
			}()
			DefaultConfig().Event(n)
		}()
	}
}

func TestDeterminism(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 20_000
	write := func(c Config) []byte {
		var b bytes.Buffer
		if err := WriteJSONL(&b, c); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := write(cfg), write(cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	other := cfg
	other.Seed = 1
	c := write(other)
	if bytes.Equal(a, c) {
		t.Fatal("seeds 0 and 1 give the same events")
	}
	// Only the random choices differ: kinds and the ids of new people and
	// auctions do not depend on the seed.
	ea, ec := events(cfg, 1000), events(other, 1000)
	same := 0
	for i := range ea {
		if ea[i].Kind != ec[i].Kind || ea[i].DateTime() != ec[i].DateTime() {
			t.Fatalf("event %d: kind or time depends on the seed", i)
		}
		if reflect.DeepEqual(ea[i], ec[i]) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("%d of 1000 events are equal under two seeds", same)
	}
	// Event is a pure function: out of order, one at a time, same result.
	for _, n := range []int64{999, 0, 500, 47, 48} {
		if got := cfg.Event(n); !reflect.DeepEqual(got, ea[n]) {
			t.Errorf("Event(%d) alone differs from the sequence", n)
		}
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{KindPerson: "person", KindAuction: "auction", KindBid: "bid", 7: "EventKind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint8(k), got, want)
		}
	}
}
