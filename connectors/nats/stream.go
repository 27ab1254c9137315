package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floestream/floe/connectors"
)

// apiTimeout bounds each JetStream API request (stream info, consumer
// creation, a synchronous publish).
const apiTimeout = 10 * time.Second

func apiContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), apiTimeout)
}

// lookupStream returns the stream named name, or an error that says how to
// create it for subjects.
func lookupStream(js jetstream.JetStream, servers, name string, subjects []string) (jetstream.Stream, error) {
	ctx, cancel := apiContext()
	defer cancel()
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, missingStream(servers, name, subjects)
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return nil, fmt.Errorf("NATS at %s has no JetStream for this account: start the server with -js (or enable JetStream for the account), or use core NATS (?core=true)", redact(servers))
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %q at %s: %w", name, redact(servers), err)
	}
	return st, nil
}

func missingStream(servers, name string, subjects []string) error {
	create := fmt.Sprintf("nats --server %s stream add %s --subjects %q --defaults", redact(servers), name, streamSubjects(subjects))
	return fmt.Errorf("JetStream stream %q for subject %s does not exist at %s: create it first, e.g. `%s`",
		name, quoteList(subjects), redact(servers), create)
}

// checkCaptures verifies that stream name stores every subject.
func checkCaptures(js jetstream.JetStream, servers, name string, subjects []string) error {
	for _, subj := range subjects {
		ctx, cancel := apiContext()
		got, err := js.StreamNameBySubject(ctx, subj)
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("JetStream stream %q does not store subject %q: add it (nats --server %s stream edit %s --subjects ...) or use the stream that does",
				name, subj, redact(servers), name)
		}
		if err != nil {
			return fmt.Errorf("look up the stream of subject %q: %w", subj, err)
		}
		if got != name {
			return fmt.Errorf("subject %q is stored by stream %q, not %q: name stream %q in the URL", subj, got, name, got)
		}
	}
	return nil
}

// streamSubjects suggests the subjects of a stream that stores subjects:
// events.0 … events.7 become events.*.
func streamSubjects(subjects []string) string {
	if len(subjects) == 0 {
		return ">"
	}
	if len(subjects) == 1 {
		return subjects[0]
	}
	prefix := ""
	for i, s := range subjects {
		dot := lastDot(s)
		if dot < 0 || (i > 0 && s[:dot] != prefix) {
			return subjects[0]
		}
		prefix = s[:dot]
	}
	return prefix + ".*"
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func quoteList(subjects []string) string {
	if len(subjects) == 1 {
		return strconv.Quote(subjects[0])
	}
	return fmt.Sprintf("%q", subjects)
}

// Partitions returns the subjects subject.0 … subject.<n-1> of a stream
// partitioned by subject, one split each for a JetStreamSource.
func Partitions(subject string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = subject + "." + strconv.Itoa(i)
	}
	return out
}

// Headers of dead letters.
const (
	HeaderJob      = "Floe-Job"
	HeaderOperator = "Floe-Operator"
	HeaderError    = "Floe-Error"
	HeaderStream   = "Floe-Stream"
	HeaderSubject  = "Floe-Subject"
	HeaderSequence = "Floe-Sequence"
)

// deadLetters publishes the messages a source cannot decode.
type deadLetters struct {
	subject string
	nc      *nats.Conn
	js      jetstream.JetStream // nil: no stream stores subject, publish with core NATS
	info    connectors.SubtaskInfo
}

// openDeadLetters prepares the dead letters of policy on nc; nil when the
// policy is to fail.
func openDeadLetters(nc *nats.Conn, policy BadMessages, info connectors.SubtaskInfo) (*deadLetters, error) {
	if policy.deadLetter == "" {
		return nil, nil
	}
	d := &deadLetters{subject: policy.deadLetter, nc: nc, info: info}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := apiContext()
	defer cancel()
	_, err = js.StreamNameBySubject(ctx, d.subject)
	switch {
	case err == nil:
		d.js = js
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
	default:
		return nil, fmt.Errorf("dead-letter subject %q: %w", d.subject, err)
	}
	return d, nil
}

// send publishes data, which failed to decode with cause. stream and seq
// say where it came from (seq 0: core NATS).
func (d *deadLetters) send(data []byte, subject string, cause error, stream string, seq uint64) error {
	m := nats.NewMsg(d.subject)
	m.Data = data
	m.Header.Set(HeaderJob, d.info.Job)
	m.Header.Set(HeaderOperator, d.info.Operator)
	m.Header.Set(HeaderError, cause.Error())
	m.Header.Set(HeaderSubject, subject)
	if stream != "" {
		m.Header.Set(HeaderStream, stream)
		m.Header.Set(HeaderSequence, strconv.FormatUint(seq, 10))
	}
	if d.js == nil {
		if err := d.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("publish dead letter to %q: %w", d.subject, err)
		}
		return nil
	}
	var opts []jetstream.PublishOpt
	if stream != "" {
		opts = append(opts, jetstream.WithMsgID(fmt.Sprintf("floe-dead-letter/%s/%s/%s/%d", d.info.Job, d.info.Operator, stream, seq)))
	}
	ctx, cancel := apiContext()
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("publish dead letter to %q: %w", d.subject, err)
	}
	return nil
}
