package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floestream/floe/snapshot"
)

// TestMain lets tests run this test binary as the floe command, for what
// needs a process of its own (signals, kill -9).
func TestMain(m *testing.M) {
	if os.Getenv("FLOE_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// floeProcess starts the floe command as a process of its own.
func floeProcess(t *testing.T, stdout, stderr *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "FLOE_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// checkpointsIn waits until the job's checkpoint directory holds n
// complete checkpoints: the run is under way, and has committed output.
func checkpointsIn(t *testing.T, dir, job string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ids, _ := snapshot.LocalStorage{Root: dir}.Completed(job)
		if len(ids) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d complete checkpoints in %s after a minute, want %d", len(ids), dir, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopWithSavepoint runs floe with args as a process of its own, sends it
// SIGTERM once its first checkpoint (in checkpoint directory ck) is
// complete, and returns the savepoint path it prints.
func stopWithSavepoint(t *testing.T, ck string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := floeProcess(t, &stdout, &stderr, args...)
	checkpointsIn(t, ck, "windowcount", 1)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stop with savepoint: %v\n%s", err, stderr.String())
	}
	path, ok := strings.CutPrefix(strings.TrimSpace(stdout.String()), "stopped with savepoint ")
	if !ok {
		t.Fatalf("no savepoint path printed: %q\n%s", stdout.String(), stderr.String())
	}
	return path
}

// windowInput writes n windowcount events over 50 keys, a little out of
// order, and returns the file.
func windowInput(t *testing.T, dir string, n int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	ts := int64(1_700_000_000_000)
	for range n {
		ts += rng.Int64N(20)
		fmt.Fprintf(&b, `{"key":"k%d","ts":%d,"value":%d}`+"\n", rng.IntN(50), ts-rng.Int64N(300), rng.IntN(100)+1)
	}
	path := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// outputLines reads the sorted lines of an output file or of every part
// file of an output directory.
func outputLines(t *testing.T, path string) []string {
	t.Helper()
	files := []string{path}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "part-*"))
	}
	var lines []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	slices.Sort(lines)
	return lines
}

var windowArgs = []string{"--size", "1s", "--out-of-orderness", "500ms", "--log-level", "warn", "--progress", "never"}

func windowBaseline(t *testing.T, dir, in string, extra ...string) []string {
	t.Helper()
	out := filepath.Join(dir, "baseline.jsonl")
	args := append(append([]string{"run", "windowcount", "--input", in, "--output", out, "-p", "2"}, windowArgs...), extra...)
	if code, _, errs := floe(t, args...); code != exitOK {
		t.Fatalf("baseline run = %d: %s", code, errs)
	}
	lines := outputLines(t, out)
	if len(lines) < 1000 {
		t.Fatalf("baseline has %d lines: the input is too small to test anything", len(lines))
	}
	return lines
}

// runUnderFailures runs windowcount with checkpoints and injected failures
// and checks that its output equals the failure-free run's.
func runUnderFailures(t *testing.T, in string, want []string, failures string, extra ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	args := append(append([]string{"run", "windowcount", "--input", in, "--output", out,
		"--checkpoint-interval", "200ms", "--checkpoint-dir", t.TempDir(), "--inject-failures", failures,
		"--rate", "15000"}, windowArgs[:len(windowArgs)-4]...), extra...)
	code, _, errs := floe(t, args...)
	if code != exitOK {
		t.Fatalf("run = %d: %s", code, errs)
	}
	if n := strings.Count(errs, "restarting job"); n < 2 {
		t.Fatalf("%d restarts: the run should have failed and recovered several times:\n%s", n, errs)
	}
	if got := outputLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output under failures has %d lines, the failure-free run %d; they must be equal", len(got), len(want))
	}
}

func TestWindowCountUnderInjectedFailuresEqualsFailureFreeRun(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 20000)
	want := windowBaseline(t, dir, in)
	for _, state := range []string{"heap", "pebble"} {
		for _, p := range []string{"1", "4"} {
			t.Run(state+"/p"+p, func(t *testing.T) {
				runUnderFailures(t, in, want, "10", "-p", p, "--state", state, "--seed", "5")
			})
		}
	}
}

// Session windows merge: their contents live in keyed state and fire by
// timers, both of which the snapshots must carry.
func TestSessionWindowsUnderInjectedFailures(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 20000)
	session := []string{"--window", "session", "--gap", "200ms"}
	want := windowBaseline(t, dir, in, session...)
	runUnderFailures(t, in, want, "6", append(session, "-p", "2", "--seed", "9")...)
}

