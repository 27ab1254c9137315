package keyspace_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/floestream/floe/keyspace"
)

// fullStore returns a store owning all DefaultMaxParallelism key groups.
func fullStore[K comparable]() *keyspace.KeyedStore[K] {
	return keyspace.NewHeapKeyedStore[K](keyspace.DefaultMaxParallelism, keyspace.KeyGroupRange{Start: 0, End: keyspace.DefaultMaxParallelism})
}

// must returns h, panicking on a registration error: registrations in these
// tests are set-up that cannot fail unless the package is broken.
func must[T any](h T, err error) T {
	if err != nil {
		panic(err)
	}
	return h
}

func TestValueState(t *testing.T) {
	s := fullStore[string]()
	count := must(keyspace.NewValueState[string, int64](s, "count"))

	s.SetCurrentKey("a", 3)
	if v, ok := count.Value(); ok || v != 0 {
		t.Fatalf("absent value = %d, %v; want 0, false", v, ok)
	}
	count.Update(1)
	s.SetCurrentKey("b", 3) // same key group, other key
	count.Update(10)
	s.SetCurrentKey("c", 100) // other key group
	count.Update(100)

	for _, tt := range []struct {
		key  string
		kg   int
		want int64
	}{{"a", 3, 1}, {"b", 3, 10}, {"c", 100, 100}} {
		s.SetCurrentKey(tt.key, tt.kg)
		if v, ok := count.Value(); !ok || v != tt.want {
			t.Errorf("key %q: value = %d, %v; want %d, true", tt.key, v, ok, tt.want)
		}
	}

	s.SetCurrentKey("a", 3)
	count.Update(0) // a zero value is still a value
	if v, ok := count.Value(); !ok || v != 0 {
		t.Errorf("after Update(0): %d, %v; want 0, true", v, ok)
	}
	count.Clear()
	if _, ok := count.Value(); ok {
		t.Error("after Clear: value present")
	}
	count.Clear() // clearing an absent key is a no-op
	s.SetCurrentKey("b", 3)
	if v, _ := count.Value(); v != 10 {
		t.Errorf("clearing a changed b: %d, want 10", v)
	}
}

func TestValueStateHoldsStructs(t *testing.T) {
	type session struct {
		Start, End int64
		Clicks     int
	}
	s := fullStore[int64]()
	st := must(keyspace.NewValueState[int64, session](s, "session"))
	s.SetCurrentKey(42, 7)
	st.Update(session{Start: 1, End: 2, Clicks: 3})
	got, ok := st.Value()
	if !ok || got != (session{1, 2, 3}) {
		t.Errorf("Value = %+v, %v; want {1 2 3}, true", got, ok)
	}
	got.Clicks = 99 // Value returns a copy
	if again, _ := st.Value(); again.Clicks != 3 {
		t.Errorf("modifying the returned value changed the state: Clicks = %d", again.Clicks)
	}
}

// average is an AggregateFunction that counts how many accumulators it made.
type average struct{ created *int }

type avgAcc struct {
	sum float64
	n   int
}

func (a average) CreateAccumulator() avgAcc              { *a.created++; return avgAcc{} }
func (average) Add(in int, acc avgAcc) avgAcc            { return avgAcc{acc.sum + float64(in), acc.n + 1} }
func (average) Result(acc avgAcc) float64                { return acc.sum / float64(acc.n) }
func (average) Merge(a, b avgAcc) avgAcc                 { return avgAcc{a.sum + b.sum, a.n + b.n} }
func (a average) String() string                         { return "average" }
func (average) unused(avgAcc) (_ keyspace.KeyGroupRange) { return }

