package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

type exitCodeKey struct{}

func withExitCode(code *int) context.Context {
	return context.WithValue(context.Background(), exitCodeKey{}, code)
}

func setExit(cmd *cobra.Command, code int) {
	if p, ok := cmd.Context().Value(exitCodeKey{}).(*int); ok {
		*p = code
	}
}

func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "floe: %v\n", err)
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "floe",
		Short:         "floe runs stream processing jobs written in Go",
		Long:          "floe runs stream processing jobs written in Go: typed topologies of sources, operators with keyed state, and sinks, executed as supervised actors.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(jobsCommand(), infoCommand(), runCommand(), nexmarkCommand())
	return root
}

func jobsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "jobs",
		Short: "List the jobs this binary can run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, d := range topology.Definitions() {
				fmt.Fprintf(tw, "%s\t%s\n", d.Name, d.Description)
			}
			return tw.Flush()
		},
	}
}

// jobFlags are the flags every job takes, besides its own.
type jobFlags struct {
	parallelism    int
	maxParallelism int
	chaining       bool
	batchSize      int
	credits        int
	bufferTimeout  time.Duration
	state          string
	stateDir       string
	logFormat      string
	logLevel       string
	progress       string

	checkpointInterval time.Duration
	checkpointTimeout  time.Duration
	checkpointMinPause time.Duration
	maxConcurrent      int
	retained           int
	checkpointDir      string
	checkpointMode     string
	savepointDir       string
	fromSavepoint      string
	allowNonRestored   bool
	restartStrategy    string
	injectFailures     int
	failureSeed        uint64
}

func (f *jobFlags) define(fs *pflag.FlagSet) {
	fs.IntVarP(&f.parallelism, "parallelism", "p", runtime.NumCPU(), "default parallelism of the job's operators")
	fs.IntVar(&f.maxParallelism, "max-parallelism", keyspace.DefaultMaxParallelism, "number of key groups: upper bound of keyed parallelism and unit of rescaling")
	fs.BoolVar(&f.chaining, "chaining", true, "chain operators joined by forward edges into one task")
	fs.IntVar(&f.batchSize, "batch-size", actors.DefaultBatchSize, "records per batch between tasks")
	fs.IntVar(&f.credits, "credits", actors.DefaultCredits, "batches in flight per channel (flow control)")
	fs.DurationVar(&f.bufferTimeout, "buffer-timeout", actors.DefaultBufferTimeout, "longest wait before a partly filled batch is sent; 0 sends every record at once")
	fs.StringVar(&f.state, "state", "heap", "where keyed state lives: heap (fast, bounded by memory) or pebble (on disk, with a read cache)")
	fs.StringVar(&f.stateDir, "state-dir", "", "directory of the Pebble state (default: a temporary directory removed at the end)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.progress, "progress", "auto", "show progress on stderr: auto (when it is a terminal), always or never")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", 0, "take a checkpoint this often (exactly-once state and output, failover); 0 turns checkpoints off")
	fs.DurationVar(&f.checkpointTimeout, "checkpoint-timeout", 10*time.Minute, "abort a checkpoint not complete after this long")
	fs.DurationVar(&f.checkpointMinPause, "checkpoint-min-pause", 0, "least time between the end of a checkpoint and the start of the next")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-checkpoints", 1, "checkpoints in flight at once")
	fs.IntVar(&f.retained, "checkpoints-retained", 1, "completed checkpoints kept; older ones are deleted")
	fs.StringVar(&f.checkpointDir, "checkpoint-dir", actors.DefaultCheckpointDir, "directory checkpoints are written to (<dir>/<job>/chk-<n>)")
	fs.StringVar(&f.checkpointMode, "checkpointing-mode", "exactly-once", "exactly-once (align barriers) or at-least-once (do not; replays may repeat records)")
	fs.StringVar(&f.savepointDir, "savepoint-dir", "", "directory for savepoints; with it, SIGTERM or Ctrl-C stops the job with a savepoint and prints its path")
	fs.StringVar(&f.fromSavepoint, "from-savepoint", "", "resume from this savepoint or retained checkpoint (the directory printed when it was taken)")
	fs.BoolVar(&f.allowNonRestored, "allow-non-restored-state", false, "resume even if the savepoint holds state of operators the job no longer has (that state is dropped)")
	fs.StringVar(&f.restartStrategy, "restart-strategy", "fixed-delay:10:200ms", "after a failure, with checkpoints: none, fixed-delay[:restarts[:delay]] or exponential[:restarts[:initial[:max]]]")
	fs.IntVar(&f.injectFailures, "inject-failures", 0, "make the run fail at this many pseudo-random points (random subtask, random record) to watch recovery; needs --checkpoint-interval")
	fs.Uint64Var(&f.failureSeed, "failure-seed", 1, "seed of --inject-failures (also --seed, unless the job has a --seed of its own)")
}

