package collab

import (
	"context"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// The document lifecycle: load on first use (hold), stay while pinned or
// connected, snapshot when dirty, unload when idle, close on deletion or
// shutdown. docState (document.go) names the states.

// hold returns docID's loaded document, loading it first, and pins it
// until release. ENOTFOUND when it does not exist.
func (s *Service) hold(ctx context.Context, docID string) (*document, error) {
	for {
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The server is shutting down.")
		}
		if d := s.docs[docID]; d != nil {
			d.mu.Lock()
			d.pins++
			d.mu.Unlock()
			s.mu.Unlock()
			return d, nil
		}
		s.mu.Unlock()
		// Loads are shared by concurrent callers, so a caller's cancelled
		// context must not fail the others.
		_, err, _ := s.loads.Do(docID, func() (any, error) {
			loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
			defer cancel()
			return nil, s.load(loadCtx, docID)
		})
		if err != nil {
			return nil, err
		}
	}
}

func (s *Service) release(d *document) {
	d.mu.Lock()
	d.pins--
	if d.pins == 0 && len(d.clients) == 0 {
		d.idleSince = time.Now()
	}
	d.mu.Unlock()
}

// load reads docID into memory: subscribe first, then read the snapshot
// and the ops after it, then apply the events that arrived meanwhile, so
// nothing committed falls between the two (STYLE.md "subscribe, then
// load").
func (s *Service) load(ctx context.Context, docID string) error {
	s.mu.Lock()
	_, already := s.docs[docID]
	s.mu.Unlock()
	if already {
		return nil
	}
	d := newDocument(docID)
	cancel, err := s.cfg.Bus.Subscribe(ctx, docID, func(ev gdoc.Event) { s.handleEvent(d, ev) })
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			cancel()
		}
	}()
	meta, err := s.cfg.Store.Document(ctx, docID)
	if err != nil {
		return err
	}
	auth, err := s.replayStored(ctx, meta, true)
	if err != nil {
		return err
	}
	meta.Content = ""

	d.mu.Lock()
	d.meta, d.auth, d.savedRev = *meta, auth, meta.Rev
	d.cancelSub = cancel
	d.idleSince = time.Now()
	d.state = stateIdle
	early := d.early
	d.early = nil
	var check followUp
	for _, ev := range early {
		check.add(s.handleEventLocked(d, ev))
	}
	s.unlock(d)

	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The server is shutting down.")
	}
	s.docs[docID] = d
	s.mu.Unlock()
	ok = true
	s.verify(d, check) // a deletion while loading: the next hold finds it gone
	return nil
}

// replayStored rebuilds doc's authority from the store: its snapshot and
// every op after it, with their authors' names when named.
func (s *Service) replayStored(ctx context.Context, doc *gdoc.Document, named bool) (*authority, error) {
	ops, err := s.cfg.Store.Ops(ctx, doc.ID, doc.Rev, 0)
	if err != nil {
		return nil, err
	}
	history, err := parseOps(ops)
	if named && err == nil {
		s.name(ctx, history)
	}
	if err != nil {
		return nil, err
	}
	auth := newAuthority(doc.Content, doc.Rev)
	auth.maxTextBytes = s.cfg.MaxDocumentBytes
	if _, err := auth.replay(history); err != nil {
		return nil, gdoc.Errorf(gdoc.EINTERNAL, "document %s: the op log does not replay: %v", doc.ID, err)
	}
	return auth, nil
}

// resolve parses stored ops and finds their authors' names.
func (s *Service) resolve(ctx context.Context, ops []gdoc.CommittedOp) ([]committed, error) {
	out, err := parseOps(ops)
	if err != nil {
		return nil, err
	}
	s.name(ctx, out)
	return out, nil
}

// name fills in the authors' names of ops read from the OpLog.
func (s *Service) name(ctx context.Context, ops []committed) {
	for i := range ops {
		ops[i].username = s.usernames.get(ctx, ops[i].op.UserID)
	}
}

// saveDirty writes a snapshot of every document changed since its last one.
func (s *Service) saveDirty(ctx context.Context) {
	for _, d := range s.loadedDocs() {
		s.saveSnapshot(ctx, d)
	}
}

func (s *Service) saveSnapshot(ctx context.Context, d *document) {
	d.mu.Lock()
	if d.state == stateLoading || d.auth.head <= d.savedRev {
		d.mu.Unlock()
		return
	}
	content, rev := d.auth.text.String(), d.auth.head
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := s.cfg.Store.SaveSnapshot(ctx, d.id, content, rev); err != nil {
		s.log.Error("saving snapshot failed", "doc", d.id, "rev", rev, "err", err)
		return
	}
	d.mu.Lock()
	d.savedRev = max(d.savedRev, rev)
	d.mu.Unlock()
	s.log.Info("Saved document "+d.id+" at rev "+itoa(rev), "doc", d.id, "rev", rev)
}