func TestRegistrationIsIdempotent(t *testing.T) {
	s := fullStore[string]()
	s.SetCurrentKey("k", 4)

	// Value, list and map handles are checked on both backends by
	// TestSuiteRegistration; reducing and aggregating handles here.

	r1 := must(keyspace.NewReducingState(s, "r", func(a, b int) int { return a + b }))
	r2 := must(keyspace.NewReducingState(s, "r", func(a, b int) int { return a * b }))
	r1.Add(3)
	r2.Add(4) // each handle reduces with its own function
	if got, _ := r1.Get(); got != 12 {
		t.Errorf("reducing: %d, want 3*4 = 12", got)
	}

	created := 0
	fn := keyspace.AggregateFunction[int, avgAcc, float64](average{&created})
	a1 := must(keyspace.NewAggregatingState(s, "a", fn))
	a2 := must(keyspace.NewAggregatingState(s, "a", fn))
	a1.Add(2)
	a2.Add(4)
	if got, _ := a1.Get(); got != 3 {
		t.Errorf("aggregating: %v, want 3", got)
	}

	if got := s.Stats().States; got != 2 {
		t.Errorf("Stats.States = %d after registering 2 names twice, want 2", got)
	}
}

func TestRegistrationMismatchIsAnError(t *testing.T) {
	type register func(s *keyspace.KeyedStore[string]) error
	value := func(s *keyspace.KeyedStore[string]) error {
		_, err := keyspace.NewValueState[string, int64](s, "st")
		return err
	}
	valueString := func(s *keyspace.KeyedStore[string]) error {
		_, err := keyspace.NewValueState[string, string](s, "st")
		return err
	}
	list := func(s *keyspace.KeyedStore[string]) error {
		_, err := keyspace.NewListState[string, int64](s, "st")
		return err
	}
	mapOf := func(s *keyspace.KeyedStore[string]) error {
		_, err := keyspace.NewMapState[string, string, int64](s, "st")
		return err
	}
	mapOther := func(s *keyspace.KeyedStore[string]) error {
		_, err := keyspace.NewMapState[string, string, int32](s, "st")
		return err
	}
	reducing := func(s *keyspace.KeyedStore[string]) error {
		_, err := keyspace.NewReducingState(s, "st", func(a, b int64) int64 { return a + b })
		return err
	}
	aggregating := func(s *keyspace.KeyedStore[string]) error {
		created := 0
		_, err := keyspace.NewAggregatingState(s, "st", keyspace.AggregateFunction[int, avgAcc, float64](average{&created}))
		return err
	}
	tests := []struct {
		name          string
		first, second register
		want          string
	}{
		{"value type", value, valueString, `state "st" is already registered as value state of int64 and cannot also be value state of string`},
		{"kind", value, list, `state "st" is already registered as value state of int64 and cannot also be list state of int64`},
		{"value vs reducing", value, reducing, "value state of int64 and cannot also be reducing state of int64"},
		{"map value type", mapOf, mapOther, "map state of string to int64 and cannot also be map state of string to int32"},
		{"aggregating", aggregating, list, "aggregating state of int (accumulator keyspace_test.avgAcc, result float64) and cannot also be list state of int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fullStore[string]()
			if err := tt.first(s); err != nil {
				t.Fatal(err)
			}
			err := tt.second(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("second registration: error %v, want it to contain %q", err, tt.want)
			}
			if err := tt.first(s); err != nil {
				t.Errorf("the original registration no longer works after the failed one: %v", err)
			}
		})
	}
}

func TestRegistrationRejectsBadArguments(t *testing.T) {
	s := fullStore[string]()
	errs := map[string]error{}
	_, errs["value"] = keyspace.NewValueState[string, int](s, "")
	_, errs["list"] = keyspace.NewListState[string, int](s, "")
	_, errs["map"] = keyspace.NewMapState[string, int, int](s, "")
	_, errs["reducing"] = keyspace.NewReducingState(s, "", func(a, b int) int { return a })
	_, errs["aggregating"] = keyspace.NewAggregatingState(s, "", keyspace.AggregateFunction[int, avgAcc, float64](average{new(int)}))
	for kind, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "non-empty name") {
			t.Errorf("%s state with an empty name: error %v, want one about the empty name", kind, err)
		}
	}
	if _, err := keyspace.NewReducingState[string, int](s, "r", nil); err == nil || !strings.Contains(err.Error(), `reducing state "r": the reduce function is nil`) {
		t.Errorf("nil reduce: error %v", err)
	}
	if _, err := keyspace.NewAggregatingState[string, int, int, int](s, "a", nil); err == nil || !strings.Contains(err.Error(), `aggregating state "a": the aggregate function is nil`) {
		t.Errorf("nil aggregate function: error %v", err)
	}
	if got := s.Stats().States; got != 0 {
		t.Errorf("failed registrations left %d states", got)
	}
}

