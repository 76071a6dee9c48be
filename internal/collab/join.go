package collab

import (
	"context"
	"encoding/json"
	"slices"
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
// EFORBIDDEN without access (gdoc.Document.RoleOf; read again once the
// connection is registered, so that a join racing a withdrawal never ends
// up open), EUNAVAILABLE while shutting down or when the store is down. Everything committed after JoinState.Rev reaches c through Deliver,
// in revision order, without gaps — possibly before Join returns.
//
// Three steps: authorize (may c's user read it?), register (presence,
// session, the state from memory, c added to the clients), catchUpOlder
// (ops too old for the in-memory window, from the OpLog).
func (s *Service) Join(ctx context.Context, docID string, c Client, since int64) (JoinState, error) {
	meta, err := s.authorize(ctx, docID, c.User(), since)
	if err != nil {
		return JoinState{}, err
	}
	d, err := s.hold(ctx, docID)
	if err != nil {
		return JoinState{}, err
	}
	defer s.release(d)

	d.mu.Lock()
	head := d.auth.head
	d.mu.Unlock()
	if since > head {
		s.waitHead(ctx, d, since)
		d.mu.Lock()
		head = d.auth.head
		d.mu.Unlock()
	}
	if since > head {
		return JoinState{}, gdoc.Errorf(gdoc.EINVALID, "Bad revision: %d is ahead of the document's revision %d.", since, head)
	}

	state, older, err := s.register(ctx, d, c, meta, since)
	if err != nil {
		return JoinState{}, err
	}
	if older.from >= 0 {
		if err := s.catchUpOlder(ctx, d, c.ConnID(), &state, older); err != nil {
			s.Leave(docID, c)
			return JoinState{}, err
		}
	}
	if err := s.confirmAccess(ctx, d, c, &state); err != nil {
		s.Leave(docID, c)
		return JoinState{}, err
	}
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventPresence})
	return state, nil
}

// confirmAccess reads c's access again now that c is registered: a
// withdrawal committed before this read is seen here, and one committed
// after it finds c among d's clients when it re-checks. It sets the
// client's role and the access fields of state.
func (s *Service) confirmAccess(ctx context.Context, d *document, c Client, state *JoinState) error {
	fresh, err := s.cfg.Store.DocumentMeta(ctx, d.id)
	if err != nil {
		return err
	}
	role := fresh.RoleOf(c.User().ID)
	if !role.CanRead() {
		return errNoAccess()
	}
	d.mu.Lock()
	if _, ok := d.clients[c.ConnID()]; ok && d.role(c.ConnID()).CanRead() {
		d.conns[c.ConnID()].role = role
	} else if ok {
		role = gdoc.RoleNone // a re-check already withdrew it
	}
	d.mu.Unlock()
	if !role.CanRead() {
		return errNoAccess()
	}
	state.Role = role
	state.Document.Public, state.Document.Visibility, state.Document.LinkRole = fresh.Public, fresh.Visibility, fresh.LinkRole
	state.Document.OwnerID, state.Document.OwnerUsername = fresh.OwnerID, fresh.OwnerUsername
	return nil
}

// authorize checks the ids and returns docID's metadata (creating the
// document on a first join) when user may read it.
func (s *Service) authorize(ctx context.Context, docID string, user *gdoc.User, since int64) (*gdoc.Document, error) {
	if !gdoc.ValidDocumentID(docID) {
		return nil, gdoc.Errorf(gdoc.EINVALID, "A document id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit.")
	}
	if user == nil || user.ID == "" {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Joining a document needs a signed-in user.")
	}
	meta, err := s.documentOrCreate(ctx, docID, user, since)
	if err != nil {
		return nil, err
	}
	if !meta.RoleOf(user.ID).CanRead() {
		return nil, errNoAccess()
	}
	return meta, nil
}

// A catch-up (since >= 0) of more than maxCatchUpOps ops or maxCatchUpBytes
// of encoded ops is answered with the text instead (JoinState.Reset): one
// giant init would cost more to send and to apply than the text.
const (
	maxCatchUpOps   = 10000
	maxCatchUpBytes = 4 << 20
)

// revRange is the revisions from < rev <= to; from < 0 when empty.
type revRange struct{ from, to int64 }

