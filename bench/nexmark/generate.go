package nexmark

import (
	"fmt"
	"math"
	"math/bits"
)

const (
	// firstEventID is the event id of event number 0. Flink's table source
	// builds its GeneratorConfig with firstEventId 1 and firstEventNumber 1,
	// so its first event has id 2 (an auction) and event number 1.
	firstEventID = 2
	// hotBlock: a hot seller, bidder or auction is the first id (the second
	// for bidders) of the last block of hotBlock ids (the original's
	// HOT_SELLER_RATIO, HOT_BIDDER_RATIO and HOT_AUCTION_RATIO).
	hotBlock = 100
	// personIDLead and auctionIDLead: a cold pick may name an id up to this
	// many ahead of the last one generated, as if events were swapped.
	personIDLead  = 10
	auctionIDLead = 10
	// hotChannelsRatio: a bid comes through a hot channel with probability
	// 1 − 1/hotChannelsRatio.
	hotChannelsRatio = 2
	// minWordLen is the shortest random word (MIN_STRING_LENGTH).
	minWordLen = 3
	// maxOffsetMs caps an event's offset from BaseTime (some 140,000 years),
	// so that times and auction lengths stay far from int64 overflow for any
	// valid config.
	maxOffsetMs = 1 << 52
)

// Event returns event n (counting from 0) of the stream. It is a pure
// function of c and n (Events and Rate play no part): the same config and n
// always give the same event, and calls may run concurrently. c must be
// valid (see Validate), and n in [0, MaxEventNumber): Event panics otherwise.
//
// Event n is the n-th event that Flink's nexmark source emits at parallelism
// 1 (the differences are listed in the package documentation). Its event id
// is id = n+2, and with total = PersonProportion + AuctionProportion +
// BidProportion and off = id mod total, it is a person when off <
// PersonProportion, an auction when off < PersonProportion +
// AuctionProportion, and a bid otherwise: by default (n+2) mod 50 is 0 for a
// person, 1–3 for an auction and 4–49 for a bid.
//
// Its event time, in every kind's DateTime, is
//
//	dateTime(n) = BaseTime + ⌊int64((n+1) · delayUs) / 1000⌋ ms, delayUs = 10⁶ / FirstEventRate
//
// with the product taken in float64 and truncated, as the original's
// timestampForEvent does; it never decreases with n (and stops growing some
// 140,000 years after BaseTime).
//
// Ids derive from the last person and auction at id, counted from 0: with P
// = PersonProportion and A = AuctionProportion, lastPerson = ⌊id/total⌋·P +
// min(off, P−1), and lastAuction = ⌊id/total⌋·A + (off−P) clamped to [0,
// A−1], one epoch back when off < P.
//   - A person has ID FirstPersonID + lastPerson, a name, email, credit card,
//     city and state from the original's vocabularies, and Extra.
//   - An auction has ID FirstAuctionID + lastAuction. Its seller is, with
//     probability 1 − 1/HotSellersRatio, the hot seller FirstPersonID +
//     ⌊lastPerson/100⌋·100, and otherwise FirstPersonID + a uniform pick among
//     the last NumActivePeople people and the 10 ahead. Its category is
//     uniform in FirstCategoryID + [0, NumCategories). InitialBid is a price,
//     Reserve = InitialBid + a price, and Expires = DateTime + 1 + U[0,
//     2·horizon), where horizon is the event time that
//     NumInFlightAuctions·total/AuctionProportion more events take.
//   - A bid is, with probability 1 − 1/HotAuctionRatio, on the hot auction
//     FirstAuctionID + ⌊lastAuction/100⌋·100, otherwise on FirstAuctionID +
//     U[max(lastAuction − NumInFlightAuctions, 0), lastAuction + 10]. Its
//     bidder is, with probability 1 − 1/HotBiddersRatio, the hot bidder
//     ⌊lastPerson/100⌋·100 + 1, otherwise a pick like a cold seller's; then
//     2·FirstPersonID is added (see the package documentation). Half of all
//     bids come through one of Google, Facebook, Baidu and Apple with that
//     channel's URL, the others through "channel-<i>", i uniform in [0,
//     10000), whose URL carries "&channel_id=" in 90 % of the channels.
//
// A price is round(10^(6u) · 100) with u uniform in [0, 1): 100 to 10⁸,
// log-uniform. Extra pads an event to its average idealized size: with
// current the original's count of the other fields (a person: 8 + the
// lengths of its five strings; an auction: 8 + the lengths of item name and
// description + 40; a bid: 32) and d = avg − current, Extra has length d −
// round(d/5) + U[0, 2·round(d/5)) and is empty when d < 0.
func (c Config) Event(n int64) Event {
	g := makeGenerator(c)
	return g.event(n)
}

// DateTime returns the event time of event n, in epoch milliseconds: the
// DateTime of c.Event(n), without generating the event. It needs the same
// preconditions as Event.
func (c Config) DateTime(n int64) int64 {
	checkEventNumber(n)
	return eventTime(c.BaseTime, 1e6/c.FirstEventRate, n+1)
}

