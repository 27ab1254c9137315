package nexmark

import (
	"errors"
	"fmt"
	"math"
)

// Ids and categories start at these values, as in the original generator, so
// that queries find matches even on small runs.
const (
	// FirstPersonID is the base of person ids: person ids are FirstPersonID
	// plus a 0-based person number. (The first person actually generated is
	// FirstPersonID+1: the stream starts at event id 2, as Flink's does.)
	FirstPersonID = 1000
	// FirstAuctionID is the base of auction ids, like FirstPersonID.
	FirstAuctionID = 1000
	// FirstCategoryID is the smallest auction category.
	FirstCategoryID = 10
	// NumCategories is the number of auction categories: categories are
	// FirstCategoryID … FirstCategoryID+NumCategories−1.
	NumCategories = 5
)

// MaxBaseTime bounds the magnitude of Config.BaseTime (some 285,000 years
// from 1970), so that event times cannot overflow.
const MaxBaseTime = 1 << 53

// MaxEventNumber bounds event numbers: Config.Event(n) requires
// 0 ≤ n < MaxEventNumber, and an unbounded Source ends there (after some
// 14,000 years of event time at 10 M events/s).
const MaxEventNumber = 1 << 62

// Defaults of the fields of Config, from the original NexmarkConfiguration
// unless said otherwise.
const (
	// DefaultFirstEventRate is the event-time rate of the Nexmark v1 suite
	// (nexmark.yaml: tps 10,000,000). NexmarkConfiguration's own default is
	// 10,000; the v2 suite uses 100,000.
	DefaultFirstEventRate = 10_000_000
	// DefaultBaseTime is 2020-01-01T00:00:00Z in epoch milliseconds. The
	// original uses the wall clock at job submission; a fixed epoch makes
	// every run of the same config produce the same events.
	DefaultBaseTime = 1_577_836_800_000
)

// Config shapes a Nexmark event stream. It is a plain value: copy it and set
// fields to vary one. DefaultConfig returns the original's defaults; the zero
// Config is not valid.
type Config struct {
	// Events is the number of events of a bounded stream; 0 means unbounded
	// (up to MaxEventNumber).
	Events int64
	// FirstEventRate is the rate of the stream in event time, in events per
	// second: event n has dateTime BaseTime + ⌊⌊(n+1)·10⁶/FirstEventRate⌋/1000⌋
	// ms (see Config.Event). It does not limit how fast events are
	// generated; Rate does.
	FirstEventRate float64
	// Rate limits a Source in wall-clock time, in events per second across all
	// its subtasks; 0 or +Inf means as fast as the reader is polled.
	// WriteJSONL ignores it.
	Rate float64
	// BaseTime is the event time origin, in epoch milliseconds, within
	// ±MaxBaseTime.
	BaseTime int64
	// Seed selects the stream: the same config and seed give the same events,
	// a different seed different ones.
	Seed uint64

	// PersonProportion, AuctionProportion and BidProportion set the mix: of
	// every PersonProportion+AuctionProportion+BidProportion consecutive event
	// ids, the first PersonProportion are people, the next AuctionProportion
	// auctions and the rest bids (defaults 1, 3, 46).
	PersonProportion  int
	AuctionProportion int
	BidProportion     int

	// HotAuctionRatio: a bid is for the current hot auction with probability
	// 1 − 1/HotAuctionRatio (default 2).
	HotAuctionRatio int
	// HotSellersRatio: an auction is by the current hot seller with
	// probability 1 − 1/HotSellersRatio (default 4).
	HotSellersRatio int
	// HotBiddersRatio: a bid is by the current hot bidder with probability
	// 1 − 1/HotBiddersRatio (default 4).
	HotBiddersRatio int

	// NumInFlightAuctions is the number of recent auctions a cold bid picks
	// from, and sets the average auction length (default 100).
	NumInFlightAuctions int
	// NumActivePeople is the number of recent people a cold seller or bidder
	// is picked from (default 1000).
	NumActivePeople int

	// AvgPersonByteSize, AvgAuctionByteSize and AvgBidByteSize are the
	// average idealized sizes that `extra` pads events to (defaults 200, 500
	// and 100 bytes). The idealized size is the original's: 8 bytes per
	// number it counts plus the length of the strings it counts (see
	// Config.Event); it is not the size of the JSON form.
	AvgPersonByteSize  int
	AvgAuctionByteSize int
	AvgBidByteSize     int
}

// DefaultConfig returns the original generator's defaults, with the Nexmark
// v1 suite's event-time rate, DefaultBaseTime, seed 0 and an unbounded
// stream.
func DefaultConfig() Config {
	return Config{
		FirstEventRate:      DefaultFirstEventRate,
		BaseTime:            DefaultBaseTime,
		PersonProportion:    1,
		AuctionProportion:   3,
		BidProportion:       46,
		HotAuctionRatio:     2,
		HotSellersRatio:     4,
		HotBiddersRatio:     4,
		NumInFlightAuctions: 100,
		NumActivePeople:     1000,
		AvgPersonByteSize:   200,
		AvgAuctionByteSize:  500,
		AvgBidByteSize:      100,
	}
}

// maxSetting bounds the integer settings so that no id or size arithmetic
// can overflow.
const maxSetting = 1 << 24

// Validate reports every field that is out of range, naming the field and
// the range it must be in. Config.Event, Source and WriteJSONL need a valid
// config.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("nexmark: "+format, args...))
	}
	if c.Events < 0 || c.Events > MaxEventNumber {
		bad("Events is %d: it must be between 1 and %d, or 0 for an unbounded stream", c.Events, int64(MaxEventNumber))
	}
	if !(c.FirstEventRate > 0) || math.IsInf(c.FirstEventRate, 1) {
		bad("FirstEventRate is %v events/s: it must be a finite number above 0 (the v1 suite uses %d)", c.FirstEventRate, DefaultFirstEventRate)
	}
	if c.BaseTime < -MaxBaseTime || c.BaseTime > MaxBaseTime {
		bad("BaseTime is %d ms: it must be within ±%d ms of 1970 (DefaultBaseTime is %d)", c.BaseTime, int64(MaxBaseTime), int64(DefaultBaseTime))
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) {
		bad("Rate is %v events/s: it must be above 0, or 0 for no limit", c.Rate)
	}
	ints := []struct {
		name string
		v    int
		min  int
	}{
		{"PersonProportion", c.PersonProportion, 1},
		{"AuctionProportion", c.AuctionProportion, 1},
		{"BidProportion", c.BidProportion, 1},
		{"HotAuctionRatio", c.HotAuctionRatio, 1},
		{"HotSellersRatio", c.HotSellersRatio, 1},
		{"HotBiddersRatio", c.HotBiddersRatio, 1},
		{"NumInFlightAuctions", c.NumInFlightAuctions, 1},
		{"NumActivePeople", c.NumActivePeople, 1},
		{"AvgPersonByteSize", c.AvgPersonByteSize, 0},
		{"AvgAuctionByteSize", c.AvgAuctionByteSize, 0},
		{"AvgBidByteSize", c.AvgBidByteSize, 0},
	}
	for _, f := range ints {
		if f.v < f.min || f.v > maxSetting {
			bad("%s is %d: it must be between %d and %d (DefaultConfig sets every field)", f.name, f.v, f.min, maxSetting)
		}
	}
	return errors.Join(errs...)
}
