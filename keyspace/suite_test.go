package keyspace_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/floestream/floe/keyspace"
)

// The shared suite: every test named TestSuite* runs once per backend, as
// subtests named after it. "pebble-small" is Pebble with a tiny read cache
// and write batch, which drives the eviction and commit paths on every few
// operations.

// backend opens stores of one kind.
type backend struct {
	name string
	db   *keyspace.PebbleDB // nil for the heap
}

var (
	pebbleDB, smallPebbleDB *keyspace.PebbleDB
	uidSeq                  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runWithDatabases(m))
}

func runWithDatabases(m *testing.M) int {
	dir, err := os.MkdirTemp("", "keyspace-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if pebbleDB, err = keyspace.OpenPebble(dir+"/default", keyspace.PebbleOptions{CacheBytes: 32 << 20, MemTableBytes: 8 << 20, DisableWAL: true}); err != nil {
		panic(err)
	}
	defer pebbleDB.Close()
	if smallPebbleDB, err = keyspace.OpenPebble(dir+"/small", keyspace.PebbleOptions{CacheBytes: 16 << 10, BatchBytes: 2 << 10, MemTableBytes: 1 << 20}); err != nil {
		panic(err)
	}
	defer smallPebbleDB.Close()
	return m.Run()
}

func backends() []backend {
	return []backend{{name: "heap"}, {name: "pebble", db: pebbleDB}, {name: "pebble-small", db: smallPebbleDB}}
}

// eachBackend runs f as a subtest per backend.
func eachBackend(t *testing.T, f func(t *testing.T, be backend)) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) { f(t, be) })
	}
}

// newUID returns an operator UID no other test uses.
func newUID() string { return fmt.Sprintf("op-%d", uidSeq.Add(1)) }

// openStore returns a store of backend be for operator uid over rng, closed
// when the test ends.
func openStore[K comparable](t testing.TB, be backend, uid string, m int, rng keyspace.KeyGroupRange) *keyspace.KeyedStore[K] {
	t.Helper()
	if be.db == nil {
		return keyspace.NewHeapKeyedStore[K](m, rng)
	}
	s, err := keyspace.NewPebbleKeyedStore[K](be.db, uid, m, rng)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore returns a store of a fresh operator owning all
// DefaultMaxParallelism key groups.
func newStore[K comparable](t testing.TB, be backend) *keyspace.KeyedStore[K] {
	return openStore[K](t, be, newUID(), keyspace.DefaultMaxParallelism, keyspace.KeyGroupRange{Start: 0, End: keyspace.DefaultMaxParallelism})
}

func TestSuiteValueState(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		if s.Backend() != strings.TrimSuffix(be.name, "-small") {
			t.Errorf("Backend() = %q", s.Backend())
		}
		count := must(keyspace.NewValueState[string, int64](s, "count"))
		s.SetCurrentKey("a", 3)
		if v, ok := count.Value(); ok || v != 0 {
			t.Fatalf("absent value = %d, %v; want 0, false", v, ok)
		}
		count.Update(1)
		s.SetCurrentKey("b", 3)
		count.Update(10)
		s.SetCurrentKey("c", 100)
		count.Update(100)
		s.SetCurrentKey("a", 4) // same key, other key group: another entry
		count.Update(4)
		for _, tt := range []struct {
			key  string
			kg   int
			want int64
		}{{"a", 3, 1}, {"b", 3, 10}, {"c", 100, 100}, {"a", 4, 4}} {
			s.SetCurrentKey(tt.key, tt.kg)
			if v, ok := count.Value(); !ok || v != tt.want {
				t.Errorf("key %q in %d: value = %d, %v; want %d, true", tt.key, tt.kg, v, ok, tt.want)
			}
		}
		s.SetCurrentKey("a", 3)
		count.Update(0)
		if v, ok := count.Value(); !ok || v != 0 {
			t.Errorf("after Update(0): %d, %v; want 0, true", v, ok)
		}
		count.Clear()
		if _, ok := count.Value(); ok {
			t.Error("after Clear: value present")
		}
		count.Clear()
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, ok := count.Value(); ok {
			t.Error("after Clear and Flush: value present")
		}
		s.SetCurrentKey("b", 3)
		if v, _ := count.Value(); v != 10 {
			t.Errorf("b after a's Clear = %d, want 10", v)
		}
		if got := s.Stats().Keys; got != 3 {
			t.Errorf("Stats.Keys = %d, want 3", got)
		}
	})
}

