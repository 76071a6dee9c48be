package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/ws"
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

// TestConformantClientIsPacedNotRefused: a client following the protocol's
// algorithm (internal/otclient: one op in flight, later edits composed)
// typing as fast as acks allow, against an op rate far below its speed,
// ends with every edit committed and never an error: the server slows its
// reading instead of refusing.
func TestConformantClientIsPacedNotRefused(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.OpRate, c.OpBurst = 40, 2 })
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	conn, init, err := otclient.Dial(ctx, s.URL, "paced", s.token("alice"), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	st := otclient.NewState("k", init.Text(), init.Rev)
	if init.Content != nil {
		st = otclient.NewState("k", *init.Content, init.Rev)
	}
	msgs := make(chan *otclient.Message, 1024)
	go func() {
		defer close(msgs)
		for {
			m, err := conn.Read(ctx)
			if err != nil {
				return
			}
			msgs <- m
		}
	}()
	send := func(o *otclient.Outgoing) {
		t.Helper()
		if o != nil {
			if err := conn.SendOp(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	handle := func(m *otclient.Message) {
		t.Helper()
		switch m.Type {
		case "ack":
			next, err := st.Ack(m.ID, m.Rev)
			if err != nil {
				t.Fatal(err)
			}
			send(next)
		case "error":
			t.Fatalf("the server refused an edit of a conformant client: %s", m.Raw)
		}
	}
	const edits = 400
	want := ""
	for i := range edits {
		ch := string(rune('a' + i%26))
		out, err := st.Edit(ot.Normalize(ot.Op{{Skip: st.Doc.Len()}, {Insert: ch}}))
		if err != nil {
			t.Fatal(err)
		}
		want += ch
		send(out)
		// Type on at once, taking whatever the server sent meanwhile.
		for drained := false; !drained; {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatal("connection closed")
				}
				handle(m)
			default:
				drained = true
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	for st.Pending() > 0 {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("connection closed")
			}
			handle(m)
		case <-ctx.Done():
			t.Fatalf("%d edits still pending", st.Pending())
		}
	}
	if text, _ := s.current("paced"); text != want || st.Text() != want {
		t.Fatalf("server has %d characters, client %d, want %d", len(text), len(st.Text()), len(want))
	}
	if stored, _ := s.stored("paced"); stored != want {
		t.Fatalf("the store has %d characters, want %d", len(stored), len(want))
	}
}

// TestSeedUpdatesArePacedAndSuperseded: a seed client sending whole texts
// faster than the update rate loses none of its last text: updates wait,
// and one arriving while another waits replaces it.
func TestSeedUpdatesArePacedAndSuperseded(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.OpRate, c.OpBurst = 20, 1 })
	a := s.seed("seedpace", "alice")
	text := ""
	for i := range 60 {
		text += string(rune('a' + i%26))
		a.send(map[string]any{"type": "update", "data": map[string]any{"content": text}})
	}
	deadline := time.Now().Add(waitFor)
	for {
		if got, _ := s.current("seedpace"); got == text {
			break
		}
		if time.Now().After(deadline) {
			got, _ := s.current("seedpace")
			t.Fatalf("the server has %q, want the last update %q", got, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, m := range a.roundTrip() {
		if m.Type == "error" {
			t.Fatalf("a seed update was refused: %s", m.raw)
		}
	}
}

// TestFloodSlowsOnlyItself: one connection flooding the server (big ops,
// cursors, malformed frames, as fast as it can write) slows only itself:
// another editor of the same document keeps its ack latency. The medians
// are compared as a ratio with a generous bound (this is not a speed
// assertion: unpaced, the flood multiplies the bystander's latency by far
// more).
func TestFloodSlowsOnlyItself(t *testing.T) {
	s := newServer(t, nil)
	by := s.ot("flood", "bob")
	rev := by.init.Rev
	seq := 0
	measure := func(n int) time.Duration {
		t.Helper()
		lat := make([]time.Duration, 0, n)
		for range n {
			seq++
			id := fmt.Sprintf("b:%d", seq)
			start := time.Now()
			if err := by.trySend(fmt.Sprintf(`{"type":"op","rev":%d,"op":["."],"id":%q}`, rev, id)); err != nil {
				code, reason := by.closeStatus()
				t.Fatalf("the bystander's connection closed: %d %q (%v)", code, reason, err)
			}
			ack := by.until("ack "+id, func(m msg) bool {
				if m.Type == "op" {
					rev = max(rev, m.Rev)
				}
				return (m.Type == "ack" || m.Type == "error") && m.id() == id
			})
			if ack.Type != "ack" {
				t.Fatalf("bystander op refused: %s", ack.raw)
			}
			lat = append(lat, time.Since(start))
			rev = max(rev, ack.Rev)
		}
		slices.Sort(lat)
		return lat[len(lat)/2]
	}
	measure(10) // warm up
	quiet := measure(40)

	// The flooder writes from five goroutines as fast as the connection
	// takes it, and dials again whenever the server drops it.
	stop := make(chan struct{})
	var sent, dials atomic.Int64
	big := strings.Repeat("z", 256<<10)
	flood := func(flooder *client) {
		frames := []string{
			fmt.Sprintf(`{"type":"nope","pad":%q}`, big), // malformed (unknown type), big
			`{"type":"cursor","anchor":0,"head":0}`,      // cursors
			`{"type":"op","rev":`,                        // not JSON
			fmt.Sprintf(`{"type":"op","rev":%d,"op":[%q],"id":"m:%%d"}`, flooder.init.Rev, big), // big ops, valid (based on a revision it has)
			fmt.Sprintf(`{"type":"op","rev":99999999,"op":[%q],"id":"bad:%%d"}`, big[:1]),       // bad revisions
		}
		var wg sync.WaitGroup
		for _, frame := range frames {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					f := frame
					if strings.Contains(f, "%d") {
						f = fmt.Sprintf(f, i)
					}
					if flooder.trySend(f) != nil {
						return
					}
					sent.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		for {
			select {
			case <-stop:
				return
			default:
			}
			flooder, _, err := s.dial("flood", dialOpts{subprotocols: []string{"gdoc.v1", "bearer." + s.token("mallory")}, noInit: true})
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			select {
			case m, ok := <-flooder.in:
				if ok && m.Type == "init" {
					flooder.init = m
				}
			case <-time.After(waitFor):
			}
			if flooder.init.Type != "init" {
				flooder.conn.CloseNow()
				time.Sleep(10 * time.Millisecond)
				continue
			}
			dials.Add(1)
			go func() { <-stop; flooder.conn.CloseNow() }()
			flood(flooder)
		}
	}()
	time.Sleep(300 * time.Millisecond) // the flood is under way
	flooded := measure(40)
	close(stop)
	<-flooding
	t.Logf("the flooder sent %d frames over %d connections", sent.Load(), dials.Load())
	ratio := float64(flooded) / float64(quiet)
	t.Logf("bystander median ack latency: %v quiet, %v flooded (ratio %.1f)", quiet, flooded, ratio)
	if ratio > 20 {
		t.Fatalf("a flooding neighbour multiplied the bystander's median ack latency by %.1f (%v -> %v)", ratio, quiet, flooded)
	}
}
