package actors

import (
	"math"
	"time"

	floepb "github.com/floestream/floe/proto"
	"github.com/floestream/floe/topology"
)

// chainLinks says, for each node of the chain (by position), which chained
// nodes and which output writers receive what it emits: the paths that
// watermarks and idleness follow.
type chainLinks struct {
	children [][]int
	writers  [][]int
}

func (s *subtask) wireChain(writerOf map[*topology.Edge]int) {
	nodes := s.task.Nodes
	pos := make(map[*topology.Node]int, len(nodes))
	for k, n := range nodes {
		pos[n] = k
	}
	s.chain = chainLinks{children: make([][]int, len(nodes)), writers: make([][]int, len(nodes))}
	for k, n := range nodes {
		for _, e := range n.Outputs {
			if e.Chained() {
				s.chain.children[k] = append(s.chain.children[k], pos[e.To])
			} else {
				s.chain.writers[k] = append(s.chain.writers[k], writerOf[e])
			}
		}
	}
}

// propagateWatermark hands watermark t to node k (when self) and everything
// after it in the chain, in order, then to the output writers, so that what
// timers emit precedes the watermark downstream. A node may stop it (a
// timestamp assigner makes its own watermarks).
func (s *subtask) propagateWatermark(k int, t int64, self bool) {
	if k == 0 || !self { // where a watermark enters the chain, or is made in it
		s.metrics.Watermark.Store(t)
	}
	if self {
		if h, ok := s.instances[k].(topology.WatermarkHandler); ok {
			prevCur, prevTs := s.current, s.timestamp
			s.current = s.task.Nodes[k].ID
			forward, err := h.OnWatermark(t)
			if err != nil {
				panic(topology.Failure{Err: err})
			}
			s.current, s.timestamp = prevCur, prevTs
			if !forward {
				return
			}
		}
	}
	for _, c := range s.chain.children[k] {
		s.propagateWatermark(c, t, true)
	}
	for _, w := range s.chain.writers[k] {
		s.writers[w].Emit(func(ch int32) any { return &floepb.Watermark{Channel: ch, Timestamp: t} })
	}
}

// propagateIdle tells the subtasks downstream of node k that its output is
// idle (or active again), so their watermark does not wait for it.
func (s *subtask) propagateIdle(k int, idle bool) {
	for _, c := range s.chain.children[k] {
		s.propagateIdle(c, idle)
	}
	for _, w := range s.chain.writers[k] {
		s.writers[w].Emit(func(ch int32) any { return &floepb.WatermarkStatus{Channel: ch, Idle: idle} })
	}
}

type processingTimeTick struct{}

var processingTimeNow = &processingTimeTick{}

func processingTime() int64 { return time.Now().UnixMilli() }

// requestProcessingTime arranges a call of the nodes' OnProcessingTime at or
// after processing time t.
func (s *subtask) requestProcessingTime(t int64) {
	if t >= s.procNext {
		return
	}
	s.procNext = t
	self, root := s.self, s.root
	time.AfterFunc(time.Duration(max(t-processingTime(), 0))*time.Millisecond, func() {
		root.Send(self, processingTimeNow)
	})
}

// onProcessingTime runs the nodes' processing-time callbacks; each asks
// again for the next time it needs.
func (s *subtask) onProcessingTime() {
	// Every node checks its own due time and asks again for what is left, so
	// an early or stale tick costs a look and nothing else.
	now := processingTime()
	s.procNext = math.MaxInt64
	for k, inst := range s.instances {
		if h, ok := inst.(topology.ProcessingTimeHandler); ok {
			s.current = s.task.Nodes[k].ID
			if err := h.OnProcessingTime(now); err != nil {
				panic(topology.Failure{Err: err})
			}
		}
	}
	s.current = -1
}
