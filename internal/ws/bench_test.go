package ws_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/ws"
)

// BenchmarkOpAck measures one edit's round trip over a real socket:
// op sent, transformed, durably committed (SQLite), acked.
func BenchmarkOpAck(b *testing.B) {
	s := newServer(b, unlimited)
	c := s.ot("bench", "alice")
	rev := c.init.Rev
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		c.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":["x"],"id":"b:%d"}`, rev, i))
		ack := c.next("ack")
		rev = ack.Rev
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
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
	cpu0 := processCPU()
	defer func() {
		b.StopTimer()
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	}()
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

// BenchmarkDelivery isolates the cost of one delivered op: one OT writer
// and 49 readers on one document (S1's 50 editors), one op at a time, each
// waited for until every reader holds it (so every delivery is a message
// alone in its queue, as in S1 at 5 keys/s). The readers are bare TCP
// sockets that count op frames, so the client side costs one read per
// wakeup and no decoding. cpu-µs/delivery is the process's CPU (server,
// readers, writer and the op's SQLite commit) divided by the 49 deliveries
// of each op.
func BenchmarkDelivery(b *testing.B) {
	const readers = 49
	s := newServer(b, unlimited)
	w := s.ot("delivery", "writer")
	addr := strings.TrimPrefix(s.URL, "ws://")
	var got atomic.Int64
	notify := make(chan struct{}, 1)
	for i := range readers {
		c := rawDial(b, addr, "delivery", s.token(fmt.Sprintf("reader%d", i)))
		b.Cleanup(func() { c.Close() })
		go countOpFrames(c, &got, notify)
	}
	waitConnections(b, s, "every reader to join", func(n int) bool { return n >= readers+1 })
	rev := w.init.Rev
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		w.send(fmt.Sprintf(`{"type":"op","rev":%d,"op":["d"],"id":"d:%d"}`, rev, i))
		rev = w.next("ack").Rev
		timeout := time.NewTimer(waitFor)
		for want := int64(readers * (i + 1)); got.Load() < want; {
			select {
			case <-notify:
			case <-timeout.C:
				b.Fatalf("op %d: %d of %d deliveries after %v", i, got.Load(), want, waitFor)
			}
		}
		timeout.Stop()
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N*readers), "cpu-µs/delivery")
}

// countOpFrames reads server frames (unmasked, uncompressed) from c and
// counts those that are ops, until c closes.
func countOpFrames(c net.Conn, got *atomic.Int64, notify chan<- struct{}) {
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return
		}
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, hdr[:2]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(r, hdr[:8]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint64(hdr[:8]))
		}
		const opPrefix = `{"type":"op"`
		p, err := r.Peek(min(n, len(opPrefix)))
		if err != nil {
			return
		}
		isOp := string(p) == opPrefix
		if _, err := r.Discard(n); err != nil {
			return
		}
		if isOp {
			got.Add(1)
			select {
			case notify <- struct{}{}:
			default:
			}
		}
	}
}
