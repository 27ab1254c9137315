package nats

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/nats/natstest"
)

// The test server and client steps live in natstest, shared with the
// samples' tests; these names keep this package's tests short.
type (
	embedded      = natstest.Server
	streamMessage = natstest.Message
)

func startEmbedded(t testing.TB) *embedded { return natstest.Start(t, true) }

func startEmbeddedSync(t testing.TB, sync bool) *embedded { return natstest.Start(t, sync) }

// testURL is the server of a test: NATS_URL when set, else an embedded one.
func testURL(t testing.TB) string { return natstest.URL(t) }

// testConn is the Connection of a test, reconnecting quickly.
func testConn(url string) Connection {
	return Connection{URL: url, ReconnectWait: 50 * time.Millisecond, MaxReconnects: 200}
}

func client(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	return natstest.Client(t, url)
}

func uniq(base string) string { return natstest.Uniq(base) }

func addStream(t testing.TB, js jetstream.JetStream, name string, subjects []string, dupes time.Duration) {
	natstest.AddStream(t, js, name, subjects, dupes)
}

func publishAll(t testing.TB, js jetstream.JetStream, subject string, payloads ...string) {
	natstest.PublishAll(t, js, subject, payloads...)
}

func readStream(t testing.TB, js jetstream.JetStream, stream string) []streamMessage {
	return natstest.ReadStream(t, js, stream)
}

func payloads(msgs []streamMessage) []string { return natstest.Payloads(msgs) }

func info(i, p int) connectors.SubtaskInfo {
	return connectors.SubtaskInfo{Job: "job", Operator: "op", Index: i, Parallelism: p}
}

// collect gathers what readers emit, by split.
type collect[T any] struct {
	bySplit  map[string][]T
	finished []string
}

func newCollect[T any]() *collect[T] { return &collect[T]{bySplit: map[string][]T{}} }

func (c *collect[T]) Collect(v T) { c.bySplit[""] = append(c.bySplit[""], v) }
func (c *collect[T]) ForSplit(s string) connectors.Collector[T] {
	return connectors.CollectorFunc[T](func(v T) { c.bySplit[s] = append(c.bySplit[s], v) })
}
func (c *collect[T]) FinishSplit(s string) { c.finished = append(c.finished, s) }
func (c *collect[T]) all() []T {
	var out []T
	for _, vs := range c.bySplit {
		out = append(out, vs...)
	}
	return out
}
func (c *collect[T]) total() int { return len(c.all()) }

// pollUntil polls r until cond holds or the reader ends, failing after 30 s.
func pollUntil[T any](t testing.TB, r connectors.SourceReader[T], out connectors.Collector[T], cond func() bool) connectors.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		st, err := r.Poll(out, 100)
		if err != nil {
			t.Fatal(err)
		}
		if st == connectors.EndOfInput {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out polling")
		}
	}
	return connectors.MoreAvailable
}

func records(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return out
}

func mustContain(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}
