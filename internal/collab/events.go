package collab

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// maxEarlyEvents bounds the events buffered while a document loads; past
// it, the document catches up from the OpLog instead.
const maxEarlyEvents = 10000

// publish sends ev to other instances. The bus is at most once, so a
// failure is logged and otherwise ignored: revisions and the OpLog repair
// what was lost.
func (s *Service) publish(ctx context.Context, ev gdoc.Event) {
	if err := s.cfg.Bus.Publish(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Warn("publishing on the bus failed", "doc", ev.DocID, "kind", ev.Kind, "err", err)
	}
}

// handleEvent is d's bus subscription.
func (s *Service) handleEvent(d *document, ev gdoc.Event) {
	if ev.ServerID == s.cfg.ServerID && ev.Kind != gdoc.EventResync {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		if len(d.early) < maxEarlyEvents {
			d.early = append(d.early, ev)
		} else {
			d.early = append(d.early[:0], gdoc.Event{DocID: d.id, Kind: gdoc.EventResync})
		}
		return
	}
	s.handleEventLocked(d, ev)
}

func (s *Service) handleEventLocked(d *document, ev gdoc.Event) {
	if d.unloaded {
		return
	}
	switch ev.Kind {
	case gdoc.EventOp:
		var payload opEvent
		if err := json.Unmarshal(ev.Payload, &payload); err != nil {
			s.log.Warn("malformed op event", "doc", d.id, "err", err)
			return
		}
		if payload.Rev <= d.head {
			return // already applied (from the log, or it is ours)
		}
		if payload.Rev == d.head+1 && !d.busy {
			parsed, err := ot.Parse(payload.Op)
			if err == nil {
				c := committed{op: payload.CommittedOp, parsed: parsed, username: payload.Username}
				if err = d.applyCommittedLocked(c); err == nil {
					if payload.Username != "" {
						s.usernames.put(payload.UserID, payload.Username)
					}
					d.broadcastLocked(c.message(), "")
					return
				}
			}
			s.log.Warn("op event does not apply; reading the op log", "doc", d.id, "rev", payload.Rev, "err", err)
		}
		// A gap, or a worker is busy: the worker reads the log.
		d.remoteHint = max(d.remoteHint, payload.Rev)
		s.startWorkerLocked(d)
	case gdoc.EventResync:
		d.remoteHint = max(d.remoteHint, d.head+1)
		s.startWorkerLocked(d)
		s.queuePresenceLocked(d)
		s.queueAccessCheckLocked(d) // an access event may have been lost too
	case gdoc.EventAccess:
		s.queueAccessCheckLocked(d)
	case gdoc.EventChat:
		var chat gdoc.ChatMessage
		if err := json.Unmarshal(ev.Payload, &chat); err != nil {
			s.log.Warn("malformed chat event", "doc", d.id, "err", err)
			return
		}
		d.broadcastLocked(ChatMessage{Chat: chat}, "")
	case gdoc.EventCursor:
		var cur Cursor
		if err := json.Unmarshal(ev.Payload, &cur); err != nil || cur.ConnID == "" {
			s.log.Warn("malformed cursor event", "doc", d.id, "err", err)
			return
		}
		if cur.Removed {
			delete(d.cursors, cur.ConnID)
		} else {
			d.cursors[cur.ConnID] = cur
		}
		d.broadcastLocked(CursorMessage{Cursor: cur}, "")
	case gdoc.EventPresence:
		s.queuePresenceLocked(d)
	case gdoc.EventDocument:
		var doc gdoc.DocumentEvent
		if err := json.Unmarshal(ev.Payload, &doc); err != nil {
			s.log.Warn("malformed document event", "doc", d.id, "err", err)
			return
		}
		if doc.Deleted {
			go s.forgetLocal(d.id) // it takes d.mu, held here
			return
		}
		d.applyMetadataLocked(doc)
	}
}

// queuePresence schedules a recomputation of d's user set unless one is
// already queued.
func (s *Service) queuePresence(d *document) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s.queuePresenceLocked(d)
}

func (s *Service) queuePresenceLocked(d *document) {
	if d.presenceQ || d.unloaded {
		return
	}
	if s.closing.Load() {
		return
	}
	d.presenceQ = true
	s.workers.Go(func() {
		d.mu.Lock()
		d.presenceQ = false
		d.mu.Unlock()
		s.recomputePresence(d)
	})
}

