package history

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Checkpointer is a gdoc.Store that writes history checkpoints in the
// background as ops are committed: after every `every` ops appended to a
// document through it, a worker replays them from the last checkpoint and
// stores the next one. So reads of a live document replay at most `every`
// ops, and no request pays for a long stretch without checkpoints (except
// for history written before this existed, or by another instance that
// stopped before it checkpointed: the first read of such a stretch fills
// it). With keep > 0 it also trims each document's history after a
// checkpoint: ops older than the newest checkpoint that leaves at least keep
// revisions (and is at or before the snapshot) are dropped, and the history
// starts there. Everything else is the wrapped store's.
type Checkpointer struct {
	gdoc.Store
	svc   *Service
	log   *slog.Logger
	every int64
	keep  int64

	mu      sync.Mutex
	since   map[string]int64    // ops appended per document since its last scheduling
	pending map[string]struct{} // documents waiting for the worker
	wake    chan struct{}
}

// NewCheckpointer wraps store, checkpointing every `every` ops (0: the
// default) and keeping at least keep revisions of history (0: everything);
// Run does the work.
func NewCheckpointer(store gdoc.Store, every, keep int64, log *slog.Logger) *Checkpointer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := New(store, every)
	return &Checkpointer{Store: store, svc: svc, log: log, every: svc.every, keep: keep,
		since: map[string]int64{}, pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
}

// AppendOps appends through the wrapped store, then counts the committed ops.
func (c *Checkpointer) AppendOps(ctx context.Context, batches []gdoc.OpBatch) ([]error, error) {
	errs, err := c.Store.AppendOps(ctx, batches)
	if err != nil {
		return errs, err
	}
	woke := false
	c.mu.Lock()
	for i, b := range batches {
		if i >= len(errs) || errs[i] != nil {
			continue
		}
		n := c.since[b.DocID] + int64(len(b.Ops))
		if n < c.every {
			c.since[b.DocID] = n
			continue
		}
		delete(c.since, b.DocID)
		c.pending[b.DocID] = struct{}{}
		woke = true
	}
	c.mu.Unlock()
	if woke {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return errs, nil
}

// Run checkpoints the scheduled documents until ctx ends.
func (c *Checkpointer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			var docID string
			for id := range c.pending {
				docID = id
				break
			}
			delete(c.pending, docID)
			c.mu.Unlock()
			if docID == "" || ctx.Err() != nil {
				break
			}
			c.checkpoint(ctx, docID)
		}
	}
}

func (c *Checkpointer) checkpoint(ctx context.Context, docID string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	head, err := c.Store.HeadRev(ctx, docID)
	if err == nil {
		_, _, err = c.svc.fill(ctx, docID, head)
	}
	if err == nil && c.keep > 0 {
		err = c.trim(ctx, docID, head)
	}
	if err != nil && ctx.Err() == nil && gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		c.log.Warn("history checkpoint failed", "doc", docID, "err", err)
	}
}

// trim starts docID's history at the newest checkpoint that keeps at least
// c.keep revisions and is at or before the snapshot.
func (c *Checkpointer) trim(ctx context.Context, docID string, head int64) error {
	doc, err := c.Store.Document(ctx, docID)
	if err != nil {
		return err
	}
	bound := min(head-c.keep, doc.Rev)
	if bound <= 0 {
		return nil
	}
	cp, err := c.Store.Checkpoint(ctx, docID, bound)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	first, err := c.Store.FirstCheckpointRev(ctx, docID)
	if err != nil || first >= cp.Rev {
		return err
	}
	return c.Store.TrimHistory(ctx, docID, cp.Rev)
}
