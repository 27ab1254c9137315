//go:build race

package keyspace_test

// raceEnabled lets the slowest tests shrink under the race detector, which
// slows Pebble's internals some thirty-fold.
const raceEnabled = true
