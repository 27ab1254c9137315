package keyspace_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"unsafe"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/floestream/floe/keyspace"
)

type (
	Celsius  float64
	Name     string
	Blob     []byte
	Point    struct{ X, Y int32 }
	Shipment struct {
		ID       string
		Weight   float32
		Fragile  bool
		Dims     [3]uint16
		Stops    []Point
		Labels   map[string]int64
		Customs  *Point
		Raw      []byte
		Nested   [2][]string
		Route    map[Point][]Name
		Priority int8
		Count    uint
		Z        complex64
		Empty    struct{}
		Ratio    Celsius
	}
	withUnexported struct {
		Public  int
		private string
		_       int64
		more    []int
	}
)

// roundTrip encodes v, decodes it and returns the result, failing the test
// if decoding fails or an appended encoding differs from a fresh one.
func codecRoundTrip[T any](t *testing.T, c keyspace.Codec[T], v T) T {
	t.Helper()
	enc := c.Append(nil, v)
	got, err := c.Decode(enc)
	if err != nil {
		t.Fatalf("%T: decode: %v", v, err)
	}
	// Appending keeps what dst held. (Maps encode in iteration order, so
	// the bytes may differ from enc's; the decoded value may not.)
	prefixed := c.Append([]byte("prefix"), v)
	again, err := c.Decode(prefixed[6:])
	same := reflect.DeepEqual(again, got) || bytes.Equal(c.Append(nil, again), c.Append(nil, got)) // NaN != NaN
	if string(prefixed[:6]) != "prefix" || err != nil || !same {
		t.Fatalf("%T: Append with a prefix: %q…, %v", v, prefixed[:6], err)
	}
	return got
}

// checkRoundTrips checks Decode(Append(v)) == v for random values of T.
func checkRoundTrips[T any](t *testing.T) {
	t.Helper()
	c, err := keyspace.CodecFor[T]()
	if err != nil {
		t.Fatalf("CodecFor[%s]: %v", reflect.TypeFor[T](), err)
	}
	cfg := &quick.Config{MaxCount: 200}
	f := func(v T) bool {
		got := codecRoundTrip(t, c, v)
		return reflect.DeepEqual(got, v)
	}
	if err := quick.Check(f, cfg); err != nil {
		t.Errorf("%s: %v", reflect.TypeFor[T](), err)
	}
}

func TestCodecRoundTripsRandomValues(t *testing.T) {
	t.Run("bool", func(t *testing.T) { checkRoundTrips[bool](t) })
	t.Run("int", func(t *testing.T) { checkRoundTrips[int](t) })
	t.Run("int8", func(t *testing.T) { checkRoundTrips[int8](t) })
	t.Run("int16", func(t *testing.T) { checkRoundTrips[int16](t) })
	t.Run("int32", func(t *testing.T) { checkRoundTrips[int32](t) })
	t.Run("int64", func(t *testing.T) { checkRoundTrips[int64](t) })
	t.Run("uint", func(t *testing.T) { checkRoundTrips[uint](t) })
	t.Run("uint8", func(t *testing.T) { checkRoundTrips[uint8](t) })
	t.Run("uint16", func(t *testing.T) { checkRoundTrips[uint16](t) })
	t.Run("uint32", func(t *testing.T) { checkRoundTrips[uint32](t) })
	t.Run("uint64", func(t *testing.T) { checkRoundTrips[uint64](t) })
	t.Run("uintptr", func(t *testing.T) { checkRoundTrips[uintptr](t) })
	t.Run("float32", func(t *testing.T) { checkRoundTrips[float32](t) })
	t.Run("float64", func(t *testing.T) { checkRoundTrips[Celsius](t) })
	t.Run("complex64", func(t *testing.T) { checkRoundTrips[complex64](t) })
	t.Run("complex128", func(t *testing.T) { checkRoundTrips[complex128](t) })
	t.Run("string", func(t *testing.T) { checkRoundTrips[Name](t) })
	t.Run("struct", func(t *testing.T) { checkRoundTrips[Shipment](t) })
	t.Run("pointer", func(t *testing.T) { checkRoundTrips[*Shipment](t) })
	t.Run("slice", func(t *testing.T) { checkRoundTrips[[]Point](t) })
	t.Run("map", func(t *testing.T) { checkRoundTrips[map[string][]float64](t) })
	t.Run("array", func(t *testing.T) { checkRoundTrips[[4]Name](t) })
	t.Run("byte array", func(t *testing.T) { checkRoundTrips[[16]byte](t) })
	t.Run("slices of slices", func(t *testing.T) { checkRoundTrips[[][]byte](t) })
}

