package nexmark

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseEvent reads one event in the JSON form that AppendJSON writes. Keys
// may come in any order, with any JSON whitespace around the tokens (a
// trailing "\r" of a CRLF file included). The "type" key selects the kind;
// every field of that kind must be present. Every key of the JSON form, of
// this kind or another, must hold its type: an integer for a number field,
// a string for a string field; keys of other kinds are then ignored. Unknown
// keys are skipped, whatever their value. A repeated key keeps its last
// value.
//
// The returned strings share one copy of line: the caller may reuse line.
// An error names the byte offset and what is wrong, and quotes the line
// (shortened past 200 bytes).
func ParseEvent(line []byte) (Event, error) {
	s := string(line) // the one copy every unescaped string points into
	var f eventFields
	if off, err := f.parse(s); err != nil {
		return Event{}, parseError(s, off, err)
	}
	return f.event(s)
}

// field names a key of the JSON form.
type field uint8

const (
	fID field = iota
	fDateTime
	fInitialBid
	fReserve
	fExpires
	fSeller
	fCategory
	fAuction
	fBidder
	fPrice
	numIntFields
)

// String fields, numbered apart from the integer ones.
const (
	fName field = iota
	fEmailAddress
	fCreditCard
	fCity
	fState
	fExtra
	fItemName
	fDescription
	fChannel
	fURL
	numStringFields

	fUnknown field = 255 // not a key of any kind
)

// Keys and required sets. A field's bit is its index among the ints, or
// numIntFields plus its index among the strings.
var (
	intFieldNames    = [numIntFields]string{"id", "dateTime", "initialBid", "reserve", "expires", "seller", "category", "auction", "bidder", "price"}
	stringFieldNames = [numStringFields]string{"name", "emailAddress", "creditCard", "city", "state", "extra", "itemName", "description", "channel", "url"}

	personFields = bitsOf(
		[]field{fID, fDateTime},
		[]field{fName, fEmailAddress, fCreditCard, fCity, fState, fExtra})
	auctionFields = bitsOf(
		[]field{fID, fInitialBid, fReserve, fDateTime, fExpires, fSeller, fCategory},
		[]field{fItemName, fDescription, fExtra})
	bidFields = bitsOf(
		[]field{fAuction, fBidder, fPrice, fDateTime},
		[]field{fChannel, fURL, fExtra})
)

func bitsOf(ints, strs []field) (m uint32) {
	for _, f := range ints {
		m |= 1 << f
	}
	for _, f := range strs {
		m |= 1 << (numIntFields + f)
	}
	return m
}

// lookupKey returns the field named key and whether it holds a string.
func lookupKey(key string) (field, bool) {
	switch key {
	case "id":
		return fID, false
	case "dateTime":
		return fDateTime, false
	case "initialBid":
		return fInitialBid, false
	case "reserve":
		return fReserve, false
	case "expires":
		return fExpires, false
	case "seller":
		return fSeller, false
	case "category":
		return fCategory, false
	case "auction":
		return fAuction, false
	case "bidder":
		return fBidder, false
	case "price":
		return fPrice, false
	case "name":
		return fName, true
	case "emailAddress":
		return fEmailAddress, true
	case "creditCard":
		return fCreditCard, true
	case "city":
		return fCity, true
	case "state":
		return fState, true
	case "extra":
		return fExtra, true
	case "itemName":
		return fItemName, true
	case "description":
		return fDescription, true
	case "channel":
		return fChannel, true
	case "url":
		return fURL, true
	}
	return fUnknown, false
}

// eventFields collects the keys of one line, whatever its type, until the
// type is known.
type eventFields struct {
	typ     string
	hasType bool
	typeAt  int    // offset of the type's value
	have    uint32 // bits of the fields seen
	ints    [numIntFields]int64
	strs    [numStringFields]string
}

