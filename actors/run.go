package actors

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floestream/floe/keyspace"
	floepb "github.com/floestream/floe/proto"
	"github.com/floestream/floe/topology"
)

// Run is one running execution of a job graph.
type Run struct {
	graph   *topology.JobGraph
	system  *actor.ActorSystem
	owned   bool // the run created the system and shuts it down
	master  *actor.PID
	metrics [][]*SubtaskMetrics
	// dispatcher runs the subtasks' mailboxes; see workerDispatcher.
	dispatcher *workerDispatcher
	// ownedPebble is the state database the run opened and closes;
	// tempState the temporary directory it made for it.
	ownedPebble *keyspace.PebbleDB
	tempState   string

	// writes counts snapshot writes in flight; state closes after them.
	writes      sync.WaitGroup
	checkpoints checkpointCounters

	once sync.Once
	done chan struct{}
	err  error
}

// Start deploys g on actors and returns at once. The run ends when every
// subtask finished (bounded inputs), a subtask failed, or it is cancelled —
// by Cancel or by ctx.
func Start(ctx context.Context, g *topology.JobGraph, opts ...Option) (*Run, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	r := &Run{graph: g, system: o.System, done: make(chan struct{}),
		dispatcher: newWorkerDispatcher(2*runtime.GOMAXPROCS(0), 300)}
	if err := r.openState(o); err != nil {
		r.dispatcher.Close()
		return nil, err
	}
	if r.system == nil {
		r.owned = true
		quiet := slog.New(levelAtLeast{o.Logger.Handler(), slog.LevelWarn})
		r.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	}
	r.metrics = make([][]*SubtaskMetrics, len(g.Tasks))
	for _, t := range g.Tasks {
		r.metrics[t.ID] = make([]*SubtaskMetrics, t.Parallelism)
		for i := range t.Parallelism {
			m := &SubtaskMetrics{Task: t.Name(), TaskID: t.ID, Index: i, Parallelism: t.Parallelism}
			m.Watermark.Store(math.MinInt64)
			r.metrics[t.ID][i] = m
		}
	}
	m := &master{run: r, graph: g, opts: o, attempt: 1, log: o.Logger}
	props := actor.PropsFromProducer(func() actor.Actor { return m }, actor.WithSupervisor(failFast{m}))
	r.master, err = r.system.Root.SpawnNamed(props, "job/"+g.Name+"/"+r.system.ID)
	if err != nil {
		r.shutdown()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			r.Cancel(context.Cause(ctx).Error())
		case <-r.done:
		}
	}()
	return r, nil
}

// Execute runs g to the end and returns its error: nil when every subtask
// finished, an *OperatorError when user code failed, an error wrapping
// ErrCancelled when ctx was cancelled.
func Execute(ctx context.Context, g *topology.JobGraph, opts ...Option) error {
	r, err := Start(ctx, g, opts...)
	if err != nil {
		return err
	}
	return r.Wait()
}

// Cancel stops the run; Wait then returns an error wrapping ErrCancelled.
func (r *Run) Cancel(reason string) {
	r.system.Root.Send(r.master, &floepb.CancelJob{Reason: reason})
}

// Wait blocks until the run has ended and every subtask has closed.
func (r *Run) Wait() error {
	<-r.done
	return r.err
}

// Checkpoints reads the run's checkpoint counters.
func (r *Run) Checkpoints() CheckpointStats { return r.checkpoints.stats() }

// Savepoint takes a savepoint now and returns its path once it is complete;
// the run goes on. The run needs a savepoint directory.
func (r *Run) Savepoint(ctx context.Context) (string, error) { return r.savepoint(ctx, false) }

// StopWithSavepoint takes a savepoint and, once it is complete and the
// sinks committed up to it, stops the run; Wait then returns an error
// wrapping ErrStopped. It returns the savepoint's path, from which the job
// resumes (Checkpointing.Restore, floe run --from-savepoint).
func (r *Run) StopWithSavepoint(ctx context.Context) (string, error) { return r.savepoint(ctx, true) }

func (r *Run) savepoint(ctx context.Context, stop bool) (string, error) {
	req := &savepointReq{stop: stop, reply: make(chan savepointResult, 1)}
	r.system.Root.Send(r.master, req)
	select {
	case res := <-req.reply:
		return res.path, res.err
	case <-r.done:
		select {
		case res := <-req.reply: // completed, and then the run ended (a stop)
			return res.path, res.err
		default:
		}
		return "", fmt.Errorf("the run ended before the savepoint completed: %v", r.err)
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// Graph returns the job graph being run.
func (r *Run) Graph() *topology.JobGraph { return r.graph }

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Metrics reads the live counters of every subtask, by task then index.
func (r *Run) Metrics() []Snapshot {
	var out []Snapshot
	for _, row := range r.metrics {
		for _, m := range row {
			out = append(out, m.Snapshot())
		}
	}
	return out
}

func (r *Run) complete(err error) {
	r.once.Do(func() {
		r.err = err
		r.shutdown()
		close(r.done)
	})
}

func (r *Run) shutdown() {
	r.dispatcher.Close()
	r.writes.Wait() // a Pebble snapshot being written needs the database open
	if r.owned {
		r.system.Shutdown()
	}
	if err := r.closeState(); err != nil && r.err == nil {
		r.err = err
	}
}

// openState opens the Pebble database the options ask for.
func (r *Run) openState(o *Options) error {
	if o.StateBackend != "pebble" || o.Pebble != nil {
		return nil
	}
	dir := o.StateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "floe-state-")
		if err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		dir, r.tempState = tmp, tmp
	}
	db, err := keyspace.OpenPebble(dir, keyspace.PebbleOptions{})
	if err != nil {
		if r.tempState != "" {
			os.RemoveAll(r.tempState)
		}
		return fmt.Errorf("open Pebble state in %s: %w (check --state-dir)", dir, err)
	}
	o.Pebble, r.ownedPebble = db, db
	return nil
}

func (r *Run) closeState() error {
	var err error
	if r.ownedPebble != nil {
		err = r.ownedPebble.Close()
		r.ownedPebble = nil
	}
	if r.tempState != "" {
		os.RemoveAll(r.tempState)
		r.tempState = ""
	}
	return err
}
