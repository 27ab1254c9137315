package keyspace_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/floestream/floe/keyspace"
)

type (
	AccountID string
	Level     int8
	Score     float32
	Flag      bool
	Octet     uint8
	Pair      struct {
		A string
		B int32
	}
	Nested struct {
		P    Pair
		Tags [2]string
		Raw  [3]Octet
		On   Flag
		F    float64
		C    complex64
		U    uint
		Ps   [2]Pair
		None struct{}
	}
	WithBlank struct {
		ID int64
		_  [4]byte
	}
	Order struct{ ID string }
	User  struct{ Name string }
)

// hasherAndEncoder builds both functions for K or fails the test.
func hasherAndEncoder[K comparable](t *testing.T) (func(K) uint64, func([]byte, K) []byte) {
	t.Helper()
	hash, err := keyspace.KeyHasher[K]()
	if err != nil {
		t.Fatalf("KeyHasher[%s]: %v", reflect.TypeFor[K](), err)
	}
	enc, err := keyspace.KeyEncoder[K]()
	if err != nil {
		t.Fatalf("KeyEncoder[%s]: %v", reflect.TypeFor[K](), err)
	}
	return hash, enc
}

// checkHashMatchesEncoding asserts the contract between KeyHasher and
// KeyEncoder for each key, and that the encoder appends rather than
// overwrites.
func checkHashMatchesEncoding[K comparable](t *testing.T, keys ...K) {
	t.Helper()
	hash, enc := hasherAndEncoder[K](t)
	for _, k := range keys {
		e := enc(nil, k)
		if got, want := hash(k), xxhash.Sum64(e); got != want {
			t.Errorf("%T %v: KeyHasher = %#x, xxhash.Sum64(KeyEncoder) = %#x (encoding % x)", k, k, got, want, e)
		}
		prefixed := enc([]byte("prefix"), k)
		if !bytes.Equal(prefixed, append([]byte("prefix"), e...)) {
			t.Errorf("%T %v: KeyEncoder with a prefix = % x, want prefix then % x", k, k, prefixed, e)
		}
	}
}

func TestKeyHasherMatchesEncoderForEveryKind(t *testing.T) {
	t.Run("string", func(t *testing.T) {
		checkHashMatchesEncoding(t, "", "a", "hello", "🦀 floe", strings.Repeat("x", 1000))
	})
	t.Run("named string", func(t *testing.T) { checkHashMatchesEncoding[AccountID](t, "", "acct-1") })
	t.Run("bool", func(t *testing.T) { checkHashMatchesEncoding(t, false, true) })
	t.Run("named bool", func(t *testing.T) { checkHashMatchesEncoding[Flag](t, false, true) })
	t.Run("int", func(t *testing.T) { checkHashMatchesEncoding(t, 0, 1, -1, math.MaxInt, math.MinInt) })
	t.Run("int8", func(t *testing.T) { checkHashMatchesEncoding[int8](t, 0, 1, -1, math.MaxInt8, math.MinInt8) })
	t.Run("int16", func(t *testing.T) { checkHashMatchesEncoding[int16](t, 0, -1, math.MaxInt16, math.MinInt16) })
	t.Run("int32", func(t *testing.T) { checkHashMatchesEncoding[int32](t, 0, -1, math.MaxInt32, math.MinInt32) })
	t.Run("int64", func(t *testing.T) { checkHashMatchesEncoding[int64](t, 0, -1, math.MaxInt64, math.MinInt64) })
	t.Run("named int8", func(t *testing.T) { checkHashMatchesEncoding[Level](t, -7, 7) })
	t.Run("uint", func(t *testing.T) { checkHashMatchesEncoding[uint](t, 0, 1, math.MaxUint) })
	t.Run("uint8", func(t *testing.T) { checkHashMatchesEncoding[uint8](t, 0, 1, math.MaxUint8) })
	t.Run("uint16", func(t *testing.T) { checkHashMatchesEncoding[uint16](t, 0, math.MaxUint16) })
	t.Run("uint32", func(t *testing.T) { checkHashMatchesEncoding[uint32](t, 0, math.MaxUint32) })
	t.Run("uint64", func(t *testing.T) { checkHashMatchesEncoding[uint64](t, 0, 1<<63, math.MaxUint64) })
	t.Run("named uint8", func(t *testing.T) { checkHashMatchesEncoding[Octet](t, 0, 200) })
	t.Run("float32", func(t *testing.T) {
		checkHashMatchesEncoding(t, float32(0), float32(math.Copysign(0, -1)), 1.5, float32(math.Inf(-1)), float32(math.NaN()))
	})
	t.Run("float64", func(t *testing.T) {
		checkHashMatchesEncoding(t, 0, math.Copysign(0, -1), 1.5, math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64)
	})
	t.Run("named float32", func(t *testing.T) { checkHashMatchesEncoding[Score](t, 0, 2.25) })
	t.Run("complex64", func(t *testing.T) { checkHashMatchesEncoding[complex64](t, 0, complex(1, -2)) })
	t.Run("complex128", func(t *testing.T) { checkHashMatchesEncoding[complex128](t, 0, complex(1, -2)) })
	t.Run("byte array", func(t *testing.T) { checkHashMatchesEncoding(t, [16]byte{}, [16]byte{1, 2, 3, 255}) })
	t.Run("empty array", func(t *testing.T) { checkHashMatchesEncoding(t, [0]int{}) })
	t.Run("int array", func(t *testing.T) { checkHashMatchesEncoding(t, [3]int{}, [3]int{1, -2, 3}) })
	t.Run("string array", func(t *testing.T) { checkHashMatchesEncoding(t, [2]string{}, [2]string{"a", "bc"}) })
	t.Run("struct", func(t *testing.T) {
		checkHashMatchesEncoding(t, Pair{}, Pair{"ab", 7}, Pair{strings.Repeat("y", 300), -1})
	})
	t.Run("empty struct", func(t *testing.T) { checkHashMatchesEncoding(t, struct{}{}) })
	t.Run("nested", func(t *testing.T) {
		checkHashMatchesEncoding(t, Nested{}, Nested{
			P: Pair{"p", 1}, Tags: [2]string{"t1", "t2"}, Raw: [3]Octet{1, 2, 3}, On: true,
			F: -2.5, C: complex(3, 4), U: 99, Ps: [2]Pair{{"x", 2}, {"yy", 3}},
		})
	})
	t.Run("blank field", func(t *testing.T) { checkHashMatchesEncoding(t, WithBlank{ID: 5}) })
}

