package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/floestream/floe/keyspace"
)

// MetadataVersion is the version of the metadata format this build writes
// and reads.
const MetadataVersion = 1

// Metadata describes a complete checkpoint or savepoint: which files each
// subtask of each operator wrote. A checkpoint is complete once its metadata
// is written; restoring reads it first.
type Metadata struct {
	Version        int              `json:"version"`
	Job            string           `json:"job"`
	Checkpoint     int64            `json:"checkpoint"`
	Savepoint      bool             `json:"savepoint,omitempty"`
	Time           time.Time        `json:"time"`
	MaxParallelism int              `json:"maxParallelism"`
	Operators      []OperatorFiles  `json:"operators"`
	Stats          *CheckpointStats `json:"stats,omitempty"`
}

// OperatorFiles lists the snapshot files of one operator, by subtask.
type OperatorFiles struct {
	UID         string     `json:"uid"`
	Name        string     `json:"name"`
	Parallelism int        `json:"parallelism"`
	Files       [][]string `json:"files"` // Files[i]: the files subtask i wrote
	Bytes       int64      `json:"bytes"`
}

// CheckpointStats are a checkpoint's figures, kept in its metadata.
type CheckpointStats struct {
	Duration      time.Duration `json:"duration"`
	MaxSyncPause  time.Duration `json:"maxSyncPause"`
	MaxAsyncWrite time.Duration `json:"maxAsyncWrite"`
	Bytes         int64         `json:"bytes"`
}

// Encode returns the metadata as written to storage.
func (m *Metadata) Encode() ([]byte, error) {
	return json.MarshalIndent(m, "", "  ")
}

// DecodeMetadata parses metadata written by Encode.
func DecodeMetadata(data []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("checkpoint metadata is corrupt: %w", err)
	}
	if m.Version != MetadataVersion {
		return nil, fmt.Errorf("checkpoint metadata has format version %d; this build reads version %d", m.Version, MetadataVersion)
	}
	return &m, nil
}

// Operator returns the files of the operator with the given UID.
func (m *Metadata) Operator(uid string) (*OperatorFiles, bool) {
	for i := range m.Operators {
		if m.Operators[i].UID == uid {
			return &m.Operators[i], true
		}
	}
	return nil, false
}

// Checkpoint is a complete checkpoint or savepoint opened for a restore.
type Checkpoint struct {
	Metadata
	// Path says where it is, for messages.
	Path string
	open func(uid string, subtask int, name string) (io.ReadCloser, error)
}

// Load opens complete checkpoint id of job in storage.
func Load(s Storage, job string, id int64) (*Checkpoint, error) {
	data, err := s.ReadMetadata(job, id)
	if err != nil {
		return nil, err
	}
	m, err := DecodeMetadata(data)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Metadata: *m, Path: s.Path(job, id),
		open: func(uid string, subtask int, name string) (io.ReadCloser, error) {
			return s.Open(job, id, uid, subtask, name)
		}}, nil
}

// LoadPath opens the checkpoint or savepoint in directory path (the one
// holding _metadata; the _metadata file itself is accepted too), as printed
// when it was taken. It is self-contained: its files are in that directory.
func LoadPath(path string) (*Checkpoint, error) {
	if filepath.Base(path) == MetadataFile {
		path = filepath.Dir(path)
	}
	data, err := os.ReadFile(filepath.Join(path, MetadataFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a complete checkpoint or savepoint: it has no %s file (pass the directory printed when it was taken, such as …/chk-12 or …/savepoint-3)", path, MetadataFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := DecodeMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Checkpoint{Metadata: *m, Path: path,
		open: func(uid string, subtask int, name string) (io.ReadCloser, error) {
			f, err := os.Open(filepath.Join(path, uid, strconv.Itoa(subtask), name))
			if err != nil {
				return nil, fmt.Errorf("checkpoint %s: %w", path, err)
			}
			return f, nil
		}}, nil
}

// HasPart reports whether any subtask of operator uid wrote file name.
func (c *Checkpoint) HasPart(uid, name string) bool {
	op, ok := c.Operator(uid)
	return ok && slices.ContainsFunc(op.Files, func(files []string) bool { return slices.Contains(files, name) })
}

// OpenParts opens the file name of every subtask of operator uid that
// wrote one, in subtask order. The caller closes them.
func (c *Checkpoint) OpenParts(uid, name string) ([]io.ReadCloser, error) {
	op, ok := c.Operator(uid)
	if !ok {
		return nil, nil
	}
	var out []io.ReadCloser
	for i, files := range op.Files {
		if !slices.Contains(files, name) {
			continue
		}
		r, err := c.open(uid, i, name)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// OperatorState reads the operator state of every old subtask of uid and
// deals it out to newParallelism subtasks (keyspace.RedistributeOperatorState):
// list states split, union lists and broadcast state given to all.
func (c *Checkpoint) OperatorState(uid, part string, newParallelism int) ([]keyspace.OperatorStateData, error) {
	op, ok := c.Operator(uid)
	if !ok {
		return nil, nil
	}
	old := make([]keyspace.OperatorStateData, len(op.Files))
	for i, files := range op.Files {
		if !slices.Contains(files, part) {
			continue
		}
		r, err := c.open(uid, i, part)
		if err != nil {
			return nil, err
		}
		old[i], err = keyspace.ReadOperatorState(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("operator %q subtask %d: %w", uid, i, err)
		}
	}
	return keyspace.RedistributeOperatorState(old, newParallelism)
}

// Match checks that the checkpoint can be restored into a job with the
// given operator UIDs and max parallelism: key groups cannot change, and
// state of an operator the job no longer has is an error unless
// allowNonRestored, since it would be lost.
func (c *Checkpoint) Match(uids []string, maxParallelism int, allowNonRestored bool) error {
	if c.MaxParallelism != maxParallelism {
		return fmt.Errorf("%s was taken with max parallelism %d, the job has %d: key groups cannot change, run with --max-parallelism %d",
			c.Path, c.MaxParallelism, maxParallelism, c.MaxParallelism)
	}
	if allowNonRestored {
		return nil
	}
	var missing []string
	for _, op := range c.Operators {
		if !slices.Contains(uids, op.UID) {
			missing = append(missing, fmt.Sprintf("%q (%s)", op.UID, op.Name))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s holds state of operators the job does not have: %v; give the operators their old UIDs, or pass --allow-non-restored-state to drop that state",
			c.Path, missing)
	}
	return nil
}
