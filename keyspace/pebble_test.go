package keyspace_test

import (
	"strings"
	"testing"

	"github.com/floestream/floe/keyspace"
)

func TestPebbleStoreLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := must(keyspace.OpenPebble(dir, keyspace.PebbleOptions{CacheBytes: 1 << 20}))
	all := keyspace.KeyGroupRange{Start: 0, End: 16}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{regErr(keyspace.NewPebbleKeyedStore[string](db, "", 16, all)), "needs the operator's UID"},
		{regErr(keyspace.NewPebbleKeyedStore[string](db, "op", 16, keyspace.KeyGroupRange{Start: 8, End: 20})), "outside [0, 16)"},
		{regErr(keyspace.NewPebbleKeyedStore[string](db, "op", 0, all)), "max parallelism 0"},
		{regErr(keyspace.NewPebbleKeyedStore[*int](db, "op", 16, all)), "pointers are not stable across processes"},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("error %v, want one containing %q", tt.err, tt.want)
		}
	}

	s := must(keyspace.NewPebbleKeyedStore[string](db, "op", 16, keyspace.KeyGroupRange{Start: 0, End: 8}))
	if _, err := keyspace.NewPebbleKeyedStore[string](db, "op", 16, keyspace.KeyGroupRange{Start: 4, End: 12}); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping store: %v", err)
	}
	other := must(keyspace.NewPebbleKeyedStore[string](db, "op", 16, keyspace.KeyGroupRange{Start: 8, End: 16}))
	v := must(keyspace.NewValueState[string, string](s, "v"))
	s.SetCurrentKey("k", 3)
	v.Update("x")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if db.DiskUsage() == 0 {
		t.Error("DiskUsage = 0 after a flushed write")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a handle of a closed store did not panic")
			}
		}()
		v.Value()
	}()

	// The key groups can be opened again, and start empty: a store's state
	// lives on only in its snapshots.
	again := must(keyspace.NewPebbleKeyedStore[string](db, "op", 16, keyspace.KeyGroupRange{Start: 0, End: 8}))
	v2 := must(keyspace.NewValueState[string, string](again, "v"))
	again.SetCurrentKey("k", 3)
	if got, ok := v2.Value(); ok {
		t.Errorf("a reopened store reads %q", got)
	}
	v2.Update("y")
	again.Flush()
	other.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process starts from an empty database.
	db = must(keyspace.OpenPebble(dir, keyspace.PebbleOptions{}))
	defer db.Close()
	fresh := must(keyspace.NewPebbleKeyedStore[string](db, "op", 16, keyspace.KeyGroupRange{Start: 0, End: 8}))
	defer fresh.Close()
	v3 := must(keyspace.NewValueState[string, string](fresh, "v"))
	fresh.SetCurrentKey("k", 3)
	if got, ok := v3.Value(); ok {
		t.Errorf("OpenPebble kept %q from the last process", got)
	}
	if _, err := keyspace.OpenPebble(dir, keyspace.PebbleOptions{}); err == nil {
		t.Error("a second OpenPebble of the same directory succeeded")
	}
}

// TestPebbleOperatorsAreIsolated checks that two operators sharing a database
// never see each other's state, even with equal state names and key groups.
func TestPebbleOperatorsAreIsolated(t *testing.T) {
	rng := keyspace.KeyGroupRange{Start: 0, End: 8}
	a := openStore[string](t, backends()[1], newUID(), 8, rng)
	b := openStore[string](t, backends()[1], newUID(), 8, rng)
	va := must(keyspace.NewValueState[string, int](a, "v"))
	vb := must(keyspace.NewValueState[string, int](b, "v"))
	a.SetCurrentKey("k", 1)
	b.SetCurrentKey("k", 1)
	va.Update(1)
	a.Flush()
	if _, ok := vb.Value(); ok {
		t.Error("operator b reads operator a's state")
	}
	vb.Update(2)
	b.Close()
	if got, _ := va.Value(); got != 1 {
		t.Errorf("closing b changed a's state: %d", got)
	}
}
