// Package bustest is the conformance suite every gdoc.Bus and gdoc.Presence
// implementation must pass (internal/inmem, internal/redis).
package bustest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// waitTimeout bounds every wait for an event; a healthy bus delivers within
// milliseconds, so hitting it means a lost event.
const waitTimeout = 5 * time.Second

// NewBusFunc returns two instances' views of one bus (they may be the same
// value for an in-process bus). The suite closes neither: the factory
// registers cleanup with t.Cleanup. Each call must give a fresh bus or at
// least fresh channels; the suite uses unique document ids per subtest.
type NewBusFunc func(t *testing.T) (a, b gdoc.Bus)

// NewPresenceFunc returns two instances' views of one presence registry.
type NewPresenceFunc func(t *testing.T) (a, b gdoc.Presence)

// recorder collects the events a subscription receives.
type recorder struct {
	mu     sync.Mutex
	events []gdoc.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) handle(ev gdoc.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// nonResync returns the received events other than EventResync (a bus may
// send those at any time).
func (r *recorder) nonResync() []gdoc.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []gdoc.Event
	for _, ev := range r.events {
		if ev.Kind != gdoc.EventResync {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor waits until at least n non-resync events arrived and returns them.
func (r *recorder) waitFor(t *testing.T, n int) []gdoc.Event {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		if got := r.nonResync(); len(got) >= n {
			return got
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			got := r.nonResync()
			t.Fatalf("received %d events, want %d: %+v", len(got), n, got)
			return nil
		}
	}
}

var docCounter struct {
	sync.Mutex
	n int
}

// uniqueDocID returns a document id no other subtest of this process uses,
// so suites may share one bus server.
func uniqueDocID(prefix string) string {
	docCounter.Lock()
	defer docCounter.Unlock()
	docCounter.n++
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), docCounter.n)
}

func subscribe(t *testing.T, bus gdoc.Bus, docID string, r *recorder) func() {
	t.Helper()
	cancel, err := bus.Subscribe(context.Background(), docID, r.handle)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", docID, err)
	}
	t.Cleanup(cancel)
	return cancel
}

func publish(t *testing.T, bus gdoc.Bus, ev gdoc.Event) {
	t.Helper()
	if err := bus.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish(%+v): %v", ev, err)
	}
}

