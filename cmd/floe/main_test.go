package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func floe(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestJobsListsWordCount(t *testing.T) {
	code, out, _ := floe(t, "jobs")
	if code != exitOK || !strings.Contains(out, "wordcount") || !strings.Contains(out, "Counts the words") {
		t.Fatalf("floe jobs = %d, %q", code, out)
	}
}

func TestInfoPrintsGraph(t *testing.T) {
	code, out, errs := floe(t, "info", "wordcount", "--parallelism", "3")
	if code != exitOK {
		t.Fatalf("floe info = %d: %s", code, errs)
	}
	for _, want := range []string{"Task 1: lines -> split  (parallelism 3)", "split (3) -> count (3)  HASH, network",
		"count (3) -> output (1)  REBALANCE, network"} {
		if !strings.Contains(out, want) {
			t.Errorf("floe info misses %q:\n%s", want, out)
		}
	}
}

func TestRunWordCountSameResultAtEveryParallelism(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	text := strings.Repeat("The quick brown Fox jumps over the lazy dog; the DOG sleeps. Über alles, über!\n", 500)
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, p := range []string{"1", "4"} {
		out := filepath.Join(dir, "out-"+p+".tsv")
		code, _, errs := floe(t, "run", "wordcount", "--input", in, "--output", out, "-p", p, "--log-level", "warn")
		if code != exitOK {
			t.Fatalf("run at parallelism %s = %d: %s", p, code, errs)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		sort.Strings(lines)
		results = append(results, strings.Join(lines, "\n"))
	}
	want := "alles\t500\nbrown\t500\ndog\t1000\nfox\t500\njumps\t500\nlazy\t500\nover\t500\nquick\t500\nsleeps\t500\nthe\t1500\nüber\t1000"
	for i, got := range results {
		if got != want {
			t.Fatalf("result %d:\n%s\nwant\n%s", i, got, want)
		}
	}
}

func TestRunErrorsAreClearAndNonZero(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing input", []string{"run", "wordcount", "--input", filepath.Join(dir, "nope.txt"), "--output", filepath.Join(dir, "o")},
			exitUsage, "nope.txt\" does not exist"},
		{"input is a directory", []string{"run", "wordcount", "--input", dir, "--output", filepath.Join(dir, "o")},
			exitUsage, "directory"},
		{"flags missing", []string{"run", "wordcount"}, exitUsage, "wordcount needs --input PATH and --output PATH"},
		{"unknown job", []string{"run", "nosuchjob"}, exitUsage, `unknown job "nosuchjob"`},
		{"no job", []string{"run"}, exitUsage, "needs a job name"},
		{"bad flag", []string{"run", "wordcount", "--frobnicate"}, exitUsage, "unknown flag: --frobnicate"},
		{"bad parallelism", []string{"run", "wordcount", "--input", "x", "--output", "y", "-p", "0"}, exitUsage, "parallelism"},
		{"bad log format", []string{"run", "wordcount", "--input", "x", "--output", "y", "--log-format", "xml"}, exitUsage, "--log-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := floe(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errs, tc.code, tc.want)
			}
			if strings.Contains(errs, "goroutine ") {
				t.Fatalf("stderr has a stack trace: %s", errs)
			}
		})
	}
}

func TestRunHelpListsJobFlags(t *testing.T) {
	code, out, _ := floe(t, "run", "wordcount", "--help")
	if code != exitOK || !strings.Contains(out, "--input") || !strings.Contains(out, "--buffer-timeout") {
		t.Fatalf("help = %d:\n%s", code, out)
	}
}

func TestEnvironmentFillsFlagsTheCommandLineLacks(t *testing.T) {
	t.Setenv("FLOE_PARALLELISM", "5")
	code, out, errs := floe(t, "info", "wordcount")
	if code != exitOK || !strings.Contains(out, "default parallelism 5") {
		t.Fatalf("FLOE_PARALLELISM not applied: %d %s %s", code, out, errs)
	}
	code, out, _ = floe(t, "info", "wordcount", "-p", "2")
	if code != exitOK || !strings.Contains(out, "default parallelism 2") {
		t.Fatalf("the flag must win over the environment:\n%s", out)
	}
	t.Setenv("FLOE_PARALLELISM", "many")
	if code, _, errs := floe(t, "info", "wordcount"); code != exitUsage || !strings.Contains(errs, "FLOE_PARALLELISM") {
		t.Fatalf("bad env value: %d %s", code, errs)
	}
}

