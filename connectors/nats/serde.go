package nats

import (
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
)

// Serde turns records into message payloads and back. Every connector of
// the package takes one. Implementations must be safe for concurrent use:
// the subtasks of a source or sink share one Serde.
type Serde[T any] interface {
	// Encode appends the payload of v to buf and returns the extended slice.
	Encode(buf []byte, v T) ([]byte, error)
	// Decode reads a record from a payload. data belongs to the caller's
	// message and is not reused: the record may keep it.
	Decode(data []byte) (T, error)
}

// JSON is the default serde: a record is one JSON document (encoding/json).
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Encode(buf []byte, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return buf, fmt.Errorf("encode %T as JSON: %w", v, err)
	}
	return append(buf, b...), nil
}

func (jsonSerde[T]) Decode(data []byte) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode JSON as %T: %w", v, err)
	}
	return v, nil
}

// Raw passes payloads through as they are.
func Raw() Serde[[]byte] { return rawSerde{} }

type rawSerde struct{}

func (rawSerde) Encode(buf []byte, v []byte) ([]byte, error) { return append(buf, v...), nil }
func (rawSerde) Decode(data []byte) ([]byte, error)          { return data, nil }

// Lines makes each message one line of text (without its line break): the
// serde of LineSourceFromURL and LineSinkFromURL, so that a stream holds
// what a file would hold line by line. It accepts any bytes, so it never
// meets a bad message.
func Lines() Serde[string] { return lineSerde{} }

type lineSerde struct{}

func (lineSerde) Encode(buf []byte, v string) ([]byte, error) { return append(buf, v...), nil }
func (lineSerde) Decode(data []byte) (string, error)          { return string(data), nil }

// Protobuf encodes records of a generated protobuf message type T (a
// pointer type such as *pb.Event) in the protobuf wire format.
func Protobuf[T proto.Message]() Serde[T] { return protoSerde[T]{} }

type protoSerde[T proto.Message] struct{}

func (protoSerde[T]) Encode(buf []byte, v T) ([]byte, error) {
	b, err := proto.MarshalOptions{}.MarshalAppend(buf, v)
	if err != nil {
		return buf, fmt.Errorf("encode %T as protobuf: %w", v, err)
	}
	return b, nil
}

func (protoSerde[T]) Decode(data []byte) (T, error) {
	var zero T
	// Generated messages answer ProtoReflect on a nil pointer, which gives
	// the type to allocate a new message of.
	v := zero.ProtoReflect().Type().New().Interface().(T)
	if err := proto.Unmarshal(data, v); err != nil {
		return zero, fmt.Errorf("decode protobuf as %T: %w", zero, err)
	}
	return v, nil
}

// Avro encodes records as Avro binary data of schema (a JSON Avro schema),
// with github.com/hamba/avro/v2: T is a struct whose fields carry `avro`
// tags, or a map[string]any, as that package maps them. The payload holds
// the datum only, no schema or fingerprint: producers and consumers agree
// on the schema out of band.
func Avro[T any](schema string) (Serde[T], error) {
	s, err := avro.Parse(schema)
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w: check the schema's JSON", err)
	}
	return avroSerde[T]{schema: s}, nil
}

type avroSerde[T any] struct{ schema avro.Schema }

func (a avroSerde[T]) Encode(buf []byte, v T) ([]byte, error) {
	b, err := avro.Marshal(a.schema, v)
	if err != nil {
		return buf, fmt.Errorf("encode %T as avro: %w", v, err)
	}
	return append(buf, b...), nil
}

func (a avroSerde[T]) Decode(data []byte) (T, error) {
	var v T
	if err := avro.Unmarshal(a.schema, data, &v); err != nil {
		return v, fmt.Errorf("decode avro as %T: %w", v, err)
	}
	return v, nil
}

// BadMessages says what a source does with a message its serde cannot
// decode. The zero value is FailOnBadMessage.
type BadMessages struct {
	deadLetter string
}

// FailOnBadMessage fails the job at an undecodable message, naming its
// stream sequence (JetStream) or subject (core NATS). A JetStream job that
// restores meets the message again: remove it or change the policy.
var FailOnBadMessage = BadMessages{}

// DeadLetter publishes undecodable messages to subject, with their payload
// and headers Floe-Job, Floe-Operator and Floe-Error (and, from JetStream,
// Floe-Stream, Floe-Subject and Floe-Sequence), and goes on. When a stream
// captures subject, dead letters are published to it with JetStream,
// acknowledged and with a message id of the source stream and sequence, so
// that a restored job that meets the message again adds no second dead
// letter within the stream's duplicate window; otherwise they are core
// NATS messages, at most once.
func DeadLetter(subject string) BadMessages { return BadMessages{deadLetter: subject} }

// Subject is the dead-letter subject, empty for FailOnBadMessage.
func (b BadMessages) Subject() string { return b.deadLetter }

func (b BadMessages) String() string {
	if b.deadLetter == "" {
		return "fail"
	}
	return "dead-letter to " + b.deadLetter
}
