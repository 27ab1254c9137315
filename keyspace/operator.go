package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"slices"
	"strings"
)

// DistributionMode says how an operator list state's elements are handed to
// the subtasks of a restored operator (RedistributeOperatorState).
type DistributionMode uint8

const (
	// SplitDistribute (Flink's getListState) gives each new subtask a part
	// of the elements: with unchanged parallelism every subtask gets its own
	// list back; otherwise the lists of all old subtasks, in subtask order,
	// are concatenated and cut into contiguous parts whose sizes differ by
	// at most one, the first parts being the longer.
	SplitDistribute DistributionMode = iota
	// UnionDistribute (Flink's getUnionListState) gives every new subtask
	// all elements: the concatenation of the old subtasks' lists, in
	// subtask order, whatever the parallelism.
	UnionDistribute
)

// String names the mode as errors show it: "split" or "union".
func (m DistributionMode) String() string {
	switch m {
	case SplitDistribute:
		return "split"
	case UnionDistribute:
		return "union"
	}
	return fmt.Sprintf("DistributionMode(%d)", uint8(m))
}

// OperatorStateStore holds the state of one operator instance (one subtask)
// that is not scoped to keys: list states (NewOperatorListState,
// NewUnionListState) and broadcast states (NewBroadcastState). Sources keep
// their split positions here, for example.
//
// Snapshot encodes the whole store synchronously (operator state is meant to
// be small); Restore loads what RedistributeOperatorState computed for the
// subtask. Like a KeyedStore, a store and its states belong to one subtask's
// goroutine and are not safe for concurrent use.
type OperatorStateStore struct {
	lists      map[string]operatorList
	broadcasts map[string]broadcastTable
	// restored lists and broadcast states not registered yet.
	restoredLists      map[string]OperatorListData
	restoredBroadcasts map[string]BroadcastStateData
}

// NewOperatorStateStore returns an empty store.
func NewOperatorStateStore() *OperatorStateStore {
	return &OperatorStateStore{
		lists:              map[string]operatorList{},
		broadcasts:         map[string]broadcastTable{},
		restoredLists:      map[string]OperatorListData{},
		restoredBroadcasts: map[string]BroadcastStateData{},
	}
}

// OperatorStateData is the operator state of one subtask in encoded form:
// what Snapshot returns, what Restore takes, and what
// RedistributeOperatorState maps from old subtasks to new ones. Elements,
// keys and values are the states' codec encodings, so the data can be
// written, read and redistributed without the Go types. WriteTo and
// ReadOperatorState convert it to and from bytes.
type OperatorStateData struct {
	Lists      []OperatorListData   // sorted by name
	Broadcasts []BroadcastStateData // sorted by name
}

// OperatorListData is one operator list state's elements.
type OperatorListData struct {
	Name     string
	Mode     DistributionMode
	Type     string // the element type, checked when the state is registered
	Elements [][]byte
}

// BroadcastStateData is one broadcast state's entries, sorted by encoded key.
type BroadcastStateData struct {
	Name    string
	Types   string // "K to V", checked when the state is registered
	Entries []BroadcastEntry
}

// BroadcastEntry is one encoded key and value of a broadcast state.
type BroadcastEntry struct{ Key, Value []byte }

// operatorList is what the store needs from a list state whatever its type.
type operatorList interface {
	data(name string) OperatorListData
	restore(d OperatorListData) error
}

// NewOperatorListState returns the operator list state called name, whose
// elements are split among the subtasks when the operator is rescaled
// (SplitDistribute), registering it on first use. Asking again for the same
// name and T returns a handle on the same list. It fails if name is empty or
// already names another state of the store, if a restored state of that name
// does not match, or if T has no codec (supply one with WithValueCodec).
// WithTTL does not apply to operator state.
func NewOperatorListState[T any](s *OperatorStateStore, name string, opts ...StateOption) (ListState[T], error) {
	return newOperatorList[T](s, name, SplitDistribute, opts)
}

// NewUnionListState is NewOperatorListState for a list whose elements every
// subtask receives in full on restore (UnionDistribute).
func NewUnionListState[T any](s *OperatorStateStore, name string, opts ...StateOption) (ListState[T], error) {
	return newOperatorList[T](s, name, UnionDistribute, opts)
}

