package gdoc

import (
	"context"
	"time"
)

// UserStore keeps accounts.
type UserStore interface {
	// CreateUser stores u, setting u.ID and u.CreatedAt.
	// ECONFLICT if the username or the email is taken (case-insensitively).
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns ENOTFOUND when there is no such user.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByUsername matches case-insensitively; ENOTFOUND when none.
	UserByUsername(ctx context.Context, username string) (*User, error)
}

// DocumentStore keeps document metadata and snapshots.
type DocumentStore interface {
	// CreateDocument stores d (Rev 0 unless set), setting CreatedAt and
	// UpdatedAt. An empty Visibility follows Public (public or private),
	// an empty LinkRole is editor; Public is set from the visibility. A
	// deleted id may be used again. ECONFLICT if the id exists.
	CreateDocument(ctx context.Context, d *Document) error
	// CreateDocumentUnlessDeleted is CreateDocument for a join: ENOTFOUND
	// when the id was deleted (checked atomically with the insert).
	CreateDocumentUnlessDeleted(ctx context.Context, d *Document) error
	// CreateDocumentsUnlessDeleted is CreateDocumentUnlessDeleted for each
	// of docs in one transaction; out[i] is docs[i]'s outcome. When the
	// transaction fails, nothing is stored and each document that was
	// well formed has its error.
	CreateDocumentsUnlessDeleted(ctx context.Context, docs []*Document) (out []error)
	// Document returns the document with its latest snapshot, its owner's
	// username and all its Members. ENOTFOUND.
	Document(ctx context.Context, id string) (*Document, error)
	// DocumentMeta is Document without Content (and in one query on the
	// SQL stores): what an access check needs. ENOTFOUND.
	DocumentMeta(ctx context.Context, id string) (*Document, error)
	// Documents lists public documents and, when viewerID != "", the
	// viewer's own and those the viewer is a member of (Members holds the
	// viewer's role there), newest first, without Content.
	Documents(ctx context.Context, viewerID string) ([]*Document, error)
	// UpdateDocumentMeta changes title, language and publicity where non-nil
	// (public true makes the document public, false private). ENOTFOUND.
	UpdateDocumentMeta(ctx context.Context, id string, title, language *string, public *bool) (*Document, error)
	// SetDocumentAccess changes visibility and link role where non-nil.
	// ENOTFOUND; EINVALID for a value outside the enums.
	SetDocumentAccess(ctx context.Context, id string, visibility *Visibility, linkRole *Role) (*Document, error)
	// DeleteDocument removes the document with its ops, chat, sessions and
	// members, and keeps a tombstone of its id (DocumentDeleted).
	// ENOTFOUND.
	DeleteDocument(ctx context.Context, id string) error
	// DocumentsByID returns those of ids that exist, with their members
	// and without Content, in no particular order (the periodic access
	// re-check of every loaded document in one round trip).
	DocumentsByID(ctx context.Context, ids []string) ([]*Document, error)
	// DocumentDeleted reports whether a document with this id existed and
	// was deleted.
	DocumentDeleted(ctx context.Context, id string) (bool, error)
	// DocumentsCreatedSince counts the documents userID created (whether
	// they still exist or not) at or after since.
	DocumentsCreatedSince(ctx context.Context, userID string, since time.Time) (int, error)
	// SaveSnapshot stores content as the document's text at revision rev,
	// unless a snapshot at rev or later is already stored (then it is a
	// no-op). ENOTFOUND.
	SaveSnapshot(ctx context.Context, id string, content string, rev int64) error
}

// MemberStore keeps who, besides the owner, has a role on a document.
type MemberStore interface {
	// Members lists the document's owner (role owner) first, then its
	// members by username. ENOTFOUND for no such document.
	Members(ctx context.Context, docID string) ([]Member, error)
	// SetMember gives userID role (editor or viewer) on the document,
	// adding or changing the membership. ENOTFOUND for no such document or
	// user; EINVALID for another role or for the owner.
	SetMember(ctx context.Context, docID, userID string, role Role) (*Member, error)
	// RemoveMember ends userID's membership. ENOTFOUND when userID is not a
	// member.
	RemoveMember(ctx context.Context, docID, userID string) error
	// TransferOwnership makes member userID the owner; the old owner
	// becomes an editor. ENOTFOUND for no such document; EINVALID when
	// userID is not a member (or is the owner already).
	TransferOwnership(ctx context.Context, docID, userID string) (*Document, error)
}

