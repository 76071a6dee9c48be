package collab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/testenv"
)

func TestJoin(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()

	t.Run("CreatesMissingDocumentOwnedByJoiner", func(t *testing.T) {
		state := join(t, svc, "fresh-doc", newClient(alice), -1)
		if state.Rev != 0 || state.Document.Content != "" || state.Document.OwnerID != alice.ID || !state.Document.Public || state.Document.Title != "fresh-doc" {
			t.Fatalf("state = %+v", state)
		}
		if state.Color == "" || len(state.Users) != 1 || state.Users[0].UserID != alice.ID {
			t.Fatalf("color %q, users %+v", state.Color, state.Users)
		}
		stored, err := e.store.Document(ctx, "fresh-doc")
		if err != nil || stored.OwnerID != alice.ID {
			t.Fatalf("stored = %+v, %v", stored, err)
		}
	})

	t.Run("ErrInvalidID", func(t *testing.T) {
		_, err := svc.Join(ctx, "bad id!", newClient(alice), -1)
		if gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("err = %v", err)
		}
		if _, err := e.store.Document(ctx, "bad id!"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			t.Fatalf("a document was created: %v", err)
		}
	})

	t.Run("ErrForbiddenPrivate", func(t *testing.T) {
		doc := &gdoc.Document{ID: "secret", Title: "s", OwnerID: alice.ID, Public: false}
		if err := e.store.CreateDocument(ctx, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Join(ctx, "secret", newClient(bob), -1); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
			t.Fatalf("bob joining alice's private doc: %v", err)
		}
		join(t, svc, "secret", newClient(alice), -1)
	})

	t.Run("ErrBadRevision", func(t *testing.T) {
		c := newClient(alice)
		join(t, svc, "revdoc", c, -1)
		_, err := svc.Join(ctx, "revdoc", newClient(alice), 5)
		if gdoc.ErrorCode(err) != gdoc.EINVALID || !strings.Contains(gdoc.ErrorMessage(err), "Bad revision") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("SinceGivesCatchUpOps", func(t *testing.T) {
		c := newClient(alice)
		join(t, svc, "catchup", c, -1)
		for i := range 5 {
			op := fmt.Sprintf(`[%d,"%d"]`, i, i)
			if i == 0 {
				op = `["0"]`
			}
			submit(t, svc, "catchup", c, int64(i), fmt.Sprintf("a:%d", i), op)
			c.waitAck(t, fmt.Sprintf("a:%d", i))
		}
		late := newClient(bob)
		state := join(t, svc, "catchup", late, 2)
		if state.Rev != 5 || state.Document.Content != "" || state.Reset || len(state.Ops) != 3 {
			t.Fatalf("state = %+v", state)
		}
		for i, m := range state.Ops {
			if m.Op.Rev != int64(3+i) || m.Op.OpID != fmt.Sprintf("a:%d", 2+i) || m.Username != "alice" || len(m.Parsed) == 0 {
				t.Fatalf("op %d = %+v", i, m)
			}
		}
		upToDate := join(t, svc, "catchup", newClient(bob), 5)
		if upToDate.Ops == nil || len(upToDate.Ops) != 0 {
			t.Fatalf("joining at head: ops = %#v, want empty non-nil", upToDate.Ops)
		}
		full := join(t, svc, "catchup", newClient(bob), -1)
		if full.Ops != nil || full.Document.Content != "01234" || full.Rev != 5 {
			t.Fatalf("full join = %+v", full)
		}
	})

	t.Run("SinceOlderThanMemoryReadsOpLog", func(t *testing.T) {
		// A second service loads the document from its snapshot, so ops
		// before the snapshot are only in the OpLog.
		c := newClient(alice)
		join(t, svc, "oldcatch", c, -1)
		for i := range 4 {
			submit(t, svc, "oldcatch", c, int64(i), fmt.Sprintf("o:%d", i), `["x"]`)
			c.waitAck(t, fmt.Sprintf("o:%d", i))
		}
		if err := e.store.SaveSnapshot(ctx, "oldcatch", "xxxx", 4); err != nil {
			t.Fatal(err)
		}
		other := e.service(t, serviceOptions{serverID: "server-2"})
		state := join(t, other, "oldcatch", newClient(bob), 1)
		if state.Rev != 4 || len(state.Ops) != 3 || state.Ops[0].Op.Rev != 2 || state.Ops[0].Username != "alice" {
			t.Fatalf("state = %+v", state)
		}
	})
}

// A client reconnecting to an instance that has not heard of the newest
// ops yet (its bus lost them) is served after that instance reads the log.
func TestJoinSinceAheadOfLaggingInstance(t *testing.T) {
	e := newEnv(t)
	a := e.service(t, serviceOptions{serverID: "server-a"})
	deaf := inmem.NewBus() // b hears nothing a publishes
	t.Cleanup(func() { deaf.Close() })
	b := e.service(t, serviceOptions{serverID: "server-b", bus: deaf})
	alice := e.user(t, "alice")
	ca, cb := newClient(alice), newClient(alice)
	join(t, a, "lag", ca, -1)
	join(t, b, "lag", cb, -1)
	commit(t, a, "lag", ca, 0, "a:1", `["abc"]`)
	state := join(t, b, "lag", newClient(alice), 1)
	if state.Rev != 1 || len(state.Ops) != 0 {
		t.Fatalf("state = %+v", state)
	}
	if doc := current(t, b, "lag"); doc.Content != "abc" {
		t.Fatalf("b has %q", doc.Content)
	}
	// b's existing client received the op it missed, in order.
	if op := cb.waitOp(t, 1); string(op.Op.Op) != `["abc"]` {
		t.Fatalf("op = %+v", op)
	}
}

func TestSubmitOp(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()

	t.Run("AckToSenderOpToOthers", func(t *testing.T) {
		a, b := newClient(alice), newClient(bob)
		join(t, svc, "basic", a, -1)
		join(t, svc, "basic", b, -1)
		if ack := commit(t, svc, "basic", a, 0, "a:1", `["hello 😀"]`); ack.Rev != 1 {
			t.Fatalf("ack = %+v", ack)
		}
		op := b.waitOp(t, 1)
		if op.Op.OpID != "a:1" || op.Op.UserID != alice.ID || op.Username != "alice" || string(op.Op.Op) != `["hello 😀"]` {
			t.Fatalf("op = %+v", op)
		}
		for _, m := range a.messages() {
			if _, isOp := m.(collab.OpMessage); isOp {
				t.Fatalf("the sender received its own op: %+v", m)
			}
		}
		if text, rev := storedText(t, e.store, "basic"); text != "hello 😀" || rev != 1 {
			t.Fatalf("stored %q at %d", text, rev)
		}
	})

	t.Run("StaleRevIsTransformed", func(t *testing.T) {
		a, b := newClient(alice), newClient(bob)
		join(t, svc, "stale", a, -1)
		join(t, svc, "stale", b, -1)
		commit(t, svc, "stale", a, 0, "a:1", `["abc"]`)
		submit(t, svc, "stale", b, 0, "b:1", `["X"]`) // written before seeing "abc"
		if ack := b.waitAck(t, "b:1"); ack.Rev != 2 {
			t.Fatalf("ack = %+v", ack)
		}
		if got := a.waitOp(t, 2); string(got.Op.Op) != `["X"]` {
			t.Fatalf("a received %s", got.Op.Op)
		}
		if doc := current(t, svc, "stale"); doc.Content != "Xabc" || doc.Rev != 2 {
			t.Fatalf("current = %q at %d", doc.Content, doc.Rev)
		}
	})

	t.Run("DuplicateIDAppliedOnce", func(t *testing.T) {
		a, b := newClient(alice), newClient(bob)
		join(t, svc, "dedupe", a, -1)
		join(t, svc, "dedupe", b, -1)
		for range 3 { // the same id three times, possibly in one batch
			submit(t, svc, "dedupe", a, 0, "dup:1", `["once"]`)
		}
		testenv.Eventually(t, waitLimit, "three acks", func() bool {
			n := 0
			for _, m := range a.messages() {
				if ack, ok := m.(collab.AckMessage); ok && ack.OpID == "dup:1" {
					if ack.Rev != 1 {
						t.Fatalf("ack with rev %d", ack.Rev)
					}
					n++
				}
			}
			return n == 3
		})
		// A resend after a reconnect: new connection, same id.
		again := newClient(alice)
		join(t, svc, "dedupe", again, 1)
		if ack := commit(t, svc, "dedupe", again, 0, "dup:1", `["once"]`); ack.Rev != 1 {
			t.Fatalf("resend ack = %+v", ack)
		}
		if doc := current(t, svc, "dedupe"); doc.Content != "once" || doc.Rev != 1 {
			t.Fatalf("current = %q at %d", doc.Content, doc.Rev)
		}
		ops := 0
		for _, m := range b.messages() {
			if _, ok := m.(collab.OpMessage); ok {
				ops++
			}
		}
		if ops != 1 {
			t.Fatalf("the other client received %d ops, want 1", ops)
		}
	})

	t.Run("DuplicateIDOlderThanMemoryAskedOfOpLog", func(t *testing.T) {
		a := newClient(alice)
		join(t, svc, "olddup", a, -1)
		commit(t, svc, "olddup", a, 0, "old:1", `["a"]`)
		commit(t, svc, "olddup", a, 1, "old:2", `[1,"b"]`)
		if err := e.store.SaveSnapshot(ctx, "olddup", "ab", 2); err != nil {
			t.Fatal(err)
		}
		// A fresh instance knows no ids from before its snapshot.
		other := e.service(t, serviceOptions{serverID: "server-2"})
		c := newClient(alice)
		join(t, other, "olddup", c, 0)
		if ack := commit(t, other, "olddup", c, 0, "old:1", `["a"]`); ack.Rev != 1 {
			t.Fatalf("ack = %+v", ack)
		}
		if text, rev := storedText(t, e.store, "olddup"); text != "ab" || rev != 2 {
			t.Fatalf("stored %q at %d", text, rev)
		}
	})

	t.Run("ErrOpPastEnd", func(t *testing.T) {
		a := newClient(alice)
		join(t, svc, "pastend", a, -1)
		commit(t, svc, "pastend", a, 0, "a:1", `["abc"]`)
		for id, op := range map[string]string{"a:2": `[5,"x"]`, "a:3": `[1,{"d":5}]`, "a:4": `[{"d":"abd"}]`} {
			submit(t, svc, "pastend", a, 1, id, op)
			if e := a.waitOpError(t, id); e.Code != gdoc.EINVALID {
				t.Fatalf("%s: %+v", op, e)
			}
		}
		if doc := current(t, svc, "pastend"); doc.Content != "abc" || doc.Rev != 1 {
			t.Fatalf("current = %q at %d", doc.Content, doc.Rev)
		}
		// The refused ids were not used up.
		if ack := commit(t, svc, "pastend", a, 1, "a:2", `[3,"x"]`); ack.Rev != 2 {
			t.Fatalf("ack = %+v", ack)
		}
	})

	t.Run("ErrRevAheadOfHead", func(t *testing.T) {
		a := newClient(alice)
		join(t, svc, "ahead", a, -1)
		submit(t, svc, "ahead", a, 3, "a:1", `["x"]`)
		e1 := a.waitOpError(t, "a:1")
		if e1.Code != collab.CodeBadRevision || !strings.Contains(e1.Message, "Bad revision") {
			t.Fatalf("error = %+v", e1)
		}
		submit(t, svc, "ahead", a, -1, "a:2", `["x"]`)
		if e2 := a.waitOpError(t, "a:2"); e2.Code != collab.CodeBadRevision {
			t.Fatalf("error = %+v", e2)
		}
		if doc := current(t, svc, "ahead"); doc.Content != "" || doc.Rev != 0 {
			t.Fatalf("current = %q at %d", doc.Content, doc.Rev)
		}
	})

	t.Run("ErrImmediate", func(t *testing.T) {
		a := newClient(alice)
		stranger := newClient(bob)
		join(t, svc, "immediate", a, -1)
		op := ot.Op{{Insert: "x"}}
		if err := svc.SubmitOp(ctx, "immediate", stranger, 0, "s:1", op); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("not joined: %v", err)
		}
		for _, id := range []string{"", "nul\x00id", strings.Repeat("x", 257), "bad\xff"} {
			if err := svc.SubmitOp(ctx, "immediate", a, 0, id, op); gdoc.ErrorCode(err) != gdoc.EINVALID {
				t.Fatalf("id %q: %v", id, err)
			}
		}
		if err := svc.SubmitOp(ctx, "immediate", a, 0, "a:1", ot.Op{{Skip: 2}}); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("trailing skip: %v", err)
		}
		if doc := current(t, svc, "immediate"); doc.Rev != 0 {
			t.Fatalf("rev = %d", doc.Rev)
		}
	})
}

