package keyspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unsafe"

	"google.golang.org/protobuf/proto"
)

// Codec encodes and decodes the values of a state: what Pebble stores, what
// snapshots hold, and what operator and broadcast state write. CodecFor
// derives one for most Go types; WithValueCodec and WithUserKeyCodec supply
// one for the rest, or replace the derived one.
//
// The contract every implementation keeps:
//
//   - Append appends one encoding of v to dst and returns the extended slice.
//     It may grow dst but must not keep a reference to it.
//   - Decode receives exactly the bytes of one Append (no more, no less) and
//     returns the value. It must not retain src, whose bytes the caller may
//     reuse as soon as Decode returns; decoded strings and slices are copies.
//     Malformed input is an error, never a panic.
//   - Decode(Append(nil, v)) is equal to v, up to what the codec documents
//     (CodecFor documents where a round trip is not exact).
//   - Both methods are safe for concurrent use: one codec value may serve the
//     states of every subtask in a process.
//
// A value codec's encoding is part of the snapshot format of the states that
// use it: changing it, or a state's value type, strands existing snapshots.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended slice.
	Append(dst []byte, v T) []byte
	// Decode decodes one encoding produced by Append.
	Decode(src []byte) (T, error)
}

// CodecFor returns the codec floe uses for values of type T, choosing it once
// by reflection; the codec itself does no reflection on the fast paths. By T
// (a named type encodes as its underlying type):
//
//   - bool: one byte, 0 or 1.
//   - integers: fixed width, big-endian two's complement: 1, 2, 4 or 8 bytes
//     as the type's size says; int, uint and uintptr always take 8 bytes.
//   - float32, float64: the IEEE-754 bits, 4 or 8 bytes big-endian (NaN
//     payloads and -0 survive); complex64 and complex128: real then
//     imaginary part.
//   - string: its bytes. []byte (any slice of a byte-sized unsigned type):
//     its bytes; a nil and an empty slice both decode as an empty, non-nil
//     slice.
//   - a pointer type implementing proto.Message (generated messages, such as
//     *pb.Order): proto.Marshal with deterministic map order, and
//     proto.Unmarshal into a fresh message. A nil message decodes as an
//     empty one.
//   - structs, arrays, slices, maps and pointers of supported types: a
//     binary encoding driven by a plan built here. Struct fields in
//     declaration order (unexported ones included, blank ones skipped);
//     strings and []byte nested in them carry a uvarint length; slices and
//     maps carry a uvarint of length+1, with 0 for nil, so nil and empty
//     round-trip exactly; pointers a 0 (nil) or 1 byte before the pointee.
//     Map entries come in Go's iteration order, so equal maps may encode
//     differently, but they decode equal. Pointers are followed, not shared:
//     two fields pointing at one value decode as two values.
//
// Types that cannot be stored make CodecFor fail with an error that names
// the type and the offending field: channels, functions, unsafe pointers,
// interfaces (including an interface type such as proto.Message itself), and
// recursive types (a type that contains itself through a pointer, slice or
// map). For those, supply a codec with WithValueCodec.
func CodecFor[T any]() (Codec[T], error) {
	t := reflect.TypeFor[T]()
	if t.Implements(protoMessageType) && t.Kind() != reflect.Interface {
		if t.Kind() != reflect.Pointer {
			return nil, unsupportedValueError(t, "value", t, "a proto.Message must be stored as a pointer to a generated message type such as *pb.Order")
		}
		return protoCodec[T]{}, nil
	}
	if t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(protoMessageType) {
		return nil, fmt.Errorf("cannot derive a codec for %s: it is a generated protobuf message, which is stored as a pointer to a generated message type: use *%s", t, t)
	}
	if c := primitiveCodec[T](t); c != nil {
		return c, nil
	}
	p, err := planValue(t, t, "value", map[reflect.Type]bool{})
	if err != nil {
		return nil, err
	}
	return &planCodec[T]{t: t, plan: p, min: planMin(p)}, nil
}

var protoMessageType = reflect.TypeFor[proto.Message]()

