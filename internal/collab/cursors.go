package collab

import (
	"context"
	"encoding/json"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Cursors: each connection's last selection is relayed to everyone else
// and remembered for later joiners; a leaving connection's cursor is
// removed (join.go), and so are those of connections whose instance died
// (presence.go). Cursor events from other instances are applied in
// events.go.

// UpdateCursor relays c's cursor to everyone else on every instance and
// remembers it for later joiners. The identity fields are filled from c.
// EINVALID for negative positions, oversized seed fields, or when c has
// not joined.
func (s *Service) UpdateCursor(ctx context.Context, docID string, c Client, cur Cursor) error {
	if cur.Anchor < 0 || cur.Head < 0 || cur.Rev < 0 {
		return gdoc.Errorf(gdoc.EINVALID, "A cursor's rev, anchor and head must not be negative.")
	}
	if len(cur.Position) > gdoc.MaxCursorFieldBytes || len(cur.Selection) > gdoc.MaxCursorFieldBytes {
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
		s.unlock(d)
		return gdoc.Errorf(gdoc.EINVALID, "Not joined to document %s.", docID)
	}
	d.cursors[cur.ConnID] = cur
	if !d.cursorQueued[cur.ConnID] {
		// A connection that moves again before the next fan-out round is
		// relayed once, with its latest cursor.
		d.cursorQueued[cur.ConnID] = true
		d.cursorQueue = append(d.cursorQueue, cur.ConnID)
	}
	s.startFanOutLocked(d)
	s.unlock(d)
	if payload, err := json.Marshal(cur); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventCursor, Payload: payload})
	}
	return nil
}
