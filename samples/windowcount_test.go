package samples_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/samples"
	"github.com/floestream/floe/topology"
)

func ev(key string, ts, value int64) string {
	return fmt.Sprintf(`{"key":%q,"ts":%d,"value":%d}`, key, ts, value)
}

func res(key string, start, end, count, sum int64) string {
	return fmt.Sprintf("%s [%d,%d) count=%d sum=%d", key, start, end, count, sum)
}

type windowRun struct {
	out, late []string
	bad       []samples.BadRecord
	err       error
}

func runWindowCount(t *testing.T, cfg samples.WindowCountConfig, p int, dlq bool, lines ...string) windowRun {
	t.Helper()
	out := collection.NewSink[samples.WindowResult]()
	late := collection.NewSink[string]()
	bad := collection.NewSink[samples.BadRecord]()
	j := topology.NewJob("windowcount", topology.WithParallelism(p))
	var badSink = bad
	if !dlq {
		badSink = nil
	}
	var err error
	if badSink != nil {
		err = samples.WindowCount(j, cfg, collection.Of(lines...), out, late, badSink)
	} else {
		err = samples.WindowCount(j, cfg, collection.Of(lines...), out, late, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var r windowRun
	r.err = actors.Execute(ctx, g)
	for _, w := range out.Records() {
		r.out = append(r.out, res(w.Key, w.WindowStart, w.WindowEnd, w.Count, w.Sum))
	}
	r.late = late.Records()
	r.bad = bad.Records()
	slices.Sort(r.out)
	slices.Sort(r.late)
	return r
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// The expected results below are worked out by hand from Flink's rules:
// watermark = max timestamp − out-of-orderness − 1 ms after every record; a
// window fires when the watermark reaches its end − 1; a record for a window
// whose end − 1 + allowed lateness ≤ watermark is late for it; a record late
// for all its windows goes to the late output.
func TestWindowCountScenarios(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       samples.WindowCountConfig
		lines     []string
		out, late []string
	}{
		{
			name: "tumbling with out-of-order, late firing and too-late records",
			cfg: samples.WindowCountConfig{Window: "tumbling", Size: 10 * time.Second,
				OutOfOrderness: 2 * time.Second, AllowedLateness: 5 * time.Second},
			lines: []string{
				ev("a", 1000, 1),
				ev("a", 11000, 2),
				ev("a", 9000, 3),  // out of order, within the bound
				ev("a", 12500, 4), // watermark 10499: [0,10000) fires with 1 and 3
				ev("a", 5000, 5),  // late but within lateness: fires again
				ev("a", 18000, 6), // watermark 15999: [0,10000) is cleaned up
				ev("a", 4000, 7),  // too late
				ev("b", 3000, 8),  // too late for b as well
			},
			out:  sorted(res("a", 0, 10000, 2, 4), res("a", 0, 10000, 3, 9), res("a", 10000, 20000, 3, 12)),
			late: sorted(ev("a", 4000, 7), ev("b", 3000, 8)),
		},
		{
			name: "sliding windows",
			cfg:  samples.WindowCountConfig{Window: "sliding", Size: 10 * time.Second, Slide: 5 * time.Second},
			lines: []string{
				ev("a", 1000, 1),
				ev("a", 6000, 2),  // watermark 5999: [-5000,5000) fires
				ev("a", 4000, 3),  // late for [-5000,5000), in time for [0,10000)
				ev("a", 14000, 4), // watermark 13999: [0,10000) fires
			},
			out: sorted(res("a", -5000, 5000, 1, 1), res("a", 0, 10000, 3, 6),
				res("a", 5000, 15000, 2, 6), res("a", 10000, 20000, 1, 4)),
		},
		{
			name: "session windows merge per key",
			cfg:  samples.WindowCountConfig{Window: "session", Gap: 3 * time.Second, OutOfOrderness: 5 * time.Second},
			lines: []string{
				ev("a", 1000, 1),
				ev("a", 6000, 2),
				ev("b", 2000, 10),
				ev("a", 3500, 3),  // bridges a's two sessions: [1000,9000)
				ev("a", 20000, 4), // watermark 14999: a's and b's sessions fire
				ev("b", 9000, 20), // too late
			},
			out:  sorted(res("a", 1000, 9000, 3, 6), res("b", 2000, 5000, 1, 10), res("a", 20000, 23000, 1, 4)),
			late: sorted(ev("b", 9000, 20)),
		},
		{
			name: "touching sessions merge, Flink's intersects rule",
			cfg:  samples.WindowCountConfig{Window: "session", Gap: 3 * time.Second, OutOfOrderness: 10 * time.Second},
			lines: []string{
				ev("k", 1000, 1), // [1000,4000)
				ev("k", 4000, 2), // [4000,7000) touches it
				ev("k", 7001, 3), // [7001,10001) does not touch [1000,7000)
			},
			out: sorted(res("k", 1000, 7000, 2, 3), res("k", 7001, 10001, 1, 3)),
		},
	} {
		for _, p := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/p%d", tc.name, p), func(t *testing.T) {
				r := runWindowCount(t, tc.cfg, p, false, tc.lines...)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !slices.Equal(r.out, tc.out) {
					t.Errorf("output\n  %s\nwant\n  %s", strings.Join(r.out, "\n  "), strings.Join(tc.out, "\n  "))
				}
				if !slices.Equal(r.late, tc.late) {
					t.Errorf("late output %q, want %q", r.late, tc.late)
				}
			})
		}
	}
}

func TestWindowCountBadRecords(t *testing.T) {
	cfg := samples.WindowCountConfig{Window: "tumbling", Size: time.Second}
	lines := []string{
		ev("a", 100, 1),
		`not json`,
		`{"key":"a","ts":"soon","value":1}`,
		`{"key":"a","value":1}`,
		`{"key":7,"ts":5,"value":1}`,
		`{"key":"a","ts":200,"value":1.5}`,
		ev("a", 300, 2),
	}
	r := runWindowCount(t, cfg, 2, true, lines...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := []string{res("a", 0, 1000, 2, 3)}; !slices.Equal(r.out, want) {
		t.Fatalf("output %q, want %q", r.out, want)
	}
	var got []string
	for _, b := range r.bad {
		got = append(got, fmt.Sprintf("%d %s", b.Line, b.Reason))
	}
	want := []string{
		"2 not a JSON object: invalid character 'o' in literal null (expecting 'u')",
		`3 field "ts" must be an integer, got "soon"`,
		`4 missing field "ts"`,
		`5 field "key" must be a string, got 7`,
		`6 field "value" must be an integer, got 1.5`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("bad records\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if r.bad[0].Raw != "not json" {
		t.Fatalf("bad record raw %q", r.bad[0].Raw)
	}

	r = runWindowCount(t, cfg, 2, false, lines...)
	var opErr *actors.OperatorError
	if !errors.As(r.err, &opErr) || !strings.Contains(r.err.Error(), "line 2: not a JSON object") {
		t.Fatalf("without --bad-records: error %v, want the job to fail naming line 2", r.err)
	}
}