// primitiveCodec returns the fast-path codec for a T whose underlying type is
// a bool, number, string or byte slice, and nil otherwise. Each codec
// reinterprets the value's memory as its underlying type, which is what lets
// named types share the fast path.
func primitiveCodec[T any](t reflect.Type) Codec[T] {
	switch t.Kind() {
	case reflect.Bool:
		return boolCodec[T]{}
	case reflect.Int8, reflect.Uint8:
		return fixed8Codec[T]{}
	case reflect.Int16, reflect.Uint16:
		return fixed16Codec[T]{}
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return fixed32Codec[T]{}
	case reflect.Int64, reflect.Uint64, reflect.Float64:
		return fixed64Codec[T]{}
	case reflect.Complex64:
		return complex64Codec[T]{}
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		if t.Size() == 8 {
			return fixed64Codec[T]{}
		}
		return nil // 32-bit platforms take the plan, which widens to 8 bytes
	case reflect.Complex128:
		return complex128Codec[T]{}
	case reflect.String:
		return stringCodec[T]{}
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Uint8 {
			return bytesCodec[T]{}
		}
	}
	return nil
}

// errLength reports a fixed-width encoding of the wrong size.
func errLength[T any](got, want int) error {
	return fmt.Errorf("decode %s: got %d bytes, want %d: the stored bytes were written with another codec or are corrupt",
		reflect.TypeFor[T](), got, want)
}

type boolCodec[T any] struct{}

func (boolCodec[T]) Append(dst []byte, v T) []byte {
	return append(dst, boolByte(*(*bool)(unsafe.Pointer(&v))))
}

func (boolCodec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 1 || src[0] > 1 {
		return v, fmt.Errorf("decode %s: want one byte 0 or 1, got % x", reflect.TypeFor[T](), src)
	}
	*(*bool)(unsafe.Pointer(&v)) = src[0] == 1
	return v, nil
}

// The fixed-width codecs copy the value's bits big-endian; signedness and
// float-ness do not matter to them, only the size.

type fixed8Codec[T any] struct{}

func (fixed8Codec[T]) Append(dst []byte, v T) []byte {
	return append(dst, *(*uint8)(unsafe.Pointer(&v)))
}

func (fixed8Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 1 {
		return v, errLength[T](len(src), 1)
	}
	*(*uint8)(unsafe.Pointer(&v)) = src[0]
	return v, nil
}

type fixed16Codec[T any] struct{}

func (fixed16Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint16(dst, *(*uint16)(unsafe.Pointer(&v)))
}

func (fixed16Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 2 {
		return v, errLength[T](len(src), 2)
	}
	*(*uint16)(unsafe.Pointer(&v)) = binary.BigEndian.Uint16(src)
	return v, nil
}

type fixed32Codec[T any] struct{}

func (fixed32Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint32(dst, *(*uint32)(unsafe.Pointer(&v)))
}

func (fixed32Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 4 {
		return v, errLength[T](len(src), 4)
	}
	*(*uint32)(unsafe.Pointer(&v)) = binary.BigEndian.Uint32(src)
	return v, nil
}

type fixed64Codec[T any] struct{}

func (fixed64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint64(dst, *(*uint64)(unsafe.Pointer(&v)))
}

func (fixed64Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 8 {
		return v, errLength[T](len(src), 8)
	}
	*(*uint64)(unsafe.Pointer(&v)) = binary.BigEndian.Uint64(src)
	return v, nil
}

type complex64Codec[T any] struct{}

func (complex64Codec[T]) Append(dst []byte, v T) []byte {
	c := *(*complex64)(unsafe.Pointer(&v))
	dst = binary.BigEndian.AppendUint32(dst, math.Float32bits(real(c)))
	return binary.BigEndian.AppendUint32(dst, math.Float32bits(imag(c)))
}

func (complex64Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 8 {
		return v, errLength[T](len(src), 8)
	}
	*(*complex64)(unsafe.Pointer(&v)) = complex(
		math.Float32frombits(binary.BigEndian.Uint32(src)),
		math.Float32frombits(binary.BigEndian.Uint32(src[4:])))
	return v, nil
}

type complex128Codec[T any] struct{}

