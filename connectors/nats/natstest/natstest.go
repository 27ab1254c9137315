// Package natstest gives tests a NATS server with JetStream and the few
// client steps they repeat: the machine's server when NATS_URL is set,
// otherwise an embedded nats-server on a random port with a store of its
// own; creating streams, publishing, and reading a stream back.
package natstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a nats-server run by a test, with JetStream on. With sync it
// fsyncs every write (PITFALLS: the default sync interval loses
// acknowledged writes on a crash).
type Server struct {
	t    testing.TB
	sync bool
	dir  string
	port int
	srv  *server.Server
}

// Start starts an embedded server with a fresh store, stopped when the
// test ends; sync false leaves syncing to the server's interval (for
// benchmarks).
func Start(t testing.TB, sync bool) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), port: -1, sync: sync}
	s.start()
	s.port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.dir, SyncAlways: s.sync,
		NoLog: true, NoSigs: true, JetStreamMaxMemory: 256 << 20, JetStreamMaxStore: 1 << 30,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("embedded nats-server did not start")
	}
	s.srv = srv
}

// Stop shuts the server down.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts it again on the same port and store.
func (s *Server) Restart() {
	s.Stop()
	s.start()
}

// URL is the server's address.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// URL returns NATS_URL when set, else the address of a new embedded server.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return Start(t, true).URL()
}

// Client connects a test's own client, closed when the test ends.
func Client(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
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

// Uniq gives names that do not collide on a shared server.
func Uniq(base string) string { return fmt.Sprintf("%s%d", base, rand.Uint32()) }

// AddStream creates a file stream of subjects, deleted when the test ends.
func AddStream(t testing.TB, js jetstream.JetStream, name string, subjects []string, dupes time.Duration) {
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

// PublishAll publishes payloads to subject and waits for every ack.
func PublishAll(t testing.TB, js jetstream.JetStream, subject string, payloads ...string) {
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

// Message is a stored message of a stream.
type Message struct {
	Subject string
	Data    string
	Header  nats.Header
	Seq     uint64
}

// ReadStream returns every message the stream stores, in sequence order.
func ReadStream(t testing.TB, js jetstream.JetStream, stream string) []Message {
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
	var out []Message
	for len(out) < n {
		b, err := c.Fetch(n-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range b.Messages() {
			md, _ := m.Metadata()
			out = append(out, Message{Subject: m.Subject(), Data: string(m.Data()), Header: m.Headers(), Seq: md.Sequence.Stream})
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

// Payloads returns the data of msgs, sorted.
func Payloads(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Data
	}
	slices.Sort(out)
	return out
}
