package collab

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Chat: messages are stored first, then relayed; a joiner gets the newest
// gdoc.ChatHistoryLimit of them (join.go).

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
	s.unlock(d)
	if payload, err := json.Marshal(m); err == nil {
		s.publish(ctx, gdoc.Event{ServerID: s.cfg.ServerID, DocID: docID, Kind: gdoc.EventChat, Payload: payload})
	}
	return nil
}

// cleanChat trims message and checks it is 1..gdoc.MaxChatChars code
// points of valid UTF-8 (which rules out lone surrogates).
func cleanChat(message string) (string, error) {
	if !utf8.ValidString(message) {
		return "", gdoc.Errorf(gdoc.EINVALID, "A chat message must be valid Unicode text.")
	}
	message = strings.TrimSpace(message)
	n := utf8.RuneCountInString(message)
	if n == 0 {
		return "", gdoc.Errorf(gdoc.EINVALID, "A chat message must not be empty.")
	}
	if n > gdoc.MaxChatChars {
		return "", gdoc.Errorf(gdoc.EINVALID, "A chat message must be at most %d characters, not %d.", gdoc.MaxChatChars, n)
	}
	return message, nil
}