// unloadIdle drops documents whose last client left IdleUnload before now,
// after writing their snapshot, so memory follows the documents in use,
// not every document ever opened.
func (s *Service) unloadIdle(ctx context.Context, now time.Time) {
	var idle []*document
	s.mu.Lock()
	for id, d := range s.docs {
		d.mu.Lock()
		if d.unloadable() && !d.idleSince.IsZero() && now.Sub(d.idleSince) >= s.cfg.IdleUnload {
			d.state = stateClosed
			delete(s.docs, id)
			idle = append(idle, d)
		}
		d.mu.Unlock()
	}
	s.mu.Unlock()
	for _, d := range idle {
		s.saveSnapshot(ctx, d)
		d.mu.Lock()
		cancel := d.cancelSub
		d.cancelSub = nil
		d.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	}
}

// Forget drops the document's live state and disconnects its clients, here
// and, through the bus, on the other instances (after the document was
// deleted).
func (s *Service) Forget(docID string) {
	s.forgetLocal(docID)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	s.publishDocumentEvent(ctx, gdoc.DocumentEvent{Document: gdoc.Document{ID: docID}, Deleted: true})
}

// forgetLocal closes docID's document on this instance. The caller must
// not hold its lock.
func (s *Service) forgetLocal(docID string) {
	s.mu.Lock()
	d := s.docs[docID]
	delete(s.docs, docID)
	s.mu.Unlock()
	if d != nil {
		s.closeDocument(d, ReasonDeleted)
	}
}

// closeDocument drops d from memory: its clients get ClosingMessage, its
// connections leave presence, its queued ops are refused.
func (s *Service) closeDocument(d *document, reason string) {
	d.mu.Lock()
	d.state = stateClosed
	clients := d.clients
	conns := d.conns
	d.clients = make(map[string]Client)
	d.conns = make(map[string]*connState)
	pending := d.pending
	d.pending = nil
	for _, c := range clients {
		c.Deliver(ClosingMessage{Reason: reason})
	}
	for _, sub := range pending {
		d.finishLocked(sub, 0, gdoc.Errorf(gdoc.EUNAVAILABLE, "The document was closed (%s); resend the op later.", reason))
	}
	cancel := d.cancelSub
	d.cancelSub = nil
	s.unlock(d)
	if cancel != nil {
		cancel()
	}
	ctx, done := context.WithTimeout(context.Background(), storeTimeout)
	defer done()
	now := time.Now()
	for connID := range clients {
		if err := s.cfg.Presence.Leave(ctx, d.id, connID); err != nil {
			s.log.Warn("presence leave failed", "doc", d.id, "conn", connID, "err", err)
		}
		var session *sessionRecord
		if cs := conns[connID]; cs != nil {
			session = cs.session
		}
		s.endSession(ctx, session, now)
	}
	if len(clients) > 0 {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: d.id, Kind: gdoc.EventPresence})
	}
}

// unlock unlocks d and finishes, on a worker, the leaving of every client
// dropped meanwhile as too slow (document.deliverLocked).
func (s *Service) unlock(d *document) {
	dropped := d.dropped
	d.dropped = nil
	d.mu.Unlock()
	for _, gone := range dropped {
		s.workers.Go(func() { s.finishLeave(d, gone) })
	}
}

// checkHead compares d with the OpLog and catches up when another instance
// committed ops whose bus events were lost (the bus is at most once).
// It returns the OpLog's head (-1 when unknown).
func (s *Service) checkHead(ctx context.Context, d *document) int64 {
	head, err := s.cfg.Store.HeadRev(ctx, d.id)
	if err != nil {
		return -1
	}
	d.mu.Lock()
	defer s.unlock(d)
	if d.open() && head > d.auth.head {
		d.remoteHint = max(d.remoteHint, head)
		s.startWorkerLocked(d)
	}
	return head
}

// waitHead waits until d reached rev, catching up from the OpLog, for a
// client reconnecting from an instance that is a little ahead of this one.
func (s *Service) waitHead(ctx context.Context, d *document, rev int64) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if s.checkHead(ctx, d) < rev {
		return // no instance has it: the client is wrong
	}
	for {
		d.mu.Lock()
		head := d.auth.head
		d.mu.Unlock()
		if head >= rev || ctx.Err() != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
