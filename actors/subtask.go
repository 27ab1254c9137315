package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/exchange"
	"github.com/floestream/floe/keyspace"
	floepb "github.com/floestream/floe/proto"
	"github.com/floestream/floe/topology"
)

type phase int

const (
	phaseCreated  phase = iota
	phaseDeployed       // operators open, waiting for Start
	phaseRunning
	phaseEnding // input ended, end-of-stream queued downstream, waiting for credit to send it
	phaseEnded  // with checkpoints: end-of-stream sent, waiting for the final checkpoint
	phaseFinished
	phaseFailed
)

// self-messages; pointers to singletons so that sending one allocates nothing.
type pollTick struct{}
type flushTick struct{}

var (
	pollNow  = &pollTick{}
	flushNow = &flushTick{}
)

// inputChannel is where a network input channel comes from and where its
// records go.
type inputChannel struct {
	sender  *actor.PID
	output  int32
	channel int32
	deliver func(exchange.Message, int) int
	// processed holds batches whose credit is not yet returned; credit goes
	// back creditBatch batches at a time.
	processed []exchange.Message
}

// subtask is the actor of one parallel instance of a task.
type subtask struct {
	graph   *topology.JobGraph
	task    *topology.Task
	index   int
	opts    *Options
	metrics *SubtaskMetrics
	log     *slog.Logger
	run     *Run
	ck      *subtaskCheckpoints // nil when the run takes no checkpoints

	id     *floepb.SubtaskId
	root   *actor.RootContext
	self   *actor.PID
	master *actor.PID

	phase     phase
	current   int   // ID of the node whose user code runs; see topology.Env
	timestamp int64 // event timestamp of the record being processed; see topology.Env
	chain     chainLinks
	procNext  int64 // earliest processing time a node asked to be called at
	instances []topology.Instance
	source    topology.SourceInstance
	writers   []exchange.Writer
	inputs    []inputChannel
	gate      *InputGate
	pressure  exchange.Pressure

	partial     exchange.Message // batch interrupted by back-pressure
	partialFrom int
	partialCh   int

	stateChecked time.Time
	pollPending  bool
	flushPending bool
	idleBackoff  time.Duration
	blockedSince time.Time
}

func (s *subtask) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.self = ctx.Self()
		s.root = ctx.ActorSystem().Root
		s.current = -1
		s.timestamp = topology.NoTimestamp
		s.procNext = math.MaxInt64
	case *floepb.Deploy:
		s.onDeploy(msg)
	case *floepb.Start:
		s.onStart()
	case exchange.Message, *exchange.Credit, *floepb.EndOfStream, *floepb.Watermark, *floepb.WatermarkStatus,
		*floepb.Barrier, *pollTick, *flushTick, *processingTimeTick:
		s.work(msg)
	case *floepb.TriggerCheckpoint, *floepb.CheckpointComplete, *floepb.CheckpointAborted, *floepb.InjectFailure:
		s.control(msg)
	case *actor.Stopping:
		s.closeInstances(s.phase != phaseFinished)
	}
}

