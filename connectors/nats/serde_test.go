package nats

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func roundTrip[T any](t *testing.T, s Serde[T], v T) T {
	t.Helper()
	b, err := s.Encode([]byte("prefix"), v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "prefix") {
		t.Fatalf("Encode did not append: %q", b)
	}
	got, err := s.Decode(b[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

type avroEvent struct {
	ID   int64  `avro:"id"`
	Name string `avro:"name"`
}

func TestSerdes(t *testing.T) {
	if got := roundTrip(t, JSON[event](), event{ID: 3, Name: "x"}); got != (event{ID: 3, Name: "x"}) {
		t.Errorf("JSON: %+v", got)
	}
	if got := roundTrip(t, Raw(), []byte{0, 1, 255}); string(got) != "\x00\x01\xff" {
		t.Errorf("Raw: %q", got)
	}
	if got := roundTrip(t, Lines(), "a line"); got != "a line" {
		t.Errorf("Lines: %q", got)
	}
	if got := roundTrip(t, Protobuf[*wrapperspb.StringValue](), wrapperspb.String("pb")); !proto.Equal(got, wrapperspb.String("pb")) {
		t.Errorf("Protobuf: %v", got)
	}
	avro, err := Avro[avroEvent](`{"type":"record","name":"Event","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, avro, avroEvent{ID: 9, Name: "av"}); got != (avroEvent{ID: 9, Name: "av"}) {
		t.Errorf("Avro: %+v", got)
	}
	if _, err := Avro[avroEvent](`{"type":"nope"}`); err == nil {
		t.Error("Avro accepted a bad schema")
	}
	for name, decode := range map[string]func([]byte) error{
		"json":     func(b []byte) error { _, err := JSON[event]().Decode(b); return err },
		"protobuf": func(b []byte) error { _, err := Protobuf[*wrapperspb.StringValue]().Decode(b); return err },
		"avro":     func([]byte) error { _, err := avro.Decode([]byte{0x02, 0x01}); return err }, // a string of length -1
	} {
		if decode([]byte{0xff, 0xff, 0xff}) == nil {
			t.Errorf("%s decoded garbage", name)
		}
	}
}
