package actors

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floestream/floe/keyspace"
	floepb "github.com/floestream/floe/proto"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// Self-messages of the job master's checkpointing.
type (
	coordTick    struct{ attempt uint32 }
	restartNow   struct{ attempt uint32 }
	injectNow    struct{ attempt uint32 }
	finalRetry   struct{ attempt uint32 }
	savepointReq struct {
		stop  bool
		reply chan savepointResult
	}
	savepointResult struct {
		path string
		err  error
	}
)

// DefaultCheckpointDir is where checkpoints go when no directory is given:
// under the working directory of the job.
var DefaultCheckpointDir = filepath.Join(".floe", "checkpoints")

// masterCheckpoints is the job master's checkpoint side: the coordinator of
// the current attempt, the acknowledgements collected for metadata, the
// final checkpoint of bounded input, savepoints, and failover.
type masterCheckpoints struct {
	m          *master
	cfg        *Checkpointing
	storage    snapshot.Storage
	savepoints snapshot.Storage // nil without a savepoint directory
	coord      *snapshot.Coordinator
	lastID     int64 // the highest id triggered so far, over every attempt

	acks      map[int64]map[string]*floepb.CheckpointAck
	triggered map[int64]time.Time
	savepoint map[int64]bool
	ended     map[string]bool // subtasks of this attempt whose input ended
	final     int64           // the final checkpoint of bounded input, once triggered
	requests  map[int64]*savepointReq
	waiting   []*savepointReq // savepoints asked for while the job was starting or restarting
	stopID    int64           // the savepoint a stop waits for
	stopPath  string          // set once a stop-with-savepoint's savepoint is complete

	latest    *snapshot.Checkpoint // what a restart restores; the initial restore until a checkpoint completes
	completed []int64              // retained regular checkpoints, oldest first

	restarting bool
	restarts   int           // restarts that count against the strategy
	delay      time.Duration // before the pending restart
	lastCause  error
	inject     *injector
}

func newMasterCheckpoints(m *master) (*masterCheckpoints, error) {
	cfg := m.opts.Checkpoints
	mc := &masterCheckpoints{m: m, cfg: cfg, storage: cfg.Storage, latest: cfg.Restore}
	if mc.storage == nil {
		dir := cfg.Dir
		if dir == "" {
			dir = DefaultCheckpointDir
		}
		mc.storage = snapshot.LocalStorage{Root: dir}
	}
	if cfg.SavepointDir != "" {
		mc.savepoints = snapshot.LocalStorage{Root: cfg.SavepointDir, Prefix: "savepoint-"}
	}
	// Ids continue after every checkpoint and savepoint already there, so a
	// new run never writes into a complete one.
	for _, s := range []snapshot.Storage{mc.storage, mc.savepoints} {
		if s == nil {
			continue
		}
		ids, err := s.Completed(m.graph.Name)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			mc.lastID = max(mc.lastID, ids[len(ids)-1])
		}
		if s == mc.storage {
			mc.completed = ids
		}
	}
	if cfg.Restore != nil {
		mc.lastID = max(mc.lastID, cfg.Restore.Checkpoint)
		if err := cfg.Restore.Match(m.graph.UIDs(), m.graph.MaxParallelism, cfg.AllowNonRestoredState); err != nil {
			return nil, err
		}
	}
	if cfg.InjectFailures > 0 {
		mc.inject = newInjector(cfg.InjectFailures, cfg.FailureSeed, cfg.Interval)
	}
	return mc, mc.newAttempt()
}

// newAttempt resets what belongs to one attempt.
func (mc *masterCheckpoints) newAttempt() error {
	var keys []string
	for _, t := range mc.m.graph.Tasks {
		for i := range t.Parallelism {
			keys = append(keys, subtaskKey(int32(t.ID), int32(i)))
		}
	}
	var err error
	mc.coord, err = snapshot.NewCoordinator(mc.cfg.Config, keys, mc.lastID)
	mc.acks = map[int64]map[string]*floepb.CheckpointAck{}
	mc.triggered = map[int64]time.Time{}
	mc.savepoint = map[int64]bool{}
	mc.ended = map[string]bool{}
	mc.final = 0
	return err
}

