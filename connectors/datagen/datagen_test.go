package datagen

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
)

func info(i, p int) connectors.SubtaskInfo {
	return connectors.SubtaskInfo{Job: "job", Operator: "gen", Index: i, Parallelism: p}
}

// pollOnce polls r once and returns what it emitted and its status.
func pollOnce[T any](t *testing.T, r connectors.SourceReader[T], max int) ([]T, connectors.Status) {
	t.Helper()
	var got []T
	st, err := r.Poll(connectors.CollectorFunc[T](func(v T) { got = append(got, v) }), max)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if len(got) > max {
		t.Fatalf("Poll(max=%d) emitted %d records", max, len(got))
	}
	return got, st
}

// readAll reads subtask i of p of src to its end.
func readAll[T any](t *testing.T, src connectors.Source[T], i, p, max int) []T {
	t.Helper()
	r, err := src.Reader(info(i, p))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var all []T
	for range 1_000_000 {
		got, st := pollOnce(t, r, max)
		all = append(all, got...)
		switch st {
		case connectors.EndOfInput:
			return all
		case connectors.NothingAvailable:
			t.Fatal("a bounded source without a rate returned NothingAvailable")
		}
	}
	t.Fatal("reader did not reach EndOfInput")
	return nil
}

func TestShare(t *testing.T) {
	tests := []struct {
		last uint64
		p    int
		want [][2]uint64 // per subtask [first, last]; {1, 0} marks an empty part
	}{
		{0, 1, [][2]uint64{{0, 0}}},
		{9, 1, [][2]uint64{{0, 9}}},
		{9, 2, [][2]uint64{{0, 4}, {5, 9}}},
		{9, 3, [][2]uint64{{0, 3}, {4, 6}, {7, 9}}},
		{9, 4, [][2]uint64{{0, 2}, {3, 5}, {6, 7}, {8, 9}}},
		{1, 3, [][2]uint64{{0, 0}, {1, 1}, {1, 0}}},
		{math.MaxUint64, 1, [][2]uint64{{0, math.MaxUint64}}},
		{math.MaxUint64, 2, [][2]uint64{{0, 1<<63 - 1}, {1 << 63, math.MaxUint64}}},
		{math.MaxUint64, 3, [][2]uint64{ // 2^64 = 3*6148914691236517205 + 1
			{0, 6148914691236517205},
			{6148914691236517206, 2 * 6148914691236517205},
			{2*6148914691236517205 + 1, math.MaxUint64},
		}},
	}
	for _, tc := range tests {
		for i := range tc.p {
			first, last, ok := share(tc.last, tc.p, i)
			want := tc.want[i]
			if wantOK := want[0] <= want[1]; ok != wantOK || (ok && (first != want[0] || last != want[1])) {
				t.Errorf("share(%d, %d, %d) = %d, %d, %v; want %v", tc.last, tc.p, i, first, last, ok, want)
			}
		}
	}
}

func TestShareCoversRangeExactly(t *testing.T) {
	for n := uint64(1); n <= 40; n++ {
		for p := 1; p <= 9; p++ {
			var next uint64
			sizes := []uint64{}
			for i := range p {
				first, last, ok := share(n-1, p, i)
				if !ok {
					sizes = append(sizes, 0)
					continue
				}
				if first != next {
					t.Fatalf("n=%d p=%d: part %d starts at %d, want %d", n, p, i, first, next)
				}
				next = last + 1
				sizes = append(sizes, last-first+1)
			}
			if next != n {
				t.Fatalf("n=%d p=%d: parts end at %d", n, p, next)
			}
			if slices.Max(sizes)-slices.Min(sizes) > 1 {
				t.Fatalf("n=%d p=%d: sizes %v differ by more than one", n, p, sizes)
			}
		}
	}
}

func TestSequence(t *testing.T) {
	tests := []struct {
		from, to int64
		p        int
		want     [][]int64
	}{
		{1, 5, 1, [][]int64{{1, 2, 3, 4, 5}}},
		{1, 5, 2, [][]int64{{1, 2, 3}, {4, 5}}},
		{-3, 3, 3, [][]int64{{-3, -2, -1}, {0, 1}, {2, 3}}},
		{7, 7, 2, [][]int64{{7}, nil}},
		{5, 4, 1, [][]int64{nil}},
		{5, 4, 3, [][]int64{nil, nil, nil}},
		{math.MaxInt64 - 2, math.MaxInt64, 2, [][]int64{{math.MaxInt64 - 2, math.MaxInt64 - 1}, {math.MaxInt64}}},
		{math.MinInt64, math.MinInt64 + 2, 1, [][]int64{{math.MinInt64, math.MinInt64 + 1, math.MinInt64 + 2}}},
	}
	for _, tc := range tests {
		for _, max := range []int{1, 2, 1000} {
			t.Run(fmt.Sprintf("%d..%d/p=%d/max=%d", tc.from, tc.to, tc.p, max), func(t *testing.T) {
				src := Sequence(tc.from, tc.to)
				if err := src.(connectors.Validator).Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
				for i := range tc.p {
					if got := readAll(t, src, i, tc.p, max); !slices.Equal(got, tc.want[i]) {
						t.Errorf("subtask %d: got %v, want %v", i, got, tc.want[i])
					}
				}
			})
		}
	}
}