func TestStats(t *testing.T) {
	s := fullStore[string]()
	if got := s.Stats(); got != (keyspace.Stats{}) {
		t.Fatalf("empty store: %+v", got)
	}
	v := must(keyspace.NewValueState[string, int64](s, "v"))
	l := must(keyspace.NewListState[string, string](s, "l"))
	m := must(keyspace.NewMapState[string, string, int32](s, "m"))

	s.SetCurrentKey("a", 1)
	v.Update(1)
	l.AddAll([]string{"xy", "z"})
	s.SetCurrentKey("bb", 2)
	v.Update(2)
	m.Put("k", 1)

	// value: 2 × (16 key header + 8 int64) + 1 + 2 key bytes                  = 51
	// list:  16 key header + 24 slice header + 1 key byte + 2 × 16 + 3 bytes = 76
	// map:   16 key header + 8 map pointer + 2 key bytes + (16 + 4) + 1 byte = 47
	want := keyspace.Stats{States: 3, Keys: 4, ApproxBytes: 51 + 76 + 47}
	if got := s.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}

	ints := fullStore[int64]()
	c := must(keyspace.NewValueState[int64, int32](ints, "c"))
	for k := range int64(10) {
		ints.SetCurrentKey(k, int(k))
		c.Update(1)
	}
	if got, want := ints.Stats(), (keyspace.Stats{States: 1, Keys: 10, ApproxBytes: 10 * (8 + 4)}); got != want {
		t.Errorf("fixed-size Stats = %+v, want %+v", got, want)
	}
}

func TestClearShrinksKeysAndStats(t *testing.T) {
	s := fullStore[string]()
	v := must(keyspace.NewValueState[string, int](s, "v"))
	l := must(keyspace.NewListState[string, int](s, "l"))
	m := must(keyspace.NewMapState[string, int, int](s, "m"))
	r := must(keyspace.NewReducingState(s, "r", func(a, b int) int { return a + b }))
	a := must(keyspace.NewAggregatingState(s, "a", keyspace.AggregateFunction[int, avgAcc, float64](average{new(int)})))
	s.SetCurrentKey("k", 0)
	v.Update(1)
	l.Add(1)
	m.Put(1, 1)
	r.Add(1)
	a.Add(1)
	if got := s.Stats().Keys; got != 5 {
		t.Fatalf("Keys = %d, want 5", got)
	}
	clears := []struct {
		state string
		clear func()
	}{
		{"v", v.Clear},
		{"l", func() { l.Update(nil) }},
		{"m", func() { m.Remove(1) }},
		{"r", r.Clear},
		{"a", a.Clear},
	}
	for i, c := range clears {
		c.clear()
		if got := slices.Collect(s.Keys(c.state)); len(got) != 0 {
			t.Errorf("state %s: Keys after clearing = %q, want none", c.state, got)
		}
		st := s.Stats()
		if st.Keys != 4-i {
			t.Errorf("after clearing %s: Stats.Keys = %d, want %d", c.state, st.Keys, 4-i)
		}
		if st.States != 5 {
			t.Errorf("after clearing %s: Stats.States = %d, want 5 (clearing keeps the registration)", c.state, st.States)
		}
	}
	if got := s.Stats().ApproxBytes; got != 0 {
		t.Errorf("ApproxBytes with no entries = %d, want 0", got)
	}
}