// checkpointing returns the run's checkpoint options, nil when the run
// takes no checkpoints and restores none.
func (f *jobFlags) checkpointing() (*actors.Checkpointing, error) {
	if f.checkpointInterval == 0 && f.savepointDir == "" && f.fromSavepoint == "" {
		if f.injectFailures > 0 {
			return nil, errors.New("--inject-failures needs --checkpoint-interval: without checkpoints a failure fails the job")
		}
		return nil, nil
	}
	restart, err := actors.ParseRestartStrategy(f.restartStrategy)
	if err != nil {
		return nil, fmt.Errorf("--restart-strategy: %w", err)
	}
	c := &actors.Checkpointing{
		Config: snapshot.Config{Interval: f.checkpointInterval, Timeout: f.checkpointTimeout, MinPause: f.checkpointMinPause,
			MaxConcurrent: f.maxConcurrent, Retained: f.retained},
		Dir: f.checkpointDir, SavepointDir: f.savepointDir, AllowNonRestoredState: f.allowNonRestored,
		Restart: restart, InjectFailures: f.injectFailures, FailureSeed: f.failureSeed,
	}
	switch f.checkpointMode {
	case "exactly-once":
	case "at-least-once":
		c.Mode = actors.AtLeastOnce
	default:
		return nil, fmt.Errorf("--checkpointing-mode %q: use exactly-once or at-least-once", f.checkpointMode)
	}
	if err := c.Config.Validate(); err != nil {
		return nil, err
	}
	if f.injectFailures > 0 && f.checkpointInterval == 0 {
		return nil, errors.New("--inject-failures needs --checkpoint-interval: without checkpoints a failure fails the job")
	}
	if f.fromSavepoint != "" {
		if c.Restore, err = snapshot.LoadPath(f.fromSavepoint); err != nil {
			return nil, fmt.Errorf("--from-savepoint: %w", err)
		}
	}
	return c, nil
}

// jobFlagSet declares the common flags and the job's own; it returns the
// job's builder.
func jobFlagSet(cmdName string, d topology.Definition, common *jobFlags) (*pflag.FlagSet, topology.Builder) {
	fs := pflag.NewFlagSet(cmdName+" "+d.Name, pflag.ContinueOnError)
	fs.SortFlags = false
	common.define(fs)
	build := d.Setup(fs)
	if fs.Lookup("seed") == nil {
		fs.Uint64Var(&common.failureSeed, "seed", 1, "seed of --inject-failures (same as --failure-seed)")
	}
	fs.BoolP("help", "h", false, "show this help")
	return fs, build
}

// applyEnvironment fills every flag not given on the command line from its
// FLOE_* variable (--max-parallelism ↔ FLOE_MAX_PARALLELISM), so that flags
// take precedence over the environment.
func applyEnvironment(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		name := "FLOE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

func usage(w io.Writer, cmdName string, d topology.Definition, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  floe %s %s [flags]\n\nFlags:\n%s", d.Description, cmdName, d.Name, fs.FlagUsages())
}

// parseJob resolves `<job> [flags]` into the job's topology.
func parseJob(cmd *cobra.Command, args []string) (*topology.Job, *jobFlags, bool, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil, nil, true, cmd.Help()
		}
		return nil, nil, false, fmt.Errorf("%s needs a job name: `floe jobs` lists them", cmd.Name())
	}
	d, ok := topology.Lookup(args[0])
	if !ok {
		var names []string
		for _, d := range topology.Definitions() {
			names = append(names, d.Name)
		}
		sort.Strings(names)
		return nil, nil, false, fmt.Errorf("unknown job %q: the jobs are %s", args[0], strings.Join(names, ", "))
	}
	common := &jobFlags{}
	fs, build := jobFlagSet(cmd.Name(), d, common)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		return nil, nil, false, fmt.Errorf("%w (see floe %s %s --help)", err, cmd.Name(), d.Name)
	}
	if help, _ := fs.GetBool("help"); help {
		usage(cmd.OutOrStdout(), cmd.Name(), d, fs)
		return nil, nil, true, nil
	}
	if fs.NArg() > 0 {
		return nil, nil, false, fmt.Errorf("unexpected arguments %q (see floe %s %s --help)", fs.Args(), cmd.Name(), d.Name)
	}
	if err := applyEnvironment(fs); err != nil {
		return nil, nil, false, err
	}
	opts := []topology.JobOption{topology.WithParallelism(common.parallelism), topology.WithMaxParallelism(common.maxParallelism)}
	if !common.chaining {
		opts = append(opts, topology.WithoutChaining())
	}
	j := topology.NewJob(d.Name, opts...)
	if err := build(j); err != nil {
		return nil, nil, false, err
	}
	return j, common, false, nil
}

func infoCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "info <job> [flags]",
		Short:              "Show a job's graph: tasks, chained operators, parallelism, edges and partitioners",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			j, _, done, err := parseJob(cmd, args)
			if err != nil || done {
				return err
			}
			g, err := j.Plan()
			if err != nil {
				return err
			}
			return g.Describe(cmd.OutOrStdout())
		},
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
