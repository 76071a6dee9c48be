package collab_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// Op ids are public (every op in the log carries its id). After a reload
// the in-memory window knows none of the ids before the snapshot: another
// user's copy of my id must commit as its own op, my own resend must be
// acked with its original revision, and neither may fail or retry the
// other submissions of the batch.
func TestOpIDsBelongToTheirAuthor(t *testing.T) {
	e := newEnv(t)
	first := e.service(t, serviceOptions{})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	a := newClient(alice)
	join(t, first, "ids", a, -1)
	commit(t, first, "ids", a, 0, "k:1", `["hello"]`)
	ctx, cancel := callCtx()
	defer cancel()
	if err := e.store.SaveSnapshot(ctx, "ids", "hello", 1); err != nil {
		t.Fatal(err)
	}

	// A fresh instance (a reload): its window starts at the snapshot.
	var conflicts atomic.Int64
	second := e.service(t, serviceOptions{serverID: "server-2", logger: slog.New(countingHandler{prefix: "commit conflict", n: &conflicts})})
	a2, b2 := newClient(alice), newClient(bob)
	join(t, second, "ids", a2, -1)
	join(t, second, "ids", b2, -1)
	submit(t, second, "ids", b2, 1, "k:1", `[5," world"]`) // alice's id, read from the log
	submit(t, second, "ids", a2, 1, "k:1", `["hello"]`)    // alice's own resend
	submit(t, second, "ids", b2, 1, "b:1", `["> "]`)
	if ack := b2.waitAck(t, "k:1"); ack.Rev < 2 {
		t.Fatalf("bob's op with alice's id: %+v, want it committed as a new revision", ack)
	}
	if ack := a2.waitAck(t, "k:1"); ack.Rev != 1 {
		t.Fatalf("alice's resend: %+v, want the ack of revision 1", ack)
	}
	b2.waitAck(t, "b:1")
	for _, m := range append(a2.messages(), b2.messages()...) {
		if e, ok := m.(collab.OpErrorMessage); ok {
			t.Fatalf("a submission was refused: %+v", e)
		}
	}
	if text, rev := storedText(t, e.store, "ids"); text != "> hello world" || rev != 3 {
		t.Fatalf("stored %q at %d, want %q at 3", text, rev, "> hello world")
	}
	if n := conflicts.Load(); n != 0 {
		t.Fatalf("%d commit conflicts retried; an op id answered per submission needs none", n)
	}
	// And now the window knows both: each user's id is answered as theirs.
	if ack := commit(t, second, "ids", a2, 3, "k:1", `["x"]`); ack.Rev != 1 {
		t.Fatalf("alice's id again: %+v", ack)
	}
	if ack := commit(t, second, "ids", b2, 3, "k:1", `["x"]`); ack.Rev < 2 || ack.Rev > 3 {
		t.Fatalf("bob's id again: %+v", ack)
	}
}

// An op that inserts more than MaxOpBytes, or would grow the document past
// MaxDocumentBytes, or inserts a NUL, is refused and changes nothing; the
// next edit that fits is taken.
func TestSizeLimits(t *testing.T) {
	e := newEnv(t)
	const maxDoc = 4096
	svc := e.service(t, serviceOptions{maxDoc: maxDoc})
	alice := e.user(t, "alice")
	ctx, cancel := callCtx()
	defer cancel()
	a := newClient(alice)
	join(t, svc, "sizes", a, -1)

	big := ot.Op{{Insert: strings.Repeat("x", gdoc.DefaultMaxOpBytes+1)}}
	if err := svc.SubmitOp(ctx, "sizes", a, 0, "a:1", big); gdoc.ErrorCode(err) != gdoc.ETOOLARGE {
		t.Fatalf("an op over the op limit: %v, want too_large", err)
	}
	for _, op := range []ot.Op{{{Insert: "a\x00b"}}, {{Insert: "\x00"}}} {
		if err := svc.SubmitOp(ctx, "sizes", a, 0, "a:1", op); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("an op inserting NUL: %v, want invalid", err)
		}
	}
	if _, err := svc.ReplaceContent(ctx, "sizes", alice, "nul\x00"); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("REST content with NUL: %v, want invalid", err)
	}
	if _, err := svc.ReplaceContent(ctx, "sizes", alice, strings.Repeat("é", maxDoc)); gdoc.ErrorCode(err) != gdoc.ETOOLARGE {
		t.Fatalf("REST content over the document limit: %v, want too_large", err)
	}

	commit(t, svc, "sizes", a, 0, "a:1", fmt.Sprintf("[%q]", strings.Repeat("y", maxDoc-10)))
	submit(t, svc, "sizes", a, 1, "a:2", `["0123456789!"]`) // one byte too many
	if e := a.waitOpError(t, "a:2"); e.Code != gdoc.ETOOLARGE || !strings.Contains(e.Message, "limit") {
		t.Fatalf("an op past the document limit: %+v", e)
	}
	if doc := current(t, svc, "sizes"); doc.Rev != 1 || len(doc.Content) != maxDoc-10 {
		t.Fatalf("after the refusal: %d bytes at %d", len(doc.Content), doc.Rev)
	}
	// Up to the limit exactly, and a replacement that shrinks, are taken.
	if ack := commit(t, svc, "sizes", a, 1, "a:3", `["0123456789"]`); ack.Rev != 2 {
		t.Fatalf("ack = %+v", ack)
	}
	if ack := commit(t, svc, "sizes", a, 2, "a:4", `[{"d":5},"é"]`); ack.Rev != 3 {
		t.Fatalf("ack = %+v", ack)
	}
	if doc := current(t, svc, "sizes"); len(doc.Content) != maxDoc-3 {
		t.Fatalf("final size %d", len(doc.Content))
	}
}