func TestSequenceFullRangeStarts(t *testing.T) {
	src := Sequence(math.MinInt64, math.MaxInt64)
	// 2^64 = 4 * 2^62: each part holds 2^62 numbers.
	for i, want := range []int64{math.MinInt64, -1 << 62, 0, 1 << 62} {
		r, err := src.Reader(info(i, 4))
		if err != nil {
			t.Fatal(err)
		}
		got, st := pollOnce(t, r, 2)
		if !slices.Equal(got, []int64{want, want + 1}) || st != connectors.MoreAvailable {
			t.Errorf("subtask %d: got %v %v, want [%d %d] more-available", i, got, st, want, want+1)
		}
	}
}

func TestSequenceEndOfInputWithLastRecords(t *testing.T) {
	r, err := Sequence(1, 5).Reader(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		want []int64
		st   connectors.Status
	}{
		{[]int64{1, 2}, connectors.MoreAvailable},
		{[]int64{3, 4}, connectors.MoreAvailable},
		{[]int64{5}, connectors.EndOfInput},
	}
	for i, s := range steps {
		got, st := pollOnce(t, r, 2)
		if !slices.Equal(got, s.want) || st != s.st {
			t.Errorf("poll %d: got %v %v, want %v %v", i, got, st, s.want, s.st)
		}
	}
}

