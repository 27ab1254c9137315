package nats

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floestream/floe/connectors"
)

// JetStreamSource reads subjects of a JetStream stream. Each subject filter
// is a split: in a fresh run subtask i of p reads the filters at indexes
// i, i+p, i+2p, …, so a stream partitioned by subject (Partitions) is read
// in parallel. A split's position is the stream sequence of the last
// message it delivered; a checkpoint records it, and a restored reader, at
// any parallelism, resumes exactly after it with a new ordered consumer.
// No durable consumer is created and no consumer state is trusted.
//
// Unbounded (the default) the source reads until the job is stopped.
// Bounded, each split reads up to the last message its subject had when
// the split was first opened, then finishes; a checkpoint records that end,
// so a restored bounded run ends at the same messages.
//
// A JetStreamSource holds configuration only and is safe to share between
// runs. It implements connectors.RestorableSource and connectors.Validator.
type JetStreamSource[T any] struct {
	conn     Connection
	stream   string
	subjects []string
	serde    Serde[T]
	bounded  bool
	bad      BadMessages
	// decode turns a stored message into a record: serde.Decode of its
	// payload, or more (NewJetStreamEnvelopeSource).
	decode func(m jetstream.Msg, seq uint64) (T, error)
}

// NewJetStreamSource reads subjects (subject filters, wildcards allowed,
// not overlapping) of stream, decoding payloads with serde (nil: JSON).
// The filters name the splits and must stay the same across restores.
func NewJetStreamSource[T any](conn Connection, stream string, subjects []string, serde Serde[T]) *JetStreamSource[T] {
	if serde == nil {
		serde = JSON[T]()
	}
	return &JetStreamSource[T]{conn: conn, stream: stream, subjects: subjects, serde: serde,
		decode: func(m jetstream.Msg, _ uint64) (T, error) { return serde.Decode(m.Data()) }}
}

// Envelope is a message's decoded payload with where and when JetStream
// stored it.
type Envelope[T any] struct {
	Value     T
	Subject   string
	Sequence  uint64 // the stream sequence
	Timestamp int64  // when the stream stored the message, epoch milliseconds
}

// NewJetStreamEnvelopeSource is NewJetStreamSource whose records carry the
// message's subject, stream sequence and stream timestamp: what a job uses
// for event time when the payload has none, e.g.
//
//	topology.FromSourceWithWatermarks(j, "events", src,
//		timers.BoundedOutOfOrderness(time.Second, func(e nats.Envelope[Order]) int64 { return e.Timestamp }))
func NewJetStreamEnvelopeSource[T any](conn Connection, stream string, subjects []string, serde Serde[T]) *JetStreamSource[Envelope[T]] {
	if serde == nil {
		serde = JSON[T]()
	}
	return &JetStreamSource[Envelope[T]]{conn: conn, stream: stream, subjects: subjects, serde: envelopeSerde[T]{serde},
		decode: func(m jetstream.Msg, seq uint64) (Envelope[T], error) {
			v, err := serde.Decode(m.Data())
			if err != nil {
				return Envelope[T]{}, err
			}
			e := Envelope[T]{Value: v, Subject: m.Subject(), Sequence: seq}
			if md, err := m.Metadata(); err == nil {
				e.Timestamp = md.Timestamp.UnixMilli()
			}
			return e, nil
		}}
}

// envelopeSerde encodes an envelope's value; decoding goes through the
// source's decode, which sees the message's metadata.
type envelopeSerde[T any] struct{ Serde[T] }

func (s envelopeSerde[T]) Encode(buf []byte, e Envelope[T]) ([]byte, error) {
	return s.Serde.Encode(buf, e.Value)
}
func (s envelopeSerde[T]) Decode(data []byte) (Envelope[T], error) {
	v, err := s.Serde.Decode(data)
	return Envelope[T]{Value: v}, err
}

// Bounded returns a copy of s that reads each split up to its subject's
// last message at the time the split is first opened, then ends.
func (s *JetStreamSource[T]) Bounded() *JetStreamSource[T] {
	c := *s
	c.bounded = true
	return &c
}

// WithBadMessages returns a copy of s that treats undecodable messages as
// b says (the default is FailOnBadMessage).
func (s *JetStreamSource[T]) WithBadMessages(b BadMessages) *JetStreamSource[T] {
	c := *s
	c.bad = b
	return &c
}

