package nexmark

import (
	"strings"

	"github.com/floestream/floe/topology"
)

// The stateless queries beyond q0–q2: a filter with computed columns (q14),
// a CASE with a pattern extracted from the URL (q21) and the URL's
// directories (q22).

// calculatedBid is a row of q14, its columns computed before the sink so
// that a counting output measures them too.
type calculatedBid struct {
	Bid         Bid
	BidTimeType string
	CCounts     int64
}

func buildQ14(j *topology.Job, events topology.Stream[Event], out Output) {
	sel := topology.FlatMap(Bids(events), "calculate", func(b Bid, out topology.Collector[calculatedBid]) {
		// 0.908 × price as the SQL's exact DECIMAL: 908 × price against
		// the bounds × 1000, so no float rounding decides a bid at the edge.
		if p := 908 * b.Price; p > 1_000_000_000 && p < 50_000_000_000 {
			out.Collect(calculatedBid{b, BidTimeType(b.DateTime), int64(strings.Count(b.Extra, "c"))})
		}
	})
	sinkRows(sel, out, "q14", func(c calculatedBid) Row {
		b := c.Bid
		return Row{[]Column{{"auction", b.Auction}, {"bidder", b.Bidder}, {"price", Q1Price(b.Price)},
			{"bidTimeType", c.BidTimeType}, {"dateTime", b.DateTime}, {"extra", b.Extra}, {"c_counts", c.CCounts}}}
	})
}

// BidTimeType is q14's bidTimeType: by the hour of dateTime (UTC, as
// Flink's HOUR of a TIMESTAMP), "dayTime" from 8 to 18, "nightTime" up to 6
// and from 20, "otherTime" at 7 and 19.
func BidTimeType(dateTime int64) string {
	switch h := dateTime / 3_600_000 % 24; {
	case h >= 8 && h <= 18:
		return "dayTime"
	case h <= 6 || h >= 20:
		return "nightTime"
	}
	return "otherTime"
}

// channelIDs are q21's ids of the hot channels, by lower-case name.
var channelIDs = map[string]string{"apple": "0", "google": "1", "facebook": "2", "baidu": "3"}

// ChannelID is q21's channel_id: the hot channel's number, or else
// REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2); ok is false where the
// SQL's value is NULL (and q21 drops the bid).
func ChannelID(b Bid) (id string, ok bool) {
	if id, ok := channelIDs[strings.ToLower(b.Channel)]; ok {
		return id, true
	}
	const param = "channel_id="
	// The leftmost "channel_id=" at the start of the URL or after an '&'.
	for from := 0; ; {
		i := strings.Index(b.URL[from:], param)
		if i < 0 {
			return "", false
		}
		i += from
		if i == 0 || b.URL[i-1] == '&' {
			v := b.URL[i+len(param):]
			if end := strings.IndexByte(v, '&'); end >= 0 {
				v = v[:end]
			}
			return v, true
		}
		from = i + 1
	}
}

type channelBid struct {
	Bid       Bid
	ChannelID string
}

func buildQ21(j *topology.Job, events topology.Stream[Event], out Output) {
	sel := topology.FlatMap(Bids(events), "channel-id", func(b Bid, out topology.Collector[channelBid]) {
		if id, ok := ChannelID(b); ok {
			out.Collect(channelBid{b, id})
		}
	})
	sinkRows(sel, out, "q21", func(c channelBid) Row {
		return Row{[]Column{{"auction", c.Bid.Auction}, {"bidder", c.Bid.Bidder}, {"price", c.Bid.Price},
			{"channel", c.Bid.Channel}, {"channel_id", c.ChannelID}}}
	})
}

// SplitIndex is Flink's SPLIT_INDEX(s, sep, index): the index-th (from 0)
// of the parts of s between occurrences of sep, empty parts included; ok is
// false (SQL NULL) when s has fewer parts.
func SplitIndex(s, sep string, index int) (part string, ok bool) {
	for range index {
		_, rest, found := strings.Cut(s, sep)
		if !found {
			return "", false
		}
		s = rest
	}
	part, _, _ = strings.Cut(s, sep)
	return part, true
}

// nullable is a column value that is JSON null where ok is false.
func nullable(s string, ok bool) any {
	if !ok {
		return nil
	}
	return s
}

// urlDirs is a row of q22: a bid and the first three directories of its
// URL (SPLIT_INDEX(url, '/', 3 … 5)); Missing has bit i set where dir i+1
// is NULL.
type urlDirs struct {
	Bid     Bid
	Dirs    [3]string
	Missing uint8
}

func buildQ22(j *topology.Job, events topology.Stream[Event], out Output) {
	dirs := topology.Map(Bids(events), "split-url", func(b Bid) urlDirs {
		d := urlDirs{Bid: b}
		for i := range d.Dirs {
			var ok bool
			if d.Dirs[i], ok = SplitIndex(b.URL, "/", 3+i); !ok {
				d.Missing |= 1 << i
			}
		}
		return d
	})
	sinkRows(dirs, out, "q22", func(d urlDirs) Row {
		b := d.Bid
		return Row{[]Column{{"auction", b.Auction}, {"bidder", b.Bidder}, {"price", b.Price}, {"channel", b.Channel},
			{"dir1", nullable(d.Dirs[0], d.Missing&1 == 0)}, {"dir2", nullable(d.Dirs[1], d.Missing&2 == 0)},
			{"dir3", nullable(d.Dirs[2], d.Missing&4 == 0)}}}
	})
}
