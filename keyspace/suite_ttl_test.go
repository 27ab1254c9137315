package keyspace_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/floestream/floe/keyspace"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct{ t time.Time }

func newFakeClock() *fakeClock               { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }
func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func ttlOf(u keyspace.TTLUpdate, v keyspace.TTLVisibility) keyspace.StateOption {
	return keyspace.WithTTL(keyspace.TTLConfig{TTL: time.Minute, Update: u, Visibility: v})
}

func TestSuiteTTLValue(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		t.Run("create and write, never return expired", func(t *testing.T) {
			s, clock := newStore[string](t, be), newFakeClock()
			s.SetClock(clock.now)
			v := must(keyspace.NewValueState[string, string](s, "v", ttlOf(keyspace.OnCreateAndWrite, keyspace.NeverReturnExpired)))
			s.SetCurrentKey("k", 1)
			v.Update("a")
			clock.advance(59 * time.Second)
			if got, ok := v.Value(); !ok || got != "a" {
				t.Fatalf("before expiry: %q, %v", got, ok)
			}
			clock.advance(time.Second)
			if got, ok := v.Value(); ok {
				t.Fatalf("at expiry: %q, %v; want absent", got, ok)
			}
			if n := s.Stats().Keys; n != 0 {
				t.Errorf("an expired value read is cleaned up: Stats.Keys = %d, want 0", n)
			}
			v.Update("b") // writing restarts the time to live
			clock.advance(30 * time.Second)
			v.Value() // reading does not
			clock.advance(30 * time.Second)
			if _, ok := v.Value(); ok {
				t.Error("a read restarted the time to live under OnCreateAndWrite")
			}
		})
		t.Run("read and write", func(t *testing.T) {
			s, clock := newStore[string](t, be), newFakeClock()
			s.SetClock(clock.now)
			v := must(keyspace.NewValueState[string, int](s, "v", ttlOf(keyspace.OnReadAndWrite, keyspace.NeverReturnExpired)))
			s.SetCurrentKey("k", 1)
			v.Update(1)
			for range 5 {
				clock.advance(50 * time.Second)
				if _, ok := v.Value(); !ok {
					t.Fatal("a value read every 50s expired under OnReadAndWrite")
				}
			}
			clock.advance(time.Minute)
			if _, ok := v.Value(); ok {
				t.Error("value present a minute after its last read")
			}
		})
		t.Run("return expired if not cleaned up", func(t *testing.T) {
			s, clock := newStore[string](t, be), newFakeClock()
			s.SetClock(clock.now)
			v := must(keyspace.NewValueState[string, int](s, "v", ttlOf(keyspace.OnCreateAndWrite, keyspace.ReturnExpiredIfNotCleanedUp)))
			s.SetCurrentKey("k", 1)
			v.Update(7)
			clock.advance(2 * time.Minute)
			if got, ok := v.Value(); !ok || got != 7 {
				t.Fatalf("expired but not cleaned up: %d, %v; want 7, true", got, ok)
			}
			if _, ok := v.Value(); ok {
				t.Error("the read that returned the expired value did not clean it up")
			}
			s.SetCurrentKey("j", 2)
			v.Update(8)
			clock.advance(2 * time.Minute)
			if removed := s.CleanupExpired(1000); removed != 1 {
				t.Errorf("CleanupExpired removed %d, want 1", removed)
			}
			if _, ok := v.Value(); ok {
				t.Error("a cleaned-up value was returned")
			}
		})
	})
}

func TestSuiteTTLReducingAndAggregating(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s, clock := newStore[string](t, be), newFakeClock()
		s.SetClock(clock.now)
		opt := ttlOf(keyspace.OnCreateAndWrite, keyspace.ReturnExpiredIfNotCleanedUp)
		sum := must(keyspace.NewReducingState(s, "sum", func(a, b int) int { return a + b }, opt))
		avg := must(keyspace.NewAggregatingState(s, "avg", keyspace.AggregateFunction[int, avgAcc, float64](average{new(int)}),
			opt, keyspace.WithValueCodec[avgAcc](avgCodec{})))
		s.SetCurrentKey("k", 1)
		sum.Add(5)
		avg.Add(10)
		clock.advance(30 * time.Second)
		sum.Add(1)
		avg.Add(20)
		if v, _ := sum.Get(); v != 6 {
			t.Errorf("sum = %d, want 6", v)
		}
		clock.advance(61 * time.Second) // the last Add restarted the time to live 61s ago
		sum.Add(3)                      // an expired value is never folded into
		avg.Add(40)
		if v, ok := sum.Get(); !ok || v != 3 {
			t.Errorf("sum after expiry = %d, %v; want 3, true", v, ok)
		}
		if v, ok := avg.Get(); !ok || v != 40 {
			t.Errorf("avg after expiry = %v, %v; want 40, true", v, ok)
		}
	})
}

func TestSuiteTTLList(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s, clock := newStore[string](t, be), newFakeClock()
		s.SetClock(clock.now)
		l := must(keyspace.NewListState[string, string](s, "l", ttlOf(keyspace.OnCreateAndWrite, keyspace.NeverReturnExpired)))
		s.SetCurrentKey("k", 1)
		l.Add("old")
		clock.advance(40 * time.Second)
		l.AddAll([]string{"mid1", "mid2"})
		clock.advance(30 * time.Second) // "old" is 70s old
		if got := l.Get(); !slices.Equal(got, []string{"mid1", "mid2"}) {
			t.Errorf("Get = %q, want the live elements [mid1 mid2]", got)
		}
		l.Add("new")
		clock.advance(40 * time.Second) // mid* are 70s old, new 40s
		if got := l.Get(); !slices.Equal(got, []string{"new"}) {
			t.Errorf("Get = %q, want [new]", got)
		}
		clock.advance(time.Hour)
		if got := l.Get(); got != nil {
			t.Errorf("Get = %q, want nil", got)
		}
		if n := s.Stats().Keys; n != 0 {
			t.Errorf("Stats.Keys = %d after every element expired and was read, want 0", n)
		}
		l.Update([]string{"u"})
		if got := l.Get(); !slices.Equal(got, []string{"u"}) {
			t.Errorf("Get after Update = %q", got)
		}
	})
}