func newOperatorList[T any](s *OperatorStateStore, name string, mode DistributionMode, opts []StateOption) (ListState[T], error) {
	if name == "" {
		return nil, errors.New("an operator state needs a non-empty name")
	}
	o := collectOptions(opts)
	if err := checkOperatorOptions(o, "operator list state", name); err != nil {
		return nil, err
	}
	typ := typeName[T]()
	if existing, ok := s.lists[name]; ok {
		l, ok := existing.(*opList[T])
		if !ok || l.mode != mode {
			d := existing.data(name)
			return nil, fmt.Errorf("operator state %q is already registered as a %s list of %s and cannot also be a %s list of %s; give one of them another name",
				name, d.Mode, d.Type, mode, typ)
		}
		return l, nil
	}
	if _, ok := s.broadcasts[name]; ok {
		return nil, fmt.Errorf("operator state %q is already registered as a broadcast state; give one of them another name", name)
	}
	c, err := valueCodecOf[T](&o)
	if err != nil {
		return nil, fmt.Errorf("operator list state %q: %w", name, err)
	}
	l := &opList[T]{mode: mode, codec: c, typ: typ}
	if d, ok := s.restoredLists[name]; ok {
		if err := l.restore(d); err != nil {
			return nil, fmt.Errorf("operator list state %q: %w", name, err)
		}
		delete(s.restoredLists, name)
	}
	s.lists[name] = l
	return l, nil
}

func checkOperatorOptions(o stateOptions, what, name string) error {
	switch {
	case o.err != nil:
		return fmt.Errorf("%s %q: %w", what, name, o.err)
	case o.ttl != nil:
		return fmt.Errorf("%s %q: WithTTL applies to keyed state only", what, name)
	}
	return nil
}

// opList is an operator list state: a plain slice.
type opList[T any] struct {
	mode  DistributionMode
	codec Codec[T]
	typ   string
	elems []T
}

func (l *opList[T]) Get() []T {
	if len(l.elems) == 0 {
		return nil
	}
	return l.elems
}

func (l *opList[T]) Add(v T) { l.elems = append(l.elems, v) }

func (l *opList[T]) AddAll(vs []T) { l.elems = append(l.elems, vs...) }

func (l *opList[T]) Update(vs []T) { l.elems = append([]T(nil), vs...) }

func (l *opList[T]) Clear() { l.elems = nil }

func (l *opList[T]) data(name string) OperatorListData {
	d := OperatorListData{Name: name, Mode: l.mode, Type: l.typ, Elements: make([][]byte, len(l.elems))}
	for i, e := range l.elems {
		d.Elements[i] = l.codec.Append(nil, e)
	}
	return d
}

func (l *opList[T]) restore(d OperatorListData) error {
	if d.Mode != l.mode || d.Type != l.typ {
		return fmt.Errorf("restored as a %s list of %s, registered as a %s list of %s: register it as it was snapshotted", d.Mode, d.Type, l.mode, l.typ)
	}
	elems := make([]T, 0, len(d.Elements))
	for i, b := range d.Elements {
		e, err := l.codec.Decode(b)
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		elems = append(elems, e)
	}
	l.elems = elems
	return nil
}

// Snapshot encodes every state of the store, including restored states no
// one registered, and returns the result, which shares nothing with the
// store: the store can be used again at once and the data written later.
func (s *OperatorStateStore) Snapshot() (OperatorStateData, error) {
	var d OperatorStateData
	for name, l := range s.lists {
		d.Lists = append(d.Lists, l.data(name))
	}
	for _, l := range s.restoredLists {
		d.Lists = append(d.Lists, l)
	}
	for name, b := range s.broadcasts {
		d.Broadcasts = append(d.Broadcasts, b.data(name))
	}
	for _, b := range s.restoredBroadcasts {
		d.Broadcasts = append(d.Broadcasts, b)
	}
	slices.SortFunc(d.Lists, func(a, b OperatorListData) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Broadcasts, func(a, b BroadcastStateData) int { return strings.Compare(a.Name, b.Name) })
	return d, nil
}