// TestKeyHasherRandomWords compares the inlined 8-byte hash with
// xxhash.Sum64 over random values, beyond the boundary values above.
func TestKeyHasherRandomWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 10_000)
	for i := range keys {
		keys[i] = r.Uint64()
	}
	checkHashMatchesEncoding(t, keys...)
}

func TestKeyEncoderCanonicalBytes(t *testing.T) {
	be := func(bs ...byte) []byte { return bs }
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"string is its bytes", encode(t, "hi"), be('h', 'i')},
		{"named string like string", encode(t, AccountID("hi")), be('h', 'i')},
		{"true", encode(t, true), be(1)},
		{"false", encode(t, false), be(0)},
		{"int8 sign-extended", encode(t, int8(-1)), be(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"int32 big-endian", encode(t, int32(0x01020304)), be(0, 0, 0, 0, 1, 2, 3, 4)},
		{"uint8 zero-extended", encode(t, uint8(0xff)), be(0, 0, 0, 0, 0, 0, 0, 0xff)},
		{"uint64", encode(t, uint64(1)<<63), be(0x80, 0, 0, 0, 0, 0, 0, 0)},
		{"float64", encode(t, 1.0), be(0x3f, 0xf0, 0, 0, 0, 0, 0, 0)},
		{"float32 widened", encode(t, float32(1.0)), be(0x3f, 0xf0, 0, 0, 0, 0, 0, 0)},
		{"-0 as +0", encode(t, math.Copysign(0, -1)), be(0, 0, 0, 0, 0, 0, 0, 0)},
		{"NaN canonical", encode(t, math.Float64frombits(0x7ff8000000000abc)), be(0x7f, 0xf8, 0, 0, 0, 0, 0, 1)},
		{"complex", encode(t, complex64(complex(1, 0))), be(0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"byte array raw", encode(t, [3]Octet{1, 2, 3}), be(1, 2, 3)},
		{"string array prefixed", encode(t, [2]string{"a", ""}), be(1, 'a', 0)},
		{"struct fields in order", encode(t, struct {
			Name string
			ID   uint16
		}{"ab", 7}), be(2, 'a', 'b', 0, 0, 0, 0, 0, 0, 0, 7)},
		{"long string uvarint", encode(t, [1]string{strings.Repeat("z", 200)})[:2], be(0xc8, 0x01)},
		{"blank field skipped", encode(t, WithBlank{ID: 1}), be(0, 0, 0, 0, 0, 0, 0, 1)},
		{"empty struct", encode(t, struct{}{}), nil},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: encoding % x, want % x", tt.name, tt.got, tt.want)
		}
	}
}

