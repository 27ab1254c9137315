package topology

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
)

// StatePart is one file of an operator instance's snapshot, written under
// <operator-uid>/<subtask>/<Name> in checkpoint storage.
type StatePart struct {
	Name string
	// Write writes the part. It may run on another goroutine while the
	// subtask goes on processing: it only reads what the snapshot captured.
	Write func(w io.Writer) error
	// Release frees what the capture holds; nil when there is nothing.
	Release func()
}

// Names of the parts operators write. OperatorStatePart holds the
// operator state (keyspace.OperatorStateData), which the runtime reads
// itself to redistribute it when the parallelism changes.
const (
	OperatorStatePart = "operator"
	keyedStatePart    = "keyed"
	timersPart        = "timers"
	windowsPart       = "windows"
)

// Restored is a node's state in the checkpoint or savepoint a run resumes
// from, handed to the node through Env.Restored.
type Restored struct {
	// Open returns the part name as every subtask of the operator wrote it
	// when the snapshot was taken (those that did), for a restore to keep what
	// belongs to the new subtask's key groups. The caller closes them.
	Open func(name string) ([]io.ReadCloser, error)
	// Has reports whether any subtask of the operator wrote part name.
	Has func(name string) bool
}

// CheckpointedFunction is implemented by user functions that keep state in
// fields rather than in state handles: SnapshotState is called at every
// checkpoint before the operator's state is captured, so that the function
// can put its fields into (operator or keyed) state, which it reads back in
// Open after a restore.
type CheckpointedFunction interface {
	SnapshotState(checkpoint int64) error
}

// OperatorState returns the operator state of the node in this subtask,
// created on first use. Contexts, sources and sinks of the node share it.
func (e *Env) OperatorState() *keyspace.OperatorStateStore {
	if e.opState == nil {
		e.opState = keyspace.NewOperatorStateStore()
	}
	return e.opState
}

// onSnapshot registers fn to contribute parts to the node's snapshots, and
// onComplete fn to learn that a checkpoint is complete.
func (e *Env) onSnapshot(fn func(checkpoint int64) ([]StatePart, error)) {
	e.snapshotters = append(e.snapshotters, fn)
}

func (e *Env) onComplete(fn func(checkpoint int64) error) {
	e.listeners = append(e.listeners, fn)
}

// SnapshotState captures the state of the node's instance for checkpoint
// id: user functions' hooks first, then keyed state, timers and tables, and
// the operator state last (sources and sinks record positions and
// transactions in it). It runs on the subtask's goroutine; the parts are
// written later.
func (e *Env) SnapshotState(id int64) ([]StatePart, error) {
	var parts []StatePart
	release := func() {
		for _, p := range parts {
			if p.Release != nil {
				p.Release()
			}
		}
	}
	for _, fn := range e.snapshotters {
		ps, err := fn(id)
		if err != nil {
			release()
			return nil, err
		}
		parts = append(parts, ps...)
	}
	if e.opState != nil {
		d, err := e.opState.Snapshot()
		if err != nil {
			release()
			return nil, err
		}
		if len(d.Lists) > 0 || len(d.Broadcasts) > 0 {
			parts = append(parts, StatePart{Name: OperatorStatePart, Write: func(w io.Writer) error {
				_, err := d.WriteTo(w)
				return err
			}})
		}
	}
	return parts, nil
}