// Validate checks that the stream exists and stores every subject.
func (s *JetStreamSource[T]) Validate() error {
	if err := s.check(); err != nil {
		return err
	}
	nc, err := s.conn.connect("floe validate")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := lookupStream(js, s.conn.Servers(), s.stream, s.subjects); err != nil {
		return err
	}
	return checkCaptures(js, s.conn.Servers(), s.stream, s.subjects)
}

func (s *JetStreamSource[T]) check() error {
	if s.stream == "" {
		return errors.New("JetStream source: no stream named: say which stream to read (nats://host:port/<stream>/<subject>)")
	}
	if len(s.subjects) == 0 {
		return fmt.Errorf("JetStream source of stream %q: no subject named: say which subjects to read", s.stream)
	}
	seen := map[string]bool{}
	for _, subj := range s.subjects {
		if subj == "" || seen[subj] {
			return fmt.Errorf("JetStream source of stream %q: subjects %q must be distinct and not empty", s.stream, s.subjects)
		}
		seen[subj] = true
	}
	return nil
}

// Reader opens subtask info's share of the subjects, each from the start
// of the stream.
func (s *JetStreamSource[T]) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	var splits []split
	for i := info.Index; i < len(s.subjects); i += info.Parallelism {
		splits = append(splits, split{subject: s.subjects[i], fresh: true})
	}
	return s.open(info, splits)
}

// RestoreReader opens a reader of exactly splits, each resuming after its
// recorded sequence. A bounded source keeps a split's recorded end (or
// finds one, for a split recorded by an unbounded run); an unbounded source
// reads past it.
func (s *JetStreamSource[T]) RestoreReader(info connectors.SubtaskInfo, states []connectors.SplitState) (connectors.SourceReader[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	splits := make([]split, 0, len(states))
	for _, st := range states {
		sp, err := decodeSplit(st, s.stream)
		if err != nil {
			return nil, err
		}
		splits = append(splits, sp)
	}
	return s.open(info, splits)
}

// split is one subject filter's position.
type split struct {
	subject string
	last    uint64 // stream sequence of the last message delivered; 0: none
	bounded bool
	stop    uint64 // bounded: the sequence to read up to, inclusive
	fresh   bool   // not yet opened: a bounded split finds its end
	done    bool   // finished (reported through FinishSplit)
}

// splitStateVersion is the first byte of an encoded split position.
const splitStateVersion = 1

// state encodes the position: version, flags (bit 0: bounded), last and
// stop as uvarints, then the stream name.
func (sp *split) state(stream string) connectors.SplitState {
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(stream))
	var flags byte
	if sp.bounded {
		flags = 1
	}
	b = append(b, splitStateVersion, flags)
	b = binary.AppendUvarint(b, sp.last)
	b = binary.AppendUvarint(b, sp.stop)
	b = append(b, stream...)
	return connectors.SplitState{Split: sp.subject, State: b}
}

func decodeSplit(st connectors.SplitState, stream string) (split, error) {
	b := st.State
	bad := func() (split, error) {
		return split{}, fmt.Errorf("JetStream source: split %q: the position (%d bytes) is not one of a JetStream source: restore the job with the source it was checkpointed with", st.Split, len(b))
	}
	if len(b) < 2 || b[0] != splitStateVersion || b[1] > 1 {
		return bad()
	}
	sp := split{subject: st.Split, bounded: b[1] == 1}
	rest := b[2:]
	var k int
	if sp.last, k = binary.Uvarint(rest); k <= 0 {
		return bad()
	}
	rest = rest[k:]
	if sp.stop, k = binary.Uvarint(rest); k <= 0 {
		return bad()
	}
	if got := string(rest[k:]); got != stream {
		return split{}, fmt.Errorf("JetStream source: split %q was recorded reading stream %q, but the source reads stream %q: restore with the stream it was checkpointed with", st.Split, got, stream)
	}
	return sp, nil
}

// Tuning of the reader.
const (
	// pullBatch is how many messages an ordered consumer asks for at once
	// (and buffers).
	pullBatch = 512
	// queueSize bounds the messages fetched ahead of Poll.
	queueSize = 1024
	// pollWait is how long an empty Poll waits for a first message before
	// it returns, so that a reader waiting for data neither spins nor
	// blocks its subtask.
	pollWait = time.Millisecond
	// maxResetAttempts bounds how often an ordered consumer tries to
	// recreate itself (after a reconnect, a missed heartbeat or a gap)
	// before the reader fails (about a minute with its back-off).
	maxResetAttempts = 10
)