func TestRunWindowCountAndFraudDetect(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, []byte(strings.Join([]string{
		`{"key":"k1","ts":1000,"value":5}`,
		`{"key":"k2","ts":1500,"value":1}`,
		`{"key":"k1","ts":2500,"value":7}`,
		`{"key":"k1","ts":900,"value":100}`,
		"",
	}, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"1", "3"} {
		out, late := filepath.Join(dir, "out"+p+".jsonl"), filepath.Join(dir, "late"+p+".jsonl")
		code, _, errs := floe(t, "run", "windowcount", "--input", events, "--output", out, "--late-output", late,
			"--window", "tumbling", "--size", "2s", "-p", p, "--log-level", "warn")
		if code != exitOK {
			t.Fatalf("windowcount -p %s = %d: %s", p, code, errs)
		}
		got, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		sort.Strings(lines)
		want := []string{
			`{"key":"k1","window_start":0,"window_end":2000,"count":1,"sum":5}`,
			`{"key":"k1","window_start":2000,"window_end":4000,"count":1,"sum":7}`,
			`{"key":"k2","window_start":0,"window_end":2000,"count":1,"sum":1}`,
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("windowcount -p %s wrote\n%s", p, got)
		}
		if l, _ := os.ReadFile(late); strings.TrimSpace(string(l)) != `{"key":"k1","ts":900,"value":100}` {
			t.Fatalf("late output %q", l)
		}
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"key\":\"k1\",\"ts\":1,\"value\":1}\n{oops\n"), 0o644)
	code, _, errs := floe(t, "run", "windowcount", "--input", bad, "--output", filepath.Join(dir, "o.jsonl"), "--size", "1s")
	if code != exitFailed || !strings.Contains(errs, "line 2: not a JSON object") {
		t.Fatalf("bad line: exit %d, %s", code, errs)
	}

	txs := filepath.Join(dir, "tx.jsonl")
	os.WriteFile(txs, []byte(`{"account":"a1","ts":1000,"amount":0.5}
{"account":"a1","ts":2000,"amount":750.25}
{"account":"a2","ts":3000,"amount":900}
`), 0o644)
	alerts := filepath.Join(dir, "alerts.jsonl")
	if code, _, errs := floe(t, "run", "frauddetect", "--input", txs, "--output", alerts, "--log-level", "warn"); code != exitOK {
		t.Fatalf("frauddetect = %d: %s", code, errs)
	}
	if got, _ := os.ReadFile(alerts); string(got) != "{\"account\":\"a1\",\"ts\":2000,\"amount\":750.25}\n" {
		t.Fatalf("alerts %q", got)
	}
}

func TestNexmarkGenerateIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	var files [2][]byte
	for i := range files {
		out := filepath.Join(dir, fmt.Sprintf("events%d.jsonl", i))
		if code, _, errs := floe(t, "nexmark", "generate", "--events", "500", "--seed", "7", "--output", out); code != exitOK {
			t.Fatalf("generate = %d: %s", code, errs)
		}
		files[i], _ = os.ReadFile(out)
	}
	lines := strings.Split(strings.TrimSpace(string(files[0])), "\n")
	if len(lines) != 500 || !bytes.Equal(files[0], files[1]) {
		t.Fatalf("%d lines, identical %v", len(lines), bytes.Equal(files[0], files[1]))
	}
	kinds := map[string]int{}
	for _, l := range lines {
		for _, k := range []string{"person", "auction", "bid"} {
			if strings.HasPrefix(l, `{"type":"`+k+`"`) {
				kinds[k]++
			}
		}
	}
	if kinds["person"] != 10 || kinds["auction"] != 30 || kinds["bid"] != 460 {
		t.Fatalf("event mix %v, want 10 : 30 : 460", kinds)
	}
	if code, _, errs := floe(t, "nexmark", "generate", "--output", "x"); code != exitUsage || !strings.Contains(errs, "--events") {
		t.Fatalf("missing --events: %d %s", code, errs)
	}
}
