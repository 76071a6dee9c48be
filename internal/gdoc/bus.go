package gdoc

import (
	"context"
	"encoding/json"
)

// Event kinds carried by the Bus.
const (
	EventOp       = "op"       // Payload: CommittedOp
	EventChat     = "chat"     // Payload: ChatMessage
	EventCursor   = "cursor"   // Payload: a cursor message as relayed to clients
	EventPresence = "presence" // Payload: empty; presence of the document changed
	EventDocument = "document" // Payload: DocumentEvent; title, language or publicity changed, or deleted
	EventAccess   = "access"   // Payload: empty; members, visibility, link role or owner changed: re-read them
	EventResync   = "resync"   // delivered by the bus itself after it may have lost events
)

// Event is one message on a document's channel. ServerID names the
// instance that published it; an instance skips its own events.
type Event struct {
	ServerID string          `json:"server_id"`
	DocID    string          `json:"doc_id"`
	Kind     string          `json:"kind"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// DocumentEvent is the payload of EventDocument.
type DocumentEvent struct {
	Document Document `json:"document"` // metadata; Content is not carried
	UserID   string   `json:"user_id"`  // who changed it
	Username string   `json:"username"`
	Deleted  bool     `json:"deleted,omitempty"`
}

// Bus fans events out to every instance subscribed to a document.
//
// Delivery is AT MOST ONCE and, between two instances, in publish order
// while the connection holds. Correctness never depends on the bus: every op
// carries its revision, and a subscriber that sees a gap or receives an
// EventResync catches up from the OpLog. internal/inmem serves a single
// instance; internal/redis serves many.
type Bus interface {
	// Publish sends ev on its document's channel. EUNAVAILABLE when the bus
	// is down.
	Publish(ctx context.Context, ev Event) error
	// Subscribe calls handle for every event on docID's channel (from other
	// instances and this one alike: the caller filters by ServerID) until
	// the returned cancel is called. Subscribe returns once the
	// subscription is active, so a caller may load state after it and miss
	// nothing. handle must not block for long.
	Subscribe(ctx context.Context, docID string, handle func(Event)) (cancel func(), err error)
	Close() error
}

// Presence tracks live connections to documents across all instances.
type Presence interface {
	// Join records p as connected to docID.
	Join(ctx context.Context, docID string, p Participant) error
	// Leave removes connection connID of docID.
	Leave(ctx context.Context, docID, connID string) error
	// Participants lists docID's live connections (one entry per
	// connection; callers group by user). Connections of an instance that
	// stopped heartbeating disappear within a bounded time.
	Participants(ctx context.Context, docID string) ([]Participant, error)
	Close() error
}
