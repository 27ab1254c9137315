package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floestream/floe/keyspace"
)

// Defaults of the data path (see DESIGN.md, "Batching" and "Flow control").
const (
	DefaultBatchSize     = 256
	DefaultCredits       = 4
	DefaultBufferTimeout = 5 * time.Millisecond
)

// Options configure one run of a job graph.
type Options struct {
	BatchSize     int
	Credits       int
	BufferTimeout time.Duration
	Logger        *slog.Logger
	System        *actor.ActorSystem
	// StateBackend is "heap" (the default) or "pebble"; StateDir is where a
	// Pebble database lives ("" for a temporary directory removed at the end).
	StateBackend string
	StateDir     string
	Pebble       *keyspace.PebbleDB
	// Checkpoints configures checkpoints, savepoints, restore and failover;
	// nil runs without (a failure fails the job).
	Checkpoints *Checkpointing
}

// Option changes Options.
type Option func(*Options)

// WithBatchSize sets how many records a batch holds before it is sent.
func WithBatchSize(n int) Option { return func(o *Options) { o.BatchSize = n } }

// WithCredits sets how many batches may be in flight per channel; memory
// per channel is bounded by credits × batch size records.
func WithCredits(n int) Option { return func(o *Options) { o.Credits = n } }

// WithBufferTimeout sets how long a partially filled batch may wait before it
// is sent; 0 sends every record at once (lowest latency, highest cost).
func WithBufferTimeout(d time.Duration) Option { return func(o *Options) { o.BufferTimeout = d } }

// WithStateBackend keeps keyed state on the heap ("heap", the default) or in
// a Pebble database in dir ("pebble"; dir "" means a temporary directory,
// removed when the run ends).
func WithStateBackend(backend, dir string) Option {
	return func(o *Options) { o.StateBackend, o.StateDir = backend, dir }
}

// WithPebble keeps keyed state in an already open Pebble database, which the
// run does not close: one database per process, shared by runs.
func WithPebble(db *keyspace.PebbleDB) Option {
	return func(o *Options) { o.StateBackend, o.Pebble = "pebble", db }
}

// WithCheckpointing turns on checkpoints, savepoints, restore and failover
// as c says.
func WithCheckpointing(c Checkpointing) Option { return func(o *Options) { o.Checkpoints = &c } }

// WithLogger sets the logger for the runtime and protoactor.
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithActorSystem runs the job on an existing actor system instead of a new
// one, which the run then does not shut down.
func WithActorSystem(s *actor.ActorSystem) Option { return func(o *Options) { o.System = s } }

func newOptions(opts []Option) (*Options, error) {
	o := &Options{BatchSize: DefaultBatchSize, Credits: DefaultCredits, BufferTimeout: DefaultBufferTimeout}
	for _, opt := range opts {
		opt(o)
	}
	switch {
	case o.BatchSize < 1:
		return nil, fmt.Errorf("batch size %d: must be at least 1", o.BatchSize)
	case o.Credits < 1:
		return nil, fmt.Errorf("credits %d: must be at least 1", o.Credits)
	case o.BufferTimeout < 0:
		return nil, fmt.Errorf("buffer timeout %s: must not be negative", o.BufferTimeout)
	case o.StateBackend != "" && o.StateBackend != "heap" && o.StateBackend != "pebble":
		return nil, fmt.Errorf("state backend %q: use heap or pebble", o.StateBackend)
	}
	if o.Checkpoints != nil {
		if err := o.Checkpoints.Config.Validate(); err != nil {
			return nil, err
		}
		if o.Checkpoints.InjectFailures < 0 {
			return nil, fmt.Errorf("inject failures %d: must not be negative", o.Checkpoints.InjectFailures)
		}
		if o.Checkpoints.InjectFailures > 0 && o.Checkpoints.Interval == 0 {
			return nil, errors.New("injected failures need checkpoints to recover from: set a checkpoint interval")
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}