func (complex128Codec[T]) Append(dst []byte, v T) []byte {
	c := *(*complex128)(unsafe.Pointer(&v))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(real(c)))
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(imag(c)))
}

func (complex128Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 16 {
		return v, errLength[T](len(src), 16)
	}
	*(*complex128)(unsafe.Pointer(&v)) = complex(
		math.Float64frombits(binary.BigEndian.Uint64(src)),
		math.Float64frombits(binary.BigEndian.Uint64(src[8:])))
	return v, nil
}

type stringCodec[T any] struct{}

func (stringCodec[T]) Append(dst []byte, v T) []byte {
	return append(dst, *(*string)(unsafe.Pointer(&v))...)
}

func (stringCodec[T]) Decode(src []byte) (T, error) {
	var v T
	*(*string)(unsafe.Pointer(&v)) = string(src)
	return v, nil
}

type bytesCodec[T any] struct{}

func (bytesCodec[T]) Append(dst []byte, v T) []byte {
	return append(dst, *(*[]byte)(unsafe.Pointer(&v))...)
}

func (bytesCodec[T]) Decode(src []byte) (T, error) {
	var v T
	*(*[]byte)(unsafe.Pointer(&v)) = append([]byte{}, src...)
	return v, nil
}

// protoCodec encodes generated protobuf messages. T is a pointer type that
// implements proto.Message.
type protoCodec[T any] struct{}

// deterministic makes equal messages with map fields encode alike, so that
// snapshots of equal state are equal.
var deterministic = proto.MarshalOptions{Deterministic: true}

// Append panics if proto.Marshal fails, which for generated messages happens
// only for invalid content such as a string field holding invalid UTF-8:
// the Codec contract gives Append no error to return, and storing such a
// message is a bug in the operator.
func (protoCodec[T]) Append(dst []byte, v T) []byte {
	out, err := deterministic.MarshalAppend(dst, any(v).(proto.Message))
	if err != nil {
		panic(fmt.Sprintf("keyspace: encode %s: %v", reflect.TypeFor[T](), err))
	}
	return out
}

func (protoCodec[T]) Decode(src []byte) (T, error) {
	var zero T
	m := any(zero).(proto.Message).ProtoReflect().Type().New().Interface()
	if err := proto.Unmarshal(src, m); err != nil {
		return zero, fmt.Errorf("decode %s: %w", reflect.TypeFor[T](), err)
	}
	return m.(T), nil
}

// planCodec is the general codec: a precomputed plan of steps over the
// value's memory.
type planCodec[T any] struct {
	t    reflect.Type
	plan []vstep
	min  int
}

func (c *planCodec[T]) Append(dst []byte, v T) []byte {
	return appendValue(dst, c.plan, unsafe.Pointer(&v))
}

func (c *planCodec[T]) Decode(src []byte) (T, error) {
	var v T
	rest, err := decodeValue(src, c.plan, unsafe.Pointer(&v))
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d bytes left over", len(rest))
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w: the stored bytes were written with another codec or are corrupt", c.t, err)
	}
	return v, nil
}

// vcode says how one vstep encodes the memory at its offset.
type vcode uint8

const (
	vBool vcode = iota
	vFixed8
	vFixed16
	vFixed32
	vFixed64
	vInt32To64  // int or uintptr on a 32-bit platform, widened to 8 bytes
	vUint32To64 // uint on a 32-bit platform
	vComplex64
	vComplex128
	vString
	vByteArray // n raw bytes
	vArray     // n elements, stride apart, each encoded by elem
	vByteSlice // uvarint(len+1) then the bytes; 0 for nil
	vSlice     // uvarint(len+1) then the elements; 0 for nil
	vMap       // uvarint(len+1) then key, value pairs; 0 for nil
	vPointer   // 0 for nil, or 1 then the pointee
)