// delivery is what a split's fetcher hands to Poll: a message, its
// sequence, whether it is the split's last; or an error.
type delivery struct {
	split int
	msg   jetstream.Msg
	seq   uint64
	end   bool
	err   error
}

// jsReader reads splits through one ordered consumer each. A fetcher
// goroutine per split waits on its consumer and queues messages; Poll, on
// the subtask's goroutine, takes them from the queue without blocking for
// long, decodes them and advances the split positions. Positions move only
// in Poll, so a snapshot covers exactly what was emitted.
type jsReader[T any] struct {
	src    *JetStreamSource[T]
	info   connectors.SubtaskInfo
	nc     *nats.Conn
	dead   *deadLetters
	splits []split
	active int // splits not done
	queue  chan delivery
	iters  []jetstream.MessagesContext
	done   chan struct{}
	wg     sync.WaitGroup
	closed bool
	fault  error // a fetcher's error, once Poll has seen it
	// announced: every split was named to the SplitOutput (first Poll).
	announced bool
}

func (s *JetStreamSource[T]) open(info connectors.SubtaskInfo, splits []split) (connectors.SourceReader[T], error) {
	r := &jsReader[T]{src: s, info: info, splits: splits, active: len(splits),
		queue: make(chan delivery, queueSize), done: make(chan struct{})}
	if len(splits) == 0 {
		return r, nil
	}
	nc, err := s.conn.connect(clientName(info.Job, info.Operator, info.Index))
	if err != nil {
		return nil, err
	}
	r.nc = nc
	fail := func(err error) (connectors.SourceReader[T], error) {
		r.Close()
		return nil, fmt.Errorf("JetStream source %s: %w", info, err)
	}
	if r.dead, err = openDeadLetters(nc, s.bad, info); err != nil {
		return fail(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(err)
	}
	subjects := make([]string, len(splits))
	for i, sp := range splits {
		subjects[i] = sp.subject
	}
	stream, err := lookupStream(js, s.conn.Servers(), s.stream, subjects)
	if err != nil {
		return fail(err)
	}
	for i := range r.splits {
		sp := &r.splits[i]
		if !s.bounded {
			sp.bounded, sp.stop = false, 0
		} else if sp.fresh || !sp.bounded {
			if sp.stop, err = lastSequence(stream, sp.subject); err != nil {
				return fail(err)
			}
			sp.bounded = true
		}
		sp.fresh = false
		if sp.bounded && sp.last >= sp.stop {
			continue // finished by the first Poll
		}
		ctx, cancel := apiContext()
		cons, err := js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects:   []string{sp.subject},
			DeliverPolicy:    jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:      sp.last + 1,
			MaxResetAttempts: maxResetAttempts,
		})
		cancel()
		if err != nil {
			return fail(fmt.Errorf("subject %q: %w", sp.subject, err))
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
		if err != nil {
			return fail(fmt.Errorf("read subject %q of stream %q: %w", sp.subject, s.stream, err))
		}
		r.iters = append(r.iters, it)
		r.wg.Add(1)
		go r.fetch(i, it, *sp)
	}
	return r, nil
}

// lastSequence is the sequence of subject's last message in the stream, 0
// when it has none.
func lastSequence(stream jetstream.Stream, subject string) (uint64, error) {
	ctx, cancel := apiContext()
	defer cancel()
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find the last message of subject %q: %w", subject, err)
	}
	return m.Sequence, nil
}

// fetch queues the messages of split i. An ordered consumer delivers each
// message once and in order, recreating itself after the last message it
// delivered when it loses its place; it needs no acknowledgements.
func (r *jsReader[T]) fetch(i int, it jetstream.MessagesContext, sp split) {
	defer r.wg.Done()
	put := func(d delivery) bool {
		select {
		case r.queue <- d:
			return true
		case <-r.done:
			return false
		}
	}
	for {
		m, err := it.Next()
		if err != nil {
			select {
			case <-r.done:
				return
			default:
			}
			put(delivery{split: i, err: fmt.Errorf("read subject %q of stream %q: %w", sp.subject, r.src.stream, err)})
			return
		}
		meta, err := m.Metadata()
		if err != nil {
			put(delivery{split: i, err: fmt.Errorf("subject %q of stream %q: %w", sp.subject, r.src.stream, err)})
			return
		}
		seq := meta.Sequence.Stream
		if sp.bounded && seq > sp.stop {
			// The end message was removed (limits, a purge) and this
			// one came later: it is not part of the bounded input.
			put(delivery{split: i, end: true})
			it.Stop()
			return
		}
		// NumPending 0 below the end: the end message was removed.
		end := sp.bounded && (seq == sp.stop || meta.NumPending == 0)
		if !put(delivery{split: i, msg: m, seq: seq, end: end}) || end {
			it.Stop()
			return
		}
	}
}