func TestReplaceContent(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	a := newClient(alice)
	join(t, svc, "rest", a, -1)
	commit(t, svc, "rest", a, 0, "a:1", `["hello world"]`)

	doc, err := svc.ReplaceContent(ctx, "rest", bob, "hello brave world")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Content != "hello brave world" || doc.Rev != 2 {
		t.Fatalf("ReplaceContent returned %q at %d", doc.Content, doc.Rev)
	}
	op := a.waitOp(t, 2)
	if op.Op.UserID != bob.ID || op.Username != "bob" || !strings.HasPrefix(op.Op.OpID, "rest:") || string(op.Op.Op) != `[6,"brave "]` {
		t.Fatalf("live client received %+v (%s)", op, op.Op.Op)
	}
	if text, rev := storedText(t, e.store, "rest"); text != "hello brave world" || rev != 2 {
		t.Fatalf("stored %q at %d", text, rev)
	}

	t.Run("SameContentCommitsNothing", func(t *testing.T) {
		doc, err := svc.ReplaceContent(ctx, "rest", bob, "hello brave world")
		if err != nil || doc.Rev != 2 {
			t.Fatalf("doc = %+v, %v", doc, err)
		}
	})
	t.Run("NotLoadedDocument", func(t *testing.T) {
		d := &gdoc.Document{ID: "cold", Title: "cold", OwnerID: alice.ID, Public: true, Content: "abc"}
		if err := e.store.CreateDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		doc, err := svc.ReplaceContent(ctx, "cold", alice, "abXc")
		if err != nil || doc.Content != "abXc" || doc.Rev != 1 {
			t.Fatalf("doc = %+v, %v", doc, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := svc.ReplaceContent(ctx, "nope", alice, "x"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			t.Fatalf("err = %v", err)
		}
		if _, err := svc.Current(ctx, "nope"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			t.Fatalf("Current err = %v", err)
		}
	})
	t.Run("ErrInvalidText", func(t *testing.T) {
		if _, err := svc.ReplaceContent(ctx, "rest", alice, "bad \xff"); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("err = %v", err)
		}
		if doc := current(t, svc, "rest"); doc.Rev != 2 {
			t.Fatalf("rev = %d", doc.Rev)
		}
	})
}

func TestCurrentWithoutLoading(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	alice := e.user(t, "alice")
	a := newClient(alice)
	join(t, svc, "cur", a, -1)
	commit(t, svc, "cur", a, 0, "a:1", `["abc"]`)
	other := e.service(t, serviceOptions{serverID: "server-2"})
	doc := current(t, other, "cur")
	if doc.Content != "abc" || doc.Rev != 1 || doc.OwnerID != alice.ID {
		t.Fatalf("doc = %+v", doc)
	}
	if n := other.LoadedDocuments(); n != 0 {
		t.Fatalf("Current loaded %d documents", n)
	}
}

func TestAutosaveWritesSnapshot(t *testing.T) {
	e := newEnv(t)
	var saved atomic.Int64
	logger := slog.New(countingHandler{prefix: "Saved document autosave at rev 2", n: &saved})
	svc := e.service(t, serviceOptions{autosave: 20 * time.Millisecond, run: true, logger: logger})
	a := newClient(e.user(t, "alice"))
	join(t, svc, "autosave", a, -1)
	commit(t, svc, "autosave", a, 0, "a:1", `["ab"]`)
	commit(t, svc, "autosave", a, 1, "a:2", `[2,"c"]`)
	testenv.Eventually(t, waitLimit, "snapshot at rev 2", func() bool {
		doc, err := e.store.Document(context.Background(), "autosave")
		return err == nil && doc.Rev == 2 && doc.Content == "abc"
	})
	testenv.Eventually(t, waitLimit, "the autosave log line", func() bool { return saved.Load() > 0 })
}

func TestShutdownSavesAndClosesClients(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{}) // autosave never fires in this test
	a := newClient(e.user(t, "alice"))
	join(t, svc, "shut", a, -1)
	commit(t, svc, "shut", a, 0, "a:1", `["abc"]`)
	shutdownCtx, cancel := callCtx()
	defer cancel()
	if err := svc.Shutdown(shutdownCtx); err != nil {
		t.Fatal(err)
	}
	doc, err := e.store.Document(context.Background(), "shut")
	if err != nil || doc.Rev != 1 || doc.Content != "abc" {
		t.Fatalf("snapshot = %+v, %v", doc, err)
	}
	await(t, a, "closing", func(c collab.ClosingMessage) bool { return c.Reason == collab.ReasonShutdown })
	if err := svc.SubmitOp(context.Background(), "shut", a, 1, "a:2", ot.Op{{Insert: "x"}}); gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
		t.Fatalf("SubmitOp after shutdown: %v", err)
	}
	if parts, _ := e.presence.Participants(context.Background(), "shut"); len(parts) != 0 {
		t.Fatalf("presence after shutdown: %+v", parts)
	}
}