// vstep encodes one leaf, array, slice, map or pointer at offset off from the
// start of the value; nested structs are flattened into their parent.
type vstep struct {
	code    vcode
	off     uintptr
	n       int          // vByteArray, vArray: number of elements
	stride  uintptr      // vArray, vSlice: element size
	t       reflect.Type // vSlice, vMap, vPointer: the type at off
	elem    []vstep      // vArray, vSlice, vPointer: plan of one element; vMap: of one value
	key     []vstep      // vMap: plan of one key
	elemMin int          // vSlice, vMap: least bytes one element (or entry) encodes to
}

// planValue builds the plan for type t. root and path name the value for
// errors; inProgress holds the types being planned, to detect recursion.
func planValue(t, root reflect.Type, path string, inProgress map[reflect.Type]bool) ([]vstep, error) {
	return appendValueSteps(nil, t, 0, root, path, inProgress)
}

func appendValueSteps(plan []vstep, t reflect.Type, off uintptr, root reflect.Type, path string, inProgress map[reflect.Type]bool) ([]vstep, error) {
	leaf := func(c vcode) ([]vstep, error) { return append(plan, vstep{code: c, off: off}), nil }
	switch t.Kind() {
	case reflect.Bool:
		return leaf(vBool)
	case reflect.Int8, reflect.Uint8:
		return leaf(vFixed8)
	case reflect.Int16, reflect.Uint16:
		return leaf(vFixed16)
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return leaf(vFixed32)
	case reflect.Int64, reflect.Uint64, reflect.Float64:
		return leaf(vFixed64)
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		switch {
		case t.Size() == 8:
			return leaf(vFixed64)
		case t.Kind() == reflect.Int:
			return leaf(vInt32To64)
		}
		return leaf(vUint32To64)
	case reflect.Complex64:
		return leaf(vComplex64)
	case reflect.Complex128:
		return leaf(vComplex128)
	case reflect.String:
		return leaf(vString)
	case reflect.Array:
		if t.Len() == 0 {
			return plan, nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return append(plan, vstep{code: vByteArray, off: off, n: t.Len()}), nil
		}
		elem, err := appendValueSteps(nil, t.Elem(), 0, root, path+"[i]", inProgress)
		if err != nil {
			return nil, err
		}
		if len(elem) == 0 {
			return plan, nil
		}
		return append(plan, vstep{code: vArray, off: off, n: t.Len(), stride: t.Elem().Size(), elem: elem}), nil
	case reflect.Struct:
		if inProgress[t] {
			return nil, recursiveTypeError(root, path, t)
		}
		inProgress[t] = true
		defer delete(inProgress, t)
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Name == "_" {
				continue
			}
			var err error
			if plan, err = appendValueSteps(plan, f.Type, off+f.Offset, root, path+"."+f.Name, inProgress); err != nil {
				return nil, err
			}
		}
		return plan, nil
	case reflect.Slice, reflect.Pointer, reflect.Map:
		if inProgress[t] {
			return nil, recursiveTypeError(root, path, t)
		}
		inProgress[t] = true
		defer delete(inProgress, t)
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return append(plan, vstep{code: vByteSlice, off: off, t: t}), nil
		}
		elemPath := path + "[i]"
		if t.Kind() == reflect.Pointer {
			elemPath = "(*" + path + ")"
		}
		elem, err := appendValueSteps(nil, t.Elem(), 0, root, elemPath, inProgress)
		if err != nil {
			return nil, err
		}
		st := vstep{off: off, t: t, elem: elem, stride: t.Elem().Size(), elemMin: planMin(elem)}
		switch t.Kind() {
		case reflect.Slice:
			st.code = vSlice
		case reflect.Pointer:
			st.code = vPointer
		case reflect.Map:
			st.code = vMap
			if st.key, err = appendValueSteps(nil, t.Key(), 0, root, path+"[key]", inProgress); err != nil {
				return nil, err
			}
			st.elemMin += planMin(st.key)
		}
		return append(plan, st), nil
	}
	return nil, unsupportedValueError(root, path, t, "")
}

// recursiveTypeError explains why a type that contains itself cannot get a
// derived codec.
func recursiveTypeError(root reflect.Type, path string, t reflect.Type) error {
	return fmt.Errorf("cannot derive a codec for %s: %s has type %s, which contains itself (a recursive type such as a linked list or tree); "+
		"store a flat representation, or supply a codec with keyspace.WithValueCodec", root, path, t)
}

