package topology

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/floestream/floe/exchange"
	"github.com/floestream/floe/keyspace"
)

// JobGraph is a validated topology: operators in topological order, chained
// into tasks. It is immutable once built and may be run any number of times.
type JobGraph struct {
	Name           string
	Parallelism    int
	MaxParallelism int
	Nodes          []*Node // topological order
	Tasks          []*Task // topological order of their heads
}

// Task is a chain of operators that runs as one subtask actor per parallel
// instance: records pass between its operators as plain function calls.
type Task struct {
	ID          int
	Parallelism int
	Nodes       []*Node // the chain in topological order; Nodes[0] is the head
	Inputs      []*Edge // network edges into the head, in the head's input order
	Outputs     []*Edge // network edges out of any node of the chain
}

// Name joins the names of the chained operators, as Flink does.
func (t *Task) Name() string {
	names := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		names[i] = n.Name
	}
	return strings.Join(names, " -> ")
}

// Head is the first operator of the chain.
func (t *Task) Head() *Node { return t.Nodes[0] }

// Build validates the topology and its connectors and compiles it into a
// job graph. Every problem found is reported at once, each saying what to
// change; errors in the topology's shape wrap ErrInvalidTopology, errors of
// sources and sinks (a missing input file) are returned as those connectors
// report them.
func (j *Job) Build() (*JobGraph, error) {
	g, err := j.Plan()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, check := range j.checks {
		if err := check(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range g.Nodes {
		if n.validate != nil {
			if err := n.validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", n.Kind, n.Name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g, nil
}

// Plan validates the topology's shape and compiles it into a job graph
// without checking sources and sinks, for showing a job (`floe info`) whose
// inputs are not at hand.
func (j *Job) Plan() (*JobGraph, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, err := range j.errs {
		bad("%v", err)
	}
	if j.name == "" {
		bad("the job has no name: pass one to topology.NewJob")
	}
	if err := keyspace.ValidateParallelism(j.parallelism, j.maxParallelism); err != nil {
		bad("job parallelism: %v", err)
	}
	var sources, sinks int
	uids := map[string]*Node{}
	for _, n := range j.nodes {
		switch n.Kind {
		case SourceNode:
			sources++
		case SinkNode:
			sinks++
		}
		n.parallelism = n.want
		if n.want == 0 {
			n.parallelism = j.parallelism
		}
		if n.parallelism < 1 {
			bad("operator %q has parallelism %d: set at least 1", n.Name, n.parallelism)
		}
		if n.Keyed && n.parallelism > j.maxParallelism {
			bad("keyed operator %q has parallelism %d above the max parallelism %d: lower it or raise the max parallelism",
				n.Name, n.parallelism, j.maxParallelism)
		}
		if n.Kind != SinkNode && len(n.Outputs) == 0 {
			bad("the output of %q is not used: send it to a sink or remove the operator", n.Name)
		}
		if other, dup := uids[n.UID()]; dup {
			bad("operators %q and %q share the UID %q: UIDs must be unique within a job", other.Name, n.Name, n.UID())
		}
		uids[n.UID()] = n
	}
	if sources == 0 {
		bad("the job has no source: start a stream with topology.FromSource")
	}
	if sinks == 0 {
		bad("the job has no sink: end a stream with topology.Sink")
	}
	order, cycle := topologicalOrder(j.nodes)
	if cycle != nil {
		names := make([]string, len(cycle))
		for i, n := range cycle {
			names[i] = fmt.Sprintf("%q", n.Name)
		}
		bad("the operators %s form a cycle: a job graph must be acyclic", strings.Join(names, ", "))
	}
	for _, n := range j.nodes {
		for _, e := range n.Outputs {
			resolvePartitioning(e, bad)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: job %q:\n  - %s", ErrInvalidTopology, j.name, strings.Join(problems, "\n  - "))
	}
	g := &JobGraph{Name: j.name, Parallelism: j.parallelism, MaxParallelism: j.maxParallelism, Nodes: order}
	g.Tasks = chain(order, j.chaining)
	return g, nil
}

// resolvePartitioning picks the partitioning of an edge the user did not
// specify — forward between equal parallelisms, rebalance otherwise, as in
// Flink — and rejects an explicit forward between different ones.
func resolvePartitioning(e *Edge, bad func(string, ...any)) {
	same := e.From.parallelism == e.To.parallelism
	switch {
	case !e.explicit && same:
		e.Partitioning = exchange.Forward
	case !e.explicit:
		e.Partitioning = exchange.Rebalance
	case e.Partitioning == exchange.Forward && !same:
		bad("forward edge from %q (parallelism %d) to %q (parallelism %d): forward needs equal parallelism; use Rebalance() or set the same parallelism",
			e.From.Name, e.From.parallelism, e.To.Name, e.To.parallelism)
	}
}

// topologicalOrder sorts nodes by Kahn's algorithm, keeping creation order
// among independent nodes; when the graph has a cycle it returns the nodes of
// one cycle.
func topologicalOrder(nodes []*Node) (order, cycle []*Node) {
	indegree := make(map[*Node]int, len(nodes))
	for _, n := range nodes {
		indegree[n] = len(n.Inputs)
	}
	ready := []*Node{}
	for _, n := range nodes {
		if indegree[n] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, e := range n.Outputs {
			if indegree[e.To]--; indegree[e.To] == 0 {
				ready = append(ready, e.To)
			}
		}
	}
	if len(order) == len(nodes) {
		return order, nil
	}
	// Every node left has an input from another node left, so walking inputs
	// backwards from any of them must revisit a node: that loop is a cycle.
	var start *Node
	for _, n := range nodes {
		if indegree[n] > 0 {
			start = n
			break
		}
	}
	seen := map[*Node]int{}
	var path []*Node
	for n := start; ; {
		if i, ok := seen[n]; ok {
			cycle = path[i:]
			break
		}
		seen[n] = len(path)
		path = append(path, n)
		for _, e := range n.Inputs {
			if indegree[e.From] > 0 {
				n = e.From
				break
			}
		}
	}
	slices.SortFunc(cycle, func(a, b *Node) int { return a.ID - b.ID })
	return order, cycle
}

// chainable says whether e's target runs in its source's task: a forward edge
// between equal parallelisms into a node with this one input, both allowing it.
func chainable(e *Edge, enabled bool) bool {
	return enabled && e.Partitioning == exchange.Forward && len(e.To.Inputs) == 1 &&
		e.From.parallelism == e.To.parallelism && e.From.chaining && e.To.chaining
}

func chain(order []*Node, enabled bool) []*Task {
	var tasks []*Task
	for _, n := range order {
		n.Task = nil
	}
	for _, n := range order {
		if len(n.Inputs) == 1 && chainable(n.Inputs[0], enabled) {
			t := n.Inputs[0].From.Task
			t.Nodes = append(t.Nodes, n)
			n.Task = t
			continue
		}
		t := &Task{ID: len(tasks), Parallelism: n.parallelism, Nodes: []*Node{n}, Inputs: n.Inputs}
		n.Task = t
		tasks = append(tasks, t)
	}
	for _, t := range tasks {
		for _, n := range t.Nodes {
			for _, e := range n.Outputs {
				if !e.Chained() {
					t.Outputs = append(t.Outputs, e)
				}
			}
		}
	}
	return tasks
}

// Describe writes the graph as `floe info` shows it: tasks with their chained
// operators and parallelism, then every edge between tasks with its
// partitioner.
func (g *JobGraph) Describe(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %q: default parallelism %d, max parallelism %d, %d operators in %d tasks\n",
		g.Name, g.Parallelism, g.MaxParallelism, len(g.Nodes), len(g.Tasks))
	for _, t := range g.Tasks {
		fmt.Fprintf(&b, "\nTask %d: %s  (parallelism %d)\n", t.ID+1, t.Name(), t.Parallelism)
		for _, n := range t.Nodes {
			in := make([]string, len(n.In))
			for i, o := range n.In {
				in[i] = o.TypeName()
			}
			out := "-"
			if n.Out != nil {
				out = n.Out.TypeName()
			}
			keyed := ""
			if n.Keyed {
				keyed = ", keyed"
			}
			fmt.Fprintf(&b, "  - %-24s %s%s, uid %s, in [%s], out %s\n", n.Name, n.Kind, keyed, n.UID(), strings.Join(in, ", "), out)
		}
	}
	fmt.Fprintf(&b, "\nEdges:\n")
	for _, n := range g.Nodes {
		for _, e := range n.Outputs {
			kind := "network"
			if e.Chained() {
				kind = "chained"
			}
			fmt.Fprintf(&b, "  %s (%d) -> %s (%d)  %s, %s\n", e.From.Name, e.From.parallelism,
				e.To.Name, e.To.parallelism, e.Partitioning, kind)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// UIDs returns the UIDs of every node of the graph, in node order.
func (g *JobGraph) UIDs() []string {
	uids := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		uids[i] = n.UID()
	}
	return uids
}