// CheckpointComplete tells the node's instance that checkpoint id is
// complete; transactional sinks commit what they staged for it.
func (e *Env) CheckpointComplete(id int64) error {
	for _, fn := range e.listeners {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// registerHook makes a user function that implements CheckpointedFunction
// take part in snapshots, before the state it writes is captured.
func registerHook(env *Env, fn any) {
	if h, ok := fn.(CheckpointedFunction); ok && env != nil {
		env.snapshotters = slices.Insert(env.snapshotters, 0, func(id int64) ([]StatePart, error) {
			return nil, h.SnapshotState(id)
		})
	}
}

// openParts opens the restored part name of every old subtask, or nothing
// on a fresh start.
func (e *Env) openParts(name string) ([]io.ReadCloser, error) {
	if e.Restored == nil || e.Restored.Open == nil {
		return nil, nil
	}
	return e.Restored.Open(name)
}

// hasPart reports whether the restored snapshot holds part name.
func (e *Env) hasPart(name string) bool {
	return e.Restored != nil && e.Restored.Has != nil && e.Restored.Has(name)
}

// readParts calls fn with each restored part name, closing them after.
func (e *Env) readParts(name string, fn func(r io.Reader) error) error {
	rs, err := e.openParts(name)
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := fn(r); err != nil {
			return fmt.Errorf("restore %s of operator %q: %w", name, e.OperatorUID, err)
		}
	}
	return nil
}

// restoreKeyed loads the node's keyed state from the restored snapshot.
func restoreKeyed[K comparable](env *Env, store *keyspace.KeyedStore[K]) error {
	rs, err := env.openParts(keyedStatePart)
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	if err != nil || len(rs) == 0 {
		return err
	}
	readers := make([]io.Reader, len(rs))
	for i, r := range rs {
		readers[i] = r
	}
	if err := keyspace.RestoreKeyedStore(store, readers...); err != nil {
		return fmt.Errorf("operator %q: %w", env.OperatorUID, err)
	}
	return nil
}

// snapshotKeyed captures a keyed store for a checkpoint.
func snapshotKeyed[K comparable](store *keyspace.KeyedStore[K]) ([]StatePart, error) {
	ks, err := store.Snapshot()
	if err != nil {
		return nil, err
	}
	return []StatePart{{Name: keyedStatePart, Release: ks.Release, Write: func(w io.Writer) error {
		_, err := ks.WriteTo(w)
		return err
	}}}, nil
}

// timerCodecs encodes the timers of queues keyed by K in namespace N.
type timerCodecs[K comparable, N comparable] struct {
	key keyspace.Codec[K]
	ns  keyspace.Codec[N]
}

func newTimerCodecs[K comparable, N comparable]() (timerCodecs[K, N], error) {
	kc, err := keyspace.CodecFor[K]()
	if err != nil {
		return timerCodecs[K, N]{}, fmt.Errorf("timers cannot be checkpointed: %w", err)
	}
	nc, err := keyspace.CodecFor[N]()
	if err != nil {
		return timerCodecs[K, N]{}, fmt.Errorf("timers cannot be checkpointed: %w", err)
	}
	return timerCodecs[K, N]{kc, nc}, nil
}

// snapshot encodes the timers of queues (by position: event time,
// processing time, …) in the key groups of rng as a part called name.
func (c timerCodecs[K, N]) snapshot(name string, rng keyspace.KeyGroupRange, queues ...*timers.Queue[K, N]) StatePart {
	g := keyspace.NewGroupedEntries(4)
	var key, ns []byte
	for qi, q := range queues {
		if q == nil || q.Len() == 0 {
			continue
		}
		for kg := rng.Start; kg < rng.End; kg++ {
			for t := range q.InKeyGroup(kg) {
				key = c.key.Append(key[:0], t.Key)
				ns = c.ns.Append(ns[:0], t.Namespace)
				g.Add(kg, []byte{byte(qi)}, key, ns, binary.BigEndian.AppendUint64(nil, uint64(t.Time)))
			}
		}
	}
	return bytesPart(name, g.Bytes())
}

// bytesPart is a part already encoded.
func bytesPart(name string, data []byte) StatePart {
	return StatePart{Name: name, Write: func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}}
}

// restore registers the restored timers of the env's key groups in queues.
func (c timerCodecs[K, N]) restore(env *Env, name string, queues ...*timers.Queue[K, N]) error {
	return env.readParts(name, func(r io.Reader) error {
		return keyspace.ReadGroupedEntries(r, env.KeyGroups, func(kg int, f [][]byte) error {
			qi := int(f[0][0])
			if qi >= len(queues) || len(f[3]) != 8 {
				return errors.New("timer entry out of range")
			}
			k, err := c.key.Decode(f[1])
			if err != nil {
				return err
			}
			n, err := c.ns.Decode(f[2])
			if err != nil {
				return err
			}
			queues[qi].Register(timers.Timer[K, N]{Time: int64(binary.BigEndian.Uint64(f[3])), Key: k, Namespace: n, KeyGroup: kg})
			return nil
		})
	})
}

// splitsState is the operator list state in which a source records its
// split positions; rescaling deals the splits out to the new subtasks.
const splitsState = "source-splits"

// transactionsState is the operator union list state in which a
// transactional sink records the transactions it staged and has not yet
// committed; after a restore every new subtask sees all of them.
const transactionsState = "sink-transactions"

// Transaction is one staged transaction of a transactional sink.
type Transaction struct {
	Checkpoint int64
	Handle     []byte
}

// restoredList reports whether the restored operator state has a list
// called name, and its elements for this subtask.
func restoredList[T any](env *Env, name string, union bool) ([]T, bool, error) {
	if !env.restoredLists[name] {
		return nil, false, nil
	}
	var l keyspace.ListState[T]
	var err error
	if union {
		l, err = keyspace.NewUnionListState[T](env.opState, name)
	} else {
		l, err = keyspace.NewOperatorListState[T](env.opState, name)
	}
	if err != nil {
		return nil, false, err
	}
	return l.Get(), true, nil
}

