package nexmark

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestJSONForm(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{{
		Event{Kind: KindPerson, Person: &Person{ID: 1001, Name: "Saul Shultz", EmailAddress: "ab@cd.com", CreditCard: "0001 0002 0003 0004",
			City: "Bend", State: "OR", DateTime: 1577836800000, Extra: "xyz"}},
		`{"type":"person","id":1001,"name":"Saul Shultz","emailAddress":"ab@cd.com","creditCard":"0001 0002 0003 0004","city":"Bend","state":"OR","dateTime":1577836800000,"extra":"xyz"}`,
	}, {
		Event{Kind: KindAuction, Auction: &Auction{ID: 1002, ItemName: "item", Description: "desc", InitialBid: 100, Reserve: 250,
			DateTime: 1577836800001, Expires: 1577836800002, Seller: 1000, Category: 10, Extra: ""}},
		`{"type":"auction","id":1002,"itemName":"item","description":"desc","initialBid":100,"reserve":250,"dateTime":1577836800001,"expires":1577836800002,"seller":1000,"category":10,"extra":""}`,
	}, {
		Event{Kind: KindBid, Bid: Bid{Auction: 1000, Bidder: 2001, Price: -7, Channel: "Google", URL: "https://x/y?a=1&b=2",
			DateTime: -1, Extra: "e"}},
		`{"type":"bid","auction":1000,"bidder":2001,"price":-7,"channel":"Google","url":"https://x/y?a=1&b=2","dateTime":-1,"extra":"e"}`,
	}}
	for _, tc := range tests {
		got, err := tc.e.AppendJSON([]byte("prefix:"))
		if err != nil || string(got) != "prefix:"+tc.want {
			t.Errorf("AppendJSON = %s, %v\nwant prefix:%s", got, err, tc.want)
		}
		m, err := marshalStd(tc.e)
		if err != nil || string(m) != tc.want {
			t.Errorf("json.Marshal = %s, %v\nwant %s", m, err, tc.want)
		}
		back, err := ParseEvent([]byte(tc.want))
		if err != nil || !reflect.DeepEqual(back, tc.e) {
			t.Errorf("ParseEvent(%s) = %+v, %v\nwant %+v", tc.want, back, err, tc.e)
		}
	}
}

// marshalStd encodes v with encoding/json, without its HTML escaping of <,
// > and & (which the JSON form does not do).
func marshalStd(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func TestJSONRoundTripOfGeneratedEvents(t *testing.T) {
	cfg := DefaultConfig()
	var buf []byte
	for n, e := range events(cfg, 20_000) {
		var err error
		if buf, err = e.AppendJSON(buf[:0]); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(buf) {
			t.Fatalf("event %d: invalid JSON %s", n, buf)
		}
		back, err := ParseEvent(buf)
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("event %d: read back %+v, want %+v", n, back, e)
		}
		var viaStd Event
		if err := json.Unmarshal(buf, &viaStd); err != nil || !reflect.DeepEqual(viaStd, e) {
			t.Fatalf("event %d: json.Unmarshal = %+v, %v", n, viaStd, err)
		}
	}
}

func TestStructTagsMatchTheJSONForm(t *testing.T) {
	// The struct tags name the same keys, in the same order, as the
	// hand-written form: encoding/json of a struct gives the form minus "type".
	cfg := DefaultConfig()
	for _, e := range events(cfg, 50) {
		var v any = e.Bid
		switch e.Kind {
		case KindPerson:
			v = e.Person
		case KindAuction:
			v = e.Auction
		}
		std, err := marshalStd(v)
		if err != nil {
			t.Fatal(err)
		}
		ours, _ := e.AppendJSON(nil)
		want := `{` + string(ours[len(`{"type":"`+e.Kind.String()+`",`):])
		if string(std) != want {
			t.Fatalf("encoding/json gives %s\nwant %s", std, want)
		}
	}
}

