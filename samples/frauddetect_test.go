package samples_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/samples"
	"github.com/floestream/floe/topology"
)

func tx(account string, ts int64, amount float64) string {
	return fmt.Sprintf(`{"account":%q,"ts":%d,"amount":%v}`, account, ts, amount)
}

func TestFraudDetect(t *testing.T) {
	lines := []string{
		tx("a1", 1000, 0.5),    // small
		tx("a2", 2000, 0.99),   // small
		tx("a1", 30000, 600),   // a1: large within a minute → alert
		tx("a2", 70000, 800),   // a2: large, but 68 s later → no alert
		tx("a3", 71000, 0.1),   // small
		tx("a3", 72000, 10),    // a3: next one is not large → flag cleared
		tx("a3", 73000, 900),   // large, but the small one is not the one just before
		tx("a4", 80000, 0.2),   // small
		tx("a4", 140000, 501),  // exactly one minute later → alert
		tx("a5", 150000, 0.3),  // small
		tx("a5", 210001, 700),  // one minute and a millisecond later → no alert
		tx("a6", 220000, 0.25), // small
		tx("a6", 220500, 500),  // not over 500.00 → no alert
	}
	for _, p := range []int{1, 3} {
		t.Run(fmt.Sprint("p", p), func(t *testing.T) {
			out := collection.NewSink[samples.Transaction]()
			j := topology.NewJob("frauddetect", topology.WithParallelism(p))
			samples.FraudDetect(j, collection.Of(lines...), out, nil)
			g, err := j.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := actors.Execute(ctx, g); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range out.Records() {
				got = append(got, samples.AlertLine(a))
			}
			slices.Sort(got)
			want := []string{`{"account":"a1","ts":30000,"amount":600}`, `{"account":"a4","ts":140000,"amount":501}`}
			if !slices.Equal(got, want) {
				t.Fatalf("alerts %q, want %q", got, want)
			}
		})
	}
}
