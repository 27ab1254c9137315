package nats

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Tuning of JetStream publishing.
const (
	// maxInFlight bounds the publishes waiting for their acknowledgement.
	maxInFlight = 4096
	// ackTimeout fails a publish whose acknowledgement does not come.
	ackTimeout = 5 * time.Second
	// stallWait is how long a publish waits for room among maxInFlight.
	stallWait = 10 * time.Second
	// defaultPublishTimeout is how long publishing retries failed messages
	// (a server restart, a lost connection) before it gives up.
	defaultPublishTimeout = 30 * time.Second
)

// publisher publishes messages to JetStream asynchronously and waits for
// their acknowledgements, publishing again the messages that failed until
// its timeout. A message published twice is stored twice unless it carries
// a Nats-Msg-Id that the stream still remembers; the exactly-once writer
// relies on that, the at-least-once writer accepts the duplicate.
type publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stall   jetstream.PublishOpt
	timeout time.Duration
	mu      struct {
		sync.Mutex
		failed  []*nats.Msg
		lastErr error
	}
}

func newPublisher(nc *nats.Conn, timeout time.Duration) (*publisher, error) {
	p := &publisher{nc: nc, stall: jetstream.WithStallWait(stallWait), timeout: timeout}
	if p.timeout <= 0 {
		p.timeout = defaultPublishTimeout
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(maxInFlight),
		jetstream.WithPublishAsyncTimeout(ackTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			p.failLocked(m, err)
		}))
	if err != nil {
		return nil, err
	}
	p.js = js
	return p, nil
}

// failLocked records a failed publish; it takes the lock itself.
func (p *publisher) failLocked(m *nats.Msg, err error) {
	p.mu.Lock()
	p.mu.failed = append(p.mu.failed, m)
	p.mu.lastErr = err
	p.mu.Unlock()
}

// send publishes m without waiting for its acknowledgement.
func (p *publisher) send(m *nats.Msg) {
	if _, err := p.js.PublishMsgAsync(m, p.stall); err != nil {
		p.failLocked(m, err)
	}
}

// wait returns when every message sent is acknowledged, publishing failed
// ones again meanwhile, or fails after the timeout or at an error that a
// retry cannot mend (the server refused the message).
func (p *publisher) wait() error {
	deadline := time.Now().Add(p.timeout)
	for {
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-p.js.PublishAsyncComplete():
			timer.Stop()
		case <-timer.C:
			return fmt.Errorf("%d messages not acknowledged within %v: is the server up?", p.js.PublishAsyncPending(), p.timeout)
		}
		p.mu.Lock()
		failed, lastErr := p.mu.failed, p.mu.lastErr
		p.mu.failed, p.mu.lastErr = nil, nil
		p.mu.Unlock()
		if len(failed) == 0 {
			return nil
		}
		if permanent(lastErr) || time.Now().After(deadline) {
			return fmt.Errorf("publish %d messages to %q: %w", len(failed), failed[0].Subject, lastErr)
		}
		p.awaitConnection(deadline)
		for _, m := range failed {
			p.send(m)
		}
	}
}

// awaitConnection waits until the connection is up again, or deadline.
func (p *publisher) awaitConnection(deadline time.Time) {
	time.Sleep(50 * time.Millisecond)
	for !p.nc.IsConnected() && !p.nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// permanent reports an error that publishing again cannot mend: the
// server refused the message (too large, a limit with discard new, a
// missing stream) rather than failed to answer.
func permanent(err error) bool {
	if errors.Is(err, nats.ErrConnectionClosed) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code != 503
}