func subtaskKey(vertex, index int32) string { return fmt.Sprintf("%d/%d", vertex, index) }

// forSubtask returns what subtask i of t needs for checkpoints and restore.
func (mc *masterCheckpoints) forSubtask(t *topology.Task, i int) *subtaskCheckpoints {
	sc := &subtaskCheckpoints{storage: mc.storage, savepoints: mc.savepoints, mode: mc.cfg.Mode,
		restore: mc.latest, taken: mc.lastID, envs: make([]*topology.Env, len(t.Nodes))}
	if mc.latest != nil {
		sc.operatorState = make([]*keyspace.OperatorStateData, len(t.Nodes))
		for k, n := range t.Nodes {
			all, err := mc.latest.OperatorState(n.UID(), topology.OperatorStatePart, t.Parallelism)
			if err != nil {
				sc.restoreErr = err
				break
			}
			if all != nil {
				sc.operatorState[k] = &all[i]
			}
		}
	}
	return sc
}

// started runs once every subtask of the attempt is deployed and started.
func (mc *masterCheckpoints) started(ctx actor.Context) {
	if mc.cfg.Interval > 0 {
		mc.tick(ctx)
	}
	waiting := mc.waiting
	mc.waiting = nil
	for _, req := range waiting {
		mc.requestSavepoint(ctx, req)
	}
	if mc.inject != nil && mc.inject.left > 0 {
		mc.after(mc.inject.delay(), &injectNow{attempt: mc.m.attempt})
	}
}

func (mc *masterCheckpoints) after(d time.Duration, msg any) {
	root, self := mc.m.run.system.Root, mc.m.self
	time.AfterFunc(d, func() { root.Send(self, msg) })
}

// tickEvery is how often the coordinator looks at the time.
func (mc *masterCheckpoints) tickEvery() time.Duration {
	return min(max(mc.cfg.Interval/10, 5*time.Millisecond), 100*time.Millisecond)
}

func (mc *masterCheckpoints) tick(ctx actor.Context) {
	mc.act(ctx, mc.coord.Tick(time.Now().UnixMilli()))
	mc.after(mc.tickEvery(), &coordTick{attempt: mc.m.attempt})
}

func (mc *masterCheckpoints) receive(ctx actor.Context, msg any) {
	m := mc.m
	switch msg := msg.(type) {
	case *coordTick:
		if msg.attempt == m.attempt && !m.ending && !mc.restarting {
			mc.tick(ctx)
		}
	case *floepb.CheckpointAck:
		if msg.Id.GetAttempt() != m.attempt || mc.restarting {
			return
		}
		key := subtaskKey(msg.Id.Vertex, msg.Id.Index)
		if msg.Error != "" {
			m.log.Warn("checkpoint declined", "job", m.graph.Name, "checkpoint", msg.Checkpoint, "subtask", key, "error", msg.Error)
			mc.act(ctx, mc.coord.Decline(msg.Checkpoint, fmt.Sprintf("subtask %s: %s", key, msg.Error)))
			return
		}
		if acks := mc.acks[msg.Checkpoint]; acks != nil {
			acks[key] = msg
		}
		mc.act(ctx, mc.coord.Ack(msg.Checkpoint, key, key))
	case *floepb.SubtaskEnded:
		if msg.Id.GetAttempt() != m.attempt || mc.restarting {
			return
		}
		key := subtaskKey(msg.Id.Vertex, msg.Id.Index)
		mc.ended[key] = true
		// Checkpoints whose barrier cannot reach it any more are taken as it is.
		for id, acks := range mc.acks {
			if acks[key] == nil {
				ctx.Send(m.pids[msg.Id.Vertex][msg.Id.Index], &floepb.TriggerCheckpoint{Attempt: m.attempt, Checkpoint: id, Savepoint: mc.savepoint[id]})
			}
		}
		// Once every input ended, the final checkpoint commits the rest.
		mc.maybeFinal(ctx)
	case *finalRetry:
		if msg.attempt == m.attempt {
			mc.maybeFinal(ctx)
		}
	case *savepointReq:
		mc.requestSavepoint(ctx, msg)
	case *restartNow:
		if msg.attempt == m.attempt && mc.restarting && !m.ending {
			mc.restarting = false
			m.attempt++
			if err := mc.newAttempt(); err != nil {
				m.end(ctx, err)
				return
			}
			m.log.Info("restarting job", "job", m.graph.Name, "attempt", m.attempt, "from", mc.restoredFrom())
			m.deploy(ctx)
		}
	case *injectNow:
		if msg.attempt == m.attempt && !mc.restarting && !m.ending && mc.inject.left > 0 {
			mc.injectFailure(ctx)
		}
	}
}

