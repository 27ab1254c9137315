package keyspace

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
)

type testKey struct {
	Region string
	ID     int32
	Shard  uint8
	Weight float32
	Tags   [2]string
	Raw    [4]byte
	On     bool
	C      complex64
}

// checkKeyRoundTrip checks that the canonical key encoding decodes back to
// the key for random keys of type K.
func checkKeyRoundTrip[K comparable](t *testing.T) {
	t.Helper()
	c, err := newKeyCodec[K]()
	if err != nil {
		t.Fatal(err)
	}
	f := func(k K) bool {
		got, err := c.Decode(c.Append(nil, k))
		return err == nil && got == k
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
		t.Errorf("%s: %v", reflect.TypeFor[K](), err)
	}
}

func TestKeyCodecRoundTrips(t *testing.T) {
	checkKeyRoundTrip[string](t)
	checkKeyRoundTrip[int8](t)
	checkKeyRoundTrip[int](t)
	checkKeyRoundTrip[uint16](t)
	checkKeyRoundTrip[uint64](t)
	checkKeyRoundTrip[float64](t)
	checkKeyRoundTrip[bool](t)
	checkKeyRoundTrip[[16]byte](t)
	checkKeyRoundTrip[testKey](t)

	c, _ := newKeyCodec[float64]()
	if got, _ := c.Decode(c.Append(nil, math.Copysign(0, -1))); math.Signbit(got) {
		t.Error("-0 should decode as +0, its canonical encoding")
	}
	if _, err := c.Decode([]byte{1, 2, 3}); err == nil {
		t.Error("a truncated key decoded")
	}
	s, _ := newKeyCodec[testKey]()
	enc := s.Append(nil, testKey{Region: "eu"})
	if _, err := s.Decode(append(enc, 0)); err == nil || !strings.Contains(err.Error(), "left over") {
		t.Errorf("trailing byte: %v", err)
	}
}

func TestListFramingHandlesLongElements(t *testing.T) {
	c := listCodec[string]{elem: stringCodec[string]{}}
	in := []string{"", "a", strings.Repeat("x", 127), strings.Repeat("y", 128), strings.Repeat("z", 70000)}
	enc := c.Append(nil, in)
	got, err := c.Decode(enc)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip: %d elements, %v", len(got), err)
	}
	// Appending element by element, as list Add does, gives the same bytes.
	var one []byte
	for _, s := range in {
		one = appendListElem(one, c.elem, s)
	}
	if !bytes.Equal(one, enc) {
		t.Error("appending elements one by one differs from encoding the list")
	}
	if _, err := c.Decode(enc[:len(enc)-1]); err == nil {
		t.Error("a truncated list decoded")
	}
}
