package collab_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/ot"
)

// privateDoc stores a private document of owner's with members.
func privateDoc(t *testing.T, e *env, id string, owner *gdoc.User, members map[*gdoc.User]gdoc.Role) {
	t.Helper()
	ctx := context.Background()
	d := &gdoc.Document{ID: id, Title: id, Content: "hello", Language: "plaintext", OwnerID: owner.ID, Visibility: gdoc.VisibilityPrivate}
	if err := e.store.CreateDocument(ctx, d); err != nil {
		t.Fatal(err)
	}
	for u, r := range members {
		if _, err := e.store.SetMember(ctx, id, u.ID, r); err != nil {
			t.Fatal(err)
		}
	}
}

func submitErr(s *collab.Service, docID string, c *fakeClient, rev int64, opID, op string) error {
	parsed, err := ot.Parse([]byte(op))
	if err != nil {
		return err
	}
	ctx, cancel := callCtx()
	defer cancel()
	return s.SubmitOp(ctx, docID, c, rev, opID, parsed)
}

func TestAccessStrangerAndViewer(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "carol")
	privateDoc(t, e, "doc", alice, map[*gdoc.User]gdoc.Role{bob: gdoc.RoleViewer})
	s := e.service(t, serviceOptions{})
	ctx, cancel := callCtx()
	defer cancel()

	if _, err := s.Join(ctx, "doc", newClient(carol), -1); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
		t.Fatalf("a stranger's join: %v, want forbidden", err)
	}
	owner := newClient(alice)
	if st := join(t, s, "doc", owner, -1); st.Role != gdoc.RoleOwner {
		t.Fatalf("owner's role %q", st.Role)
	}
	viewer := newClient(bob)
	st := join(t, s, "doc", viewer, -1)
	if st.Role != gdoc.RoleViewer || st.Document.Content != "hello" || st.Document.Visibility != gdoc.VisibilityPrivate {
		t.Fatalf("viewer's join state: role %q, %+v", st.Role, st.Document)
	}
	if err := submitErr(s, "doc", viewer, st.Rev, "v:1", `["x"]`); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
		t.Fatalf("a viewer's op: %v, want forbidden", err)
	}
	if err := s.SendChat(ctx, "doc", viewer, "I can chat", "m1"); err != nil {
		t.Fatalf("a viewer's chat: %v", err)
	}
	if err := s.UpdateCursor(ctx, "doc", viewer, collab.Cursor{Anchor: 1, Head: 2}); err != nil {
		t.Fatalf("a viewer's cursor: %v", err)
	}
	commit(t, s, "doc", owner, st.Rev, "o:1", `["!"]`)
	if got := current(t, s, "doc"); got.Content != "!hello" {
		t.Fatalf("text %q, want only the owner's edit", got.Content)
	}
}

func TestAccessChangesReachOpenConnections(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	privateDoc(t, e, "doc", alice, map[*gdoc.User]gdoc.Role{bob: gdoc.RoleViewer})
	s1 := e.service(t, serviceOptions{serverID: "one"})
	s2 := e.service(t, serviceOptions{serverID: "two"})
	ctx, cancel := callCtx()
	defer cancel()
	local, remote := newClient(bob), newClient(bob)
	join(t, s1, "doc", local, -1)
	st := join(t, s2, "doc", remote, -1)

	// Promoted on instance one: both connections hear it and may edit.
	if _, err := e.store.SetMember(ctx, "doc", bob.ID, gdoc.RoleEditor); err != nil {
		t.Fatal(err)
	}
	s1.AccessChanged(ctx, "doc")
	for _, c := range []*fakeClient{local, remote} {
		await(t, c, "access editor", func(m collab.AccessMessage) bool { return m.Role == gdoc.RoleEditor })
	}
	commit(t, s2, "doc", remote, st.Rev, "b:1", `["b"]`)

	// Removed: both are told to close and may send nothing more.
	if err := e.store.RemoveMember(ctx, "doc", bob.ID); err != nil {
		t.Fatal(err)
	}
	s1.AccessChanged(ctx, "doc")
	for i, c := range []*fakeClient{local, remote} {
		await(t, c, "closing", func(m collab.ClosingMessage) bool { return m.Reason == collab.ReasonAccessRevoked })
		s := []*collab.Service{s1, s2}[i]
		if err := s.SendChat(ctx, "doc", c, "still here?", "m"); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
			t.Errorf("chat after removal: %v", err)
		}
		if err := submitErr(s, "doc", c, st.Rev+1, "b:2", `["x"]`); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
			t.Errorf("op after removal: %v", err)
		}
	}
	if got := current(t, s2, "doc"); got.Content != "bhello" { // committed there
		t.Fatalf("text %q", got.Content)
	}
}

// A lost bus event is repaired by the periodic re-check.
func TestAccessRecheckWithoutTheBus(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	privateDoc(t, e, "doc", alice, map[*gdoc.User]gdoc.Role{bob: gdoc.RoleEditor})
	deaf := inmem.NewBus() // instance two hears nothing of instance one
	t.Cleanup(func() { deaf.Close() })
	s1 := e.service(t, serviceOptions{serverID: "one"})
	s2 := e.service(t, serviceOptions{serverID: "two", bus: deaf, run: true, accessCheck: 50 * time.Millisecond})
	c := newClient(bob)
	join(t, s2, "doc", c, -1)
	ctx, cancel := callCtx()
	defer cancel()
	if _, err := e.store.SetMember(ctx, "doc", bob.ID, gdoc.RoleViewer); err != nil {
		t.Fatal(err)
	}
	s1.AccessChanged(ctx, "doc")
	await(t, c, "access viewer", func(m collab.AccessMessage) bool { return m.Role == gdoc.RoleViewer })
	if err := submitErr(s2, "doc", c, 0, "b:1", `["x"]`); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
		t.Fatalf("op after demotion: %v", err)
	}
	vis := gdoc.VisibilityPrivate
	if err := e.store.RemoveMember(ctx, "doc", bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SetDocumentAccess(ctx, "doc", &vis, nil); err != nil {
		t.Fatal(err)
	}
	await(t, c, "closing", func(m collab.ClosingMessage) bool { return m.Reason == collab.ReasonAccessRevoked })
}

