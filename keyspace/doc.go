// Package keyspace owns how keys map to key groups and how state is held:
// keyed state per key group on a heap or Pebble backend, operator and
// broadcast state, the codecs that encode all of it, and the snapshot
// formats that carry it across checkpoints and rescales.
//
// Key groups are the unit of state ownership, snapshot, placement and
// rescale. A keyed operator has maxParallelism key groups (DefaultMaxParallelism
// unless the job says otherwise); a key's group is the xxhash64 of its
// canonical encoding modulo maxParallelism (KeyEncoder, KeyHasher,
// KeyGroupForHash), and subtask i of p owns the contiguous range
// [ceil(i*m/p), ceil((i+1)*m/p)) (RangeForSubtask, SubtaskForKeyGroup).
// KeyGroupMoves says which groups change owner when parallelism changes. The
// encoding, the hash and the range formula are part of the savepoint format:
// a change to any of them strands existing savepoints, and the tests pin them.
//
// Keyed state is reached through handles (ValueState, ListState, MapState,
// ReducingState, AggregatingState), created once per operator instance when
// it opens and scoped dynamically to the current key: every call reads or
// writes the entry of the key the runtime last passed to
// KeyedStore.SetCurrentKey, which it does before every call into user code.
// A state with no entry for the current key reads as absent (the zero value
// and false, a nil list, an empty map). Clearing a key's state, or emptying
// its list or map, removes the entry altogether, so it no longer counts in
// Stats or appears in Keys. States take options (StateOption): a codec for
// their values or user keys, and a time to live (WithTTL, TTLConfig).
//
// A KeyedStore has one of two backends behind the same API, and one test
// suite runs against both:
//
//   - heap (NewHeapKeyedStore): Go maps, one per state and key group — the
//     fast default. Values live as Go values; they are encoded only for
//     snapshots.
//   - pebble (OpenPebble, NewPebbleKeyedStore): one Pebble database per
//     process, with a ristretto cache of decoded values in front of it and a
//     write batch per store; see PebbleDB for the key layout and the caching
//     rules. Code meant for every backend must not rely on the aliasing the
//     heap backend allows, such as modifying a slice returned by
//     ListState.Get.
//
// Every state must be encodable, whatever the backend, because every state
// is snapshotted: a state whose value type has no codec (CodecFor, or one
// given with WithValueCodec) fails when it is created, not when the first
// checkpoint runs. KeyedStore.Snapshot captures a consistent picture
// synchronously and KeyedSnapshot.WriteTo writes it later, on any goroutine;
// RestoreKeyedStore loads the key groups of a store's range from the
// snapshots of any subtasks, of any parallelism, written by either backend.
// Operator state (OperatorStateStore: list and union list state, broadcast
// state) snapshots as OperatorStateData, which RedistributeOperatorState
// maps to a new parallelism.
//
// What the package must not do: route records, talk to actors, or start
// goroutines of its own. The runtime (actors) decides which key is current,
// when to snapshot and when to run CleanupExpired; this package answers
// "which key group" and "what state does this key have". The heap backend
// does no I/O; the Pebble backend's I/O, and its background goroutines
// (Pebble's compactions, ristretto's admission), belong to those libraries.
// A store and its handles belong to one subtask and are not safe for
// concurrent use (a KeyedSnapshot's WriteTo is the exception); a PebbleDB,
// codecs and the functions returned by KeyHasher and KeyEncoder are.
package keyspace