func (mc *masterCheckpoints) restoredFrom() string {
	if mc.latest == nil {
		return "the beginning (no checkpoint completed)"
	}
	return mc.latest.Path
}

// injectFailure asks a random subtask still running to fail at its next
// record; another try follows in case that subtask has nothing left to do.
func (mc *masterCheckpoints) injectFailure(ctx actor.Context) {
	m := mc.m
	var live [][2]int32
	for _, t := range m.graph.Tasks {
		for i := range t.Parallelism {
			if !mc.ended[subtaskKey(int32(t.ID), int32(i))] {
				live = append(live, [2]int32{int32(t.ID), int32(i)})
			}
		}
	}
	if len(live) == 0 {
		return
	}
	pick := live[mc.inject.rng.IntN(len(live))]
	number := int32(mc.cfg.InjectFailures - mc.inject.left + 1)
	ctx.Send(m.pids[pick[0]][pick[1]], &floepb.InjectFailure{Attempt: m.attempt, Number: number})
	mc.after(mc.inject.delay(), &injectNow{attempt: m.attempt})
}

// restart stops every subtask of the failed attempt, to restart them once
// all have stopped. When the strategy allows no more restarts it returns
// false and the error to fail the job with.
func (mc *masterCheckpoints) restart(ctx actor.Context, cause error) (bool, error) {
	m := mc.m
	if mc.restarting {
		return true, nil // the attempt is already going down
	}
	injected := mc.inject != nil && strings.Contains(cause.Error(), injectedPrefix)
	if injected {
		mc.inject.left--
	} else {
		mc.restarts++
		delay, ok := mc.cfg.Restart.next(mc.restarts)
		if !ok {
			if mc.restarts > 1 {
				cause = fmt.Errorf("%w (after %d restarts, the restart strategy %s gave up)", cause, mc.restarts-1, mc.cfg.Restart)
			}
			return false, cause
		}
		mc.delay = delay
	}
	if injected {
		mc.delay = 0
	}
	mc.lastCause = cause
	mc.restarting = true
	m.run.checkpoints.restarts.Add(1)
	m.log.Warn("job attempt failed; restarting", "job", m.graph.Name, "attempt", m.attempt, "error", cause)
	for id := range mc.acks {
		mc.abort(ctx, id, "the job attempt failed")
	}
	for _, row := range m.pids {
		for _, p := range row {
			ctx.Stop(p)
		}
	}
	return true, nil
}

func (mc *masterCheckpoints) scheduleRestart() {
	mc.after(mc.delay, &restartNow{attempt: mc.m.attempt})
}

// requestSavepoint triggers a savepoint now.
func (mc *masterCheckpoints) requestSavepoint(ctx actor.Context, req *savepointReq) {
	m := mc.m
	switch {
	case mc.savepoints == nil:
		req.reply <- savepointResult{err: errors.New("no savepoint directory: pass --savepoint-dir DIR (or actors.Checkpointing.SavepointDir)")}
		return
	case m.ending:
		req.reply <- savepointResult{err: fmt.Errorf("job %q is ending", m.graph.Name)}
		return
	case mc.restarting || m.acked < m.total:
		// Taken as soon as the (re)started attempt runs.
		mc.waiting = append(mc.waiting, req)
		return
	case mc.final != 0:
		req.reply <- savepointResult{err: fmt.Errorf("job %q is finishing: its input ended", m.graph.Name)}
		return
	}
	a := mc.coord.TriggerNow(time.Now().UnixMilli())
	mc.savepoint[a.Checkpoint] = true
	if mc.requests == nil {
		mc.requests = map[int64]*savepointReq{}
	}
	mc.requests[a.Checkpoint] = req
	if req.stop {
		mc.stopID = a.Checkpoint
	}
	mc.act(ctx, []snapshot.Action{a})
}

