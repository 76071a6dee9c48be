package collab

import (
	"context"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Access on open connections. Every connection's role lives in
// document.conns and is checked on every op, chat and cursor. It changes
// when the store says so: AccessChanged (a REST change on any instance,
// carried by EventAccess), a bus resync, and a periodic re-check
// (AccessCheckInterval, one store round trip for every loaded document;
// off with SingleInstance, whose in-process bus loses nothing) that
// repairs a lost bus event.

// defaultAccessCheckInterval: a lost access event is repaired within 10s
// (the bound docs/protocol.md states), with room for a slow store read.
const defaultAccessCheckInterval = 5 * time.Second

// AccessChanged re-reads docID's access for this instance's connections and
// tells the other instances to do the same.
func (s *Service) AccessChanged(ctx context.Context, docID string) {
	if d := s.loaded(docID); d != nil {
		s.recheckAccess(ctx, d)
	}
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventAccess})
}

// queueAccessCheckLocked re-checks d's connections in the background (the
// store read must not happen under d.mu).
func (s *Service) queueAccessCheckLocked(d *document) {
	if !d.open() || len(d.clients) == 0 || s.closing.Load() {
		return
	}
	s.workers.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		s.recheckAccess(ctx, d)
	})
}

// recheckAll re-checks every loaded document that has connections, with
// one store round trip for all of them.
func (s *Service) recheckAll(ctx context.Context) {
	docs := map[string]*document{}
	var ids []string
	for _, d := range s.loadedDocs() {
		d.mu.Lock()
		if d.open() && len(d.clients) > 0 {
			docs[d.id] = d
			ids = append(ids, d.id)
		}
		d.mu.Unlock()
	}
	if len(ids) == 0 {
		return
	}
	metas, err := s.cfg.Store.DocumentsByID(ctx, ids)
	if err != nil {
		s.log.Warn("re-checking access failed", "docs", len(ids), "err", err)
		return
	}
	for _, meta := range metas {
		s.applyAccess(docs[meta.ID], meta)
		delete(docs, meta.ID)
	}
	for id := range docs { // gone from the store: its delete event was lost
		s.forgetLocal(id)
	}
}

// recheckAccess reads d's access from the store and applies it. A store
// error changes nothing: the next check retries.
func (s *Service) recheckAccess(ctx context.Context, d *document) {
	meta, err := s.cfg.Store.DocumentMeta(ctx, d.id)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		s.forgetLocal(d.id) // its delete event was lost
		return
	} else if err != nil {
		s.log.Warn("re-checking access failed", "doc", d.id, "err", err)
		return
	}
	s.applyAccess(d, meta)
}

// applyAccess gives d's clients their roles on meta: a client whose role
// changed gets AccessMessage, one without access any more gets
// ClosingMessage{ReasonAccessRevoked} and may send nothing more (ws closes
// it and leaves).
func (s *Service) applyAccess(d *document, meta *gdoc.Document) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer s.unlock(d)
	if !d.open() {
		return
	}
	d.meta.Public, d.meta.Visibility, d.meta.LinkRole = meta.Public, meta.Visibility, meta.LinkRole
	d.meta.OwnerID, d.meta.OwnerUsername = meta.OwnerID, meta.OwnerUsername
	for id, c := range d.clients {
		old, role := d.role(id), meta.RoleOf(c.User().ID)
		if role == old || !old.CanRead() {
			continue // unchanged, or already told to close
		}
		d.conns[id].role = role
		if !role.CanRead() {
			d.deliverLocked(c, ClosingMessage{Reason: ReasonAccessRevoked})
		} else {
			d.deliverLocked(c, AccessMessage{Role: role})
		}
	}
}
