package snapshot

import (
	"fmt"
	"slices"
	"time"
)

// Config says when checkpoints are taken and how many are kept.
type Config struct {
	Interval      time.Duration // between triggers; 0 turns checkpointing off
	Timeout       time.Duration // a checkpoint not complete by then is aborted
	MinPause      time.Duration // at least this long after a completion before the next trigger
	MaxConcurrent int           // checkpoints in flight at once (default 1)
	Retained      int           // completed checkpoints kept (default 1)
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0 || c.Timeout < 0 || c.MinPause < 0:
		return fmt.Errorf("checkpoint interval %s, timeout %s and minimum pause %s must not be negative", c.Interval, c.Timeout, c.MinPause)
	case c.MaxConcurrent < 0 || c.Retained < 0:
		return fmt.Errorf("max concurrent checkpoints %d and retained checkpoints %d must not be negative", c.MaxConcurrent, c.Retained)
	}
	return nil
}

// ActionKind says what the job master must do.
type ActionKind int

const (
	// Trigger: send checkpoint Checkpoint's barrier through the sources.
	Trigger ActionKind = iota
	// Finalize: every subtask acknowledged; write the metadata (Acks) last
	// and atomically, then call Finalized or, if writing failed, Abort.
	Finalize
	// Complete: tell every subtask that Checkpoint is complete (sinks commit).
	Complete
	// Abort: tell every subtask that Checkpoint is abandoned and clean it up.
	Abort
	// Discard: delete completed Checkpoint, no longer retained.
	Discard
)

func (k ActionKind) String() string {
	return [...]string{"trigger", "finalize", "complete", "abort", "discard"}[k]
}

// Action is one thing the job master must do.
type Action struct {
	Kind       ActionKind
	Checkpoint int64
	Reason     string            // for Abort
	Acks       map[string]string // for Finalize: subtask → snapshot handle
}

func (a Action) String() string {
	if a.Reason != "" {
		return fmt.Sprintf("%s %d (%s)", a.Kind, a.Checkpoint, a.Reason)
	}
	return fmt.Sprintf("%s %d", a.Kind, a.Checkpoint)
}

type pending struct {
	triggered int64
	acks      map[string]string
	final     bool // waiting for the metadata
}

// Coordinator decides checkpoints for one job attempt. Times are
// milliseconds of any monotonic clock; the caller passes them in.
type Coordinator struct {
	cfg           Config
	subtasks      []string // who must acknowledge
	next          int64
	pending       map[int64]*pending
	completed     []int64
	lastTrigger   int64
	lastCompleted int64
	started       bool
}

// NewCoordinator returns a coordinator expecting an acknowledgement from
// each of subtasks; checkpoint ids continue after lastID (the latest id of a
// previous attempt, so ids never repeat across restarts).
func NewCoordinator(cfg Config, subtasks []string, lastID int64) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.MaxConcurrent = max(cfg.MaxConcurrent, 1)
	cfg.Retained = max(cfg.Retained, 1)
	return &Coordinator{cfg: cfg, subtasks: slices.Clone(subtasks), next: lastID + 1, pending: map[int64]*pending{}}, nil
}

// Tick advances time: it aborts checkpoints past their timeout and triggers
// the next one when it is due.
func (c *Coordinator) Tick(now int64) []Action {
	var out []Action
	if !c.started {
		c.started, c.lastTrigger, c.lastCompleted = true, now, now-c.cfg.MinPause.Milliseconds()
	}
	if t := c.cfg.Timeout.Milliseconds(); t > 0 {
		for _, id := range c.pendingIDs() {
			if p := c.pending[id]; !p.final && now-p.triggered >= t {
				delete(c.pending, id)
				out = append(out, Action{Kind: Abort, Checkpoint: id, Reason: "timed out"})
			}
		}
	}
	if c.cfg.Interval > 0 && len(c.pending) < c.cfg.MaxConcurrent &&
		now-c.lastTrigger >= c.cfg.Interval.Milliseconds() &&
		now-c.lastCompleted >= c.cfg.MinPause.Milliseconds() {
		out = append(out, c.TriggerNow(now))
	}
	return out
}

// TriggerNow starts a checkpoint regardless of the interval (a savepoint, or
// the final checkpoint of bounded input).
func (c *Coordinator) TriggerNow(now int64) Action {
	id := c.next
	c.next++
	c.lastTrigger = now
	c.pending[id] = &pending{triggered: now, acks: map[string]string{}}
	return Action{Kind: Trigger, Checkpoint: id}
}

// Ack records a subtask's snapshot handle for checkpoint id; when every
// subtask has acknowledged, it asks for the metadata to be written.
func (c *Coordinator) Ack(id int64, subtask, handle string) []Action {
	p := c.pending[id]
	if p == nil || p.final || !slices.Contains(c.subtasks, subtask) {
		return nil // late, unknown or aborted: nothing to do
	}
	p.acks[subtask] = handle
	if len(p.acks) < len(c.subtasks) {
		return nil
	}
	p.final = true
	return []Action{{Kind: Finalize, Checkpoint: id, Acks: p.acks}}
}

// Decline aborts checkpoint id, for example because a subtask failed to
// write its snapshot.
func (c *Coordinator) Decline(id int64, reason string) []Action {
	if _, ok := c.pending[id]; !ok {
		return nil
	}
	delete(c.pending, id)
	return []Action{{Kind: Abort, Checkpoint: id, Reason: reason}}
}

// Finalized records that checkpoint id's metadata is durably written: the
// checkpoint is complete, older pending ones are subsumed, and completed
// ones beyond the retention are discarded.
func (c *Coordinator) Finalized(id int64, now int64) []Action {
	p := c.pending[id]
	if p == nil || !p.final {
		return nil
	}
	delete(c.pending, id)
	out := []Action{{Kind: Complete, Checkpoint: id}}
	for _, older := range c.pendingIDs() {
		if older < id {
			delete(c.pending, older)
			out = append(out, Action{Kind: Abort, Checkpoint: older, Reason: fmt.Sprintf("subsumed by %d", id)})
		}
	}
	c.completed = append(c.completed, id)
	c.lastCompleted = now
	for len(c.completed) > c.cfg.Retained {
		out = append(out, Action{Kind: Discard, Checkpoint: c.completed[0]})
		c.completed = c.completed[1:]
	}
	return out
}

// Latest returns the latest completed checkpoint, if any.
func (c *Coordinator) Latest() (int64, bool) {
	if len(c.completed) == 0 {
		return 0, false
	}
	return c.completed[len(c.completed)-1], true
}

func (c *Coordinator) pendingIDs() []int64 {
	ids := make([]int64, 0, len(c.pending))
	for id := range c.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