type session struct {
	Start, End int64
	Clicks     int
	Pages      []string
	Tags       map[string]int
	Prev       *visit
}

type visit struct{ Clicks int }

func TestSuiteValueStateHoldsStructs(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[int64](t, be)
		st := must(keyspace.NewValueState[int64, session](s, "session"))
		s.SetCurrentKey(42, 7)
		in := session{Start: 1, End: 2, Clicks: 3, Pages: []string{"a", "b"}, Tags: map[string]int{"x": 1}, Prev: &visit{Clicks: 9}}
		st.Update(in)
		s.Flush()
		got, ok := st.Value()
		if !ok || got.Clicks != 3 || !slices.Equal(got.Pages, in.Pages) || got.Tags["x"] != 1 || got.Prev == nil || got.Prev.Clicks != 9 {
			t.Errorf("Value = %+v, %v", got, ok)
		}
	})
}

func TestSuiteListState(t *testing.T) {
	tests := []struct {
		name string
		ops  func(l keyspace.ListState[string])
		want []string
	}{
		{"absent", func(l keyspace.ListState[string]) {}, nil},
		{"add", func(l keyspace.ListState[string]) { l.Add("a"); l.Add("b") }, []string{"a", "b"}},
		{"add all then add", func(l keyspace.ListState[string]) { l.AddAll([]string{"a", "b"}); l.Add("c") }, []string{"a", "b", "c"}},
		{"add all empty", func(l keyspace.ListState[string]) { l.AddAll(nil) }, nil},
		{"update replaces", func(l keyspace.ListState[string]) { l.Add("a"); l.Update([]string{"x", "y"}) }, []string{"x", "y"}},
		{"update then add", func(l keyspace.ListState[string]) { l.Update([]string{"x"}); l.Add("y"); l.AddAll([]string{"z"}) }, []string{"x", "y", "z"}},
		{"update empty clears", func(l keyspace.ListState[string]) { l.Add("a"); l.Update([]string{}) }, nil},
		{"clear", func(l keyspace.ListState[string]) { l.Add("a"); l.Clear() }, nil},
		{"clear then add", func(l keyspace.ListState[string]) { l.Add("a"); l.Clear(); l.Add("b") }, []string{"b"}},
		{"get between adds", func(l keyspace.ListState[string]) { l.Add("a"); l.Get(); l.Add("b") }, []string{"a", "b"}},
		{"update from own slice", func(l keyspace.ListState[string]) {
			l.AddAll([]string{"a", "b", "c"})
			l.Update(l.Get()[1:])
		}, []string{"b", "c"}},
	}
	eachBackend(t, func(t *testing.T, be backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore[string](t, be)
				l := must(keyspace.NewListState[string, string](s, "events"))
				s.SetCurrentKey("k", 1)
				tt.ops(l)
				if got := l.Get(); !slices.Equal(got, tt.want) {
					t.Errorf("Get = %q, want %q", got, tt.want)
				}
				if n, want := s.Stats().Keys, min(len(tt.want), 1); n != want {
					t.Errorf("Stats.Keys = %d, want %d (an empty list has no entry)", n, want)
				}
				if got := l.Get(); !slices.Equal(got, tt.want) {
					t.Errorf("Get after a commit = %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func TestSuiteListStateAcrossCommits(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[int](t, be)
		l := must(keyspace.NewListState[int, int](s, "l"))
		want := map[int][]int{}
		for i := range 3000 {
			k := i % 7
			s.SetCurrentKey(k, k)
			l.Add(i)
			want[k] = append(want[k], i)
			if i%500 == 0 {
				s.Flush()
			}
			if i%333 == 0 {
				l.Get() // a known list goes on growing in place
			}
		}
		for k, w := range want {
			s.SetCurrentKey(k, k)
			if got := l.Get(); !slices.Equal(got, w) {
				t.Fatalf("key %d: %d elements, want %d", k, len(got), len(w))
			}
		}
	})
}

func TestSuiteListStateDoesNotRetainCallerSlices(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		l := must(keyspace.NewListState[string, int](s, "l"))
		s.SetCurrentKey("k", 0)
		in := []int{1, 2, 3}
		l.Update(in)
		in[0] = 100
		more := make([]int, 2, 10)
		more[0], more[1] = 4, 5
		l.AddAll(more)
		more[0] = 400
		if got, want := l.Get(), []int{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
			t.Errorf("Get = %v, want %v", got, want)
		}
	})
}

