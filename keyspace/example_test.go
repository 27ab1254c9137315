package keyspace_test

import (
	"fmt"

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