// OpLog is the durable, append-only operation log: the order of truth.
type OpLog interface {
	// AppendOps commits every batch in one transaction (group commit) and
	// returns one error per batch, nil when it committed. A batch whose
	// revisions or op ids are already taken is not written and gets
	// ECONFLICT (wrapping ErrOpIDTaken when an op id was the cause); other
	// batches are unaffected. An op id is unique per (document, user). A
	// non-nil second result means nothing was committed.
	AppendOps(ctx context.Context, batches []OpBatch) ([]error, error)
	// Ops returns the ops of docID with from < Rev <= to in rev order
	// (to <= 0 means up to the newest).
	Ops(ctx context.Context, docID string, from, to int64) ([]CommittedOp, error)
	// HeadRev returns the newest committed revision of docID (0 when none).
	HeadRev(ctx context.Context, docID string) (int64, error)
	// OpRev returns the revision that user userID's op opID of docID
	// became. ENOTFOUND.
	OpRev(ctx context.Context, docID, userID, opID string) (int64, error)
}

// HistoryStore keeps what history reads besides the op log: checkpoints of
// the text, and which ops were restores.
type HistoryStore interface {
	// SaveCheckpoint stores cp unless a checkpoint of cp.DocID at cp.Rev is
	// stored (then it is a no-op). ENOTFOUND; EINVALID when cp.Rev is
	// negative or ahead of the document's head revision.
	SaveCheckpoint(ctx context.Context, cp *Checkpoint) error
	// Checkpoint returns docID's newest checkpoint with Rev <= rev.
	// ENOTFOUND when there is none (the history starts later, or no such
	// document).
	Checkpoint(ctx context.Context, docID string, rev int64) (*Checkpoint, error)
	// FirstCheckpointRev returns the revision of docID's oldest checkpoint,
	// where its history starts. ENOTFOUND when it has none.
	FirstCheckpointRev(ctx context.Context, docID string) (int64, error)
	// MarkRestore records that revision rev of docID restored the text of
	// revision restored. ENOTFOUND for an unknown document; a second mark of
	// the same rev is a no-op.
	MarkRestore(ctx context.Context, docID string, rev, restored int64) error
	// Restores returns docID's restore marks with from < rev <= to, as
	// rev -> restored revision.
	Restores(ctx context.Context, docID string, from, to int64) (map[int64]int64, error)
	// TrimHistory drops docID's ops with Rev <= start, and its checkpoints
	// and restore marks before start, so that its history starts at start.
	// EINVALID unless a checkpoint at start is stored and start is at or
	// before the snapshot (whose loading needs the ops after it). ENOTFOUND.
	TrimHistory(ctx context.Context, docID string, start int64) error
}

// ChatStore keeps chat messages.
type ChatStore interface {
	// AddChatMessage stores m, setting m.ID and m.CreatedAt (unless set).
	AddChatMessage(ctx context.Context, m *ChatMessage) error
	// ChatMessages returns up to limit messages with ID < beforeID (all when
	// beforeID <= 0), the newest of them, in chronological order.
	ChatMessages(ctx context.Context, docID string, beforeID int64, limit int) ([]*ChatMessage, error)
}

// SessionStore records who joined which document and for how long.
type SessionStore interface {
	// StartSession stores s, setting s.ID.
	StartSession(ctx context.Context, s *DocSession) error
	// StartSessions stores every session of ss in one transaction,
	// setting their IDs. A session whose document does not exist is not
	// stored and keeps ID 0.
	StartSessions(ctx context.Context, ss []*DocSession) error
	// EndSession sets the session's LeftAt. ENOTFOUND.
	EndSession(ctx context.Context, id int64, leftAt time.Time) error
	// EndSessions sets the LeftAt of every session of ends in one
	// transaction; an id that is no session is skipped.
	EndSessions(ctx context.Context, ends []SessionEnd) error
	// Sessions lists a document's sessions, newest first, up to limit.
	Sessions(ctx context.Context, docID string, limit int) ([]*DocSession, error)
}

// TokenStore remembers revoked access tokens until they expire (logout),
// and each user's token epoch (log out everywhere).
type TokenStore interface {
	// RevokeToken remembers jti as revoked until expiresAt (the caller adds
	// its verification leeway). Revoking a token twice is fine.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// UserForToken is UserByID(userID) and TokenRevoked(jti) in one read
	// (every authenticated request needs both). ENOTFOUND for no such user.
	UserForToken(ctx context.Context, userID, jti string) (user *User, revoked bool, err error)
	// RaiseTokenEpoch increments the user's TokenEpoch and returns the new
	// value: every token issued before refers to a lower epoch. ENOTFOUND.
	RaiseTokenEpoch(ctx context.Context, userID string) (int64, error)
}

// Store is everything G-Doc persists. Implementations: internal/sqlite
// (embedded default) and internal/postgres.
type Store interface {
	UserStore
	DocumentStore
	MemberStore
	OpLog
	HistoryStore
	ChatStore
	SessionStore
	TokenStore
	CommentStore
	// Ping reports whether the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}