// withdrawingStore removes bob's membership while his join is between its
// first access check and its registration.
type withdrawingStore struct {
	gdoc.Store
	withdraw func()
}

// The hook is the join's chat history read, which sits between the access
// check and the registration (the session row is written off the join path).
func (w *withdrawingStore) ChatMessages(ctx context.Context, docID string, beforeID int64, limit int) ([]*gdoc.ChatMessage, error) {
	if w.withdraw != nil {
		w.withdraw()
		w.withdraw = nil
	}
	return w.Store.ChatMessages(ctx, docID, beforeID, limit)
}

func TestJoinRacingAWithdrawalDoesNotStayOpen(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	privateDoc(t, e, "doc", alice, map[*gdoc.User]gdoc.Role{bob: gdoc.RoleViewer})
	store := &withdrawingStore{Store: e.store}
	s := e.service(t, serviceOptions{store: store})
	owner := newClient(alice)
	join(t, s, "doc", owner, -1) // loads the document; the session hook is not armed yet
	ctx, cancel := callCtx()
	defer cancel()
	store.withdraw = func() {
		if err := e.store.RemoveMember(context.Background(), "doc", bob.ID); err != nil {
			t.Error(err)
		}
		s.AccessChanged(context.Background(), "doc") // finds no bob yet
	}
	c := newClient(bob)
	if _, err := s.Join(ctx, "doc", c, -1); gdoc.ErrorCode(err) != gdoc.EFORBIDDEN {
		t.Fatalf("join racing the withdrawal: %v, want forbidden", err)
	}
	if err := s.SendChat(ctx, "doc", c, "in?", "m"); err == nil {
		t.Fatal("the refused connection can chat")
	}
	users, err := s.ActiveUsers(ctx, "doc")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].UserID != alice.ID {
		t.Fatalf("active users after the refused join: %+v", users)
	}
}

func TestJoinNeverRecreates(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	s := e.service(t, serviceOptions{})
	ctx, cancel := callCtx()
	defer cancel()

	// A reconnect (since) to an id that does not exist does not create it.
	if _, err := s.Join(ctx, "stale", newClient(alice), 3); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("join with since to a missing id: %v", err)
	}
	if _, err := e.store.Document(ctx, "stale"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("the reconnect created the document: %v", err)
	}

	// A deleted document stays deleted, for a stale tab and for anyone else.
	c := newClient(alice)
	st := join(t, s, "gone", c, -1)
	commit(t, s, "gone", c, st.Rev, "a:1", `["x"]`)
	if err := e.store.DeleteDocument(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	s.Forget("gone")
	await(t, c, "closing", func(m collab.ClosingMessage) bool { return m.Reason == collab.ReasonDeleted })
	for _, try := range []struct {
		who   *gdoc.User
		since int64
	}{{alice, 1}, {alice, -1}, {bob, -1}} {
		if _, err := s.Join(ctx, "gone", newClient(try.who), try.since); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			t.Fatalf("join of the deleted id by %s since %d: %v", try.who.Username, try.since, err)
		}
	}
	if _, err := e.store.Document(ctx, "gone"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("a join re-created the deleted document: %v", err)
	}
}

func TestJoinCreateLimit(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	s := e.service(t, serviceOptions{joinCreateLimit: 2})
	ctx, cancel := callCtx()
	defer cancel()
	join(t, s, "a1", newClient(alice), -1)
	join(t, s, "a2", newClient(alice), -1)
	_, err := s.Join(ctx, "a3", newClient(alice), -1)
	if gdoc.ErrorCode(err) != gdoc.ERATELIMITED || gdoc.ErrorMessage(err) == "" {
		t.Fatalf("third creation in an hour: %v, want rate_limited with a sentence", err)
	}
	if _, err := e.store.Document(ctx, "a3"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("the refused join created a3: %v", err)
	}
	join(t, s, "a1", newClient(alice), -1) // existing documents still open
	join(t, s, "b1", newClient(bob), -1)   // the limit is per user
}

// TestConcurrentJoinsCreate: first joins that run at once (their documents
// created in shared transactions) each get their document, and joins of
// one new id all end on the one document its first join created.
func TestConcurrentJoinsCreate(t *testing.T) {
	e := newEnv(t)
	alice := e.user(t, "alice")
	s := e.service(t, serviceOptions{})
	ctx, cancel := callCtx()
	defer cancel()
	const n = 24
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		for _, id := range []string{fmt.Sprintf("new-%d", i), "shared"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := s.Join(ctx, id, newClient(alice), -1)
				if err == nil && (st.Document.ID != id || st.Document.OwnerID != alice.ID) {
					err = fmt.Errorf("join of %s got document %s owned by %s", id, st.Document.ID, st.Document.OwnerID)
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if _, err := e.store.Document(ctx, fmt.Sprintf("new-%d", i)); err != nil {
			t.Fatalf("document new-%d: %v", i, err)
		}
	}
}