// work handles one data-path message: it ignores input once the subtask
// failed or finished, attributes a panic to the operator that raised it,
// measures busy and back-pressured time, and keeps partial batches flushing
// on time.
func (s *subtask) work(msg any) {
	if s.phase == phaseDeployed && s.source == nil {
		// Upstream may have started and sent before the master's Start
		// reached this subtask; only sources wait for Start.
		s.onStart()
	}
	if s.phase != phaseRunning && s.phase != phaseEnding {
		// After the end or a failure, input is moot: the job is ending.
		return
	}
	wasBlocked := s.pressure.Blocked()
	if c, ok := msg.(*exchange.Credit); ok && !wasBlocked {
		// Bookkeeping only: nothing waited for this credit, so nothing is
		// processed and there is no time worth measuring.
		s.guard(func() { s.onCredit(c) })
		return
	}
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.fail(s.panicCause(r))
			return
		}
		now := time.Now()
		if now.Sub(s.stateChecked) >= stateCheckInterval {
			s.stateChecked = now
			s.maintainState()
		}
		s.metrics.BusyNanos.Add(int64(now.Sub(start)))
		s.trackPressure(wasBlocked, now)
		s.metrics.QueueDepth.Store(int64(s.gate.Queued()))
		s.scheduleFlush()
	}()
	switch msg := msg.(type) {
	case exchange.Message:
		s.metrics.BatchesIn.Add(1)
		s.offer(s.gate.OfferBatch(int(msg.Channel()), msg))
	case *exchange.Credit:
		s.onCredit(msg)
	case *floepb.EndOfStream:
		s.offer(s.gate.OfferEnd(int(msg.Channel)))
	case *floepb.Watermark:
		s.offer(s.gate.OfferWatermark(int(msg.Channel), msg.Timestamp))
	case *floepb.WatermarkStatus:
		s.offer(s.gate.OfferStatus(int(msg.Channel), msg.Idle))
	case *floepb.Barrier:
		s.ck.savepoint(msg.Checkpoint, msg.Savepoint)
		s.offer(s.gate.OfferBarrier(int(msg.Channel), msg.Checkpoint, false))
	case *processingTimeTick:
		s.onProcessingTime()
	case *pollTick:
		s.pollPending = false
		s.poll()
	case *flushTick:
		s.flushPending = false
		s.flushPartial()
	}
}

// stateCheckInterval is how often a busy subtask refreshes its state size
// and cleans up expired state.
const stateCheckInterval = time.Second

// ttlCleanupBudget bounds the expired entries removed per check, so that a
// check never stalls the subtask for long.
const ttlCleanupBudget = 1000

// maintainState refreshes the state-size counters and removes some expired
// state (TTL's background cleanup).
func (s *subtask) maintainState() {
	var keys, bytes int64
	for k, inst := range s.instances {
		h, ok := inst.(topology.StateHolder)
		if !ok {
			continue
		}
		s.current = s.task.Nodes[k].ID
		h.CleanupExpired(ttlCleanupBudget)
		st := h.StateStats()
		keys += int64(st.Keys)
		bytes += st.ApproxBytes
	}
	s.current = -1
	s.metrics.StateKeys.Store(keys)
	s.metrics.StateBytes.Store(bytes)
}

// guard runs fn, failing the subtask if it panics.
func (s *subtask) guard(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			s.fail(s.panicCause(r))
		}
	}()
	fn()
}

func (s *subtask) trackPressure(wasBlocked bool, now time.Time) {
	switch blocked := s.pressure.Blocked(); {
	case blocked && !wasBlocked:
		s.blockedSince = now
	case !blocked && wasBlocked:
		s.metrics.BackPressuredNanos.Add(int64(now.Sub(s.blockedSince)))
	}
}

func (s *subtask) panicCause(r any) error {
	var f topology.Failure
	if err, ok := r.(error); ok && errors.As(err, &f) {
		return f.Err
	}
	if f, ok := r.(topology.Failure); ok {
		return f.Err
	}
	s.log.Error("panic in subtask", "task", s.task.Name(), "subtask", s.index, "panic", r, "stack", string(debug.Stack()))
	return fmt.Errorf("panic: %v", r)
}

// operatorName names the operator whose code ran last.
func (s *subtask) operatorName() string {
	for _, n := range s.graph.Nodes {
		if n.ID == s.current {
			return n.Name
		}
	}
	return s.task.Name()
}

func (s *subtask) fail(cause error) {
	if s.phase == phaseFailed {
		return
	}
	s.phase = phaseFailed
	s.metrics.ended.Store(time.Now().UnixNano())
	s.root.Send(s.master, &floepb.SubtaskFailed{Id: s.id, Operator: s.operatorName(), Cause: cause.Error()})
}

func (s *subtask) onDeploy(d *floepb.Deploy) {
	s.id = d.Id
	s.master = pid(d.Master)
	err := s.open(d)
	ack := &floepb.DeployAck{Id: s.id}
	if err != nil {
		ack.Error = fmt.Sprintf("%s (%d/%d): %v", s.operatorName(), s.index+1, s.task.Parallelism, err)
		s.phase = phaseFailed
	} else {
		s.phase = phaseDeployed
	}
	s.root.Send(s.master, ack)
}

