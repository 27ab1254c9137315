package keyspace

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// TestStateIDCollisionIsAnError finds two state names whose 32-bit state ids
// collide and checks that one store cannot register both.
func TestStateIDCollisionIsAnError(t *testing.T) {
	seen := map[uint32]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		name := fmt.Sprintf("state-%d", i)
		id := stateID(name)
		if other, ok := seen[id]; ok {
			a, b = other, name
		}
		seen[id] = name
	}
	db, err := OpenPebble(t.TempDir(), PebbleOptions{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := NewPebbleKeyedStore[string](db, "op", 4, KeyGroupRange{Start: 0, End: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := NewValueState[string, int](s, a); err != nil {
		t.Fatal(err)
	}
	_, err = NewValueState[string, int](s, b)
	if err == nil || !strings.Contains(err.Error(), "hash to the same state id") {
		t.Errorf("registering %q after %q: %v", b, a, err)
	}
}

// TestPebbleKeyLayout pins the layout of a Pebble key: key group, operator
// id, state id, length-prefixed key, empty namespace, user key.
func TestPebbleKeyLayout(t *testing.T) {
	db, err := OpenPebble(t.TempDir(), PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := NewPebbleKeyedStore[string](db, "orders", 128, KeyGroupRange{Start: 0, End: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := NewMapState[string, string, int](s, "lines")
	if err != nil {
		t.Fatal(err)
	}
	s.SetCurrentKey("o1", 5)
	m.Put("l1", 7)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 5}
	want = binary.BigEndian.AppendUint64(want, xxhash.Sum64String("orders"))
	want = binary.BigEndian.AppendUint32(want, uint32(xxhash.Sum64String("lines")>>32))
	want = append(want, 2, 'o', '1', 0, 'l', '1')
	it, err := db.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var keys []string
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, fmt.Sprintf("%x=%x", it.Key(), it.Value()))
	}
	if w := fmt.Sprintf("%x=%x", want, []byte{0, 0, 0, 0, 0, 0, 0, 7}); len(keys) != 1 || keys[0] != w {
		t.Errorf("Pebble holds %q, want [%s]", keys, w)
	}
}

func TestConcatenateMergerMatchesPebbleDefault(t *testing.T) {
	ops := [][]byte{[]byte("aa"), []byte("b"), []byte(""), []byte("cccc"), []byte("d")}
	want := "aabccccd"
	// Every split into a base and older/newer operands gives the same bytes.
	for base := range ops {
		m, err := concatenate.Merge(nil, ops[base])
		if err != nil {
			t.Fatal(err)
		}
		for i := base - 1; i >= 0; i-- {
			m.MergeOlder(ops[i])
		}
		for i := base + 1; i < len(ops); i++ {
			m.MergeNewer(ops[i])
		}
		got, _, err := m.Finish(true)
		if err != nil || string(got) != want {
			t.Fatalf("base %d: %q, %v; want %q", base, got, err, want)
		}
	}
	if concatenate.Name != pebble.DefaultMerger.Name {
		t.Fatalf("merger name %q: databases made with the default merger would no longer open", concatenate.Name)
	}
}