func TestSuiteMapState(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		m := must(keyspace.NewMapState[string, string, int](s, "m"))
		s.SetCurrentKey("k", 5)
		if m.Len() != 0 || m.Contains("x") {
			t.Fatal("absent map is not empty")
		}
		if v, ok := m.Get("x"); ok || v != 0 {
			t.Fatalf("Get on absent map = %d, %v", v, ok)
		}
		m.Remove("x")
		m.Put("x", 1)
		m.Put("y", 2)
		m.Put("x", 3)
		if v, ok := m.Get("x"); !ok || v != 3 {
			t.Errorf("Get(x) = %d, %v; want 3, true", v, ok)
		}
		if !m.Contains("y") || m.Contains("z") || m.Len() != 2 {
			t.Errorf("Contains(y)=%v Contains(z)=%v Len=%d; want true false 2", m.Contains("y"), m.Contains("z"), m.Len())
		}
		if got, want := maps.Collect(m.All()), map[string]int{"x": 3, "y": 2}; !maps.Equal(got, want) {
			t.Errorf("All = %v, want %v", got, want)
		}
		n := 0
		for range m.All() {
			n++
			break
		}
		if n != 1 {
			t.Errorf("All after break yielded %d, want 1", n)
		}
		s.SetCurrentKey("other", 6)
		m.Put("x", 100)
		s.SetCurrentKey("k", 5)
		if v, _ := m.Get("x"); v != 3 {
			t.Errorf("another key's Put changed k: Get(x) = %d, want 3", v)
		}
		s.Flush()
		// Removing every entry, even while ranging, removes the key's map.
		for k := range m.All() {
			m.Remove(k)
		}
		if m.Len() != 0 {
			t.Errorf("Len after removing all = %d", m.Len())
		}
		if got := slices.Collect(s.Keys("m")); !slices.Equal(got, []string{"other"}) {
			t.Errorf("Keys after emptying k's map = %q, want [other]", got)
		}
		m.Put("z", 1)
		m.Put("w", 2)
		m.Clear()
		if m.Len() != 0 || m.Contains("z") {
			t.Error("Clear left entries")
		}
		s.SetCurrentKey("other", 6)
		if v, _ := m.Get("x"); v != 100 {
			t.Errorf("k's Clear changed other: %d", v)
		}
	})
}

func TestSuiteMapStateRemoveDuringRange(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[int](t, be)
		m := must(keyspace.NewMapState[int, int, string](s, "m"))
		s.SetCurrentKey(1, 1)
		for i := range 10 {
			m.Put(i, fmt.Sprint(i))
		}
		seen, removed := map[int]bool{}, map[int]bool{}
		for k := range m.All() {
			if seen[k] || removed[k] {
				t.Fatalf("entry %d yielded twice, or after its removal", k)
			}
			seen[k] = true
			// Remove an entry not yielded yet: as in a Go map, it must not
			// be yielded afterwards.
			for j := range 10 {
				if !seen[j] && !removed[j] {
					m.Remove(j)
					removed[j] = true
					break
				}
			}
		}
		if len(seen)+len(removed) != 10 || m.Len() != len(seen) {
			t.Errorf("yielded %d entries and removed %d of 10; Len = %d", len(seen), len(removed), m.Len())
		}
		for k := range seen {
			if _, ok := m.Get(k); !ok {
				t.Errorf("yielded entry %d is gone", k)
			}
		}
	})
}

