package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/topology"
)

func runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run <job> [flags]",
		Short: "Run a job until its bounded inputs end, it fails, or Ctrl-C cancels it",
		Long: "Run a job until its bounded inputs end, it fails, or Ctrl-C cancels it.\n" +
			"`floe run <job> --help` lists the job's own flags. Every flag can also be set\n" +
			"through the environment as FLOE_<FLAG> (--max-parallelism: FLOE_MAX_PARALLELISM);\n" +
			"a flag on the command line wins. Exit code 0 only on success.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			j, flags, done, err := parseJob(cmd, args)
			if err != nil || done {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), flags.logFormat, flags.logLevel)
			if err != nil {
				return err
			}
			g, err := j.Build()
			if err != nil {
				return err
			}
			opts := []actors.Option{
				actors.WithBatchSize(flags.batchSize), actors.WithCredits(flags.credits),
				actors.WithBufferTimeout(flags.bufferTimeout), actors.WithLogger(log),
				actors.WithStateBackend(flags.state, flags.stateDir)}
			ck, err := flags.checkpointing()
			if err != nil {
				setExit(cmd, exitUsage)
				return err
			}
			if ck != nil {
				opts = append(opts, actors.WithCheckpointing(*ck))
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			started := time.Now()
			r, err := actors.Start(ctx, g, opts...)
			if err != nil {
				setExit(cmd, exitUsage)
				return err
			}
			stopSignals := handleSignals(r, ck != nil && ck.SavepointDir != "", cancel, log)
			defer stopSignals()
			if showProgress(flags.progress, cmd.ErrOrStderr()) {
				go reportProgress(r, cmd.ErrOrStderr())
			}
			err = r.Wait()
			read := recordsRead(r)
			elapsed := time.Since(started)
			switch {
			case errors.Is(err, actors.ErrStopped):
				st := r.Checkpoints()
				fmt.Fprintf(cmd.OutOrStdout(), "stopped with savepoint %s\n", st.LatestPath)
				log.Info("job stopped with savepoint", "job", g.Name, "savepoint", st.LatestPath, "records_read", read)
				return nil
			case errors.Is(err, actors.ErrCancelled):
				setExit(cmd, exitCancelled)
				return err
			case err != nil:
				setExit(cmd, exitFailed)
				return err
			}
			log.Info("job finished", "job", g.Name, "elapsed", elapsed.Round(time.Millisecond),
				"records_read", read, "records_per_second", int64(float64(read)/elapsed.Seconds()))
			return nil
		},
	}
}

// handleSignals turns SIGINT and SIGTERM into a stop with savepoint when
// the run has a savepoint directory, and into a cancel otherwise (or at a
// second signal, or when the savepoint fails).
func handleSignals(r *actors.Run, savepoint bool, cancel context.CancelCauseFunc, log *slog.Logger) (stop func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		first := true
		for {
			select {
			case s := <-sig:
				if !first || !savepoint {
					cancel(fmt.Errorf("%s received", s))
					return
				}
				first = false
				log.Info("stopping with a savepoint (signal again to cancel)", "signal", s.String())
				go func() {
					if _, err := r.StopWithSavepoint(context.Background()); err != nil {
						log.Error("savepoint failed; cancelling", "error", err)
						cancel(fmt.Errorf("%s received; savepoint failed: %w", s, err))
					}
				}()
			case <-r.Done():
				return
			}
		}
	}()
	return func() { signal.Stop(sig) }
}

// recordsRead sums what the job's sources have read so far.
func recordsRead(r *actors.Run) uint64 {
	var n uint64
	for _, m := range r.Metrics() {
		if r.Graph().Tasks[m.TaskID].Head().Kind == topology.SourceNode {
			n += m.RecordsIn
		}
	}
	return n
}

func showProgress(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// reportProgress rewrites one status line each second until the run ends.
func reportProgress(r *actors.Run, w io.Writer) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	var last uint64
	for {
		select {
		case <-r.Done():
			fmt.Fprint(w, "\r\033[K")
			return
		case <-tick.C:
			read := recordsRead(r)
			fmt.Fprintf(w, "\r\033[K%s  read %d records (%d/s)", time.Since(start).Round(time.Second), read, read-last)
			if st := r.Checkpoints(); st.Completed > 0 || st.Restarts > 0 {
				fmt.Fprintf(w, "  checkpoints %d (last %d, %s)  restarts %d", st.Completed, st.Latest, st.LastDuration.Round(time.Millisecond), st.Restarts)
			}
			last = read
		}
	}
}
