package topology

import (
	"fmt"

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

// Context is what a process function learns about its subtask.
type Context struct {
	info connectors.SubtaskInfo
}

// Subtask returns the running subtask's identity (operator, index, parallelism).
func (c *Context) Subtask() connectors.SubtaskInfo { return c.info }

// KeyedContext is the context of a keyed function: the current key and the
// keyed state of the subtask's key-group range.
type KeyedContext[K comparable] struct {
	Context
	store *keyspace.KeyedStore[K]
	hash  func(K) uint64
	group func(hash uint64) int // key group of a hash
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
