package nats

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floestream/floe/connectors"
)

// JetStreamSink publishes records to a subject of a JetStream stream, one
// message per record.
//
// Exactly-once (the default), in runs with checkpoints: a writer holds the
// records of the open transaction in memory; at a checkpoint's barrier
// PreCommit returns them, encoded, as the transaction's handle, which the
// checkpoint stores, together with the message ids
// <job>/<operator>/<subtask>/<token>/<checkpoint>/<index> (token is drawn
// by each writer instance, so that a rerun of the job never reuses the ids
// of an earlier run). When the checkpoint is complete Commit publishes them
// with those ids in the Nats-Msg-Id header and waits for every
// acknowledgement. A restore commits the handles of the restored checkpoint
// again: JetStream's de-duplication discards the messages the first commit
// stored, so each record is stored once — as long as the replay comes
// within the stream's duplicate window (its Duplicates setting, 2 minutes
// by default), which is why a writer refuses to open on a stream whose
// window is shorter than the sink's (WithDuplicateWindow). Consumers never
// see output of a checkpoint that did not complete.
//
// The open transaction is bounded (WithMaxTransactionBytes, 64 MiB by
// default): a Write beyond the bound fails the job with an error saying to
// take checkpoints more often. Spilling to disk would only move the
// problem: the handle, stored in the checkpoint, holds the same bytes.
//
// At-least-once (AtLeastOnce), and in runs without checkpoints whatever the
// mode: Write publishes at once, and Flush (at a checkpoint's barrier too)
// waits for the acknowledgements, so a restored run repeats at most what
// followed the checkpoint.
//
// Publishing retries failed messages (a reconnect, a server restart) for
// up to 30 seconds before it fails; a failed commit fails the attempt, and
// the restored run commits again. The sink implements
// connectors.TransactionalSink and connectors.Validator.
type JetStreamSink[T any] struct {
	conn        Connection
	stream      string
	subject     string
	serde       Serde[T]
	atLeastOnce bool
	maxTxnBytes int
	dupWindow   time.Duration
	timeout     time.Duration
}

// Defaults of a JetStreamSink.
const (
	DefaultMaxTransactionBytes = 64 << 20
	DefaultDuplicateWindow     = 2 * time.Minute
)

// NewJetStreamSink publishes to subject, which stream must store (stream
// empty: whichever stream stores it), encoding records with serde (nil:
// JSON).
func NewJetStreamSink[T any](conn Connection, stream, subject string, serde Serde[T]) *JetStreamSink[T] {
	if serde == nil {
		serde = JSON[T]()
	}
	return &JetStreamSink[T]{conn: conn, stream: stream, subject: subject, serde: serde,
		maxTxnBytes: DefaultMaxTransactionBytes, dupWindow: DefaultDuplicateWindow, timeout: defaultPublishTimeout}
}

// AtLeastOnce returns a copy of s that publishes every record at once, so
// that a restored run may publish again what followed its checkpoint.
func (s *JetStreamSink[T]) AtLeastOnce() *JetStreamSink[T] {
	c := *s
	c.atLeastOnce = true
	return &c
}

// WithMaxTransactionBytes returns a copy of s whose open transaction may
// hold up to n bytes of payload.
func (s *JetStreamSink[T]) WithMaxTransactionBytes(n int) *JetStreamSink[T] {
	c := *s
	c.maxTxnBytes = n
	return &c
}

// WithDuplicateWindow returns a copy of s that requires the stream to
// remember message ids for at least d: the longest a failed job may take to
// restore and commit again without duplicating output.
func (s *JetStreamSink[T]) WithDuplicateWindow(d time.Duration) *JetStreamSink[T] {
	c := *s
	c.dupWindow = d
	return &c
}

// WithPublishTimeout returns a copy of s that retries failed publishes for
// up to d before failing.
func (s *JetStreamSink[T]) WithPublishTimeout(d time.Duration) *JetStreamSink[T] {
	c := *s
	c.timeout = d
	return &c
}

// Validate checks that the stream stores the subject and, for the
// exactly-once mode, de-duplicates long enough.
func (s *JetStreamSink[T]) Validate() error {
	nc, err := s.conn.connect("floe validate")
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = s.checkStream(nc, !s.atLeastOnce)
	return err
}

// checkStream verifies the stream of the subject (and its duplicate
// window when dedup) and returns its name.
func (s *JetStreamSink[T]) checkStream(nc *nats.Conn, dedup bool) (string, error) {
	if s.subject == "" {
		return "", errors.New("JetStream sink: no subject named: say which subject to publish to (nats://host:port/<stream>/<subject>)")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	servers := s.conn.Servers()
	name := s.stream
	if name == "" {
		ctx, cancel := apiContext()
		name, err = js.StreamNameBySubject(ctx, s.subject)
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return "", fmt.Errorf("no JetStream stream stores subject %q at %s: create one first, e.g. `nats --server %s stream add OUT --subjects %q --defaults`",
				s.subject, redact(servers), redact(servers), s.subject)
		}
		if err != nil {
			return "", fmt.Errorf("look up the stream of subject %q: %w", s.subject, err)
		}
	}
	st, err := lookupStream(js, servers, name, []string{s.subject})
	if err != nil {
		return "", err
	}
	if err := checkCaptures(js, servers, name, []string{s.subject}); err != nil {
		return "", err
	}
	if dedup {
		if w := st.CachedInfo().Config.Duplicates; w < s.dupWindow {
			return "", fmt.Errorf("JetStream stream %q remembers message ids for %v, less than the %v the exactly-once sink needs to recognise a commit replayed after a restore: "+
				"raise it (nats stream edit %s --dupe-window %v), lower the sink's duplicate window, or publish at least once",
				name, w, s.dupWindow, name, s.dupWindow)
		}
	}
	return name, nil
}