func TestStringEscaping(t *testing.T) {
	for _, s := range []string{
		"", `"`, `\`, "a\"b\\c", "tab\there\nnew\rline\b\f", "\x00\x01\x1f\x7f",
		"héllo wörld ✓ 𝄞", "line\u2028sep\u2029", "12345678\"12345678", "abcdefgh\\",
		"\xff\xfeinvalid", "good then bad \xc3",
	} {
		b := []byte(quoted(s))
		if !json.Valid(b) {
			t.Errorf("quoted(%q) = %s is not valid JSON", s, b)
			continue
		}
		std, _ := marshalStd(s)
		if !bytes.Equal(b, std) {
			t.Errorf("quoted(%q) = %s, encoding/json gives %s", s, b, std)
		}
		e := Event{Kind: KindBid, Bid: Bid{Channel: s, URL: s, Extra: s}}
		line, _ := e.AppendJSON(nil)
		back, err := ParseEvent(line)
		if err != nil {
			t.Errorf("ParseEvent(%s): %v", line, err)
			continue
		}
		var want string
		_ = json.Unmarshal(std, &want) // invalid UTF-8 reads back as U+FFFD
		if back.Bid.Channel != want || back.Bid.Extra != want {
			t.Errorf("%q read back as %q, want %q", s, back.Bid.Channel, want)
		}
	}
}

// quoted returns s as a quoted JSON string.
func quoted(s string) string {
	return `"` + string(appendStringBody(nil, s)) + `"`
}

// TestGeneratedStringsNeedNoEscaping keeps the invariant WriteJSONL's raw
// encoder relies on.
func TestGeneratedStringsNeedNoEscaping(t *testing.T) {
	plain := func(s string) bool { return quoted(s) == `"`+s+`"` }
	tab := sharedTables()
	for _, s := range slices.Concat(tab.channels[:], tab.urls[:], tab.hotURLs[:], hotChannels[:], personNames[:], usCities[:], usStates[:], []string{tab.extra}) {
		if !plain(s) {
			t.Fatalf("table string %q needs escaping", s)
		}
	}
	raw := encoder{raw: true}
	var a, b []byte
	for n, e := range events(DefaultConfig(), 50_000) {
		a, _ = e.AppendJSON(a[:0])
		b, _ = raw.appendEvent(b[:0], e)
		if !bytes.Equal(a, b) {
			t.Fatalf("event %d: escaped %s\nraw %s", n, a, b)
		}
	}
}

func TestSafe8(t *testing.T) {
	// Against the byte-by-byte rule, for every byte value in every position.
	for pos := range 8 {
		for c := range 256 {
			word := []byte("abcdefgh")
			word[pos] = byte(c)
			var x uint64
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(word[i])
			}
			want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
			if got := safe8(x); got != want {
				t.Fatalf("safe8 with %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}

func TestStops8(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			for _, fill := range []byte{'a', 0xc3} { // ASCII and high bytes around
				word := bytes.Repeat([]byte{fill}, 8)
				word[pos] = byte(c)
				want := c < 0x20 || c == '"' || c == '\\'
				if got := stops8(load8(string(word))); got != want {
					t.Fatalf("stops8 with %#x at %d among %#x = %v, want %v", c, pos, fill, got, want)
				}
			}
		}
	}
}

func TestParseEventAcceptsAnyOrderAndSkipsUnknownKeys(t *testing.T) {
	line := " {\r\n \"extra\" : \"\\u0041\\n\\ud834\\udd1e\\/\" , \"unknown\": {\"a\": [1, 2.5e3, true, null, {\"b\": \"}\"}]}," +
		"\"price\":-12, \"type\":\"bid\", \"dateTime\": 0, \"url\":\"u\", \"channel\":\"c\", \"bidder\": 9223372036854775807," +
		"\"auction\": -9223372036854775808, \"id\": 5, \"price\": 13 }\r\n"
	e, err := ParseEvent([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Kind: KindBid, Bid: Bid{Auction: -1 << 63, Bidder: 1<<63 - 1, Price: 13, Channel: "c", URL: "u", Extra: "A\n𝄞/"}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
}

func TestParseEventDoesNotAliasItsInput(t *testing.T) {
	line := []byte(`{"type":"bid","auction":1,"bidder":2,"price":3,"channel":"abc","url":"def","dateTime":4,"extra":"ghi"}`)
	e, err := ParseEvent(line)
	if err != nil {
		t.Fatal(err)
	}
	for i := range line {
		line[i] = 'X'
	}
	if e.Bid.Channel != "abc" || e.Bid.URL != "def" || e.Bid.Extra != "ghi" {
		t.Errorf("strings changed with the input: %+v", e.Bid)
	}
}

func TestParseEventErrors(t *testing.T) {
	bid := `"auction":1,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":4,"extra":"e"`
	long := `{"type":"bid",` + bid + `,"x":"` + strings.Repeat("é", 200) + `",}`
	tests := []struct{ line, want string }{
		{"", "empty line: want a JSON object"},
		{"  \t", "empty line"},
		{`[1]`, `found '[': want a JSON object`},
		{`{"type":"bid",` + bid, "the object is not closed"},
		{`{"type":"bid",` + bid + `}{}`, `found '{' after the object: want one event per line`},
		{`{` + bid + `}`, `no "type" field`},
		{`{"type":"bidd",` + bid + `}`, `unknown type "bidd": want "person", "auction" or "bid"`},
		{`{"type":7}`, `field "type": found a number: want a string`},
		{`{"type":"bid","auction":1,"channel":"c","url":"u","dateTime":4,"extra":"e"}`, `a bid event needs "bidder", "price"`},
		{`{"type":"person","id":1}`, `a person event needs "dateTime", "name", "emailAddress", "creditCard", "city", "state", "extra"`},
		{`{"type":"bid","auction":"1"}`, `field "auction": found a string: want an integer`},
		{`{"type":"bid","auction":null}`, `field "auction": found null: want an integer`},
		{`{"type":"bid","price":1.5}`, `field "price": 1.5 is not an integer`},
		{`{"type":"bid","price":1e3}`, `field "price": 1e3 is not an integer`},
		{`{"type":"bid","price":9223372036854775808}`, `field "price": 9223372036854775808 does not fit in an int64`},
		{`{"type":"bid","price":-9223372036854775809}`, `does not fit in an int64`},
		{`{"type":"bid","price":123456789012345678901234567890}`, `does not fit in an int64`},
		{`{"type":"bid","price":-}`, `field "price": found a number: want an integer`},
		{`{"type":"bid","channel":5}`, `field "channel": found a number: want a string`},
		{`{"type":"bid","name":5}`, `field "name": found a number: want a string`}, // a person's key
		{`{"type":"bid","channel":"abc`, `field "channel": the string is not closed`},
		{`{"type":"bid","channel":"a\qb"}`, `field "channel": bad escape \q in a string`},
		{`{"type":"bid","channel":"a\u12"}`, `field "channel": bad \u escape`},
		{"{\"type\":\"bid\",\"channel\":\"a\tb\"}", `field "channel": control character '\t' in a string: it must be escaped`},
		{`{"type":"bid" "auction":1}`, `after field "type": found '"': want ',' or '}'`},
		{`{"type" "bid"}`, `after key "type": found '"': want ':'`},
		{`{type:"bid"}`, `want a key: found 't': want a string`},
		{`{"type":"bid","x":[1,2}`, `field "x": found '}': want ',' or ']'`},
		{`{"type":"bid","x":nul}`, `field "x": found 'n': want a value`},
		{`{"type":"bid","x":-}`, `field "x": bad number -`},
		{`{"type":"bid","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, `nested deeper than 64`},
		{long, `want a key: found '}': want a string`},
	}
	for _, tc := range tests {
		_, err := ParseEvent([]byte(tc.line))
		if err == nil {
			t.Errorf("ParseEvent(%q) succeeded, want an error with %q", tc.line, tc.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "nexmark: bad event at byte ") {
			t.Errorf("ParseEvent(%q) = %q, want it to contain %q", tc.line, msg, tc.want)
		}
		if len(tc.line) > 0 && len(tc.line) <= maxQuoted && !strings.Contains(msg, "; line: ") {
			t.Errorf("ParseEvent(%q) = %q does not quote the line", tc.line, msg)
		}
	}
	_, err := ParseEvent([]byte(long))
	if msg := err.Error(); !strings.HasSuffix(msg, `…"`) || len(msg) > 600 {
		t.Errorf("a long line is quoted in full or not cut: %q", msg)
	}
}

func TestAppendJSONRejectsInconsistentEvents(t *testing.T) {
	for _, e := range []Event{{Kind: KindPerson}, {Kind: KindAuction}, {Kind: 9}} {
		dst := []byte("keep")
		got, err := e.AppendJSON(dst)
		if err == nil || string(got) != "keep" {
			t.Errorf("AppendJSON(%+v) = %q, %v; want an error and dst unchanged", e, got, err)
		}
		if _, err := json.Marshal(e); err == nil {
			t.Errorf("json.Marshal(%+v) succeeded", e)
		}
		if e.DateTime() != 0 {
			t.Errorf("DateTime of %+v = %d, want 0", e, e.DateTime())
		}
	}
}

func TestWriteJSONL(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 3000 // more than one 256 KiB chunk
	var out bytes.Buffer
	if err := WriteJSONL(&out, cfg); err != nil {
		t.Fatal(err)
	}
	if out.Len() < jsonlFlushSize {
		t.Fatalf("only %d bytes: the test does not cross a chunk", out.Len())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	n := int64(0)
	for sc.Scan() {
		e, err := ParseEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if want := cfg.Event(n); !reflect.DeepEqual(e, want) {
			t.Fatalf("line %d: %+v, want %+v", n+1, e, want)
		}
		n++
	}
	if n != cfg.Events {
		t.Errorf("%d lines, want %d", n, cfg.Events)
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestWriteJSONLErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 0 // unbounded: only the writer's failure ends it
	err := WriteJSONL(&failingWriter{after: 2}, cfg)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.HasPrefix(err.Error(), "nexmark: write events") {
		t.Errorf("unbounded write to a failing writer: %v", err)
	}
	cfg.Events = 10
	if err := WriteJSONL(&failingWriter{}, cfg); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("short write to a failing writer: %v", err)
	}
	cfg.FirstEventRate = 0
	var out bytes.Buffer
	if err := WriteJSONL(&out, cfg); err == nil || out.Len() != 0 {
		t.Errorf("invalid config: %v, %d bytes written", err, out.Len())
	}
}