// act carries out the coordinator's actions.
func (mc *masterCheckpoints) act(ctx actor.Context, actions []snapshot.Action) {
	m := mc.m
	for len(actions) > 0 {
		a := actions[0]
		actions = actions[1:]
		switch a.Kind {
		case snapshot.Trigger:
			mc.trigger(ctx, a.Checkpoint)
		case snapshot.Finalize:
			if err := mc.writeMetadata(a.Checkpoint); err != nil {
				m.log.Warn("checkpoint metadata not written", "job", m.graph.Name, "checkpoint", a.Checkpoint, "error", err)
				actions = append(actions, mc.coord.Decline(a.Checkpoint, err.Error())...)
				continue
			}
			actions = append(actions, mc.coord.Finalized(a.Checkpoint, time.Now().UnixMilli())...)
		case snapshot.Complete:
			mc.complete(ctx, a.Checkpoint)
		case snapshot.Abort:
			mc.abort(ctx, a.Checkpoint, a.Reason)
		case snapshot.Discard:
			// Retention is the master's: it keeps savepoints and counts
			// checkpoints over attempts (see complete).
		}
	}
}

func (mc *masterCheckpoints) storageOf(id int64) snapshot.Storage {
	if mc.savepoint[id] {
		return mc.savepoints
	}
	return mc.storage
}

// trigger starts checkpoint id at the sources, and at the subtasks whose
// input ended (no barrier can reach them).
func (mc *masterCheckpoints) trigger(ctx actor.Context, id int64) {
	m := mc.m
	mc.lastID = max(mc.lastID, id)
	mc.triggered[id] = time.Now()
	mc.acks[id] = map[string]*floepb.CheckpointAck{}
	for _, t := range m.graph.Tasks {
		for i := range t.Parallelism {
			if t.Head().Kind == topology.SourceNode || mc.ended[subtaskKey(int32(t.ID), int32(i))] {
				ctx.Send(m.pids[t.ID][i], &floepb.TriggerCheckpoint{Attempt: m.attempt, Checkpoint: id, Savepoint: mc.savepoint[id]})
			}
		}
	}
}

