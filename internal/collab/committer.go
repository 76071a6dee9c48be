package collab

import (
	"context"
	"sync"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// groupCommitter writes the batches of many documents in one AppendOps
// transaction. A caller arriving while no transaction runs leads: it writes
// everything queued, its own batch among them, in one transaction. Callers
// arriving meanwhile queue; when the leader's transaction returns it hands
// leadership to the oldest of them, which writes the whole queue in the
// next transaction, and so on. So under load each transaction carries the
// work that arrived during the previous one, a batch waits for at most the
// running transaction and its own, and no caller writes for others once
// its own batch is answered; when idle a commit starts at once. It needs
// no goroutine of its own.
type groupCommitter struct {
	store   gdoc.OpLog
	mu      sync.Mutex
	queue   []*commitRequest
	leading bool
}

type commitRequest struct {
	batch gdoc.OpBatch
	done  chan error    // the batch's outcome
	lead  chan struct{} // closed when this request's caller is to lead
}

func (g *groupCommitter) commit(ctx context.Context, batch gdoc.OpBatch) error {
	req := &commitRequest{batch: batch, done: make(chan error, 1), lead: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.leading {
		g.mu.Unlock()
		select {
		case err := <-req.done:
			return err // written by a leader's transaction
		case <-req.lead: // the previous leader handed over (req is still queued)
		}
		g.mu.Lock()
	}
	g.leading = true
	reqs := g.queue
	g.queue = nil
	g.mu.Unlock()

	g.write(ctx, reqs)

	g.mu.Lock()
	if len(g.queue) > 0 {
		close(g.queue[0].lead) // leading stays true: the next leader holds it
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return <-req.done
}

func (g *groupCommitter) write(ctx context.Context, reqs []*commitRequest) {
	batches := make([]gdoc.OpBatch, len(reqs))
	for i, r := range reqs {
		batches[i] = r.batch
	}
	// Not the leader's own context: the transaction carries others' ops.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
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