// recomputePresence reads d's participants on every instance and tells the
// local clients which users joined or left since the set last announced.
// Cursors of connections that are gone (an instance died) are removed too.
func (s *Service) recomputePresence(d *document) {
	d.presenceMu.Lock()
	defer d.presenceMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	parts, err := s.cfg.Presence.Participants(ctx, d.id)
	if err != nil {
		s.log.Warn("reading presence failed", "doc", d.id, "err", err)
		return
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].JoinedAt.Before(parts[j].JoinedAt) })
	users := groupUsers(parts)
	live := make(map[string]bool, len(parts))
	for _, p := range parts {
		live[p.ConnID] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	next := make(map[string]gdoc.ActiveUser, len(users))
	for _, u := range users {
		next[u.UserID] = u
		if _, ok := d.announced[u.UserID]; !ok {
			d.broadcastLocked(UserJoinedMessage{User: u}, "")
		}
	}
	for id, u := range d.announced {
		if _, ok := next[id]; !ok {
			d.broadcastLocked(UserLeftMessage{UserID: u.UserID, Username: u.Username}, "")
		}
	}
	d.announced = next
	for connID, cur := range d.cursors {
		if _, local := d.clients[connID]; !live[connID] && !local {
			delete(d.cursors, connID)
			cur.Removed = true
			d.broadcastLocked(CursorMessage{Cursor: Cursor{ConnID: cur.ConnID, UserID: cur.UserID, Username: cur.Username, Color: cur.Color, Removed: true}}, "")
		}
	}
}

// SendChat stores message from c and relays it: ChatAckMessage to c,
// ChatMessage to everyone else on every instance. EINVALID for an empty or
// too long message or when c has not joined; EUNAVAILABLE when the store
// is down.
func (s *Service) SendChat(ctx context.Context, docID string, c Client, message, clientMsgID string) error {
	text, err := cleanChat(message)
	if err != nil {
		return err
	}
	d, err := s.joined(docID, c)
	if err != nil {
		return err
	}
	user := c.User()
	m := &gdoc.ChatMessage{DocID: docID, UserID: user.ID, Username: user.Username, Message: text}
	if err := s.cfg.Store.AddChatMessage(ctx, m); err != nil {
		return err
	}
	d.mu.Lock()
	if _, ok := d.clients[c.ConnID()]; ok {
		d.deliverLocked(c, ChatAckMessage{ClientMsgID: clientMsgID, Chat: *m})
	}
	d.broadcastLocked(ChatMessage{Chat: *m}, c.ConnID())
	d.mu.Unlock()
	if payload, err := json.Marshal(m); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventChat, Payload: payload})
	}
	return nil
}

// UpdateCursor relays c's cursor to everyone else on every instance and
// remembers it for later joiners. The identity fields are filled from c.
// EINVALID for negative positions, oversized seed fields, or when c has
// not joined.
func (s *Service) UpdateCursor(ctx context.Context, docID string, c Client, cur Cursor) error {
	if cur.Anchor < 0 || cur.Head < 0 || cur.Rev < 0 {
		return gdoc.Errorf(gdoc.EINVALID, "A cursor's rev, anchor and head must not be negative.")
	}
	if len(cur.Position) > maxCursorFieldBytes || len(cur.Selection) > maxCursorFieldBytes {
		return gdoc.Errorf(gdoc.EINVALID, "The cursor's position or selection is too large.")
	}
	d, err := s.joined(docID, c)
	if err != nil {
		return err
	}
	user := c.User()
	cur.ConnID, cur.UserID, cur.Username, cur.Color, cur.Removed = c.ConnID(), user.ID, user.Username, colorFor(user.ID), false
	d.mu.Lock()
	if _, ok := d.clients[cur.ConnID]; !ok {
		d.mu.Unlock()
		return gdoc.Errorf(gdoc.EINVALID, "Not joined to document %s.", docID)
	}
	d.cursors[cur.ConnID] = cur
	d.broadcastLocked(CursorMessage{Cursor: cur}, cur.ConnID)
	d.mu.Unlock()
	if payload, err := json.Marshal(cur); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventCursor, Payload: payload})
	}
	return nil
}

// joined returns docID's document when c is registered on it.
func (s *Service) joined(docID string, c Client) (*document, error) {
	d := s.loaded(docID)
	if d != nil {
		d.mu.Lock()
		_, ok := d.clients[c.ConnID()]
		role := d.roles[c.ConnID()]
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