func TestIdleDocumentsUnload(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{idleUnload: 30 * time.Millisecond, run: true})
	alice := e.user(t, "alice")
	const docs = 20
	clients := make([]*fakeClient, docs)
	for i := range docs {
		clients[i] = newClient(alice)
		id := fmt.Sprintf("idle-%d", i)
		join(t, svc, id, clients[i], -1)
		submit(t, svc, id, clients[i], 0, "a:1", fmt.Sprintf(`["doc %d"]`, i))
		clients[i].waitAck(t, "a:1")
	}
	if n := svc.LoadedDocuments(); n != docs {
		t.Fatalf("loaded = %d, want %d", n, docs)
	}
	// One client stays: its document must stay loaded.
	for i := 1; i < docs; i++ {
		svc.Leave(fmt.Sprintf("idle-%d", i), clients[i])
	}
	testenv.Eventually(t, waitLimit, "idle documents unloaded", func() bool { return svc.LoadedDocuments() == 1 })
	for i := 1; i < docs; i++ {
		testenv.Eventually(t, waitLimit, fmt.Sprintf("snapshot of idle-%d", i), func() bool {
			doc, err := e.store.Document(context.Background(), fmt.Sprintf("idle-%d", i))
			return err == nil && doc.Rev == 1 && doc.Content == fmt.Sprintf("doc %d", i)
		})
	}
	// The kept one still works, and an unloaded one loads again.
	submit(t, svc, "idle-0", clients[0], 1, "a:2", `[5,"!"]`)
	clients[0].waitAck(t, "a:2")
	back := newClient(alice)
	if state := join(t, svc, "idle-3", back, -1); state.Document.Content != "doc 3" || state.Rev != 1 {
		t.Fatalf("reloaded state = %+v", state)
	}
	svc.Leave("idle-0", clients[0])
	svc.Leave("idle-3", back)
	testenv.Eventually(t, waitLimit, "all unloaded", func() bool { return svc.LoadedDocuments() == 0 })
}