func encode[K comparable](t *testing.T, k K) []byte {
	t.Helper()
	_, enc := hasherAndEncoder[K](t)
	return enc(nil, k)
}

func hash[K comparable](t *testing.T, k K) uint64 {
	t.Helper()
	h, _ := hasherAndEncoder[K](t)
	return h(k)
}

// TestKeyHashGolden pins hash values. They are part of the savepoint format:
// if this test fails, keys would move to other key groups and existing
// savepoints could no longer be restored. Do not update the values; fix the
// change instead.
func TestKeyHashGolden(t *testing.T) {
	tests := []struct {
		name string
		got  uint64
		want uint64
		kg   int // key group at DefaultMaxParallelism
	}{
		{`""`, hash(t, ""), 0xef46db3751d8e999, 25},
		{`"a"`, hash(t, "a"), 0xd24ec4f1a98c6e5b, 91},
		{`"hello"`, hash(t, "hello"), 0x26c7827d889f6da3, 35},
		{`"account-42"`, hash(t, "account-42"), 0x29db3f4a985540a3, 35},
		{`AccountID("account-42")`, hash(t, AccountID("account-42")), 0x29db3f4a985540a3, 35},
		{`"🦀 floe"`, hash(t, "🦀 floe"), 0x397e060f893f869e, 30},
		{"int64(0)", hash(t, int64(0)), 0x34c96acdcadb1bbb, 59},
		{"int64(1)", hash(t, int64(1)), 0x9f1ffc793b8a47da, 90},
		{"int64(-1)", hash(t, int64(-1)), 0x85d136adb773c6c9, 73},
		{"int(42)", hash(t, 42), 0xa2c396223f8bdbdf, 95},
		{"int32(42)", hash(t, int32(42)), 0xa2c396223f8bdbdf, 95},
		{"uint8(42)", hash(t, uint8(42)), 0xa2c396223f8bdbdf, 95},
		{"int64(1<<40)", hash(t, int64(1)<<40), 0x210f2c43553cf450, 80},
		{"int64(MinInt64)", hash(t, int64(math.MinInt64)), 0xa7299a58d03a1d0c, 12},
		{"false", hash(t, false), 0xe934a84adb052768, 104},
		{"true", hash(t, true), 0x8a4127811b21e730, 48},
		{`struct{"ab", uint16(7)}`, hash(t, struct {
			Name string
			ID   uint16
		}{"ab", 7}), 0x40b69be9d1245b1c, 28},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("hash of %s = %#016x, want %#016x: the key encoding or hash changed, which breaks savepoints", tt.name, tt.got, tt.want)
		}
		if kg := keyspace.KeyGroupForHash(tt.got, keyspace.DefaultMaxParallelism); kg != tt.kg {
			t.Errorf("key group of %s = %d, want %d", tt.name, kg, tt.kg)
		}
	}
}

func TestEqualKeysHashEqual(t *testing.T) {
	if a, b := hash(t, 0.0), hash(t, math.Copysign(0, -1)); a != b {
		t.Errorf("+0 and -0 hash to %#x and %#x, want equal", a, b)
	}
	if a, b := hash(t, math.NaN()), hash(t, math.Float64frombits(0xfff0000000000001)); a != b {
		t.Errorf("two NaNs hash to %#x and %#x, want equal", a, b)
	}
	// Keys that differ only in a blank field are == and must hash alike.
	x, y := WithBlank{ID: 9}, WithBlank{ID: 9}
	blank := reflect.TypeFor[WithBlank]().Field(1)
	*(*[4]byte)(unsafe.Add(unsafe.Pointer(&y), blank.Offset)) = [4]byte{1, 2, 3, 4}
	if x != y {
		t.Fatal("test setup: keys differing in a blank field should be ==")
	}
	if a, b := hash(t, x), hash(t, y); a != b {
		t.Errorf("keys differing in a blank field hash to %#x and %#x, want equal", a, b)
	}
}

