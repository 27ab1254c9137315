package actors

import (
	"fmt"
	"io"
	"time"

	"github.com/floestream/floe/keyspace"
	floepb "github.com/floestream/floe/proto"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// subtaskCheckpoints is a subtask's side of checkpoints: where its snapshots
// go, what it restores, and the checkpoints it took.
type subtaskCheckpoints struct {
	storage    snapshot.Storage
	savepoints snapshot.Storage
	mode       CheckpointMode
	// restore is the checkpoint the attempt starts from (nil: the beginning);
	// operatorState the subtask's share of each node's operator state in it.
	restore       *snapshot.Checkpoint
	operatorState []*keyspace.OperatorStateData
	restoreErr    error
	envs          []*topology.Env // by node position in the chain
	taken         int64           // the newest checkpoint snapshotted here (or before this attempt)
	kinds         map[int64]bool  // which barriers seen are savepoints'
	injected      int32           // an injected failure to raise at the next record, 0 for none
}

// prepare gives node k's env what it restores, before the node opens.
func (c *subtaskCheckpoints) prepare(env *topology.Env, k int) error {
	if c == nil {
		return nil
	}
	if c.restoreErr != nil {
		return c.restoreErr
	}
	c.envs[k] = env
	if c.restore == nil {
		return nil
	}
	uid := env.OperatorUID
	if _, ok := c.restore.Operator(uid); !ok {
		return nil // no state of this operator: it starts empty
	}
	ck := c.restore
	env.Restored = &topology.Restored{
		Open: func(name string) ([]io.ReadCloser, error) { return ck.OpenParts(uid, name) },
		Has:  func(name string) bool { return ck.HasPart(uid, name) },
	}
	if d := c.operatorState[k]; d != nil {
		return env.RestoreOperatorState(*d)
	}
	return nil
}

func (c *subtaskCheckpoints) savepoint(id int64, savepoint bool) {
	if c == nil {
		return
	}
	if c.kinds == nil {
		c.kinds = map[int64]bool{}
	}
	c.kinds[id] = savepoint
}

func (c *subtaskCheckpoints) isSavepoint(id int64) bool {
	sp := c.kinds[id]
	delete(c.kinds, id)
	return sp
}

// injectedFailure is the panic value of an injected failure.
type injectedFailure struct{ number int32 }

func (f injectedFailure) Error() string {
	return fmt.Sprintf("%s %d (--inject-failures)", injectedPrefix, f.number)
}

// failIfInjected raises an injected failure that is due.
func (c *subtaskCheckpoints) failIfInjected() {
	if c != nil && c.injected != 0 {
		n := c.injected
		c.injected = 0
		panic(topology.Failure{Err: injectedFailure{n}})
	}
}

// control handles the job master's checkpoint messages.
func (s *subtask) control(msg any) {
	if s.ck == nil || s.id == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.fail(s.panicCause(r))
		}
	}()
	switch msg := msg.(type) {
	case *floepb.TriggerCheckpoint:
		if msg.Attempt != s.id.Attempt || msg.Checkpoint <= s.ck.taken {
			return
		}
		switch {
		case s.phase == phaseRunning && s.source != nil:
			s.takeCheckpoint(msg.Checkpoint, msg.Savepoint, true)
		case s.phase == phaseEnding || s.phase == phaseEnded:
			// Its input ended: no barrier reaches it any more, and what it
			// sent downstream is whole; it snapshots as it is.
			s.takeCheckpoint(msg.Checkpoint, msg.Savepoint, false)
		}
	case *floepb.CheckpointComplete:
		if msg.Attempt != s.id.Attempt || s.phase == phaseFinished || s.phase == phaseFailed || s.phase == phaseCreated {
			return
		}
		for k, env := range s.ck.envs {
			if s.instances[k] == nil || env == nil {
				continue
			}
			s.current = s.task.Nodes[k].ID
			if err := env.CheckpointComplete(msg.Checkpoint); err != nil {
				panic(topology.Failure{Err: err})
			}
		}
		s.current = -1
		if msg.Finish {
			// The final checkpoint after the input ended, or a stop with
			// savepoint (what followed the savepoint is discarded).
			s.close(s.phase != phaseEnded)
		}
	case *floepb.CheckpointAborted:
		if msg.Attempt == s.id.Attempt && s.gate != nil {
			s.gate.Abort(msg.Checkpoint)
			if s.phase == phaseRunning {
				s.drain()
			}
		}
	case *floepb.InjectFailure:
		if msg.Attempt == s.id.Attempt && s.phase == phaseRunning {
			s.ck.injected = msg.Number
			if s.source != nil {
				s.schedulePoll(0)
			}
		}
	}
}

// takeCheckpoint snapshots every operator of the chain (the synchronous
// part: capture only), forwards the barrier when it came with one, and
// writes the snapshot to storage on another goroutine, acknowledging to
// the master once it is durable.
func (s *subtask) takeCheckpoint(id int64, savepoint, barrier bool) {
	start := time.Now()
	s.ck.taken = max(s.ck.taken, id)
	type operatorParts struct {
		uid   string
		parts []topology.StatePart
	}
	var ops []operatorParts
	release := func() {
		for _, op := range ops {
			for _, p := range op.parts {
				if p.Release != nil {
					p.Release()
				}
			}
		}
	}
	for k, env := range s.ck.envs {
		if s.instances[k] == nil || env == nil {
			continue
		}
		s.current = s.task.Nodes[k].ID
		parts, err := env.SnapshotState(id)
		if err != nil {
			release()
			panic(topology.Failure{Err: fmt.Errorf("snapshot for checkpoint %d: %w", id, err)})
		}
		if len(parts) > 0 {
			ops = append(ops, operatorParts{uid: env.OperatorUID, parts: parts})
		}
	}
	s.current = -1
	if barrier {
		attempt := s.id.Attempt
		for _, w := range s.writers {
			w.Emit(func(ch int32) any {
				return &floepb.Barrier{Attempt: attempt, Channel: ch, Checkpoint: id, Savepoint: savepoint}
			})
		}
	}
	storage := s.ck.storage
	if savepoint {
		storage = s.ck.savepoints
	}
	ack := &floepb.CheckpointAck{Id: s.id, Checkpoint: id, SyncNanos: int64(time.Since(start))}
	job, index, root, master := s.graph.Name, s.index, s.root, s.master
	s.run.writes.Add(1)
	go func() {
		defer s.run.writes.Done()
		t0 := time.Now()
		var err error
		for _, op := range ops {
			snap := &floepb.OperatorSnapshot{Uid: op.uid}
			for _, p := range op.parts {
				if err == nil {
					var n int64
					n, err = writePart(storage, job, id, op.uid, index, p)
					snap.Files = append(snap.Files, p.Name)
					snap.Bytes += n
				}
				if p.Release != nil {
					p.Release()
				}
			}
			ack.Operators = append(ack.Operators, snap)
		}
		ack.AsyncNanos = int64(time.Since(t0))
		if err != nil {
			ack.Error, ack.Operators = err.Error(), nil
		}
		root.Send(master, ack)
	}()
}

// writePart writes one snapshot file durably and returns its size.
func writePart(st snapshot.Storage, job string, id int64, uid string, index int, p topology.StatePart) (int64, error) {
	w, err := st.Create(job, id, uid, index, p.Name)
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: w}
	if err := p.Write(cw); err != nil {
		w.Close()
		return 0, fmt.Errorf("write %s of operator %q: %w", p.Name, uid, err)
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