func TestKeysInKeyGroupOrder(t *testing.T) {
	s := keyspace.NewHeapKeyedStore[int](keyspace.DefaultMaxParallelism, keyspace.RangeForSubtask(keyspace.DefaultMaxParallelism, 2, 1))
	v := must(keyspace.NewValueState[int, bool](s, "v"))
	groupOf := map[int]int{}
	r := rand.New(rand.NewPCG(3, 4))
	for k := range 1000 {
		kg := 64 + r.IntN(64)
		groupOf[k] = kg
		s.SetCurrentKey(k, kg)
		v.Update(true)
	}
	got := slices.Collect(s.Keys("v"))
	if len(got) != len(groupOf) {
		t.Fatalf("Keys yielded %d keys, want %d", len(got), len(groupOf))
	}
	seen := map[int]bool{}
	for i, k := range got {
		if seen[k] {
			t.Fatalf("key %d yielded twice", k)
		}
		seen[k] = true
		if i > 0 && groupOf[k] < groupOf[got[i-1]] {
			t.Fatalf("key %d (group %d) came after key %d (group %d)", k, groupOf[k], got[i-1], groupOf[got[i-1]])
		}
	}
	n := 0
	for range s.Keys("v") {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("Keys stopped after %d, want 3", n)
	}
	if got := slices.Collect(s.Keys("no-such-state")); len(got) != 0 {
		t.Errorf("Keys of an unknown state = %v, want none", got)
	}
}

func TestStoreAccessors(t *testing.T) {
	rng := keyspace.RangeForSubtask(1000, 3, 1)
	s := keyspace.NewHeapKeyedStore[string](1000, rng)
	if s.KeyGroupRange() != rng || s.MaxParallelism() != 1000 {
		t.Errorf("KeyGroupRange, MaxParallelism = %s, %d; want %s, 1000", s.KeyGroupRange(), s.MaxParallelism(), rng)
	}
	if s.CurrentKey() != "" || s.CurrentKeyGroup() != rng.Start {
		t.Errorf("initial key = %q in group %d, want \"\" in %d", s.CurrentKey(), s.CurrentKeyGroup(), rng.Start)
	}
	s.SetCurrentKey("x", rng.End-1)
	if s.CurrentKey() != "x" || s.CurrentKeyGroup() != rng.End-1 {
		t.Errorf("current key = %q in group %d, want \"x\" in %d", s.CurrentKey(), s.CurrentKeyGroup(), rng.End-1)
	}
}

func TestSetCurrentKeyOutOfRangePanics(t *testing.T) {
	s := keyspace.NewHeapKeyedStore[string](128, keyspace.KeyGroupRange{Start: 32, End: 64})
	for _, kg := range []int{32, 63} {
		s.SetCurrentKey("ok", kg) // must not panic
	}
	for _, kg := range []int{-1, 0, 31, 64, 127, 128} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				want := fmt.Sprintf("keyspace: SetCurrentKey: key group %d is outside this store's key groups [32, 64) (max parallelism 128)", kg)
				if !strings.HasPrefix(msg, want) {
					t.Errorf("SetCurrentKey(_, %d): panic %q, want it to start with %q", kg, msg, want)
				}
			}()
			s.SetCurrentKey("bad", kg)
		}()
		if s.CurrentKey() != "ok" || s.CurrentKeyGroup() != 63 {
			t.Errorf("a rejected SetCurrentKey changed the current key to %q in %d", s.CurrentKey(), s.CurrentKeyGroup())
		}
	}
}

