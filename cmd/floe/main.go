// Command floe runs stream processing jobs: `floe jobs` lists the jobs this
// binary knows, `floe info <job>` shows a job's graph, `floe run <job>` runs
// it.
package main

import (
	"io"
	"os"

	_ "github.com/floestream/floe/samples" // registers the sample jobs
)

// Exit codes: 0 only on success.
const (
	exitOK        = 0
	exitFailed    = 1   // the job failed
	exitUsage     = 2   // bad flags, unknown job, invalid topology or input
	exitCancelled = 130 // Ctrl-C or SIGTERM, as shells report SIGINT
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	code := exitOK
	root.SetContext(withExitCode(&code))
	if err := root.Execute(); err != nil {
		printError(stderr, err)
		if code == exitOK {
			code = exitUsage
		}
	}
	return code
}
