package keyspace

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// KeyEncoder returns a function that appends the canonical encoding of a key
// of type K to dst and returns the extended slice. The encoding is what
// KeyHasher hashes, so it decides which key group, and therefore which
// subtask and which part of a snapshot, a key belongs to. It is part of the
// savepoint format: it depends only on the key's value and the shape of K,
// never on the process, the platform or the release, and it must not change.
//
// The encoding of a value of type T, by T's underlying type (a named type
// encodes exactly as its underlying type; type names play no part):
//
//   - string, when it is K itself: its bytes, unchanged (no length, no
//     terminator).
//   - string inside an array or a struct: its length as an unsigned varint
//     (encoding/binary.AppendUvarint), then its bytes.
//   - bool: one byte, 0x00 for false and 0x01 for true.
//   - int, int8, int16, int32, int64: the value sign-extended to 64 bits, as
//     8 bytes big-endian two's complement.
//   - uint, uint8, uint16, uint32, uint64: the value zero-extended to 64 bits,
//     as 8 bytes big-endian.
//   - float32, float64: the value converted to float64 (exact), then its
//     IEEE-754 binary64 bits as 8 bytes big-endian; -0 encodes as +0 (they
//     are equal under ==) and every NaN as 0x7FF8000000000001.
//   - complex64, complex128: the real part, then the imaginary part, each
//     encoded as a float64.
//   - [N]E whose element's underlying type is uint8 (such as [16]byte): the N
//     bytes as they are.
//   - other arrays [N]E: the encodings of the N elements in index order.
//   - struct: the encodings of its fields in declaration order. Blank (_)
//     fields are skipped because == ignores them; field names play no part.
//
// Consequences worth knowing: int32(7), int64(7) and uint8(7) encode alike,
// so changing the width of an integer key keeps a savepoint's key groups; a
// struct with one string field does not encode like a bare string (it carries
// a length prefix).
//
// Types whose values are not stable across processes cannot be keys:
// pointers, unsafe pointers, uintptrs, channels, functions and interfaces,
// and arrays and structs containing any of them. For those KeyEncoder returns
// an error that names the type and the offending field and says what to key
// by instead. The plan for K is built once, here; the returned function does
// no reflection, does not allocate beyond growing dst, and is safe for
// concurrent use.
func KeyEncoder[K comparable]() (func(dst []byte, k K) []byte, error) {
	plan, err := planFor(reflect.TypeFor[K]())
	if err != nil {
		return nil, err
	}
	return func(dst []byte, k K) []byte {
		return appendPlan(dst, plan, unsafe.Pointer(&k))
	}, nil
}

// KeyHasher returns the function that hashes keys of type K for key-group
// assignment: xxhash64 with seed 0 (github.com/cespare/xxhash/v2) of the
// canonical encoding defined by KeyEncoder. That is, for every k,
// hash(k) == xxhash.Sum64(encode(nil, k)). KeyGroupForHash turns the hash
// into a key group. Like the encoding, the hash is part of the savepoint
// format.
//
// KeyHasher is meant to be called once, when the job is built; it returns the
// same errors as KeyEncoder. The returned function does no reflection and is
// safe for concurrent use. For strings, booleans, integers and floats (and
// named types over them) it hashes without allocating; for arrays and structs
// it encodes into a 128-byte stack buffer and allocates only for keys whose
// encoding exceeds it.
func KeyHasher[K comparable]() (func(K) uint64, error) {
	t := reflect.TypeFor[K]()
	plan, err := planFor(t)
	if err != nil {
		return nil, err
	}
	if h := primitiveHasher[K](t); h != nil {
		return h, nil
	}
	return func(k K) uint64 {
		// A per-call stack buffer rather than a shared or pooled one: the
		// returned function must be safe for concurrent use, and the stack
		// is free.
		var scratch [128]byte
		return xxhash.Sum64(appendPlan(scratch[:0], plan, unsafe.Pointer(&k)))
	}, nil
}