// Writer opens an at-least-once writer, for runs without checkpoints.
func (s *JetStreamSink[T]) Writer(info connectors.SubtaskInfo) (connectors.SinkWriter[T], error) {
	return s.open(info, false)
}

// TransactionalWriter opens the writer of subtask info for runs with
// checkpoints: exactly-once, or at-least-once when so configured. The
// pending handles need nothing from it (they hold their messages): the
// runtime commits them, and the writer keeps no staged data elsewhere to
// clean up.
func (s *JetStreamSink[T]) TransactionalWriter(info connectors.SubtaskInfo, pending [][]byte) (connectors.TransactionalSinkWriter[T], error) {
	for _, h := range pending {
		if _, err := decodeTxn(h); err != nil {
			return nil, fmt.Errorf("JetStream sink %s: pending transaction: %w", info, err)
		}
	}
	return s.open(info, !s.atLeastOnce)
}

func (s *JetStreamSink[T]) open(info connectors.SubtaskInfo, txn bool) (*JetStreamWriter[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	nc, err := s.conn.connect(clientName(info.Job, info.Operator, info.Index))
	if err != nil {
		return nil, err
	}
	if _, err := s.checkStream(nc, txn); err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream sink %s: %w", info, err)
	}
	p, err := newPublisher(nc, s.timeout)
	if err != nil {
		nc.Close()
		return nil, err
	}
	token := make([]byte, 4)
	rand.Read(token)
	return &JetStreamWriter[T]{sink: s, info: info, nc: nc, pub: p, txn: txn, last: -1,
		idPrefix: fmt.Sprintf("%s/%s/%d/%s", info.Job, info.Operator, info.Index, hex.EncodeToString(token))}, nil
}

// JetStreamWriter writes one subtask's records to a JetStreamSink. It
// implements connectors.TransactionalSinkWriter; used by one goroutine at
// a time, like every SinkWriter. Commit needs nothing but the handle and
// the writer's connection, so any writer of the sink commits any handle.
type JetStreamWriter[T any] struct {
	sink     *JetStreamSink[T]
	info     connectors.SubtaskInfo
	nc       *nats.Conn
	pub      *publisher
	txn      bool   // exactly-once: Write buffers, Commit publishes
	idPrefix string // <job>/<operator>/<subtask>/<token>
	// open holds the open transaction's payloads, each as a uvarint length
	// and the bytes: the tail of its handle.
	open    []byte
	records int
	scratch []byte
	last    int64 // the last checkpoint passed to PreCommit; -1 before
	closed  bool
}

// Write encodes record and, exactly-once, adds it to the open transaction;
// at-least-once, publishes it (Flush waits for the acknowledgement).
func (w *JetStreamWriter[T]) Write(record T) error {
	if w.closed {
		return fmt.Errorf("JetStream sink %s: write after the writer was closed", w.info)
	}
	var err error
	w.scratch, err = w.sink.serde.Encode(w.scratch[:0], record)
	if err != nil {
		return fmt.Errorf("JetStream sink %s: %w", w.info, err)
	}
	if !w.txn {
		m := &nats.Msg{Subject: w.sink.subject, Data: append([]byte(nil), w.scratch...)}
		w.pub.send(m)
		return nil
	}
	if len(w.open)+len(w.scratch) > w.sink.maxTxnBytes {
		return fmt.Errorf("JetStream sink %s: the open transaction would hold more than %d bytes (%d records since the last checkpoint): take checkpoints more often, or raise the sink's transaction limit (WithMaxTransactionBytes)",
			w.info, w.sink.maxTxnBytes, w.records)
	}
	w.open = binary.AppendUvarint(w.open, uint64(len(w.scratch)))
	w.open = append(w.open, w.scratch...)
	w.records++
	return nil
}

// Flush waits until every record published so far is acknowledged
// (at-least-once). Exactly-once it does nothing: records wait for Commit.
func (w *JetStreamWriter[T]) Flush() error {
	if w.closed {
		return fmt.Errorf("JetStream sink %s: flush after the writer was closed", w.info)
	}
	if w.txn {
		return nil
	}
	if err := w.pub.wait(); err != nil {
		return fmt.Errorf("JetStream sink %s: %w", w.info, err)
	}
	return nil
}

// txnVersion is the first byte of a transaction handle.
const txnVersion = 1

