package comments

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// storeTexts computes a document's current text from its stored snapshot
// and op log, as collab's Current does.
type storeTexts struct{ store gdoc.Store }

func (s storeTexts) Current(ctx context.Context, docID string) (*gdoc.Document, error) {
	d, err := s.store.Document(ctx, docID)
	if err != nil {
		return nil, err
	}
	ops, err := s.store.Ops(ctx, docID, d.Rev, 0)
	if err != nil {
		return nil, err
	}
	for _, c := range ops {
		op, err := ot.Parse(c.Op)
		if err != nil {
			return nil, err
		}
		if d.Content, err = ot.Apply(d.Content, op); err != nil {
			return nil, err
		}
		d.Rev = c.Rev
	}
	return d, nil
}

type fixture struct {
	t      *testing.T
	store  gdoc.Store
	svc    *Service
	events []gdoc.CommentEvent
	texts  storeTexts
}

func newFixture(t *testing.T, content string) *fixture {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{t: t, store: store, texts: storeTexts{store}}
	f.svc = New(store, f.texts, func(_ context.Context, docID string, ev gdoc.CommentEvent) {
		if docID != "doc" {
			t.Errorf("event for %q", docID)
		}
		f.events = append(f.events, ev)
	})
	if err := store.CreateDocument(context.Background(), &gdoc.Document{ID: "doc", Title: "t", Language: "go", Content: content, Public: true}); err != nil {
		t.Fatal(err)
	}
	return f
}

// edit commits op (JSON) as the next revision.
func (f *fixture) edit(op string) {
	f.t.Helper()
	head, err := f.store.HeadRev(context.Background(), "doc")
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.store.AppendOps(context.Background(), []gdoc.OpBatch{{DocID: "doc", BaseRev: head,
		Ops: []gdoc.CommittedOp{{DocID: "doc", Rev: head + 1, OpID: "op" + strconv.FormatInt(head+1, 10), UserID: "1", Op: json.RawMessage(op)}}}})
	if err != nil || res[0] != nil {
		f.t.Fatalf("append %s: %v %v", op, err, res)
	}
}

// covered is the current text under c's anchor.
func (f *fixture) covered(c *gdoc.Comment) string {
	f.t.Helper()
	d, err := f.texts.Current(context.Background(), "doc")
	if err != nil {
		f.t.Fatal(err)
	}
	if c.Anchor.Rev != d.Rev {
		f.t.Fatalf("anchor at revision %d, document at %d", c.Anchor.Rev, d.Rev)
	}
	return string([]rune(d.Content)[c.Anchor.From:c.Anchor.To])
}

func requireCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := gdoc.ErrorCode(err); got != want {
		t.Fatalf("error %v (code %q), want code %q", err, got, want)
	}
}

var (
	ann  = &gdoc.User{ID: "1", Username: "ann"}
	bob  = &gdoc.User{ID: "2", Username: "bob"}
	vera = &gdoc.User{ID: "3", Username: "vera"}
)