// unsupportedValueError explains why t, found at path inside root, cannot be
// encoded, and what to do instead. why overrides the kind's explanation.
func unsupportedValueError(root reflect.Type, path string, t reflect.Type, why string) error {
	if why == "" {
		switch t.Kind() {
		case reflect.Chan:
			why = "a channel cannot be stored in state"
		case reflect.Func:
			why = "a function cannot be stored in state"
		case reflect.UnsafePointer:
			why = "an unsafe.Pointer cannot be stored in state"
		case reflect.Interface:
			why = "an interface's dynamic type is unknown when the state is created, so no encoding can be planned; use a concrete type"
		default:
			why = fmt.Sprintf("%s values cannot be stored in state", t.Kind())
		}
	}
	if path != "value" {
		why = fmt.Sprintf("%s has type %s, and %s", path, t, why)
	}
	return fmt.Errorf("cannot derive a codec for %s: %s; change the type or supply a codec with keyspace.WithValueCodec", root, why)
}

// planMin returns the least number of bytes a value encoded by plan takes;
// decoding uses it to reject lengths the input cannot hold.
func planMin(plan []vstep) int {
	n := 0
	for i := range plan {
		st := &plan[i]
		switch st.code {
		case vBool, vFixed8, vString, vByteSlice, vSlice, vMap, vPointer:
			n++
		case vFixed16:
			n += 2
		case vFixed32:
			n += 4
		case vFixed64, vInt32To64, vUint32To64, vComplex64:
			n += 8
		case vComplex128:
			n += 16
		case vByteArray:
			n += st.n
		case vArray:
			n += st.n * planMin(st.elem)
		}
	}
	return n
}

// sliceHeader is the memory layout of every Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// appendValue appends the encoding of the value at p according to plan.
func appendValue(dst []byte, plan []vstep, p unsafe.Pointer) []byte {
	for i := range plan {
		st := &plan[i]
		q := unsafe.Add(p, st.off)
		switch st.code {
		case vBool:
			dst = append(dst, boolByte(*(*bool)(q)))
		case vFixed8:
			dst = append(dst, *(*uint8)(q))
		case vFixed16:
			dst = binary.BigEndian.AppendUint16(dst, *(*uint16)(q))
		case vFixed32:
			dst = binary.BigEndian.AppendUint32(dst, *(*uint32)(q))
		case vFixed64:
			dst = binary.BigEndian.AppendUint64(dst, *(*uint64)(q))
		case vInt32To64:
			dst = binary.BigEndian.AppendUint64(dst, uint64(int64(*(*int32)(q))))
		case vUint32To64:
			dst = binary.BigEndian.AppendUint64(dst, uint64(*(*uint32)(q)))
		case vComplex64:
			c := *(*complex64)(q)
			dst = binary.BigEndian.AppendUint32(dst, math.Float32bits(real(c)))
			dst = binary.BigEndian.AppendUint32(dst, math.Float32bits(imag(c)))
		case vComplex128:
			c := *(*complex128)(q)
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(real(c)))
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(imag(c)))
		case vString:
			s := *(*string)(q)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		case vByteArray:
			dst = append(dst, unsafe.Slice((*byte)(q), st.n)...)
		case vArray:
			for j := range st.n {
				dst = appendValue(dst, st.elem, unsafe.Add(q, uintptr(j)*st.stride))
			}
		case vByteSlice:
			b := *(*[]byte)(q)
			if b == nil {
				dst = append(dst, 0)
				break
			}
			dst = binary.AppendUvarint(dst, uint64(len(b))+1)
			dst = append(dst, b...)
		case vSlice:
			h := (*sliceHeader)(q)
			if h.data == nil {
				dst = append(dst, 0)
				break
			}
			dst = binary.AppendUvarint(dst, uint64(h.len)+1)
			for j := range h.len {
				dst = appendValue(dst, st.elem, unsafe.Add(h.data, uintptr(j)*st.stride))
			}
		case vPointer:
			e := *(*unsafe.Pointer)(q)
			if e == nil {
				dst = append(dst, 0)
				break
			}
			dst = append(dst, 1)
			dst = appendValue(dst, st.elem, e)
		case vMap:
			m := reflect.NewAt(st.t, q).Elem()
			if m.IsNil() {
				dst = append(dst, 0)
				break
			}
			dst = binary.AppendUvarint(dst, uint64(m.Len())+1)
			k := reflect.New(st.t.Key()).Elem()
			v := reflect.New(st.t.Elem()).Elem()
			for it := m.MapRange(); it.Next(); {
				k.SetIterKey(it)
				v.SetIterValue(it)
				dst = appendValue(dst, st.key, k.Addr().UnsafePointer())
				dst = appendValue(dst, st.elem, v.Addr().UnsafePointer())
			}
		}
	}
	return dst
}

