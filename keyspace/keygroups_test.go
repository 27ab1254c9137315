package keyspace_test

import (
	"strings"
	"testing"

	"github.com/floestream/floe/keyspace"
)

// maxParallelisms are the key-group counts the property tests sweep: the
// degenerate 1, a prime (uneven splits), the default, and a large value that
// does not divide evenly by most parallelisms.
var maxParallelisms = []int{1, 7, keyspace.DefaultMaxParallelism, 1000}

func TestRangeForSubtaskPartitionsKeyGroups(t *testing.T) {
	for _, m := range maxParallelisms {
		for p := 1; p <= min(m, 300); p++ {
			owner := make([]int, m)
			for i := range owner {
				owner[i] = -1
			}
			next := 0 // ranges must be contiguous and ascending from 0
			for i := range p {
				r := keyspace.RangeForSubtask(m, p, i)
				if r.Start != next || r.Len() < 1 {
					t.Fatalf("m=%d p=%d: subtask %d owns %s, want a non-empty range starting at %d", m, p, i, r, next)
				}
				next = r.End
				for kg := r.Start; kg < r.End; kg++ {
					if owner[kg] != -1 {
						t.Fatalf("m=%d p=%d: key group %d owned by subtasks %d and %d", m, p, kg, owner[kg], i)
					}
					owner[kg] = i
				}
			}
			if next != m {
				t.Fatalf("m=%d p=%d: ranges end at %d, want %d", m, p, next, m)
			}
			for kg, want := range owner {
				if got := keyspace.SubtaskForKeyGroup(m, p, kg); got != want {
					t.Fatalf("m=%d p=%d: SubtaskForKeyGroup(%d) = %d, but RangeForSubtask gives it to %d", m, p, kg, got, want)
				}
			}
		}
	}
}

func TestRangeForSubtaskKnownSplits(t *testing.T) {
	tests := []struct {
		m, p int
		want []keyspace.KeyGroupRange
	}{
		{m: 128, p: 1, want: []keyspace.KeyGroupRange{{0, 128}}},
		{m: 128, p: 4, want: []keyspace.KeyGroupRange{{0, 32}, {32, 64}, {64, 96}, {96, 128}}},
		{m: 128, p: 3, want: []keyspace.KeyGroupRange{{0, 43}, {43, 86}, {86, 128}}},
		{m: 7, p: 3, want: []keyspace.KeyGroupRange{{0, 3}, {3, 5}, {5, 7}}},
		{m: 7, p: 7, want: []keyspace.KeyGroupRange{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}}},
	}
	for _, tt := range tests {
		for i, want := range tt.want {
			if got := keyspace.RangeForSubtask(tt.m, tt.p, i); got != want {
				t.Errorf("RangeForSubtask(%d, %d, %d) = %s, want %s", tt.m, tt.p, i, got, want)
			}
		}
	}
}

func TestKeyGroupRange(t *testing.T) {
	r := keyspace.KeyGroupRange{Start: 32, End: 64}
	if got := r.Len(); got != 32 {
		t.Errorf("Len = %d, want 32", got)
	}
	for kg, want := range map[int]bool{31: false, 32: true, 50: true, 63: true, 64: false} {
		if got := r.Contains(kg); got != want {
			t.Errorf("Contains(%d) = %v, want %v", kg, got, want)
		}
	}
	if got := r.String(); got != "[32, 64)" {
		t.Errorf("String = %q, want %q", got, "[32, 64)")
	}
	var empty keyspace.KeyGroupRange
	if empty.Len() != 0 || empty.Contains(0) {
		t.Errorf("zero range: Len = %d, Contains(0) = %v; want 0, false", empty.Len(), empty.Contains(0))
	}
	if got := (keyspace.KeyGroupRange{Start: 5, End: 3}).Len(); got != 0 {
		t.Errorf("inverted range Len = %d, want 0", got)
	}
}

func TestKeyGroupForHash(t *testing.T) {
	tests := []struct {
		hash uint64
		m    int
		want int
	}{
		{0, 128, 0},
		{127, 128, 127},
		{128, 128, 0},
		{1<<64 - 1, 128, 127},
		{1<<64 - 1, 1000, int((1<<64 - 1) % 1000)},
		{12345, 1, 0},
	}
	for _, tt := range tests {
		if got := keyspace.KeyGroupForHash(tt.hash, tt.m); got != tt.want {
			t.Errorf("KeyGroupForHash(%d, %d) = %d, want %d", tt.hash, tt.m, got, tt.want)
		}
	}
}

func TestValidateParallelism(t *testing.T) {
	tests := []struct {
		p, m int
		want []string // substrings of the error; nil means valid
	}{
		{p: 1, m: 1},
		{p: 4, m: 128},
		{p: 128, m: 128},
		{p: 1, m: keyspace.UpperBoundMaxParallelism},
		{p: 0, m: 128, want: []string{"parallelism 0", "at least 1"}},
		{p: -3, m: 128, want: []string{"parallelism -3", "at least 1"}},
		{p: 1, m: 0, want: []string{"max parallelism 0", "at least 1"}},
		{p: 200, m: 128, want: []string{"parallelism 200 exceeds max parallelism 128", "lower the parallelism, or raise the max parallelism"}},
		{p: 1, m: keyspace.UpperBoundMaxParallelism + 1, want: []string{"max parallelism 32769", "at most 32768"}},
	}
	for _, tt := range tests {
		err := keyspace.ValidateParallelism(tt.p, tt.m)
		if tt.want == nil {
			if err != nil {
				t.Errorf("ValidateParallelism(%d, %d) = %v, want nil", tt.p, tt.m, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidateParallelism(%d, %d) = nil, want an error", tt.p, tt.m)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ValidateParallelism(%d, %d) = %q, want it to contain %q", tt.p, tt.m, err, w)
			}
		}
	}
}