func TestStopWithSavepointAndResumeElsewhere(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 30000)
	want := windowBaseline(t, dir, in)
	out, sp := filepath.Join(dir, "out"), filepath.Join(dir, "savepoints")
	path := stopWithSavepoint(t, filepath.Join(dir, "ck"), append([]string{"run", "windowcount", "--input", in, "--output", out, "-p", "4",
		"--checkpoint-interval", "100ms", "--checkpoint-dir", filepath.Join(dir, "ck"), "--savepoint-dir", sp, "--rate", "20000"}, windowArgs...)...)
	part := outputLines(t, out)
	if len(part) == 0 || len(part) >= len(want) {
		t.Fatalf("%d of %d lines committed at the stop: the stop should come part-way", len(part), len(want))
	}
	args := append([]string{"run", "windowcount", "--input", in, "--output", out, "-p", "2",
		"--checkpoint-interval", "100ms", "--checkpoint-dir", filepath.Join(dir, "ck"), "--from-savepoint", path}, windowArgs...)
	if code, _, errs := floe(t, args...); code != exitOK {
		t.Fatalf("resume = %d: %s", code, errs)
	}
	if got := outputLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("stopped and resumed output has %d lines, one uninterrupted run %d", len(got), len(want))
	}
}

func TestKillDuringCheckpointsLeavesTheLatestRestorable(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 30000)
	want := windowBaseline(t, dir, in)
	out, ck := filepath.Join(dir, "out"), filepath.Join(dir, "ck")
	var stdout, stderr bytes.Buffer
	cmd := floeProcess(t, &stdout, &stderr, append([]string{"run", "windowcount", "--input", in, "--output", out, "-p", "2",
		"--state", "pebble", "--checkpoint-interval", "20ms", "--checkpoint-dir", ck, "--checkpoints-retained", "3", "--rate", "20000"}, windowArgs...)...)
	checkpointsIn(t, ck, "windowcount", 3)
	if err := cmd.Process.Kill(); err != nil { // kill -9, most likely while a checkpoint is being written
		t.Fatal(err)
	}
	cmd.Wait()
	ids, err := snapshot.LocalStorage{Root: ck}.Completed("windowcount")
	if err != nil || len(ids) == 0 {
		t.Fatalf("complete checkpoints after kill -9: %v, %v", ids, err)
	}
	latest := snapshot.LocalStorage{Root: ck}.Path("windowcount", ids[len(ids)-1])
	// Heap and Pebble keep windows in different layouts: a window operator's
	// snapshot restores into the backend that took it.
	args := append([]string{"run", "windowcount", "--input", in, "--output", out, "-p", "3", "--state", "heap",
		"--checkpoint-interval", "100ms", "--checkpoint-dir", ck, "--from-savepoint", latest}, windowArgs...)
	if code, _, errs := floe(t, args...); code != exitUsage && code != exitFailed || !strings.Contains(errs, "restore it with the same state backend") {
		t.Fatalf("restore into another backend = %d: %s", code, errs)
	}
	args = append([]string{"run", "windowcount", "--input", in, "--output", out, "-p", "3", "--state", "pebble",
		"--checkpoint-interval", "100ms", "--checkpoint-dir", ck, "--from-savepoint", latest}, windowArgs...)
	if code, _, errs := floe(t, args...); code != exitOK {
		t.Fatalf("restore from %s = %d: %s", latest, code, errs)
	}
	if got := outputLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output after kill -9 and restore has %d lines, one uninterrupted run %d", len(got), len(want))
	}
}

// Sliding windows on the heap fire from per-slice accumulators (slice
// mode); on Pebble they keep every window's contents in keyed state. Both
// must give the same windows and the same late records, and slices must
// survive failures.
func TestSlidingWindowsSlicedAgreeWithKeyMajorAndSurviveFailures(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 20000)
	sliding := []string{"--window", "sliding", "--size", "1s", "--slide", "750ms", "--out-of-orderness", "0s"}
	run := func(state string) (out, late []string) {
		o, l := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "late")
		args := append(append([]string{"run", "windowcount", "--input", in, "--output", o, "--late-output", l, "-p", "2", "--state", state},
			windowArgs...), sliding...)
		if code, _, errs := floe(t, args...); code != exitOK {
			t.Fatalf("%s run = %d: %s", state, code, errs)
		}
		return outputLines(t, o), outputLines(t, l)
	}
	heapOut, heapLate := run("heap")
	pebbleOut, pebbleLate := run("pebble")
	if len(heapOut) < 1000 || len(heapLate) == 0 {
		t.Fatalf("%d windows, %d late records: the input should give many of both", len(heapOut), len(heapLate))
	}
	if !slices.Equal(heapOut, pebbleOut) || !slices.Equal(heapLate, pebbleLate) {
		t.Fatalf("sliced (heap) and key-major (Pebble) sliding windows differ: %d/%d windows, %d/%d late records",
			len(heapOut), len(pebbleOut), len(heapLate), len(pebbleLate))
	}
	runUnderFailures(t, in, heapOut, "6", append(sliding, "-p", "3", "--seed", "4")...)
}
