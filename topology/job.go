package topology

import (
	"errors"
	"fmt"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/exchange"
	"github.com/floestream/floe/keyspace"
)

// Collector receives the records a function emits.
type Collector[T any] = connectors.Collector[T]

// Job is a topology under construction. Build it with FromSource and the
// transformations of this package, then call Build. A Job is not safe for
// concurrent use.
type Job struct {
	name           string
	parallelism    int
	maxParallelism int
	chaining       bool
	nodes          []*Node
	errs           []error
	checks         []func() error
}

// JobOption configures a Job.
type JobOption func(*Job)

// WithParallelism sets the default parallelism of operators that set none.
func WithParallelism(p int) JobOption { return func(j *Job) { j.parallelism = p } }

// WithMaxParallelism sets the number of key groups (default 128), the upper
// bound for the parallelism of keyed operators and the unit of rescaling.
func WithMaxParallelism(m int) JobOption { return func(j *Job) { j.maxParallelism = m } }

// WithoutChaining turns operator chaining off for the whole job: every
// operator becomes a task of its own, connected by batched channels.
func WithoutChaining() JobOption { return func(j *Job) { j.chaining = false } }

// NewJob starts a topology. The default parallelism is 1 and the default max
// parallelism keyspace.DefaultMaxParallelism.
func NewJob(name string, opts ...JobOption) *Job {
	j := &Job{name: name, parallelism: 1, maxParallelism: keyspace.DefaultMaxParallelism, chaining: true}
	for _, o := range opts {
		o(j)
	}
	return j
}

// Name returns the job's name.
func (j *Job) Name() string { return j.name }

// Parallelism returns the job's default parallelism.
func (j *Job) Parallelism() int { return j.parallelism }

// SetParallelism changes the default parallelism of operators that set none.
func (j *Job) SetParallelism(p int) { j.parallelism = p }

// MaxParallelism returns the number of key groups.
func (j *Job) MaxParallelism() int { return j.maxParallelism }

// Check adds a check that Build runs before the job starts, together with
// the sources' and sinks' own — for example that a required flag was given.
// Plan skips it, so a job can be shown without its inputs.
func (j *Job) Check(check func() error) { j.checks = append(j.checks, check) }

// fail records an error found while the topology is being written; Build
// reports every such error, so user code can chain calls without checks.
func (j *Job) fail(format string, args ...any) {
	j.errs = append(j.errs, fmt.Errorf(format, args...))
}

// NodeKind says what role a node plays.
type NodeKind int

const (
	SourceNode NodeKind = iota
	OperatorNode
	SinkNode
)

func (k NodeKind) String() string {
	return [...]string{"source", "operator", "sink"}[k]
}

// Node is one operator of the job graph.
type Node struct {
	ID      int
	Kind    NodeKind
	Name    string
	Inputs  []*Edge // in input-index order for two-input operators
	Outputs []*Edge
	// Out describes the records the node emits (nil for sinks); In the
	// records of each input index.
	Out exchange.Ops
	In  []exchange.Ops
	// Keyed operators need their parallelism bounded by max parallelism.
	Keyed bool
	// Timestamped says the node's records carry event timestamps.
	Timestamped bool
	// Sides holds the record type of each side output consumed downstream.
	Sides map[string]exchange.Ops
	// Task is the task the node was chained into, set by Build.
	Task *Task

	owner       *Job
	uid         string
	want        int // parallelism the user set, 0 for the job's default
	parallelism int // resolved by Plan
	chaining    bool
	validate    func() error
	open        opener
}

// opener builds one parallel instance of a node; out is the node's
// downstream connectors.Collector[Out] (nil for sinks).
type opener func(env *Env, out any) (Instance, error)

// UID returns the node's stable identifier (user-given, or derived from its
// position and name).
func (n *Node) UID() string {
	if n.uid != "" {
		return n.uid
	}
	return fmt.Sprintf("auto-%d-%s", n.ID, n.Name)
}

// Parallelism returns the node's resolved parallelism (after Build).
func (n *Node) Parallelism() int { return n.parallelism }

// Open builds the instance of the node that runs in one subtask.
func (n *Node) Open(env *Env, out any) (Instance, error) { return n.open(env, out) }

// Edge connects two nodes.
type Edge struct {
	From, To     *Node
	InputIndex   int // which input of To the edge feeds
	Partitioning exchange.Partitioning
	// Ops describes the records on the edge: From's output type, or the
	// side output's type when Tag is set.
	Ops exchange.Ops
	// Tag names the side output of From the edge carries; "" is the main
	// output.
	Tag string
	// KeyHash is func(T) uint64 of the upstream record type for Hash edges.
	KeyHash  any
	explicit bool // the user asked for this partitioning
}

// Chained reports whether the edge is a plain call inside one task.
func (e *Edge) Chained() bool { return e.From.Task != nil && e.From.Task == e.To.Task }

func (e *Edge) String() string {
	return fmt.Sprintf("%s -> %s [%s]", e.From.Name, e.To.Name, e.Partitioning)
}

// Stream is a typed stream of records of type T.
type Stream[T any] struct {
	node         *Node
	tag          string // side output of node, "" for its main output
	partitioning exchange.Partitioning
	explicit     bool
	keyHash      any
}

func (s Stream[T]) job() *Job { return s.node.owner }

// Name sets the name of the operator that produces the stream.
func (s Stream[T]) Name(name string) Stream[T] { s.node.Name = name; return s }

// UID sets the stable identifier of the operator that produces the stream;
// later steps match state to operators by it.
func (s Stream[T]) UID(uid string) Stream[T] { s.node.uid = uid; return s }

// Parallelism sets the parallelism of the operator that produces the stream.
func (s Stream[T]) Parallelism(p int) Stream[T] { s.node.want = p; return s }

// DisableChaining makes the operator that produces the stream start a task of
// its own and never chain its successors.
func (s Stream[T]) DisableChaining() Stream[T] { s.node.chaining = false; return s }

// Rebalance spreads the stream round-robin over the next operator's subtasks.
func (s Stream[T]) Rebalance() Stream[T] {
	return Stream[T]{node: s.node, tag: s.tag, partitioning: exchange.Rebalance, explicit: true}
}

// Broadcast sends every record to every subtask of the next operator.
func (s Stream[T]) Broadcast() Stream[T] {
	return Stream[T]{node: s.node, tag: s.tag, partitioning: exchange.Broadcast, explicit: true}
}

// Forward sends subtask i's records to subtask i of the next operator; both
// must have the same parallelism.
func (s Stream[T]) Forward() Stream[T] {
	return Stream[T]{node: s.node, tag: s.tag, partitioning: exchange.Forward, explicit: true}
}

func (j *Job) add(n *Node) *Node {
	n.ID = len(j.nodes)
	n.chaining = true
	n.owner = j
	j.nodes = append(j.nodes, n)
	return n
}

// connect feeds s into input index of n.
func connect[T any](s Stream[T], n *Node, index int) {
	e := &Edge{From: s.node, To: n, InputIndex: index, Ops: exchange.OpsFor[T](), Tag: s.tag,
		Partitioning: s.partitioning, KeyHash: s.keyHash, explicit: s.explicit || s.keyHash != nil}
	if s.node.Timestamped {
		n.Timestamped = true
	}
	if s.keyHash != nil {
		e.Partitioning = exchange.Hash
	}
	s.node.Outputs = append(s.node.Outputs, e)
	n.Inputs = append(n.Inputs, e)
}

// ErrInvalidTopology is wrapped by every error Build returns.
var ErrInvalidTopology = errors.New("invalid topology")
