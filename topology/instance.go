package topology

import (
	"fmt"
	"math"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
)

// Env tells an operator instance where it runs. The runtime fills one per
// subtask and shares it by every operator chained in that subtask.
type Env struct {
	Info           connectors.SubtaskInfo
	MaxParallelism int
	// KeyGroups is the key-group range the subtask owns.
	KeyGroups keyspace.KeyGroupRange
	// Current holds the ID of the node whose user code is running, so that a
	// panic or error is attributed to the right operator. Operators set it
	// before calling user code and restore it afterwards.
	Current *int
	// Sides holds a connectors.Collector per side output of the node that is
	// consumed downstream, by tag name.
	Sides map[string]any
	// Timestamp points at the event timestamp of the record being processed
	// (NoTimestamp when it has none). Timestamp assigners and timers write it
	// before they emit; records emitted carry it downstream.
	Timestamp *int64
	// EmitWatermark sends a watermark to the operators after the node (for
	// timestamp assigners); EmitIdle marks the node's output idle or active.
	EmitWatermark func(t int64)
	EmitIdle      func(idle bool)
	// ProcessingTime returns the current processing time, epoch milliseconds.
	ProcessingTime func() int64
	// RequestProcessingTime asks the runtime to call the node's
	// OnProcessingTime at or after processing time t.
	RequestProcessingTime func(t int64)
	// Pebble, when set, is the process's Pebble database: keyed state then
	// lives there instead of on the heap.
	Pebble *keyspace.PebbleDB
	// OperatorUID is the node's stable identifier (state is found by it).
	OperatorUID string
	// Checkpointing says the run takes checkpoints (or savepoints): sources
	// must record their positions, transactional sinks commit per checkpoint.
	Checkpointing bool
	// Restored, when set, holds the node's state in the checkpoint or
	// savepoint the run resumes from.
	Restored *Restored

	opState       *keyspace.OperatorStateStore
	restoredLists map[string]bool
	snapshotters  []func(checkpoint int64) ([]StatePart, error)
	listeners     []func(checkpoint int64) error
}

// StateHolder is implemented by instances with keyed or operator state:
// the runtime reads their size for the counters API and lets them clean
// up expired entries (state TTL) a little at a time.
type StateHolder interface {
	StateStats() keyspace.Stats
	CleanupExpired(budget int) int
}

// NoTimestamp is the timestamp of records that have none.
const NoTimestamp int64 = math.MinInt64

// WatermarkHandler is implemented by instances that act on watermarks (timer
// services, windows). The runtime calls OnWatermark in chain order before
// the watermark moves on; forward false stops it at this node (a timestamp
// assigner, which makes watermarks of its own).
type WatermarkHandler interface {
	OnWatermark(t int64) (forward bool, err error)
}

// ProcessingTimeHandler is implemented by instances with processing-time
// timers; the runtime calls it at or after a time they requested.
type ProcessingTimeHandler interface {
	OnProcessingTime(now int64) error
}

// Instance is one parallel instance of a node, owned by one subtask. Its
// methods are called from that subtask's actor only.
type Instance interface {
	// Input returns the connectors.Collector for input index i (none for
	// sources). Collecting may raise a Failure by panicking.
	Input(i int) any
	// EndInput is called once every input of the node has ended, before the
	// nodes downstream are ended; the node may still emit records.
	EndInput() error
	// Close releases the instance. failed says the run is failing or was
	// cancelled, so that sinks discard uncommitted output.
	Close(failed bool) error
}

// SourceInstance is the instance of a source node.
type SourceInstance interface {
	Instance
	// Poll lets the source emit at most max records downstream.
	Poll(max int) (connectors.Status, error)
	// Emitted counts the records the source has emitted so far.
	Emitted() uint64
}

// Failure is the panic value with which an operator reports that user code
// returned an error while records were being pushed through a chain; the
// runtime recovers it and fails the job with Err.
type Failure struct{ Err error }

func (f Failure) Error() string { return f.Err.Error() }

func raise(err error) { panic(Failure{Err: err}) }

// call tracks which node's user code runs. It holds the env's Current
// pointer itself: this runs around every user call, on every record.
type call struct {
	cur *int
	id  int
}

func newCall(env *Env, id int) call { return call{cur: env.Current, id: id} }

func (c *call) enter() int {
	prev := *c.cur
	*c.cur = c.id
	return prev
}

func (c *call) leave(prev int) { *c.cur = prev }

// stateless is embedded by operators with nothing to end or close.
type stateless struct{}

func (stateless) EndInput() error    { return nil }
func (stateless) Close(_ bool) error { return nil }

func noInput(i int) any { panic(fmt.Sprintf("topology: operator has no input %d", i)) }

// Context is what a process function learns about its subtask and the
// record it processes.
type Context struct {
	info      connectors.SubtaskInfo
	env       *Env
	watermark int64
	own       *keyspace.OperatorStateStore // without an env (tests)
}

// OperatorState returns the subtask's operator state (list, union list and
// broadcast state, not scoped to keys), from which handles are created with
// keyspace.NewOperatorListState and friends, usually in Open.
func (c *Context) OperatorState() *keyspace.OperatorStateStore {
	if c.env != nil {
		return c.env.OperatorState()
	}
	if c.own == nil {
		c.own = keyspace.NewOperatorStateStore()
	}
	return c.own
}

func (c *Context) environment() *Env { return c.env }

func newContext(env *Env) *Context {
	return &Context{info: env.Info, env: env, watermark: math.MinInt64}
}

// Subtask returns the running subtask's identity (operator, index, parallelism).
func (c *Context) Subtask() connectors.SubtaskInfo { return c.info }

// Timestamp returns the event timestamp of the record (or timer) being
// processed, and false when the stream carries no timestamps.
func (c *Context) Timestamp() (int64, bool) {
	if c.env == nil || *c.env.Timestamp == NoTimestamp {
		return 0, false
	}
	return *c.env.Timestamp, true
}

// CurrentWatermark returns the last watermark the operator received.
func (c *Context) CurrentWatermark() int64 { return c.watermark }

// CurrentProcessingTime returns the processing time, epoch milliseconds.
func (c *Context) CurrentProcessingTime() int64 {
	if c.env == nil || c.env.ProcessingTime == nil {
		return time.Now().UnixMilli()
	}
	return c.env.ProcessingTime()
}

// KeyedContext is the context of a keyed function: the current key and the
// keyed state of the subtask's key-group range.
type KeyedContext[K comparable] struct {
	Context
	store  *keyspace.KeyedStore[K]
	hash   func(K) uint64
	group  func(hash uint64) int // key group of a hash
	timers *keyedTimers[K]       // created on first use
}

// Key returns the key of the record (or timer) being processed.
func (c *KeyedContext[K]) Key() K { return c.store.CurrentKey() }

// State returns the keyed store from which state handles are created
// (keyspace.NewValueState and friends), usually once in Open.
func (c *KeyedContext[K]) State() *keyspace.KeyedStore[K] { return c.store }

// ForEachKey calls fn for every key that has an entry in the named state,
// with that key made current, so fn can read and clear its state. It serves
// Finish, which runs outside any record.
func (c *KeyedContext[K]) ForEachKey(state string, fn func(key K) error) error {
	var keys []K
	for k := range c.store.Keys(state) {
		keys = append(keys, k) // collected first: fn may clear entries
	}
	for _, k := range keys {
		c.setKey(k)
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}