func TestSuiteReducingState(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		calls := 0
		sum := must(keyspace.NewReducingState(s, "sum", func(a, b int) int { calls++; return a + b }))
		maxOf := must(keyspace.NewReducingState(s, "max", func(a, b int) int { return max(a, b) }))
		s.SetCurrentKey("k", 9)
		if v, ok := sum.Get(); ok || v != 0 {
			t.Fatalf("absent Get = %d, %v", v, ok)
		}
		sum.Add(5)
		if calls != 0 {
			t.Errorf("the first value was reduced (%d calls)", calls)
		}
		for _, v := range []int{3, -1, 10} {
			sum.Add(v)
			maxOf.Add(v)
		}
		if v, ok := sum.Get(); !ok || v != 17 || calls != 3 {
			t.Errorf("sum = %d, %v after %d calls; want 17, true after 3", v, ok, calls)
		}
		if v, _ := maxOf.Get(); v != 10 {
			t.Errorf("max = %d, want 10", v)
		}
		sum.Clear()
		if _, ok := sum.Get(); ok {
			t.Error("Get after Clear: present")
		}
		sum.Add(2)
		if v, _ := sum.Get(); v != 2 {
			t.Errorf("sum after Clear and Add(2) = %d, want 2", v)
		}
	})
}

func TestSuiteAggregatingState(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		created := 0
		avg := must(keyspace.NewAggregatingState(s, "avg", keyspace.AggregateFunction[int, avgAcc, float64](average{&created}),
			keyspace.WithValueCodec[avgAcc](avgCodec{})))
		s.SetCurrentKey("k", 1)
		if v, ok := avg.Get(); ok || v != 0 {
			t.Fatalf("absent Get = %v, %v", v, ok)
		}
		avg.Add(1)
		avg.Add(2)
		s.Flush()
		avg.Add(6)
		if v, ok := avg.Get(); !ok || v != 3 {
			t.Errorf("Get = %v, %v; want 3, true", v, ok)
		}
		if created != 1 {
			t.Errorf("%d accumulators created for one key, want 1", created)
		}
		s.SetCurrentKey("j", 2)
		avg.Add(10)
		if v, _ := avg.Get(); v != 10 || created != 2 {
			t.Errorf("second key: Get = %v with %d accumulators; want 10 with 2", v, created)
		}
		avg.Clear()
		if _, ok := avg.Get(); ok {
			t.Error("Get after Clear: present")
		}
		s.SetCurrentKey("k", 1)
		if v, _ := avg.Get(); v != 3 {
			t.Errorf("clearing j changed k: %v", v)
		}
	})
}

// avgCodec encodes avgAcc, whose fields are unexported: it shows
// WithValueCodec (CodecFor would do as well).
type avgCodec struct{}

func (avgCodec) Append(dst []byte, a avgAcc) []byte {
	return fmt.Appendf(dst, "%v/%d", a.sum, a.n)
}

func (avgCodec) Decode(src []byte) (avgAcc, error) {
	var a avgAcc
	_, err := fmt.Sscanf(string(src), "%v/%d", &a.sum, &a.n)
	return a, err
}

