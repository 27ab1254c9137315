// Package engine benchmarks floe's data path against hand-written Go
// pipelines that do the same work with goroutines connected by chan []T of
// the same batch size: a stateless source → map → filter → sink pipeline at
// parallelism 1, and a keyed (hash) exchange between two sources and two
// counting subtasks. Run `go tool task bench`; each benchmark reports
// ns/record, and the ratio floe / channels is the figure that matters.
package engine
