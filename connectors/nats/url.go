package nats

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floestream/floe/connectors"
)

// Endpoint is what a NATS URL names:
//
//	nats://host:port/<stream>/<subject>[?bounded=true]   JetStream
//	nats://host:port/<subject>?core=true                 core NATS
//
// tls:// instead of nats:// requires TLS; user:password@ or token@ before
// the host authenticates. An empty host (nats:///EVENTS/events.>) means the
// server of NATS_URL, or DefaultURL. <subject> may list several subject
// filters separated by commas, each a split of a JetStream source. Query
// parameters:
//
//	bounded=true             JetStream source: read what is there, then end
//	core=true                core NATS instead of JetStream
//	partitions=N             the subjects <subject>.0 … <subject>.N-1
//	dead_letter=SUBJECT      sources: publish undecodable messages there (default: fail)
//	delivery=at-least-once   JetStream sink: publish at once (default: exactly-once)
//	dupe_window=DURATION     JetStream sink: the duplicate window the stream must have (default 2m)
//	queue=GROUP              core source: the queue group of the subtasks
//	creds=FILE               user credentials file
//	tls_ca=FILE, tls_cert=FILE, tls_key=FILE   TLS files
type Endpoint struct {
	Conn        Connection
	Stream      string // empty for core NATS
	Subjects    []string
	Core        bool
	Bounded     bool
	AtLeastOnce bool
	DeadLetter  string
	DupeWindow  time.Duration // 0: DefaultDuplicateWindow
	Queue       string
}

// IsURL reports whether s is a NATS URL rather than a file path.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "nats://") || strings.HasPrefix(s, "tls://")
}

var urlParams = []string{"bounded", "core", "partitions", "dead_letter", "delivery", "dupe_window", "queue", "creds", "tls_ca", "tls_cert", "tls_key"}

// ParseURL parses a NATS URL (see Endpoint).
func ParseURL(raw string) (Endpoint, error) {
	var e Endpoint
	bad := func(format string, args ...any) (Endpoint, error) {
		return Endpoint{}, fmt.Errorf("NATS URL %q: %s; want nats://host:port/<stream>/<subject>[?bounded=true] (JetStream) or nats://host:port/<subject>?core=true",
			redact(raw), fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v", err)
	}
	if u.Scheme != "nats" && u.Scheme != "tls" {
		return bad("the scheme must be nats:// or tls://")
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(urlParams, k) {
			return bad("unknown parameter %q (known: %s)", k, strings.Join(urlParams, ", "))
		}
	}
	flag := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("parameter %s=%q is not true or false", name, v)
		}
		return b, nil
	}
	if e.Core, err = flag("core"); err != nil {
		return bad("%v", err)
	}
	if e.Bounded, err = flag("bounded"); err != nil {
		return bad("%v", err)
	}
	if u.Host != "" {
		server := url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host}
		e.Conn.URL = server.String()
	}
	e.Conn.CredsFile = q.Get("creds")
	e.Conn.CAFile, e.Conn.CertFile, e.Conn.KeyFile = q.Get("tls_ca"), q.Get("tls_cert"), q.Get("tls_key")
	e.DeadLetter, e.Queue = q.Get("dead_letter"), q.Get("queue")
	switch d := q.Get("delivery"); d {
	case "", "exactly-once":
	case "at-least-once":
		e.AtLeastOnce = true
	default:
		return bad("delivery=%q: say exactly-once or at-least-once", d)
	}
	if w := q.Get("dupe_window"); w != "" {
		if e.DupeWindow, err = time.ParseDuration(w); err != nil || e.DupeWindow <= 0 {
			return bad("dupe_window=%q is not a positive duration such as 2m", w)
		}
	}
	segments := strings.Split(strings.Trim(u.Path, "/"), "/")
	var subjects string
	switch {
	case e.Core && len(segments) == 1 && segments[0] != "":
		subjects = segments[0]
		if e.Bounded {
			return bad("core NATS cannot be bounded: it keeps no messages to read to an end")
		}
	case e.Core:
		return bad("a core NATS URL names one subject and no stream")
	case len(segments) == 2 && segments[0] != "" && segments[1] != "":
		e.Stream, subjects = segments[0], segments[1]
	default:
		return bad("a JetStream URL names a stream and a subject")
	}
	for s := range strings.SplitSeq(subjects, ",") {
		if s == "" {
			return bad("empty subject in %q", subjects)
		}
		e.Subjects = append(e.Subjects, s)
	}
	if p := q.Get("partitions"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || len(e.Subjects) != 1 {
			return bad("partitions=%q needs a positive number and one subject", p)
		}
		e.Subjects = Partitions(e.Subjects[0], n)
	}
	return e, nil
}

// SourceFromURL returns the source a NATS URL names, decoding payloads
// with serde (nil: JSON).
func SourceFromURL[T any](raw string, serde Serde[T]) (connectors.Source[T], error) {
	e, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	bad := FailOnBadMessage
	if e.DeadLetter != "" {
		bad = DeadLetter(e.DeadLetter)
	}
	if e.Core {
		if len(e.Subjects) != 1 {
			return nil, fmt.Errorf("NATS URL %q: a core NATS source reads one subject (wildcards allowed), not %d", redact(raw), len(e.Subjects))
		}
		return NewCoreSource(e.Conn, e.Subjects[0], serde).WithQueueGroup(e.Queue).WithBadMessages(bad), nil
	}
	s := NewJetStreamSource(e.Conn, e.Stream, e.Subjects, serde).WithBadMessages(bad)
	if e.Bounded {
		s = s.Bounded()
	}
	return s, nil
}

// SinkFromURL returns the sink a NATS URL names, encoding records with
// serde (nil: JSON). A JetStream sink is exactly-once in runs with
// checkpoints unless the URL says delivery=at-least-once.
func SinkFromURL[T any](raw string, serde Serde[T]) (connectors.Sink[T], error) {
	e, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if len(e.Subjects) != 1 || strings.ContainsAny(e.Subjects[0], "*>") {
		return nil, fmt.Errorf("NATS URL %q: a sink publishes to one subject without wildcards", redact(raw))
	}
	if e.Bounded || e.DeadLetter != "" || e.Queue != "" {
		return nil, fmt.Errorf("NATS URL %q: bounded, dead_letter and queue are parameters of sources, not of sinks", redact(raw))
	}
	if e.Core {
		return NewCoreSink(e.Conn, e.Subjects[0], serde), nil
	}
	s := NewJetStreamSink(e.Conn, e.Stream, e.Subjects[0], serde)
	if e.AtLeastOnce {
		s = s.AtLeastOnce()
	}
	if e.DupeWindow > 0 {
		s = s.WithDuplicateWindow(e.DupeWindow)
	}
	return s, nil
}

// LineSourceFromURL returns the source a NATS URL names, one line of text
// per message: what samples read from a file path, read from NATS.
func LineSourceFromURL(raw string) (connectors.Source[string], error) {
	return SourceFromURL(raw, Lines())
}

// LineSinkFromURL returns the sink a NATS URL names, one line of text per
// message.
func LineSinkFromURL(raw string) (connectors.Sink[string], error) {
	return SinkFromURL(raw, Lines())
}