func TestCodecEdgeValues(t *testing.T) {
	f64 := must(keyspace.CodecFor[float64]())
	for _, x := range []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64} {
		if got := codecRoundTrip(t, f64, x); math.Float64bits(got) != math.Float64bits(x) {
			t.Errorf("float64 %v: got bits %x", x, math.Float64bits(got))
		}
	}
	nan := math.Float64frombits(0x7ff8_0000_dead_beef)
	if got := codecRoundTrip(t, f64, nan); math.Float64bits(got) != math.Float64bits(nan) {
		t.Error("a NaN payload did not survive")
	}
	i8 := must(keyspace.CodecFor[int8]())
	if enc := i8.Append(nil, -2); !bytes.Equal(enc, []byte{0xfe}) {
		t.Errorf("int8 -2 encodes as % x, want fe", enc)
	}
	i := must(keyspace.CodecFor[int]())
	if enc := i.Append(nil, math.MinInt64); len(enc) != 8 || codecRoundTrip(t, i, math.MinInt64) != math.MinInt64 {
		t.Errorf("int MinInt64: % x", enc)
	}
	str := must(keyspace.CodecFor[string]())
	if enc := str.Append(nil, "héllo"); string(enc) != "héllo" {
		t.Errorf("string encodes as %q", enc)
	}
	b := must(keyspace.CodecFor[Blob]())
	if got := codecRoundTrip(t, b, nil); got == nil || len(got) != 0 {
		t.Errorf("nil []byte decodes as %#v, want an empty non-nil slice", got)
	}
	src := []byte("shared")
	got, _ := b.Decode(src)
	src[0] = 'X'
	if string(got) != "shared" {
		t.Error("Decode retained its input")
	}

	u := withUnexported{Public: 1, private: "p", more: []int{1, 2}}
	uc := must(keyspace.CodecFor[withUnexported]())
	if got := codecRoundTrip(t, uc, u); !reflect.DeepEqual(got, u) {
		t.Errorf("unexported fields: got %+v, want %+v", got, u)
	}
	ship := Shipment{Stops: []Point{}, Labels: map[string]int64{}, Customs: &Point{1, 2}, Route: map[Point][]Name{{1, 1}: nil, {2, 2}: {"a"}}}
	sc := must(keyspace.CodecFor[Shipment]())
	if got := codecRoundTrip(t, sc, ship); !reflect.DeepEqual(got, ship) {
		t.Errorf("empty versus nil: got %+v, want %+v", got, ship)
	}
	var zero Shipment
	if got := codecRoundTrip(t, sc, zero); !reflect.DeepEqual(got, zero) {
		t.Errorf("zero value: got %+v", got)
	}
}

func TestCodecForProtoMessages(t *testing.T) {
	ts := must(keyspace.CodecFor[*timestamppb.Timestamp]())
	in := &timestamppb.Timestamp{Seconds: 1_700_000_000, Nanos: 5}
	if got := codecRoundTrip(t, ts, in); !proto.Equal(got, in) {
		t.Errorf("Timestamp: got %v, want %v", got, in)
	}
	st := must(keyspace.CodecFor[*structpb.Struct]())
	s := must(structpb.NewStruct(map[string]any{"b": 1.5, "a": "x", "c": []any{true, nil}}))
	enc := st.Append(nil, s)
	for range 5 { // map fields encode deterministically
		if again := st.Append(nil, s); !bytes.Equal(again, enc) {
			t.Fatal("equal messages encoded differently")
		}
	}
	if got := codecRoundTrip(t, st, s); !proto.Equal(got, s) {
		t.Errorf("Struct: got %v, want %v", got, s)
	}
	if got := codecRoundTrip(t, ts, nil); got == nil || got.Seconds != 0 {
		t.Errorf("nil message decodes as %v, want an empty message", got)
	}
	if _, err := ts.Decode([]byte{0xff, 0xff}); err == nil || !strings.Contains(err.Error(), "decode *timestamppb.Timestamp") {
		t.Errorf("bad proto bytes: %v", err)
	}
	// proto messages nested in a struct take the general plan, which cannot
	// follow a message's internals: supply a codec for such a struct.
	if _, err := keyspace.CodecFor[proto.Message](); err == nil || !strings.Contains(err.Error(), "interface") {
		t.Errorf("CodecFor[proto.Message]: %v", err)
	}
	if _, err := keyspace.CodecFor[wrapperspb.StringValue](); err == nil || !strings.Contains(err.Error(), "pointer to a generated message type") {
		t.Errorf("CodecFor of a message value type: %v", err)
	}
}