func TestSuiteTTLMap(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s, clock := newStore[string](t, be), newFakeClock()
		s.SetClock(clock.now)
		m := must(keyspace.NewMapState[string, string, int](s, "m", ttlOf(keyspace.OnReadAndWrite, keyspace.NeverReturnExpired)))
		s.SetCurrentKey("k", 1)
		m.Put("a", 1)
		m.Put("b", 2)
		clock.advance(50 * time.Second)
		m.Get("a") // restarts a's time to live
		m.Put("c", 3)
		clock.advance(20 * time.Second)
		if got, want := maps.Collect(m.All()), map[string]int{"a": 1, "c": 3}; !maps.Equal(got, want) {
			t.Errorf("All = %v, want %v", got, want)
		}
		if m.Contains("b") || m.Len() != 2 {
			t.Errorf("Contains(b) = %v, Len = %d; want false, 2", m.Contains("b"), m.Len())
		}
		clock.advance(2 * time.Minute)
		if m.Len() != 0 {
			t.Errorf("Len = %d after everything expired", m.Len())
		}
		if got := slices.Collect(s.Keys("m")); len(got) != 0 {
			t.Errorf("Keys = %q after every entry expired and was read", got)
		}
	})
}

// TestSuiteTTLCleanupExpired checks the background cleanup: it removes what
// expired, leaves the rest, resumes where it stopped, and respects the
// budget up to one key group of one state.
func TestSuiteTTLCleanupExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		const n, m = 2000, 16
		s, clock := openStore[int](t, be, newUID(), m, keyspace.KeyGroupRange{Start: 0, End: m}), newFakeClock()
		s.SetClock(clock.now)
		if s.CleanupExpired(100) != 0 {
			t.Fatal("cleanup without TTL states removed something")
		}
		opt := ttlOf(keyspace.OnCreateAndWrite, keyspace.NeverReturnExpired)
		v := must(keyspace.NewValueState[int, int](s, "v", opt))
		l := must(keyspace.NewListState[int, int](s, "l", opt))
		mp := must(keyspace.NewMapState[int, int, int](s, "m", opt))
		plain := must(keyspace.NewValueState[int, int](s, "plain"))
		for k := range n {
			s.SetCurrentKey(k, k%m)
			v.Update(k)
			l.Add(k)
			mp.Put(1, k)
			plain.Update(k)
		}
		clock.advance(time.Minute)
		for k := range n / 2 { // half the keys get fresh elements and entries
			s.SetCurrentKey(k, k%m)
			v.Update(k)
			l.Add(k)
			mp.Put(2, k)
		}
		first := s.CleanupExpired(100)
		maxPerGroup := 3 * n / m // one group of one state holds at most this many values
		if first < 1 || first > 100+maxPerGroup {
			t.Errorf("first CleanupExpired(100) removed %d, want 1..%d", first, 100+maxPerGroup)
		}
		total := first
		for range 1000 {
			r := s.CleanupExpired(100)
			total += r
			if r == 0 && s.CleanupExpired(1<<30) == 0 {
				break
			}
		}
		// Expired: v of n/2 keys, l's old element of all n keys, m's entry 1
		// of all n keys.
		if want := n/2 + n + n; total != want {
			t.Errorf("removed %d values in all, want %d", total, want)
		}
		if st := s.Stats(); st.Keys != n/2+n/2+n/2+n {
			t.Errorf("Stats.Keys = %d, want %d", st.Keys, n/2+n/2+n/2+n)
		}
		for k := range n {
			s.SetCurrentKey(k, k%m)
			_, vok := v.Value()
			lv := l.Get()
			mv := maps.Collect(mp.All())
			if k < n/2 {
				if !vok || !slices.Equal(lv, []int{k}) || len(mv) != 1 || mv[2] != k {
					t.Fatalf("fresh key %d: v %v, l %v, m %v", k, vok, lv, mv)
				}
			} else if vok || lv != nil || len(mv) != 0 {
				t.Fatalf("expired key %d: v %v, l %v, m %v", k, vok, lv, mv)
			}
			if p, _ := plain.Value(); p != k {
				t.Fatalf("state without TTL lost key %d", k)
			}
		}
	})
}

// TestSuiteTTLSurvivesSnapshots checks that a restore keeps timestamps: a
// value restored after its time to live is expired.
func TestSuiteTTLSurvivesSnapshots(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s, clock := newStore[string](t, be), newFakeClock()
		s.SetClock(clock.now)
		opt := ttlOf(keyspace.OnCreateAndWrite, keyspace.NeverReturnExpired)
		v := must(keyspace.NewValueState[string, string](s, "v", opt))
		for i := range 10 {
			k := fmt.Sprint(i)
			s.SetCurrentKey(k, i)
			v.Update(k)
			clock.advance(10 * time.Second)
		}
		r := roundTrip(t, s, be)
		r.SetClock(clock.now) // 100s after the first write
		rv := must(keyspace.NewValueState[string, string](r, "v", opt))
		for i := range 10 {
			r.SetCurrentKey(fmt.Sprint(i), i)
			_, ok := rv.Value()
			if want := i >= 5; ok != want { // written less than 60s ago
				t.Errorf("key %d: present = %v, want %v", i, ok, want)
			}
		}
	})
}
