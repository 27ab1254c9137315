package nexmark

import (
	"math/bits"
	"strconv"
	"sync"
)

// The fixed vocabularies of the original PersonGenerator. They are kept
// small so that queries filtering on a state or a city find results.
var (
	firstNames = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	usCities   = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	usStates   = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
)

// personNames holds every "First Last" combination, indexed
// first*len(lastNames)+last, so that naming a person allocates nothing.
var personNames = func() (names [len(firstNames) * len(lastNames)]string) {
	for f, first := range firstNames {
		for l, last := range lastNames {
			names[f*len(lastNames)+l] = first + " " + last
		}
	}
	return names
}()

// The bid channels of the original BidGenerator: half of all bids come
// through one of the hot channels, the rest through one of numChannels
// numbered channels.
var hotChannels = [...]string{"Google", "Facebook", "Baidu", "Apple"}

const (
	numChannels = 10_000
	// extraPoolSize is the length of the text that `extra` values are cut
	// from; an extra longer than this is generated on its own.
	extraPoolSize = 1 << 16
)

// tables holds the generated strings every event shares. They are built once,
// on first use, from a fixed stream, so they are the same for every seed and
// every run.
type tables struct {
	channels [numChannels]string // "channel-<i>"
	urls     [numChannels]string // the URL of channel i
	hotURLs  [len(hotChannels)]string
	// extra is extraPoolSize random lowercase letters: an event's `extra` of
	// length k is a window of it at a random offset.
	extra string
}

var sharedTables = sync.OnceValue(buildTables)

func buildTables() *tables {
	t := new(tables)
	r := newEventRand(0x7461626c6573, 0) // "tables": any fixed key will do

	// The original builds each URL the first time a JVM meets its channel,
	// from an unseeded Random; here they are fixed. One backing string
	// holds them all.
	type span struct{ lo, hi int }
	var hot [len(hotChannels)]span
	var spans [2 * numChannels]span
	b := make([]byte, 0, numChannels*90)
	for i := range hot {
		lo := len(b)
		b = appendBaseURL(b, &r)
		hot[i] = span{lo, len(b)}
	}
	for c := range numChannels {
		lo := len(b)
		b = append(b, "channel-"...)
		b = strconv.AppendInt(b, int64(c), 10)
		spans[2*c] = span{lo, len(b)}
		lo = len(b)
		b = appendBaseURL(b, &r)
		// 90 % of the channel URLs carry a channel id: |reverse(c)| as a
		// Java int, which wraps for c = 1 (reverse(1) = MinInt32) exactly
		// as Math.abs does.
		if r.intn(10) > 0 {
			id := int32(bits.Reverse32(uint32(c)))
			if id < 0 {
				id = -id
			}
			b = append(b, "&channel_id="...)
			b = strconv.AppendInt(b, int64(id), 10)
		}
		spans[2*c+1] = span{lo, len(b)}
	}
	s := string(b)
	for i, h := range hot {
		t.hotURLs[i] = s[h.lo:h.hi]
	}
	for c := range numChannels {
		t.channels[c] = s[spans[2*c].lo:spans[2*c].hi]
		t.urls[c] = s[spans[2*c+1].lo:spans[2*c+1].hi]
	}

	pool := make([]byte, extraPoolSize)
	for i := range pool {
		pool[i] = 'a' + byte(r.intn(26))
	}
	t.extra = string(pool)
	return t
}

// appendBaseURL appends a URL of the original's form
// https://www.nexmark.com/<w>/<w>/<w>/item.htm?query=1, where each <w> is 3
// or 4 characters of lowercase letters and '_'.
func appendBaseURL(b []byte, r *eventRand) []byte {
	b = append(b, "https://www.nexmark.com/"...)
	for range 3 {
		b = appendWord(b, r, 5, '_')
		b = append(b, '/')
	}
	return append(b, "item.htm?query=1"...)
}
