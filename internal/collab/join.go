package collab

import (
	"context"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Join registers c on docID, creating the document (owned by c.User(),
// title = id, public) if it does not exist — unless since >= 0 (a
// reconnect), the id was deleted, or the user created JoinCreateLimit
// documents in the last hour.
//
// since < 0 asks for the full content; since >= 0 for the ops committed
// after since (JoinState.Ops, never nil then). EINVALID for a bad id or a
// since ahead of the head ("bad revision"), ENOTFOUND for a deleted id or a
// reconnect to a missing one, ERATELIMITED past the creation limit,
// EFORBIDDEN without access (gdoc.Document.RoleOf; checked again once the
// connection is registered, so a join racing a withdrawal never ends up
// open), EUNAVAILABLE while shutting down or when the store is down. Everything committed after JoinState.Rev reaches c through Deliver,
// in revision order, without gaps — possibly before Join returns.
func (s *Service) Join(ctx context.Context, docID string, c Client, since int64) (JoinState, error) {
	user := c.User()
	if !gdoc.ValidDocumentID(docID) {
		return JoinState{}, gdoc.Errorf(gdoc.EINVALID, "A document id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit.")
	}
	if user == nil || user.ID == "" {
		return JoinState{}, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Joining a document needs a signed-in user.")
	}
	meta, err := s.documentOrCreate(ctx, docID, user, since)
	if err != nil {
		return JoinState{}, err
	}
	role := meta.RoleOf(user.ID)
	if !role.CanRead() {
		return JoinState{}, errNoAccess()
	}
	d, err := s.hold(ctx, docID)
	if err != nil {
		return JoinState{}, err
	}
	defer s.release(d)

	d.mu.Lock()
	head := d.head
	d.mu.Unlock()
	if since > head {
		s.waitHead(ctx, d, since)
		d.mu.Lock()
		head = d.head
		d.mu.Unlock()
	}
	if since > head {
		return JoinState{}, gdoc.Errorf(gdoc.EINVALID, "Bad revision: %d is ahead of the document's revision %d.", since, head)
	}

	color := colorFor(user.ID)
	connID := c.ConnID()
	joinedAt := time.Now()
	// Presence first, then the announcement to the users already here,
	// then registration: so the joiner is not told about itself, and its
	// user list (from the announced set) includes itself.
	part := gdoc.Participant{ConnID: connID, ServerID: s.cfg.ServerID, UserID: user.ID, Username: user.Username, Color: color, JoinedAt: joinedAt}
	if err := s.cfg.Presence.Join(ctx, docID, part); err != nil {
		s.log.Warn("presence join failed", "doc", docID, "conn", connID, "err", err)
	}
	session := &gdoc.DocSession{DocID: docID, UserID: user.ID, ServerID: s.cfg.ServerID, JoinedAt: joinedAt}
	if err := s.cfg.Store.StartSession(ctx, session); err != nil {
		s.log.Warn("recording session failed", "doc", docID, "err", err)
		session = nil
	}
	s.recomputePresence(d)

	chat, err := s.cfg.Store.ChatMessages(ctx, docID, 0, chatHistoryLimit)
	if err != nil {
		s.abandonJoin(d, connID, session)
		return JoinState{}, err
	}

	d.mu.Lock()
	if d.unloaded { // forgotten (deleted) or shut down meanwhile
		d.mu.Unlock()
		s.abandonJoin(d, connID, session)
		return JoinState{}, gdoc.Errorf(gdoc.EUNAVAILABLE, "The document was closed.")
	}
	state := JoinState{Document: d.meta, Rev: d.head, Color: color}
	state.Document.Title, state.Document.Language, state.Document.Public = meta.Title, meta.Language, meta.Public
	state.Document.UpdatedAt = meta.UpdatedAt
	var olderFrom, olderTo int64 = -1, -1
	if since < 0 {
		state.Document.Content = d.text.String()
	} else {
		state.Ops = []OpMessage{}
		from := d.recentFrom()
		if since < from {
			olderFrom, olderTo = since, from
			since = from
		}
		for _, op := range d.recent[since-from:] {
			state.Ops = append(state.Ops, op.message())
		}
	}
	state.Document.Rev = state.Rev
	d.clients[connID] = c
	d.roles[connID] = role
	d.idleSince = time.Time{}
	if session != nil {
		d.sessions[connID] = session.ID
	}
	for id, cur := range d.cursors {
		if id != connID {
			state.Cursors = append(state.Cursors, cur)
		}
	}
	announced := make(map[string]gdoc.ActiveUser, len(d.announced)+1)
	for id, u := range d.announced {
		announced[id] = u
	}
	if _, ok := announced[user.ID]; !ok {
		announced[user.ID] = gdoc.ActiveUser{UserID: user.ID, Username: user.Username, Color: color, Connections: 1}
	}
	d.mu.Unlock()
	state.Users = sortUsers(announced, nil)
	for _, m := range chat {
		state.Chat = append(state.Chat, *m)
	}

	if olderFrom >= 0 {
		// Ops too old for the in-memory window come from the OpLog; they
		// are immutable, so reading them outside the lock is safe.
		ops, err := s.cfg.Store.Ops(ctx, docID, olderFrom, olderTo)
		var older []committed
		if err == nil {
			older, err = s.resolve(ctx, ops)
		}
		if err != nil {
			s.Leave(docID, c)
			return JoinState{}, err
		}
		if int64(len(older)) != olderTo-olderFrom {
			// The log no longer holds every op since then: send the text.
			state.Reset, state.Ops = true, nil
			d.mu.Lock()
			state.Document.Content = d.text.String()
			rev := d.head
			d.mu.Unlock()
			if rev != state.Rev {
				s.Leave(docID, c)
				return JoinState{}, gdoc.Errorf(gdoc.EUNAVAILABLE, "The document changed while joining; try again.")
			}
		} else {
			msgs := make([]OpMessage, 0, len(older)+len(state.Ops))
			for _, op := range older {
				msgs = append(msgs, op.message())
			}
			state.Ops = append(msgs, state.Ops...)
		}
	}
	// Access is read again now that c is registered: a withdrawal that
	// committed before this read is seen here, and one after it finds c
	// in d.clients when it re-checks.
	fresh, err := s.cfg.Store.Document(ctx, docID)
	if err == nil {
		role = fresh.RoleOf(user.ID)
	}
	if err != nil || !role.CanRead() {
		s.Leave(docID, c)
		if err != nil {
			return JoinState{}, err
		}
		return JoinState{}, errNoAccess()
	}
	d.mu.Lock()
	if _, ok := d.clients[connID]; ok && d.roles[connID] != role {
		d.roles[connID] = role
	}
	d.mu.Unlock()
	state.Role = role
	state.Document.Visibility, state.Document.LinkRole, state.Document.OwnerID = fresh.Visibility, fresh.LinkRole, fresh.OwnerID
	state.Document.OwnerUsername, state.Document.Public = fresh.OwnerUsername, fresh.Public
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventPresence})
	return state, nil
}

