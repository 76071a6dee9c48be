package gdoc

import "context"

// ActiveUser is one user connected to a document (presence is per user, not
// per tab), with the number of connections they have open.
type ActiveUser struct {
	UserID      string `json:"user_id"`
	Username    string `json:"username"`
	Color       string `json:"color"`
	Connections int    `json:"connections"`
}

// Collab is what the REST API needs from the collaboration layer
// (internal/collab), which owns every document's live state.
type Collab interface {
	// Current returns the document with its current content and revision
	// (snapshot plus every op committed since). ENOTFOUND.
	Current(ctx context.Context, docID string) (*Document, error)
	// ReplaceContent commits the minimal op that turns the current text
	// into content, on behalf of user, through the same path as a live
	// edit, and returns the document after it. The op's id starts with
	// "rest:" (history finds a restore's op by it). ENOTFOUND, EINVALID.
	ReplaceContent(ctx context.Context, docID string, user *User, content string) (*Document, error)
	// ActiveUsers lists the users connected to docID on every instance.
	ActiveUsers(ctx context.Context, docID string) ([]ActiveUser, error)
	// MetadataChanged tells every connected client, on every instance,
	// that doc's title, language or publicity changed (by user). When doc
	// became private, other users' connections are closed.
	MetadataChanged(ctx context.Context, doc *Document, by *User)
	// AccessChanged tells every instance that who may do what on docID
	// changed (members, visibility, link role, owner): each re-reads the
	// document's access and applies it to its open connections (a new
	// role is announced, a lost one closes the connection).
	AccessChanged(ctx context.Context, docID string)
	// Forget drops the document's live state and disconnects its clients,
	// on every instance (after the document was deleted).
	Forget(docID string)
}