func TestPresence(t *testing.T) {
	e := newEnv(t)
	svcA := e.service(t, serviceOptions{serverID: "server-a"})
	svcB := e.service(t, serviceOptions{serverID: "server-b"})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()

	a := newClient(alice)
	join(t, svcA, "pres", a, -1)
	b1 := newClient(bob)
	state := join(t, svcB, "pres", b1, -1) // bob on the other instance
	if len(state.Users) != 2 {
		t.Fatalf("bob's init users = %+v", state.Users)
	}
	joined := await(t, a, "user_joined bob", func(j collab.UserJoinedMessage) bool { return j.User.UserID == bob.ID })
	if joined.User.Username != "bob" || joined.User.Color == "" {
		t.Fatalf("joined = %+v", joined)
	}
	for _, m := range b1.messages() {
		if j, ok := m.(collab.UserJoinedMessage); ok && j.User.UserID == bob.ID {
			t.Fatalf("bob was told he joined: %+v", m)
		}
	}

	// A second tab of bob: no new user.
	b2 := newClient(bob)
	join(t, svcA, "pres", b2, -1)
	users, err := svcA.ActiveUsers(ctx, "pres")
	if err != nil || len(users) != 2 || users[0].UserID != alice.ID || users[1].Connections != 2 {
		t.Fatalf("ActiveUsers = %+v, %v", users, err)
	}
	svcB.Leave("pres", b1) // one of bob's tabs closes: bob is still here
	svcA.Leave("pres", b2) // the last one: bob leaves
	await(t, a, "user_left bob", func(l collab.UserLeftMessage) bool { return l.UserID == bob.ID && l.Username == "bob" })
	joins, lefts := 0, 0
	for _, m := range a.messages() {
		switch m := m.(type) {
		case collab.UserJoinedMessage:
			if m.User.UserID == bob.ID {
				joins++
			}
		case collab.UserLeftMessage:
			lefts++
		}
	}
	if joins != 1 || lefts != 1 {
		t.Fatalf("alice saw %d joins and %d leaves of bob, want 1 and 1", joins, lefts)
	}
	users, _ = svcA.ActiveUsers(ctx, "pres")
	if len(users) != 1 || users[0].UserID != alice.ID {
		t.Fatalf("ActiveUsers after leaving = %+v", users)
	}
	sessions, err := e.store.Sessions(ctx, "pres", 10)
	if err != nil || len(sessions) != 3 {
		t.Fatalf("sessions = %+v, %v", sessions, err)
	}
	ended := 0
	for _, s := range sessions {
		if s.LeftAt != nil {
			ended++
		}
	}
	if ended != 2 {
		t.Fatalf("%d sessions ended, want 2", ended)
	}
}