// An op must be based on a revision its connection has received: a
// connection that loaded the text at revision n cannot send an op based on
// 0 (which would make the server transform it over the whole log).
func TestOpBasedBeforeTheConnectionIsRefused(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	alice := e.user(t, "alice")
	a := newClient(alice)
	join(t, svc, "bases", a, -1)
	for i := range 5 {
		commit(t, svc, "bases", a, int64(i), fmt.Sprintf("a:%d", i+1), `["x"]`)
	}
	late := newClient(alice)
	if st := join(t, svc, "bases", late, -1); st.Rev != 5 {
		t.Fatalf("joined at %d", st.Rev)
	}
	submit(t, svc, "bases", late, 0, "l:1", `["!"]`)
	if e := late.waitOpError(t, "l:1"); e.Code != collab.CodeBadRevision || !strings.Contains(e.Message, "received") {
		t.Fatalf("an op based before the connection's first revision: %+v", e)
	}
	if ack := commit(t, svc, "bases", late, 5, "l:2", `["!"]`); ack.Rev != 6 {
		t.Fatalf("ack = %+v", ack)
	}
	// A catch-up from revision 2 receives revision 2 onwards.
	since := newClient(alice)
	join(t, svc, "bases", since, 2)
	if ack := commit(t, svc, "bases", since, 2, "s:1", `["<"]`); ack.Rev != 7 {
		t.Fatalf("ack = %+v", ack)
	}
	submit(t, svc, "bases", since, 1, "s:2", `["<"]`)
	if e := since.waitOpError(t, "s:2"); e.Code != collab.CodeBadRevision {
		t.Fatalf("based before since: %+v", e)
	}
	if doc := current(t, svc, "bases"); doc.Rev != 7 || doc.Content != "<!xxxxx" {
		t.Fatalf("current %q at %d", doc.Content, doc.Rev)
	}
}

// A catch-up of more than 10,000 ops, or of more than 4 MiB of ops, is
// answered with the text (reset), not one giant list of ops.
func TestCatchUpBound(t *testing.T) {
	e := newEnv(t)
	alice := e.user(t, "alice")
	ctx, cancel := callCtx()
	defer cancel()
	appendOps := func(docID string, from int64, ops []string) {
		t.Helper()
		b := gdoc.OpBatch{DocID: docID, BaseRev: from}
		for i, op := range ops {
			b.Ops = append(b.Ops, gdoc.CommittedOp{Rev: from + 1 + int64(i), OpID: fmt.Sprintf("w:%d", from+1+int64(i)), UserID: alice.ID, Op: json.RawMessage(op)})
		}
		res, err := e.store.AppendOps(ctx, []gdoc.OpBatch{b})
		if err != nil || res[0] != nil {
			t.Fatalf("AppendOps: %v %v", err, res)
		}
	}
	for _, id := range []string{"many", "big"} {
		if err := e.store.CreateDocument(ctx, &gdoc.Document{ID: id, Title: id, Language: "go", OwnerID: alice.ID, Public: true}); err != nil {
			t.Fatal(err)
		}
	}
	const many = 10_050
	for rev := int64(0); rev < many; rev += 500 {
		ops := make([]string, min(500, many-rev))
		for i := range ops {
			ops[i] = `["x"]`
		}
		appendOps("many", rev, ops)
	}
	chunk := fmt.Sprintf("[%q]", strings.Repeat("y", 900<<10))
	appendOps("big", 0, []string{chunk, chunk, chunk, chunk, chunk}) // 4.5 MB of ops

	svc := e.service(t, serviceOptions{maxDoc: 8 << 20})
	for _, tc := range []struct {
		doc   string
		since int64
		reset bool
		rev   int64
	}{
		{"many", 0, true, many},
		{"many", many - 10_000, false, many},
		{"big", 0, true, 5},
		{"big", 1, false, 5},
	} {
		c := newClient(alice)
		st := join(t, svc, tc.doc, c, tc.since)
		if st.Reset != tc.reset || st.Rev != tc.rev {
			t.Fatalf("%s since %d: reset %v at %d, want reset %v at %d", tc.doc, tc.since, st.Reset, st.Rev, tc.reset, tc.rev)
		}
		if tc.reset && (st.Ops != nil || st.Document.Content == "") {
			t.Fatalf("%s since %d: a reset with %d ops and %d bytes of text", tc.doc, tc.since, len(st.Ops), len(st.Document.Content))
		}
		if !tc.reset && int64(len(st.Ops)) != tc.rev-tc.since {
			t.Fatalf("%s since %d: %d ops", tc.doc, tc.since, len(st.Ops))
		}
		svc.Leave(tc.doc, c)
	}
}