// Poll emits up to max queued messages, each through its split's collector
// when out is a connectors.SplitOutput, and finishes splits that reached
// their end. It waits at most about a millisecond for a first message.
func (r *jsReader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	if r.fault != nil {
		return connectors.NothingAvailable, r.fault
	}
	if r.closed {
		return connectors.EndOfInput, errors.New("poll after the reader was closed")
	}
	so, _ := out.(connectors.SplitOutput[T])
	if so != nil && !r.announced {
		// Every split holds the watermark back from the start.
		r.announced = true
		for i := range r.splits {
			if !r.splits[i].done {
				so.ForSplit(r.splits[i].subject)
			}
		}
	}
	for i := range r.splits {
		if sp := &r.splits[i]; !sp.done && sp.bounded && sp.last >= sp.stop {
			r.finish(i, so)
		}
	}
	emitted := 0
	cur, c := -1, out
	var timer *time.Timer
	for emitted < max && r.active > 0 {
		var d delivery
		select {
		case d = <-r.queue:
		default:
			if emitted > 0 {
				return connectors.MoreAvailable, nil
			}
			if timer == nil {
				timer = time.NewTimer(pollWait)
				defer timer.Stop()
			}
			select {
			case d = <-r.queue:
			case <-timer.C:
				return r.idle(), nil
			}
		}
		if d.err != nil {
			r.fault = fmt.Errorf("JetStream source %s: %w", r.info, d.err)
			return connectors.NothingAvailable, r.fault
		}
		sp := &r.splits[d.split]
		if d.msg != nil {
			v, err := r.src.decode(d.msg, d.seq)
			if err != nil {
				if r.dead == nil {
					r.fault = fmt.Errorf("JetStream source %s: stream %q, subject %q, sequence %d: %w: remove the message (nats stream rmm %s %d) or read with a dead-letter subject",
						r.info, r.src.stream, d.msg.Subject(), d.seq, err, r.src.stream, d.seq)
					return connectors.NothingAvailable, r.fault
				}
				if err := r.dead.send(d.msg.Data(), d.msg.Subject(), err, r.src.stream, d.seq); err != nil {
					r.fault = fmt.Errorf("JetStream source %s: %w", r.info, err)
					return connectors.NothingAvailable, r.fault
				}
			} else {
				if so != nil && cur != d.split {
					cur, c = d.split, so.ForSplit(sp.subject)
				}
				c.Collect(v)
				emitted++
			}
			sp.last = d.seq
		}
		if d.end {
			r.finish(d.split, so)
			if cur == d.split {
				cur, c = -1, out
			}
		}
	}
	if r.active == 0 {
		return connectors.EndOfInput, nil
	}
	return connectors.MoreAvailable, nil
}

// idle is the status of a Poll that found nothing: a bounded reader knows
// that messages remain (they are on their way), an unbounded one waits.
func (r *jsReader[T]) idle() connectors.Status {
	if r.src.bounded {
		return connectors.MoreAvailable
	}
	return connectors.NothingAvailable
}

func (r *jsReader[T]) finish(i int, so connectors.SplitOutput[T]) {
	sp := &r.splits[i]
	sp.done = true
	r.active--
	if so != nil {
		so.FinishSplit(sp.subject)
	}
}

// SnapshotSplits returns the position of every split not finished.
func (r *jsReader[T]) SnapshotSplits() ([]connectors.SplitState, error) {
	var out []connectors.SplitState
	for i := range r.splits {
		if sp := &r.splits[i]; !sp.done {
			out = append(out, sp.state(r.src.stream))
		}
	}
	return out, nil
}

// Close stops the consumers and closes the connection. The consumers are
// ephemeral; the server removes them.
func (r *jsReader[T]) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	close(r.done)
	if r.nc != nil {
		r.nc.Close()
	}
	for _, it := range r.iters {
		// Stop can wait for a consumer reset in progress; the closed
		// connection makes that fail soon.
		go it.Stop()
	}
	r.wg.Wait()
	return nil
}
