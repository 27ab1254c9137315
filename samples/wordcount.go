package samples

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

func init() {
	topology.Register(topology.Definition{
		Name: "wordcount",
		Description: "Counts the words of a UTF-8 text: one line per distinct word, word<TAB>count, " +
			"where a word is a maximal run of Unicode letters, lower-cased.",
		Setup: setupWordCount,
	})
}

func setupWordCount(fs *pflag.FlagSet) topology.Builder {
	input := fs.String("input", "", "text file to count the words of (required)")
	output := fs.String("output", "", "file to write word<TAB>count lines to (required; replaced when the job succeeds)")
	return func(j *topology.Job) error {
		j.Check(func() error {
			if *input == "" || *output == "" {
				return errors.New("wordcount needs --input PATH and --output PATH")
			}
			return nil
		})
		in, err := lineInput(*input)
		if err != nil {
			return err
		}
		out, err := lineOutput(*output, WordCountLine)
		if err != nil {
			return err
		}
		WordCount(j, in, out)
		return nil
	}
}

// WordCountResult is one word and the number of times it occurs.
type WordCountResult struct {
	Word  string
	Count int64
}

// WordCountLine formats a result as wordcount writes it.
func WordCountLine(r WordCountResult) string {
	return r.Word + "\t" + strconv.FormatInt(r.Count, 10)
}

// WordCount adds the word-count topology to j: lines are split into words,
// keyed by word, counted in keyed state, and each final count is emitted
// when the input ends. The sink runs with parallelism 1 so the output is one
// file.
func WordCount(j *topology.Job, lines connectors.Source[string], sink connectors.Sink[WordCountResult]) {
	text := topology.FromSource(j, "lines", lines)
	words := topology.FlatMap(text, "split", SplitWords)
	counts := topology.KeyedProcess(topology.KeyBy(words, func(w string) string { return w }), "count", &wordCounter{}).UID("word-counts")
	topology.Sink(counts, "output", sink).Parallelism(1)
}

// SplitWords emits the maximal runs of Unicode letters of line, lower-cased.
func SplitWords(line string, out topology.Collector[string]) {
	start := -1
	for i, r := range line {
		letter := unicode.IsLetter(r)
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			out.Collect(lowerWord(line[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		out.Collect(lowerWord(line[start:]))
	}
}

// lowerWord lower-cases w, allocating only when it has an upper-case letter.
func lowerWord(w string) string {
	for i := 0; i < len(w); {
		r, size := utf8.DecodeRuneInString(w[i:])
		if unicode.ToLower(r) != r {
			return strings.ToLower(w)
		}
		i += size
	}
	return w
}

// wordCounter counts occurrences per word in keyed state and emits the final
// counts when its input has ended.
type wordCounter struct {
	count keyspace.ValueState[int64]
}

func (c *wordCounter) Open(ctx *topology.KeyedContext[string]) (err error) {
	c.count, err = keyspace.NewValueState[string, int64](ctx.State(), "count")
	return err
}

func (c *wordCounter) ProcessElement(_ *topology.KeyedContext[string], _ string, _ topology.Collector[WordCountResult]) error {
	n, _ := c.count.Value()
	c.count.Update(n + 1)
	return nil
}

func (c *wordCounter) Finish(ctx *topology.KeyedContext[string], out topology.Collector[WordCountResult]) error {
	return ctx.ForEachKey("count", func(word string) error {
		n, _ := c.count.Value()
		out.Collect(WordCountResult{Word: word, Count: n})
		return nil
	})
}