func TestNewHeapKeyedStoreRejectsBadRanges(t *testing.T) {
	tests := []struct {
		m   int
		rng keyspace.KeyGroupRange
	}{
		{0, keyspace.KeyGroupRange{0, 1}},
		{keyspace.UpperBoundMaxParallelism + 1, keyspace.KeyGroupRange{0, 1}},
		{128, keyspace.KeyGroupRange{}},
		{128, keyspace.KeyGroupRange{-1, 10}},
		{128, keyspace.KeyGroupRange{100, 129}},
		{128, keyspace.KeyGroupRange{10, 5}},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if msg, _ := recover().(string); !strings.HasPrefix(msg, "keyspace: ") {
					t.Errorf("NewHeapKeyedStore(%d, %s): panic %q, want a keyspace panic", tt.m, tt.rng, msg)
				}
			}()
			keyspace.NewHeapKeyedStore[string](tt.m, tt.rng)
		}()
	}
}

// TestManyKeysAcrossGroups drives a subtask's store the way the runtime does:
// keys hashed to key groups, only the subtask's own groups stored.
func TestManyKeysAcrossGroups(t *testing.T) {
	const m, p, index, n = keyspace.DefaultMaxParallelism, 4, 1, 100_000
	rng := keyspace.RangeForSubtask(m, p, index)
	hash, err := keyspace.KeyHasher[string]()
	if err != nil {
		t.Fatal(err)
	}
	s := keyspace.NewHeapKeyedStore[string](m, rng)
	count := must(keyspace.NewValueState[string, int](s, "count"))
	seen := must(keyspace.NewListState[string, int](s, "seen"))

	mine := map[string]int{} // key → key group, for the keys this subtask owns
	for round := range 2 {
		for i := range n {
			k := fmt.Sprintf("user-%d", i)
			kg := keyspace.KeyGroupForHash(hash(k), m)
			if keyspace.SubtaskForKeyGroup(m, p, kg) != index {
				continue
			}
			mine[k] = kg
			s.SetCurrentKey(k, kg)
			c, _ := count.Value()
			count.Update(c + 1)
			seen.Add(i + round)
		}
	}
	if len(mine) < n/p*8/10 || len(mine) > n/p*12/10 {
		t.Fatalf("subtask %d of %d owns %d of %d keys, want about a quarter", index, p, len(mine), n)
	}
	for k, kg := range mine {
		s.SetCurrentKey(k, kg)
		var i int
		fmt.Sscanf(k, "user-%d", &i)
		if c, ok := count.Value(); !ok || c != 2 {
			t.Fatalf("key %s: count = %d, %v; want 2, true", k, c, ok)
		}
		if got := seen.Get(); !slices.Equal(got, []int{i, i + 1}) {
			t.Fatalf("key %s: seen = %v, want [%d %d]", k, got, i, i+1)
		}
	}
	if got := s.Stats().Keys; got != 2*len(mine) {
		t.Errorf("Stats.Keys = %d, want %d", got, 2*len(mine))
	}
	last := rng.Start
	yielded := 0
	for k := range s.Keys("count") {
		kg, ok := mine[k]
		if !ok || kg < last || !rng.Contains(kg) {
			t.Fatalf("Keys yielded %q (group %d, owned %v) after group %d", k, kg, ok, last)
		}
		last = kg
		yielded++
	}
	if yielded != len(mine) {
		t.Errorf("Keys yielded %d keys, want %d", yielded, len(mine))
	}
}

func TestValueStateHotPathDoesNotAllocate(t *testing.T) {
	s := fullStore[string]()
	v := must(keyspace.NewValueState[string, int64](s, "v"))
	s.SetCurrentKey("k", 17)
	v.Update(1)
	if n := testing.AllocsPerRun(100, func() {
		s.SetCurrentKey("k", 17)
		c, _ := v.Value()
		v.Update(c + 1)
	}); n != 0 {
		t.Errorf("%v allocations per read-modify-write of an existing key, want 0", n)
	}
}

