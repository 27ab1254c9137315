package keyspace

import (
	"fmt"
)

// DefaultMaxParallelism is the number of key groups a keyed operator gets when
// the job does not choose one. It bounds how far the operator can later be
// scaled out, and it is fixed for the life of the job's state: a savepoint can
// only be restored with the max parallelism it was taken with.
const DefaultMaxParallelism = 128

// UpperBoundMaxParallelism is the largest max parallelism (number of key
// groups) floe accepts. It matches Flink's limit and keeps a key group
// representable in two bytes of a state key prefix.
const UpperBoundMaxParallelism = 1 << 15

// KeyGroupRange is the half-open range [Start, End) of key groups. Subtasks
// own contiguous ranges, so a range is also the unit in which keyed state is
// snapshotted, restored and moved on rescale. The zero value is the empty
// range.
type KeyGroupRange struct {
	Start, End int
}

// Len returns the number of key groups in the range (0 if End ≤ Start).
func (r KeyGroupRange) Len() int {
	return max(r.End-r.Start, 0)
}

// Contains reports whether key group kg lies in [Start, End).
func (r KeyGroupRange) Contains(kg int) bool {
	return kg >= r.Start && kg < r.End
}

// String formats the range as "[Start, End)".
func (r KeyGroupRange) String() string {
	return fmt.Sprintf("[%d, %d)", r.Start, r.End)
}

// RangeForSubtask returns the key groups that subtask index of parallelism
// owns when there are maxParallelism key groups in all:
// [ceil(index*m/p), ceil((index+1)*m/p)). The ranges of subtasks 0..p-1 are
// contiguous, ascending, non-empty and together cover [0, m), and they agree
// with SubtaskForKeyGroup.
//
// The arguments must satisfy ValidateParallelism and 0 ≤ index < parallelism;
// anything else is a bug in the caller and panics.
func RangeForSubtask(maxParallelism, parallelism, index int) KeyGroupRange {
	mustBeValid(parallelism, maxParallelism)
	if index < 0 || index >= parallelism {
		panic(fmt.Sprintf("keyspace: subtask index %d out of range for parallelism %d", index, parallelism))
	}
	// m ≤ 2^15 and p ≤ m, so the products cannot overflow an int.
	return KeyGroupRange{
		Start: (index*maxParallelism + parallelism - 1) / parallelism,
		End:   ((index+1)*maxParallelism + parallelism - 1) / parallelism,
	}
}

// SubtaskForKeyGroup returns the index of the subtask, out of parallelism,
// that owns keyGroup: keyGroup*p/m. It is the inverse of RangeForSubtask: the
// result's range contains keyGroup.
//
// The arguments must satisfy ValidateParallelism and
// 0 ≤ keyGroup < maxParallelism; anything else is a bug in the caller and
// panics.
func SubtaskForKeyGroup(maxParallelism, parallelism, keyGroup int) int {
	mustBeValid(parallelism, maxParallelism)
	if keyGroup < 0 || keyGroup >= maxParallelism {
		panic(fmt.Sprintf("keyspace: key group %d out of range [0, %d)", keyGroup, maxParallelism))
	}
	return keyGroup * parallelism / maxParallelism
}

// KeyGroupForHash returns the key group of a key whose hash (see KeyHasher) is
// hash: hash mod maxParallelism. maxParallelism must be at least 1.
//
// Together with the key encoding this is part of the savepoint format: a key
// must land in the same key group in every process and every release.
func KeyGroupForHash(hash uint64, maxParallelism int) int {
	return int(hash % uint64(maxParallelism))
}

// ValidateParallelism checks a (parallelism, maxParallelism) pair chosen by a
// user. It returns nil if 1 ≤ parallelism ≤ maxParallelism ≤
// UpperBoundMaxParallelism, and otherwise an error that says which bound was
// broken and what to change.
func ValidateParallelism(parallelism, maxParallelism int) error {
	switch {
	case maxParallelism < 1:
		return fmt.Errorf("max parallelism %d is invalid: it is the number of key groups and must be at least 1 (the default is %d)",
			maxParallelism, DefaultMaxParallelism)
	case maxParallelism > UpperBoundMaxParallelism:
		return fmt.Errorf("max parallelism %d is too large: it must be at most %d; choose a smaller max parallelism",
			maxParallelism, UpperBoundMaxParallelism)
	case parallelism < 1:
		return fmt.Errorf("parallelism %d is invalid: it must be at least 1", parallelism)
	case parallelism > maxParallelism:
		return fmt.Errorf("parallelism %d exceeds max parallelism %d: each subtask needs at least one key group; lower the parallelism, or raise the max parallelism if the job has no savepoint to keep (it cannot change across a savepoint)",
			parallelism, maxParallelism)
	}
	return nil
}

// mustBeValid panics if ValidateParallelism rejects the pair. The functions
// that call it run after a job has been validated, so a failure is a bug.
func mustBeValid(parallelism, maxParallelism int) {
	if err := ValidateParallelism(parallelism, maxParallelism); err != nil {
		panic("keyspace: " + err.Error())
	}
}

// Move records that a key group changes owner when an operator is rescaled:
// its state must go from subtask From (of the old parallelism) to subtask To
// (of the new parallelism).
type Move struct {
	KeyGroup, From, To int
}

// KeyGroupMoves returns, in ascending key-group order, every key group whose
// owning subtask differs between oldParallelism and newParallelism, with its
// old and new owner. Key groups that are not listed stay with the subtask of
// the same index. Equal parallelisms yield no moves.
//
// Both parallelisms must pass ValidateParallelism with maxParallelism;
// anything else is a bug in the caller and panics.
func KeyGroupMoves(maxParallelism, oldParallelism, newParallelism int) []Move {
	mustBeValid(oldParallelism, maxParallelism)
	mustBeValid(newParallelism, maxParallelism)
	var moves []Move
	for kg := range maxParallelism {
		from := SubtaskForKeyGroup(maxParallelism, oldParallelism, kg)
		to := SubtaskForKeyGroup(maxParallelism, newParallelism, kg)
		if from != to {
			moves = append(moves, Move{KeyGroup: kg, From: from, To: to})
		}
	}
	return moves
}
