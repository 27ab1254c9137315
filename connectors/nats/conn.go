package nats

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultURL is the server a Connection reaches when neither its URL nor
// the NATS_URL environment variable names one.
const DefaultURL = nats.DefaultURL

// Connection says how to reach a NATS server. The zero value connects to
// $NATS_URL, or to DefaultURL when that is unset. Every reader and writer
// opens a connection of its own from it; a Connection holds no connection
// itself, so sources and sinks that carry one stay free of per-run state.
type Connection struct {
	// URL lists the servers, comma-separated (nats://user:pass@host:4222,
	// tls://host:4222). Empty: $NATS_URL, then DefaultURL.
	URL string
	// Name is the client name the server shows in its connection list;
	// empty: floe's subtask name.
	Name string
	// CredsFile is a user credentials file (JWT and NKey seed), as `nsc`
	// and `nats context` write them.
	CredsFile string
	// CAFile, CertFile and KeyFile configure TLS: a CA bundle to verify the
	// server, and a client certificate and key for mutual TLS. Setting any
	// of them requires TLS.
	CAFile, CertFile, KeyFile string
	// ReconnectWait is the pause between reconnect attempts (default
	// 250ms) and MaxReconnects their number (default 120, so about 30 s):
	// a job keeps running through a server restart shorter than that; a
	// longer outage closes the connection, fails the attempt, and recovery
	// from the last checkpoint takes over. A negative MaxReconnects retries
	// forever.
	ReconnectWait time.Duration
	MaxReconnects int
	// Options are further nats.go options, applied last.
	Options []nats.Option
}

// Servers returns the servers c connects to.
func (c Connection) Servers() string {
	if c.URL != "" {
		return c.URL
	}
	if env := os.Getenv("NATS_URL"); env != "" {
		return env
	}
	return DefaultURL
}

const (
	defaultReconnectWait = 250 * time.Millisecond
	defaultMaxReconnects = 120
)

// connect opens a connection named name (unless c names it).
func (c Connection) connect(name string) (*nats.Conn, error) {
	servers := c.Servers()
	if c.Name != "" {
		name = c.Name
	}
	wait, tries := c.ReconnectWait, c.MaxReconnects
	if wait <= 0 {
		wait = defaultReconnectWait
	}
	if tries == 0 {
		tries = defaultMaxReconnects
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.ReconnectWait(wait),
		nats.MaxReconnects(tries),
		nats.Timeout(5 * time.Second),
		// Reconnect errors are expected during a restart; the connection's
		// status (closed after the last try) is what fails a reader.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if c.CredsFile != "" {
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, fmt.Errorf("NATS credentials file: %w: check the path", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" || c.KeyFile != "" {
		if c.CertFile == "" || c.KeyFile == "" {
			return nil, errors.New("NATS TLS: a client certificate needs both its certificate file and its key file")
		}
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	if c.CAFile != "" || c.CertFile != "" {
		opts = append(opts, nats.Secure())
	}
	opts = append(opts, c.Options...)
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w: check that the server runs and the URL (or NATS_URL), credentials and TLS files are right",
			redact(servers), err)
	}
	return nc, nil
}

// redact hides passwords and tokens in server URLs for error messages.
func redact(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// clientName is the connection name of a subtask's reader or writer.
func clientName(job, operator string, index int) string {
	return fmt.Sprintf("floe %s/%s/%d", job, operator, index)
}