// open wires writers and input channels and opens the chain's operators,
// last first, so each operator is built with its downstream collectors.
func (s *subtask) open(d *floepb.Deploy) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.panicCause(r)
		}
	}()
	if len(d.Outputs) != len(s.task.Outputs) || s.countInputChannels() != len(d.Inputs) {
		return fmt.Errorf("deploy message does not match the task: %d outputs, %d inputs", len(d.Outputs), len(d.Inputs))
	}
	writerOf := map[*topology.Edge]int{}
	for i, e := range s.task.Outputs {
		w, err := s.newWriter(e, d.Outputs[i])
		if err != nil {
			return err
		}
		s.writers = append(s.writers, w)
		writerOf[e] = i
	}
	nodes := s.task.Nodes
	s.wireChain(writerOf)
	byNode := make(map[*topology.Node]topology.Instance, len(nodes))
	s.instances = make([]topology.Instance, len(nodes))
	for k := len(nodes) - 1; k >= 0; k-- {
		n := nodes[k]
		var main []any
		sides := map[string][]any{}
		for _, e := range n.Outputs {
			var c any
			if e.Chained() {
				c = byNode[e.To].Input(e.InputIndex)
			} else {
				c = s.writers[writerOf[e]].Collector()
			}
			if e.Tag == "" {
				main = append(main, c)
			} else {
				sides[e.Tag] = append(sides[e.Tag], c)
			}
		}
		var out any
		if n.Out != nil {
			if out, err = n.Out.Fanout(main); err != nil {
				return err
			}
		}
		env := s.env(n, k)
		if err := s.ck.prepare(env, k); err != nil {
			return err
		}
		for tag, cs := range sides {
			if env.Sides[tag], err = n.Sides[tag].Fanout(cs); err != nil {
				return err
			}
		}
		s.current = n.ID
		inst, err := n.Open(env, out)
		if err != nil {
			return err
		}
		s.current = -1
		byNode[n] = inst
		s.instances[k] = inst
	}
	head := nodes[0]
	if head.Kind == topology.SourceNode {
		s.source = s.instances[0].(topology.SourceInstance)
		s.gate = NewInputGate(0)
		return nil
	}
	if s.ck != nil && s.ck.mode == AtLeastOnce {
		s.gate = NewAtLeastOnceInputGate(len(d.Inputs))
	} else {
		s.gate = NewInputGate(len(d.Inputs))
	}
	ch := 0
	for _, e := range s.task.Inputs {
		for range channelCount(e) {
			in := d.Inputs[ch]
			deliver, err := e.Ops.BindInput(s.instances[0].Input(e.InputIndex), &s.pressure, &s.timestamp)
			if err != nil {
				return err
			}
			s.inputs = append(s.inputs, inputChannel{sender: pid(in.Sender), output: in.Output,
				channel: in.OutputChannel, deliver: deliver})
			ch++
		}
	}
	return nil
}

func (s *subtask) countInputChannels() int {
	n := 0
	for _, e := range s.task.Inputs {
		n += channelCount(e)
	}
	return n
}

// env describes the subtask to node n, the k-th of the chain.
func (s *subtask) env(n *topology.Node, k int) *topology.Env {
	m := s.graph.MaxParallelism
	return &topology.Env{
		Info: connectors.SubtaskInfo{Job: s.graph.Name, Operator: n.Name,
			Index: s.index, Parallelism: s.task.Parallelism},
		MaxParallelism:        m,
		KeyGroups:             keyspace.RangeForSubtask(m, s.task.Parallelism, s.index),
		Current:               &s.current,
		Sides:                 map[string]any{},
		Timestamp:             &s.timestamp,
		EmitWatermark:         func(t int64) { s.propagateWatermark(k, t, false) },
		EmitIdle:              func(idle bool) { s.propagateIdle(k, idle) },
		ProcessingTime:        processingTime,
		RequestProcessingTime: s.requestProcessingTime,
		Pebble:                s.opts.Pebble,
		OperatorUID:           n.UID(),
		Checkpointing:         s.ck != nil,
	}
}

