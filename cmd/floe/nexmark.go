package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/floestream/floe/bench/nexmark"
)

func nexmarkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nexmark",
		Short: "Nexmark benchmark tools: generate events",
	}
	cmd.AddCommand(nexmarkGenerateCommand(), nexmarkBenchCommand())
	return cmd
}

func nexmarkBenchCommand() *cobra.Command {
	var o nexmark.BenchOptions
	var results string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run every Nexmark query on floe and its hand-written baseline on the same events, and print a table",
		Long: "Run every Nexmark query on floe and, where there is one, its single-goroutine Go baseline on the same\n" +
			"generated events; print query, events, floe events/s, per core, baseline events/s and the ratio\n" +
			"(floe per core / baseline). With --results DIR a dated copy of the table is written there.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := nexmark.RunBenchmark(ctx, o)
			if err != nil {
				return err
			}
			var table strings.Builder
			if err := nexmark.WriteTable(&table, res); err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), table.String())
			if results == "" {
				return nil
			}
			if err := os.MkdirAll(results, 0o755); err != nil {
				return err
			}
			now := time.Now().UTC()
			path := filepath.Join(results, now.Format("2006-01-02T150405Z")+".md")
			doc := fmt.Sprintf("# Nexmark, %s\n\n%d events, parallelism %d, %s state, GOMAXPROCS %d, %s.\n\n%s",
				now.Format(time.RFC3339), o.Events, o.Parallelism, o.State, runtime.GOMAXPROCS(0), runtime.Version(), table.String())
			return os.WriteFile(path, []byte(doc), 0o644)
		},
	}
	cmd.Flags().Int64Var(&o.Events, "events", 2_000_000, "events per query")
	cmd.Flags().IntVarP(&o.Parallelism, "parallelism", "p", runtime.NumCPU(), "parallelism of the floe jobs")
	cmd.Flags().StringSliceVar(&o.Queries, "queries", nil, "queries to run (default: all)")
	cmd.Flags().StringVar(&o.State, "state", "heap", "state backend of the floe jobs: heap or pebble")
	cmd.Flags().StringVar(&results, "results", "", "directory to keep a dated copy of the table in")
	cmd.Flags().StringSliceVar(&o.Variants, "variants", nexmark.DefaultVariants,
		"extra rows, <query>:pebble or <query>:ckpt=<interval>; their ratio is to the query's main row")
	return cmd
}

func nexmarkGenerateCommand() *cobra.Command {
	cfg := nexmark.DefaultConfig()
	var output string
	var rate float64
	cmd := &cobra.Command{
		Use:   "generate --events N --output events.jsonl",
		Short: "Write Nexmark events as JSON lines (person, auction, bid), deterministic for a seed",
		Long: "Write Nexmark events as JSON lines, as Flink's nexmark generator makes them: person : auction : bid = 1 : 3 : 46,\n" +
			"hot auctions, bidders and sellers, prices, expiries, channels and URLs; times in epoch milliseconds.\n" +
			"The same --events and --seed always give the same file. --rate spaces events in event time.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Events <= 0 {
				return errors.New("--events must be at least 1")
			}
			if output == "" {
				return errors.New("--output PATH is required (- for standard output)")
			}
			if rate > 0 {
				cfg.FirstEventRate = rate
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var f *os.File
			if output != "-" {
				var err error
				if f, err = os.Create(output); err != nil {
					return fmt.Errorf("create %s: %w", output, err)
				}
				defer f.Close()
				w = f
			}
			started := time.Now()
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := nexmark.WriteJSONL(bw, cfg); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return err
				}
				elapsed := time.Since(started)
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d events to %s in %s (%.0f events/s)\n",
					cfg.Events, output, elapsed.Round(time.Millisecond), float64(cfg.Events)/elapsed.Seconds())
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&cfg.Events, "events", 0, "number of events to write (required)")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 0, "random seed")
	cmd.Flags().Float64Var(&rate, "rate", nexmark.DefaultFirstEventRate, "events per second of event time")
	cmd.Flags().StringVar(&output, "output", "", "file to write, or - for standard output (required)")
	return cmd
}
