// Package throttle owns rate limits of sources: Schedule, the schedule a
// rate-limited reader follows without sleeping, and Source, which limits
// any source to a number of records per second (a bounded file read slowly
// enough to be stopped with a savepoint and resumed, a replay at the speed
// it happened).
package throttle

import (
	"fmt"
	"math"
	"time"

	"github.com/floestream/floe/connectors"
)

// Schedule is one reader's rate limit: record k (counting from 0) is due
// k/PerSecond seconds after the first call to Allowance. A reader asks how
// many records it may emit, emits at most that many and reports them with
// Emitted; ahead of the schedule it returns NothingAvailable, so nothing
// sleeps.
type Schedule struct {
	PerSecond float64
	Now       func() time.Time // time.Now when nil
	start     time.Time
	started   bool
	emitted   uint64
}

// Allowance returns how many records may be emitted now.
func (s *Schedule) Allowance() uint64 {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if !s.started {
		s.start, s.started = now, true
	}
	// Records 0..floor(elapsed*perSecond) are due.
	due := math.Floor(now.Sub(s.start).Seconds()*s.PerSecond) + 1
	if due >= math.MaxUint64/2 {
		return math.MaxUint64 / 2
	}
	d := uint64(max(due, 1))
	if d <= s.emitted {
		return 0
	}
	return d - s.emitted
}

// Emitted records that n more records went out.
func (s *Schedule) Emitted(n uint64) { s.emitted += n }

// Source limits src to perSecond records per second in all, shared evenly
// by its subtasks. It keeps what src offers: splits and their positions
// (connectors.RestorableSource, connectors.CheckpointedReader), per-split
// watermarks and validation. A rate of 0 or less returns src unchanged.
func Source[T any](src connectors.Source[T], perSecond float64) connectors.Source[T] {
	if perSecond <= 0 || math.IsInf(perSecond, 1) {
		return src
	}
	return &source[T]{src: src, rate: perSecond}
}

type source[T any] struct {
	src  connectors.Source[T]
	rate float64
}

// Validate validates the wrapped source, if it can.
func (s *source[T]) Validate() error {
	if v, ok := s.src.(connectors.Validator); ok {
		return v.Validate()
	}
	return nil
}

func (s *source[T]) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[T], error) {
	r, err := s.src.Reader(info)
	if err != nil {
		return nil, err
	}
	return s.wrap(r, info), nil
}

// RestoreReader restores the wrapped source's reader; it fails if the
// wrapped source cannot restore.
func (s *source[T]) RestoreReader(info connectors.SubtaskInfo, splits []connectors.SplitState) (connectors.SourceReader[T], error) {
	rs, ok := s.src.(connectors.RestorableSource[T])
	if !ok {
		return nil, fmt.Errorf("source %s cannot resume from split positions", info)
	}
	r, err := rs.RestoreReader(info, splits)
	if err != nil {
		return nil, err
	}
	return s.wrap(r, info), nil
}

func (s *source[T]) wrap(r connectors.SourceReader[T], info connectors.SubtaskInfo) connectors.SourceReader[T] {
	lr := &reader[T]{r: r, sched: Schedule{PerSecond: s.rate / float64(max(info.Parallelism, 1))}}
	if cr, ok := r.(connectors.CheckpointedReader); ok {
		return &checkpointedReader[T]{reader: lr, cr: cr}
	}
	return lr
}

type reader[T any] struct {
	r     connectors.SourceReader[T]
	sched Schedule
}

func (r *reader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	allowed := r.sched.Allowance()
	if allowed == 0 {
		return connectors.NothingAvailable, nil
	}
	n := max
	if allowed < uint64(max) {
		n = int(allowed)
	}
	var emitted uint64
	c := &counter[T]{Collector: out, n: &emitted}
	var co connectors.Collector[T] = c
	if so, ok := out.(connectors.SplitOutput[T]); ok {
		co = &splitCounter[T]{counter: c, so: so}
	}
	status, err := r.r.Poll(co, n)
	r.sched.Emitted(emitted)
	if status == connectors.MoreAvailable && n < max {
		status = connectors.NothingAvailable // ahead of the schedule: poll again after a pause
	}
	return status, err
}

func (r *reader[T]) Close() error { return r.r.Close() }

// checkpointedReader is a rate-limited reader whose wrapped reader records
// its position.
type checkpointedReader[T any] struct {
	*reader[T]
	cr connectors.CheckpointedReader
}

// SnapshotSplits passes the wrapped reader's positions on.
func (r *checkpointedReader[T]) SnapshotSplits() ([]connectors.SplitState, error) {
	return r.cr.SnapshotSplits()
}

type counter[T any] struct {
	connectors.Collector[T]
	n *uint64
}

func (c *counter[T]) Collect(v T) { *c.n++; c.Collector.Collect(v) }

// splitCounter counts records emitted through split collectors too.
type splitCounter[T any] struct {
	*counter[T]
	so connectors.SplitOutput[T]
}

func (s *splitCounter[T]) ForSplit(split string) connectors.Collector[T] {
	return &counter[T]{Collector: s.so.ForSplit(split), n: s.n}
}

func (s *splitCounter[T]) FinishSplit(split string) { s.so.FinishSplit(split) }
