package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Grouped entries are the snapshot form of keyed structures that live
// beside the keyed store — timers, window tables — in a simple format that,
// like keyed snapshots, tags everything with its key group, so that a
// restore at any parallelism keeps the entries of its own range:
//
//	magic "FLOEGRPE", version (1), number of fields per entry (uvarint),
//	then entries: key group + 1 (uvarint), then the fields as "bytes"
//	(uvarint length, bytes); then 0 and a CRC-32C of everything before it,
//	4 bytes big-endian.
const (
	groupedMagic   = "FLOEGRPE"
	groupedVersion = 1
)

// GroupedEntries builds grouped entries in memory. Snapshots build them on
// the subtask's goroutine (the synchronous part) and write the bytes later.
type GroupedEntries struct {
	fields int
	buf    []byte
	n      int
}

// NewGroupedEntries starts entries of fields fields each.
func NewGroupedEntries(fields int) *GroupedEntries {
	g := &GroupedEntries{fields: fields}
	g.buf = append(g.buf, groupedMagic...)
	g.buf = append(g.buf, groupedVersion)
	g.buf = binary.AppendUvarint(g.buf, uint64(fields))
	return g
}

// Add appends one entry of key group kg; it panics if the number of fields
// is not the one the entries were started with (a programming error).
func (g *GroupedEntries) Add(kg int, fields ...[]byte) {
	if len(fields) != g.fields {
		panic(fmt.Sprintf("keyspace: grouped entry with %d fields, want %d", len(fields), g.fields))
	}
	g.buf = binary.AppendUvarint(g.buf, uint64(kg)+1)
	for _, f := range fields {
		g.buf = binary.AppendUvarint(g.buf, uint64(len(f)))
		g.buf = append(g.buf, f...)
	}
	g.n++
}

// Len returns the number of entries added.
func (g *GroupedEntries) Len() int { return g.n }

// Bytes finishes the entries and returns their encoding; nothing may be
// added afterwards.
func (g *GroupedEntries) Bytes() []byte {
	g.buf = append(g.buf, 0)
	g.buf = binary.BigEndian.AppendUint32(g.buf, crc32.Checksum(g.buf, castagnoli))
	b := g.buf
	g.buf = nil
	return b
}

// ReadGroupedEntries reads grouped entries written by GroupedEntries and
// calls fn for each whose key group is in rng, with fields only valid
// during the call. A truncated or corrupt input fails before fn sees an
// entry of it: the whole input is checked first.
func ReadGroupedEntries(r io.Reader, rng KeyGroupRange, fn func(kg int, fields [][]byte) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read grouped entries: %w", err)
	}
	if len(data) < len(groupedMagic)+1+1+4 || !bytes.Equal(data[:len(groupedMagic)], []byte(groupedMagic)) {
		return errors.New("read grouped entries: not a grouped-entries snapshot (bad magic or too short)")
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return errors.New("read grouped entries: checksum mismatch: the snapshot file is corrupt or truncated")
	}
	p := &byteParser{b: body[len(groupedMagic):]}
	if v := p.byte1(); v != groupedVersion {
		return fmt.Errorf("read grouped entries: format version %d, this build reads %d", v, groupedVersion)
	}
	n := p.uvarint()
	if n == 0 || n > 64 {
		return fmt.Errorf("read grouped entries: %d fields per entry is out of range", n)
	}
	fields := make([][]byte, n)
	for p.err == nil {
		kg := p.uvarint()
		if kg == 0 || p.err != nil {
			break
		}
		for i := range fields {
			fields[i] = p.bytes()
		}
		if p.err != nil {
			break
		}
		if g := int(kg - 1); rng.Contains(g) {
			if err := fn(g, fields); err != nil {
				return err
			}
		}
	}
	if p.err != nil {
		return fmt.Errorf("read grouped entries: %w", p.err)
	}
	return nil
}