func opPayload(t *testing.T, rev int64) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(gdoc.CommittedOp{DocID: "x", Rev: rev, OpID: fmt.Sprintf("c:%d", rev), UserID: "1", Op: json.RawMessage(`[3,"x"]`)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// RunBus checks the gdoc.Bus contract: delivery to every subscriber of a
// channel on either instance, publish order, channel isolation, a
// subscription active as soon as Subscribe returns, cancel, and failure
// after Close.
func RunBus(t *testing.T, newBus NewBusFunc) {
	t.Run("DeliversToOtherInstanceWithAllFields", func(t *testing.T) {
		a, b := newBus(t)
		doc := uniqueDocID("deliver")
		rec := newRecorder()
		subscribe(t, b, doc, rec)
		sent := gdoc.Event{ServerID: "server-a", DocID: doc, Kind: gdoc.EventOp, Payload: opPayload(t, 7)}
		publish(t, a, sent)
		got := rec.waitFor(t, 1)[0]
		if got.ServerID != sent.ServerID || got.DocID != sent.DocID || got.Kind != sent.Kind {
			t.Fatalf("received %+v, want %+v", got, sent)
		}
		var op gdoc.CommittedOp
		if err := json.Unmarshal(got.Payload, &op); err != nil {
			t.Fatalf("payload %q is not the CommittedOp sent: %v", got.Payload, err)
		}
		if op.Rev != 7 || op.OpID != "c:7" || string(op.Op) != `[3,"x"]` {
			t.Fatalf("payload decoded to %+v", op)
		}
	})

	t.Run("DeliversToOwnInstanceToo", func(t *testing.T) {
		a, _ := newBus(t)
		doc := uniqueDocID("own")
		rec := newRecorder()
		subscribe(t, a, doc, rec)
		publish(t, a, gdoc.Event{ServerID: "server-a", DocID: doc, Kind: gdoc.EventPresence})
		if got := rec.waitFor(t, 1)[0]; got.Kind != gdoc.EventPresence || got.ServerID != "server-a" {
			t.Fatalf("received %+v", got)
		}
	})

	t.Run("EmptyPayloadRoundTrips", func(t *testing.T) {
		a, b := newBus(t)
		doc := uniqueDocID("empty")
		rec := newRecorder()
		subscribe(t, b, doc, rec)
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc, Kind: gdoc.EventPresence})
		got := rec.waitFor(t, 1)[0]
		if len(got.Payload) != 0 && string(got.Payload) != "null" {
			t.Fatalf("empty payload arrived as %q", got.Payload)
		}
	})

	t.Run("EverySubscriberOfBothInstancesReceives", func(t *testing.T) {
		a, b := newBus(t)
		doc := uniqueDocID("fanout")
		recs := []*recorder{newRecorder(), newRecorder(), newRecorder(), newRecorder()}
		subscribe(t, a, doc, recs[0])
		subscribe(t, a, doc, recs[1])
		subscribe(t, b, doc, recs[2])
		subscribe(t, b, doc, recs[3])
		publish(t, b, gdoc.Event{ServerID: "server-b", DocID: doc, Kind: gdoc.EventChat, Payload: json.RawMessage(`{"id":1}`)})
		for i, rec := range recs {
			if got := rec.waitFor(t, 1); got[0].Kind != gdoc.EventChat {
				t.Fatalf("subscriber %d received %+v", i, got)
			}
		}
	})

	t.Run("KeepsPublishOrder", func(t *testing.T) {
		a, b := newBus(t)
		doc := uniqueDocID("order")
		rec := newRecorder()
		subscribe(t, b, doc, rec)
		const n = 200
		for rev := int64(1); rev <= n; rev++ {
			publish(t, a, gdoc.Event{ServerID: "server-a", DocID: doc, Kind: gdoc.EventOp, Payload: opPayload(t, rev)})
		}
		got := rec.waitFor(t, n)
		for i, ev := range got {
			var op gdoc.CommittedOp
			if err := json.Unmarshal(ev.Payload, &op); err != nil {
				t.Fatal(err)
			}
			if op.Rev != int64(i+1) {
				t.Fatalf("event %d carries rev %d: out of order", i, op.Rev)
			}
		}
	})

	t.Run("ChannelsAreIsolated", func(t *testing.T) {
		a, b := newBus(t)
		doc1, doc2 := uniqueDocID("iso1"), uniqueDocID("iso2")
		rec1, rec2 := newRecorder(), newRecorder()
		subscribe(t, b, doc1, rec1)
		subscribe(t, b, doc2, rec2)
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc1, Kind: gdoc.EventOp, Payload: opPayload(t, 1)})
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc2, Kind: gdoc.EventChat})
		// Each waits for its own event; publish order then guarantees that
		// an event leaking across channels would already have arrived.
		rec1.waitFor(t, 1)
		rec2.waitFor(t, 1)
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc1, Kind: gdoc.EventPresence})
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc2, Kind: gdoc.EventPresence})
		got1, got2 := rec1.waitFor(t, 2), rec2.waitFor(t, 2)
		if len(got1) != 2 || got1[0].DocID != doc1 || got1[0].Kind != gdoc.EventOp || got1[1].Kind != gdoc.EventPresence {
			t.Fatalf("doc1 subscriber received %+v", got1)
		}
		if len(got2) != 2 || got2[0].DocID != doc2 || got2[0].Kind != gdoc.EventChat || got2[1].Kind != gdoc.EventPresence {
			t.Fatalf("doc2 subscriber received %+v", got2)
		}
	})

	t.Run("CancelStopsDelivery", func(t *testing.T) {
		a, b := newBus(t)
		doc := uniqueDocID("cancel")
		cancelled, witness := newRecorder(), newRecorder()
		cancel := subscribe(t, b, doc, cancelled)
		subscribe(t, b, doc, witness)
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc, Kind: gdoc.EventOp, Payload: opPayload(t, 1)})
		cancelled.waitFor(t, 1)
		witness.waitFor(t, 1)
		cancel()
		cancel() // idempotent
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc, Kind: gdoc.EventOp, Payload: opPayload(t, 2)})
		// The witness, on the same instance and channel, gets the second
		// event; by then the cancelled subscription would have too.
		witness.waitFor(t, 2)
		if got := cancelled.nonResync(); len(got) != 1 {
			t.Fatalf("cancelled subscription received %d events, want 1: %+v", len(got), got)
		}
	})

	t.Run("ResubscribeAfterCancel", func(t *testing.T) {
		a, b := newBus(t)
		doc := uniqueDocID("resub")
		first := newRecorder()
		cancel := subscribe(t, b, doc, first)
		cancel()
		second := newRecorder()
		subscribe(t, b, doc, second)
		publish(t, a, gdoc.Event{ServerID: "s", DocID: doc, Kind: gdoc.EventChat})
		second.waitFor(t, 1)
		if got := first.nonResync(); len(got) != 0 {
			t.Fatalf("cancelled subscription received %+v", got)
		}
	})

	t.Run("ActiveWhenSubscribeReturns", func(t *testing.T) {
		a, b := newBus(t)
		// Repeated so that a Subscribe returning before the subscription
		// is in place would be caught.
		for i := range 20 {
			doc := uniqueDocID(fmt.Sprintf("active%d", i))
			rec := newRecorder()
			cancel := subscribe(t, b, doc, rec)
			publish(t, a, gdoc.Event{ServerID: "s", DocID: doc, Kind: gdoc.EventOp, Payload: opPayload(t, 1)})
			rec.waitFor(t, 1)
			cancel()
		}
	})

	t.Run("HandlerMayPublish", func(t *testing.T) {
		// A handler that publishes (collab relays, resyncs) must not
		// deadlock the bus.
		a, b := newBus(t)
		doc, echoDoc := uniqueDocID("reentrant"), uniqueDocID("echo")
		echoes := newRecorder()
		subscribe(t, a, echoDoc, echoes)
		cancel, err := b.Subscribe(context.Background(), doc, func(ev gdoc.Event) {
			if ev.Kind == gdoc.EventOp {
				_ = b.Publish(context.Background(), gdoc.Event{ServerID: "b", DocID: echoDoc, Kind: gdoc.EventChat})
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
		publish(t, a, gdoc.Event{ServerID: "a", DocID: doc, Kind: gdoc.EventOp, Payload: opPayload(t, 1)})
		echoes.waitFor(t, 1)
	})
}

// RunBusClose checks that a closed bus refuses to publish. It is separate
// from RunBus because closing may end a bus that both views share.
func RunBusClose(t *testing.T, newBus NewBusFunc) {
	a, _ := newBus(t)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := a.Publish(context.Background(), gdoc.Event{ServerID: "s", DocID: "closed", Kind: gdoc.EventChat})
	if err == nil {
		t.Fatal("Publish after Close succeeded")
	}
}

// RunPresence checks the gdoc.Presence contract as seen across two
// instances: a join on one is listed by the other, one entry per
// connection, Leave removes exactly that connection, documents are
// isolated, rejoining a connection replaces it.
func RunPresence(t *testing.T, newPresence NewPresenceFunc) {
	ctx := context.Background()
	joinedAt := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	participant := func(conn, server, user string, offset time.Duration) gdoc.Participant {
		return gdoc.Participant{ConnID: conn, ServerID: server, UserID: user, Username: "user" + user,
			Color: "#e06c75", JoinedAt: joinedAt.Add(offset)}
	}
	byConn := func(t *testing.T, p gdoc.Presence, doc string) map[string]gdoc.Participant {
		t.Helper()
		parts, err := p.Participants(ctx, doc)
		if err != nil {
			t.Fatalf("Participants(%q): %v", doc, err)
		}
		m := make(map[string]gdoc.Participant, len(parts))
		for _, part := range parts {
			if _, dup := m[part.ConnID]; dup {
				t.Fatalf("connection %q listed twice: %+v", part.ConnID, parts)
			}
			m[part.ConnID] = part
		}
		return m
	}
	join := func(t *testing.T, p gdoc.Presence, doc string, part gdoc.Participant) {
		t.Helper()
		if err := p.Join(ctx, doc, part); err != nil {
			t.Fatalf("Join(%q, %+v): %v", doc, part, err)
		}
	}

	t.Run("EmptyDocumentHasNoParticipants", func(t *testing.T) {
		a, _ := newPresence(t)
		if got := byConn(t, a, uniqueDocID("nobody")); len(got) != 0 {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("JoinIsSeenByOtherInstanceWithAllFields", func(t *testing.T) {
		a, b := newPresence(t)
		doc := uniqueDocID("pjoin")
		want := participant("conn-1", "server-a", "1", 0)
		join(t, a, doc, want)
		got := byConn(t, b, doc)
		p, ok := got["conn-1"]
		if len(got) != 1 || !ok {
			t.Fatalf("instance b sees %+v", got)
		}
		if p.ServerID != want.ServerID || p.UserID != want.UserID || p.Username != want.Username ||
			p.Color != want.Color || p.JoinedAt.UnixMilli() != want.JoinedAt.UnixMilli() {
			t.Fatalf("got %+v, want %+v", p, want)
		}
	})

	t.Run("OneEntryPerConnection", func(t *testing.T) {
		a, b := newPresence(t)
		doc := uniqueDocID("pconns")
		join(t, a, doc, participant("c1", "server-a", "1", 0))
		join(t, a, doc, participant("c2", "server-a", "1", time.Second))
		join(t, b, doc, participant("c3", "server-b", "2", 2*time.Second))
		for name, p := range map[string]gdoc.Presence{"a": a, "b": b} {
			got := byConn(t, p, doc)
			if len(got) != 3 || got["c1"].UserID != "1" || got["c2"].UserID != "1" || got["c3"].UserID != "2" {
				t.Fatalf("instance %s sees %+v", name, got)
			}
		}
	})

	t.Run("LeaveRemovesOnlyThatConnection", func(t *testing.T) {
		a, b := newPresence(t)
		doc := uniqueDocID("pleave")
		join(t, a, doc, participant("c1", "server-a", "1", 0))
		join(t, b, doc, participant("c2", "server-b", "1", time.Second))
		if err := b.Leave(ctx, doc, "c1"); err != nil { // left through the other instance
			t.Fatalf("Leave: %v", err)
		}
		got := byConn(t, a, doc)
		if _, ok := got["c2"]; len(got) != 1 || !ok {
			t.Fatalf("after leave, a sees %+v", got)
		}
		if err := a.Leave(ctx, doc, "c2"); err != nil {
			t.Fatal(err)
		}
		if got := byConn(t, b, doc); len(got) != 0 {
			t.Fatalf("after both left, b sees %+v", got)
		}
	})

	t.Run("LeaveUnknownConnectionIsHarmless", func(t *testing.T) {
		a, _ := newPresence(t)
		doc := uniqueDocID("punknown")
		join(t, a, doc, participant("c1", "server-a", "1", 0))
		if err := a.Leave(ctx, doc, "nope"); err != nil {
			t.Fatalf("Leave of an unknown connection: %v", err)
		}
		if err := a.Leave(ctx, uniqueDocID("pnodoc"), "nope"); err != nil {
			t.Fatalf("Leave on an unknown document: %v", err)
		}
		if got := byConn(t, a, doc); len(got) != 1 {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("DocumentsAreIsolated", func(t *testing.T) {
		a, b := newPresence(t)
		doc1, doc2 := uniqueDocID("piso1"), uniqueDocID("piso2")
		join(t, a, doc1, participant("c1", "server-a", "1", 0))
		join(t, b, doc2, participant("c2", "server-b", "2", 0))
		if got := byConn(t, b, doc1); len(got) != 1 || got["c1"].UserID != "1" {
			t.Fatalf("doc1: %+v", got)
		}
		if got := byConn(t, a, doc2); len(got) != 1 || got["c2"].UserID != "2" {
			t.Fatalf("doc2: %+v", got)
		}
	})

	t.Run("RejoinReplacesConnection", func(t *testing.T) {
		a, b := newPresence(t)
		doc := uniqueDocID("prejoin")
		join(t, a, doc, participant("c1", "server-a", "1", 0))
		again := participant("c1", "server-a", "1", 0)
		again.Color = "#61afef"
		join(t, a, doc, again)
		got := byConn(t, b, doc)
		if len(got) != 1 || got["c1"].Color != "#61afef" {
			t.Fatalf("got %+v", got)
		}
	})
}
