package samples_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/files"
	"github.com/floestream/floe/samples"
	"github.com/floestream/floe/topology"
)

// writeText writes a random text of mixed-case Unicode words, digits and
// punctuation, and returns it.
func writeText(t *testing.T, path string, lines int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(42, 7))
	vocab := []string{"Stream", "stream", "STREAM", "Über", "über", "naïve", "façade", "Ölung", "straße",
		"window", "Window", "key", "état", "日本語", "Ελλάδα", "x", "a"}
	seps := []string{" ", "  ", ", ", ". ", "—", "42", "-", "_", "'", "\t", "3.14"}
	var b strings.Builder
	for range lines {
		n := r.IntN(20)
		for i := range n {
			if i > 0 {
				b.WriteString(seps[r.IntN(len(seps))])
			}
			b.WriteString(vocab[r.IntN(len(vocab))])
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// expectedCounts computes wordcount's answer independently: a regular
// expression for runs of letters and strings.ToLower, sorted lines.
func expectedCounts(text string) []string {
	counts := map[string]int{}
	for _, w := range regexp.MustCompile(`\p{L}+`).FindAllString(text, -1) {
		counts[strings.ToLower(w)]++
	}
	var out []string
	for w, n := range counts {
		out = append(out, fmt.Sprintf("%s\t%d", w, n))
	}
	sort.Strings(out)
	return out
}

func readSorted(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	sort.Strings(lines)
	return lines
}

func TestWordCountMatchesIndependentCount(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	want := expectedCounts(writeText(t, in, 20000))
	for _, p := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism ", p), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out-%d.tsv", p))
			j := topology.NewJob("wordcount", topology.WithParallelism(p))
			samples.WordCount(j, files.Lines(in), files.LineSink(out, samples.WordCountLine))
			g, err := j.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := actors.Execute(ctx, g); err != nil {
				t.Fatal(err)
			}
			got := readSorted(t, out)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("parallelism %d: %d lines differ from the %d expected", p, len(got), len(want))
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"Hello, World!":            "hello world",
		"ÜBER-straße 42x":          "über straße x",
		"don't":                    "don t",
		"日本語 and Ελλάδα":           "日本語 and ελλάδα",
		"  trailing   space   ":    "trailing space",
		"snake_case and CamelCase": "snake case and camelcase",
	} {
		var got []string
		samples.SplitWords(in, connectors.CollectorFunc[string](func(w string) { got = append(got, w) }))
		if strings.Join(got, " ") != want {
			t.Errorf("SplitWords(%q) = %q, want %q", in, got, want)
		}
	}
}
