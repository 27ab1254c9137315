package keyspace_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floestream/floe/keyspace"
)

// snapshotBytes takes a snapshot of s and writes it out.
func snapshotBytes(t testing.TB, s interface {
	Snapshot() (keyspace.KeyedSnapshot, error)
}) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var buf bytes.Buffer
	n, err := snap.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// restoreInto restores snapshots into a new store of backend be for uid and
// rng.
func restoreInto[K comparable](t testing.TB, be backend, uid string, m int, rng keyspace.KeyGroupRange, snapshots ...[]byte) *keyspace.KeyedStore[K] {
	t.Helper()
	s := openStore[K](t, be, uid, m, rng)
	readers := make([]io.Reader, len(snapshots))
	for i, b := range snapshots {
		readers[i] = bytes.NewReader(b)
	}
	if err := keyspace.RestoreKeyedStore(s, readers...); err != nil {
		t.Fatal(err)
	}
	return s
}

// roundTrip snapshots s and restores it into a new store of backend be.
func roundTrip[K comparable](t testing.TB, s *keyspace.KeyedStore[K], be backend) *keyspace.KeyedStore[K] {
	return restoreInto[K](t, be, newUID(), s.MaxParallelism(), s.KeyGroupRange(), snapshotBytes(t, s))
}

// fixture is one of every kind of state, keyed by string, for snapshot
// tests.
type fixture struct {
	s     *keyspace.KeyedStore[string]
	count keyspace.ValueState[int64]
	names keyspace.ListState[string]
	attrs keyspace.MapState[string, float64]
	sum   keyspace.ReducingState[int]
	avg   keyspace.AggregatingState[int, float64]
	fresh keyspace.ValueState[string] // with TTL
}

var fixtureStates = []string{"count", "names", "attrs", "sum", "avg", "fresh"}

func openFixture(t testing.TB, s *keyspace.KeyedStore[string]) fixture {
	t.Helper()
	return fixture{
		s:     s,
		count: must(keyspace.NewValueState[string, int64](s, "count")),
		names: must(keyspace.NewListState[string, string](s, "names")),
		attrs: must(keyspace.NewMapState[string, string, float64](s, "attrs")),
		sum:   must(keyspace.NewReducingState(s, "sum", func(a, b int) int { return a + b })),
		avg: must(keyspace.NewAggregatingState(s, "avg", keyspace.AggregateFunction[int, avgAcc, float64](average{new(int)}),
			keyspace.WithValueCodec[avgAcc](avgCodec{}))),
		fresh: must(keyspace.NewValueState[string, string](s, "fresh", keyspace.WithTTL(keyspace.TTLConfig{TTL: time.Hour}))),
	}
}

var keyHash = must(keyspace.KeyHasher[string]())

func groupOf(k string, m int) int { return keyspace.KeyGroupForHash(keyHash(k), m) }

// fill writes n keys' worth of state, keys routed by hash; only keys of the
// store's range are written.
func (f fixture) fill(n int) {
	m, rng := f.s.MaxParallelism(), f.s.KeyGroupRange()
	for i := range n {
		k := fmt.Sprintf("key-%d", i)
		kg := groupOf(k, m)
		if !rng.Contains(kg) {
			continue
		}
		f.s.SetCurrentKey(k, kg)
		f.count.Update(int64(i))
		if i%2 == 0 {
			f.names.AddAll([]string{k, "x"})
		}
		if i%3 == 0 {
			f.attrs.Put("a", float64(i))
			f.attrs.Put("b", -float64(i))
		}
		f.sum.Add(i)
		f.sum.Add(1)
		f.avg.Add(i)
		if i%5 == 0 {
			f.fresh.Update("f" + k)
		}
	}
}

