package gdoc

import (
	"context"
	"time"
)

// Comment limits, stated in docs/protocol.md.
const (
	// MaxCommentChars bounds a comment's body, in Unicode code points.
	MaxCommentChars = 10000
	// MaxCommentQuoteChars bounds the text a comment keeps of its range.
	MaxCommentQuoteChars = 1000
	// MaxCommentsPerDocument bounds the comments (threads and replies) of one
	// document.
	MaxCommentsPerDocument = 5000
	// MaxAnchorAge is how many revisions behind the head a new comment's
	// anchor may be written at.
	MaxAnchorAge = 10000
)

// Anchor is a range of a document's text: code points [From, To) of the
// text at revision Rev.
type Anchor struct {
	Rev  int64 `json:"rev"`
	From int   `json:"from"`
	To   int   `json:"to"`
}

// Comment is a thread of review comments (ParentID nil), anchored to a
// range of the text, or a reply in one (ParentID is the thread's id). Anchor,
// Quote, Resolved and Detached belong to the thread; a reply reports its
// thread's. Its JSON is the wire form of docs/protocol.md.
type Comment struct {
	ID       int64  `json:"id"`
	DocID    string `json:"-"`
	ParentID *int64 `json:"parent_id" nullable:"true"`
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Body     string `json:"body"`
	Anchor   Anchor `json:"anchor"`
	// Quote is the text the range covered when the thread was written.
	Quote string `json:"quote"`
	// Resolved threads stay listed; clients show them on request.
	Resolved bool `json:"resolved"`
	// Detached is set for good once every code point of the range was
	// deleted; Anchor is then the point where the text was.
	Detached  bool      `json:"detached"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CommentStore keeps comments. Every method takes the document's id and
// answers ENOTFOUND for a comment of another document.
type CommentStore interface {
	// AddComment stores c, setting c.ID, c.CreatedAt and c.UpdatedAt. A
	// reply (ParentID != nil) must name a thread of the same document.
	// ENOTFOUND (document or thread), EINVALID, ETOOLARGE when the document
	// has MaxCommentsPerDocument comments.
	AddComment(ctx context.Context, c *Comment) error
	// Comment returns one comment as stored. ENOTFOUND.
	Comment(ctx context.Context, docID string, id int64) (*Comment, error)
	// Comments returns the document's comments in id order (threads before
	// their replies), as stored: anchors at their stored revisions.
	Comments(ctx context.Context, docID string) ([]*Comment, error)
	// UpdateComment sets the body, resolved flag or both (where non-nil)
	// and UpdatedAt. ENOTFOUND, EINVALID (resolving a reply).
	UpdateComment(ctx context.Context, docID string, id int64, body *string, resolved *bool) (*Comment, error)
	// RebaseAnchor stores a thread's anchor as brought to a later revision
	// (and detached, which is never cleared), unless the stored anchor is
	// already at anchor.Rev or later: re-basing is idempotent, and racing
	// readers never move an anchor back. ENOTFOUND.
	RebaseAnchor(ctx context.Context, docID string, id int64, anchor Anchor, detached bool) error
	// DeleteComment removes a comment, with its replies when it is a
	// thread. ENOTFOUND.
	DeleteComment(ctx context.Context, docID string, id int64) error
}

// Bus event kinds of reviewing: a comment change (Payload: CommentEvent)
// and a connection's viewport (Payload: collab.Viewport).
const (
	EventComment  = "comment"
	EventViewport = "viewport"
)

// Comment event actions.
const (
	CommentCreated  = "created"
	CommentUpdated  = "updated"  // the body changed
	CommentResolved = "resolved" // resolved or reopened: see Comment.Resolved
	CommentDeleted  = "deleted"  // Comment holds only ID and ParentID
)

// CommentEvent is one change to a document's comments, as every connection
// to it receives it.
type CommentEvent struct {
	Action  string   `json:"action"`
	Comment *Comment `json:"comment"`
}