func TestSuiteRegistration(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		s.SetCurrentKey("k", 4)
		v1 := must(keyspace.NewValueState[string, int](s, "v"))
		v2 := must(keyspace.NewValueState[string, int](s, "v"))
		v1.Update(7)
		if got, _ := v2.Value(); got != 7 {
			t.Errorf("value: second handle reads %d, want 7", got)
		}
		l1 := must(keyspace.NewListState[string, int](s, "l"))
		l2 := must(keyspace.NewListState[string, int](s, "l"))
		l1.Add(1)
		l2.Add(2)
		if got := l1.Get(); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("list: %v, want [1 2]", got)
		}
		m1 := must(keyspace.NewMapState[string, string, int](s, "m"))
		m2 := must(keyspace.NewMapState[string, string, int](s, "m"))
		m1.Put("a", 1)
		if got, _ := m2.Get("a"); got != 1 {
			t.Errorf("map: second handle reads %d, want 1", got)
		}
		m2.Put("a", 2)
		if got, _ := m1.Get("a"); got != 2 {
			t.Errorf("map: first handle reads %d after the second's Put, want 2", got)
		}
		if _, err := keyspace.NewValueState[string, string](s, "v"); err == nil ||
			!strings.Contains(err.Error(), `state "v" is already registered as value state of int and cannot also be value state of string`) {
			t.Errorf("mismatched registration: %v", err)
		}
		ttl := keyspace.WithTTL(keyspace.TTLConfig{TTL: 1e9})
		if _, err := keyspace.NewValueState[string, int](s, "v", ttl); err == nil || !strings.Contains(err.Error(), "with TTL 1s") {
			t.Errorf("registration adding a TTL: %v", err)
		}
		if _, err := keyspace.NewValueState[string, chan int](s, "ch"); err == nil || !strings.Contains(err.Error(), "channel") {
			t.Errorf("value type without a codec: %v", err)
		}
		if _, err := keyspace.NewValueState[string, int](s, "bad", keyspace.WithValueCodec[string](keyspace.Codec[string](nil))); err == nil {
			t.Error("nil codec accepted")
		}
		if _, err := keyspace.NewValueState[string, int](s, "bad", keyspace.WithValueCodec(must(keyspace.CodecFor[string]()))); err == nil ||
			!strings.Contains(err.Error(), "WithValueCodec gives a codec of string, but the state's values are of type int") {
			t.Errorf("codec of the wrong type: %v", err)
		}
		if got := s.Stats().States; got != 3 {
			t.Errorf("Stats.States = %d, want 3", got)
		}
	})
}

func TestSuiteKeysInKeyGroupOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		const m = keyspace.DefaultMaxParallelism
		s := openStore[int](t, be, newUID(), m, keyspace.RangeForSubtask(m, 2, 1))
		v := must(keyspace.NewValueState[int, bool](s, "v"))
		mp := must(keyspace.NewMapState[int, int, int](s, "m"))
		groupOf := map[int]int{}
		for k := range 1000 {
			kg := 64 + (k*7919)%64
			groupOf[k] = kg
			s.SetCurrentKey(k, kg)
			v.Update(true)
			mp.Put(1, 1)
			mp.Put(2, 2) // two entries, one key
		}
		for _, state := range []string{"v", "m"} {
			got := slices.Collect(s.Keys(state))
			if len(got) != len(groupOf) {
				t.Fatalf("%s: Keys yielded %d keys, want %d", state, len(got), len(groupOf))
			}
			seen := map[int]bool{}
			for i, k := range got {
				if seen[k] {
					t.Fatalf("%s: key %d yielded twice", state, k)
				}
				seen[k] = true
				if i > 0 && groupOf[k] < groupOf[got[i-1]] {
					t.Fatalf("%s: key %d (group %d) came after key %d (group %d)", state, k, groupOf[k], got[i-1], groupOf[got[i-1]])
				}
			}
		}
		n := 0
		for k := range s.Keys("v") {
			s.SetCurrentKey(k, groupOf[k])
			v.Clear() // clearing a yielded key is allowed
			n++
			if n == 3 {
				break
			}
		}
		if got := len(slices.Collect(s.Keys("v"))); got != 997 {
			t.Errorf("Keys after clearing 3 = %d, want 997", got)
		}
		if got := slices.Collect(s.Keys("no-such-state")); len(got) != 0 {
			t.Errorf("Keys of an unknown state = %v", got)
		}
	})
}

func TestSuiteClearShrinksKeysAndStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		v := must(keyspace.NewValueState[string, int](s, "v"))
		l := must(keyspace.NewListState[string, int](s, "l"))
		m := must(keyspace.NewMapState[string, int, int](s, "m"))
		r := must(keyspace.NewReducingState(s, "r", func(a, b int) int { return a + b }))
		a := must(keyspace.NewAggregatingState(s, "a", keyspace.AggregateFunction[int, avgAcc, float64](average{new(int)}), keyspace.WithValueCodec[avgAcc](avgCodec{})))
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
		}{{"v", v.Clear}, {"l", func() { l.Update(nil) }}, {"m", func() { m.Remove(1) }}, {"r", r.Clear}, {"a", a.Clear}}
		for i, c := range clears {
			c.clear()
			if got := slices.Collect(s.Keys(c.state)); len(got) != 0 {
				t.Errorf("state %s: Keys after clearing = %q, want none", c.state, got)
			}
			if st := s.Stats(); st.Keys != 4-i || st.States != 5 {
				t.Errorf("after clearing %s: Stats = %+v, want 5 states and %d keys", c.state, st, 4-i)
			}
		}
		if got := s.Stats().ApproxBytes; got != 0 {
			t.Errorf("ApproxBytes with no entries = %d, want 0", got)
		}
	})
}

// TestSuiteManyKeys drives a subtask's store the way the runtime does: keys
// hashed to key groups, only the subtask's own groups stored. 100k keys are
// routed (a quarter stored) — 40k for Pebble under the race detector.
func TestSuiteManyKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		const m, p, index = keyspace.DefaultMaxParallelism, 4, 1
		n := 100_000
		if raceEnabled && be.db != nil {
			n = 40_000
		}
		if be.name == "pebble-small" {
			// Its 1 MiB memtable makes this a compaction test, one that
			// takes over a minute with the race detector.
			t.Skip("the small-cache variant adds nothing here")
		}
		rng := keyspace.RangeForSubtask(m, p, index)
		hash := must(keyspace.KeyHasher[string]())
		s := openStore[string](t, be, newUID(), m, rng)
		count := must(keyspace.NewValueState[string, int](s, "count"))
		seen := must(keyspace.NewListState[string, int](s, "seen"))
		mine := map[string]int{}
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
		yielded := 0
		last := rng.Start
		for k := range s.Keys("count") {
			kg, ok := mine[k]
			if !ok || kg < last {
				t.Fatalf("Keys yielded %q (group %d, owned %v) after group %d", k, kg, ok, last)
			}
			last = kg
			yielded++
		}
		if yielded != len(mine) {
			t.Errorf("Keys yielded %d keys, want %d", yielded, len(mine))
		}
	})
}

func TestSuiteLargeValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[int](t, be)
		blob := must(keyspace.NewValueState[int, []byte](s, "blob"))
		parts := must(keyspace.NewListState[int, []byte](s, "parts"))
		big := func(seed, n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(seed*31 + i*7)
			}
			return b
		}
		const mib = 1 << 20
		for k := range 4 {
			s.SetCurrentKey(k, k*30)
			blob.Update(big(k, mib))
			parts.Add(big(k+10, mib/2))
			parts.Add(big(k+20, mib/2+1))
		}
		check := func(s *keyspace.KeyedStore[int], blob keyspace.ValueState[[]byte], parts keyspace.ListState[[]byte]) {
			t.Helper()
			for k := range 4 {
				s.SetCurrentKey(k, k*30)
				if v, ok := blob.Value(); !ok || string(v) != string(big(k, mib)) {
					t.Fatalf("key %d: blob of %d bytes differs", k, len(v))
				}
				if l := parts.Get(); len(l) != 2 || string(l[0]) != string(big(k+10, mib/2)) || string(l[1]) != string(big(k+20, mib/2+1)) {
					t.Fatalf("key %d: parts differ", k)
				}
			}
		}
		check(s, blob, parts)
		restored := roundTrip(t, s, be)
		check(restored, must(keyspace.NewValueState[int, []byte](restored, "blob")), must(keyspace.NewListState[int, []byte](restored, "parts")))
	})
}