// eventTime is the original's timestampForEvent for Java event number num.
func eventTime(base int64, delayUs float64, num int64) int64 {
	us := float64(num) * delayUs
	if us >= maxOffsetMs*1000 {
		return base + maxOffsetMs
	}
	return base + int64(us)/1000
}

func checkEventNumber(n int64) {
	if uint64(n) >= MaxEventNumber {
		badEventNumber(n)
	}
}

func badEventNumber(n int64) {
	panic(fmt.Sprintf("nexmark: event number %d is outside [0, MaxEventNumber)", n))
}

// generator holds what Config.Event derives from a config, so that a reader
// generating many events derives it once.
type generator struct {
	c              Config
	key            uint64  // seedKey(c.Seed)
	total          int64   // sum of the proportions
	delayUs        float64 // event-time spacing of events, µs
	inFlightEvents int64   // events that NumInFlightAuctions auctions take
	t              *tables
}

func makeGenerator(c Config) generator {
	total := int64(c.PersonProportion + c.AuctionProportion + c.BidProportion)
	return generator{
		c:              c,
		key:            seedKey(c.Seed),
		total:          total,
		delayUs:        1e6 / c.FirstEventRate,
		inFlightEvents: int64(c.NumInFlightAuctions) * total / int64(c.AuctionProportion),
		t:              sharedTables(),
	}
}

func (g *generator) event(n int64) Event {
	checkEventNumber(n)
	id := n + firstEventID
	ts := eventTime(g.c.BaseTime, g.delayUs, n+1)
	r := newEventRand(g.key, n)
	switch off := id % g.total; {
	case off < int64(g.c.PersonProportion):
		return Event{Kind: KindPerson, Person: g.person(id, ts, &r)}
	case off < int64(g.c.PersonProportion+g.c.AuctionProportion):
		return Event{Kind: KindAuction, Auction: g.auction(n, id, ts, &r)}
	}
	e := Event{Kind: KindBid}
	g.bid(&e.Bid, id, ts, &r)
	return e
}

// lastPerson returns the 0-based number of the last person at event id: the
// person of this event when it is one.
func (g *generator) lastPerson(id int64) int64 {
	p := int64(g.c.PersonProportion)
	epoch, off := id/g.total, id%g.total
	return epoch*p + min(off, p-1)
}

// lastAuction returns the 0-based number of the last auction at event id:
// the auction of this event when it is one.
func (g *generator) lastAuction(id int64) int64 {
	p, a := int64(g.c.PersonProportion), int64(g.c.AuctionProportion)
	epoch, off := id/g.total, id%g.total
	switch {
	case off < p: // a person: the last auction of the previous epoch
		epoch--
		off = a - 1
	case off >= p+a: // a bid: the last auction of this epoch
		off = a - 1
	default:
		off -= p
	}
	return epoch*a + off
}

// coldPerson picks a 0-based person among the last NumActivePeople and the
// personIDLead ahead of them.
func (g *generator) coldPerson(id int64, r *eventRand) int64 {
	people := g.lastPerson(id) + 1
	active := min(people, int64(g.c.NumActivePeople))
	return people - active + r.int63n(active+personIDLead)
}

// coldAuction picks a 0-based auction among those likely still in flight
// and the auctionIDLead ahead of them.
func (g *generator) coldAuction(id int64, r *eventRand) int64 {
	last := g.lastAuction(id)
	first := max(last-int64(g.c.NumInFlightAuctions), 0)
	return first + r.int63n(last-first+1+auctionIDLead)
}

func (g *generator) person(id, ts int64, r *eventRand) *Person {
	p := &Person{ID: FirstPersonID + g.lastPerson(id), DateTime: ts}
	first := r.intn(len(firstNames))
	last := r.intn(len(lastNames))
	p.Name = personNames[first*len(lastNames)+last]

	// Email and credit card share one allocation.
	var buf [48]byte
	b := appendWord(buf[:0], r, 7, ' ')
	b = append(b, '@')
	b = appendWord(b, r, 5, ' ')
	b = append(b, ".com"...)
	email := len(b)
	for i := range 4 {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append4Digits(b, r.intn(10_000))
	}
	s := string(b)
	p.EmailAddress, p.CreditCard = s[:email], s[email:]

	p.City = usCities[r.intn(len(usCities))]
	p.State = usStates[r.intn(len(usStates))]
	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State)
	p.Extra = g.extra(r, size, g.c.AvgPersonByteSize)
	return p
}