// BenchmarkCounterRMW compares a read-modify-write of a per-key counter over
// 1M distinct string keys on a plain Go map, the heap store and the Pebble
// store, in one run. All start populated (one pass before timing) and visit
// the keys in the same shuffled order; the store's key groups are computed
// beforehand, as the runtime computes them once per record when routing.
//
// pebble-value-state has a read cache large enough for all 1M keys (the hot
// working set fits); pebble-value-state-cold has none, so every read goes to
// Pebble. The Pebble variants also report the process's memory growth
// (Go heap in use and resident set, per million keys) and the database's
// size on disk after its memtables are flushed.
func BenchmarkCounterRMW(b *testing.B) {
	const n = 1_000_000
	hash, err := keyspace.KeyHasher[string]()
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("account-%07d", i)
	}
	rand.New(rand.NewPCG(5, 6)).Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	groups := make([]int, n)
	for i, k := range keys {
		groups[i] = keyspace.KeyGroupForHash(hash(k), keyspace.DefaultMaxParallelism)
	}

	b.Run("plain-map", func(b *testing.B) {
		m := make(map[string]int64)
		rmw := func(i int) {
			k := keys[i]
			v := m[k]
			m[k] = v + 1
		}
		for i := range n {
			rmw(i)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i == n {
				i = 0
			}
			rmw(i)
		}
		b.StopTimer()
		if len(m) != n {
			b.Fatalf("%d keys, want %d", len(m), n)
		}
	})

	b.Run("heap-value-state", func(b *testing.B) {
		counterRMW(b, fullStore[string](), keys, groups, 1)
	})

	b.Run("pebble-value-state", func(b *testing.B) {
		benchPebbleRMW(b, keys, groups, keyspace.PebbleOptions{CacheBytes: 384 << 20})
	})
	b.Run("pebble-value-state-cold", func(b *testing.B) {
		benchPebbleRMW(b, keys, groups, keyspace.PebbleOptions{CacheBytes: -1})
	})
}

func benchPebbleRMW(b *testing.B, keys []string, groups []int, opts keyspace.PebbleOptions) {
	n := len(keys)
	dir := b.TempDir()
	heap0, rss0 := memoryInUse()
	db, err := keyspace.OpenPebble(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := keyspace.NewPebbleKeyedStore[string](db, "bench", keyspace.DefaultMaxParallelism,
		keyspace.KeyGroupRange{Start: 0, End: keyspace.DefaultMaxParallelism})
	if err != nil {
		b.Fatal(err)
	}
	// The second pass finds every key in Pebble, and the cache warm.
	counterRMW(b, s, keys, groups, 2)
	heap1, rss1 := memoryInUse()
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := keyspace.FlushMemtables(db); err != nil {
		b.Fatal(err)
	}
	perMillion := 1e6 / float64(n) / (1 << 20)
	b.ReportMetric(float64(heap1-heap0)*perMillion, "heap-MiB/Mkeys")
	b.ReportMetric(float64(rss1-rss0)*perMillion, "rss-MiB/Mkeys")
	b.ReportMetric(float64(dirSize(b, dir))*perMillion, "disk-MiB/Mkeys")
}

// counterRMW counts keys in value state of s: passes over every key
// first, then b.N read-modify-writes round the keys.
func counterRMW(b *testing.B, s *keyspace.KeyedStore[string], keys []string, groups []int, passes int) {
	n := len(keys)
	count := must(keyspace.NewValueState[string, int64](s, "count"))
	rmw := func(i int) {
		s.SetCurrentKey(keys[i], groups[i])
		v, _ := count.Value()
		count.Update(v + 1)
	}
	for range passes {
		for i := range n {
			rmw(i)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i == n {
			i = 0
		}
		rmw(i)
	}
	b.StopTimer()
	if got := s.Stats().Keys; got != n {
		b.Fatalf("%d keys, want %d", got, n)
	}
}

// memoryInUse returns the Go heap in use after a collection, and the
// process's resident set size (which also counts Pebble's manually managed
// memtables and block cache).
func memoryInUse() (heap, rss int64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if statm, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, resident int64
		fmt.Sscan(string(statm), &size, &resident)
		rss = resident * int64(os.Getpagesize())
	}
	return int64(ms.HeapInuse), rss
}

// dirSize returns the bytes of the files under dir.
func dirSize(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}
