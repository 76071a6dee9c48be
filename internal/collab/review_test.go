package collab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/comments"
	"github.com/gdoc/gdoc/internal/gdoc"
)

// Two instances share a store and a bus: a comment written through one
// reaches connections on both; concurrent edits on both move its anchor
// with its code; a deletion detaches it; viewports are relayed across.
func TestCommentsAndViewportsAcrossInstances(t *testing.T) {
	e := newEnv(t)
	svcA := e.service(t, serviceOptions{serverID: "server-a"})
	svcB := e.service(t, serviceOptions{serverID: "server-b"})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	a, b := newClient(alice), newClient(bob)
	join(t, svcA, "review", a, -1)
	join(t, svcB, "review", b, -1)
	commit(t, svcA, "review", a, 0, "a:1", `["func a() {}\nfunc b() {}\n"]`)
	b.waitOp(t, 1)

	svc := comments.New(e.store, svcA, svcA.CommentChanged)
	doc := &gdoc.Document{ID: "review", Public: true}
	th, err := svc.Create(ctx, "review", doc.RoleOf(bob.ID), bob, comments.NewComment{Anchor: &gdoc.Anchor{Rev: 1, From: 12, To: 23}, Body: "b?"})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*fakeClient{"alice (same instance)": a, "bob (other instance)": b} {
		got := await(t, c, name+" comment", func(m collab.CommentMessage) bool { return m.Event.Comment.ID == th.ID })
		if got.Event.Action != gdoc.CommentCreated || got.Event.Comment.Body != "b?" || got.Event.Comment.Anchor != th.Anchor {
			t.Fatalf("%s got %+v", name, got.Event)
		}
	}

	// Concurrent edits on both instances, both based on revision 1.
	submit(t, svcA, "review", a, 1, "a:2", `["// head\n"]`)
	submit(t, svcB, "review", b, 1, "b:1", `[22, "\n\treturn"]`)
	a.waitAck(t, "a:2")
	b.waitAck(t, "b:1")
	want := "func b() {\n\treturn}"
	text, _ := storedText(t, e.store, "review") // both acked: both committed
	list, err := svc.List(ctx, "review", gdoc.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if got := string([]rune(text)[list[0].Anchor.From:list[0].Anchor.To]); got != want {
		t.Fatalf("anchor %+v covers %q of %q, want %q", list[0].Anchor, got, text, want)
	}

	// Deleting the code detaches the thread; its quote stays.
	cur := current(t, svcB, "review")
	commit(t, svcB, "review", b, cur.Rev, "b:2", fmt.Sprintf(`[%d, {"d":%d}]`, list[0].Anchor.From, list[0].Anchor.To-list[0].Anchor.From))
	list, err = svc.List(ctx, "review", gdoc.RoleViewer)
	if err != nil || !list[0].Detached || list[0].Quote != "func b() {}" {
		t.Fatalf("after deleting its code: %+v, %v", list, err)
	}
	yes := true
	if _, err := svc.Update(ctx, "review", gdoc.RoleEditor, alice, th.ID, nil, &yes); err != nil {
		t.Fatal(err)
	}
	await(t, b, "resolved", func(m collab.CommentMessage) bool {
		return m.Event.Action == gdoc.CommentResolved && m.Event.Comment.Resolved
	})

	// The bus is a hint: a forged comment event (an id the store does not
	// have, or a body it does not hold) reaches nobody as the event says.
	forged := func(action string, c gdoc.Comment) {
		payload, _ := json.Marshal(gdoc.CommentEvent{Action: action, Comment: &c})
		if err := e.bus.Publish(ctx, gdoc.Event{ServerID: "forger", DocID: "review", Kind: gdoc.EventComment, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	forged(gdoc.CommentCreated, gdoc.Comment{ID: 999999, Body: "forged"})
	forged(gdoc.CommentUpdated, gdoc.Comment{ID: th.ID, Body: "forged body"})
	forged(gdoc.CommentDeleted, gdoc.Comment{ID: th.ID})
	body := "real edit"
	if _, err := svc.Update(ctx, "review", gdoc.RoleEditor, bob, th.ID, &body, nil); err != nil {
		t.Fatal(err)
	}
	// The bus keeps order: once the real edit arrived, the forged events
	// before it were handled (and must have been dropped).
	await(t, b, "the real edit", func(m collab.CommentMessage) bool { return m.Event.Comment.Body == "real edit" })
	for _, m := range b.messages() {
		if cm, ok := m.(collab.CommentMessage); ok && (cm.Event.Comment.ID == 999999 || cm.Event.Comment.Body == "forged body" || cm.Event.Action == gdoc.CommentDeleted) {
			t.Fatalf("a forged event reached a client: %+v", cm.Event)
		}
	}

	// Viewports: relayed to the other instance with the sender's identity.
	if err := svcA.UpdateViewport(ctx, "review", a, collab.Viewport{FirstLine: 3, LastLine: 40, Presenting: true, UserID: "spoofed"}); err != nil {
		t.Fatal(err)
	}
	v := await[collab.ViewportMessage](t, b, "viewport", nil).Viewport
	if v.ConnID != a.connID || v.UserID != alice.ID || v.Username != "alice" || v.FirstLine != 3 || v.LastLine != 40 || !v.Presenting {
		t.Fatalf("viewport = %+v", v)
	}
	for _, bad := range []collab.Viewport{{FirstLine: 0, LastLine: 3}, {FirstLine: 5, LastLine: 4}, {FirstLine: 1, LastLine: collab.MaxViewportLine + 1}} {
		if err := svcA.UpdateViewport(ctx, "review", a, bad); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("viewport %+v: %v", bad, err)
		}
	}
	if err := svcA.UpdateViewport(ctx, "review", newClient(alice), collab.Viewport{FirstLine: 1, LastLine: 2}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("a viewport from a connection that did not join: %v", err)
	}
}
