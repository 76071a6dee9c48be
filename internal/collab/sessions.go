package collab

import (
	"context"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// A connection's doc_sessions row is written off the join path: Join
// queues it and returns, and one writer at a time stores the queued rows
// in join order, all that queued meanwhile in one transaction (a
// StartSession per join, an fsync'd transaction each, was about 40 % of a
// join's time). Leaving waits for the row before ending
// it, so when Leave returns the row and every row queued before it are
// stored. Ends are batched the same way: Leave queues its end and waits
// until the transaction that holds it committed (so when Leave returns,
// its row shows the leave), and the ends that queued meanwhile share that
// transaction (one per leave, fsync'd, was most of a leave's time). The
// rows are bookkeeping of who was in a document; no edit's durability
// depends on them.

// sessionRecord is one connection's session row.
type sessionRecord struct {
	sess gdoc.DocSession
	// written is closed once the row was stored (sess.ID set) or could not
	// be (sess.ID 0).
	written chan struct{}
}

// sessionEnd is one connection's leave, waiting to be stored.
type sessionEnd struct {
	end   gdoc.SessionEnd
	docID string
	done  chan struct{} // closed once stored or failed
}

// sessionQueue holds the rows and the ends waiting to be written.
type sessionQueue struct {
	starts batchQueue[*sessionRecord]
	ends   batchQueue[*sessionEnd]
}

// startSession queues sess's row and returns at once.
func (s *Service) startSession(sess gdoc.DocSession) *sessionRecord {
	rec := &sessionRecord{sess: sess, written: make(chan struct{})}
	if s.sessionRows.starts.add(rec) {
		s.workers.Go(s.writeSessions)
	}
	return rec
}

// maxSessionBatch bounds the rows (or ends) stored in one transaction.
const maxSessionBatch = 256

// writeSessions stores the queued rows in order, up to maxSessionBatch per
// transaction, until none is left, and marks each written. A batch that
// fails is retried a row at a time, so one bad row does not lose the
// others.
func (s *Service) writeSessions() {
	q := &s.sessionRows.starts
	for part := q.next(maxSessionBatch); len(part) > 0; part = q.next(maxSessionBatch) {
		rows := make([]*gdoc.DocSession, len(part))
		for i, rec := range part {
			rows[i] = &rec.sess
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := s.cfg.Store.StartSessions(ctx, rows)
		cancel()
		if err != nil && len(rows) > 1 {
			for _, row := range rows {
				ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
				err := s.cfg.Store.StartSessions(ctx, []*gdoc.DocSession{row})
				cancel()
				if err != nil {
					s.log.Warn("recording session failed", "doc", row.DocID, "err", err)
					row.ID = 0
				}
			}
		} else if err != nil {
			s.log.Warn("recording session failed", "doc", rows[0].DocID, "err", err)
			rows[0].ID = 0
		}
		for _, rec := range part {
			close(rec.written)
		}
	}
}

// endSession records that rec's connection left at leftAt, once its row
// is stored. A nil rec, or a row that could not be stored, is skipped.
func (s *Service) endSession(ctx context.Context, rec *sessionRecord, leftAt time.Time) {
	if rec == nil {
		return
	}
	select {
	case <-rec.written:
	case <-ctx.Done():
		s.log.Warn("ending session failed", "doc", rec.sess.DocID, "err", ctx.Err())
		return
	}
	if rec.sess.ID == 0 {
		return
	}
	end := &sessionEnd{end: gdoc.SessionEnd{ID: rec.sess.ID, LeftAt: leftAt}, docID: rec.sess.DocID, done: make(chan struct{})}
	if s.sessionRows.ends.add(end) {
		s.workers.Go(s.writeEnds)
	}
	select {
	case <-end.done:
	case <-ctx.Done():
		s.log.Warn("ending session failed", "doc", rec.sess.DocID, "err", ctx.Err())
	}
}

// writeEnds stores the queued ends, all that queued meanwhile (up to
// maxSessionBatch) in one transaction, until none is left.
func (s *Service) writeEnds() {
	q := &s.sessionRows.ends
	for part := q.next(maxSessionBatch); len(part) > 0; part = q.next(maxSessionBatch) {
		ends := make([]gdoc.SessionEnd, len(part))
		for i, e := range part {
			ends[i] = e.end
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		if err := s.cfg.Store.EndSessions(ctx, ends); err != nil {
			s.log.Warn("ending sessions failed", "doc", part[0].docID, "sessions", len(part), "err", err)
		}
		cancel()
		for _, e := range part {
			close(e.done)
		}
	}
}
