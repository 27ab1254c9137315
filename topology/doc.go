// Package topology owns the typed API in which users write jobs — Stream[T],
// Keyed[T, K], sources, transformations, keyed and two-input process
// functions, sinks — and the job graph it compiles to: validation with errors
// a user can act on, operator chaining, partitioners, and the registry of
// named jobs the CLI runs.
//
// The package describes work; it runs nothing. Each node of the graph carries
// a typed factory that the runtime (package actors) calls once per parallel
// subtask to obtain an operator instance; everything typed is captured there,
// so the runtime moves records without reflection.
package topology