// parse reads the object in s. On error it returns the offset where it went
// wrong.
func (f *eventFields) parse(s string) (int, error) {
	p := scanner{s: s}
	p.skipSpace()
	if p.i == len(s) {
		return p.i, errors.New("empty line: want a JSON object")
	}
	if s[p.i] != '{' {
		return p.i, fmt.Errorf("found %s: want a JSON object", p.describe())
	}
	p.i++
	p.skipSpace()
	if p.i < len(s) && s[p.i] == '}' {
		p.i++
	} else {
		for {
			p.skipSpace()
			key, err := p.str()
			if err != nil {
				return p.i, fmt.Errorf("want a key: %w", err)
			}
			p.skipSpace()
			if p.i == len(s) || s[p.i] != ':' {
				return p.i, fmt.Errorf("after key %q: found %s: want ':'", key, p.describe())
			}
			p.i++
			p.skipSpace()
			valueAt := p.i
			if key == "type" {
				if f.typ, err = p.str(); err != nil {
					return p.i, fmt.Errorf(`field "type": %w`, err)
				}
				f.hasType, f.typeAt = true, valueAt
			} else if fd, isString := lookupKey(key); fd == fUnknown {
				if err := p.skipValue(0); err != nil {
					return p.i, fmt.Errorf("field %q: %w", key, err)
				}
			} else if isString {
				if f.strs[fd], err = p.str(); err != nil {
					return p.i, fmt.Errorf("field %q: %w", key, err)
				}
				f.have |= 1 << (numIntFields + fd)
			} else {
				if f.ints[fd], err = p.integer(); err != nil {
					return p.i, fmt.Errorf("field %q: %w", key, err)
				}
				f.have |= 1 << fd
			}
			p.skipSpace()
			if p.i == len(s) {
				return p.i, errors.New("the object is not closed: want ',' or '}'")
			}
			if s[p.i] == '}' {
				p.i++
				break
			}
			if s[p.i] != ',' {
				return p.i, fmt.Errorf("after field %q: found %s: want ',' or '}'", key, p.describe())
			}
			p.i++
		}
	}
	p.skipSpace()
	if p.i != len(s) {
		return p.i, fmt.Errorf("found %s after the object: want one event per line", p.describe())
	}
	if !f.hasType {
		return 0, errors.New(`no "type" field: want "person", "auction" or "bid"`)
	}
	return 0, nil
}

// event builds the event of the type read, or says which fields it lacks.
func (f *eventFields) event(s string) (Event, error) {
	var need uint32
	var kind EventKind
	switch f.typ {
	case "person":
		kind, need = KindPerson, personFields
	case "auction":
		kind, need = KindAuction, auctionFields
	case "bid":
		kind, need = KindBid, bidFields
	default:
		return Event{}, parseError(s, f.typeAt, fmt.Errorf(`unknown type %q: want "person", "auction" or "bid"`, f.typ))
	}
	if missing := need &^ f.have; missing != 0 {
		var names []string
		for fd := range numIntFields {
			if missing&(1<<fd) != 0 {
				names = append(names, strconv.Quote(intFieldNames[fd]))
			}
		}
		for fd := range numStringFields {
			if missing&(1<<(numIntFields+fd)) != 0 {
				names = append(names, strconv.Quote(stringFieldNames[fd]))
			}
		}
		return Event{}, parseError(s, len(s), fmt.Errorf("a %s event needs %s", f.typ, strings.Join(names, ", ")))
	}
	in, str := &f.ints, &f.strs
	switch kind {
	case KindPerson:
		return Event{Kind: KindPerson, Person: &Person{
			ID: in[fID], Name: str[fName], EmailAddress: str[fEmailAddress], CreditCard: str[fCreditCard],
			City: str[fCity], State: str[fState], DateTime: in[fDateTime], Extra: str[fExtra],
		}}, nil
	case KindAuction:
		return Event{Kind: KindAuction, Auction: &Auction{
			ID: in[fID], ItemName: str[fItemName], Description: str[fDescription],
			InitialBid: in[fInitialBid], Reserve: in[fReserve], DateTime: in[fDateTime], Expires: in[fExpires],
			Seller: in[fSeller], Category: in[fCategory], Extra: str[fExtra],
		}}, nil
	}
	return Event{Kind: KindBid, Bid: Bid{
		Auction: in[fAuction], Bidder: in[fBidder], Price: in[fPrice], Channel: str[fChannel],
		URL: str[fURL], DateTime: in[fDateTime], Extra: str[fExtra],
	}}, nil
}

// maxQuoted is how much of a bad line an error quotes.
const maxQuoted = 200

func parseError(line string, off int, err error) error {
	quoted := line
	if len(quoted) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(quoted[cut]) {
			cut--
		}
		quoted = quoted[:cut] + "…"
	}
	return fmt.Errorf("nexmark: bad event at byte %d: %w; line: %s", off, err, strconv.QuoteToGraphic(quoted))
}

// scanner reads JSON tokens from s at i.
type scanner struct {
	s string
	i int
}

func (p *scanner) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// describe names what is at i, for errors.
func (p *scanner) describe() string {
	if p.i >= len(p.s) {
		return "the end of the line"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return strconv.QuoteRune(r)
}

// str reads a string. Without escapes it returns a substring of s;
// otherwise a decoded copy.
func (p *scanner) str() (string, error) {
	s := p.s
	if p.i >= len(s) || s[p.i] != '"' {
		return "", fmt.Errorf("found %s: want a string", p.describeValue())
	}
	p.i++
	start := p.i
	for p.i+8 <= len(s) && !stops8(load8(s[p.i:p.i+8])) {
		p.i += 8
	}
	for p.i < len(s) {
		switch c := s[p.i]; {
		case c == '"':
			v := s[start:p.i]
			p.i++
			return v, nil
		case c == '\\':
			return p.escapedStr(start)
		case c < 0x20:
			return "", fmt.Errorf("control character %q in a string: it must be escaped", c)
		default:
			p.i++
		}
	}
	return "", errors.New("the string is not closed")
}

// stops8 reports whether one of the 8 bytes in x ends the plain run of a
// JSON string: '"', '\\' or a byte < 0x20. Each test is a classic word
// trick, exact as a whole.
func stops8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^('"'*ones), x^('\\'*ones)
	return ((x-0x20*ones) & ^x & highs)|((quote-ones) & ^quote & highs)|((backslash-ones) & ^backslash & highs) != 0
}

