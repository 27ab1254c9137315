package nats

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	t.Setenv("NATS_URL", "nats://envhost:4222")
	for _, c := range []struct {
		url  string
		want Endpoint
	}{
		{"nats://h:4222/EVENTS/events.in", Endpoint{Conn: Connection{URL: "nats://h:4222"}, Stream: "EVENTS", Subjects: []string{"events.in"}}},
		{"nats://h:4222/EVENTS/events.>?bounded=true", Endpoint{Conn: Connection{URL: "nats://h:4222"}, Stream: "EVENTS", Subjects: []string{"events.>"}, Bounded: true}},
		{"nats:///EVENTS/e?partitions=3&dead_letter=dlq", Endpoint{Stream: "EVENTS", Subjects: []string{"e.0", "e.1", "e.2"}, DeadLetter: "dlq"}},
		{"nats://u:p@h/EVENTS/a,b?delivery=at-least-once&creds=/c&tls_ca=/ca", Endpoint{Conn: Connection{URL: "nats://u:p@h", CredsFile: "/c", CAFile: "/ca"}, Stream: "EVENTS", Subjects: []string{"a", "b"}, AtLeastOnce: true}},
		{"tls://h:4222/OUT/out?dupe_window=5m", Endpoint{Conn: Connection{URL: "tls://h:4222"}, Stream: "OUT", Subjects: []string{"out"}, DupeWindow: 5 * time.Minute}},
		{"nats://h:4222/ticks.*?core=true&queue=q", Endpoint{Conn: Connection{URL: "nats://h:4222"}, Core: true, Subjects: []string{"ticks.*"}, Queue: "q"}},
	} {
		got, err := ParseURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got.Conn.URL != c.want.Conn.URL || got.Conn.CredsFile != c.want.Conn.CredsFile || got.Conn.CAFile != c.want.Conn.CAFile ||
			got.Stream != c.want.Stream || !slices.Equal(got.Subjects, c.want.Subjects) || got.Core != c.want.Core ||
			got.Bounded != c.want.Bounded || got.AtLeastOnce != c.want.AtLeastOnce || got.DeadLetter != c.want.DeadLetter ||
			got.DupeWindow != c.want.DupeWindow || got.Queue != c.want.Queue {
			t.Errorf("%s:\n got %+v\nwant %+v", c.url, got, c.want)
		}
	}
	if got, _ := ParseURL("nats:///S/s"); got.Conn.Servers() != "nats://envhost:4222" {
		t.Errorf("empty host uses %q, want NATS_URL", got.Conn.Servers())
	}
	for url, want := range map[string]string{
		"http://h/S/s":                   "scheme",
		"nats://h/onlyone":               "names a stream and a subject",
		"nats://h/S/s/extra":             "names a stream and a subject",
		"nats://h/S/s?core=true":         "one subject and no stream",
		"nats://h/s?core=true&bounded=1": "cannot be bounded",
		"nats://h/S/s?bounded=maybe":     "true or false",
		"nats://h/S/s?colour=red":        `unknown parameter "colour"`,
		"nats://h/S/s?delivery=twice":    "exactly-once or at-least-once",
		"nats://h/S/a,,b":                "empty subject",
		"nats://u:secret@h/S/s?x=1":      "***",
	} {
		_, err := ParseURL(url)
		mustContain(t, err, want)
	}
	if _, err := ParseURL("nats://u:secret@h/S/s?x=1"); err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
	if !IsURL("nats://h/S/s") || !IsURL("tls://h/S/s") || IsURL("/tmp/in.txt") || IsURL("in.txt") {
		t.Error("IsURL")
	}
	if _, err := LineSinkFromURL("nats://h/S/out.*"); err == nil {
		t.Error("a sink accepted a wildcard subject")
	}
	if _, err := LineSinkFromURL("nats://h/S/out?bounded=true"); err == nil {
		t.Error("a sink accepted bounded")
	}
}

// TestFromURLTypes checks which connector a URL makes.
func TestFromURLTypes(t *testing.T) {
	src, err := LineSourceFromURL("nats://h/S/s?bounded=true")
	if js, ok := src.(*JetStreamSource[string]); err != nil || !ok || !js.bounded {
		t.Errorf("JetStream URL made %T, %v", src, err)
	}
	src, err = LineSourceFromURL("nats://h/s?core=true")
	if _, ok := src.(*CoreSource[string]); err != nil || !ok {
		t.Errorf("core URL made %T, %v", src, err)
	}
	sink, err := LineSinkFromURL("nats://h/S/s?delivery=at-least-once")
	if js, ok := sink.(*JetStreamSink[string]); err != nil || !ok || !js.atLeastOnce {
		t.Errorf("JetStream sink URL made %T, %v", sink, err)
	}
	esink, err := SinkFromURL[event]("nats://h/s?core=true", nil)
	if _, ok := esink.(*CoreSink[event]); err != nil || !ok {
		t.Errorf("core sink URL made %T, %v", esink, err)
	}
}

func TestMissingStreamFromURL(t *testing.T) {
	url := testURL(t)
	src, err := LineSourceFromURL(url + "/MISSING/missing.in?bounded=true")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, src.(interface{ Validate() error }).Validate(), `"MISSING"`, `"missing.in"`, "stream add MISSING")
	sink, err := LineSinkFromURL(url + "/MISSING/missing.out")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, sink.(interface{ Validate() error }).Validate(), `"MISSING"`, "missing.out", "stream add MISSING")
}