func (g *generator) auction(n, id, ts int64, r *eventRand) *Auction {
	a := &Auction{ID: FirstAuctionID + g.lastAuction(id), DateTime: ts}
	if r.intn(g.c.HotSellersRatio) > 0 {
		a.Seller = g.lastPerson(id) / hotBlock * hotBlock
	} else {
		a.Seller = g.coldPerson(id, r)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + int64(r.intn(NumCategories))
	a.InitialBid = price(r)

	// The auction lasts on average as long as NumInFlightAuctions more
	// auctions take to be created.
	horizon := eventTime(g.c.BaseTime, g.delayUs, n+1+g.inFlightEvents) - ts
	a.Expires = ts + 1 + r.int63n(max(2*horizon, 1))

	// Item name and description share one allocation.
	var buf [128]byte
	b := appendWord(buf[:0], r, 20, ' ')
	name := len(b)
	b = appendWord(b, r, 100, ' ')
	s := string(b)
	a.ItemName, a.Description = s[:name], s[name:]

	a.Reserve = a.InitialBid + price(r)
	size := 8 + len(a.ItemName) + len(a.Description) + 5*8
	a.Extra = g.extra(r, size, g.c.AvgAuctionByteSize)
	return a
}

func (g *generator) bid(b *Bid, id, ts int64, r *eventRand) {
	b.DateTime = ts
	if r.intn(g.c.HotAuctionRatio) > 0 {
		b.Auction = g.lastAuction(id) / hotBlock * hotBlock
	} else {
		b.Auction = g.coldAuction(id, r)
	}
	b.Auction += FirstAuctionID
	if r.intn(g.c.HotBiddersRatio) > 0 {
		// The second id of the block, so that hot bidders and hot sellers
		// differ.
		b.Bidder = g.lastPerson(id)/hotBlock*hotBlock + 1
	} else {
		b.Bidder = g.coldPerson(id, r)
	}
	// The original adds FIRST_PERSON_ID twice (BidGenerator since 2021);
	// kept so that bidder ids match what Flink's benchmark runs on.
	b.Bidder += 2 * FirstPersonID
	b.Price = price(r)
	if r.intn(hotChannelsRatio) > 0 {
		i := r.intn(len(hotChannels))
		b.Channel, b.URL = hotChannels[i], g.t.hotURLs[i]
	} else {
		c := r.intn(numChannels)
		b.Channel, b.URL = g.t.channels[c], g.t.urls[c]
	}
	b.Extra = g.extra(r, 4*8, g.c.AvgBidByteSize)
}

// price returns round(10^(6u) · 100), u uniform in [0, 1): the original's
// PriceGenerator.
func price(r *eventRand) int64 { return priceOf(r.float64()) }

// expSteps splits the exponent range of a price, [0, 6·ln 10), into steps
// whose exponentials expTable holds; exp within a step is a short series.
const (
	expSteps = 1 << 10
	expStep  = 6 * math.Ln10 / expSteps
)

var expTable = func() (t [expSteps]float64) {
	for i := range t {
		t[i] = math.Exp(float64(i) * expStep)
	}
	return t
}()

// priceOf returns round(10^(6u) · 100) for u in [0, 1). It computes
// 10^(6u) = e^(i·step) · e^f from a table and a Taylor series to f⁵ (f <
// 0.0135: the next term is below 10⁻¹⁴ relative), as exact as math.Pow and
// several times faster.
func priceOf(u float64) int64 {
	x := u * expSteps
	i := int(x)
	f := (x - float64(i)) * expStep
	ef := 1 + f*(1+f*(1.0/2+f*(1.0/6+f*(1.0/24+f*(1.0/120)))))
	return int64(math.Floor(expTable[i&(expSteps-1)]*ef*100 + 0.5))
}

// extra returns the padding that brings an event of idealized size current
// to avg on average: a length uniform within ±20 % of avg − current.
func (g *generator) extra(r *eventRand, current, avg int) string {
	if current > avg {
		return ""
	}
	d := avg - current
	delta := int(math.Floor(float64(d)*0.2 + 0.5)) // Java's Math.round
	size := d - delta
	if delta != 0 {
		size += r.intn(2 * delta)
	}
	if size <= extraPoolSize {
		off := r.intn(extraPoolSize - size + 1)
		return g.t.extra[off : off+size]
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(r.intn(26))
	}
	return string(b)
}

// appendWord appends the original's nextString(maxLen, special): 3 to
// maxLen−1 characters, each special with probability 1/13 and otherwise a
// uniform lowercase letter, with leading and trailing spaces trimmed (Java's
// trim). One draw decides both the character class and the letter.
func appendWord(b []byte, r *eventRand, maxLen int, special byte) []byte {
	n := minWordLen + r.intn(maxLen-minWordLen)
	start := len(b)
	for range n {
		hi, lo := bits.Mul64(r.next(), 13)
		if hi == 0 {
			b = append(b, special)
			continue
		}
		letter, _ := bits.Mul64(lo, 26)
		b = append(b, 'a'+byte(letter))
	}
	if special != ' ' {
		return b
	}
	w := b[start:]
	lo, hi := 0, len(w)
	for lo < hi && w[lo] == ' ' {
		lo++
	}
	for hi > lo && w[hi-1] == ' ' {
		hi--
	}
	return b[:start+copy(w, w[lo:hi])]
}

// append4Digits appends v, in [0, 10000), as four digits ("%04d").
func append4Digits(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
