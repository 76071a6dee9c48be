package ws

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gdoc/gdoc/internal/collab"
)

// TestCursorFrameCache: a cursor's frame is encoded once and reused only
// for the very same cursor; one that differs in a field outside the
// cache's key (the seed form, the name) gets its own frame.
func TestCursorFrameCache(t *testing.T) {
	var c cursorFrameCache
	cur := collab.Cursor{ConnID: "c1", UserID: "u1", Username: "alice", Color: "#fff", Rev: 4, Anchor: 1, Head: 2}
	first := c.frame(cur)
	if want := mustJSON(cursorFrame(cur)); !bytes.Equal(first, want) {
		t.Fatalf("frame %s, want %s", first, want)
	}
	if again := c.frame(cur); &again[0] != &first[0] {
		t.Fatal("the same cursor was encoded again")
	}
	seed := cur
	seed.Position = json.RawMessage(`{"lineNumber":1,"column":2}`)
	other := cur
	other.Username = "bob"
	for _, v := range []collab.Cursor{seed, other} {
		if got, want := c.frame(v), mustJSON(cursorFrame(v)); !bytes.Equal(got, want) {
			t.Fatalf("frame %s, want %s", got, want)
		}
	}
	if got := c.frame(cur); !bytes.Equal(got, first) {
		t.Fatalf("frame %s after others, want %s", got, first)
	}
}
