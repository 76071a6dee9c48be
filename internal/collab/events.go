package collab

import (
	"context"
	"encoding/json"

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
	if d.state == stateLoading {
		if len(d.early) < maxEarlyEvents {
			d.early = append(d.early, ev)
		} else {
			d.early = append(d.early[:0], gdoc.Event{DocID: d.id, Kind: gdoc.EventResync})
		}
		d.mu.Unlock()
		return
	}
	deleted := s.handleEventLocked(d, ev)
	s.unlock(d)
	if deleted {
		s.forgetLocal(d.id)
	}
}

// handleEventLocked acts on ev for an open d. true means the document was
// deleted: the caller closes it once it released d's lock.
func (s *Service) handleEventLocked(d *document, ev gdoc.Event) (deleted bool) {
	if !d.open() {
		return false
	}
	switch ev.Kind {
	case gdoc.EventOp:
		var payload opEvent
		if err := json.Unmarshal(ev.Payload, &payload); err != nil {
			s.log.Warn("malformed op event", "doc", d.id, "err", err)
			return false
		}
		if payload.Rev <= d.auth.head {
			return false // already applied (from the log, or it is ours)
		}
		if payload.Rev == d.auth.head+1 && d.state == stateIdle {
			parsed, err := ot.Parse(payload.Op)
			if err == nil {
				c := committed{op: payload.CommittedOp, parsed: parsed, username: payload.Username}
				if err = d.auth.apply(c); err == nil {
					if payload.Username != "" {
						s.usernames.put(payload.UserID, payload.Username)
					}
					d.broadcastLocked(c.message(), "")
					return false
				}
			}
			s.log.Warn("op event does not apply; reading the op log", "doc", d.id, "rev", payload.Rev, "err", err)
		}
		// A gap, or a worker is busy: the worker reads the log.
		d.remoteHint = max(d.remoteHint, payload.Rev)
		s.startWorkerLocked(d)
	case gdoc.EventResync:
		d.remoteHint = max(d.remoteHint, d.auth.head+1)
		s.startWorkerLocked(d)
		s.queuePresenceLocked(d)
	case gdoc.EventChat:
		var chat gdoc.ChatMessage
		if err := json.Unmarshal(ev.Payload, &chat); err != nil {
			s.log.Warn("malformed chat event", "doc", d.id, "err", err)
			return false
		}
		d.broadcastLocked(ChatMessage{Chat: chat}, "")
	case gdoc.EventCursor:
		var cur Cursor
		if err := json.Unmarshal(ev.Payload, &cur); err != nil || cur.ConnID == "" {
			s.log.Warn("malformed cursor event", "doc", d.id, "err", err)
			return false
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
			return false
		}
		if doc.Deleted {
			return true
		}
		d.applyMetadataLocked(doc)
	default:
		s.handleReviewEventLocked(d, ev)
	}
	return false
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