func TestChat(t *testing.T) {
	e := newEnv(t)
	svcA := e.service(t, serviceOptions{serverID: "server-a"})
	svcB := e.service(t, serviceOptions{serverID: "server-b"})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	a, b, remote := newClient(alice), newClient(bob), newClient(bob)
	join(t, svcA, "chat", a, -1)
	join(t, svcA, "chat", b, -1)
	join(t, svcB, "chat", remote, -1)

	if err := svcA.SendChat(ctx, "chat", a, "  hi all 👋 ", "m1"); err != nil {
		t.Fatal(err)
	}
	ack := await[collab.ChatAckMessage](t, a, "chat ack", nil)
	if ack.ClientMsgID != "m1" || ack.Chat.Message != "hi all 👋" || ack.Chat.ID == 0 || ack.Chat.Username != "alice" {
		t.Fatalf("ack = %+v", ack)
	}
	for _, c := range []*fakeClient{b, remote} {
		got := await[collab.ChatMessage](t, c, "chat", nil)
		if got.Chat.ID != ack.Chat.ID || got.Chat.Message != "hi all 👋" || got.Chat.UserID != alice.ID {
			t.Fatalf("%s received %+v", c.connID, got)
		}
	}
	for _, m := range a.messages() {
		if _, ok := m.(collab.ChatMessage); ok {
			t.Fatal("the sender received its own message as chat")
		}
	}
	state := join(t, svcB, "chat", newClient(bob), -1)
	if len(state.Chat) != 1 || state.Chat[0].Message != "hi all 👋" {
		t.Fatalf("history = %+v", state.Chat)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", 2001)} {
		if err := svcA.SendChat(ctx, "chat", a, bad, "m2"); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("SendChat(%.10q) = %v", bad, err)
		}
	}
	if msgs, _ := e.store.ChatMessages(ctx, "chat", 0, 10); len(msgs) != 1 {
		t.Fatalf("stored %d messages", len(msgs))
	}
}

