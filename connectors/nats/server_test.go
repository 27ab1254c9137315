package nats

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floestream/floe/connectors"
)

// embedded is a nats-server run by a test, with JetStream on and writes
// synced (PITFALLS: the default sync interval loses acknowledged writes on
// a crash).
type embedded struct {
	t    testing.TB
	sync bool // fsync every write (SyncAlways)
	dir  string
	port int
	srv  *server.Server
}

// startEmbedded starts a server on a random port with a fresh store.
func startEmbedded(t testing.TB) *embedded {
	t.Helper()
	return startEmbeddedSync(t, true)
}

// startEmbeddedSync starts a server that syncs each write or, for
// benchmarks, leaves syncing to the server's interval.
func startEmbeddedSync(t testing.TB, sync bool) *embedded {
	t.Helper()
	e := &embedded{t: t, dir: t.TempDir(), port: -1, sync: sync}
	e.start()
	e.port = e.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(e.stop)
	return e
}

func (e *embedded) start() {
	e.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir, SyncAlways: e.sync,
		NoLog: true, NoSigs: true, JetStreamMaxMemory: 256 << 20, JetStreamMaxStore: 1 << 30,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		e.t.Fatal("embedded nats-server did not start")
	}
	e.srv = srv
}

func (e *embedded) stop() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.srv = nil
	}
}

// restart stops the server and starts it again on the same port and store.
func (e *embedded) restart() {
	e.stop()
	e.start()
}

func (e *embedded) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", e.port) }

// testURL is the server of a test: NATS_URL when set, else an embedded one.
func testURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return startEmbedded(t).url()
}

// testConn is the Connection of a test, reconnecting quickly.
func testConn(url string) Connection {
	return Connection{URL: url, ReconnectWait: 50 * time.Millisecond, MaxReconnects: 200}
}

// client connects a test's own client.
func client(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// uniq gives names that do not collide on a shared server.
func uniq(base string) string { return fmt.Sprintf("%s%d", base, rand.Uint32()) }

// addStream creates a file stream of subjects and deletes it after the test.
func addStream(t testing.TB, js jetstream.JetStream, name string, subjects []string, dupes time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.FileStorage, Duplicates: dupes}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		js.DeleteStream(ctx, name)
	})
}

// publishAll publishes payloads to subject, synchronously.
func publishAll(t testing.TB, js jetstream.JetStream, subject string, payloads ...string) {
	t.Helper()
	for i, p := range payloads {
		if _, err := js.PublishAsync(subject, []byte(p)); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 || i == len(payloads)-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Fatal("publishes not acknowledged")
			}
		}
	}
}

// streamMessage is a stored message of a test stream.
type streamMessage struct {
	Subject string
	Data    string
	Header  nats.Header
	Seq     uint64
}

// readStream returns every message stream stores, in sequence order.
func readStream(t testing.TB, js jetstream.JetStream, stream string) []streamMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := int(info.State.Msgs)
	if n == 0 {
		return nil
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []streamMessage
	for len(out) < n {
		b, err := c.Fetch(n-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range b.Messages() {
			md, _ := m.Metadata()
			out = append(out, streamMessage{Subject: m.Subject(), Data: string(m.Data()), Header: m.Headers(), Seq: md.Sequence.Stream})
			got++
		}
		if err := b.Error(); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			t.Fatalf("stream %q: read %d of %d messages", stream, len(out), n)
		}
	}
	return out
}

// payloads returns the data of msgs, sorted.
func payloads(msgs []streamMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Data
	}
	slices.Sort(out)
	return out
}

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
