package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floestream/floe/exchange"
	floepb "github.com/floestream/floe/proto"
	"github.com/floestream/floe/topology"
)

// childCrashed reports a panic that escaped a subtask's own recovery.
type childCrashed struct {
	child  *actor.PID
	reason any
}

// failFast is the job master's supervisor strategy: a subtask that crashed
// is stopped and the job fails. Restarting it alone would lose the message
// that crashed it (protoactor drops it); recovery is the job's business.
// protoactor calls it while the master handles the child's failure, on the
// master's own goroutine.
type failFast struct{ m *master }

func (f failFast) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	_ *actor.RestartStatistics, reason, _ any) {
	system.Root.Send(f.m.self, &childCrashed{child: child, reason: reason})
	sup.StopChildren(child)
}

// master is the job master actor: it deploys a job graph as subtask children
// in phases (spawn all, deploy each, wait for every ack, start), runs the
// checkpoint coordinator, waits for every subtask to finish, and on a
// failure either restarts every subtask from the latest completed
// checkpoint under a new attempt number or, when the restart strategy says
// so (or checkpoints are off), fails the job. Its result is handed to the
// run when it has stopped, that is after every subtask has closed its
// operators.
type master struct {
	run     *Run
	graph   *topology.JobGraph
	opts    *Options
	attempt uint32
	log     *slog.Logger
	self    *actor.PID

	pids     [][]*actor.PID // by task ID, then subtask index
	total    int
	acked    int
	finished int
	result   error
	ending   bool

	ck       *masterCheckpoints // nil when the run takes no checkpoints
	deployed time.Time          // when the current attempt was spawned
}

func (m *master) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.self = ctx.Self()
		if m.opts.Checkpoints.enabled() {
			var err error
			if m.ck, err = newMasterCheckpoints(m); err != nil {
				m.end(ctx, err)
				return
			}
		}
		m.deploy(ctx)
	case *floepb.DeployAck:
		if msg.Id.GetAttempt() != m.attempt {
			return
		}
		if msg.Error != "" {
			err := fmt.Errorf("job %q could not start: %s", m.graph.Name, msg.Error)
			if m.attempt == 1 {
				m.end(ctx, err) // a configuration error: restarting would fail the same way
			} else {
				m.failAttempt(ctx, err)
			}
			return
		}
		if m.acked++; m.acked == m.total && !m.ending {
			m.run.checkpoints.deploy.Store(int64(time.Since(m.deployed)))
			for _, row := range m.pids {
				for _, p := range row {
					ctx.Send(p, &floepb.Start{Attempt: m.attempt})
				}
			}
			if m.ck != nil {
				m.ck.started(ctx)
			}
		}
	case *floepb.SubtaskFinished:
		if msg.Id.GetAttempt() != m.attempt {
			return
		}
		if m.finished++; m.finished == m.total {
			var result error
			if m.ck != nil && m.ck.stopPath != "" {
				result = fmt.Errorf("job %q %w %s", m.graph.Name, ErrStopped, m.ck.stopPath)
			}
			m.end(ctx, result)
		}
	case *floepb.SubtaskFailed:
		if msg.Id.GetAttempt() == m.attempt {
			m.failAttempt(ctx, m.failure(msg.Id, msg.Operator, errors.New(msg.Cause)))
		}
	case *childCrashed:
		m.failAttempt(ctx, fmt.Errorf("job %q failed: subtask %s crashed: %v", m.graph.Name, msg.child.Id, msg.reason))
	case *floepb.CancelJob:
		m.end(ctx, fmt.Errorf("job %q %w: %s", m.graph.Name, ErrCancelled, msg.Reason))
	case *actor.Terminated:
		if m.ck != nil && m.ck.restarting && len(ctx.Children()) == 0 {
			m.ck.scheduleRestart()
		}
	case *actor.Stopped:
		m.run.complete(m.result)
	default:
		if m.ck != nil {
			m.ck.receive(ctx, msg)
		}
	}
}

// failAttempt handles the failure of the current attempt: with checkpoints
// and restarts left, every subtask is stopped and the job restarts from the
// latest completed checkpoint; otherwise the job fails with cause.
func (m *master) failAttempt(ctx actor.Context, cause error) {
	if m.ending {
		return
	}
	if m.ck == nil {
		m.end(ctx, cause)
		return
	}
	if ok, err := m.ck.restart(ctx, cause); !ok {
		m.end(ctx, err)
	}
}

// ErrCancelled is wrapped by the error of a run that was cancelled.
var ErrCancelled = errors.New("cancelled")