func TestAnchorsFollowEditsAndDetach(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "func a() {}\nfunc b() {}\n")
	th, err := f.svc.Create(ctx, "doc", gdoc.RoleOwner, ann, NewComment{Anchor: &gdoc.Anchor{Rev: 0, From: 12, To: 23}, Body: "b needs a doc comment"})
	if err != nil {
		t.Fatal(err)
	}
	if th.Quote != "func b() {}" || f.covered(th) != "func b() {}" || th.Detached {
		t.Fatalf("new thread %+v covers %q", th, f.covered(th))
	}
	f.edit(`["// intro 😀\n"]`)   // before it
	f.edit(`[33, "\tx := 1\n"]`) // inside it: "func b() {" + "\tx := 1\n" + "}"
	f.edit(`[{"d":3}]`)          // before it again
	// A thread written at an older revision lands at the head too.
	old, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, bob, NewComment{Anchor: &gdoc.Anchor{Rev: 1, From: 11, To: 15}, Body: "and a?"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.List(ctx, "doc", gdoc.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || f.covered(list[0]) != "func b() {\tx := 1\n}" || f.covered(old) != "func" || old.Quote != "func" {
		t.Fatalf("after edits: %q and %q", f.covered(list[0]), f.covered(old))
	}
	// The stored anchors were re-based to the head: the next read replays
	// nothing older.
	stored, err := f.store.Comment(ctx, "doc", th.ID)
	if err != nil || stored.Anchor != list[0].Anchor {
		t.Fatalf("stored anchor %+v (%v), want the head's %+v", stored.Anchor, err, list[0].Anchor)
	}

	// Deleting all of b's text detaches its thread; it keeps its quote.
	d, _ := f.texts.Current(ctx, "doc")
	f.edit(`[` + strconv.Itoa(list[0].Anchor.From) + `, {"d":` + strconv.Itoa(list[0].Anchor.To-list[0].Anchor.From) + `}, "func c() {}"]`)
	list, err = f.svc.List(ctx, "doc", gdoc.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if !list[0].Detached || list[0].Quote != "func b() {}" || list[0].Anchor.From != list[0].Anchor.To || list[1].Detached {
		t.Fatalf("after deleting b (text was %q): %+v / %+v", d.Content, list[0], list[1])
	}
	// Detached for good, even when the same text comes back.
	f.edit(`[` + strconv.Itoa(list[0].Anchor.From) + `, "func b() {}"]`)
	list, _ = f.svc.List(ctx, "doc", gdoc.RoleViewer)
	if !list[0].Detached {
		t.Fatalf("re-attached: %+v", list[0])
	}
}

func TestCreateRefusesBadAnchors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "héllo")
	f.edit(`[5, " world"]`) // 11 code points at rev 1
	for name, a := range map[string]gdoc.Anchor{
		"future revision":  {Rev: 2, From: 0, To: 1},
		"negative rev":     {Rev: -1, From: 0, To: 1},
		"empty range":      {Rev: 1, From: 3, To: 3},
		"backwards":        {Rev: 1, From: 4, To: 3},
		"past the end":     {Rev: 1, From: 3, To: 12},
		"past the old end": {Rev: 0, From: 3, To: 6},
	} {
		_, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, ann, NewComment{Anchor: &a, Body: "x"})
		if gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, ann, NewComment{Anchor: &gdoc.Anchor{Rev: 1, From: 0, To: 11}, Body: "   "}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Errorf("blank body: %v", err)
	}
	if _, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, ann, NewComment{Body: "neither anchor nor parent"}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Errorf("no anchor: %v", err)
	}
	c, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, ann, NewComment{Anchor: &gdoc.Anchor{Rev: 0, From: 0, To: 5}, Body: "the whole old text"})
	if err != nil || f.covered(c) != "héllo" {
		t.Fatalf("valid anchor at rev 0: %v %+v", err, c)
	}
	if list, _ := f.svc.List(ctx, "doc", gdoc.RoleViewer); len(list) != 1 || len(f.events) != 1 {
		t.Fatalf("refused comments were stored or announced: %d comments, %d events", len(list), len(f.events))
	}
}