func TestGenerateBounded(t *testing.T) {
	square := func(i int64) string { return fmt.Sprint(i * i) }
	tests := []struct {
		count int64
		p     int
		want  [][]string
	}{
		{0, 2, [][]string{nil, nil}},
		{4, 1, [][]string{{"0", "1", "4", "9"}}},
		{5, 2, [][]string{{"0", "1", "4"}, {"9", "16"}}},
		{2, 3, [][]string{{"0"}, {"1"}, nil}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("count=%d/p=%d", tc.count, tc.p), func(t *testing.T) {
			g := Generate(tc.count, square)
			for i := range tc.p {
				if got := readAll(t, g, i, tc.p, 2); !slices.Equal(got, tc.want[i]) {
					t.Errorf("subtask %d: got %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestGenerateUnbounded(t *testing.T) {
	g := Generate(-1, func(i int64) int64 { return i })
	for i, want := range [][]int64{{0, 3, 6, 9, 12}, {1, 4, 7, 10, 13}, {2, 5, 8, 11, 14}} {
		r, err := g.Reader(info(i, 3))
		if err != nil {
			t.Fatal(err)
		}
		var all []int64
		for range 3 {
			got, st := pollOnce(t, r, 2)
			if st != connectors.MoreAvailable {
				t.Fatalf("subtask %d: status %v, want more-available", i, st)
			}
			all = append(all, got...)
		}
		if !slices.Equal(all[:5], want) {
			t.Errorf("subtask %d: got %v, want %v…", i, all, want)
		}
	}
}

func TestGenerateUnboundedEndsBeforeOverflow(t *testing.T) {
	g := Generate(-1, func(i int64) int64 { return i })
	r, err := g.Reader(info(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	rd := r.(*reader[int64])
	rd.parts[0].next = math.MaxInt64 - 4 // odd, as subtask 1 of 2 emits
	got, st := pollOnce(t, r, 10)
	if want := []int64{math.MaxInt64 - 4, math.MaxInt64 - 2, math.MaxInt64}; !slices.Equal(got, want) || st != connectors.EndOfInput {
		t.Errorf("got %v %v, want %v end-of-input", got, st, want)
	}
}

func TestGeneratorValidate(t *testing.T) {
	id := func(i int64) int64 { return i }
	tests := []struct {
		name    string
		g       *Generator[int64]
		wantErr string // "" for valid
	}{
		{"valid", Generate(10, id), ""},
		{"valid with rate", Generate(-1, id).WithRate(100), ""},
		{"zero rate means no limit", Generate(-1, id).WithRate(0), ""},
		{"nil fn", Generate[int64](10, nil), "generator function is nil: pass a func(index int64) int64 to Generate"},
		{"negative rate", Generate(10, id).WithRate(-5), "rate -5 records/s is not valid"},
		{"NaN rate", Generate(10, id).WithRate(math.NaN()), "rate NaN records/s is not valid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.Validate()
			_, rerr := tc.g.Reader(info(0, 1))
			if tc.wantErr == "" {
				if err != nil || rerr != nil {
					t.Errorf("Validate: %v, Reader: %v; want no error", err, rerr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate: %v, want an error containing %q", err, tc.wantErr)
			}
			if rerr == nil {
				t.Error("Reader: want an error")
			}
		})
	}
}

func TestWithRateReturnsCopy(t *testing.T) {
	g := Generate(-1, func(i int64) int64 { return i })
	limited := g.WithRate(10)
	if g.rate != 0 || limited.rate != 10 {
		t.Errorf("rates: original %v, copy %v; want 0 and 10", g.rate, limited.rate)
	}
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestGeneratorRate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	g := Generate(-1, func(i int64) int64 { return i }).WithRate(20) // 10/s per subtask at p=2
	g.now = clock.now
	r, err := g.Reader(info(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Reader creation does not start the schedule.
	clock.advance(time.Hour)

	steps := []struct {
		advance time.Duration
		max     int
		want    []int64
		st      connectors.Status
	}{
		{0, 100, []int64{0}, connectors.NothingAvailable}, // record 0 is due at once
		{0, 100, nil, connectors.NothingAvailable},
		{99 * time.Millisecond, 100, nil, connectors.NothingAvailable},
		{1 * time.Millisecond, 100, []int64{2}, connectors.NothingAvailable}, // 100 ms: record 1 is due
		{500 * time.Millisecond, 100, []int64{4, 6, 8, 10, 12}, connectors.NothingAvailable},
		{time.Second, 4, []int64{14, 16, 18, 20}, connectors.MoreAvailable}, // behind: catch up max at a time
		{0, 4, []int64{22, 24, 26, 28}, connectors.MoreAvailable},
		{0, 4, []int64{30, 32}, connectors.NothingAvailable},
		{0, 4, nil, connectors.NothingAvailable},
	}
	for i, s := range steps {
		clock.advance(s.advance)
		got, st := pollOnce(t, r, s.max)
		if !slices.Equal(got, s.want) || st != s.st {
			t.Errorf("step %d: got %v %v, want %v %v", i, got, st, s.want, s.st)
		}
	}
}

func TestGeneratorRateBoundedEnds(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	g := Generate(3, func(i int64) int64 { return i }).WithRate(1)
	g.now = clock.now
	r, err := g.Reader(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, st := pollOnce(t, r, 10); !slices.Equal(got, []int64{0}) || st != connectors.NothingAvailable {
		t.Errorf("first poll: got %v %v, want [0] nothing-available", got, st)
	}
	clock.advance(time.Minute)
	if got, st := pollOnce(t, r, 10); !slices.Equal(got, []int64{1, 2}) || st != connectors.EndOfInput {
		t.Errorf("second poll: got %v %v, want [1 2] end-of-input", got, st)
	}
}

func TestInvalidSubtaskIsRejected(t *testing.T) {
	for _, in := range []connectors.SubtaskInfo{{Index: 0, Parallelism: 0}, {Index: 3, Parallelism: 3}, {Index: -1, Parallelism: 1}} {
		if _, err := Sequence(1, 2).Reader(in); err == nil {
			t.Errorf("Sequence Reader(%+v): want an error", in)
		}
		if _, err := Generate(2, func(i int64) int64 { return i }).Reader(in); err == nil {
			t.Errorf("Generator Reader(%+v): want an error", in)
		}
	}
}

func BenchmarkSequence(b *testing.B) {
	r, err := Sequence(0, math.MaxInt64).Reader(info(0, 1))
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	out := connectors.CollectorFunc[int64](func(v int64) { sum += v })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Poll(out, 256); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/record")
}

func TestGenerateInterleavedWithPerReaderFunctions(t *testing.T) {
	made := 0
	g := GenerateWith(10, func(info connectors.SubtaskInfo) func(int64) string {
		made++
		sub := info.Index // state of its own, per reader
		return func(i int64) string { return fmt.Sprintf("%d@%d", i, sub) }
	}).Interleaved()
	want := [][]string{{"0@0", "3@0", "6@0", "9@0"}, {"1@1", "4@1", "7@1"}, {"2@2", "5@2", "8@2"}}
	for i := range 3 {
		if got := readAll(t, connectors.Source[string](g), i, 3, 2); !slices.Equal(got, want[i]) {
			t.Errorf("subtask %d: %v, want %v", i, got, want[i])
		}
	}
	if made != 3 {
		t.Errorf("the function was made %d times, want once per reader (3)", made)
	}
	if got := readAll(t, connectors.Source[string](g), 4, 5, 10); len(got) != 2 {
		t.Errorf("subtask 4 of 5: %v, want indices 4 and 9", got)
	}
	if got := readAll(t, connectors.Source[string](GenerateWith(2, func(connectors.SubtaskInfo) func(int64) string {
		return func(i int64) string { return fmt.Sprint(i) }
	}).Interleaved()), 3, 4, 10); len(got) != 0 {
		t.Errorf("subtask 3 of 4 over 2 indices: %v, want none", got)
	}
}
