package collab

import (
	"context"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Access on open connections. Every connection's role lives in
// document.roles and is checked on every op, chat and cursor. It changes
// when the store says so: AccessChanged (a REST change on any instance,
// carried by EventAccess), a bus resync, and a periodic re-check
// (AccessCheckInterval) that repairs a lost bus event.

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

// recheckAll re-checks every loaded document that has connections.
func (s *Service) recheckAll(ctx context.Context) {
	for _, d := range s.loadedDocs() {
		d.mu.Lock()
		n := len(d.clients)
		d.mu.Unlock()
		if n > 0 {
			s.recheckAccess(ctx, d)
		}
	}
}

// recheckAccess reads d's access from the store and applies it: a client
// whose role changed gets AccessMessage, one without access any more gets
// ClosingMessage{ReasonAccessRevoked} and may send nothing more (ws closes
// it and leaves). A document gone from the store is forgotten (its delete
// event was lost). A store error changes nothing: the next check retries.
func (s *Service) recheckAccess(ctx context.Context, d *document) {
	meta, err := s.cfg.Store.Document(ctx, d.id)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		s.forgetLocal(d.id)
		return
	} else if err != nil {
		s.log.Warn("re-checking access failed", "doc", d.id, "err", err)
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
		old, role := d.roles[id], meta.RoleOf(c.User().ID)
		if role == old || !old.CanRead() {
			continue // unchanged, or already told to close
		}
		d.roles[id] = role
		if !role.CanRead() {
			d.deliverLocked(c, ClosingMessage{Reason: ReasonAccessRevoked})
		} else {
			d.deliverLocked(c, AccessMessage{Role: role})
		}
	}
}
