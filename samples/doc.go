// Package samples holds runnable jobs that show floe's API and serve as
// end-to-end tests. Each file registers one job with topology.Register; the
// floe command imports the package so that `floe run <job>` finds them.
// Nothing imports samples except the command and tests.
package samples
