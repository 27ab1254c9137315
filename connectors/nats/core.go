package nats

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/floestream/floe/connectors"
)

// CoreSource reads a subject of core NATS: at most once, as core NATS
// delivers. Messages published while no reader is subscribed (before the
// job starts, during a restart or a failover) are never seen, and a reader
// that falls too far behind drops messages (the server and the client cut
// off slow consumers). The subtasks of a source share the messages through
// a queue group, floe.<job>.<operator> by default, so each message goes to
// one of them. A checkpoint records no position: CoreSource is a
// connectors.RestorableSource only so that jobs with checkpoints can use
// it, and a restored reader simply subscribes again.
type CoreSource[T any] struct {
	conn    Connection
	subject string
	queue   string
	serde   Serde[T]
	bad     BadMessages
}

// coreBuffer is how many messages a core reader holds before the client
// drops messages as a slow consumer.
const coreBuffer = 1 << 16

// NewCoreSource reads subject (wildcards allowed), decoding payloads with
// serde (nil: JSON).
func NewCoreSource[T any](conn Connection, subject string, serde Serde[T]) *CoreSource[T] {
	if serde == nil {
		serde = JSON[T]()
	}
	return &CoreSource[T]{conn: conn, subject: subject, serde: serde}
}

// WithQueueGroup returns a copy of s whose readers join queue group q.
func (s *CoreSource[T]) WithQueueGroup(q string) *CoreSource[T] {
	c := *s
	c.queue = q
	return &c
}

// WithBadMessages returns a copy of s that treats undecodable messages as
// b says (the default is FailOnBadMessage).
func (s *CoreSource[T]) WithBadMessages(b BadMessages) *CoreSource[T] {
	c := *s
	c.bad = b
	return &c
}

// Reader subscribes subtask info to the subject.
func (s *CoreSource[T]) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if s.subject == "" {
		return nil, errors.New("core NATS source: no subject named: say which subject to read (nats://host:port/<subject>?core=true)")
	}
	nc, err := s.conn.connect(clientName(info.Job, info.Operator, info.Index))
	if err != nil {
		return nil, err
	}
	r := &coreReader[T]{src: s, info: info, nc: nc, ch: make(chan *nats.Msg, coreBuffer)}
	if r.dead, err = openDeadLetters(nc, s.bad, info); err != nil {
		nc.Close()
		return nil, fmt.Errorf("core NATS source %s: %w", info, err)
	}
	q := s.queue
	if q == "" {
		q = "floe." + info.Job + "." + info.Operator
	}
	if r.sub, err = nc.ChanQueueSubscribe(s.subject, q, r.ch); err != nil {
		nc.Close()
		return nil, fmt.Errorf("core NATS source %s: subscribe to %q: %w", info, s.subject, err)
	}
	// The subscription is in place once the server has seen it.
	if err := nc.FlushTimeout(apiTimeout); err != nil {
		nc.Close()
		return nil, fmt.Errorf("core NATS source %s: subscribe to %q: %w", info, s.subject, err)
	}
	return r, nil
}

// RestoreReader subscribes again: core NATS has no position to resume.
func (s *CoreSource[T]) RestoreReader(info connectors.SubtaskInfo, _ []connectors.SplitState) (connectors.SourceReader[T], error) {
	return s.Reader(info)
}

type coreReader[T any] struct {
	src  *CoreSource[T]
	info connectors.SubtaskInfo
	nc   *nats.Conn
	sub  *nats.Subscription
	ch   chan *nats.Msg
	dead *deadLetters
}

// Poll emits up to max received messages, waiting at most about a
// millisecond for the first.
func (r *coreReader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	emitted := 0
	for emitted < max {
		var m *nats.Msg
		select {
		case m = <-r.ch:
		default:
			if emitted > 0 {
				return connectors.MoreAvailable, nil
			}
			if r.nc.IsClosed() {
				return connectors.NothingAvailable, fmt.Errorf("core NATS source %s: the connection to %s is closed (the server was gone longer than the reconnect attempts)", r.info, redact(r.src.conn.Servers()))
			}
			t := time.NewTimer(pollWait)
			select {
			case m = <-r.ch:
				t.Stop()
			case <-t.C:
				return connectors.NothingAvailable, nil
			}
		}
		v, err := r.src.serde.Decode(m.Data)
		if err != nil {
			if r.dead == nil {
				return connectors.NothingAvailable, fmt.Errorf("core NATS source %s: message on %q: %w: read with a dead-letter subject to skip such messages", r.info, m.Subject, err)
			}
			if err := r.dead.send(m.Data, m.Subject, err, "", 0); err != nil {
				return connectors.NothingAvailable, fmt.Errorf("core NATS source %s: %w", r.info, err)
			}
			continue
		}
		out.Collect(v)
		emitted++
	}
	return connectors.MoreAvailable, nil
}

// SnapshotSplits records nothing: core NATS has no position.
func (r *coreReader[T]) SnapshotSplits() ([]connectors.SplitState, error) { return nil, nil }

// Close unsubscribes and closes the connection.
func (r *coreReader[T]) Close() error {
	r.nc.Close()
	return nil
}

// CoreSink publishes records to a subject of core NATS, at most once:
// subscribers that are not connected never get them, and nothing is
// stored. Flush waits until the server has received everything published.
type CoreSink[T any] struct {
	conn    Connection
	subject string
	serde   Serde[T]
}

// NewCoreSink publishes to subject, encoding records with serde (nil: JSON).
func NewCoreSink[T any](conn Connection, subject string, serde Serde[T]) *CoreSink[T] {
	if serde == nil {
		serde = JSON[T]()
	}
	return &CoreSink[T]{conn: conn, subject: subject, serde: serde}
}

// Writer opens subtask info's connection.
func (s *CoreSink[T]) Writer(info connectors.SubtaskInfo) (connectors.SinkWriter[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if s.subject == "" {
		return nil, errors.New("core NATS sink: no subject named: say which subject to publish to (nats://host:port/<subject>?core=true)")
	}
	nc, err := s.conn.connect(clientName(info.Job, info.Operator, info.Index))
	if err != nil {
		return nil, err
	}
	return &coreWriter[T]{sink: s, info: info, nc: nc}, nil
}

type coreWriter[T any] struct {
	sink *CoreSink[T]
	info connectors.SubtaskInfo
	nc   *nats.Conn
	buf  []byte
}

func (w *coreWriter[T]) Write(record T) error {
	var err error
	if w.buf, err = w.sink.serde.Encode(w.buf[:0], record); err != nil {
		return fmt.Errorf("core NATS sink %s: %w", w.info, err)
	}
	// Publish copies the payload into the connection's buffer.
	if err := w.nc.Publish(w.sink.subject, w.buf); err != nil {
		return fmt.Errorf("core NATS sink %s: publish to %q: %w", w.info, w.sink.subject, err)
	}
	return nil
}

func (w *coreWriter[T]) Flush() error {
	if err := w.nc.FlushTimeout(apiTimeout); err != nil {
		return fmt.Errorf("core NATS sink %s: flush to %s: %w", w.info, redact(w.sink.conn.Servers()), err)
	}
	return nil
}

func (w *coreWriter[T]) Close() error {
	err := w.Flush()
	w.nc.Close()
	return err
}