func (s *subtask) newWriter(e *topology.Edge, out *floepb.Output) (exchange.Writer, error) {
	targets := make([]*actor.PID, len(out.Targets))
	for i, t := range out.Targets {
		targets[i] = pid(t)
	}
	root := s.root
	var ts *int64
	if e.From.Timestamped {
		ts = &s.timestamp
	}
	return e.Ops.NewWriter(exchange.WriterConfig{
		Timestamp:      ts,
		TargetChannel:  out.TargetChannels,
		Partitioning:   e.Partitioning,
		KeyHash:        e.KeyHash,
		MaxParallelism: s.graph.MaxParallelism,
		BatchSize:      s.opts.BatchSize,
		Credits:        s.opts.Credits,
		FlushPerRecord: s.opts.BufferTimeout == 0,
		Send:           func(ch int, msg any) { root.Send(targets[ch], msg) },
		Pressure:       &s.pressure,
	})
}

func (s *subtask) onStart() {
	if s.phase != phaseDeployed {
		return
	}
	s.phase = phaseRunning
	s.metrics.started.Store(time.Now().UnixNano())
	if s.source != nil {
		s.schedulePoll(0)
	}
}

func (s *subtask) schedulePoll(after time.Duration) {
	if s.pollPending {
		return
	}
	s.pollPending = true
	if after == 0 {
		s.root.Send(s.self, pollNow)
		return
	}
	self, root := s.self, s.root
	time.AfterFunc(after, func() { root.Send(self, pollNow) })
}

// poll lets the source emit up to one batch worth of records, then yields
// to the mailbox through a self-message so credits and control messages
// interleave with reading.
func (s *subtask) poll() {
	if s.phase != phaseRunning || s.pressure.Blocked() {
		return // resumed by the credit that unblocks it
	}
	s.ck.failIfInjected()
	before := s.source.Emitted()
	status, err := s.source.Poll(s.opts.BatchSize)
	s.metrics.RecordsIn.Add(s.source.Emitted() - before)
	if err != nil {
		s.current = s.task.Head().ID
		panic(topology.Failure{Err: err})
	}
	switch status {
	case connectors.MoreAvailable:
		s.idleBackoff = 0
		s.schedulePoll(0)
	case connectors.NothingAvailable:
		s.idleBackoff = min(max(2*s.idleBackoff, 100*time.Microsecond), 50*time.Millisecond)
		s.flushPartial() // nothing more is coming soon: don't hold records back
		s.schedulePoll(s.idleBackoff)
	case connectors.EndOfInput:
		s.endInput()
	}
}

func (s *subtask) offer(err error) {
	if err != nil {
		panic(err)
	}
	s.drain()
}

// drain processes queued input until it runs out or output is blocked.
func (s *subtask) drain() {
	for s.phase == phaseRunning && !s.pressure.Blocked() {
		if s.partial != nil {
			b, from, ch := s.partial, s.partialFrom, s.partialCh
			s.partial = nil
			s.process(ch, b, from)
			continue
		}
		ev, ok := s.gate.Next()
		if !ok {
			return
		}
		switch ev.Kind {
		case EventRecords:
			s.process(ev.Channel, ev.Batch, 0)
		case EventWatermark:
			s.propagateWatermark(0, ev.Time, true)
		case EventIdle, EventActive:
			s.propagateIdle(0, ev.Kind == EventIdle)
		case EventEndOfInput:
			s.endInput()
		case EventCheckpoint:
			s.takeCheckpoint(ev.Checkpoint, s.ck.isSavepoint(ev.Checkpoint), true)
		case EventCheckpointAborted:
			// The master aborts it everywhere; a newer barrier follows.
		}
	}
}

// process delivers a batch from record from on; interrupted by back-pressure
// it remembers where to resume, finished it returns the batch with a credit.
func (s *subtask) process(ch int, b exchange.Message, from int) {
	s.ck.failIfInjected()
	in := &s.inputs[ch]
	n := in.deliver(b, from)
	s.metrics.RecordsIn.Add(uint64(n - from))
	if n < b.Len() {
		s.partial, s.partialFrom, s.partialCh = b, n, ch
		return
	}
	// Returning credit a few batches at a time never starves the sender: it
	// keeps at least credits − creditBatch + 1 batches' worth, and this
	// subtask processes what it holds without waiting for anyone.
	if in.processed = append(in.processed, b); len(in.processed) >= s.creditBatch() {
		s.root.Send(in.sender, &exchange.Credit{Output: in.output, Channel: in.channel, Recycled: in.processed})
		in.processed = make([]exchange.Message, 0, s.creditBatch())
	}
}