// Restore loads d, normally one of RedistributeOperatorState's results, into
// the store, replacing the content of registered states of the same names;
// states registered later pick up their restored content then. It fails,
// changing nothing, if a registered state does not match what d holds.
func (s *OperatorStateStore) Restore(d OperatorStateData) error {
	for _, l := range d.Lists {
		if _, ok := s.broadcasts[l.Name]; ok {
			return fmt.Errorf("restore operator state: %q is a list in the snapshot but registered as a broadcast state", l.Name)
		}
	}
	for _, b := range d.Broadcasts {
		if _, ok := s.lists[b.Name]; ok {
			return fmt.Errorf("restore operator state: %q is a broadcast state in the snapshot but registered as a list", b.Name)
		}
		if t, ok := s.broadcasts[b.Name]; ok && t.types() != b.Types {
			return fmt.Errorf("restore operator state: broadcast state %q was snapshotted as %s and is registered as %s", b.Name, b.Types, t.types())
		}
	}
	for _, l := range d.Lists {
		if reg, ok := s.lists[l.Name]; ok {
			if cur := reg.data(l.Name); cur.Mode != l.Mode || cur.Type != l.Type {
				return fmt.Errorf("restore operator state: list %q was snapshotted as a %s list of %s and is registered as a %s list of %s",
					l.Name, l.Mode, l.Type, cur.Mode, cur.Type)
			}
		}
	}
	for _, l := range d.Lists {
		if reg, ok := s.lists[l.Name]; ok {
			if err := reg.restore(l); err != nil {
				return fmt.Errorf("restore operator list state %q: %w", l.Name, err)
			}
			continue
		}
		s.restoredLists[l.Name] = l
	}
	for _, b := range d.Broadcasts {
		if t, ok := s.broadcasts[b.Name]; ok {
			if err := t.restore(b); err != nil {
				return fmt.Errorf("restore broadcast state %q: %w", b.Name, err)
			}
			continue
		}
		s.restoredBroadcasts[b.Name] = b
	}
	return nil
}

// RedistributeOperatorState computes the operator state of each of
// newParallelism subtasks from the snapshots of the old subtasks (old[i] is
// subtask i's). Lists are distributed as their DistributionMode says;
// broadcast states, identical on every subtask by construction, are taken
// from the first old subtask that has them and given to every new one.
// Every result lists every state, possibly with no elements, so that a
// restored subtask knows the states that exist. Results share element bytes
// with old, which must not be modified afterwards.
//
// It fails if newParallelism is below 1, or if the old subtasks disagree on
// a state's mode or types (they would be snapshots of different operators).
func RedistributeOperatorState(old []OperatorStateData, newParallelism int) ([]OperatorStateData, error) {
	if newParallelism < 1 {
		return nil, fmt.Errorf("redistribute operator state: new parallelism %d must be at least 1", newParallelism)
	}
	type listOf struct {
		first OperatorListData
		per   [][][]byte // by old subtask
	}
	lists := map[string]*listOf{}
	broadcasts := map[string]BroadcastStateData{}
	var listNames, broadcastNames []string
	for i, d := range old {
		for _, l := range d.Lists {
			acc := lists[l.Name]
			if acc == nil {
				acc = &listOf{first: l, per: make([][][]byte, len(old))}
				lists[l.Name] = acc
				listNames = append(listNames, l.Name)
			} else if acc.first.Mode != l.Mode || acc.first.Type != l.Type {
				return nil, fmt.Errorf("redistribute operator state: list %q is a %s list of %s in one subtask and a %s list of %s in subtask %d",
					l.Name, acc.first.Mode, acc.first.Type, l.Mode, l.Type, i)
			}
			acc.per[i] = l.Elements
		}
		for _, b := range d.Broadcasts {
			if first, ok := broadcasts[b.Name]; !ok {
				broadcasts[b.Name] = b
				broadcastNames = append(broadcastNames, b.Name)
			} else if first.Types != b.Types {
				return nil, fmt.Errorf("redistribute operator state: broadcast state %q is %s in one subtask and %s in subtask %d", b.Name, first.Types, b.Types, i)
			}
		}
	}
	slices.Sort(listNames)
	slices.Sort(broadcastNames)
	out := make([]OperatorStateData, newParallelism)
	for _, name := range listNames {
		acc := lists[name]
		parts := make([][][]byte, newParallelism)
		switch {
		case acc.first.Mode == UnionDistribute:
			all := slices.Concat(acc.per...)
			for j := range parts {
				parts[j] = all
			}
		case len(old) == newParallelism:
			copy(parts, acc.per)
		default:
			all := slices.Concat(acc.per...)
			n, p := len(all), newParallelism
			start := 0
			for j := range parts {
				size := n / p
				if j < n%p {
					size++
				}
				parts[j] = all[start : start+size : start+size]
				start += size
			}
		}
		for j := range out {
			l := acc.first
			l.Elements = parts[j]
			out[j].Lists = append(out[j].Lists, l)
		}
	}
	for _, name := range broadcastNames {
		for j := range out {
			out[j].Broadcasts = append(out[j].Broadcasts, broadcasts[name])
		}
	}
	return out, nil
}

// The operator snapshot format: magic "FLOEOPST", format version (1), then
// the number of lists and per list its name, mode (1 byte), element type,
// number of elements and the elements; then the number of broadcast states
// and per state its name, types, number of entries and per entry key and
// value; then a CRC-32C of everything before it, 4 bytes big-endian.
// Integers are uvarints; strings and byte fields are uvarint-length
// prefixed.
const (
	operatorMagic   = "FLOEOPST"
	operatorVersion = 1
)