// documentOrCreate returns docID's metadata (with its members), creating
// the document on a first join (the seed's "enter a document ID and share
// it" flow). A reconnect (since >= 0) never creates, a deleted id is never
// created again, and a user creates at most JoinCreateLimit documents an
// hour this way.
func (s *Service) documentOrCreate(ctx context.Context, docID string, user *gdoc.User, since int64) (*gdoc.Document, error) {
	meta, err := s.cfg.Store.Document(ctx, docID)
	if gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		return meta, err
	}
	deleted, err := s.cfg.Store.DocumentDeleted(ctx, docID)
	if err != nil {
		return nil, err
	}
	if deleted {
		return nil, errDeleted()
	}
	if since >= 0 {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "This document does not exist (any more).")
	}
	if limit := s.cfg.JoinCreateLimit; limit > 0 {
		n, err := s.cfg.Store.DocumentsCreatedSince(ctx, user.ID, time.Now().Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		if n >= limit {
			return nil, gdoc.Errorf(gdoc.ERATELIMITED, "You created %d documents in the last hour, the most allowed; open an existing document or try again later.", n)
		}
	}
	doc := &gdoc.Document{ID: docID, Title: docID, Language: defaultLanguage, OwnerID: user.ID, Public: true,
		Visibility: gdoc.VisibilityPublic, LinkRole: gdoc.RoleEditor}
	err = s.cfg.Store.CreateDocumentUnlessDeleted(ctx, doc)
	switch gdoc.ErrorCode(err) {
	case gdoc.ECONFLICT: // created by a concurrent join
		return s.cfg.Store.Document(ctx, docID)
	case gdoc.ENOTFOUND: // deleted meanwhile
		return nil, errDeleted()
	}
	if err != nil {
		return nil, err
	}
	return doc, nil
}

