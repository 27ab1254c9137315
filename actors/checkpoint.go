package actors

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/floestream/floe/snapshot"
)

// CheckpointMode says how barriers are handled by subtasks with several
// input channels.
type CheckpointMode int

const (
	// ExactlyOnce aligns barriers: a channel that delivered checkpoint n's
	// barrier is held (its credit withheld) until every channel has.
	ExactlyOnce CheckpointMode = iota
	// AtLeastOnce does not align: records behind a barrier keep flowing, so
	// after a restore some are processed twice.
	AtLeastOnce
)

func (m CheckpointMode) String() string { return [...]string{"exactly-once", "at-least-once"}[m] }

// Checkpointing configures checkpoints, savepoints, restore and failover.
type Checkpointing struct {
	snapshot.Config
	Mode CheckpointMode
	// Storage keeps checkpoints; Dir is the local directory used when
	// Storage is nil.
	Storage snapshot.Storage
	Dir     string
	// SavepointDir is where savepoints go; savepoints need it.
	SavepointDir string
	// Restore is the checkpoint or savepoint the run starts from.
	Restore *snapshot.Checkpoint
	// AllowNonRestoredState drops state in Restore of operators the job no
	// longer has, instead of failing.
	AllowNonRestoredState bool
	Restart               RestartStrategy
	// InjectFailures makes the run fail at that many pseudo-random points
	// (a random running subtask, at the next record it processes), chosen by
	// FailureSeed, to watch recovery work. Injected failures do not count
	// against the restart strategy.
	InjectFailures int
	FailureSeed    uint64
}

// enabled reports whether the run takes checkpoints or savepoints.
func (c *Checkpointing) enabled() bool {
	return c != nil && (c.Interval > 0 || c.SavepointDir != "" || c.Restore != nil)
}

// RestartStrategy says whether and when a failed job attempt is restarted
// from the latest completed checkpoint.
type RestartStrategy struct {
	// Kind is "fixed-delay" (the default with checkpoints), "exponential" or
	// "none".
	Kind string
	// MaxRestarts bounds the restarts (fixed-delay and exponential).
	MaxRestarts int
	// Delay before a restart; for exponential the first delay, doubled each
	// time up to MaxDelay.
	Delay    time.Duration
	MaxDelay time.Duration
}

// Defaults of the restart strategy in runs with checkpoints.
const (
	DefaultMaxRestarts  = 10
	DefaultRestartDelay = 200 * time.Millisecond
	DefaultMaxDelay     = 30 * time.Second
)

// ParseRestartStrategy reads "none", "fixed-delay[:restarts[:delay]]" or
// "exponential[:restarts[:initial-delay[:max-delay]]]".
func ParseRestartStrategy(s string) (RestartStrategy, error) {
	parts := strings.Split(s, ":")
	r := RestartStrategy{Kind: parts[0], MaxRestarts: DefaultMaxRestarts, Delay: DefaultRestartDelay, MaxDelay: DefaultMaxDelay}
	bad := func(why string) (RestartStrategy, error) {
		return RestartStrategy{}, fmt.Errorf("restart strategy %q: %s; use none, fixed-delay[:restarts[:delay]] or exponential[:restarts[:initial-delay[:max-delay]]], e.g. fixed-delay:5:1s", s, why)
	}
	switch r.Kind {
	case "none":
		if len(parts) > 1 {
			return bad("none takes no parameters")
		}
		return r, nil
	case "fixed-delay", "exponential":
	default:
		return bad("unknown kind")
	}
	if len(parts) > 3+btoi(r.Kind == "exponential") {
		return bad("too many parameters")
	}
	if len(parts) > 1 {
		n, err := fmt.Sscanf(parts[1], "%d", &r.MaxRestarts)
		if err != nil || n != 1 || r.MaxRestarts < 0 {
			return bad("restarts must be a number ≥ 0")
		}
	}
	for i, d := range []*time.Duration{&r.Delay, &r.MaxDelay} {
		if len(parts) > 2+i {
			v, err := time.ParseDuration(parts[2+i])
			if err != nil || v < 0 {
				return bad("delays are durations such as 500ms or 2s")
			}
			*d = v
		}
	}
	return r, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// next returns the delay before restart number n (from 1), or false when
// the strategy allows no more.
func (r RestartStrategy) next(n int) (time.Duration, bool) {
	switch r.Kind {
	case "none":
		return 0, false
	case "", "fixed-delay":
		max := r.MaxRestarts
		if r.Kind == "" && max == 0 {
			max = DefaultMaxRestarts
		}
		d := r.Delay
		if r.Kind == "" && d == 0 {
			d = DefaultRestartDelay
		}
		return d, n <= max
	case "exponential":
		d := float64(r.Delay) * math.Pow(2, float64(n-1))
		limit := r.MaxDelay
		if limit <= 0 {
			limit = DefaultMaxDelay
		}
		return min(time.Duration(d), limit), n <= r.MaxRestarts
	}
	return 0, false
}

func (r RestartStrategy) String() string {
	switch r.Kind {
	case "none":
		return "none"
	case "exponential":
		return fmt.Sprintf("exponential (%d restarts, %s doubling to %s)", r.MaxRestarts, r.Delay, r.MaxDelay)
	}
	return fmt.Sprintf("fixed-delay (%d restarts, %s apart)", r.MaxRestarts, r.Delay)
}

// injectedPrefix starts the cause of an injected failure.
const injectedPrefix = "injected failure"

// ErrStopped is wrapped by the error of a run stopped with a savepoint.
var ErrStopped = errors.New("stopped with savepoint")

// CheckpointStats are a run's checkpoint counters.
type CheckpointStats struct {
	Completed, Aborted int64
	Restarts           int64
	Latest             int64         // id of the latest completed checkpoint or savepoint, 0 if none
	LatestPath         string        // where it is
	LastDuration       time.Duration // trigger to completion
	MaxSyncPause       time.Duration // the longest synchronous part of one subtask, last checkpoint
	// Deploy is how long the latest attempt took from spawning its subtasks
	// to the last one opening its operators — restoring its state included.
	Deploy time.Duration
}

type checkpointCounters struct {
	completed, aborted, restarts atomic.Int64
	latest                       atomic.Int64
	latestPath                   atomic.Pointer[string]
	lastDuration, maxSync        atomic.Int64
	deploy                       atomic.Int64
}

func (c *checkpointCounters) stats() CheckpointStats {
	s := CheckpointStats{Completed: c.completed.Load(), Aborted: c.aborted.Load(), Restarts: c.restarts.Load(),
		Latest: c.latest.Load(), LastDuration: time.Duration(c.lastDuration.Load()), MaxSyncPause: time.Duration(c.maxSync.Load()),
		Deploy: time.Duration(c.deploy.Load())}
	if p := c.latestPath.Load(); p != nil {
		s.LatestPath = *p
	}
	return s
}

// injector picks the points of injected failures.
type injector struct {
	left int
	rng  *rand.Rand
	base time.Duration // spreads them over about this much time per attempt
}

func newInjector(n int, seed uint64, interval time.Duration) *injector {
	base := max(2*interval, 200*time.Millisecond)
	return &injector{left: n, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), base: base}
}

// delay returns how long after an attempt starts the next failure comes.
func (in *injector) delay() time.Duration {
	return in.base/4 + time.Duration(in.rng.Int64N(int64(in.base)))
}
