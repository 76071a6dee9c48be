package ws_test

import (
	"fmt"
	"testing"

	"github.com/gdoc/gdoc/internal/ws"
)

// BenchmarkOpAck measures one edit's round trip over a real socket:
// op sent, transformed, durably committed (SQLite), acked.
func BenchmarkOpAck(b *testing.B) {
	s := newServer(b, unlimited)
	c := s.ot("bench", "alice")
	rev := c.init.Rev
	b.ResetTimer()
	for i := range b.N {
		c.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":["x"],"id":"b:%d"}`, rev, i))
		ack := c.next("ack")
		rev = ack.Rev
	}
}

// BenchmarkFanOut measures an edit reaching 8 other OT clients and 2 seed
// clients of the document.
func BenchmarkFanOut(b *testing.B) {
	s := newServer(b, unlimited)
	w := s.ot("fanout", "writer")
	var readers []*client
	for i := range 8 {
		readers = append(readers, s.ot("fanout", fmt.Sprintf("reader%d", i)))
	}
	for i := range 2 {
		readers = append(readers, s.seed("fanout", fmt.Sprintf("seed%d", i)))
	}
	rev := w.init.Rev
	b.ResetTimer()
	for i := range b.N {
		w.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":["y"],"id":"w:%d"}`, rev, i))
		rev = w.next("ack").Rev
		for _, r := range readers {
			if r.conn.Subprotocol() == "" { // seed dialect
				r.until("update", func(m msg) bool { return m.Type == "update" && len(m.Data.Content) >= i+1 })
			} else {
				r.until("op", func(m msg) bool { return m.Type == "op" && m.Rev == rev })
			}
		}
	}
}

// unlimited lifts the per-connection rate limits, which a benchmark exceeds.
func unlimited(c *ws.Config) { c.OpRate, c.OpBurst = 1e6, 1e6 }
