package collab

import (
	"context"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// The documents that first joins create are written like the session rows
// (sessions.go): one writer at a time stores all that queued meanwhile in
// one transaction (Store.CreateDocumentsUnlessDeleted), so concurrent joins
// of new ids (the peer harness's S3 opens 32 at a time, each to its own
// document) share one commit instead of an fsync'd transaction each. Each
// join waits for its own document's outcome, as before.

type createRequest struct {
	doc  *gdoc.Document
	err  error
	done chan struct{} // closed once err is set
}

// createForJoin stores doc (CreateDocumentUnlessDeleted's outcome) in the
// next batch of creations.
func (s *Service) createForJoin(ctx context.Context, doc *gdoc.Document) error {
	req := &createRequest{doc: doc, done: make(chan struct{})}
	if s.creates.add(req) {
		s.workers.Go(s.writeCreates)
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxCreateBatch bounds the documents created in one transaction.
const maxCreateBatch = 64

// writeCreates stores the queued documents until none is left.
func (s *Service) writeCreates() {
	for batch := s.creates.next(maxCreateBatch); len(batch) > 0; batch = s.creates.next(maxCreateBatch) {
		docs := make([]*gdoc.Document, len(batch))
		for i, req := range batch {
			docs[i] = req.doc
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		out := s.cfg.Store.CreateDocumentsUnlessDeleted(ctx, docs)
		cancel()
		for i, req := range batch {
			req.err = out[i]
			close(req.done)
		}
	}
}
