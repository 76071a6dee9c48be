package collab

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// Config wires a Service to its adapters.
type Config struct {
	Store            gdoc.Store
	Bus              gdoc.Bus
	Presence         gdoc.Presence
	ServerID         string        // names this instance on the bus and in presence
	AutoSaveInterval time.Duration // snapshot dirty documents this often (seed AUTO_SAVE_INTERVAL, default 30s)
	IdleUnload       time.Duration // unload a document this long after its last client left (default 1m)
	Logger           *slog.Logger
	// SingleInstance says every client connects to this process (in-process
	// bus and presence): no event can come from elsewhere and no other
	// instance can die, so the periodic sweep that re-reads every loaded
	// document's head from the OpLog and recomputes presence is skipped,
	// and committed ops are not published on the bus (nobody would read them).
	SingleInstance bool
	// JoinCreateLimit: joining a fresh id creates it only while its user
	// created fewer documents than this in the last hour (by any means,
	// gdoc.DocumentStore.DocumentsCreatedSince); 0 means no bound.
	JoinCreateLimit int
	// AccessCheckInterval is how often the access of open connections is
	// re-read from the store, whatever the bus delivered (default 5s).
	AccessCheckInterval time.Duration
	// MaxDocumentBytes bounds a document's text in UTF-8 bytes (seed-less
	// setting MAX_DOCUMENT_BYTES): an op or REST edit that would grow it
	// past the bound is refused with ETOOLARGE. 0: gdoc.DefaultMaxDocumentBytes.
	MaxDocumentBytes int
	// MaxOpBytes bounds the text one op inserts, in UTF-8 bytes
	// (MAX_OP_BYTES); 0: gdoc.DefaultMaxOpBytes.
	MaxOpBytes int
}

// Client is one connection, implemented by internal/ws.
//
// Deliver may be called from any goroutine, and already while Join is
// running (for ops committed after JoinState.Rev): the connection must send
// its init message before anything Deliver queued.
type Client interface {
	ConnID() string
	User() *gdoc.User
	// Deliver queues m for the client without blocking. false = the queue is full:
	// collab then drops the client (Leave) and ws closes it with 1008 "Slow consumer".
	Deliver(m Message) bool
}

// Message is what collab sends to clients; ws encodes it per dialect. One of
// the *Message types below (passed by value).
type Message interface{ isMessage() }

// OpMessage is someone else's committed op; Op.Rev is the revision it
// produced.
type OpMessage struct {
	Op       gdoc.CommittedOp
	Username string
	Parsed   ot.Op
	// More: the client receives another message at once, for the next op
	// of the same commit, and may hold this one back until then (so that
	// a commit's ops leave in one write). The last message a commit
	// delivers to a client never has More.
	More bool
}

// AckMessage tells the submitter its op committed as revision Rev. More is
// OpMessage's.
type AckMessage struct {
	OpID string
	Rev  int64
	More bool
}

// OpErrorMessage tells the submitter its op was refused and changed
// nothing. Code is a gdoc error code — EINVALID (malformed or out of range
// for the text), EUNAVAILABLE (storage down or document too busy: resend
// later with the same id), EINTERNAL — or CodeBadRevision (the op's
// revision is negative or ahead of the document).
type OpErrorMessage struct {
	OpID    string
	Code    string
	Message string
}

// ChatMessage is someone else's chat message.
type ChatMessage struct{ Chat gdoc.ChatMessage }

// ChatAckMessage tells the sender its chat message was stored.
type ChatAckMessage struct {
	ClientMsgID string
	Chat        gdoc.ChatMessage
}

// CursorMessage is someone else's cursor, or its removal (Cursor.Removed).
// More is OpMessage's: a cursor round (cursors.go) delivers a receiver
// every cursor that changed since the last one at once.
type CursorMessage struct {
	Cursor Cursor
	More   bool
}

// UserJoinedMessage announces a user's first connection to the document on
// any instance.
type UserJoinedMessage struct{ User gdoc.ActiveUser }

// UserLeftMessage announces that a user's last connection closed.
type UserLeftMessage struct{ UserID, Username string }

// DocumentMessage tells clients that the document's title, language or
// publicity changed.
type DocumentMessage struct {
	Document         gdoc.Document // metadata; Content unused
	UserID, Username string
}

// ClosingMessage asks ws to close the connection: the server is shutting
// down (1001, going away), the document was deleted (1008) or the user lost
// access (ReasonAccessRevoked).
type ClosingMessage struct{ Reason string }

// AccessMessage tells a client its role changed (it still has access); the
// new role is enforced from its next message.
type AccessMessage struct{ Role gdoc.Role }

func (OpMessage) isMessage()         {}
func (AckMessage) isMessage()        {}
func (OpErrorMessage) isMessage()    {}
func (ChatMessage) isMessage()       {}
func (ChatAckMessage) isMessage()    {}
func (CursorMessage) isMessage()     {}
func (UserJoinedMessage) isMessage() {}
func (UserLeftMessage) isMessage()   {}
func (ClosingMessage) isMessage()    {}
func (DocumentMessage) isMessage()   {}
func (AccessMessage) isMessage()     {}

// CodeBadRevision is OpErrorMessage.Code for an op based on a revision the
// document does not have; it is also the wire code.
const CodeBadRevision = "bad_revision"

// Closing reasons carried by ClosingMessage.
const (
	ReasonShutdown = "Server shutting down"
	ReasonDeleted  = "Document deleted"
	ReasonPrivate  = "Forbidden" // the document became private
	// ReasonAccessRevoked: the user no longer has access to the document.
	// It is the close frame's reason, so it is written for the user.
	ReasonAccessRevoked = "You no longer have access to this document."
)

// Cursor is one connection's selection. Anchor and Head count code points
// and are valid at Rev; Position and Selection are the seed's form, relayed
// as given (either form may be absent).
type Cursor struct {
	ConnID    string          `json:"conn_id"`
	UserID    string          `json:"user_id"`
	Username  string          `json:"username"`
	Color     string          `json:"color"`
	Rev       int64           `json:"rev"`
	Anchor    int             `json:"anchor"`
	Head      int             `json:"head"`
	Position  json.RawMessage `json:"position,omitempty"`
	Selection json.RawMessage `json:"selection,omitempty"`
	Removed   bool            `json:"removed,omitempty"`
}

// JoinState is what a joining connection needs for its init message.
type JoinState struct {
	Document gdoc.Document     // metadata; Content filled only when Ops is nil (full load)
	Rev      int64             // head revision at join
	Ops      []OpMessage       // catch-up ops since the requested revision (nil when full content is given)
	Reset    bool              // since was requested but cannot be served from ops: Content is given instead
	Users    []gdoc.ActiveUser // every connected user including the joiner
	Color    string            // the joiner's color (stable per user id)
	Chat     []gdoc.ChatMessage
	Cursors  []Cursor  // other connections' last known cursors
	Role     gdoc.Role // the joiner's role (viewer, editor or owner)
}