var errTruncated = errors.New("input ends early")

// maxEmptyElements bounds the length of a decoded slice or map whose
// elements encode to no bytes at all (such as []struct{}), which the input's
// size cannot bound.
const maxEmptyElements = 1 << 24

// readLen reads a uvarint length+1 (0 for nil) and checks that the input can
// hold that many elements of at least elemMin bytes each.
func readLen(src []byte, elemMin int) (n int, isNil bool, rest []byte, err error) {
	x, k := binary.Uvarint(src)
	if k <= 0 {
		return 0, false, nil, errTruncated
	}
	src = src[k:]
	if x == 0 {
		return 0, true, src, nil
	}
	x--
	if elemMin > 0 && x > uint64(len(src)/elemMin) || elemMin == 0 && x > maxEmptyElements {
		return 0, false, nil, fmt.Errorf("length %d exceeds the %d bytes left", x, len(src))
	}
	return int(x), false, src, nil
}

// decodeValue decodes into the zeroed value at p according to plan and
// returns the input left over.
func decodeValue(src []byte, plan []vstep, p unsafe.Pointer) ([]byte, error) {
	for i := range plan {
		st := &plan[i]
		q := unsafe.Add(p, st.off)
		need := 0
		switch st.code {
		case vBool, vFixed8:
			need = 1
		case vFixed16:
			need = 2
		case vFixed32:
			need = 4
		case vFixed64, vInt32To64, vUint32To64, vComplex64:
			need = 8
		case vComplex128:
			need = 16
		case vByteArray:
			need = st.n
		}
		if len(src) < need {
			return nil, errTruncated
		}
		switch st.code {
		case vBool:
			if src[0] > 1 {
				return nil, fmt.Errorf("bool byte %#x is neither 0 nor 1", src[0])
			}
			*(*bool)(q) = src[0] == 1
		case vFixed8:
			*(*uint8)(q) = src[0]
		case vFixed16:
			*(*uint16)(q) = binary.BigEndian.Uint16(src)
		case vFixed32:
			*(*uint32)(q) = binary.BigEndian.Uint32(src)
		case vFixed64:
			*(*uint64)(q) = binary.BigEndian.Uint64(src)
		case vInt32To64:
			*(*int32)(q) = int32(int64(binary.BigEndian.Uint64(src)))
		case vUint32To64:
			*(*uint32)(q) = uint32(binary.BigEndian.Uint64(src))
		case vComplex64:
			*(*complex64)(q) = complex(math.Float32frombits(binary.BigEndian.Uint32(src)), math.Float32frombits(binary.BigEndian.Uint32(src[4:])))
		case vComplex128:
			*(*complex128)(q) = complex(math.Float64frombits(binary.BigEndian.Uint64(src)), math.Float64frombits(binary.BigEndian.Uint64(src[8:])))
		case vByteArray:
			copy(unsafe.Slice((*byte)(q), st.n), src)
		case vString:
			n, k := binary.Uvarint(src)
			if k <= 0 || n > uint64(len(src)-k) {
				return nil, errTruncated
			}
			*(*string)(q) = string(src[k : k+int(n)])
			src = src[k+int(n):]
		case vArray:
			for j := range st.n {
				var err error
				if src, err = decodeValue(src, st.elem, unsafe.Add(q, uintptr(j)*st.stride)); err != nil {
					return nil, err
				}
			}
		case vByteSlice:
			n, isNil, rest, err := readLen(src, 1)
			if err != nil {
				return nil, err
			}
			src = rest
			if !isNil {
				b := make([]byte, n)
				copy(b, src)
				src = src[n:]
				reflect.NewAt(st.t, q).Elem().SetBytes(b)
			}
		case vSlice:
			n, isNil, rest, err := readLen(src, st.elemMin)
			if err != nil {
				return nil, err
			}
			src = rest
			if !isNil {
				s := reflect.MakeSlice(st.t, n, n)
				base := s.UnsafePointer()
				for j := range n {
					if src, err = decodeValue(src, st.elem, unsafe.Add(base, uintptr(j)*st.stride)); err != nil {
						return nil, err
					}
				}
				reflect.NewAt(st.t, q).Elem().Set(s)
			}
		case vPointer:
			if len(src) < 1 || src[0] > 1 {
				return nil, errors.New("pointer flag is neither 0 nor 1")
			}
			isNil := src[0] == 0
			src = src[1:]
			if !isNil {
				e := reflect.New(st.t.Elem())
				var err error
				if src, err = decodeValue(src, st.elem, e.UnsafePointer()); err != nil {
					return nil, err
				}
				reflect.NewAt(st.t, q).Elem().Set(e)
			}
		case vMap:
			n, isNil, rest, err := readLen(src, st.elemMin)
			if err != nil {
				return nil, err
			}
			src = rest
			if !isNil {
				m := reflect.MakeMapWithSize(st.t, n)
				k := reflect.New(st.t.Key())
				v := reflect.New(st.t.Elem())
				for range n {
					k.Elem().SetZero()
					v.Elem().SetZero()
					if src, err = decodeValue(src, st.key, k.UnsafePointer()); err != nil {
						return nil, err
					}
					if src, err = decodeValue(src, st.elem, v.UnsafePointer()); err != nil {
						return nil, err
					}
					m.SetMapIndex(k.Elem(), v.Elem())
				}
				reflect.NewAt(st.t, q).Elem().Set(m)
			}
		}
		src = src[need:]
	}
	return src, nil
}