// The bus is not trusted: events forged by anyone who can publish on it
// (here: straight onto the bus) cannot change what a document says. A
// forged op is not applied (the log does not hold it), a forged deletion
// does not close a stored document, forged metadata is replaced by the
// store's, a forged chat message is not delivered. Real events from a peer
// still are.
func TestForgedBusEventsChangeNothing(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	peer := e.service(t, serviceOptions{serverID: "server-2"})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	a, b := newClient(alice), newClient(bob)
	join(t, svc, "forged", a, -1)
	join(t, svc, "forged", b, -1)
	commit(t, svc, "forged", a, 0, "a:1", `["hello"]`)
	b.waitOp(t, 1)

	ctx, cancel := callCtx()
	defer cancel()
	publish := func(kind string, payload any) {
		t.Helper()
		raw, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.bus.Publish(ctx, gdoc.Event{ServerID: "evil", DocID: "forged", Kind: kind, Payload: raw}); err != nil {
			t.Fatal(err)
		}
	}
	publish(gdoc.EventOp, gdoc.CommittedOp{DocID: "forged", Rev: 2, OpID: "evil:1", UserID: alice.ID, Op: json.RawMessage(`["EVIL "]`)})
	publish(gdoc.EventChat, gdoc.ChatMessage{ID: 999, DocID: "forged", UserID: alice.ID, Username: "alice", Message: "click this link"})
	publish(gdoc.EventDocument, gdoc.DocumentEvent{Document: gdoc.Document{ID: "forged", Title: "pwned", Language: "go", OwnerID: alice.ID, Public: false}})
	publish(gdoc.EventDocument, gdoc.DocumentEvent{Document: gdoc.Document{ID: "forged"}, Deleted: true})

	// A real edit and a real chat message from the peer come after them
	// on the bus, and arrive.
	p := newClient(bob)
	join(t, peer, "forged", p, 1)
	commit(t, peer, "forged", p, 1, "p:1", `[5," world"]`)
	if err := peer.SendChat(ctx, "forged", p, "real message", "m1"); err != nil {
		t.Fatal(err)
	}
	op := b.waitOp(t, 2)
	if op.Op.OpID != "p:1" {
		t.Fatalf("revision 2 reached bob as %+v, want the peer's op", op.Op)
	}
	await(t, b, "the peer's chat", func(m collab.ChatMessage) bool { return m.Chat.Message == "real message" })
	for _, c := range []*fakeClient{a, b} {
		for _, m := range c.messages() {
			switch m := m.(type) {
			case collab.OpMessage:
				if strings.Contains(string(m.Op.Op), "EVIL") {
					t.Fatalf("%s received the forged op", c.connID)
				}
			case collab.ChatMessage:
				if m.Chat.Message != "real message" {
					t.Fatalf("%s received a forged chat message: %+v", c.connID, m.Chat)
				}
			case collab.DocumentMessage:
				if m.Document.Title != "forged" || !m.Document.Public {
					t.Fatalf("%s received forged metadata: %+v", c.connID, m.Document)
				}
			case collab.ClosingMessage:
				t.Fatalf("%s was closed by a forged event: %+v", c.connID, m)
			}
		}
	}
	if doc := current(t, svc, "forged"); doc.Content != "hello world" || doc.Rev != 2 || doc.Title != "forged" || !doc.Public {
		t.Fatalf("current = %+v", doc)
	}
	if svc.LoadedDocuments() != 1 {
		t.Fatal("the forged deletion unloaded the document")
	}
}
