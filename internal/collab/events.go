package collab

import (
	"context"
	"encoding/json"

	"github.com/gdoc/gdoc/internal/gdoc"
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

// handleEvent is d's bus subscription. The bus is a hint, never the
// truth: anyone who can publish on it (a compromised peer, a stray client
// of Redis) must not change what a document says. So an op event only
// makes the worker read the OpLog, and a chat, metadata or deletion event
// is checked against the store before clients hear of it (verify).
func (s *Service) handleEvent(d *document, ev gdoc.Event) {
	if ev.ServerID == s.cfg.ServerID && ev.Kind != gdoc.EventResync {
		return
	}
	d.mu.Lock()
	if d.state == stateLoading {
		if len(d.early) < maxEarlyEvents {
			d.early = append(d.early, ev)
		} else {
			d.early = append(d.early[:0], gdoc.Event{DocID: d.id, Kind: gdoc.EventResync})
		}
		d.mu.Unlock()
		return
	}
	check := s.handleEventLocked(d, ev)
	s.unlock(d)
	s.verify(d, check)
}

// followUp is what events ask of the store once d's lock is released.
type followUp struct {
	document bool                // re-read the document (metadata, existence)
	by       gdoc.DocumentEvent  // who the event says changed it
	chat     []gdoc.ChatMessage  // messages to look up before delivering them
	comments []gdoc.CommentEvent // comment changes to look up (review.go)
}

func (f *followUp) add(g followUp) {
	if g.document {
		f.document, f.by = true, g.by
	}
	f.chat = append(f.chat, g.chat...)
	f.comments = append(f.comments, g.comments...)
}

// handleEventLocked acts on ev for an open d, as far as it can without
// I/O, and returns what must be checked in the store.
func (s *Service) handleEventLocked(d *document, ev gdoc.Event) (check followUp) {
	if !d.open() {
		return check
	}
	switch ev.Kind {
	case gdoc.EventOp:
		var payload struct {
			Rev int64 `json:"rev"`
		}
		if err := json.Unmarshal(ev.Payload, &payload); err != nil {
			s.log.Warn("malformed op event", "doc", d.id, "err", err)
			return check
		}
		if payload.Rev <= d.auth.head {
			return check // already applied (from the log, or it is ours)
		}
		// The worker reads the ops after the head from the OpLog and
		// applies what the log holds, whatever the event said; a revision
		// the log does not have is forgotten there.
		d.remoteHint = max(d.remoteHint, payload.Rev)
		s.startWorkerLocked(d)
	case gdoc.EventResync:
		d.remoteHint = max(d.remoteHint, d.auth.head+1)
		s.startWorkerLocked(d)
		s.queuePresenceLocked(d)
		s.queueAccessCheckLocked(d) // an access event may have been lost too
	case gdoc.EventAccess:
		s.queueAccessCheckLocked(d)
	case gdoc.EventChat:
		var chat gdoc.ChatMessage
		if err := json.Unmarshal(ev.Payload, &chat); err != nil || chat.ID <= 0 {
			s.log.Warn("malformed chat event", "doc", d.id, "err", err)
			return check
		}
		check.chat = append(check.chat, chat)
	case gdoc.EventCursor:
		var cur Cursor
		if err := json.Unmarshal(ev.Payload, &cur); err != nil || cur.ConnID == "" {
			s.log.Warn("malformed cursor event", "doc", d.id, "err", err)
			return check
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
			return check
		}
		check.document, check.by = true, doc
	default:
		check.comments = append(check.comments, s.handleReviewEventLocked(d, ev)...)
	}
	return check
}

// verify acts on the events of check as the store tells: a chat message is
// delivered as stored (not as the event had it) and only if it is stored; a
// metadata change applies the stored metadata; a deletion closes the
// document only when the store no longer has it.
func (s *Service) verify(d *document, check followUp) {
	if !check.document && len(check.chat) == 0 && len(check.comments) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	s.verifyComments(ctx, d, check.comments)
	for _, claimed := range check.chat {
		stored, err := s.cfg.Store.ChatMessages(ctx, d.id, claimed.ID+1, 1)
		if err != nil {
			s.log.Warn("checking a chat event against the store failed", "doc", d.id, "err", err)
			continue
		}
		if len(stored) != 1 || stored[0].ID != claimed.ID {
			s.log.Warn("chat event names a message the store does not have; ignored", "doc", d.id, "id", claimed.ID)
			continue
		}
		d.mu.Lock()
		if d.open() {
			d.broadcastLocked(ChatMessage{Chat: *stored[0]}, "")
		}
		s.unlock(d)
	}
	if !check.document {
		return
	}
	meta, err := s.cfg.Store.Document(ctx, d.id)
	switch {
	case gdoc.ErrorCode(err) == gdoc.ENOTFOUND:
		s.forgetLocal(d.id)
	case err != nil:
		s.log.Warn("checking a document event against the store failed", "doc", d.id, "err", err)
	case check.by.Deleted:
		s.log.Warn("a deletion event for a document the store still has; ignored", "doc", d.id)
	default:
		// What the store says, not what the event said (the event only
		// names who made the change).
		ev := gdoc.DocumentEvent{Document: *meta, UserID: check.by.UserID, Username: check.by.Username}
		ev.Document.Content = ""
		d.mu.Lock()
		d.applyMetadataLocked(ev)
		s.unlock(d)
	}
}

// opEvent is the bus payload of an EventOp.
type opEvent struct {
	gdoc.CommittedOp
	Username string `json:"username"`
}

func (c committed) event(serverID string) (gdoc.Event, error) {
	payload, err := json.Marshal(opEvent{CommittedOp: c.op, Username: c.username})
	return gdoc.Event{ServerID: serverID, DocID: c.op.DocID, Kind: gdoc.EventOp, Payload: payload}, err
}
