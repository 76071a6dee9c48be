package collab

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// recentOpsLimit is how many committed ops a loaded document keeps in
// memory for transforming late submissions and serving catch-up; older ones
// are read from the OpLog. The window grows by up to recentOpsSlack more
// before it is cut back, so that the cut (a copy of the window) happens once
// per recentOpsSlack ops rather than on every op.
const (
	recentOpsLimit = 1000
	recentOpsSlack = recentOpsLimit / 4
)

// committed is one op of a document's recent history.
type committed struct {
	op       gdoc.CommittedOp
	parsed   ot.Op
	username string
}

// document is the live state of one loaded document. Every field is
// guarded by mu, except that only the goroutine holding the writer token
// (busy == true) changes text and head while busy; the bus handler applies
// remote ops only when no writer holds the token.
type document struct {
	id string
	mu sync.Mutex

	meta      gdoc.Document // metadata at load (Content unused)
	text      *ot.Text
	head      int64
	recent    []committed      // recent[i].op.Rev == head-len(recent)+1+i
	opIDs     map[string]int64 // op id -> rev for every op with rev > idsFrom
	idsFrom   int64
	savedRev  int64 // newest revision known to be in a snapshot
	clients   map[string]Client
	roles     map[string]gdoc.Role // conn id -> the client's role, checked on every message
	sessions  map[string]int64     // conn id -> DocSession id
	cursors   map[string]Cursor
	announced map[string]gdoc.ActiveUser // the user set last announced to local clients

	pending    []*submission
	busy       bool  // a worker goroutine holds the writer token
	remoteHint int64 // highest revision another instance announced

	loaded     bool         // false while loading: bus events are buffered in early
	early      []gdoc.Event // events that arrived while loading
	unloaded   bool         // removed from Service.docs; a holder must look it up again
	holds      int          // Join/ReplaceContent calls using it; it stays loaded while > 0
	idleSince  time.Time    // when the last client left (zero while clients are connected)
	cancelSub  func()
	presenceMu sync.Mutex      // serializes presence recomputation
	presenceQ  bool            // a presence recomputation is queued
	onDrop     func(departure) // finishes leaving for a client dropped as too slow
}

func newDocument(id string) *document {
	return &document{
		id:        id,
		opIDs:     make(map[string]int64),
		clients:   make(map[string]Client),
		roles:     make(map[string]gdoc.Role),
		sessions:  make(map[string]int64),
		cursors:   make(map[string]Cursor),
		announced: make(map[string]gdoc.ActiveUser),
	}
}

// recentFrom returns the revision after which recent holds every op.
func (d *document) recentFrom() int64 { return d.head - int64(len(d.recent)) }

// appendCommittedLocked records c, already applied to text, as the new
// head, and trims the in-memory history.
func (d *document) appendCommittedLocked(c committed) {
	d.head = c.op.Rev
	d.recent = append(d.recent, c)
	if c.op.OpID != "" {
		d.opIDs[c.op.OpID] = c.op.Rev
	}
	if len(d.recent) > recentOpsLimit+recentOpsSlack {
		excess := len(d.recent) - recentOpsLimit
		for _, old := range d.recent[:excess] {
			delete(d.opIDs, old.op.OpID)
			d.idsFrom = old.op.Rev
		}
		kept := make([]committed, recentOpsLimit, recentOpsLimit+recentOpsSlack+1)
		copy(kept, d.recent[excess:])
		d.recent = kept
	}
}

// applyCommittedLocked applies an op committed by anyone to text and
// records it. It fails (changing nothing) only when the op does not fit the
// text, which means this copy of the document is corrupt.
func (d *document) applyCommittedLocked(c committed) error {
	if err := d.text.Apply(c.parsed); err != nil {
		return err
	}
	d.appendCommittedLocked(c)
	return nil
}

// opMessage is how c reaches clients other than its author.
func (c committed) message() OpMessage {
	return OpMessage{Op: c.op, Username: c.username, Parsed: c.parsed}
}

// opEvent is the bus payload of an EventOp.
type opEvent struct {
	gdoc.CommittedOp
	Username string `json:"username"`
}

func (c committed) event(serverID string) (gdoc.Event, error) {
	payload, err := json.Marshal(opEvent{CommittedOp: c.op, Username: c.username})
	return gdoc.Event{ServerID: serverID, DocID: c.op.DocID, Kind: gdoc.EventOp, Payload: payload}, err
}
