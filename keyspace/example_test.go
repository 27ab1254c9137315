package keyspace_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/floestream/floe/keyspace"
)

// The runtime's side: route a key to its key group and subtask, then make it
// current in that subtask's store before calling user code, which reaches its
// state through a handle created once.
func ExampleKeyedStore() {
	const maxParallelism, parallelism = keyspace.DefaultMaxParallelism, 2
	hash, err := keyspace.KeyHasher[string]() // once, when the job is built
	if err != nil {
		panic(err)
	}

	stores := make([]*keyspace.KeyedStore[string], parallelism)
	counts := make([]keyspace.ValueState[int], parallelism)
	for i := range stores {
		stores[i] = keyspace.NewHeapKeyedStore[string](maxParallelism, keyspace.RangeForSubtask(maxParallelism, parallelism, i))
		if counts[i], err = keyspace.NewValueState[string, int](stores[i], "count"); err != nil {
			panic(err)
		}
	}

	for _, word := range []string{"to", "be", "or", "not", "to", "be"} {
		kg := keyspace.KeyGroupForHash(hash(word), maxParallelism)
		i := keyspace.SubtaskForKeyGroup(maxParallelism, parallelism, kg)
		stores[i].SetCurrentKey(word, kg)
		n, _ := counts[i].Value()
		counts[i].Update(n + 1)
		fmt.Printf("%-3s key group %3d, subtask %d, count %d\n", word, kg, i, n+1)
	}
	// Output:
	// to  key group   8, subtask 0, count 1
	// be  key group 108, subtask 1, count 1
	// or  key group 121, subtask 1, count 1
	// not key group  80, subtask 1, count 1
	// to  key group   8, subtask 0, count 2
	// be  key group 108, subtask 1, count 2
}

func ExampleKeyGroupMoves() {
	// Scaling from 2 to 3 subtasks with 6 key groups: [0,3) [3,6) become [0,2) [2,4) [4,6).
	for _, m := range keyspace.KeyGroupMoves(6, 2, 3) {
		fmt.Printf("key group %d: subtask %d → %d\n", m.KeyGroup, m.From, m.To)
	}
	// Output:
	// key group 2: subtask 0 → 1
	// key group 4: subtask 1 → 2
	// key group 5: subtask 1 → 2
}

// Rescaling keyed state: each old subtask snapshots its store, and each new
// subtask restores the key groups of its range from all the snapshots.
func ExampleRestoreKeyedStore() {
	const maxParallelism = 8
	hash, _ := keyspace.KeyHasher[string]()
	group := func(k string) int { return keyspace.KeyGroupForHash(hash(k), maxParallelism) }

	var snapshots []*bytes.Buffer
	for i := range 2 { // the old job: parallelism 2
		s := keyspace.NewHeapKeyedStore[string](maxParallelism, keyspace.RangeForSubtask(maxParallelism, 2, i))
		count, _ := keyspace.NewValueState[string, int](s, "count")
		for n, k := range []string{"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "owl", "yak"} {
			if s.KeyGroupRange().Contains(group(k)) {
				s.SetCurrentKey(k, group(k))
				count.Update(n)
			}
		}
		snap, _ := s.Snapshot() // synchronous: capture
		var buf bytes.Buffer
		snap.WriteTo(&buf) // asynchronous in the runtime: write out
		snap.Release()
		snapshots = append(snapshots, &buf)
	}

	for i := range 3 { // the new job: parallelism 3
		s := keyspace.NewHeapKeyedStore[string](maxParallelism, keyspace.RangeForSubtask(maxParallelism, 3, i))
		var readers []io.Reader
		for _, b := range snapshots {
			readers = append(readers, bytes.NewReader(b.Bytes()))
		}
		if err := keyspace.RestoreKeyedStore(s, readers...); err != nil {
			panic(err)
		}
		count, _ := keyspace.NewValueState[string, int](s, "count")
		keys := slices.Sorted(s.Keys("count"))
		fmt.Printf("subtask %d, key groups %s:", i, s.KeyGroupRange())
		for _, k := range keys {
			s.SetCurrentKey(k, group(k))
			n, _ := count.Value()
			fmt.Printf(" %s=%d", k, n)
		}
		fmt.Println()
	}
	// Output:
	// subtask 0, key groups [0, 3): eel=4 fox=5 gnu=6 owl=8
	// subtask 1, key groups [3, 6): ant=0 bee=1 cat=2 dog=3 hen=7
	// subtask 2, key groups [6, 8): yak=9
}