// dump renders every entry of the fixture's states, keyed by state and key.
func (f fixture) dump(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	m, rng := f.s.MaxParallelism(), f.s.KeyGroupRange()
	for _, state := range fixtureStates {
		for k := range f.s.Keys(state) {
			kg := groupOf(k, m)
			if !rng.Contains(kg) {
				t.Fatalf("state %s: key %q of group %d is in a store of %s", state, k, kg, rng)
			}
			f.s.SetCurrentKey(k, kg)
			var v any
			switch state {
			case "count":
				v, _ = f.count.Value()
			case "names":
				v = f.names.Get()
			case "attrs":
				a := maps.Collect(f.attrs.All())
				v = fmt.Sprint(a["a"], a["b"], len(a))
			case "sum":
				v, _ = f.sum.Get()
			case "avg":
				v, _ = f.avg.Get()
			case "fresh":
				v, _ = f.fresh.Value()
			}
			id := state + "/" + k
			if _, dup := out[id]; dup {
				t.Fatalf("%s yielded twice", id)
			}
			out[id] = fmt.Sprint(v)
		}
	}
	return out
}

func TestSuiteSnapshotRoundTrip(t *testing.T) {
	for _, from := range backends() {
		for _, to := range backends() {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				s := newStore[string](t, from)
				f := openFixture(t, s)
				f.fill(300)
				want := f.dump(t)
				if len(want) < 1000 {
					t.Fatalf("fixture has only %d entries", len(want))
				}
				b := snapshotBytes(t, s)
				// The snapshot is taken; later writes must not leak into it.
				s.SetCurrentKey("key-0", groupOf("key-0", s.MaxParallelism()))
				f.count.Update(-1)
				f.names.Add("late")

				r := restoreInto[string](t, to, newUID(), s.MaxParallelism(), s.KeyGroupRange(), b)
				got := openFixture(t, r).dump(t)
				if !maps.Equal(got, want) {
					t.Errorf("restored state differs: %d entries, want %d; e.g. %v", len(got), len(want), firstDiff(got, want))
				}
				// Pebble counts map entries, the heap map keys: compare
				// like with like.
				if st, wantStats := r.Stats(), s.Stats(); r.Backend() == s.Backend() && st.Keys != wantStats.Keys {
					t.Errorf("restored Stats.Keys = %d, want %d", st.Keys, wantStats.Keys)
				}
				// A snapshot of the restored store holds the same state.
				again := restoreInto[string](t, from, newUID(), s.MaxParallelism(), s.KeyGroupRange(), snapshotBytes(t, r))
				if got := openFixture(t, again).dump(t); !maps.Equal(got, want) {
					t.Errorf("second round trip differs: %v", firstDiff(got, want))
				}
			})
		}
	}
}

func firstDiff(got, want map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			return fmt.Sprintf("%s = %q, want %q", k, got[k], want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("unexpected %s = %q", k, got[k])
		}
	}
	return "none"
}

// TestSuiteRescale snapshots two subtasks of parallelism 2 and restores them
// into three of parallelism 3: every key must land in exactly the subtask
// owning its key group, with its state intact.
func TestSuiteRescale(t *testing.T) {
	const m, oldP, newP = 16, 2, 3
	for _, from := range backends()[:2] {
		for _, to := range backends()[:2] {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				uid := newUID()
				want := map[string]string{}
				var snaps [][]byte
				for i := range oldP {
					s := openStore[string](t, from, uid, m, keyspace.RangeForSubtask(m, oldP, i))
					f := openFixture(t, s)
					f.fill(400)
					maps.Copy(want, f.dump(t))
					snaps = append(snaps, snapshotBytes(t, s))
					s.Close()
				}
				got := map[string]string{}
				for i := range newP {
					rng := keyspace.RangeForSubtask(m, newP, i)
					// Every new subtask reads every old snapshot and keeps
					// its own key groups.
					r := restoreInto[string](t, to, uid, m, rng, snaps...)
					for id, v := range openFixture(t, r).dump(t) { // dump checks each key's group is in rng
						if _, dup := got[id]; dup {
							t.Fatalf("%s restored into two subtasks", id)
						}
						got[id] = v
					}
				}
				if !maps.Equal(got, want) {
					t.Errorf("rescaled state differs: %d entries, want %d; %s", len(got), len(want), firstDiff(got, want))
				}
			})
		}
	}
}

