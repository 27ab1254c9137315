package actors

import (
	"sync/atomic"
	"time"
)

// SubtaskMetrics are the live counters of one subtask. The subtask writes
// them with atomic stores; readers may load them at any time from any
// goroutine, so a dashboard can poll them while the job runs.
type SubtaskMetrics struct {
	Task        string // the task's chained operator names
	TaskID      int
	Index       int
	Parallelism int

	RecordsIn          atomic.Uint64 // records taken from inputs (or read by a source)
	RecordsOut         atomic.Uint64 // records written to output channels
	BatchesIn          atomic.Uint64
	BatchesOut         atomic.Uint64
	BusyNanos          atomic.Int64 // time spent processing
	BackPressuredNanos atomic.Int64 // time output was waiting for credit
	QueueDepth         atomic.Int64 // input arrivals waiting to be processed
	Watermark          atomic.Int64 // the last watermark the subtask's inputs combined to
	StateKeys          atomic.Int64 // keyed state entries, refreshed about once a second
	StateBytes         atomic.Int64 // their approximate size in bytes
	started            atomic.Int64 // unix nanos when the subtask started
	ended              atomic.Int64 // unix nanos when it finished or failed, 0 while running
}

// Snapshot is a consistent-enough copy of SubtaskMetrics at one moment.
type Snapshot struct {
	Task                      string
	TaskID, Index             int
	Parallelism               int
	RecordsIn, RecordsOut     uint64
	BatchesIn, BatchesOut     uint64
	Busy, BackPressured, Idle time.Duration
	QueueDepth                int64
	Watermark                 int64 // math.MinInt64 before the first
	StateKeys, StateBytes     int64
	Running                   bool
}

// Snapshot reads the counters. Idle is the wall time since start that was
// neither busy nor back-pressured.
func (m *SubtaskMetrics) Snapshot() Snapshot {
	s := Snapshot{
		Task: m.Task, TaskID: m.TaskID, Index: m.Index, Parallelism: m.Parallelism,
		RecordsIn: m.RecordsIn.Load(), RecordsOut: m.RecordsOut.Load(),
		BatchesIn: m.BatchesIn.Load(), BatchesOut: m.BatchesOut.Load(),
		Busy:          time.Duration(m.BusyNanos.Load()),
		BackPressured: time.Duration(m.BackPressuredNanos.Load()),
		QueueDepth:    m.QueueDepth.Load(),
		Watermark:     m.Watermark.Load(),
		StateKeys:     m.StateKeys.Load(),
		StateBytes:    m.StateBytes.Load(),
	}
	start, end := m.started.Load(), m.ended.Load()
	s.Running = start != 0 && end == 0
	if start != 0 {
		if end == 0 {
			end = time.Now().UnixNano()
		}
		if idle := time.Duration(end-start) - s.Busy - s.BackPressured; idle > 0 {
			s.Idle = idle
		}
	}
	return s
}