// WriteTo writes d in the operator snapshot format.
func (d OperatorStateData) WriteTo(w io.Writer) (int64, error) {
	b := append([]byte(operatorMagic), operatorVersion)
	b = binary.AppendUvarint(b, uint64(len(d.Lists)))
	for _, l := range d.Lists {
		b = appendString(b, l.Name)
		b = append(b, byte(l.Mode))
		b = appendString(b, l.Type)
		b = binary.AppendUvarint(b, uint64(len(l.Elements)))
		for _, e := range l.Elements {
			b = binary.AppendUvarint(b, uint64(len(e)))
			b = append(b, e...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(d.Broadcasts)))
	for _, s := range d.Broadcasts {
		b = appendString(b, s.Name)
		b = appendString(b, s.Types)
		b = binary.AppendUvarint(b, uint64(len(s.Entries)))
		for _, e := range s.Entries {
			b = binary.AppendUvarint(b, uint64(len(e.Key)))
			b = append(b, e.Key...)
			b = binary.AppendUvarint(b, uint64(len(e.Value)))
			b = append(b, e.Value...)
		}
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	n, err := w.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("write operator state: %w", err)
	}
	return int64(n), nil
}

// ReadOperatorState reads operator state written by OperatorStateData.WriteTo.
func ReadOperatorState(r io.Reader) (OperatorStateData, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return OperatorStateData{}, fmt.Errorf("read operator state: %w", err)
	}
	if len(b) < len(operatorMagic)+5 || string(b[:len(operatorMagic)]) != operatorMagic {
		return OperatorStateData{}, errors.New("read operator state: not an operator state snapshot (bad magic bytes)")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return OperatorStateData{}, errors.New("read operator state: checksum mismatch: the file is corrupt")
	}
	if v := body[len(operatorMagic)]; v != operatorVersion {
		return OperatorStateData{}, fmt.Errorf("read operator state: format version %d is not supported (this build reads version %d)", v, operatorVersion)
	}
	p := &byteParser{b: body[len(operatorMagic)+1:]}
	var d OperatorStateData
	for range p.count() {
		l := OperatorListData{Name: p.str()}
		l.Mode = DistributionMode(p.byte1())
		l.Type = p.str()
		for range p.count() {
			l.Elements = append(l.Elements, p.bytes())
		}
		if l.Mode > UnionDistribute {
			p.fail(fmt.Errorf("list %q has unknown distribution mode %d", l.Name, l.Mode))
		}
		d.Lists = append(d.Lists, l)
	}
	for range p.count() {
		s := BroadcastStateData{Name: p.str(), Types: p.str()}
		for range p.count() {
			s.Entries = append(s.Entries, BroadcastEntry{Key: p.bytes(), Value: p.bytes()})
		}
		d.Broadcasts = append(d.Broadcasts, s)
	}
	if p.err == nil && len(p.b) != 0 {
		p.fail(fmt.Errorf("%d bytes left over", len(p.b)))
	}
	if p.err != nil {
		return OperatorStateData{}, fmt.Errorf("read operator state: corrupt: %w", p.err)
	}
	return d, nil
}

// byteParser reads the operator snapshot format; errors are sticky and make
// every later read return zero values.
type byteParser struct {
	b   []byte
	err error
}

func (p *byteParser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
	p.b = nil
}

func (p *byteParser) uvarint() uint64 {
	x, k := binary.Uvarint(p.b)
	if k <= 0 {
		p.fail(errTruncated)
		return 0
	}
	p.b = p.b[k:]
	return x
}

// count reads a number of items, each taking at least one byte.
func (p *byteParser) count() int {
	n := p.uvarint()
	if n > uint64(len(p.b)) {
		p.fail(fmt.Errorf("count %d exceeds the %d bytes left", n, len(p.b)))
		return 0
	}
	return int(n)
}

func (p *byteParser) bytes() []byte {
	n := p.uvarint()
	if n > uint64(len(p.b)) {
		p.fail(errTruncated)
		return nil
	}
	out := bytes.Clone(p.b[:n])
	p.b = p.b[n:]
	return out
}

func (p *byteParser) str() string { return string(p.bytes()) }

func (p *byteParser) byte1() byte {
	if len(p.b) < 1 {
		p.fail(errTruncated)
		return 0
	}
	x := p.b[0]
	p.b = p.b[1:]
	return x
}

// typesString describes the types of a broadcast state for checks.
func typesString(k, v reflect.Type) string { return k.String() + " to " + v.String() }
