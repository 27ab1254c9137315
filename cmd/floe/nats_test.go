package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/floestream/floe/connectors/nats/natstest"
)

// natsWindowCount publishes the windowcount input to a JetStream stream and
// returns the server's address (host:port), the input URL and a function
// that makes a fresh output stream and its URL.
func natsWindowCount(t *testing.T, lines []string) (input string, output func() (url, stream string), read func(stream string) []string) {
	t.Helper()
	server := natstest.URL(t)
	_, js := natstest.Client(t, server)
	host := strings.TrimPrefix(server, "nats://")
	in := natstest.Uniq("WCIN")
	natstest.AddStream(t, js, in, []string{strings.ToLower(in)}, 0)
	natstest.PublishAll(t, js, strings.ToLower(in), lines...)
	input = "nats://" + host + "/" + in + "/" + strings.ToLower(in) + "?bounded=true"
	output = func() (string, string) {
		out := natstest.Uniq("WCOUT")
		natstest.AddStream(t, js, out, []string{strings.ToLower(out)}, 0)
		return "nats://" + host + "/" + out + "/" + strings.ToLower(out), out
	}
	read = func(stream string) []string { return natstest.Payloads(natstest.ReadStream(t, js, stream)) }
	return input, output, read
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// TestWindowCountFromJetStreamToJetStreamUnderFailures: a bounded JetStream
// input, a JetStream output with the exactly-once sink, checkpoints every
// 200 ms and 5 injected failures: the output stream holds exactly the
// records of a failure-free run.
func TestWindowCountFromJetStreamToJetStreamUnderFailures(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 15000)
	want := windowBaseline(t, dir, in)
	input, output, read := natsWindowCount(t, fileLines(t, in))
	for _, p := range []string{"1", "4"} {
		t.Run("p"+p, func(t *testing.T) {
			url, stream := output()
			args := append([]string{"run", "windowcount", "--input", input, "--output", url, "-p", p,
				"--checkpoint-interval", "200ms", "--checkpoint-dir", t.TempDir(), "--inject-failures", "5", "--seed", "2",
				"--rate", "10000"}, windowArgs[:len(windowArgs)-4]...)
			code, _, errs := floe(t, args...)
			if code != exitOK {
				t.Fatalf("run = %d: %s", code, errs)
			}
			if !strings.Contains(errs, "restarting job") {
				t.Fatalf("no restart happened:\n%s", errs)
			}
			if got := read(stream); !slices.Equal(got, want) {
				t.Fatalf("the output stream holds %d records, the failure-free run wrote %d; they must be equal", len(got), len(want))
			}
		})
	}
}

// TestJetStreamStopWithSavepointResumesFromTheRightSequences: stopped with
// a savepoint part-way through a JetStream input, resumed at another
// parallelism, the output stream equals one uninterrupted run.
func TestJetStreamStopWithSavepointResumesFromTheRightSequences(t *testing.T) {
	dir := t.TempDir()
	in := windowInput(t, dir, 20000)
	want := windowBaseline(t, dir, in)
	input, output, read := natsWindowCount(t, fileLines(t, in))
	url, stream := output()
	sp, ck := filepath.Join(dir, "savepoints"), filepath.Join(dir, "ck")
	path := stopWithSavepoint(t, ck, append([]string{"run", "windowcount", "--input", input, "--output", url, "-p", "3",
		"--checkpoint-interval", "100ms", "--checkpoint-dir", ck, "--savepoint-dir", sp, "--rate", "15000"}, windowArgs...)...)
	if part := read(stream); len(part) == 0 || len(part) >= len(want) {
		t.Fatalf("%d of %d records committed at the stop: the stop should come part-way", len(part), len(want))
	}
	args := append([]string{"run", "windowcount", "--input", input, "--output", url, "-p", "2",
		"--checkpoint-interval", "100ms", "--checkpoint-dir", ck, "--from-savepoint", path}, windowArgs...)
	if code, _, errs := floe(t, args...); code != exitOK {
		t.Fatalf("resume = %d: %s", code, errs)
	}
	if got := read(stream); !slices.Equal(got, want) {
		t.Fatalf("stopped and resumed output holds %d records, one uninterrupted run %d", len(got), len(want))
	}
}