func errDeleted() error { return gdoc.Errorf(gdoc.ENOTFOUND, "This document was deleted.") }

// errNoAccess does not say whether the document exists.
func errNoAccess() error {
	return gdoc.Errorf(gdoc.EFORBIDDEN, "You do not have access to this document.")
}

func errViewOnly() error {
	return gdoc.Errorf(gdoc.EFORBIDDEN, "You can view this document but not edit it.")
}

// abandonJoin undoes the presence and session records of a join that
// failed before registering.
func (s *Service) abandonJoin(d *document, connID string, session *gdoc.DocSession) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_ = s.cfg.Presence.Leave(ctx, d.id, connID)
	if session != nil {
		_ = s.cfg.Store.EndSession(ctx, session.ID, time.Now())
	}
	s.recomputePresence(d)
}

// Leave unregisters c from docID: others see its cursor removed and, when
// it was its user's last connection anywhere, the user leave. Leaving
// twice, or a document never joined, is harmless.
func (s *Service) Leave(docID string, c Client) {
	d := s.loaded(docID)
	if d == nil {
		return
	}
	d.mu.Lock()
	gone, ok := d.removeClientLocked(c.ConnID())
	d.mu.Unlock()
	if ok {
		s.finishLeave(d, gone)
	}
}

// departure is what finishLeave needs of a removed connection.
type departure struct {
	connID    string
	sessionID int64
	cursor    Cursor
}

// removeClientLocked unregisters connID and tells the other local clients
// its cursor is gone. The I/O part of leaving is finishLeave's.
func (d *document) removeClientLocked(connID string) (departure, bool) {
	c, ok := d.clients[connID]
	if !ok {
		return departure{}, false
	}
	delete(d.clients, connID)
	delete(d.roles, connID)
	gone := departure{connID: connID, sessionID: d.sessions[connID]}
	delete(d.sessions, connID)
	delete(d.cursors, connID)
	user := c.User()
	gone.cursor = Cursor{ConnID: connID, UserID: user.ID, Username: user.Username, Color: colorFor(user.ID), Removed: true}
	d.broadcastLocked(CursorMessage{Cursor: gone.cursor}, "")
	if len(d.clients) == 0 {
		d.idleSince = time.Now()
	}
	return gone, true
}

func (s *Service) finishLeave(d *document, gone departure) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.cfg.Presence.Leave(ctx, d.id, gone.connID); err != nil {
		s.log.Warn("presence leave failed", "doc", d.id, "conn", gone.connID, "err", err)
	}
	if gone.sessionID != 0 {
		if err := s.cfg.Store.EndSession(ctx, gone.sessionID, time.Now()); err != nil && gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			s.log.Warn("ending session failed", "doc", d.id, "err", err)
		}
	}
	s.recomputePresence(d)
	if payload, err := jsonMarshal(gone.cursor); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: d.id, Kind: gdoc.EventCursor, Payload: payload})
	}
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: d.id, Kind: gdoc.EventPresence})
}

// broadcastLocked delivers m to every local client except the one with
// connID skip. A client whose queue is full is dropped (the slow consumer
// never slows the document); ws closes it.
func (d *document) broadcastLocked(m Message, skip string) {
	for id, c := range d.clients {
		if id != skip {
			d.deliverLocked(c, m)
		}
	}
}

func (d *document) deliverLocked(c Client, m Message) {
	if c.Deliver(m) {
		return
	}
	if gone, ok := d.removeClientLocked(c.ConnID()); ok && d.onDrop != nil {
		d.onDrop(gone)
	}
}
