package topology_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

type order struct {
	Item string
	Qty  int
}

type price struct {
	Item  string
	Cents int
}

// pricer keeps each item's orders in keyed state and the price list in
// broadcast state; when its inputs end it prices every item's orders, so
// the result does not depend on how the two inputs interleaved.
type pricer struct {
	qty keyspace.ValueState[int]
}

func (p *pricer) Open(ctx *topology.KeyedContext[string]) (err error) {
	p.qty, err = keyspace.NewValueState[string, int](ctx.State(), "quantity")
	return err
}

func (p *pricer) ProcessElement(_ *topology.KeyedContext[string], o order, _ topology.Collector[string]) error {
	n, _ := p.qty.Value()
	p.qty.Update(n + o.Qty)
	return nil
}

func (p *pricer) ProcessBroadcastElement(ctx *topology.BroadcastContext, pr price, _ topology.Collector[string]) error {
	prices, err := topology.WritableBroadcast[string, int](ctx, "prices")
	if err != nil {
		return err
	}
	prices.Put(pr.Item, pr.Cents)
	return nil
}

func (p *pricer) Finish(ctx *topology.KeyedContext[string], out topology.Collector[string]) error {
	prices, err := topology.ReadOnlyBroadcast[string, int](ctx, "prices")
	if err != nil {
		return err
	}
	return ctx.ForEachKey("quantity", func(item string) error {
		n, _ := p.qty.Value()
		cents, ok := prices.Get(item)
		if !ok {
			return fmt.Errorf("no price for %q on subtask %d: broadcast state is incomplete", item, ctx.Subtask().Index)
		}
		out.Collect(fmt.Sprintf("%s %d", item, n*cents))
		return nil
	})
}

func TestBroadcastStateReachesEveryKeyedSubtask(t *testing.T) {
	j := topology.NewJob("broadcast", topology.WithParallelism(3))
	orders := topology.FromSource(j, "orders", collection.Of(
		order{"apple", 2}, order{"pear", 1}, order{"plum", 5}, order{"apple", 1}, order{"fig", 4}, order{"kiwi", 2}))
	prices := topology.FromSource(j, "prices", collection.Of(
		price{"apple", 30}, price{"pear", 50}, price{"plum", 10}, price{"fig", 70}, price{"kiwi", 25})).Parallelism(1)
	keyed := topology.KeyBy(orders, func(o order) string { return o.Item })
	totals := topology.KeyedBroadcastProcess(topology.ConnectBroadcast(keyed, prices), "price", &pricer{})
	sink := collection.NewSink[string]()
	topology.Sink(totals, "out", sink)
	execute(t, j)
	got := sink.Records()
	slices.Sort(got)
	want := []string{"apple 90", "fig 280", "kiwi 50", "pear 50", "plum 50"}
	if !slices.Equal(got, want) {
		t.Fatalf("totals %v, want %v", got, want)
	}
}
