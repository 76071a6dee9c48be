package collab_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
)

// flushingClient is a fakeClient that is a collab.Flusher: it records
// each Flush after the messages delivered before it.
type flushingClient struct {
	*fakeClient
	fmu     sync.Mutex
	flushed int // messages delivered when Flush was last called
	flushes chan struct{}
}

func (c *flushingClient) Flush() {
	n := len(c.messages())
	c.fmu.Lock()
	c.flushed = n
	c.fmu.Unlock()
	select {
	case c.flushes <- struct{}{}:
	default:
	}
}

func (c *flushingClient) flushedUpTo() int {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return c.flushed
}

func cursorsFrom(c *fakeClient, connID string) []collab.CursorMessage {
	var out []collab.CursorMessage
	for _, m := range c.messages() {
		if cm, ok := m.(collab.CursorMessage); ok && cm.Cursor.ConnID == connID {
			out = append(out, cm)
		}
	}
	return out
}

// TestCursorCoalescedLatestWins: cursor moves that arrive while the
// fan-out is busy reach the others once, as the latest cursor; a Flusher
// gets its messages marked More and then a Flush, a plain client its last
// one without More.
func TestCursorCoalescedLatestWins(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	a, b := newClient(e.user(t, "alice")), newClient(e.user(t, "bob"))
	f := &flushingClient{fakeClient: newClient(e.user(t, "carol")), flushes: make(chan struct{}, 1)}
	join(t, svc, "coalesce", a, -1)
	join(t, svc, "coalesce", b, -1)
	if _, err := svc.Join(context.Background(), "coalesce", f, -1); err != nil {
		t.Fatal(err)
	}
	release, ok := collab.HoldFanOut(svc, "coalesce")
	if !ok {
		t.Fatal("cannot hold the fan-out")
	}
	for pos := 1; pos <= 3; pos++ {
		if err := svc.UpdateCursor(context.Background(), "coalesce", a, collab.Cursor{Anchor: pos, Head: pos}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.UpdateCursor(context.Background(), "coalesce", b, collab.Cursor{Anchor: 7, Head: 7}); err != nil {
		t.Fatal(err)
	}
	release()
	await(t, b, "alice's cursor", func(m collab.CursorMessage) bool { return m.Cursor.ConnID == a.connID })
	await(t, f.fakeClient, "bob's cursor", func(m collab.CursorMessage) bool { return m.Cursor.ConnID == b.connID })

	got := cursorsFrom(b, a.connID)
	if len(got) != 1 || got[0].Cursor.Anchor != 3 || got[0].More {
		t.Fatalf("bob received alice's cursors %+v, want only the latest (anchor 3) without More", got)
	}
	if own := cursorsFrom(b, b.connID); len(own) != 0 {
		t.Fatalf("bob received his own cursor: %+v", own)
	}
	fa, fb := cursorsFrom(f.fakeClient, a.connID), cursorsFrom(f.fakeClient, b.connID)
	if len(fa) != 1 || fa[0].Cursor.Anchor != 3 || len(fb) != 1 || fb[0].Cursor.Anchor != 7 {
		t.Fatalf("carol received %+v and %+v, want alice's anchor 3 and bob's 7", fa, fb)
	}
	if !fa[0].More || !fb[0].More {
		t.Fatal("a Flusher's cursors are not marked More")
	}
	awaitFlush(t, f, 2)
}

func awaitFlush(t *testing.T, f *flushingClient, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for f.flushedUpTo() < n {
		select {
		case <-f.flushes:
		case <-deadline:
			t.Fatalf("no Flush after %d messages (flushed up to %d)", n, f.flushedUpTo())
		}
	}
}

// TestAckBeforeFanOut: the author's ack does not wait for the fan-out to
// everyone else, which then delivers the op.
func TestAckBeforeFanOut(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	a, b := newClient(e.user(t, "alice")), newClient(e.user(t, "bob"))
	join(t, svc, "ackfirst", a, -1)
	join(t, svc, "ackfirst", b, -1)
	release, ok := collab.HoldFanOut(svc, "ackfirst")
	if !ok {
		t.Fatal("cannot hold the fan-out")
	}
	if ack := commit(t, svc, "ackfirst", a, 0, "a:1", `["x"]`); ack.Rev != 1 || ack.More {
		t.Fatalf("ack = %+v", ack)
	}
	for _, m := range b.messages() {
		if _, isOp := m.(collab.OpMessage); isOp {
			t.Fatalf("bob received the op while the fan-out was held: %+v", m)
		}
	}
	release()
	if op := b.waitOp(t, 1); op.More {
		t.Fatalf("bob's only op is marked More: %+v", op)
	}
}
