package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Storage keeps checkpoints: each subtask's snapshot files under
// <job>/chk-<n>/<operator-uid>/<subtask>/, and each checkpoint's metadata,
// written last and atomically — a checkpoint exists once its metadata does.
type Storage interface {
	// Create opens a snapshot file of one subtask for writing. The file is
	// durable (synced) once Close returns nil, and readable only then.
	Create(job string, checkpoint int64, operatorUID string, subtask int, name string) (io.WriteCloser, error)
	// Open reads a snapshot file written by Create.
	Open(job string, checkpoint int64, operatorUID string, subtask int, name string) (io.ReadCloser, error)
	// WriteMetadata stores a checkpoint's metadata atomically and durably.
	WriteMetadata(job string, checkpoint int64, data []byte) error
	// ReadMetadata returns a complete checkpoint's metadata.
	ReadMetadata(job string, checkpoint int64) ([]byte, error)
	// Completed lists the job's complete checkpoints, oldest first.
	Completed(job string) ([]int64, error)
	// Delete removes a checkpoint, complete or not.
	Delete(job string, checkpoint int64) error
	// Path says where a checkpoint is, for messages and for LoadPath.
	Path(job string, checkpoint int64) string
}

// MetadataFile is the name of a checkpoint's metadata file.
const MetadataFile = "_metadata"

// LocalStorage keeps checkpoints in a directory of the local file system,
// checkpoint n of a job in <Root>/<job>/<Prefix><n>.
type LocalStorage struct {
	Root   string
	Prefix string // "chk-" when empty; savepoints use "savepoint-"
}

func (s LocalStorage) prefix() string {
	if s.Prefix == "" {
		return "chk-"
	}
	return s.Prefix
}

func (s LocalStorage) checkpointDir(job string, checkpoint int64) string {
	return filepath.Join(s.Root, job, fmt.Sprintf("%s%d", s.prefix(), checkpoint))
}

// Path returns the directory of a checkpoint.
func (s LocalStorage) Path(job string, checkpoint int64) string {
	return s.checkpointDir(job, checkpoint)
}

func (s LocalStorage) file(job string, checkpoint int64, uid string, subtask int, name string) string {
	return filepath.Join(s.checkpointDir(job, checkpoint), uid, strconv.Itoa(subtask), name)
}

// Create writes to a temporary file that Close syncs and renames into place.
func (s LocalStorage) Create(job string, checkpoint int64, uid string, subtask int, name string) (io.WriteCloser, error) {
	path := s.file(job, checkpoint, uid, subtask, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint storage: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("checkpoint storage: %w", err)
	}
	return &durableFile{f: f, path: path}, nil
}

type durableFile struct {
	f    *os.File
	path string
	done bool
}

func (d *durableFile) Write(p []byte) (int, error) { return d.f.Write(p) }

// Close syncs the file, renames it into place and syncs its directory, so
// the file survives a crash once Close returned nil.
func (d *durableFile) Close() error {
	if d.done {
		return nil
	}
	d.done = true
	err := d.f.Sync()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(d.f.Name(), d.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(d.path))
	}
	if err != nil {
		os.Remove(d.f.Name())
		return fmt.Errorf("checkpoint storage: write %s: %w", d.path, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Open reads a snapshot file.
func (s LocalStorage) Open(job string, checkpoint int64, uid string, subtask int, name string) (io.ReadCloser, error) {
	f, err := os.Open(s.file(job, checkpoint, uid, subtask, name))
	if err != nil {
		return nil, fmt.Errorf("checkpoint storage: %w", err)
	}
	return f, nil
}

// WriteMetadata writes the metadata through a synced temporary file renamed
// into place: a crash leaves either no metadata or all of it.
func (s LocalStorage) WriteMetadata(job string, checkpoint int64, data []byte) error {
	dir := s.checkpointDir(job, checkpoint)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint storage: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+MetadataFile+".tmp-")
	if err != nil {
		return fmt.Errorf("checkpoint storage: %w", err)
	}
	w := &durableFile{f: f, path: filepath.Join(dir, MetadataFile)}
	if _, err := w.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("checkpoint storage: write metadata of %d: %w", checkpoint, err)
	}
	return w.Close()
}

// ReadMetadata reads a checkpoint's metadata.
func (s LocalStorage) ReadMetadata(job string, checkpoint int64) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(s.checkpointDir(job, checkpoint), MetadataFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint storage: checkpoint %d of %s is not complete: %w", checkpoint, job, err)
	}
	return data, nil
}

// Completed lists checkpoints that have metadata.
func (s LocalStorage) Completed(job string) ([]int64, error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, job))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint storage: %w", err)
	}
	var ids []int64
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), s.prefix())
		id, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Root, job, e.Name(), MetadataFile)); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Delete removes a checkpoint's directory.
func (s LocalStorage) Delete(job string, checkpoint int64) error {
	if err := os.RemoveAll(s.checkpointDir(job, checkpoint)); err != nil {
		return fmt.Errorf("checkpoint storage: %w", err)
	}
	return nil
}