func (m *master) failure(id *floepb.SubtaskId, operator string, cause error) error {
	par := 0
	if int(id.GetVertex()) < len(m.graph.Tasks) {
		par = m.graph.Tasks[id.GetVertex()].Parallelism
	}
	return &OperatorError{Job: m.graph.Name, Operator: operator, Subtask: int(id.GetIndex()), Parallelism: par, Err: cause}
}

// OperatorError is the error of a run whose user code failed.
type OperatorError struct {
	Job         string
	Operator    string
	Subtask     int
	Parallelism int
	Err         error
}

func (e *OperatorError) Error() string {
	return fmt.Sprintf("job %q failed: operator %q (subtask %d/%d): %v", e.Job, e.Operator, e.Subtask+1, e.Parallelism, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// end records the job's result once and stops the master, which stops every
// subtask first.
func (m *master) end(ctx actor.Context, result error) {
	if m.ending {
		return
	}
	m.ending = true
	m.result = result
	if result != nil {
		m.log.Debug("job ending", "job", m.graph.Name, "error", result)
	}
	ctx.Stop(ctx.Self())
}

func (m *master) deploy(ctx actor.Context) {
	g := m.graph
	m.pids = make([][]*actor.PID, len(g.Tasks))
	m.total, m.acked, m.finished = 0, 0, 0
	m.deployed = time.Now()
	for _, t := range g.Tasks {
		m.pids[t.ID] = make([]*actor.PID, t.Parallelism)
		for i := range t.Parallelism {
			st := &subtask{graph: g, task: t, index: i, opts: m.opts, log: m.log,
				metrics: m.run.metrics[t.ID][i], run: m.run}
			if m.ck != nil {
				st.ck = m.ck.forSubtask(t, i)
			}
			props := actor.PropsFromProducer(func() actor.Actor { return st }, actor.WithDispatcher(m.run.dispatcher))
			name := fmt.Sprintf("%s/%d/%d/%d", g.Name, m.attempt, t.ID, i)
			p, err := ctx.SpawnNamed(props, name)
			if err != nil {
				m.end(ctx, fmt.Errorf("job %q: spawn subtask %s: %w", g.Name, name, err))
				return
			}
			m.pids[t.ID][i] = p
			m.total++
		}
	}
	base := channelBases(g)
	for _, t := range g.Tasks {
		for i := range t.Parallelism {
			ctx.Send(m.pids[t.ID][i], m.deployment(ctx, t, i, base))
		}
	}
}

// channelBases numbers every task's input channels: each input edge of a task
// takes a run of channels starting at its base, one per upstream subtask
// (one in all for forward edges).
func channelBases(g *topology.JobGraph) map[*topology.Edge]int32 {
	base := map[*topology.Edge]int32{}
	for _, t := range g.Tasks {
		var next int32
		for _, e := range t.Inputs {
			base[e] = next
			next += int32(channelCount(e))
		}
	}
	return base
}

// channelCount is the number of input channels an edge gives each
// downstream subtask: one for forward, one per upstream subtask otherwise.
func channelCount(e *topology.Edge) int {
	if e.Partitioning == exchange.Forward {
		return 1
	}
	return e.From.Parallelism()
}

func (m *master) deployment(ctx actor.Context, t *topology.Task, i int, base map[*topology.Edge]int32) *floepb.Deploy {
	d := &floepb.Deploy{
		Id:     &floepb.SubtaskId{Job: m.graph.Name, Attempt: m.attempt, Vertex: int32(t.ID), Index: int32(i)},
		Master: ref(ctx.Self()),
	}
	for _, e := range t.Outputs {
		down := e.To.Task
		out := &floepb.Output{}
		if e.Partitioning == exchange.Forward {
			out.Targets = []*floepb.PIDRef{ref(m.pids[down.ID][i])}
			out.TargetChannels = []int32{base[e]}
		} else {
			for d := range down.Parallelism {
				out.Targets = append(out.Targets, ref(m.pids[down.ID][d]))
				out.TargetChannels = append(out.TargetChannels, base[e]+int32(i))
			}
		}
		d.Outputs = append(d.Outputs, out)
	}
	for _, e := range t.Inputs {
		up := e.From.Task
		output := int32(outputIndex(up, e))
		if e.Partitioning == exchange.Forward {
			d.Inputs = append(d.Inputs, &floepb.InputChannel{Sender: ref(m.pids[up.ID][i]), Output: output, OutputChannel: 0})
			continue
		}
		for u := range up.Parallelism {
			d.Inputs = append(d.Inputs, &floepb.InputChannel{Sender: ref(m.pids[up.ID][u]), Output: output, OutputChannel: int32(i)})
		}
	}
	return d
}

func outputIndex(t *topology.Task, e *topology.Edge) int {
	for i, o := range t.Outputs {
		if o == e {
			return i
		}
	}
	panic(fmt.Sprintf("actors: edge %s is not an output of task %q", e, t.Name()))
}