func TestCodecForRejectsUnsupportedTypes(t *testing.T) {
	type (
		withChan   struct{ C chan int }
		withFunc   struct{ Inner struct{ F func() } }
		withIface  struct{ Payload any }
		withUnsafe struct{ P unsafe.Pointer }
		list       struct {
			V    int
			Next *list
		}
		tree  struct{ Children []tree }
		graph map[string]graph
	)
	tests := []struct {
		err  error
		want []string
	}{
		{codecErrOf[chan int](), []string{"chan int", "channel"}},
		{codecErrOf[withChan](), []string{"withChan", "value.C has type chan int", "channel", "WithValueCodec"}},
		{codecErrOf[withFunc](), []string{"value.Inner.F has type func()", "function"}},
		{codecErrOf[withIface](), []string{"value.Payload has type interface {}", "concrete type"}},
		{codecErrOf[withUnsafe](), []string{"unsafe.Pointer"}},
		{codecErrOf[list](), []string{"keyspace_test.list", "contains itself"}},
		{codecErrOf[tree](), []string{"contains itself"}},
		{codecErrOf[graph](), []string{"contains itself"}},
		{codecErrOf[[]any](), []string{"value[i] has type interface {}"}},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("no error, want one mentioning %q", tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(tt.err.Error(), w) {
				t.Errorf("error %q does not mention %q", tt.err, w)
			}
		}
	}
}

func codecErrOf[T any]() error {
	_, err := keyspace.CodecFor[T]()
	return err
}

// TestCodecDecodeNeverPanics feeds garbage, truncations and bit flips of
// valid encodings to decoders: they must return an error or a value, never
// panic or allocate without bound.
func TestCodecDecodeNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ship := Shipment{ID: "x", Stops: []Point{{1, 2}}, Labels: map[string]int64{"a": 1}, Customs: &Point{}, Raw: []byte("raw"), Route: map[Point][]Name{{}: {"n"}}}
	sc, ec := must(keyspace.CodecFor[Shipment]()), must(keyspace.CodecFor[[]struct{}]())
	ic, bc := must(keyspace.CodecFor[int64]()), must(keyspace.CodecFor[bool]())
	decoders := []struct {
		name   string
		valid  []byte
		decode func([]byte) error
	}{
		{"struct", sc.Append(nil, ship), func(b []byte) error { _, err := sc.Decode(b); return err }},
		{"empty structs", ec.Append(nil, make([]struct{}, 3)), func(b []byte) error { _, err := ec.Decode(b); return err }},
		{"int64", ic.Append(nil, 5), func(b []byte) error { _, err := ic.Decode(b); return err }},
		{"bool", []byte{1}, func(b []byte) error { _, err := bc.Decode(b); return err }},
	}
	for _, d := range decoders {
		for i := range 2000 {
			var in []byte
			switch i % 3 {
			case 0:
				in = make([]byte, r.IntN(40))
				for j := range in {
					in[j] = byte(r.UintN(256))
				}
			case 1:
				in = d.valid[:r.IntN(len(d.valid)+1)]
			case 2:
				in = bytes.Clone(d.valid)
				in[r.IntN(len(in))] ^= byte(1 << r.IntN(8))
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s: Decode(% x) panicked: %v", d.name, in, p)
					}
				}()
				d.decode(in)
			}()
		}
		if err := d.decode(append(bytes.Clone(d.valid), 0)); err == nil {
			t.Errorf("%s: trailing byte accepted", d.name)
		}
	}
}
