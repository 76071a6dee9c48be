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