// register records c's presence, queues its session row, builds its
// JoinState from memory and adds it to d's clients, all under one hold of
// d's lock so that every op after state.Rev reaches c through Deliver. The ops after since
// that the window no longer holds are returned for catchUpOlder.
func (s *Service) register(ctx context.Context, d *document, c Client, meta *gdoc.Document, since int64) (JoinState, revRange, error) {
	user := c.User()
	color := colorFor(user.ID)
	connID := c.ConnID()
	joinedAt := time.Now()
	older := revRange{-1, -1}
	// Presence first, then the announcement to the users already here,
	// then registration: so the joiner is not told about itself, and its
	// user list (from the announced set) includes itself.
	part := gdoc.Participant{ConnID: connID, ServerID: s.cfg.ServerID, UserID: user.ID, Username: user.Username, Color: color, JoinedAt: joinedAt}
	if err := s.cfg.Presence.Join(ctx, d.id, part); err != nil {
		s.log.Warn("presence join failed", "doc", d.id, "conn", connID, "err", err)
	}
	session := s.startSession(gdoc.DocSession{DocID: d.id, UserID: user.ID, ServerID: s.cfg.ServerID, JoinedAt: joinedAt})
	s.recomputePresence(d)

	chat, err := s.cfg.Store.ChatMessages(ctx, d.id, 0, gdoc.ChatHistoryLimit)
	if err != nil {
		s.abandonJoin(d, connID, session)
		return JoinState{}, older, err
	}

	d.mu.Lock()
	if !d.open() { // forgotten (deleted) or shut down meanwhile
		d.mu.Unlock()
		s.abandonJoin(d, connID, session)
		return JoinState{}, older, gdoc.Errorf(gdoc.EUNAVAILABLE, "The document was closed.")
	}
	state := JoinState{Document: d.meta, Rev: d.auth.head, Color: color}
	state.Document.Title, state.Document.Language, state.Document.Public = meta.Title, meta.Language, meta.Public
	state.Document.UpdatedAt = meta.UpdatedAt
	minBase := state.Rev // the oldest revision the connection receives
	if since >= 0 && state.Rev-since <= maxCatchUpOps {
		state.Ops = []OpMessage{}
		ops, all := d.auth.since(since)
		if !all {
			older = revRange{since, d.auth.recentFrom()}
		}
		bytes := 0
		for _, op := range ops {
			state.Ops = append(state.Ops, op.message())
			bytes += len(op.op.Op)
		}
		if bytes > maxCatchUpBytes {
			state.Ops, older = nil, revRange{-1, -1}
		} else {
			minBase = since
		}
	}
	if state.Ops == nil {
		state.Document.Content = d.auth.text.String()
		state.Reset = since >= 0
	}
	state.Document.Rev = state.Rev
	d.clients[connID] = c
	d.fanSent[connID] = len(d.fanLog) // state.Rev covers them
	d.conns[connID] = &connState{role: meta.RoleOf(user.ID), session: session, minBase: minBase}
	d.idleSince = time.Time{}
	for id, cur := range d.cursors {
		if id != connID {
			state.Cursors = append(state.Cursors, cur)
		}
	}
	users := slices.Clone(d.announced) // sorted by user id
	if i, ok := findUser(users, user.ID); !ok {
		users = slices.Insert(users, i, gdoc.ActiveUser{UserID: user.ID, Username: user.Username, Color: color, Connections: 1})
	}
	d.mu.Unlock()
	state.Users = users
	for _, m := range chat {
		state.Chat = append(state.Chat, *m)
	}
	return state, older, nil
}

// catchUpOlder puts before state.Ops the ops of older, too old for the
// in-memory window, from the OpLog; they are immutable, so reading them
// outside the lock is safe. When the log no longer holds them all, the
// joiner gets the text instead (state.Reset).
func (s *Service) catchUpOlder(ctx context.Context, d *document, connID string, state *JoinState, older revRange) error {
	ops, err := s.cfg.Store.Ops(ctx, d.id, older.from, older.to)
	var msgs []committed
	if err == nil {
		msgs, err = s.resolve(ctx, ops)
	}
	if err != nil {
		return err
	}
	bytes := 0
	for _, op := range msgs {
		bytes += len(op.op.Op)
	}
	for _, op := range state.Ops {
		bytes += len(op.Op.Op)
	}
	if int64(len(msgs)) != older.to-older.from || bytes > maxCatchUpBytes {
		state.Reset, state.Ops = true, nil
		d.mu.Lock()
		state.Document.Content = d.auth.text.String()
		rev := d.auth.head
		if cs := d.conns[connID]; cs != nil {
			cs.minBase = rev
		}
		d.mu.Unlock()
		if rev != state.Rev {
			return gdoc.Errorf(gdoc.EUNAVAILABLE, "The document changed while joining; try again.")
		}
		return nil
	}
	all := make([]OpMessage, 0, len(msgs)+len(state.Ops))
	for _, op := range msgs {
		all = append(all, op.message())
	}
	state.Ops = append(all, state.Ops...)
	return nil
}

// documentOrCreate returns docID's metadata (with its members), creating
// the document on a first join (the seed's "enter a document ID and share
// it" flow). A reconnect (since >= 0) never creates, a deleted id is never
// created again, and a user creates at most JoinCreateLimit documents an
// hour this way.
func (s *Service) documentOrCreate(ctx context.Context, docID string, user *gdoc.User, since int64) (*gdoc.Document, error) {
	meta, err := s.cfg.Store.DocumentMeta(ctx, docID)
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
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "Document not found: it does not exist or was deleted.")
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
	err = s.createForJoin(ctx, doc)
	switch gdoc.ErrorCode(err) {
	case gdoc.ECONFLICT: // created by a concurrent join
		return s.cfg.Store.DocumentMeta(ctx, docID)
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
func (s *Service) abandonJoin(d *document, connID string, session *sessionRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_ = s.cfg.Presence.Leave(ctx, d.id, connID)
	s.endSession(ctx, session, time.Now())
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
	s.unlock(d)
	if ok {
		s.finishLeave(d, gone)
	}
}

func (s *Service) finishLeave(d *document, gone departure) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.cfg.Presence.Leave(ctx, d.id, gone.connID); err != nil {
		s.log.Warn("presence leave failed", "doc", d.id, "conn", gone.connID, "err", err)
	}
	s.endSession(ctx, gone.session, time.Now())
	s.recomputePresence(d)
	if payload, err := json.Marshal(gone.cursor); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: d.id, Kind: gdoc.EventCursor, Payload: payload})
	}
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: d.id, Kind: gdoc.EventPresence})
}

// joined returns docID's document when c is registered on it.
func (s *Service) joined(docID string, c Client) (*document, error) {
	d := s.loaded(docID)
	if d != nil {
		d.mu.Lock()
		_, ok := d.clients[c.ConnID()]
		role := d.role(c.ConnID())
		d.mu.Unlock()
		if ok && !role.CanRead() {
			return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "You no longer have access to this document.")
		}
		if ok {
			return d, nil
		}
	}
	return nil, gdoc.Errorf(gdoc.EINVALID, "Not joined to document %s.", docID)
}
