package ws

import (
	"bytes"
	"sync"

	"github.com/gdoc/gdoc/internal/collab"
)

// frameCache keeps the last size encoded frames by key, so that a message
// delivered to many connections is JSON-encoded once, not once per
// connection. A frame is used only when its whole message equals the one
// asked for (same), since a key names a message without fixing it. The
// zero value is ready; every call passes the same size and same.
type frameCache[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]frameEntry[V]
	ring    []K // the keys in insertion order, oldest at next
	next    int
}

type frameEntry[V any] struct {
	value V
	frame []byte
}

// frame returns the frame of v under key, encoding it when it is not kept.
func (c *frameCache[K, V]) frame(key K, v V, size int, same func(a, b V) bool, encode func(V) []byte) []byte {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && same(e.value, v) {
		return e.frame
	}
	f := encode(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[K]frameEntry[V], size)
		c.ring = make([]K, size)
	}
	if _, ok := c.entries[key]; !ok {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = key
		c.next = (c.next + 1) % size
	}
	c.entries[key] = frameEntry[V]{value: v, frame: f}
	return f
}

// opFrameCacheSize bounds the cache of encoded op frames: enough for the
// ops of a burst to be encoded once for all of a document's connections.
const opFrameCacheSize = 512

// opFrameCache encodes a committed op once for every OT connection that
// receives it. The op is kept with its frame: a document deleted and
// created again may reuse a (rev, op id) pair for another op.
type opFrameCache struct {
	cache frameCache[opFrameKey, collab.OpMessage]
}

type opFrameKey struct {
	docID string
	rev   int64
	opID  string
}

func sameOp(a, b collab.OpMessage) bool { return bytes.Equal(a.Op.Op, b.Op.Op) }

func encodeOp(m collab.OpMessage) []byte { return mustJSON(opFrame(m)) }

func (c *opFrameCache) frame(m collab.OpMessage) []byte {
	if m.Op.DocID == "" || len(m.Op.Op) == 0 {
		return encodeOp(m)
	}
	return c.cache.frame(opFrameKey{m.Op.DocID, m.Op.Rev, m.Op.OpID}, m, opFrameCacheSize, sameOp, encodeOp)
}

// cursorFrameCacheSize bounds the cache of encoded cursor frames: enough
// for a round of cursor moves in a big room (collab's fan-out delivers
// each to every receiver at once).
const cursorFrameCacheSize = 1024

// cursorFrameCache encodes a cursor once for every connection that
// receives it. A frame is found by the cursor's connection and position
// and used only when the whole cursor is the same.
type cursorFrameCache struct {
	cache frameCache[cursorFrameKey, collab.Cursor]
}

type cursorFrameKey struct {
	connID           string
	rev              int64
	anchor, head     int
	removed, hasForm bool
}

func sameCursor(a, b collab.Cursor) bool {
	return a.ConnID == b.ConnID && a.UserID == b.UserID && a.Username == b.Username && a.Color == b.Color &&
		a.Rev == b.Rev && a.Anchor == b.Anchor && a.Head == b.Head && a.Removed == b.Removed &&
		bytes.Equal(a.Position, b.Position) && bytes.Equal(a.Selection, b.Selection) &&
		(a.Position == nil) == (b.Position == nil) && (a.Selection == nil) == (b.Selection == nil)
}

func encodeCursor(cur collab.Cursor) []byte { return mustJSON(cursorFrame(cur)) }

func (c *cursorFrameCache) frame(cur collab.Cursor) []byte {
	key := cursorFrameKey{cur.ConnID, cur.Rev, cur.Anchor, cur.Head, cur.Removed, cur.Position != nil || cur.Selection != nil}
	return c.cache.frame(key, cur, cursorFrameCacheSize, sameCursor, encodeCursor)
}
