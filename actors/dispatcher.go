package actors

import "sync"

// workerDispatcher runs subtask mailboxes on long-lived goroutines.
//
// protoactor's default dispatcher starts a goroutine each time an idle
// mailbox receives a message. A subtask's mailbox goes idle between batches,
// so at a few hundred thousand batches a second the new goroutines' stack
// growth (the call chain through the mailbox into operators is deep) cost a
// fifth of the CPU. Workers keep their grown stacks. When no worker is idle,
// Schedule falls back to a fresh goroutine, so a busy or blocked worker never
// delays a mailbox and nothing can deadlock on the pool.
type workerDispatcher struct {
	work       chan func()
	throughput int
	stop       chan struct{}
	once       sync.Once
}

func newWorkerDispatcher(workers, throughput int) *workerDispatcher {
	d := &workerDispatcher{work: make(chan func()), throughput: throughput, stop: make(chan struct{})}
	for range workers {
		go d.worker()
	}
	return d
}

func (d *workerDispatcher) worker() {
	for {
		select {
		case fn := <-d.work:
			fn()
		case <-d.stop:
			return
		}
	}
}

// Schedule hands fn to an idle worker, or to a new goroutine if none is idle.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go fn()
	}
}

// Throughput is how many messages a mailbox processes before it yields.
func (d *workerDispatcher) Throughput() int { return d.throughput }

// Close ends the workers once they finish what they run.
func (d *workerDispatcher) Close() { d.once.Do(func() { close(d.stop) }) }
