package collab

import (
	"context"
	"encoding/json"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Review: comment changes reach every connection to the document on every
// instance, and viewports (what part of the text a connection shows, for
// follow mode and presenting) are relayed like cursors. Neither touches the
// op path; comments are stored by internal/comments before they are
// announced here.

// CommentMessage is a change to the document's comments.
type CommentMessage struct{ Event gdoc.CommentEvent }

// ViewportMessage is someone else's viewport.
type ViewportMessage struct{ Viewport Viewport }

func (CommentMessage) isMessage()  {}
func (ViewportMessage) isMessage() {}

// MaxViewportLine bounds a viewport's line numbers.
const MaxViewportLine = 10_000_000

// Viewport is the lines a connection shows (1-based, inclusive), who it
// follows (a user id, or "") and whether it asks others to follow it
// (Presenting). Identity fields are filled by the server.
type Viewport struct {
	ConnID     string `json:"conn_id"`
	UserID     string `json:"user_id"`
	Username   string `json:"username"`
	Color      string `json:"color"`
	FirstLine  int    `json:"first_line"`
	LastLine   int    `json:"last_line"`
	Following  string `json:"following,omitempty"`
	Presenting bool   `json:"presenting,omitempty"`
}

// CommentChanged delivers ev to docID's local connections and publishes it
// to the other instances (comments.Service calls it after storing).
func (s *Service) CommentChanged(ctx context.Context, docID string, ev gdoc.CommentEvent) {
	s.deliverComment(docID, ev)
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encoding a comment event", "err", err)
		return
	}
	s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventComment, Payload: payload})
}

func (s *Service) deliverComment(docID string, ev gdoc.CommentEvent) {
	d := s.loaded(docID)
	if d == nil {
		return
	}
	d.mu.Lock()
	defer s.unlock(d)
	if d.open() {
		d.broadcastLocked(CommentMessage{Event: ev}, "")
	}
}

// UpdateViewport relays c's viewport to everyone else on every instance.
// Viewports are not remembered: clients send theirs again when someone
// joins. EINVALID for lines out of range or when c has not joined.
func (s *Service) UpdateViewport(ctx context.Context, docID string, c Client, v Viewport) error {
	if v.FirstLine < 1 || v.LastLine < v.FirstLine || v.LastLine > MaxViewportLine {
		return gdoc.Errorf(gdoc.EINVALID, "A viewport needs 1 <= first_line <= last_line <= %d.", MaxViewportLine)
	}
	if len(v.Following) > gdoc.MaxClientIDBytes {
		return gdoc.Errorf(gdoc.EINVALID, "following must be a user id.")
	}
	d, err := s.joined(docID, c)
	if err != nil {
		return err
	}
	user := c.User()
	v.ConnID, v.UserID, v.Username, v.Color = c.ConnID(), user.ID, user.Username, colorFor(user.ID)
	d.mu.Lock()
	if _, ok := d.clients[v.ConnID]; !ok {
		s.unlock(d)
		return gdoc.Errorf(gdoc.EINVALID, "Not joined to document %s.", docID)
	}
	d.broadcastLocked(ViewportMessage{Viewport: v}, v.ConnID)
	s.unlock(d)
	if payload, err := json.Marshal(v); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventViewport, Payload: payload})
	}
	return nil
}

// handleReviewEventLocked acts on a viewport event from another instance
// and returns a comment event to check against the store (verifyComments):
// like chat, a comment reaches clients as stored, never as an event says.
func (s *Service) handleReviewEventLocked(d *document, ev gdoc.Event) []gdoc.CommentEvent {
	switch ev.Kind {
	case gdoc.EventComment:
		var ce gdoc.CommentEvent
		if err := json.Unmarshal(ev.Payload, &ce); err != nil || ce.Comment == nil || ce.Comment.ID <= 0 {
			s.log.Warn("malformed comment event", "doc", d.id, "err", err)
			return nil
		}
		return []gdoc.CommentEvent{ce}
	case gdoc.EventViewport:
		var v Viewport
		if err := json.Unmarshal(ev.Payload, &v); err != nil || v.ConnID == "" {
			s.log.Warn("malformed viewport event", "doc", d.id, "err", err)
			return nil
		}
		d.broadcastLocked(ViewportMessage{Viewport: v}, "")
	}
	return nil
}

// verifyComments delivers each claimed comment change as the store has it:
// a created, updated or resolved comment as stored (skipped when the store
// does not have it), a deletion only when the store no longer has it.
func (s *Service) verifyComments(ctx context.Context, d *document, claimed []gdoc.CommentEvent) {
	for _, ce := range claimed {
		stored, err := s.cfg.Store.Comment(ctx, d.id, ce.Comment.ID)
		switch {
		case ce.Action == gdoc.CommentDeleted && gdoc.ErrorCode(err) == gdoc.ENOTFOUND:
			ce.Comment = &gdoc.Comment{ID: ce.Comment.ID, ParentID: ce.Comment.ParentID}
		case ce.Action == gdoc.CommentDeleted || gdoc.ErrorCode(err) == gdoc.ENOTFOUND:
			s.log.Warn("comment event the store contradicts; ignored", "doc", d.id, "id", ce.Comment.ID, "action", ce.Action)
			continue
		case err != nil:
			s.log.Warn("checking a comment event against the store failed", "doc", d.id, "err", err)
			continue
		case ce.Action != gdoc.CommentCreated && ce.Action != gdoc.CommentUpdated && ce.Action != gdoc.CommentResolved:
			s.log.Warn("comment event with an unknown action; ignored", "doc", d.id, "action", ce.Action)
			continue
		default:
			ce.Comment = stored
		}
		d.mu.Lock()
		if d.open() {
			d.broadcastLocked(CommentMessage{Event: ce}, "")
		}
		s.unlock(d)
	}
}
