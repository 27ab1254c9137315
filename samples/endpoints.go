package samples

import (
	"fmt"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/files"
	"github.com/floestream/floe/connectors/nats"
)

// The samples' --input and --output take a file path or a NATS URL:
// nats://host:port/<stream>/<subject>[?bounded=true] for JetStream (one line
// of text, or of JSON, per message) and nats://host:port/<subject>?core=true
// for core NATS. See connectors/nats for the URL's other parameters.

// lineInput reads the lines of a file, or the messages of a NATS subject.
func lineInput(input string) (connectors.Source[string], error) {
	if nats.IsURL(input) {
		return nats.LineSourceFromURL(input)
	}
	return files.Lines(input), nil
}

// lineOutput writes format(record) as a line of a file, or as a message of
// a NATS subject.
func lineOutput[T any](output string, format func(T) string) (connectors.Sink[T], error) {
	if nats.IsURL(output) {
		return nats.SinkFromURL[T](output, formatSerde[T](format))
	}
	return files.LineSink(output, format), nil
}

// jsonOutput writes each record as one JSON line of a file, or as one JSON
// message of a NATS subject.
func jsonOutput[T any](output string) (connectors.Sink[T], error) {
	if nats.IsURL(output) {
		return nats.SinkFromURL[T](output, nats.JSON[T]())
	}
	return files.JSONLines[T](output), nil
}

// formatSerde encodes records with a line format; samples only write them.
type formatSerde[T any] func(T) string

func (f formatSerde[T]) Encode(buf []byte, v T) ([]byte, error) { return append(buf, f(v)...), nil }
func (f formatSerde[T]) Decode([]byte) (T, error) {
	var zero T
	return zero, fmt.Errorf("%T is an output format: it does not decode", zero)
}