// creditBatch is how many processed batches a channel returns credit for at
// once: half the credits, so that the sender always has the other half.
func (s *subtask) creditBatch() int { return max(1, s.opts.Credits/2) }

func (s *subtask) onCredit(c *exchange.Credit) {
	s.writers[c.Output].OnCredit(int(c.Channel), c.Recycled)
	if s.pressure.Blocked() {
		return
	}
	switch s.phase {
	case phaseEnding:
		s.finish()
	case phaseRunning:
		if s.source != nil {
			s.schedulePoll(0)
		} else {
			s.drain()
		}
	}
}

// endInput ends the chain's operators in order, so that final records of one
// reach the next before it ends, then queues end-of-stream on every output.
func (s *subtask) endInput() {
	if s.source != nil {
		// The end of a bounded input is the end of event time: timers and
		// windows downstream fire, as on Flink's final watermark.
		s.propagateWatermark(0, math.MaxInt64, true)
	}
	for i, inst := range s.instances {
		s.current = s.task.Nodes[i].ID
		if err := inst.EndInput(); err != nil {
			panic(topology.Failure{Err: err})
		}
	}
	s.current = -1
	for _, w := range s.writers {
		w.Emit(func(ch int32) any { return &floepb.EndOfStream{Channel: ch} })
	}
	s.phase = phaseEnding
	if !s.pressure.Blocked() {
		s.finish()
	}
}

// finish runs once every end-of-stream has been sent: it closes the
// operators, or with checkpoints reports the end and waits for the final
// checkpoint, which commits what the sinks staged.
func (s *subtask) finish() {
	s.syncOutputMetrics()
	s.maintainState()
	if s.ck != nil {
		s.phase = phaseEnded
		s.root.Send(s.master, &floepb.SubtaskEnded{Id: s.id})
		return
	}
	s.close(false)
}

// close closes the operators (discarding staged output when failed) and
// reports the subtask finished.
func (s *subtask) close(failed bool) {
	if err := s.closeInstances(failed); err != nil {
		panic(topology.Failure{Err: err})
	}
	s.phase = phaseFinished
	s.metrics.ended.Store(time.Now().UnixNano())
	s.root.Send(s.master, &floepb.SubtaskFinished{Id: s.id})
}

func (s *subtask) closeInstances(failed bool) error {
	var errs []error
	for i, inst := range s.instances {
		if inst == nil {
			continue
		}
		s.current = s.task.Nodes[i].ID
		if err := inst.Close(failed); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.task.Nodes[i].Name, err))
		}
		s.instances[i] = nil
	}
	s.current = -1
	return errors.Join(errs...)
}

func (s *subtask) flushPartial() {
	for _, w := range s.writers {
		w.FlushPartial()
	}
	s.syncOutputMetrics()
}

func (s *subtask) syncOutputMetrics() {
	var records, batches uint64
	for _, w := range s.writers {
		records += w.Records()
		batches += w.Batches()
	}
	s.metrics.RecordsOut.Store(records)
	s.metrics.BatchesOut.Store(batches)
}

// scheduleFlush arranges a flush of partial batches one buffer timeout from
// now, if any writer holds records.
func (s *subtask) scheduleFlush() {
	if s.flushPending || s.opts.BufferTimeout <= 0 {
		return
	}
	buffered := false
	for _, w := range s.writers {
		if w.Buffered() {
			buffered = true
			break
		}
	}
	if !buffered {
		return
	}
	s.flushPending = true
	self, root := s.self, s.root
	time.AfterFunc(s.opts.BufferTimeout, func() { root.Send(self, flushNow) })
}

func pid(r *floepb.PIDRef) *actor.PID {
	if r == nil {
		return nil
	}
	return actor.NewPID(r.Address, r.Id)
}

func ref(p *actor.PID) *floepb.PIDRef {
	return &floepb.PIDRef{Address: p.Address, Id: p.Id}
}