func TestCursors(t *testing.T) {
	e := newEnv(t)
	svcA := e.service(t, serviceOptions{serverID: "server-a"})
	svcB := e.service(t, serviceOptions{serverID: "server-b"})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	a, b := newClient(alice), newClient(bob)
	join(t, svcA, "cursor", a, -1)
	join(t, svcB, "cursor", b, -1)
	seed := json.RawMessage(`{"lineNumber":1,"column":3}`)
	if err := svcA.UpdateCursor(ctx, "cursor", a, collab.Cursor{Rev: 0, Anchor: 2, Head: 2, Position: seed, UserID: "spoofed"}); err != nil {
		t.Fatal(err)
	}
	got := await[collab.CursorMessage](t, b, "cursor", nil)
	if got.Cursor.ConnID != a.connID || got.Cursor.UserID != alice.ID || got.Cursor.Color == "" || got.Cursor.Head != 2 || string(got.Cursor.Position) != string(seed) {
		t.Fatalf("cursor = %+v", got.Cursor)
	}
	late := newClient(bob)
	state := join(t, svcB, "cursor", late, -1)
	if len(state.Cursors) != 1 || state.Cursors[0].ConnID != a.connID {
		t.Fatalf("init cursors = %+v", state.Cursors)
	}
	if err := svcA.UpdateCursor(ctx, "cursor", a, collab.Cursor{Anchor: -1}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("negative anchor: %v", err)
	}
	svcA.Leave("cursor", a)
	await(t, b, "cursor removal", func(c collab.CursorMessage) bool { return c.Cursor.Removed && c.Cursor.ConnID == a.connID })
	if state := join(t, svcB, "cursor", newClient(bob), -1); len(state.Cursors) != 0 {
		t.Fatalf("removed cursor still listed: %+v", state.Cursors)
	}
}