// escapedStr finishes a string that has escapes, from its first byte start.
func (p *scanner) escapedStr(start int) (string, error) {
	s := p.s
	b := make([]byte, 0, p.i-start+16)
	b = append(b, s[start:p.i]...)
	for p.i < len(s) {
		c := s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", fmt.Errorf("control character %q in a string: it must be escaped", c)
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		if p.i+1 >= len(s) {
			return "", errors.New("the string is not closed")
		}
		switch e := s[p.i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, p.i+2)
			if !ok {
				return "", errors.New(`bad \u escape: want four hex digits`)
			}
			p.i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, p.i+2); ok && p.i+1 < len(s) && s[p.i] == '\\' && s[p.i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						p.i += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
				}
				r = utf8.RuneError // a lone surrogate, as encoding/json reads it
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", fmt.Errorf(`bad escape \%c in a string`, e)
		}
		p.i += 2
	}
	return "", errors.New("the string is not closed")
}

// hex4 reads four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// integer reads a JSON number that must be an int64.
func (p *scanner) integer() (int64, error) {
	s, start := p.s, p.i
	neg := p.i < len(s) && s[p.i] == '-'
	if neg {
		p.i++
	}
	digits := p.i
	var v uint64
	overflow := false
	for p.i < len(s) && '0' <= s[p.i] && s[p.i] <= '9' {
		d := uint64(s[p.i] - '0')
		if v > (1<<64-1-d)/10 {
			overflow = true
		}
		v = v*10 + d
		p.i++
	}
	if p.i == digits {
		p.i = start
		return 0, fmt.Errorf("found %s: want an integer", p.describeValue())
	}
	if p.i < len(s) && (s[p.i] == '.' || s[p.i] == 'e' || s[p.i] == 'E') {
		p.i = start
		p.skipNumber()
		return 0, fmt.Errorf("%s is not an integer", s[start:p.i])
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	if overflow || v > limit {
		return 0, fmt.Errorf("%s does not fit in an int64", s[start:p.i])
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// describeValue names the JSON value at i, for errors about its type.
func (p *scanner) describeValue() string {
	if p.i >= len(p.s) {
		return "the end of the line"
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	case strings.HasPrefix(p.s[p.i:], "null"):
		return "null"
	case strings.HasPrefix(p.s[p.i:], "true"), strings.HasPrefix(p.s[p.i:], "false"):
		return "a boolean"
	}
	return p.describe()
}

func (p *scanner) skipNumber() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			p.i++
		default:
			return
		}
	}
}

// maxDepth bounds the nesting of skipped values.
const maxDepth = 64

// skipValue skips any JSON value, for keys the event does not use.
func (p *scanner) skipValue(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("values nested deeper than %d", maxDepth)
	}
	s := p.s
	if p.i >= len(s) {
		return errors.New("found the end of the line: want a value")
	}
	switch c := s[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '-' || '0' <= c && c <= '9':
		start := p.i
		p.skipNumber()
		if _, err := strconv.ParseFloat(s[start:p.i], 64); err != nil {
			return fmt.Errorf("bad number %s", s[start:p.i])
		}
		return nil
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		p.i++
		p.skipSpace()
		if p.i < len(s) && s[p.i] == close {
			p.i++
			return nil
		}
		for {
			p.skipSpace()
			if c == '{' {
				if _, err := p.str(); err != nil {
					return err
				}
				p.skipSpace()
				if p.i == len(s) || s[p.i] != ':' {
					return fmt.Errorf("found %s: want ':'", p.describe())
				}
				p.i++
				p.skipSpace()
			}
			if err := p.skipValue(depth + 1); err != nil {
				return err
			}
			p.skipSpace()
			if p.i == len(s) {
				return fmt.Errorf("found the end of the line: want ',' or %q", close)
			}
			if s[p.i] == close {
				p.i++
				return nil
			}
			if s[p.i] != ',' {
				return fmt.Errorf("found %s: want ',' or %q", p.describe(), close)
			}
			p.i++
		}
	}
	for _, lit := range []string{"null", "true", "false"} {
		if strings.HasPrefix(s[p.i:], lit) {
			p.i += len(lit)
			return nil
		}
	}
	return fmt.Errorf("found %s: want a value", p.describe())
}
