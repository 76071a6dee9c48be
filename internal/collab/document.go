package collab

import (
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// docState is where a loaded document is in its life (one state, as
// centrifuge keeps one status per client):
//
//	loading ──▶ idle ⇄ writing
//	   │          │       │
//	   └──────────┴───────┴──▶ closed
type docState uint8

const (
	// stateLoading: subscribed to the bus, reading the store; events are
	// buffered in early.
	stateLoading docState = iota
	// stateIdle: loaded, no worker holds the writer token; the bus handler
	// applies the next remote op itself.
	stateIdle
	// stateWriting: a worker goroutine holds the writer token and alone
	// changes the authority's text and head.
	stateWriting
	// stateClosed: removed from Service.docs (unloaded, deleted, shut
	// down); a holder must look the document up again.
	stateClosed
)

// document is the live state of one loaded document. Every field is
// guarded by mu, except that only the worker holding the writer token
// (stateWriting) changes auth while writing. A section that may deliver to
// clients unlocks with Service.unlock, which finishes the leaving of any
// client dropped in it.
type document struct {
	id string
	mu sync.Mutex

	state     docState
	pins      int          // Join/ReplaceContent calls using it: it is not unloaded while > 0
	early     []gdoc.Event // events that arrived while loading
	idleSince time.Time    // when the last client left (zero while clients are connected)
	cancelSub func()

	meta       gdoc.Document // metadata at load (Content unused)
	auth       *authority
	savedRev   int64 // newest revision known to be in a snapshot
	pending    []*submission
	remoteHint int64 // highest revision another instance announced

	clients map[string]Client
	// conns holds, per conn id in clients, its role, session row and
	// oldest revision: one map, not three (a map's slots come eight at a
	// time, about 200-290 bytes each for a one-connection document).
	conns     map[string]*connState
	cursors   map[string]Cursor
	announced []gdoc.ActiveUser // the user set last announced to local clients, by user id (a slice: one user's is 64 bytes, a map's 600)
	dropped   []departure       // slow clients removed under mu, for flushDrops to finish
	// The fan-out (fanout.go). fanLog holds the ops applied since the
	// last round began, in revision order; fanSent says how many of them
	// a connection has received already (an author, served by the worker
	// at once, or a joiner, whose state has them). cursorQueue lists, in
	// order, the local connections whose cursor changed since then, and
	// cursorQueued is its set. fanRound: a round's goroutine runs.
	fanLog       []fanEntry
	fanSent      map[string]int
	cursorQueue  []string
	cursorQueued map[string]bool
	fanRound     bool

	presenceMu sync.Mutex // serializes presence recomputation
	presenceQ  bool       // a presence recomputation is queued
}

func newDocument(id string) *document {
	return &document{
		id:      id,
		clients: make(map[string]Client),
		conns:   make(map[string]*connState),
		cursors: make(map[string]Cursor),

		fanSent:      make(map[string]int),
		cursorQueued: make(map[string]bool),
	}
}

// connState is what d keeps of one local client besides the Client.
type connState struct {
	role    gdoc.Role      // checked on every message
	session *sessionRecord // its session row
	minBase int64          // the oldest revision it has received
}

// role is connID's role, RoleNone when it is not a local client.
func (d *document) role(connID string) gdoc.Role {
	if cs := d.conns[connID]; cs != nil {
		return cs.role
	}
	return gdoc.RoleNone
}

// open reports whether d is loaded and not closed.
func (d *document) open() bool { return d.state == stateIdle || d.state == stateWriting }

// unloadable reports whether nothing uses d any more.
func (d *document) unloadable() bool {
	return d.state == stateIdle && len(d.clients) == 0 && d.pins == 0 && len(d.pending) == 0
}

// broadcastLocked delivers m to every local client except the one with
// connID skip. A client whose queue is full is dropped (the slow consumer
// never slows the document); ws closes it.
func (d *document) broadcastLocked(m Message, skip string) {
	for id, c := range d.clients {
		if id != skip {
			d.deliverLocked(c, m)
		}
	}
}

// deliverLocked queues m for c; a full queue unregisters c, and the rest of
// its leaving (I/O) is left in d.dropped for whoever unlocks d through
// Service.unlock.
func (d *document) deliverLocked(c Client, m Message) {
	if c.Deliver(m) {
		return
	}
	if gone, ok := d.removeClientLocked(c.ConnID()); ok {
		d.dropped = append(d.dropped, gone)
	}
}

// departure is what finishLeave needs of a removed connection.
type departure struct {
	connID  string
	session *sessionRecord
	cursor  Cursor
}

// removeClientLocked unregisters connID and tells the other local clients
// its cursor is gone. The I/O part of leaving is finishLeave's.
func (d *document) removeClientLocked(connID string) (departure, bool) {
	c, ok := d.clients[connID]
	if !ok {
		return departure{}, false
	}
	delete(d.clients, connID)
	gone := departure{connID: connID}
	if cs := d.conns[connID]; cs != nil {
		gone.session = cs.session
	}
	delete(d.conns, connID)
	delete(d.cursors, connID)
	delete(d.fanSent, connID)
	user := c.User()
	gone.cursor = Cursor{ConnID: connID, UserID: user.ID, Username: user.Username, Color: colorFor(user.ID), Removed: true}
	d.broadcastLocked(CursorMessage{Cursor: gone.cursor}, "")
	if len(d.clients) == 0 {
		d.idleSince = time.Now()
	}
	return gone, true
}
