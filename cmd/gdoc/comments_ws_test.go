package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

type commentFrame struct {
	Type    string      `json:"type"`
	Action  string      `json:"action"`
	Comment commentBody `json:"comment"`
}

// readComment reads conn until a comment event with action.
func readComment(ctx context.Context, t *testing.T, conn *otclient.Conn, action string) commentFrame {
	t.Helper()
	for {
		m := readUntil(ctx, t, conn, "comment")
		var f commentFrame
		if err := json.Unmarshal(m.Raw, &f); err != nil {
			t.Fatalf("comment event %s: %v", m.Raw, err)
		}
		if f.Action == action {
			return f
		}
	}
}

// TestCommentsLiveAcrossTwoInstances: two instances on PostgreSQL and
// Redis. A comment written through one reaches WebSocket connections on
// both; concurrent edits on both keep its anchor on its code; a joiner's
// init carries the open threads; viewports cross instances.
func TestCommentsLiveAcrossTwoInstances(t *testing.T) {
	env := map[string]string{"DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("c", 40), "REDIS_URL": testenv.RedisURL(t)}
	one, two := start(t, env), start(t, env)
	alice := testenv.Register(t, one.URL, "alice")
	bob := testenv.Register(t, two.URL, "bob")
	r := call(t, "POST", one.URL+"/api/documents", alice.Token, `{"title":"review.go","content":"func a() {}\nfunc b() {}\n"}`)
	var doc document
	r.Decode(t, &doc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	aliceConn, init, err := otclient.Dial(ctx, one.URL, doc.ID, alice.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer aliceConn.CloseNow()
	if !strings.Contains(string(init.Raw), `"comments":[]`) {
		t.Fatalf("init without comments: %s", init.Raw)
	}
	bobConn, _, err := otclient.Dial(ctx, two.URL, doc.ID, bob.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer bobConn.CloseNow()

	r = call(t, "POST", two.URL+"/api/documents/"+doc.ID+"/comments", bob.Token, `{"anchor":{"rev":0,"from":12,"to":23},"body":"b?"}`)
	var th commentBody
	r.Decode(t, &th)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	for name, conn := range map[string]*otclient.Conn{"alice (other instance)": aliceConn, "bob (same instance)": bobConn} {
		if f := readComment(ctx, t, conn, "created"); f.Comment.ID != th.ID || f.Comment.Body != "b?" || f.Comment.Quote != "func b() {}" {
			t.Fatalf("%s got %+v", name, f)
		}
	}

	// Concurrent edits, one per instance, both on revision 0.
	if err := aliceConn.Send(ctx, map[string]any{"type": "op", "rev": 0, "op": json.RawMessage(`["// head\n"]`), "id": "a:1"}); err != nil {
		t.Fatal(err)
	}
	if err := bobConn.Send(ctx, map[string]any{"type": "op", "rev": 0, "op": json.RawMessage(`[22, "\n\treturn"]`), "id": "b:1"}); err != nil {
		t.Fatal(err)
	}
	readUntil(ctx, t, aliceConn, "ack")
	readUntil(ctx, t, bobConn, "ack")
	list := listComments(t, one.URL+"/api/documents/"+doc.ID, alice.Token)
	if got := coveredText(t, one.URL+"/api/documents/"+doc.ID, list[0]); got != "func b() {\n\treturn}" {
		t.Fatalf("after concurrent edits the thread covers %q", got)
	}

	// A joiner's init carries the open thread, anchored at its revision.
	carolConn, init, err := otclient.Dial(ctx, two.URL, doc.ID, bob.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer carolConn.CloseNow()
	var withComments struct {
		Rev      int64         `json:"rev"`
		Content  string        `json:"content"`
		Comments []commentBody `json:"comments"`
	}
	if err := json.Unmarshal(init.Raw, &withComments); err != nil || len(withComments.Comments) != 1 {
		t.Fatalf("init comments: %v %s", err, init.Raw)
	}
	// Its anchor is at the store's head, which an instance that has not
	// yet applied the other's commit may trail (then the client waits).
	c := withComments.Comments[0]
	switch {
	case c.Anchor.Rev < withComments.Rev:
		t.Fatalf("init's thread at revision %d, behind init's %d", c.Anchor.Rev, withComments.Rev)
	case c.Anchor.Rev == withComments.Rev && string([]rune(withComments.Content)[c.Anchor.From:c.Anchor.To]) != "func b() {\n\treturn}":
		t.Fatalf("init's thread %+v on %q at rev %d", c, withComments.Content, withComments.Rev)
	case coveredText(t, two.URL+"/api/documents/"+doc.ID, c) != "func b() {\n\treturn}":
		t.Fatalf("init's thread %+v does not cover the code", c)
	}

	// Viewports cross instances with the sender's identity; a bad one is refused.
	if err := aliceConn.Send(ctx, map[string]any{"type": "viewport", "first_line": 2, "last_line": 30, "presenting": true}); err != nil {
		t.Fatal(err)
	}
	m := readUntil(ctx, t, bobConn, "viewport")
	var v struct {
		ConnID     string `json:"conn_id"`
		UserID     string `json:"user_id"`
		Username   string `json:"username"`
		FirstLine  int    `json:"first_line"`
		LastLine   int    `json:"last_line"`
		Presenting bool   `json:"presenting"`
	}
	if err := json.Unmarshal(m.Raw, &v); err != nil || v.UserID != alice.ID || v.Username != "alice" || v.FirstLine != 2 || v.LastLine != 30 || !v.Presenting || v.ConnID == "" {
		t.Fatalf("viewport on bob's side: %s", m.Raw)
	}
	if err := aliceConn.Send(ctx, map[string]any{"type": "viewport", "first_line": 0, "last_line": 3}); err != nil {
		t.Fatal(err)
	}
	if m := readUntil(ctx, t, aliceConn, "error"); m.Code != "invalid_message" {
		t.Fatalf("bad viewport: %s", m.Raw)
	}

	// Resolving reaches both instances; the next init leaves it out.
	cid := two.URL + "/api/documents/" + doc.ID + "/comments/" + strconv.FormatInt(th.ID, 10)
	if r := call(t, "PATCH", cid, alice.Token, `{"resolved":true}`); r.Status != 200 {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	if f := readComment(ctx, t, aliceConn, "resolved"); !f.Comment.Resolved {
		t.Fatalf("resolved event: %+v", f)
	}
	readComment(ctx, t, bobConn, "resolved")
	lateConn, init, err := otclient.Dial(ctx, one.URL, doc.ID, alice.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer lateConn.CloseNow()
	if !strings.Contains(string(init.Raw), `"comments":[]`) {
		t.Fatalf("a resolved thread in init: %s", init.Raw)
	}
}