// primitiveHasher returns a specialised hasher when K's underlying type is a
// string, bool, integer or float, and nil otherwise. Each reinterprets the
// key's memory as its underlying type, which is what lets named types such as
// `type AccountID string` share the fast path without reflection per call.
// The results must equal hashing the output of appendPlan; the tests check
// that for every kind.
func primitiveHasher[K comparable](t reflect.Type) func(K) uint64 {
	switch t.Kind() {
	case reflect.String:
		return func(k K) uint64 { return xxhash.Sum64String(*(*string)(unsafe.Pointer(&k))) }
	case reflect.Bool:
		return func(k K) uint64 {
			b := [1]byte{boolByte(*(*bool)(unsafe.Pointer(&k)))}
			return xxhash.Sum64(b[:])
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch t.Size() {
		case 1:
			return func(k K) uint64 { return hashWord(uint64(*(*int8)(unsafe.Pointer(&k)))) }
		case 2:
			return func(k K) uint64 { return hashWord(uint64(*(*int16)(unsafe.Pointer(&k)))) }
		case 4:
			return func(k K) uint64 { return hashWord(uint64(*(*int32)(unsafe.Pointer(&k)))) }
		case 8:
			return func(k K) uint64 { return hashWord(uint64(*(*int64)(unsafe.Pointer(&k)))) }
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch t.Size() {
		case 1:
			return func(k K) uint64 { return hashWord(uint64(*(*uint8)(unsafe.Pointer(&k)))) }
		case 2:
			return func(k K) uint64 { return hashWord(uint64(*(*uint16)(unsafe.Pointer(&k)))) }
		case 4:
			return func(k K) uint64 { return hashWord(uint64(*(*uint32)(unsafe.Pointer(&k)))) }
		case 8:
			return func(k K) uint64 { return hashWord(*(*uint64)(unsafe.Pointer(&k))) }
		}
	case reflect.Float32:
		return func(k K) uint64 { return hashWord(floatBits(float64(*(*float32)(unsafe.Pointer(&k))))) }
	case reflect.Float64:
		return func(k K) uint64 { return hashWord(floatBits(*(*float64)(unsafe.Pointer(&k)))) }
	}
	return nil
}

// hashWord returns xxhash.Sum64 of the 8-byte big-endian encoding of w. It
// is XXH64's path for an 8-byte input written out, small enough to inline,
// which made hashing an int64 key about 40% faster than calling xxhash.Sum64
// on a stack array. The tests compare it with xxhash.Sum64 for every integer
// and float kind and for random words.
func hashWord(w uint64) uint64 {
	const (
		prime1 = 11400714785074694791
		prime2 = 14029467366897019727
		prime3 = 1609587929392839161
		prime4 = 9650029242287828579
		prime5 = 2870177450012600261
	)
	// XXH64 reads input words little-endian; the encoding is big-endian.
	k := bits.ReverseBytes64(w) * prime2
	k = bits.RotateLeft64(k, 31) * prime1
	h := (prime5 + 8) ^ k
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// canonicalNaN is the bit pattern every NaN encodes as (math.NaN()'s), so
// that all NaNs land in one key group. Note that NaN != NaN, so state kept
// for a NaN key can never be found again; avoid NaN keys.
const canonicalNaN = 0x7FF8000000000001

// floatBits returns the encoded bits of f: +0 for ±0, canonicalNaN for every
// NaN, the IEEE-754 bits otherwise.
func floatBits(f float64) uint64 {
	switch {
	case f == 0:
		return 0
	case f != f:
		return canonicalNaN
	}
	return math.Float64bits(f)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// stepCode says how one encodeStep encodes the memory at its offset.
type stepCode uint8

const (
	stepRawString stepCode = iota // a string that is the whole key: bytes only
	stepString                    // a string inside a key: uvarint length, bytes
	stepBool
	stepInt8
	stepInt16
	stepInt32
	stepInt64
	stepUint8
	stepUint16
	stepUint32
	stepUint64
	stepFloat32
	stepFloat64
	stepComplex64
	stepComplex128
	stepBytes // n raw bytes: a [n]uint8
	stepArray // n elements, stride bytes apart, each encoded by elem
)

// encodeStep encodes one leaf of a key type (or one array of them) found at
// offset off from the start of the key. A key type's plan is its leaves in
// declaration order, with nested structs flattened into their parent so that
// encoding walks a flat slice.
type encodeStep struct {
	code   stepCode
	off    uintptr
	n      int          // stepBytes, stepArray: number of elements
	stride uintptr      // stepArray: element size
	elem   []encodeStep // stepArray: plan of one element, offsets relative to it
}

// planFor builds the encoding plan of key type t, or explains why t cannot be
// a key.
func planFor(t reflect.Type) ([]encodeStep, error) {
	if t.Kind() == reflect.String {
		return []encodeStep{{code: stepRawString}}, nil
	}
	return appendSteps(nil, t, 0, t, "key")
}

// appendSteps appends the plan for a value of type t at offset off. root and
// path (a Go-like expression such as key.Owner or key.Parts[i]) only serve
// the error message.
func appendSteps(plan []encodeStep, t reflect.Type, off uintptr, root reflect.Type, path string) ([]encodeStep, error) {
	leaf := func(c stepCode) ([]encodeStep, error) {
		return append(plan, encodeStep{code: c, off: off}), nil
	}
	switch t.Kind() {
	case reflect.String:
		return leaf(stepString)
	case reflect.Bool:
		return leaf(stepBool)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return leaf(intStep(stepInt8, t.Size())) // int is 4 or 8 bytes depending on the platform
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return leaf(intStep(stepUint8, t.Size()))
	case reflect.Float32:
		return leaf(stepFloat32)
	case reflect.Float64:
		return leaf(stepFloat64)
	case reflect.Complex64:
		return leaf(stepComplex64)
	case reflect.Complex128:
		return leaf(stepComplex128)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if t.Len() == 0 {
				return plan, nil
			}
			return append(plan, encodeStep{code: stepBytes, off: off, n: t.Len()}), nil
		}
		elem, err := appendSteps(nil, t.Elem(), 0, root, path+"[i]")
		if err != nil {
			return nil, err
		}
		if len(elem) == 0 || t.Len() == 0 {
			return plan, nil // nothing to encode: zero-length or zero-size elements
		}
		return append(plan, encodeStep{code: stepArray, off: off, n: t.Len(), stride: t.Elem().Size(), elem: elem}), nil
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Name == "_" {
				continue // == ignores blank fields, so equal keys must not differ here
			}
			var err error
			if plan, err = appendSteps(plan, f.Type, off+f.Offset, root, path+"."+f.Name); err != nil {
				return nil, err
			}
		}
		return plan, nil
	}
	return nil, unsupportedKeyError(root, path, t)
}

// intStep returns the step for an integer of size bytes, given the step for
// its one-byte variant; the codes for 1, 2, 4 and 8 bytes are consecutive.
func intStep(oneByte stepCode, size uintptr) stepCode {
	switch size {
	case 1:
		return oneByte
	case 2:
		return oneByte + 1
	case 4:
		return oneByte + 2
	}
	return oneByte + 3
}

// unsupportedKeyError explains why t (found at path inside key type root)
// cannot be part of a key, and what to key by instead.
func unsupportedKeyError(root reflect.Type, path string, t reflect.Type) error {
	var why string
	switch t.Kind() {
	case reflect.Pointer:
		what := "an ID"
		if e := t.Elem(); e.Kind() == reflect.Struct && e.Name() != "" {
			what = "the " + e.Name() + "'s ID" // a pointer to a record: suggest its identity
		}
		why = "pointers are not stable across processes; key by a value such as " + what
	case reflect.UnsafePointer:
		why = "pointers are not stable across processes; key by a value such as an ID"
	case reflect.Uintptr:
		why = "a uintptr holds an address, which is not stable across processes; use uint64 for a number"
	case reflect.Interface:
		why = "an interface's dynamic type is unknown when the job is built, so its encoding cannot be fixed; key by a concrete type"
	case reflect.Chan:
		why = "a channel is not a value that is stable across processes; key by a value such as an ID"
	case reflect.Func:
		why = "a function is not a value that is stable across processes; key by a value such as a name"
	default:
		why = fmt.Sprintf("%s values cannot be compared or hashed stably; key by a string, number or a struct of them", t.Kind())
	}
	if path == "key" {
		return fmt.Errorf("key type %s cannot be a key: %s", root, why)
	}
	return fmt.Errorf("key type %s cannot be a key: %s has type %s, and %s", root, path, t, why)
}

// appendPlan appends the encoding of the value at p according to plan. It is
// a loop over a precomputed plan, not reflection, and p does not escape, so a
// caller's key can stay on its stack.
func appendPlan(dst []byte, plan []encodeStep, p unsafe.Pointer) []byte {
	for i := range plan {
		st := &plan[i]
		q := unsafe.Add(p, st.off)
		switch st.code {
		case stepRawString:
			dst = append(dst, *(*string)(q)...)
		case stepString:
			s := *(*string)(q)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		case stepBool:
			dst = append(dst, boolByte(*(*bool)(q)))
		case stepInt8:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*int8)(q)))
		case stepInt16:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*int16)(q)))
		case stepInt32:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*int32)(q)))
		case stepInt64:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*int64)(q)))
		case stepUint8:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*uint8)(q)))
		case stepUint16:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*uint16)(q)))
		case stepUint32:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*uint32)(q)))
		case stepUint64:
			dst = binary.BigEndian.AppendUint64(dst, *(*uint64)(q))
		case stepFloat32:
			dst = binary.BigEndian.AppendUint64(dst, floatBits(float64(*(*float32)(q))))
		case stepFloat64:
			dst = binary.BigEndian.AppendUint64(dst, floatBits(*(*float64)(q)))
		case stepComplex64:
			c := *(*complex64)(q)
			dst = binary.BigEndian.AppendUint64(dst, floatBits(float64(real(c))))
			dst = binary.BigEndian.AppendUint64(dst, floatBits(float64(imag(c))))
		case stepComplex128:
			c := *(*complex128)(q)
			dst = binary.BigEndian.AppendUint64(dst, floatBits(real(c)))
			dst = binary.BigEndian.AppendUint64(dst, floatBits(imag(c)))
		case stepBytes:
			dst = append(dst, unsafe.Slice((*byte)(q), st.n)...)
		case stepArray:
			for j := range st.n {
				dst = appendPlan(dst, st.elem, unsafe.Add(q, uintptr(j)*st.stride))
			}
		}
	}
	return dst
}