// keyCodec encodes keys with KeyEncoder's canonical encoding and decodes it
// back. It serves the key of a keyed store (in Pebble keys and snapshots)
// and, by default, map state user keys and broadcast state keys: a canonical
// encoding is what lets a lookup by key find the entry a write made.
type keyCodec[K comparable] struct {
	t    reflect.Type
	plan []encodeStep
}

// newKeyCodec returns the canonical codec of K, or KeyEncoder's error.
func newKeyCodec[K comparable]() (*keyCodec[K], error) {
	t := reflect.TypeFor[K]()
	plan, err := planFor(t)
	if err != nil {
		return nil, err
	}
	return &keyCodec[K]{t: t, plan: plan}, nil
}

func (c *keyCodec[K]) Append(dst []byte, k K) []byte {
	return appendPlan(dst, c.plan, unsafe.Pointer(&k))
}

func (c *keyCodec[K]) Decode(src []byte) (K, error) {
	var k K
	rest, err := decodePlan(src, c.plan, unsafe.Pointer(&k))
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d bytes left over", len(rest))
	}
	if err != nil {
		var zero K
		return zero, fmt.Errorf("decode key of type %s: %w", c.t, err)
	}
	return k, nil
}

// decodePlan inverts appendPlan: it decodes into the zeroed key at p and
// returns the input left over. Integers and floats were widened to 8 bytes
// and are narrowed back; -0 and NaN payloads were canonicalised by the
// encoding and stay so.
func decodePlan(src []byte, plan []encodeStep, p unsafe.Pointer) ([]byte, error) {
	for i := range plan {
		st := &plan[i]
		q := unsafe.Add(p, st.off)
		word := func() (uint64, error) {
			if len(src) < 8 {
				return 0, errTruncated
			}
			w := binary.BigEndian.Uint64(src)
			src = src[8:]
			return w, nil
		}
		var (
			w   uint64
			err error
		)
		switch st.code {
		case stepRawString:
			*(*string)(q) = string(src)
			src = src[len(src):]
		case stepString:
			n, k := binary.Uvarint(src)
			if k <= 0 || n > uint64(len(src)-k) {
				return nil, errTruncated
			}
			*(*string)(q) = string(src[k : k+int(n)])
			src = src[k+int(n):]
		case stepBool:
			if len(src) < 1 || src[0] > 1 {
				return nil, errors.New("bool byte is neither 0 nor 1")
			}
			*(*bool)(q) = src[0] == 1
			src = src[1:]
		case stepInt8, stepUint8:
			w, err = word()
			*(*uint8)(q) = uint8(w)
		case stepInt16, stepUint16:
			w, err = word()
			*(*uint16)(q) = uint16(w)
		case stepInt32, stepUint32:
			w, err = word()
			*(*uint32)(q) = uint32(w)
		case stepInt64, stepUint64:
			w, err = word()
			*(*uint64)(q) = w
		case stepFloat32:
			w, err = word()
			*(*float32)(q) = float32(math.Float64frombits(w))
		case stepFloat64:
			w, err = word()
			*(*float64)(q) = math.Float64frombits(w)
		case stepComplex64, stepComplex128:
			var re, im uint64
			if re, err = word(); err == nil {
				im, err = word()
			}
			c := complex(math.Float64frombits(re), math.Float64frombits(im))
			if st.code == stepComplex64 {
				*(*complex64)(q) = complex64(c)
			} else {
				*(*complex128)(q) = c
			}
		case stepBytes:
			if len(src) < st.n {
				return nil, errTruncated
			}
			copy(unsafe.Slice((*byte)(q), st.n), src)
			src = src[st.n:]
		case stepArray:
			for j := range st.n {
				if src, err = decodePlan(src, st.elem, unsafe.Add(q, uintptr(j)*st.stride)); err != nil {
					return nil, err
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return src, nil
}

// listCodec encodes a list as its elements' encodings, each preceded by its
// length as a uvarint. It is the format of list state both in Pebble, where
// Add writes one framed element as a merge operand that Pebble appends, and
// in snapshots. An empty list encodes to nothing.
type listCodec[E any] struct{ elem Codec[E] }

func (c listCodec[E]) Append(dst []byte, l []E) []byte {
	for _, e := range l {
		dst = appendListElem(dst, c.elem, e)
	}
	return dst
}

func (c listCodec[E]) Decode(src []byte) ([]E, error) { return decodeList(src, c.elem, nil) }

// appendListElem appends e's encoding framed by its length. It encodes in
// place after a one-byte length and moves the encoding only when the length
// needs more bytes.
func appendListElem[E any](dst []byte, c Codec[E], e E) []byte {
	start := len(dst)
	dst = append(dst, 0)
	dst = c.Append(dst, e)
	n := len(dst) - start - 1
	if n < 0x80 {
		dst[start] = byte(n)
		return dst
	}
	var lenBuf [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lenBuf[:], uint64(n))
	dst = append(dst, lenBuf[:k-1]...) // room for the longer length
	copy(dst[start+k:], dst[start+1:start+1+n])
	copy(dst[start:], lenBuf[:k])
	return dst
}

// decodeList appends the elements of a framed list to dst.
func decodeList[E any](src []byte, c Codec[E], dst []E) ([]E, error) {
	err := forEachFrame(src, func(frame []byte) error {
		e, err := c.Decode(frame)
		if err != nil {
			return err
		}
		dst = append(dst, e)
		return nil
	})
	return dst, err
}

// forEachFrame calls fn with each element's encoding in a framed list.
func forEachFrame(src []byte, fn func(frame []byte) error) error {
	for len(src) > 0 {
		n, k := binary.Uvarint(src)
		if k <= 0 || n > uint64(len(src)-k) {
			return errors.New("decode list: an element's length runs past the end: the stored bytes are corrupt")
		}
		if err := fn(src[k : k+int(n)]); err != nil {
			return err
		}
		src = src[k+int(n):]
	}
	return nil
}
