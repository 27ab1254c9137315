package topology

import "github.com/floestream/floe/exchange"

// OutputTag names a side output: a second stream, of type L, that a process
// or window function emits to besides its main output.
type OutputTag[L any] struct{ name string }

// NewOutputTag returns the tag of a side output; name must be unique among
// the side outputs of one operator.
func NewOutputTag[L any](name string) OutputTag[L] { return OutputTag[L]{name: name} }

// Name returns the tag's name.
func (t OutputTag[L]) Name() string { return t.name }

// SideOutputContext is implemented by the contexts of functions that may emit
// to side outputs (*Context, *KeyedContext, window contexts).
type SideOutputContext interface {
	sideOutput(name string) any
}

// Emit sends v to the side output t of the operator whose function got ctx.
// Records to a side output nobody consumes are dropped, as in Flink.
func (t OutputTag[L]) Emit(ctx SideOutputContext, v L) {
	if c, ok := ctx.sideOutput(t.name).(Collector[L]); ok {
		c.Collect(v)
	}
}

// SideOutput returns the side output tag of the operator that produces s, as
// a stream of its own.
func SideOutput[T, L any](s Stream[T], tag OutputTag[L]) Stream[L] {
	n := s.node
	if tag.name == "" {
		n.owner.fail("side output of %q has an empty tag name", n.Name)
	}
	if n.Sides == nil {
		n.Sides = map[string]exchange.Ops{}
	}
	ops := exchange.OpsFor[L]()
	if prev, ok := n.Sides[tag.name]; ok && prev.TypeName() != ops.TypeName() {
		n.owner.fail("side output %q of %q is used as %s and as %s", tag.name, n.Name, prev.TypeName(), ops.TypeName())
	}
	n.Sides[tag.name] = ops
	return Stream[L]{node: n, tag: tag.name}
}

func (c *Context) sideOutput(name string) any {
	if c.env == nil {
		return nil
	}
	return c.env.Sides[name]
}
