package ws_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestDocumentSizeLimit: an op that would grow the document past
// MAX_DOCUMENT_BYTES (4 MiB) is answered too_large with its id, changes
// nothing, and the connection stays open: the next op that fits is acked.
// An op inserting a NUL is refused as invalid_op.
func TestDocumentSizeLimit(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("sizes", "alice")
	chunk := strings.Repeat("x", 900<<10)
	rev := int64(0)
	for i := 1; i <= 4; i++ {
		op, _ := json.Marshal([]any{int(rev) * len(chunk), chunk})
		if rev == 0 {
			op, _ = json.Marshal([]any{chunk})
		}
		a.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":%s,"id":"a:%d"}`, rev, op, i))
		ack := a.until("ack", func(m msg) bool { return m.Type == "ack" || m.Type == "error" })
		if ack.Type != "ack" {
			t.Fatalf("op %d: %s", i, ack.raw)
		}
		rev = ack.Rev
	}
	op, _ := json.Marshal([]any{chunk})
	a.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":%s,"id":"a:5"}`, rev, op))
	refused := a.until("error", func(m msg) bool { return m.Type == "error" || m.Type == "ack" })
	if refused.Type != "error" || refused.Code != "too_large" || refused.id() != "a:5" {
		t.Fatalf("an op past the document limit: %s", refused.raw)
	}
	a.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":["a\u0000b"],"id":"a:6"}`, rev))
	if m := a.until("error", func(m msg) bool { return m.Type == "error" || m.Type == "ack" }); m.Code != "invalid_op" || m.id() != "a:6" {
		t.Fatalf("an op inserting NUL: %s", m.raw)
	}
	a.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":["small "],"id":"a:7"}`, rev))
	if m := a.until("ack", func(m msg) bool { return m.Type == "error" || m.Type == "ack" }); m.Type != "ack" || m.Rev != rev+1 {
		t.Fatalf("the next op that fits: %s", m.raw)
	}
	if text, head := s.current("sizes"); head != 5 || len(text) != 4*len(chunk)+len("small ") {
		t.Fatalf("document: %d bytes at %d", len(text), head)
	}
}
