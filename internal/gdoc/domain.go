package gdoc

import (
	"encoding/json"
	"regexp"
	"time"
)

// User is an account. IDs are decimal strings ("1", "2", ...).
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// TokenEpoch is raised by "log out everywhere": tokens issued with a
	// lower epoch are refused.
	TokenEpoch int64 `json:"-"`
}

// DocumentIDPattern is the shape of every document id (PROTOCOL.md).
var DocumentIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidDocumentID reports whether id may name a document.
func ValidDocumentID(id string) bool { return DocumentIDPattern.MatchString(id) }

// Document is a text document and its metadata. Content and Rev are the
// document's state at revision Rev: for a stored document that is its latest
// snapshot; the collaboration layer adds the ops committed after it.
type Document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Content   string    `json:"content"`
	Language  string    `json:"language"`
	OwnerID   string    `json:"owner_id"`
	Public    bool      `json:"is_public"` // exactly when Visibility is public
	Rev       int64     `json:"rev"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	Visibility    Visibility `json:"visibility"`
	LinkRole      Role       `json:"link_role"` // what a non-member gets on a public or link document
	OwnerUsername string     `json:"owner_username"`
	// Members maps user ids to member roles (editor or viewer; the owner is
	// not in it), as far as the value was loaded with them (see RoleOf).
	Members map[string]Role `json:"-"`
}

// CommittedOp is one entry of a document's operation log: the op that took
// the document from revision Rev-1 to Rev. Op is the text-unicode op as JSON.
type CommittedOp struct {
	DocID     string          `json:"doc_id"`
	Rev       int64           `json:"rev"`
	OpID      string          `json:"id"`
	UserID    string          `json:"user_id"`
	Op        json.RawMessage `json:"op"`
	CreatedAt time.Time       `json:"created_at"`
}

// OpBatch is a run of consecutive ops for one document, committed all or
// nothing: Ops[i].Rev == BaseRev+1+i.
type OpBatch struct {
	DocID   string
	BaseRev int64
	Ops     []CommittedOp
}

// ChatMessage is one message in a document's chat.
type ChatMessage struct {
	ID        int64     `json:"id"`
	DocID     string    `json:"document_id"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// DocSession records one connection of a user to a document (the seed's
// "Sessions" table): who joined which document, when, and for how long.
type DocSession struct {
	ID       int64      `json:"id"`
	DocID    string     `json:"document_id"`
	UserID   string     `json:"user_id"`
	ServerID string     `json:"server_id"`
	JoinedAt time.Time  `json:"joined_at"`
	LeftAt   *time.Time `json:"left_at,omitempty"`
}

// SessionEnd is when the session ID ended (Store.EndSessions).
type SessionEnd struct {
	ID     int64
	LeftAt time.Time
}

// Participant is one live connection to a document, as presence sees it.
type Participant struct {
	ConnID   string    `json:"conn_id"`
	ServerID string    `json:"server_id"`
	UserID   string    `json:"user_id"`
	Username string    `json:"username"`
	Color    string    `json:"color"`
	JoinedAt time.Time `json:"joined_at"`
}

// Checkpoint is a document's text at revision Rev, kept so that reading
// its history replays a bounded number of ops (internal/history). Blame is
// history's per-line attribution at Rev as JSON, opaque to the stores; ""
// attributes every line to Rev itself, with no author (the text as created).
type Checkpoint struct {
	DocID   string
	Rev     int64
	Content string
	Blame   string
}
