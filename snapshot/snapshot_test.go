package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func actions(as []Action) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

func TestCoordinatorTimeline(t *testing.T) {
	c, err := NewCoordinator(Config{Interval: 100 * time.Millisecond, Timeout: 250 * time.Millisecond,
		MinPause: 30 * time.Millisecond, MaxConcurrent: 1, Retained: 2}, []string{"a/0", "a/1"}, 6)
	if err != nil {
		t.Fatal(err)
	}
	step := func(got []Action, want string) {
		t.Helper()
		if g := actions(got); g != want {
			t.Fatalf("actions %q, want %q", g, want)
		}
	}
	step(c.Tick(0), "")
	step(c.Tick(99), "")
	step(c.Tick(100), "trigger 7") // ids continue after the previous attempt's
	step(c.Tick(250), "")          // one in flight at most
	step(c.Ack(7, "a/0", "h0"), "")
	step(c.Ack(7, "zz", "h"), "") // not a subtask of the job
	fin := c.Ack(7, "a/1", "h1")
	if len(fin) != 1 || fin[0].Kind != Finalize || fin[0].Acks["a/1"] != "h1" {
		t.Fatalf("after every ack: %v", fin)
	}
	step(c.Tick(300), "") // finalizing counts as in flight
	step(c.Finalized(7, 310), "complete 7")
	step(c.Tick(320), "")                               // minimum pause after a completion
	step(c.Tick(340), "trigger 8")                      // 30 ms after 310
	step(c.Tick(590), "abort 8 (timed out), trigger 9") // 250 ms after 340; the next is due
	step(c.Ack(8, "a/0", "late"), "")                   // acks of an aborted checkpoint are ignored
	c.Ack(9, "a/0", "h")
	c.Ack(9, "a/1", "h")
	step(c.Decline(9, "metadata: disk full"), "abort 9 (metadata: disk full)")
	if id, ok := c.Latest(); !ok || id != 7 {
		t.Fatalf("latest %d %v, want 7: a failed checkpoint keeps the previous one", id, ok)
	}
	step(c.Tick(700), "trigger 10")
	c.Ack(10, "a/0", "h")
	c.Ack(10, "a/1", "h")
	step(c.Finalized(10, 710), "complete 10")
	c.Tick(800)
	c.Ack(11, "a/0", "h")
	c.Ack(11, "a/1", "h")
	step(c.Finalized(11, 810), "complete 11, discard 7") // two are retained
}

func TestCoordinatorSubsumesOlderPending(t *testing.T) {
	c, _ := NewCoordinator(Config{Interval: 10 * time.Millisecond, MaxConcurrent: 2}, []string{"s"}, 0)
	c.Tick(0)
	if got := actions(c.Tick(10)); got != "trigger 1" {
		t.Fatal(got)
	}
	if got := actions(c.Tick(20)); got != "trigger 2" {
		t.Fatal(got)
	}
	c.Ack(2, "s", "h")
	if got := actions(c.Finalized(2, 25)); got != "complete 2, abort 1 (subsumed by 2)" {
		t.Fatal(got)
	}
	if _, err := NewCoordinator(Config{Interval: -1}, nil, 0); err == nil {
		t.Fatal("a negative interval was accepted")
	}
	off, _ := NewCoordinator(Config{}, []string{"s"}, 0)
	if got := off.Tick(1 << 40); len(got) != 0 {
		t.Fatalf("checkpointing off triggered %v", got)
	}
}

func TestLocalStorage(t *testing.T) {
	s := LocalStorage{Root: t.TempDir()}
	w, err := s.Create("job", 3, "counter", 1, "keyed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "state bytes"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Completed("job"); len(ids) != 0 {
		t.Fatalf("a checkpoint without metadata is complete: %v", ids)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "job", "chk-3", "counter", "1", "keyed")); err == nil {
		t.Fatal("the file is visible before Close")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteMetadata("job", 3, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	s.WriteMetadata("job", 1, []byte("old"))
	ids, err := s.Completed("job")
	if err != nil || !slices.Equal(ids, []int64{1, 3}) {
		t.Fatalf("completed %v %v", ids, err)
	}
	r, err := s.Open("job", 3, "counter", 1, "keyed")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if meta, _ := s.ReadMetadata("job", 3); string(got) != "state bytes" || string(meta) != "meta" {
		t.Fatalf("read %q, metadata %q", got, meta)
	}
	if err := s.Delete("job", 1); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Completed("job"); !slices.Equal(ids, []int64{3}) {
		t.Fatalf("after delete: %v", ids)
	}
	if _, err := s.ReadMetadata("job", 1); err == nil || !strings.Contains(err.Error(), "not complete") {
		t.Fatalf("metadata of a deleted checkpoint: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(s.Root, "job", "chk-3", "*", "*", ".*"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

// fullDisk is storage whose writes fail, as on a full disk.
type fullDisk struct{ Storage }

var errFull = errors.New("no space left on device")

func (fullDisk) WriteMetadata(string, int64, []byte) error { return errFull }

func TestFailingStorageAbortsAndKeepsThePreviousCheckpoint(t *testing.T) {
	good := LocalStorage{Root: t.TempDir()}
	c, _ := NewCoordinator(Config{Interval: time.Millisecond}, []string{"s"}, 0)
	run := func(s Storage, now int64) error {
		for _, a := range c.Tick(now) {
			if a.Kind != Trigger {
				continue
			}
			for _, f := range c.Ack(a.Checkpoint, "s", "h") {
				if err := s.WriteMetadata("job", f.Checkpoint, []byte(fmt.Sprint(f.Acks))); err != nil {
					c.Decline(f.Checkpoint, err.Error())
					return err
				}
				c.Finalized(f.Checkpoint, now)
			}
		}
		return nil
	}
	c.Tick(0)
	if err := run(good, 1); err != nil {
		t.Fatal(err)
	}
	if err := run(fullDisk{good}, 2); !errors.Is(err, errFull) {
		t.Fatalf("full disk: %v", err)
	}
	if id, _ := c.Latest(); id != 1 {
		t.Fatalf("latest %d, want 1", id)
	}
	if ids, _ := good.Completed("job"); !slices.Equal(ids, []int64{1}) {
		t.Fatalf("stored %v", ids)
	}
	if err := run(good, 3); err != nil {
		t.Fatal(err)
	}
	if id, _ := c.Latest(); id != 3 {
		t.Fatalf("after the disk recovered: latest %d, want 3", id)
	}
}