func TestKeyGroupFunctionsPanicOnInvalidArguments(t *testing.T) {
	tests := map[string]func(){
		"index = p":           func() { keyspace.RangeForSubtask(128, 4, 4) },
		"negative index":      func() { keyspace.RangeForSubtask(128, 4, -1) },
		"p > m":               func() { keyspace.RangeForSubtask(4, 8, 0) },
		"key group = m":       func() { keyspace.SubtaskForKeyGroup(128, 4, 128) },
		"negative key group":  func() { keyspace.SubtaskForKeyGroup(128, 4, -1) },
		"moves with p = 0":    func() { keyspace.KeyGroupMoves(128, 0, 4) },
		"moves with new p >m": func() { keyspace.KeyGroupMoves(128, 4, 129) },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "keyspace: ") {
					t.Errorf("recovered %v, want a keyspace panic message", r)
				}
			}()
			f()
		})
	}
}

// movesParallelisms picks, for each max parallelism, old/new parallelisms
// for the rescale property test: the full square for small m, a spread of
// even, odd, prime and boundary values otherwise (the full square for m=1000
// is 90,000 pairs of 1,000 key groups, too slow under -race for what it adds).
func movesParallelisms(m int) []int {
	if m <= 16 {
		ps := make([]int, m)
		for i := range ps {
			ps[i] = i + 1
		}
		return ps
	}
	var ps []int
	for _, p := range []int{1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 32, 64, 100, 127, 128, 129, 200, 255, 256, 299, 300} {
		if p <= min(m, 300) {
			ps = append(ps, p)
		}
	}
	return ps
}

func TestKeyGroupMovesAreExactlyTheOwnerChanges(t *testing.T) {
	for _, m := range maxParallelisms {
		ps := movesParallelisms(m)
		for _, oldP := range ps {
			for _, newP := range ps {
				moves := keyspace.KeyGroupMoves(m, oldP, newP)
				if oldP == newP && len(moves) != 0 {
					t.Fatalf("m=%d p=%d→%d: %d moves, want none", m, oldP, newP, len(moves))
				}
				i := 0 // index of the next expected move; moves are in ascending key-group order
				for kg := range m {
					from := ownerByRange(t, m, oldP, kg)
					to := ownerByRange(t, m, newP, kg)
					if from == to {
						if i < len(moves) && moves[i].KeyGroup == kg {
							t.Fatalf("m=%d p=%d→%d: key group %d stays with %d but is listed as %+v", m, oldP, newP, kg, from, moves[i])
						}
						continue
					}
					want := keyspace.Move{KeyGroup: kg, From: from, To: to}
					if i >= len(moves) || moves[i] != want {
						t.Fatalf("m=%d p=%d→%d: move %d = %v, want %+v", m, oldP, newP, i, moveAt(moves, i), want)
					}
					i++
				}
				if i != len(moves) {
					t.Fatalf("m=%d p=%d→%d: %d extra moves, first %+v", m, oldP, newP, len(moves)-i, moves[i])
				}
			}
		}
	}
}

// ownerByRange finds kg's owner from RangeForSubtask alone, so that the moves
// test does not trust SubtaskForKeyGroup, which KeyGroupMoves uses.
func ownerByRange(t *testing.T, m, p, kg int) int {
	t.Helper()
	// Ranges are ascending: start from the proportional guess and walk.
	i := kg * p / m
	for i > 0 && keyspace.RangeForSubtask(m, p, i).Start > kg {
		i--
	}
	for i < p-1 && keyspace.RangeForSubtask(m, p, i).End <= kg {
		i++
	}
	if !keyspace.RangeForSubtask(m, p, i).Contains(kg) {
		t.Fatalf("m=%d p=%d: no subtask owns key group %d", m, p, kg)
	}
	return i
}

func moveAt(moves []keyspace.Move, i int) any {
	if i < len(moves) {
		return moves[i]
	}
	return "missing"
}

func TestKeyGroupMovesExample(t *testing.T) {
	// 8 key groups from 2 subtasks ([0,4) [4,8)) to 4 ([0,2) [2,4) [4,6) [6,8)).
	got := keyspace.KeyGroupMoves(8, 2, 4)
	want := []keyspace.Move{
		{KeyGroup: 2, From: 0, To: 1},
		{KeyGroup: 3, From: 0, To: 1},
		{KeyGroup: 4, From: 1, To: 2},
		{KeyGroup: 5, From: 1, To: 2},
		{KeyGroup: 6, From: 1, To: 3},
		{KeyGroup: 7, From: 1, To: 3},
	}
	if len(got) != len(want) {
		t.Fatalf("KeyGroupMoves(8, 2, 4) = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("KeyGroupMoves(8, 2, 4) = %+v, want %+v", got, want)
		}
	}
}