// writeMetadata writes checkpoint id's metadata, last and atomically.
func (mc *masterCheckpoints) writeMetadata(id int64) error {
	m := mc.m
	meta := &snapshot.Metadata{Version: snapshot.MetadataVersion, Job: m.graph.Name, Checkpoint: id,
		Savepoint: mc.savepoint[id], Time: time.Now().UTC(), MaxParallelism: m.graph.MaxParallelism}
	stats := &snapshot.CheckpointStats{Duration: time.Since(mc.triggered[id])}
	byUID := map[string]*snapshot.OperatorFiles{}
	for _, t := range m.graph.Tasks {
		for _, n := range t.Nodes {
			byUID[n.UID()] = &snapshot.OperatorFiles{UID: n.UID(), Name: n.Name, Parallelism: t.Parallelism,
				Files: make([][]string, t.Parallelism)}
		}
	}
	for _, ack := range mc.acks[id] {
		stats.MaxSyncPause = max(stats.MaxSyncPause, time.Duration(ack.SyncNanos))
		stats.MaxAsyncWrite = max(stats.MaxAsyncWrite, time.Duration(ack.AsyncNanos))
		for _, op := range ack.Operators {
			of := byUID[op.Uid]
			if of == nil || int(ack.Id.Index) >= len(of.Files) {
				return fmt.Errorf("subtask %s acknowledged state of unknown operator %q", subtaskKey(ack.Id.Vertex, ack.Id.Index), op.Uid)
			}
			of.Files[ack.Id.Index] = op.Files
			of.Bytes += op.Bytes
			stats.Bytes += op.Bytes
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(byUID)) {
		if of := byUID[uid]; of.Bytes > 0 || slices.ContainsFunc(of.Files, func(f []string) bool { return len(f) > 0 }) {
			meta.Operators = append(meta.Operators, *of)
		}
	}
	meta.Stats = stats
	data, err := meta.Encode()
	if err != nil {
		return err
	}
	return mc.storageOf(id).WriteMetadata(m.graph.Name, id, data)
}

// complete tells every subtask that checkpoint id is complete, keeps it as
// the one a restart restores, and removes checkpoints beyond retention.
func (mc *masterCheckpoints) complete(ctx actor.Context, id int64) {
	m := mc.m
	st := mc.storageOf(id)
	path := st.Path(m.graph.Name, id)
	if ck, err := snapshot.Load(st, m.graph.Name, id); err == nil {
		mc.latest = ck
	} else {
		m.log.Warn("completed checkpoint cannot be read back", "checkpoint", id, "error", err)
	}
	c := &m.run.checkpoints
	c.completed.Add(1)
	c.latest.Store(id)
	c.latestPath.Store(&path)
	c.lastDuration.Store(int64(time.Since(mc.triggered[id])))
	var maxSync int64
	for _, ack := range mc.acks[id] {
		maxSync = max(maxSync, ack.SyncNanos)
	}
	c.maxSync.Store(maxSync)
	delete(mc.acks, id)
	delete(mc.triggered, id)
	finish := id == mc.final || id == mc.stopID
	if id == mc.stopID {
		mc.stopPath = path
	}
	for _, row := range m.pids {
		for _, p := range row {
			ctx.Send(p, &floepb.CheckpointComplete{Attempt: m.attempt, Checkpoint: id, Finish: finish})
		}
	}
	if req := mc.requests[id]; req != nil {
		delete(mc.requests, id)
		req.reply <- savepointResult{path: path}
	}
	if mc.savepoint[id] {
		return
	}
	mc.completed = append(mc.completed, id)
	retained := max(mc.cfg.Retained, 1)
	for len(mc.completed) > retained {
		old := mc.completed[0]
		mc.completed = mc.completed[1:]
		if err := mc.storage.Delete(m.graph.Name, old); err != nil {
			m.log.Warn("old checkpoint not removed", "checkpoint", old, "error", err)
		}
	}
}

// abort gives up checkpoint id everywhere and removes what was written.
func (mc *masterCheckpoints) abort(ctx actor.Context, id int64, reason string) {
	m := mc.m
	if _, ok := mc.acks[id]; !ok {
		return
	}
	m.run.checkpoints.aborted.Add(1)
	m.log.Warn("checkpoint aborted", "job", m.graph.Name, "checkpoint", id, "reason", reason)
	delete(mc.acks, id)
	delete(mc.triggered, id)
	for _, row := range m.pids {
		for _, p := range row {
			ctx.Send(p, &floepb.CheckpointAborted{Attempt: m.attempt, Checkpoint: id, Reason: reason})
		}
	}
	if st := mc.storageOf(id); st != nil {
		if err := st.Delete(m.graph.Name, id); err != nil {
			m.log.Warn("aborted checkpoint not removed", "checkpoint", id, "error", err)
		}
	}
	if req := mc.requests[id]; req != nil {
		delete(mc.requests, id)
		if id == mc.stopID {
			mc.stopID = 0
		}
		req.reply <- savepointResult{err: fmt.Errorf("savepoint %d aborted: %s", id, reason)}
	}
	if id == mc.final && !mc.restarting {
		// The output is not committed until a final checkpoint completes.
		mc.final = 0
		mc.after(100*time.Millisecond, &finalRetry{attempt: m.attempt})
	}
}

// maybeFinal triggers the final checkpoint once every subtask's input ended.
func (mc *masterCheckpoints) maybeFinal(ctx actor.Context) {
	if len(mc.ended) == mc.m.total && mc.final == 0 && !mc.restarting {
		a := mc.coord.TriggerNow(time.Now().UnixMilli())
		mc.final = a.Checkpoint
		mc.act(ctx, []snapshot.Action{a})
	}
}
