package keyspace_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/floestream/floe/keyspace"
)

func TestGroupedEntriesKeepTheirRange(t *testing.T) {
	g := keyspace.NewGroupedEntries(2)
	for kg := range 8 {
		g.Add(kg, []byte(fmt.Sprint("k", kg)), []byte{byte(kg)})
	}
	data := g.Bytes()
	for _, rng := range []keyspace.KeyGroupRange{{Start: 0, End: 8}, {Start: 2, End: 5}, {Start: 7, End: 8}} {
		var got []string
		err := keyspace.ReadGroupedEntries(bytes.NewReader(data), rng, func(kg int, f [][]byte) error {
			got = append(got, fmt.Sprintf("%d:%s:%d", kg, f[0], f[1][0]))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for kg := rng.Start; kg < rng.End; kg++ {
			want = append(want, fmt.Sprintf("%d:k%d:%d", kg, kg, kg))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("range %s: got %v, want %v", rng, got, want)
		}
	}
}

func TestGroupedEntriesEmpty(t *testing.T) {
	data := keyspace.NewGroupedEntries(4).Bytes()
	err := keyspace.ReadGroupedEntries(bytes.NewReader(data), keyspace.KeyGroupRange{Start: 0, End: 4}, func(int, [][]byte) error {
		t.Fatal("an entry in empty entries")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGroupedEntriesRejectCorruption(t *testing.T) {
	g := keyspace.NewGroupedEntries(1)
	g.Add(3, []byte("x"))
	data := g.Bytes()
	all := keyspace.KeyGroupRange{Start: 0, End: 8}
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)-2],
		"flipped":   append(append([]byte(nil), data[:len(data)-6]...), append([]byte{data[len(data)-6] ^ 1}, data[len(data)-5:]...)...),
		"magic":     append([]byte("XXXXXXXX"), data[8:]...),
	} {
		calls := 0
		err := keyspace.ReadGroupedEntries(bytes.NewReader(bad), all, func(int, [][]byte) error { calls++; return nil })
		if err == nil || calls != 0 {
			t.Errorf("%s: err %v after %d entries, want an error before any entry", name, err, calls)
		}
	}
}
