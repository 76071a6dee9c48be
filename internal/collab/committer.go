package collab

import (
	"context"
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// committerIdle is how long the committer goroutine waits for work before
// it ends; the next commit starts a new one.
const committerIdle = time.Second

// groupCommitter writes the batches of many documents in one AppendOps
// transaction. One goroutine of its own writes: each transaction carries
// everything queued when it starts, so under load it carries the work that
// arrived during the previous one, a batch waits for at most the running
// transaction and its own, and when idle a commit starts at once. Each
// caller is answered as soon as the transaction carrying its batch returns.
//
// The goroutine lives while commits keep coming (it ends after
// committerIdle without work, or at once when stopped and idle): SQLite's
// call chain is deep, and a goroutine started per transaction (or a
// document worker leading one) grew its stack from scratch every time.
type groupCommitter struct {
	store gdoc.OpLog

	mu      sync.Mutex
	queue   []*commitRequest
	running bool          // the writing goroutine runs
	stopped bool          // end the goroutine as soon as the queue is empty
	wake    chan struct{} // a request was queued (capacity 1)
}

type commitRequest struct {
	batch gdoc.OpBatch
	done  chan error // the batch's outcome
}

func newGroupCommitter(store gdoc.OpLog) *groupCommitter {
	return &groupCommitter{store: store, wake: make(chan struct{}, 1)}
}

// commit writes batch in the next transaction and returns its outcome.
func (g *groupCommitter) commit(batch gdoc.OpBatch) error {
	req := &commitRequest{batch: batch, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return <-req.done
}

// stop makes the writing goroutine end once nothing is queued. Commits
// after stop still work (each starts a goroutine that ends when done).
func (g *groupCommitter) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// run writes the queue, one transaction at a time, until it stays empty.
func (g *groupCommitter) run() {
	idle := time.NewTimer(committerIdle)
	defer idle.Stop()
	for {
		g.mu.Lock()
		reqs := g.queue
		g.queue = nil
		if len(reqs) == 0 && g.stopped {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		if len(reqs) > 0 {
			g.write(reqs)
			continue
		}
		idle.Reset(committerIdle)
		select {
		case <-g.wake:
		case <-idle.C:
			g.mu.Lock()
			if len(g.queue) == 0 {
				g.running = false
				g.mu.Unlock()
				return
			}
			g.mu.Unlock()
		}
	}
}

func (g *groupCommitter) write(reqs []*commitRequest) {
	batches := make([]gdoc.OpBatch, len(reqs))
	for i, r := range reqs {
		batches[i] = r.batch
	}
	// No caller's context: the transaction carries many callers' ops.
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	errs, err := g.store.AppendOps(ctx, batches)
	for i, r := range reqs {
		switch {
		case err != nil:
			r.done <- err
		case i < len(errs):
			r.done <- errs[i]
		default:
			r.done <- gdoc.Errorf(gdoc.EINTERNAL, "AppendOps returned %d results for %d batches", len(errs), len(batches))
		}
	}
}
