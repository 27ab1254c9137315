package topology

import (
	"fmt"
	"sort"
	"sync"

	"github.com/spf13/pflag"
)

// Definition is a job that the CLI can run by name.
type Definition struct {
	Name        string
	Description string
	// Setup declares the job's own flags on fs and returns the function that
	// builds the topology once the flags are parsed. It must not do I/O:
	// `floe info` and `floe run --help` call it too.
	Setup func(fs *pflag.FlagSet) Builder
}

// Builder adds a job's operators to j. It reads the flags its Setup declared.
type Builder func(j *Job) error

var registry struct {
	sync.Mutex
	jobs map[string]Definition
}

// Register makes a job runnable by name. It panics on an empty or duplicate
// name: registrations happen in init functions, where that is a programming
// error.
func Register(d Definition) {
	registry.Lock()
	defer registry.Unlock()
	if d.Name == "" || d.Setup == nil {
		panic("topology: Register needs a name and a Setup")
	}
	if registry.jobs == nil {
		registry.jobs = map[string]Definition{}
	}
	if _, dup := registry.jobs[d.Name]; dup {
		panic(fmt.Sprintf("topology: job %q registered twice", d.Name))
	}
	registry.jobs[d.Name] = d
}

// Lookup returns the job registered under name.
func Lookup(name string) (Definition, bool) {
	registry.Lock()
	defer registry.Unlock()
	d, ok := registry.jobs[name]
	return d, ok
}

// Definitions returns every registered job, sorted by name.
func Definitions() []Definition {
	registry.Lock()
	defer registry.Unlock()
	out := make([]Definition, 0, len(registry.jobs))
	for _, d := range registry.jobs {
		out = append(out, d)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}
