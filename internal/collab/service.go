// Package collab is the document authority: it transforms, commits and fans out every edit, and tracks presence, cursors and chat.
package collab

import (
	"context"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

var _ gdoc.Collab = (*Service)(nil)

// Service owns the live state of every loaded document.
type Service struct{ cfg Config }

// New returns a Service; call Run for its background work.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

func notYet() error { return gdoc.Errorf(gdoc.EUNAVAILABLE, "Not implemented yet.") }

// Run does background work until ctx is done.
func (s *Service) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// Shutdown stops taking ops and writes snapshots of dirty documents.
func (s *Service) Shutdown(ctx context.Context) error { return nil }

// Join registers c on docID.
func (s *Service) Join(ctx context.Context, docID string, c Client, since int64) (JoinState, error) {
	return JoinState{}, notYet()
}

// Leave unregisters c.
func (s *Service) Leave(docID string, c Client) {}

// SubmitOp queues an op based on rev.
func (s *Service) SubmitOp(ctx context.Context, docID string, c Client, rev int64, opID string, op ot.Op) error {
	return notYet()
}

// SendChat stores and relays a chat message.
func (s *Service) SendChat(ctx context.Context, docID string, c Client, message, clientMsgID string) error {
	return notYet()
}

// UpdateCursor relays c's cursor.
func (s *Service) UpdateCursor(ctx context.Context, docID string, c Client, cur Cursor) error {
	return notYet()
}

// LoadedDocuments counts the documents held in memory.
func (s *Service) LoadedDocuments() int { return 0 }

// Current returns the document's current content.
func (s *Service) Current(ctx context.Context, docID string) (*gdoc.Document, error) {
	return nil, notYet()
}

// ReplaceContent commits the diff to content.
func (s *Service) ReplaceContent(ctx context.Context, docID string, user *gdoc.User, content string) (*gdoc.Document, error) {
	return nil, notYet()
}

// ActiveUsers lists connected users.
func (s *Service) ActiveUsers(ctx context.Context, docID string) ([]gdoc.ActiveUser, error) {
	return nil, notYet()
}

// Forget drops the document's live state.
func (s *Service) Forget(docID string) {}
