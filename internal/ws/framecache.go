package ws

import (
	"bytes"
	"sync"

	"github.com/gdoc/gdoc/internal/collab"
)

// opFrameCacheSize bounds the cache of encoded op frames: enough for the
// ops of a burst to be encoded once for all of a document's connections.
const opFrameCacheSize = 512

// opFrameCache encodes a committed op once for every OT connection that
// receives it, instead of once per connection.
type opFrameCache struct {
	mu      sync.Mutex
	entries map[opFrameKey]opFrameEntry
	ring    [opFrameCacheSize]opFrameKey
	next    int
}

// opFrameEntry keeps the op with its frame: a document deleted and
// created again may reuse a (rev, op id) pair for another op.
type opFrameEntry struct {
	op    []byte
	frame []byte
}

type opFrameKey struct {
	docID string
	rev   int64
	opID  string
}

func (c *opFrameCache) frame(m collab.OpMessage) []byte {
	if m.Op.DocID == "" || len(m.Op.Op) == 0 {
		return mustJSON(opFrame(m))
	}
	key := opFrameKey{m.Op.DocID, m.Op.Rev, m.Op.OpID}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && bytes.Equal(e.op, m.Op.Op) {
		return e.frame
	}
	f := mustJSON(opFrame(m))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[opFrameKey]opFrameEntry, opFrameCacheSize)
	}
	if _, ok := c.entries[key]; !ok {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = key
		c.next = (c.next + 1) % opFrameCacheSize
	}
	c.entries[key] = opFrameEntry{op: m.Op.Op, frame: f}
	return f
}

// cursorFrameCacheSize bounds the cache of encoded cursor frames: enough
// for a round of cursor moves in a big room (collab's fan-out delivers
// each to every receiver at once).
const cursorFrameCacheSize = 1024

// cursorFrameCache encodes a cursor once for every connection that
// receives it. A frame is found by the cursor's connection and position
// and used only when the whole cursor is the same.
type cursorFrameCache struct {
	mu      sync.Mutex
	entries map[cursorFrameKey]cursorFrameEntry
	ring    [cursorFrameCacheSize]cursorFrameKey
	next    int
}

type cursorFrameKey struct {
	connID           string
	rev              int64
	anchor, head     int
	removed, hasForm bool
}

type cursorFrameEntry struct {
	cursor collab.Cursor
	frame  []byte
}

func sameCursor(a, b collab.Cursor) bool {
	return a.ConnID == b.ConnID && a.UserID == b.UserID && a.Username == b.Username && a.Color == b.Color &&
		a.Rev == b.Rev && a.Anchor == b.Anchor && a.Head == b.Head && a.Removed == b.Removed &&
		bytes.Equal(a.Position, b.Position) && bytes.Equal(a.Selection, b.Selection) &&
		(a.Position == nil) == (b.Position == nil) && (a.Selection == nil) == (b.Selection == nil)
}

func (c *cursorFrameCache) frame(cur collab.Cursor) []byte {
	key := cursorFrameKey{cur.ConnID, cur.Rev, cur.Anchor, cur.Head, cur.Removed, cur.Position != nil || cur.Selection != nil}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && sameCursor(e.cursor, cur) {
		return e.frame
	}
	f := mustJSON(cursorFrame(cur))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[cursorFrameKey]cursorFrameEntry, cursorFrameCacheSize)
	}
	if _, ok := c.entries[key]; !ok {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = key
		c.next = (c.next + 1) % cursorFrameCacheSize
	}
	c.entries[key] = cursorFrameEntry{cursor: cur, frame: f}
	return f
}