func TestSlowClientDropped(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	a, slow := newClient(alice), newClient(bob)
	join(t, svc, "slow", a, -1)
	join(t, svc, "slow", slow, -1)
	slow.setFull(true)
	commit(t, svc, "slow", a, 0, "a:1", `["x"]`)
	// Dropped (by the fan-out round after a's ack): the others see it go,
	// and it may no longer submit.
	await(t, a, "bob left", func(l collab.UserLeftMessage) bool { return l.UserID == bob.ID })
	if err := svc.SubmitOp(context.Background(), "slow", slow, 1, "s:1", ot.Op{{Insert: "y"}}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("the slow client can still submit: %v", err)
	}
	if ack := commit(t, svc, "slow", a, 1, "a:2", `[1,"y"]`); ack.Rev != 2 {
		t.Fatalf("ack = %+v", ack)
	}
}

func TestForget(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	a := newClient(e.user(t, "alice"))
	join(t, svc, "gone", a, -1)
	if err := e.store.DeleteDocument(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	svc.Forget("gone")
	await(t, a, "closing", func(c collab.ClosingMessage) bool { return c.Reason == collab.ReasonDeleted })
	if svc.LoadedDocuments() != 0 {
		t.Fatal("forgotten document still loaded")
	}
	if err := svc.SubmitOp(context.Background(), "gone", a, 0, "a:1", ot.Op{{Insert: "x"}}); err == nil {
		t.Fatal("op accepted on a forgotten document")
	}
}

// BenchmarkSubmitOp measures committed ops per second through the whole
// path (rebase, group commit on SQLite with synchronous=FULL, ack), each
// client keeping one op in flight as a real editor does, and this
// process's CPU time per op (which the neighbours' load moves less than
// the wall time).
func BenchmarkSubmitOp(b *testing.B) {
	e := newEnv(b)
	svc := e.service(b, serviceOptions{})
	alice := e.user(b, "alice")
	for _, tc := range []struct{ docs, clientsPerDoc int }{{1, 1}, {16, 1}, {1, 16}, {64, 4}} {
		b.Run(fmt.Sprintf("docs=%d/clients=%d", tc.docs, tc.clientsPerDoc), func(b *testing.B) {
			type benchClient struct {
				c     *fakeClient
				docID string
				rev   int64
			}
			var clients []*benchClient
			for d := range tc.docs {
				docID := fmt.Sprintf("bench-%d-%d-%d-%d", tc.docs, tc.clientsPerDoc, d, b.N)
				for range tc.clientsPerDoc {
					bc := &benchClient{c: newClient(alice), docID: docID}
					bc.rev = join(b, svc, docID, bc.c, -1).Rev
					clients = append(clients, bc)
				}
			}
			op := ot.Op{{Insert: "x"}}
			per := (b.N + len(clients) - 1) / len(clients)
			cpuBefore := processCPU()
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, bc := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := range per {
						opID := fmt.Sprintf("%s:%d", bc.c.connID, n)
						if err := svc.SubmitOp(context.Background(), bc.docID, bc.c, bc.rev, opID, op); err != nil {
							b.Error(err)
							return
						}
						for acked := false; !acked; {
							for _, m := range bc.c.take() {
								if a, ok := m.(collab.AckMessage); ok && a.OpID == opID {
									bc.rev, acked = a.Rev, true
								} else if e, ok := m.(collab.OpErrorMessage); ok {
									b.Errorf("op refused: %+v", e)
									return
								}
							}
							if !acked {
								<-bc.c.signal
							}
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*len(clients))/b.Elapsed().Seconds(), "ops/s")
			b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/float64(per*len(clients)), "cpu-µs/op")
		})
	}
}