func TestKeyHasherRejectsUnstableTypes(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
		want []string
	}{
		{"pointer", errOf[*Order], []string{
			"key type *keyspace_test.Order cannot be a key: pointers are not stable across processes; key by a value such as the Order's ID"}},
		{"interface", errOf[any], []string{"key type interface {} cannot be a key", "key by a concrete type"}},
		{"error interface", errOf[error], []string{"key type error cannot be a key", "interface"}},
		{"channel", errOf[chan int], []string{"key type chan int cannot be a key", "channel"}},
		{"unsafe pointer", errOf[unsafe.Pointer], []string{"key type unsafe.Pointer cannot be a key", "pointers are not stable"}},
		{"uintptr", errOf[uintptr], []string{"key type uintptr cannot be a key", "use uint64"}},
		{"struct with pointer", errOf[struct {
			ID    string
			Owner *User
		}], []string{"key.Owner has type *keyspace_test.User", "pointers are not stable across processes", "the User's ID"}},
		{"array of interfaces", errOf[[2]any], []string{"key[i] has type interface {}", "concrete type"}},
		{"nested", errOf[struct{ Parts [2]struct{ Ref *int } }], []string{"key.Parts[i].Ref has type *int", "key by a value such as an ID"}},
	}
	for _, tt := range tests {
		err := tt.err()
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
			}
		}
	}
}

// errOf returns KeyHasher's error for K after checking that KeyEncoder
// agrees.
func errOf[K comparable]() error {
	h, herr := keyspace.KeyHasher[K]()
	e, eerr := keyspace.KeyEncoder[K]()
	if (herr == nil) != (eerr == nil) || (herr != nil && herr.Error() != eerr.Error()) {
		return fmt.Errorf("KeyHasher error %v and KeyEncoder error %v disagree", herr, eerr)
	}
	if herr != nil && (h != nil || e != nil) {
		return fmt.Errorf("a function returned along with error %v", herr)
	}
	return herr
}

func TestKeyHashDistribution(t *testing.T) {
	const keys, groups = 100_000, keyspace.DefaultMaxParallelism
	h, _ := hasherAndEncoder[string](t)
	var counts [groups]int
	for i := range keys {
		counts[keyspace.KeyGroupForHash(h(fmt.Sprintf("user-%d", i)), groups)]++
	}
	mean := float64(keys) / groups
	for kg, n := range counts {
		if float64(n) < 0.8*mean || float64(n) > 1.2*mean {
			t.Errorf("key group %d holds %d keys, want within ±20%% of the mean %.0f", kg, n, mean)
		}
	}
}

func TestKeyHashingDoesNotAllocate(t *testing.T) {
	str, _ := hasherAndEncoder[string](t)
	acct, _ := hasherAndEncoder[AccountID](t)
	i64, _ := hasherAndEncoder[int64](t)
	f32, _ := hasherAndEncoder[float32](t)
	pair, encPair := hasherAndEncoder[Pair](t)
	_, encNested := hasherAndEncoder[Nested](t)
	s := strings.Repeat("k", 40)
	buf := make([]byte, 0, 512)
	tests := map[string]func(){
		"string":                  func() { str(s) },
		"AccountID":               func() { acct(AccountID(s)) },
		"int64":                   func() { i64(-42) },
		"float32":                 func() { f32(1.5) },
		"struct":                  func() { pair(Pair{s, 3}) },
		"encode struct into room": func() { encPair(buf[:0], Pair{s, 3}) },
		"encode nested into room": func() { encNested(buf[:0], Nested{Tags: [2]string{s, s}}) },
	}
	for name, f := range tests {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per hash, want 0", name, n)
		}
	}
}

func TestKeyHasherConcurrentUse(t *testing.T) {
	h, _ := hasherAndEncoder[Nested](t)
	keys := make([]Nested, 64)
	want := make([]uint64, len(keys))
	for i := range keys {
		keys[i] = Nested{P: Pair{fmt.Sprint(i), int32(i)}, Tags: [2]string{"a", strings.Repeat("b", i)}, U: uint(i)}
		want[i] = h(keys[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 200 {
				i := (g*31 + round) % len(keys)
				if got := h(keys[i]); got != want[i] {
					t.Errorf("goroutine %d: hash of key %d = %#x, want %#x", g, i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

var sinkHash uint64

func BenchmarkKeyHasherString(b *testing.B) {
	h, err := keyspace.KeyHasher[string]()
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("account-%08d", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkHash += h(keys[i&1023])
	}
}

func BenchmarkKeyHasherInt64(b *testing.B) {
	h, err := keyspace.KeyHasher[int64]()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		sinkHash += h(i)
	}
}

func BenchmarkKeyHasherStruct(b *testing.B) {
	h, err := keyspace.KeyHasher[Pair]()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := int32(0); b.Loop(); i++ {
		sinkHash += h(Pair{A: "account-00001234", B: i})
	}
}