// RestoreOperatorState loads the node's share of the restored operator
// state (see keyspace.RedistributeOperatorState) before the node opens.
func (e *Env) RestoreOperatorState(d keyspace.OperatorStateData) error {
	e.restoredLists = map[string]bool{}
	for _, l := range d.Lists {
		e.restoredLists[l.Name] = true
	}
	return e.OperatorState().Restore(d)
}

// sourceCheckpointing wires a source reader into checkpoints: at each
// snapshot it records the reader's split positions.
func sourceCheckpointing[T any](env *Env, src connectors.Source[T]) (connectors.SourceReader[T], error) {
	splits, restored, err := restoredList[connectors.SplitState](env, splitsState, false)
	if err != nil {
		return nil, err
	}
	var r connectors.SourceReader[T]
	if restored {
		rs, ok := src.(connectors.RestorableSource[T])
		if !ok {
			return nil, fmt.Errorf("source %q cannot resume from the checkpoint it has state in: it does not implement connectors.RestorableSource", env.Info.Operator)
		}
		r, err = rs.RestoreReader(env.Info, splits)
	} else {
		r, err = src.Reader(env.Info)
	}
	if err != nil || !env.Checkpointing {
		return r, err
	}
	cr, ok := r.(connectors.CheckpointedReader)
	if !ok {
		r.Close()
		return nil, fmt.Errorf("source %q cannot record its position, so a run with checkpoints could lose or repeat its records: "+
			"its reader must implement connectors.CheckpointedReader (or run without checkpoints)", env.Info.Operator)
	}
	list, err := keyspace.NewOperatorListState[connectors.SplitState](env.OperatorState(), splitsState)
	if err != nil {
		r.Close()
		return nil, err
	}
	env.onSnapshot(func(int64) ([]StatePart, error) {
		s, err := cr.SnapshotSplits()
		if err != nil {
			return nil, fmt.Errorf("source %q: record split positions: %w", env.Info.Operator, err)
		}
		list.Update(s)
		return nil, nil
	})
	return r, nil
}

// transactionalSink is the two-phase-commit side of a sink in a run with
// checkpoints: it stages a transaction at every checkpoint, commits it when
// the checkpoint completes, and after a restore commits the restored
// transactions (its share of them) again.
type transactionalSink[T any] struct {
	w       connectors.TransactionalSinkWriter[T]
	pending []Transaction
}

func openTransactional[T any](env *Env, sink connectors.TransactionalSink[T]) (*transactionalSink[T], error) {
	restored, _, err := restoredList[Transaction](env, transactionsState, true)
	if err != nil {
		return nil, err
	}
	handles := make([][]byte, len(restored))
	for i, t := range restored {
		handles[i] = t.Handle
	}
	w, err := sink.TransactionalWriter(env.Info, handles)
	if err != nil {
		return nil, err
	}
	for i, t := range restored {
		if i%env.Info.Parallelism != env.Info.Index {
			continue
		}
		if err := w.Commit(t.Handle); err != nil {
			w.Abort()
			return nil, fmt.Errorf("commit restored transaction of checkpoint %d: %w", t.Checkpoint, err)
		}
	}
	list, err := keyspace.NewUnionListState[Transaction](env.OperatorState(), transactionsState)
	if err != nil {
		w.Abort()
		return nil, err
	}
	list.Clear()
	ts := &transactionalSink[T]{w: w}
	env.onSnapshot(func(id int64) ([]StatePart, error) {
		h, err := w.PreCommit(id)
		if err != nil {
			return nil, fmt.Errorf("pre-commit for checkpoint %d: %w", id, err)
		}
		if h != nil {
			ts.pending = append(ts.pending, Transaction{Checkpoint: id, Handle: bytes.Clone(h)})
		}
		list.Update(ts.pending)
		return nil, nil
	})
	env.onComplete(ts.commit)
	return ts, nil
}

// commit publishes the transactions of checkpoints up to id.
func (ts *transactionalSink[T]) commit(id int64) error {
	n := 0
	for _, t := range ts.pending {
		if t.Checkpoint > id {
			break
		}
		if err := ts.w.Commit(t.Handle); err != nil {
			return fmt.Errorf("commit the transaction of checkpoint %d: %w", t.Checkpoint, err)
		}
		n++
	}
	ts.pending = slices.Delete(ts.pending, 0, n)
	return nil
}