// When the database is down an op is refused as unavailable (resend
// later) and nobody sees it applied.
func TestStoreDownRefusesOps(t *testing.T) {
	e := newEnv(t)
	second, err := openSecondStore(e)
	if err != nil {
		t.Fatal(err)
	}
	svc := e.service(t, serviceOptions{store: second})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	a, b := newClient(alice), newClient(bob)
	join(t, svc, "down", a, -1)
	join(t, svc, "down", b, -1)
	commit(t, svc, "down", a, 0, "a:1", `["ok"]`)
	second.Close()
	submit(t, svc, "down", a, 1, "a:2", `["lost"]`)
	if e := a.waitOpError(t, "a:2"); e.Code != gdoc.EUNAVAILABLE {
		t.Fatalf("error = %+v", e)
	}
	for _, m := range b.messages() {
		if op, ok := m.(collab.OpMessage); ok && op.Op.Rev != 1 {
			t.Fatalf("an uncommitted op was delivered: %+v", op)
		}
	}
	if text, rev := storedText(t, e.store, "down"); text != "ok" || rev != 1 {
		t.Fatalf("stored %q at %d", text, rev)
	}
}

// An instance that dies leaves no Leave calls behind: its connections
// vanish from presence when they expire, and its last op's bus event may
// be lost. The sweep repairs both.
func TestSweepRepairsDeadInstance(t *testing.T) {
	e := newEnv(t)
	a := e.service(t, serviceOptions{serverID: "server-a", run: true, sweep: 20 * time.Millisecond})
	deaf := inmem.NewBus() // what b publishes never reaches a
	t.Cleanup(func() { deaf.Close() })
	b := e.service(t, serviceOptions{serverID: "server-b", bus: deaf})
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	ca, cb := newClient(alice), newClient(bob)
	join(t, a, "dead", ca, -1)
	join(t, b, "dead", cb, -1)
	commit(t, b, "dead", cb, 0, "b:1", `["from b"]`)
	// a hears of the op only from the log.
	if op := ca.waitOp(t, 1); string(op.Op.Op) != `["from b"]` || op.Username != "bob" {
		t.Fatalf("op = %+v", op)
	}
	// a learns of bob through presence (the sweep), though b's bus is deaf.
	await(t, ca, "user_joined bob", func(j collab.UserJoinedMessage) bool { return j.User.UserID == bob.ID })
	// b dies: its presence entries expire; nobody calls Leave.
	if err := e.presence.Leave(ctx, "dead", cb.connID); err != nil {
		t.Fatal(err)
	}
	await(t, ca, "user_left bob", func(l collab.UserLeftMessage) bool { return l.UserID == bob.ID })
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