// txn is a decoded transaction handle.
type txn struct {
	idPrefix string // message ids are <idPrefix>/<index>
	subject  string
	payloads []byte // uvarint length and bytes, per message
	count    int
}

// PreCommit returns the open transaction as a handle and opens the next:
// a version byte; the message id prefix (this writer's prefix and the
// checkpoint), the subject, as uvarint-length strings; the record count as
// a uvarint; each payload as a uvarint length and its bytes. The
// checkpoint stores it durably; nothing is published yet. Nil when the
// transaction holds no record. At-least-once, PreCommit waits for the
// acknowledgement of every record written and returns nil.
func (w *JetStreamWriter[T]) PreCommit(checkpoint int64) ([]byte, error) {
	if w.closed {
		return nil, fmt.Errorf("JetStream sink %s: pre-commit after the writer was closed", w.info)
	}
	if checkpoint <= w.last {
		return nil, fmt.Errorf("JetStream sink %s: pre-commit for checkpoint %d after checkpoint %d: checkpoint ids must increase", w.info, checkpoint, w.last)
	}
	w.last = checkpoint
	if !w.txn {
		return nil, w.Flush()
	}
	if w.records == 0 {
		return nil, nil
	}
	prefix := w.idPrefix + "/" + strconv.FormatInt(checkpoint, 10)
	subj := w.sink.subject
	h := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(prefix)+len(subj)+len(w.open))
	h = append(h, txnVersion)
	h = binary.AppendUvarint(h, uint64(len(prefix)))
	h = append(h, prefix...)
	h = binary.AppendUvarint(h, uint64(len(subj)))
	h = append(h, subj...)
	h = binary.AppendUvarint(h, uint64(w.records))
	h = append(h, w.open...)
	w.open, w.records = w.open[:0], 0
	if cap(w.open) > 1<<20 {
		w.open = nil // a burst's buffer is not kept for the run
	}
	return h, nil
}

func decodeTxn(h []byte) (txn, error) {
	bad := fmt.Errorf("transaction handle of %d bytes is not one of a JetStream sink: restore the job with the sink it was checkpointed with", len(h))
	if len(h) == 0 || h[0] != txnVersion {
		return txn{}, bad
	}
	rest := h[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return "", false
		}
		s := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return s, true
	}
	var t txn
	var ok bool
	if t.idPrefix, ok = str(); !ok {
		return txn{}, bad
	}
	if t.subject, ok = str(); !ok {
		return txn{}, bad
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 {
		return txn{}, bad
	}
	t.count, t.payloads = int(n), rest[k:]
	// Check the framing now, so that Commit never publishes half a handle.
	seen, p := 0, t.payloads
	for len(p) > 0 {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return txn{}, bad
		}
		p = p[k+int(l):]
		seen++
	}
	if seen != t.count {
		return txn{}, bad
	}
	return t, nil
}

// Commit publishes the transaction of handle with its message ids and
// waits for every acknowledgement. Messages the stream stored before
// (an earlier commit of the same handle, within the duplicate window) are
// acknowledged as duplicates and not stored again, so Commit is
// idempotent. An error leaves the transaction to the restored run's commit.
func (w *JetStreamWriter[T]) Commit(handle []byte) error {
	t, err := decodeTxn(handle)
	if err != nil {
		return fmt.Errorf("JetStream sink %s: %w", w.info, err)
	}
	if w.nc.IsClosed() {
		return fmt.Errorf("JetStream sink %s: commit after the writer was closed", w.info)
	}
	p := t.payloads
	for i := 0; len(p) > 0; i++ {
		l, k := binary.Uvarint(p)
		m := &nats.Msg{Subject: t.subject, Data: p[k : k+int(l)],
			Header: nats.Header{jetstream.MsgIDHeader: []string{t.idPrefix + "/" + strconv.Itoa(i)}}}
		p = p[k+int(l):]
		w.pub.send(m)
	}
	if err := w.pub.wait(); err != nil {
		return fmt.Errorf("JetStream sink %s: commit %s: %w", w.info, t.idPrefix, err)
	}
	return nil
}

// Abort discards the open transaction and closes the writer. Staged
// transactions live in checkpoints, not here: nothing else is undone.
// At-least-once, what was published stays published.
func (w *JetStreamWriter[T]) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.open, w.records = nil, 0
	w.nc.Close()
	return nil
}

// Close releases the writer after a successful run. At-least-once it
// first waits for the acknowledgements. Exactly-once the final checkpoint
// has committed everything; records written after the last PreCommit are
// discarded, and Close says so in its error.
func (w *JetStreamWriter[T]) Close() error {
	if w.closed {
		return nil
	}
	var err error
	if w.txn && w.records > 0 {
		err = fmt.Errorf("JetStream sink %s: %d records written after the last PreCommit are discarded: with checkpoints only Commit publishes, so the run must end with a checkpoint that stages and commits them", w.info, w.records)
	} else if !w.txn {
		err = w.Flush()
	}
	w.closed = true
	w.nc.Close()
	return err
}
