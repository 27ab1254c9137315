package nexmark

import "fmt"

// Person is a new user of the auction site. Times are epoch milliseconds.
type Person struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	EmailAddress string `json:"emailAddress"`
	CreditCard   string `json:"creditCard"`
	City         string `json:"city"`
	State        string `json:"state"`
	DateTime     int64  `json:"dateTime"`
	Extra        string `json:"extra"`
}

// Auction is a new item put up for auction by Seller, open from DateTime
// until Expires (epoch milliseconds).
type Auction struct {
	ID          int64  `json:"id"`
	ItemName    string `json:"itemName"`
	Description string `json:"description"`
	InitialBid  int64  `json:"initialBid"`
	Reserve     int64  `json:"reserve"`
	DateTime    int64  `json:"dateTime"`
	Expires     int64  `json:"expires"`
	Seller      int64  `json:"seller"`
	Category    int64  `json:"category"`
	Extra       string `json:"extra"`
}

// Bid is a bid of Price by Bidder on Auction, placed through Channel from
// URL at DateTime (epoch milliseconds).
type Bid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

// EventKind says which of Person, Auction and Bid an Event holds. Its values
// are the event_type column of the Nexmark SQL DDL.
type EventKind uint8

// The kinds of Event.
const (
	KindPerson  EventKind = 0 // a Person: event_type 0
	KindAuction EventKind = 1 // an Auction: event_type 1
	KindBid     EventKind = 2 // a Bid: event_type 2
)

// String returns "person", "auction" or "bid", the "type" of the JSON form.
func (k EventKind) String() string {
	switch k {
	case KindPerson:
		return "person"
	case KindAuction:
		return "auction"
	case KindBid:
		return "bid"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event holds exactly one of a Person, an Auction and a Bid, as Kind says.
//
// The layout is chosen for speed. Bids are 92 % of the stream and the hot
// path of most queries, so a Bid is held by value: generating, copying into a
// batch and reading a bid allocates nothing. People and auctions, 8 % of the
// stream, are held by pointer, which keeps an Event at 104 bytes instead of
// the 300 that three inline structs would take through every batch; each
// costs one allocation besides its strings. The generator and ParseEvent
// allocate a fresh Person or Auction per event, which the receiver owns.
type Event struct {
	Kind EventKind
	// Bid is the bid when Kind is KindBid, and the zero Bid otherwise.
	Bid Bid
	// Person is non-nil exactly when Kind is KindPerson.
	Person *Person
	// Auction is non-nil exactly when Kind is KindAuction.
	Auction *Auction
}

// DateTime returns the event time of the event it holds, in epoch
// milliseconds, or 0 when the event is not valid (a Kind without its value).
func (e Event) DateTime() int64 {
	switch e.Kind {
	case KindBid:
		return e.Bid.DateTime
	case KindAuction:
		if e.Auction != nil {
			return e.Auction.DateTime
		}
	case KindPerson:
		if e.Person != nil {
			return e.Person.DateTime
		}
	}
	return 0
}

// valid reports an event whose Kind is known and whose value is set.
func (e Event) valid() error {
	switch e.Kind {
	case KindBid:
		return nil
	case KindAuction:
		if e.Auction != nil {
			return nil
		}
		return fmt.Errorf("nexmark: event of kind auction has a nil Auction")
	case KindPerson:
		if e.Person != nil {
			return nil
		}
		return fmt.Errorf("nexmark: event of kind person has a nil Person")
	}
	return fmt.Errorf("nexmark: event has unknown kind %d: want KindPerson, KindAuction or KindBid", uint8(e.Kind))
}