// TestSuiteSnapshotIsConsistent writes a snapshot on another goroutine while
// the store goes on changing: the snapshot holds the state at capture time.
func TestSuiteSnapshotIsConsistent(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		f := openFixture(t, s)
		f.fill(200)
		want := f.dump(t)
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var (
			buf  bytes.Buffer
			wg   sync.WaitGroup
			werr error
		)
		wg.Go(func() { _, werr = snap.WriteTo(&buf) })
		for i := range 200 {
			k := fmt.Sprintf("key-%d", i)
			s.SetCurrentKey(k, groupOf(k, s.MaxParallelism()))
			f.count.Update(-5)
			f.names.Clear()
			f.attrs.Put("c", 1)
		}
		wg.Wait()
		snap.Release()
		if werr != nil {
			t.Fatal(werr)
		}
		r := restoreInto[string](t, be, newUID(), s.MaxParallelism(), s.KeyGroupRange(), buf.Bytes())
		if got := openFixture(t, r).dump(t); !maps.Equal(got, want) {
			t.Errorf("snapshot differs from the state at capture: %s", firstDiff(got, want))
		}
	})
}

// TestSuiteRestoreBeforeRegistration restores into a store with no states:
// entries wait for their states, count in Stats, and go into the next
// snapshot even if never registered.
func TestSuiteRestoreBeforeRegistration(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		f := openFixture(t, s)
		f.fill(100)
		want := f.dump(t)
		r := restoreInto[string](t, be, newUID(), s.MaxParallelism(), s.KeyGroupRange(), snapshotBytes(t, s))
		if st := r.Stats(); st.States != len(fixtureStates) || st.Keys != s.Stats().Keys {
			t.Errorf("Stats before registration = %+v, want %d states and %d keys", st, len(fixtureStates), s.Stats().Keys)
		}
		if got := slices.Collect(r.Keys("count")); len(got) != 0 {
			t.Errorf("Keys of an unregistered state yielded %d keys", len(got))
		}
		// Register one state only, snapshot, and restore again: the others
		// survive.
		must(keyspace.NewValueState[string, int64](r, "count"))
		r2 := restoreInto[string](t, be, newUID(), s.MaxParallelism(), s.KeyGroupRange(), snapshotBytes(t, r))
		if got := openFixture(t, r2).dump(t); !maps.Equal(got, want) {
			t.Errorf("state differs after a snapshot with unregistered states: %s", firstDiff(got, want))
		}
		// A registration that does not match what was snapshotted fails.
		if _, err := keyspace.NewValueState[string, int32](r, "sum"); err == nil ||
			!strings.Contains(err.Error(), `state "sum" was restored as reducing state of int and cannot be registered as value state of int32`) {
			t.Errorf("mismatched registration after restore: %v", err)
		}
		if _, err := keyspace.NewValueState[string, string](r, "fresh"); err == nil || !strings.Contains(err.Error(), "with TTL") {
			t.Errorf("registration without the snapshotted TTL: %v", err)
		}
	})
}

func TestSuiteRestoreErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		s := newStore[string](t, be)
		openFixture(t, s).fill(50)
		good := snapshotBytes(t, s)
		restore := func(m int, snaps ...[]byte) error {
			r := openStore[string](t, be, newUID(), m, keyspace.KeyGroupRange{Start: 0, End: m})
			readers := make([]io.Reader, len(snaps))
			for i, b := range snaps {
				readers[i] = bytes.NewReader(b)
			}
			return keyspace.RestoreKeyedStore(r, readers...)
		}
		corrupt := bytes.Clone(good)
		corrupt[len(corrupt)/2] ^= 0x40
		for _, tt := range []struct {
			name string
			err  error
			want string
		}{
			{"max parallelism", restore(64, good), "max parallelism 128 but the store has 64"},
			{"flipped bit", restore(128, corrupt), "snapshot 1 of 1"},
			{"truncated", restore(128, good[:len(good)-3]), "truncated"},
			{"empty", restore(128, nil), "truncated"},
			{"not a snapshot", restore(128, []byte("hello, world, this is not it")), "not a keyed state snapshot"},
			{"twice", restore(128, good, good), "pass each subtask's snapshot once"},
		} {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("%s: error %v, want one containing %q", tt.name, tt.err, tt.want)
			}
		}
		if err := keyspace.RestoreKeyedStore(s, bytes.NewReader(good)); err == nil || !strings.Contains(err.Error(), "already holds") {
			t.Errorf("restore into a non-empty store: %v", err)
		}
	})
}

// TestSnapshotFormatIsStable pins the keyed snapshot format: the same state
// gives the same bytes from either backend.
func TestSnapshotFormatIsStable(t *testing.T) {
	var outs [][]byte
	for _, be := range backends() {
		s := openStore[string](t, be, newUID(), 4, keyspace.KeyGroupRange{Start: 0, End: 4})
		v := must(keyspace.NewValueState[string, int64](s, "v"))
		l := must(keyspace.NewListState[string, string](s, "l"))
		s.SetCurrentKey("a", 1)
		v.Update(258)
		l.AddAll([]string{"x", "yz"})
		outs = append(outs, snapshotBytes(t, s))
	}
	want := "464c4f454b455953" + // magic
		"01" + "04" + "00" + "04" + "02" + // version, max parallelism, range, 2 states
		"016c" + "046c697374" + "06737472696e67" + "00" + // l: list state of string
		"0176" + "0576616c7565" + "05696e743634" + "00" + // v: value state of int64
		"02" + // key group 1
		"01" + "0161" + "00" + "05" + "0178" + "02797a" + // l/a = [x yz]
		"02" + "0161" + "00" + "08" + "0000000000000102" + // v/a = 258
		"00" + "00" // end of group, end of sections
	if got := fmt.Sprintf("%x", outs[0][:len(outs[0])-4]); got != want {
		t.Errorf("heap snapshot:\n got %s\nwant %s", got, want)
	}
	// Pebble writes the entries of a key group in its key order (by state
	// id), which the format leaves open; the rest is identical.
	for i, out := range outs[1:] {
		if len(out) != len(outs[0]) || !bytes.Equal(out[:44], outs[0][:44]) {
			t.Errorf("%s snapshot %x differs from the heap's beyond the order of entries", backends()[i+1].name, out)
		}
	}
}

// BenchmarkSnapshot measures the synchronous capture (Snapshot) and the
// asynchronous write (WriteTo) of a store of 200k int64 counters, per
// backend; ns/op is per snapshot.
func BenchmarkSnapshot(b *testing.B) {
	const n = 200_000
	for _, be := range backends()[:2] {
		s := openStore[string](b, be, newUID(), keyspace.DefaultMaxParallelism, keyspace.KeyGroupRange{Start: 0, End: keyspace.DefaultMaxParallelism})
		count := must(keyspace.NewValueState[string, int64](s, "count"))
		for i := range n {
			k := fmt.Sprintf("account-%07d", i)
			s.SetCurrentKey(k, groupOf(k, keyspace.DefaultMaxParallelism))
			count.Update(int64(i))
		}
		b.Run(be.name+"-capture", func(b *testing.B) {
			for b.Loop() {
				snap, err := s.Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				snap.Release()
			}
		})
		b.Run(be.name+"-write", func(b *testing.B) {
			snap := must(s.Snapshot())
			defer snap.Release()
			var size int64
			for b.Loop() {
				size, _ = snap.WriteTo(io.Discard)
			}
			b.ReportMetric(float64(size)/n, "bytes/key")
		})
	}
}
