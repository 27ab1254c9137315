package nexmark

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the one-line JSON form of e to dst and returns the
// extended slice, without a trailing newline:
//
//	{"type":"person","id":…,"name":…,"emailAddress":…,"creditCard":…,"city":…,"state":…,"dateTime":…,"extra":…}
//	{"type":"auction","id":…,"itemName":…,"description":…,"initialBid":…,"reserve":…,"dateTime":…,"expires":…,"seller":…,"category":…,"extra":…}
//	{"type":"bid","auction":…,"bidder":…,"price":…,"channel":…,"url":…,"dateTime":…,"extra":…}
//
// Keys come in this order, numbers as integers (times in epoch milliseconds)
// and strings escaped as encoding/json does (invalid UTF-8 becomes U+FFFD).
// It fails, leaving dst as it was, only for an event whose Kind is unknown or
// whose Person or Auction is nil.
func (e Event) AppendJSON(dst []byte) ([]byte, error) {
	var enc encoder
	return enc.appendEvent(dst, e)
}

// MarshalJSON returns the form AppendJSON writes.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256))
}

// UnmarshalJSON sets *e to the event that ParseEvent reads from data.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := ParseEvent(data)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// encoder writes the JSON form. The zero encoder escapes every string; the
// one WriteJSONL uses trusts the generator and reuses the text of the last
// event time, which thousands of consecutive events share.
type encoder struct {
	// raw says that strings need no escaping: every string the generator
	// makes is printable ASCII without '"' or '\\' (TestGeneratedStringsNeedNoEscaping).
	raw      bool
	lastTime int64
	timeLen  int // 0: no time cached yet
	timeText [20]byte
}

func (enc *encoder) appendEvent(b []byte, e Event) ([]byte, error) {
	if err := e.valid(); err != nil {
		return b, err
	}
	switch e.Kind {
	case KindPerson:
		return enc.appendPerson(b, e.Person), nil
	case KindAuction:
		return enc.appendAuction(b, e.Auction), nil
	}
	return enc.appendBid(b, &e.Bid), nil
}

// body appends the body of a JSON string (the key literals around it carry
// its quotes, which saves two appends per string).
func (enc *encoder) body(b []byte, s string) []byte {
	if enc.raw {
		return append(b, s...)
	}
	return appendStringBody(b, s)
}

func (enc *encoder) time(b []byte, t int64) []byte {
	if !enc.raw {
		return strconv.AppendInt(b, t, 10)
	}
	if enc.timeLen == 0 || t != enc.lastTime {
		enc.lastTime = t
		enc.timeLen = len(strconv.AppendInt(enc.timeText[:0], t, 10))
	}
	return append(b, enc.timeText[:enc.timeLen]...)
}

func (enc *encoder) appendPerson(b []byte, p *Person) []byte {
	b = append(b, `{"type":"person","id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"name":"`...)
	b = enc.body(b, p.Name)
	b = append(b, `","emailAddress":"`...)
	b = enc.body(b, p.EmailAddress)
	b = append(b, `","creditCard":"`...)
	b = enc.body(b, p.CreditCard)
	b = append(b, `","city":"`...)
	b = enc.body(b, p.City)
	b = append(b, `","state":"`...)
	b = enc.body(b, p.State)
	b = append(b, `","dateTime":`...)
	b = enc.time(b, p.DateTime)
	b = append(b, `,"extra":"`...)
	b = enc.body(b, p.Extra)
	return append(b, `"}`...)
}