// The rule: viewers comment and reply; only the author edits a comment;
// the thread's author or an editor resolves it; the author or the owner
// deletes; a stranger sees nothing (ENOTFOUND).
func TestWhoMayDoWhat(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "package main\n")
	anchor := &gdoc.Anchor{Rev: 0, From: 0, To: 7}
	th, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, bob, NewComment{Anchor: anchor, Body: "@vera why?"})
	if err != nil {
		t.Fatal(err)
	}
	// A viewer comments, replies, and resolves her own thread.
	r, err := f.svc.Create(ctx, "doc", gdoc.RoleViewer, vera, NewComment{ParentID: &th.ID, Body: "because"})
	if err != nil || r.ParentID == nil || *r.ParentID != th.ID || r.Anchor != th.Anchor {
		t.Fatalf("viewer reply: %+v %v", r, err)
	}
	// A reply to a reply joins the thread.
	rr, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, bob, NewComment{ParentID: &r.ID, Body: "ok"})
	if err != nil || *rr.ParentID != th.ID {
		t.Fatalf("reply to a reply: %+v %v", rr, err)
	}
	own, err := f.svc.Create(ctx, "doc", gdoc.RoleViewer, vera, NewComment{Anchor: anchor, Body: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	if c, err := f.svc.Update(ctx, "doc", gdoc.RoleViewer, vera, own.ID, nil, &yes); err != nil || !c.Resolved {
		t.Fatalf("viewer resolves her own thread: %+v %v", c, err)
	}
	_, err = f.svc.Update(ctx, "doc", gdoc.RoleViewer, vera, th.ID, nil, &yes)
	requireCode(t, err, gdoc.EFORBIDDEN)
	// An editor resolves and reopens anyone's thread; a reply is not resolved.
	if c, err := f.svc.Update(ctx, "doc", gdoc.RoleEditor, ann, th.ID, nil, &yes); err != nil || !c.Resolved {
		t.Fatalf("editor resolves: %+v %v", c, err)
	}
	if c, err := f.svc.Update(ctx, "doc", gdoc.RoleEditor, ann, th.ID, nil, &no); err != nil || c.Resolved {
		t.Fatalf("editor reopens: %+v %v", c, err)
	}
	_, err = f.svc.Update(ctx, "doc", gdoc.RoleEditor, bob, r.ID, nil, &yes)
	requireCode(t, err, gdoc.EINVALID)
	// Only the author edits the text, whatever their role.
	body := "edited"
	_, err = f.svc.Update(ctx, "doc", gdoc.RoleOwner, ann, r.ID, &body, nil)
	requireCode(t, err, gdoc.EFORBIDDEN)
	if c, err := f.svc.Update(ctx, "doc", gdoc.RoleViewer, vera, r.ID, &body, nil); err != nil || c.Body != "edited" || c.Anchor != th.Anchor {
		t.Fatalf("author edits: %+v %v", c, err)
	}
	_, err = f.svc.Update(ctx, "doc", gdoc.RoleViewer, vera, r.ID, nil, nil)
	requireCode(t, err, gdoc.EINVALID)
	// Deleting: the author or the owner; not another editor.
	requireCode(t, f.svc.Delete(ctx, "doc", gdoc.RoleEditor, bob, own.ID), gdoc.EFORBIDDEN)
	requireCode(t, f.svc.Delete(ctx, "doc", gdoc.RoleViewer, vera, rr.ID), gdoc.EFORBIDDEN)
	if err := f.svc.Delete(ctx, "doc", gdoc.RoleViewer, vera, own.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, "doc", gdoc.RoleOwner, ann, th.ID); err != nil {
		t.Fatal(err)
	}
	// A stranger neither sees nor writes anything; signing in is required to write.
	_, err = f.svc.List(ctx, "doc", gdoc.RoleNone)
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = f.svc.Create(ctx, "doc", gdoc.RoleNone, ann, NewComment{Anchor: anchor, Body: "x"})
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = f.svc.Update(ctx, "doc", gdoc.RoleNone, bob, th.ID, &body, nil)
	requireCode(t, err, gdoc.ENOTFOUND)
	requireCode(t, f.svc.Delete(ctx, "doc", gdoc.RoleNone, bob, th.ID), gdoc.ENOTFOUND)
	_, err = f.svc.Create(ctx, "doc", gdoc.RoleViewer, nil, NewComment{Anchor: anchor, Body: "x"})
	requireCode(t, err, gdoc.EUNAUTHORIZED)

	if list, _ := f.svc.List(ctx, "doc", gdoc.RoleViewer); len(list) != 0 {
		t.Fatalf("left: %+v", list)
	}
	var actions []string
	for _, ev := range f.events {
		actions = append(actions, ev.Action)
	}
	want := "[created created created created resolved resolved resolved updated deleted deleted]"
	if got := "[" + joinSpace(actions) + "]"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
}

func joinSpace(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// A thread older than the kept op history (HISTORY_KEEP_REVISIONS trimmed
// it) cannot be followed: it is detached and kept with its quote; a new
// thread at such a revision is refused with a sentence.
func TestAnchorOlderThanTheKeptHistory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "abc\ndef\n")
	th, err := f.svc.Create(ctx, "doc", gdoc.RoleEditor, ann, NewComment{Anchor: &gdoc.Anchor{Rev: 0, From: 4, To: 7}, Body: "def?"})
	if err != nil {
		t.Fatal(err)
	}
	f.edit(`["x"]`)
	f.edit(`["y"]`)
	d, _ := f.texts.Current(ctx, "doc")
	if err := f.store.SaveSnapshot(ctx, "doc", d.Content, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "doc", Rev: 2, Content: d.Content}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.TrimHistory(ctx, "doc", 2); err != nil {
		t.Fatal(err)
	}
	f.edit(`["z"]`)
	list, err := f.svc.List(ctx, "doc", gdoc.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != th.ID || !list[0].Detached || list[0].Quote != "def" || list[0].Anchor.Rev != 3 {
		t.Fatalf("a thread older than the kept history: %+v", list)
	}
	_, err = f.svc.Create(ctx, "doc", gdoc.RoleEditor, ann, NewComment{Anchor: &gdoc.Anchor{Rev: 1, From: 0, To: 1}, Body: "old"})
	requireCode(t, err, gdoc.EINVALID)
}