func (enc *encoder) appendAuction(b []byte, a *Auction) []byte {
	b = append(b, `{"type":"auction","id":`...)
	b = strconv.AppendInt(b, a.ID, 10)
	b = append(b, `,"itemName":"`...)
	b = enc.body(b, a.ItemName)
	b = append(b, `","description":"`...)
	b = enc.body(b, a.Description)
	b = append(b, `","initialBid":`...)
	b = strconv.AppendInt(b, a.InitialBid, 10)
	b = append(b, `,"reserve":`...)
	b = strconv.AppendInt(b, a.Reserve, 10)
	b = append(b, `,"dateTime":`...)
	b = enc.time(b, a.DateTime)
	b = append(b, `,"expires":`...)
	b = strconv.AppendInt(b, a.Expires, 10)
	b = append(b, `,"seller":`...)
	b = strconv.AppendInt(b, a.Seller, 10)
	b = append(b, `,"category":`...)
	b = strconv.AppendInt(b, a.Category, 10)
	b = append(b, `,"extra":"`...)
	b = enc.body(b, a.Extra)
	return append(b, `"}`...)
}

func (enc *encoder) appendBid(b []byte, x *Bid) []byte {
	b = append(b, `{"type":"bid","auction":`...)
	b = strconv.AppendInt(b, x.Auction, 10)
	b = append(b, `,"bidder":`...)
	b = strconv.AppendInt(b, x.Bidder, 10)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, x.Price, 10)
	b = append(b, `,"channel":"`...)
	b = enc.body(b, x.Channel)
	b = append(b, `","url":"`...)
	b = enc.body(b, x.URL)
	b = append(b, `","dateTime":`...)
	b = enc.time(b, x.DateTime)
	b = append(b, `,"extra":"`...)
	b = enc.body(b, x.Extra)
	return append(b, `"}`...)
}

// safe8 reports whether none of the 8 bytes in x needs escaping in a JSON
// string: no byte ≥ 0x80, < 0x20, '"' or '\\'. The tests for '"' and '\\'
// are the classic has-a-zero-byte word trick, exact as a whole.
func safe8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// With no byte ≥ 0x80, adding 0x60 sets the high bit exactly of the
	// bytes ≥ 0x20; a byte ≥ 0x80 fails the word whatever its carry does.
	outside := (x | ^(x + 0x60*ones)) & highs
	quote, backslash := x^('"'*ones), x^('\\'*ones)
	return outside|((quote-ones) & ^quote & highs)|((backslash-ones) & ^backslash & highs) == 0
}

const hexDigits = "0123456789abcdef"

// load8 reads the 8 bytes of w, little-endian, in one load.
func load8(w string) uint64 {
	_ = w[7]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// appendStringBody appends s escaped as the body of a JSON string, without
// quotes. Generated strings never need escaping, so the plain prefix is
// found 8 bytes at a time and copied at once.
func appendStringBody(b []byte, s string) []byte {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !safe8(load8(s[i : i+8])) {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return appendEscaped(b, s, i)
		}
	}
	return append(b, s...)
}

// appendEscaped appends the body of a JSON string whose first i bytes are
// plain, escaping the rest as encoding/json does.
func appendEscaped(b []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript;
		// encoding/json escapes them too.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// jsonlFlushSize is how much WriteJSONL buffers before each write.
const jsonlFlushSize = 256 << 10

// WriteJSONL writes events 0, 1, … of cfg to w, one AppendJSON line each
// ended by '\n': cfg.Events lines, or without end when cfg.Events is 0 (it
// then returns only when w fails). It writes in chunks of about 256 KiB
// through a buffer it reuses, and ignores cfg.Rate: a file has no wall clock.
// It returns cfg.Validate's error before writing anything, and w's first
// error, wrapped.
func WriteJSONL(w io.Writer, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	g := makeGenerator(cfg)
	enc := encoder{raw: true}
	end := int64(MaxEventNumber)
	if cfg.Events > 0 {
		end = cfg.Events
	}
	buf := make([]byte, 0, jsonlFlushSize+4096)
	var err error
	for n := int64(0); n < end; n++ {
		if buf, err = enc.appendEvent(buf, g.event(n)); err != nil {
			return err // unreachable: generated events are valid
		}
		buf = append(buf, '\n')
		if len(buf) >= jsonlFlushSize {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("nexmark: write events up to event %d: %w", n, err)
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("nexmark: write the last %d bytes of events: %w", len(buf), err)
		}
	}
	return nil
}
