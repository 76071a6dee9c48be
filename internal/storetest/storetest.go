// Package storetest is the conformance suite every gdoc.Store must pass, and
// the benchmarks that compare them.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Run runs the conformance suite. open returns a fresh, empty store for one
// subtest and arranges for it to be closed (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) gdoc.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s gdoc.Store)
	}{
		{"Ping", testPing},
		{"CreateUser/OK", testCreateUserOK},
		{"CreateUser/ErrDuplicateUsername", testCreateUserDuplicateUsername},
		{"CreateUser/ErrDuplicateEmail", testCreateUserDuplicateEmail},
		{"CreateUser/ErrEmptyFields", testCreateUserEmpty},
		{"UserByID/ErrNotFound", testUserByIDNotFound},
		{"UserByUsername/CaseInsensitive", testUserByUsername},
		{"CreateDocument/OK", testCreateDocumentOK},
		{"CreateDocument/ErrDuplicateID", testCreateDocumentDuplicate},
		{"CreateDocument/ErrInvalidID", testCreateDocumentInvalidID},
		{"CreateDocument/ErrUnknownOwner", testCreateDocumentUnknownOwner},
		{"CreateDocument/InitialRevContinuesLog", testCreateDocumentInitialRev},
		{"Document/ErrNotFound", testDocumentNotFound},
		{"Documents/ListPublicAndOwn", testDocumentsListPublicAndOwn},
		{"UpdateDocumentMeta/OnlyGivenFields", testUpdateDocumentMeta},
		{"UpdateDocumentMeta/ErrNotFound", testUpdateDocumentMetaNotFound},
		{"SaveSnapshot/OK", testSaveSnapshotOK},
		{"SaveSnapshot/IgnoresOlder", testSaveSnapshotIgnoresOlder},
		{"SaveSnapshot/ErrAheadOfHead", testSaveSnapshotAhead},
		{"SaveSnapshot/ErrNotFound", testSaveSnapshotNotFound},
		{"SaveSnapshot/RacingSavesKeepTextWithItsRev", testSaveSnapshotRacing},
		{"AppendOps/GapFreeRevisions", testAppendGapFree},
		{"AppendOps/ErrStaleBaseRev", testAppendStaleBase},
		{"AppendOps/ConflictingBatchIsolated", testAppendConflictIsolated},
		{"AppendOps/DuplicateOpID", testAppendDuplicateOpID},
		{"AppendOps/OpIDPerUser", testAppendOpIDPerUser},
		{"AppendOps/ConsecutiveBatchesInOneCall", testAppendConsecutiveBatches},
		{"AppendOps/ErrUnknownDocument", testAppendUnknownDocument},
		{"AppendOps/ErrMalformedBatch", testAppendMalformed},
		{"AppendOps/LargeBatch", testAppendLargeBatch},
		{"AppendOps/OpsWithoutIDAreNotDeduplicated", testAppendWithoutIDs},
		{"AppendOps/ConcurrentWritersNeverShareARev", testAppendConcurrent},
		{"AppendOps/CanceledCommitsNothing", testAppendCanceled},
		{"Ops/Range", testOpsRange},
		{"Ops/UnknownDocumentIsEmpty", testOpsUnknownDocument},
		{"OpRev/ErrNotFound", testOpRevNotFound},
		{"Chat/Paging", testChatPaging},
		{"Chat/ErrUnknownDocument", testChatUnknownDocument},
		{"Chat/ErrBadLimit", testChatBadLimit},
		{"Sessions/StartEndList", testSessions},
		{"Sessions/ErrNotFound", testSessionsNotFound},
		{"Sessions/StartBatch", testStartSessions},
		{"Sessions/EndBatch", testEndSessions},
		{"RevokedTokens", testRevokedTokens},
		{"RaiseTokenEpoch", testRaiseTokenEpoch},
		{"UserForToken", testUserForToken},
		{"DeleteDocument/Cascades", testDeleteCascades},
		{"DeleteDocument/ErrNotFound", testDeleteNotFound},
		{"Checkpoint/FirstIsTheTextAsCreated", testCheckpointFirstIsCreation},
		{"Checkpoint/NewestAtOrBefore", testCheckpointNearest},
		{"Restores/MarkAndRange", testRestores},
		{"TrimHistory/StartsAtACheckpoint", testTrimHistory},
		{"Unicode/RoundTrip", testUnicodeRoundTrip},
		{"Unicode/ErrNUL", testUnicodeNUL},
		{"Unicode/ErrInvalidUTF8", testInvalidUTF8},
	}
	tests = append(tests, sharingTests...)
	tests = append(tests, commentTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// Open opens a store with open(ctx, source), failing tb if it cannot, and
// closes it when the test ends (failing tb if Close fails).
func Open[S gdoc.Store](tb testing.TB, open func(context.Context, string) (S, error), source string) S {
	tb.Helper()
	s, err := open(context.Background(), source)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// requireCode fails t unless err carries the gdoc error code want.
func requireCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := gdoc.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustUser(t *testing.T, s gdoc.Store, name string) *gdoc.User {
	t.Helper()
	u := &gdoc.User{Username: name, Email: name + "@example.com", PasswordHash: "hash-of-" + name}
	must(t, s.CreateUser(context.Background(), u))
	return u
}

func mustDoc(t *testing.T, s gdoc.Store, id, ownerID string, public bool) *gdoc.Document {
	t.Helper()
	d := &gdoc.Document{ID: id, Title: "Title " + id, Content: "content of " + id, Language: "go", OwnerID: ownerID, Public: public}
	must(t, s.CreateDocument(context.Background(), d))
	return d
}

// opsFrom builds a batch of n insert ops for docID based on baseRev, with
// op ids prefix:<rev>.
func opsFrom(docID string, baseRev int64, n int, prefix string) gdoc.OpBatch {
	b := gdoc.OpBatch{DocID: docID, BaseRev: baseRev}
	for i := range n {
		rev := baseRev + 1 + int64(i)
		b.Ops = append(b.Ops, gdoc.CommittedOp{
			DocID:  docID,
			Rev:    rev,
			OpID:   prefix + ":" + strconv.FormatInt(rev, 10),
			UserID: "1",
			Op:     json.RawMessage(fmt.Sprintf(`[%d,"x"]`, rev)),
		})
	}
	return b
}

// appendAll appends batches in one call and fails t unless the call itself
// succeeded; it returns the per-batch results.
func appendAll(t *testing.T, s gdoc.Store, batches ...gdoc.OpBatch) []error {
	t.Helper()
	results, err := s.AppendOps(context.Background(), batches)
	must(t, err)
	if len(results) != len(batches) {
		t.Fatalf("AppendOps returned %d results for %d batches", len(results), len(batches))
	}
	return results
}

// requireSnapshot fails t unless document docID holds content at revision
// rev.
func requireSnapshot(t *testing.T, s gdoc.Store, docID, content string, rev int64) {
	t.Helper()
	got, err := s.Document(context.Background(), docID)
	must(t, err)
	if got.Content != content || got.Rev != rev {
		t.Fatalf("Document(%q) = %q at %d, want %q at %d", docID, got.Content, got.Rev, content, rev)
	}
}

// requireRevs fails t unless docID's log holds exactly revisions 1..n in
// order, and its head is n.
func requireRevs(t *testing.T, s gdoc.Store, docID string, n int64) []gdoc.CommittedOp {
	t.Helper()
	ctx := context.Background()
	ops, err := s.Ops(ctx, docID, 0, 0)
	must(t, err)
	if int64(len(ops)) != n {
		t.Fatalf("document %q has %d ops, want %d", docID, len(ops), n)
	}
	for i, op := range ops {
		if op.Rev != int64(i)+1 {
			t.Fatalf("op %d has rev %d, want %d (revisions %v)", i, op.Rev, i+1, revsOf(ops))
		}
		if op.DocID != docID {
			t.Fatalf("op %d has doc id %q, want %q", i, op.DocID, docID)
		}
	}
	head, err := s.HeadRev(ctx, docID)
	must(t, err)
	if head != n {
		t.Fatalf("HeadRev = %d, want %d", head, n)
	}
	return ops
}

func revsOf(ops []gdoc.CommittedOp) []int64 {
	revs := make([]int64, len(ops))
	for i, op := range ops {
		revs[i] = op.Rev
	}
	return revs
}

func testPing(t *testing.T, s gdoc.Store) {
	must(t, s.Ping(context.Background()))
}

func testCreateUserOK(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	if alice.ID == "" || bob.ID == "" || alice.ID == bob.ID {
		t.Fatalf("user ids %q and %q: want two distinct ids", alice.ID, bob.ID)
	}
	if _, err := strconv.ParseInt(alice.ID, 10, 64); err != nil {
		t.Fatalf("user id %q is not a decimal string", alice.ID)
	}
	if alice.CreatedAt.Before(before) || alice.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("CreatedAt = %v, want about now", alice.CreatedAt)
	}
	got, err := s.UserByID(ctx, alice.ID)
	must(t, err)
	if got.ID != alice.ID || got.Username != "alice" || got.Email != "alice@example.com" ||
		got.PasswordHash != "hash-of-alice" || !got.CreatedAt.Equal(alice.CreatedAt) {
		t.Fatalf("UserByID = %+v, want %+v", got, alice)
	}
}

func testCreateUserDuplicateUsername(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustUser(t, s, "alice")
	u := &gdoc.User{Username: "ALICE", Email: "other@example.com", PasswordHash: "h"}
	requireCode(t, s.CreateUser(ctx, u), gdoc.ECONFLICT)
	if u.ID != "" {
		t.Fatalf("a refused user got id %q", u.ID)
	}
	if _, err := s.UserByUsername(ctx, "other"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("the refused user was stored: %v", err)
	}
}

func testCreateUserDuplicateEmail(t *testing.T, s gdoc.Store) {
	mustUser(t, s, "alice")
	u := &gdoc.User{Username: "alice2", Email: "Alice@Example.COM", PasswordHash: "h"}
	requireCode(t, s.CreateUser(context.Background(), u), gdoc.ECONFLICT)
	requireCode(t, func() error { _, err := s.UserByUsername(context.Background(), "alice2"); return err }(), gdoc.ENOTFOUND)
}

func testCreateUserEmpty(t *testing.T, s gdoc.Store) {
	requireCode(t, s.CreateUser(context.Background(), &gdoc.User{Username: "", Email: "a@b.c"}), gdoc.EINVALID)
	requireCode(t, s.CreateUser(context.Background(), &gdoc.User{Username: "a", Email: ""}), gdoc.EINVALID)
}

func testUserByIDNotFound(t *testing.T, s gdoc.Store) {
	u := mustUser(t, s, "alice")
	n, _ := strconv.ParseInt(u.ID, 10, 64)
	for _, id := range []string{strconv.FormatInt(n+1000, 10), "", "abc", "0", "-1", "01", "1 OR 1=1"} {
		_, err := s.UserByID(context.Background(), id)
		requireCode(t, err, gdoc.ENOTFOUND)
	}
}

func testUserByUsername(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "Alice")
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		got, err := s.UserByUsername(ctx, name)
		must(t, err)
		if got.ID != alice.ID || got.Username != "Alice" {
			t.Fatalf("UserByUsername(%q) = %+v, want %+v", name, got, alice)
		}
	}
	_, err := s.UserByUsername(ctx, "bob")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testCreateDocumentOK(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	d := &gdoc.Document{ID: "my-project", Title: "My Project", Content: "package main\n", Language: "go", OwnerID: alice.ID, Public: true}
	must(t, s.CreateDocument(ctx, d))
	if d.CreatedAt.IsZero() || !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Fatalf("CreatedAt %v, UpdatedAt %v: want both set and equal", d.CreatedAt, d.UpdatedAt)
	}
	got, err := s.Document(ctx, "my-project")
	must(t, err)
	want := *d
	if got.ID != want.ID || got.Title != want.Title || got.Content != want.Content || got.Language != want.Language ||
		got.OwnerID != alice.ID || !got.Public || got.Rev != 0 || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("Document = %+v, want %+v", got, want)
	}
	head, err := s.HeadRev(ctx, "my-project")
	must(t, err)
	if head != 0 {
		t.Fatalf("HeadRev of a new document = %d, want 0", head)
	}

	// A document may have no owner, and may be private.
	must(t, s.CreateDocument(ctx, &gdoc.Document{ID: "orphan", Title: "t"}))
	got, err = s.Document(ctx, "orphan")
	must(t, err)
	if got.OwnerID != "" || got.Public || got.Content != "" {
		t.Fatalf("Document(orphan) = %+v, want no owner, private, empty", got)
	}
}

func testCreateDocumentDuplicate(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "doc", Title: "other", Content: "other"}), gdoc.ECONFLICT)
	got, err := s.Document(ctx, "doc")
	must(t, err)
	if got.Content != "content of doc" {
		t.Fatalf("a refused create changed the document: %+v", got)
	}
}

func testCreateDocumentInvalidID(t *testing.T, s gdoc.Store) {
	for _, id := range []string{"", "-leading-dash", "has space", "a/b", string(make([]byte, 65))} {
		requireCode(t, s.CreateDocument(context.Background(), &gdoc.Document{ID: id, Title: "t"}), gdoc.EINVALID)
	}
	docs, err := s.Documents(context.Background(), "")
	must(t, err)
	if len(docs) != 0 {
		t.Fatalf("refused documents were stored: %d", len(docs))
	}
}

func testCreateDocumentUnknownOwner(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "doc", Title: "t", OwnerID: "999999"}), gdoc.ENOTFOUND)
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "doc", Title: "t", OwnerID: "alice"}), gdoc.ENOTFOUND)
	_, err := s.Document(ctx, "doc")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testCreateDocumentInitialRev(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	must(t, s.CreateDocument(ctx, &gdoc.Document{ID: "imported", Title: "t", Content: "abc", Rev: 5}))
	head, err := s.HeadRev(ctx, "imported")
	must(t, err)
	if head != 5 {
		t.Fatalf("HeadRev = %d, want 5", head)
	}
	results := appendAll(t, s, opsFrom("imported", 0, 1, "c"), opsFrom("imported", 5, 1, "c"))
	requireCode(t, results[0], gdoc.ECONFLICT)
	must(t, results[1])
	ops, err := s.Ops(ctx, "imported", 0, 0)
	must(t, err)
	if !slices.Equal(revsOf(ops), []int64{6}) {
		t.Fatalf("revisions %v, want [6]", revsOf(ops))
	}
}

func testDocumentNotFound(t *testing.T, s gdoc.Store) {
	_, err := s.Document(context.Background(), "nope")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testDocumentsListPublicAndOwn(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustDoc(t, s, "alice-public", alice.ID, true)
	mustDoc(t, s, "alice-private", alice.ID, false)
	mustDoc(t, s, "bob-public", bob.ID, true)
	mustDoc(t, s, "bob-private", bob.ID, false)
	// Editing alice-public makes it the most recently updated.
	time.Sleep(5 * time.Millisecond)
	_, err := s.UpdateDocumentMeta(ctx, "alice-public", nil, nil, nil)
	must(t, err)

	ids := func(viewer string) []string {
		docs, err := s.Documents(ctx, viewer)
		must(t, err)
		var ids []string
		for _, d := range docs {
			if d.Content != "" {
				t.Fatalf("Documents returned content for %q", d.ID)
			}
			if d.Title != "Title "+d.ID {
				t.Fatalf("Documents returned title %q for %q", d.Title, d.ID)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}
	anonymous := ids("")
	if len(anonymous) != 2 || anonymous[0] != "alice-public" || !slices.Contains(anonymous, "bob-public") {
		t.Fatalf("anonymous sees %v, want [alice-public bob-public] newest first", anonymous)
	}
	asAlice := ids(alice.ID)
	slices.Sort(asAlice)
	if !slices.Equal(asAlice, []string{"alice-private", "alice-public", "bob-public"}) {
		t.Fatalf("alice sees %v", asAlice)
	}
	asBob := ids(bob.ID)
	slices.Sort(asBob)
	if !slices.Equal(asBob, []string{"alice-public", "bob-private", "bob-public"}) {
		t.Fatalf("bob sees %v", asBob)
	}
	if got := ids("not-a-user"); len(got) != 2 {
		t.Fatalf("an unknown viewer sees %v, want the 2 public documents", got)
	}
}

func testUpdateDocumentMeta(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	d := mustDoc(t, s, "doc", "", true)
	time.Sleep(2 * time.Millisecond)
	title := "New title"
	got, err := s.UpdateDocumentMeta(ctx, "doc", &title, nil, nil)
	must(t, err)
	if got.Title != title || got.Language != "go" || !got.Public || got.Content != d.Content || !got.UpdatedAt.After(d.UpdatedAt) {
		t.Fatalf("after a title change: %+v", got)
	}
	lang, private := "python", false
	got, err = s.UpdateDocumentMeta(ctx, "doc", nil, &lang, &private)
	must(t, err)
	if got.Title != title || got.Language != "python" || got.Public {
		t.Fatalf("after a language and publicity change: %+v", got)
	}
	stored, err := s.Document(ctx, "doc")
	must(t, err)
	if stored.Title != title || stored.Language != "python" || stored.Public {
		t.Fatalf("stored: %+v", stored)
	}
}

func testUpdateDocumentMetaNotFound(t *testing.T, s gdoc.Store) {
	title := "x"
	_, err := s.UpdateDocumentMeta(context.Background(), "nope", &title, nil, nil)
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testSaveSnapshotOK(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 3, "c"))[0], "")
	must(t, s.SaveSnapshot(ctx, "doc", "text at 3", 3))
	requireSnapshot(t, s, "doc", "text at 3", 3)
}

func testSaveSnapshotIgnoresOlder(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 5, "c"))[0], "")
	must(t, s.SaveSnapshot(ctx, "doc", "text at 4", 4))
	must(t, s.SaveSnapshot(ctx, "doc", "text at 2", 2))
	must(t, s.SaveSnapshot(ctx, "doc", "again at 4", 4))
	requireSnapshot(t, s, "doc", "text at 4", 4)
}

func testSaveSnapshotAhead(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	requireCode(t, s.SaveSnapshot(ctx, "doc", "from the future", 1), gdoc.EINVALID)
	requireCode(t, s.SaveSnapshot(ctx, "doc", "negative", -1), gdoc.EINVALID)
	requireSnapshot(t, s, "doc", "content of doc", 0)
}

// testSaveSnapshotRacing saves snapshots of one document at every revision
// at once: whichever order they land in, the newest wins, and the stored
// text is the one saved with the stored revision.
func testSaveSnapshotRacing(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	const revs = 8
	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, revs, "c"))[0], "")
	var wg sync.WaitGroup
	errs := make([]error, revs+1)
	for rev := int64(1); rev <= revs; rev++ {
		wg.Go(func() { errs[rev] = s.SaveSnapshot(ctx, "doc", fmt.Sprintf("text at %d", rev), rev) })
	}
	wg.Wait()
	for rev, err := range errs {
		if err != nil {
			t.Fatalf("SaveSnapshot at %d: %v", rev, err)
		}
	}
	requireSnapshot(t, s, "doc", fmt.Sprintf("text at %d", revs), revs)
}

func testSaveSnapshotNotFound(t *testing.T, s gdoc.Store) {
	requireCode(t, s.SaveSnapshot(context.Background(), "nope", "x", 0), gdoc.ENOTFOUND)
}

func testAppendGapFree(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	var rev int64
	for _, n := range []int{1, 3, 1, 5} {
		b := opsFrom("doc", rev, n, "c")
		requireCode(t, appendAll(t, s, b)[0], "")
		rev += int64(n)
	}
	ops := requireRevs(t, s, "doc", 10)
	for _, op := range ops {
		want := fmt.Sprintf(`[%d,"x"]`, op.Rev)
		if string(op.Op) != want || op.OpID != "c:"+strconv.FormatInt(op.Rev, 10) || op.UserID != "1" || op.CreatedAt.IsZero() {
			t.Fatalf("op %d = %+v (op %s), want op %s", op.Rev, op, op.Op, want)
		}
	}
	// A batch that would leave a gap is refused.
	requireCode(t, appendAll(t, s, opsFrom("doc", 12, 1, "gap"))[0], gdoc.ECONFLICT)
	requireRevs(t, s, "doc", 10)
	_, err := s.OpRev(ctx, "doc", "1", "gap:13")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testAppendStaleBase(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 2, "a"))[0], "")
	// Based on revision 1 while the head is 2: the op must be transformed
	// first, so the store refuses it.
	requireCode(t, appendAll(t, s, opsFrom("doc", 1, 1, "b"))[0], gdoc.ECONFLICT)
	ops := requireRevs(t, s, "doc", 2)
	if ops[1].OpID != "a:2" {
		t.Fatalf("revision 2 is %q, want a:2", ops[1].OpID)
	}
}

func testAppendConflictIsolated(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "a", "", true)
	mustDoc(t, s, "b", "", true)
	mustDoc(t, s, "c", "", true)
	requireCode(t, appendAll(t, s, opsFrom("b", 0, 1, "first"))[0], "")
	results := appendAll(t, s,
		opsFrom("c", 0, 2, "c"),
		opsFrom("b", 0, 3, "second"), // stale: b is at 1
		opsFrom("a", 0, 1, "a"),
	)
	requireCode(t, results[0], "")
	requireCode(t, results[1], gdoc.ECONFLICT)
	requireCode(t, results[2], "")
	requireRevs(t, s, "a", 1)
	requireRevs(t, s, "c", 2)
	ops := requireRevs(t, s, "b", 1)
	if ops[0].OpID != "first:1" {
		t.Fatalf("b's revision 1 is %q, want first:1", ops[0].OpID)
	}

	// A batch whose op id collides is rolled back whole (including its head
	// advance) while its neighbours commit.
	dup := opsFrom("b", 1, 2, "dup")
	dup.Ops[1].OpID = "first:1"
	results = appendAll(t, s, opsFrom("a", 1, 1, "a"), dup, opsFrom("c", 2, 1, "c"))
	requireCode(t, results[0], "")
	requireCode(t, results[1], gdoc.ECONFLICT)
	requireCode(t, results[2], "")
	requireRevs(t, s, "a", 2)
	requireRevs(t, s, "b", 1)
	requireRevs(t, s, "c", 3)
	// b's head did not move: a batch based on 1 still fits.
	requireCode(t, appendAll(t, s, opsFrom("b", 1, 1, "later"))[0], "")
	requireRevs(t, s, "b", 2)
}

func testAppendDuplicateOpID(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "other", "", true)
	first := opsFrom("doc", 0, 1, "client")
	requireCode(t, appendAll(t, s, first)[0], "")
	// A resend of the same op (after a reconnect), now based on the head.
	resend := opsFrom("doc", 1, 1, "x")
	resend.Ops[0].OpID = "client:1"
	requireCode(t, appendAll(t, s, resend)[0], gdoc.ECONFLICT)
	requireRevs(t, s, "doc", 1)
	rev, err := s.OpRev(ctx, "doc", "1", "client:1")
	must(t, err)
	if rev != 1 {
		t.Fatalf("OpRev = %d, want 1", rev)
	}
	// Op ids are unique per document, not globally.
	other := opsFrom("other", 0, 1, "x")
	other.Ops[0].OpID = "client:1"
	requireCode(t, appendAll(t, s, other)[0], "")
	// Two ops with one id in one batch.
	twice := opsFrom("doc", 1, 2, "twice")
	twice.Ops[1].OpID = twice.Ops[0].OpID
	err = appendAll(t, s, twice)[0]
	requireCode(t, err, gdoc.ECONFLICT)
	if !errors.Is(err, gdoc.ErrOpIDTaken) {
		t.Fatalf("a duplicate id in one batch: %v, want it to wrap ErrOpIDTaken", err)
	}
	requireRevs(t, s, "doc", 1)
}

// testAppendOpIDPerUser: op ids belong to their author. Another user's op
// with my id commits (it cannot pre-empt mine); my own id again is a
// conflict that says an op id was the cause (not a taken revision), and
// OpRev answers per user.
func testAppendOpIDPerUser(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mine := opsFrom("doc", 0, 1, "k")
	requireCode(t, appendAll(t, s, mine)[0], "")
	theirs := opsFrom("doc", 1, 1, "k")
	theirs.Ops[0].OpID, theirs.Ops[0].UserID = "k:1", "2"
	requireCode(t, appendAll(t, s, theirs)[0], "")
	requireRevs(t, s, "doc", 2)
	for _, tc := range []struct {
		user string
		want int64
	}{{"1", 1}, {"2", 2}} {
		rev, err := s.OpRev(ctx, "doc", tc.user, "k:1")
		must(t, err)
		if rev != tc.want {
			t.Fatalf("OpRev(user %s, k:1) = %d, want %d", tc.user, rev, tc.want)
		}
	}
	_, err := s.OpRev(ctx, "doc", "3", "k:1")
	requireCode(t, err, gdoc.ENOTFOUND)

	again := opsFrom("doc", 2, 2, "again")
	again.Ops[1].OpID = "k:1" // user 1's id, committed at revision 1
	err = appendAll(t, s, again)[0]
	requireCode(t, err, gdoc.ECONFLICT)
	if !errors.Is(err, gdoc.ErrOpIDTaken) {
		t.Fatalf("user 1's id again: %v, want it to wrap ErrOpIDTaken", err)
	}
	requireRevs(t, s, "doc", 2)
	// A taken revision is a conflict of another kind.
	err = appendAll(t, s, opsFrom("doc", 1, 1, "stale"))[0]
	requireCode(t, err, gdoc.ECONFLICT)
	if errors.Is(err, gdoc.ErrOpIDTaken) {
		t.Fatalf("a stale base: %v wraps ErrOpIDTaken", err)
	}
}

func testAppendConsecutiveBatches(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	// Given out of order: the store applies a document's batches by base
	// revision, so both commit.
	results := appendAll(t, s, opsFrom("doc", 2, 1, "c"), opsFrom("doc", 0, 2, "c"))
	requireCode(t, results[0], "")
	requireCode(t, results[1], "")
	requireRevs(t, s, "doc", 3)
}

func testAppendUnknownDocument(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	results := appendAll(t, s, opsFrom("nope", 0, 1, "c"), opsFrom("doc", 0, 1, "c"))
	requireCode(t, results[0], gdoc.ENOTFOUND)
	requireCode(t, results[1], "")
	requireRevs(t, s, "doc", 1)
	requireRevs(t, s, "nope", 0)
}

func testAppendMalformed(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	skipped := opsFrom("doc", 0, 2, "c")
	skipped.Ops[1].Rev = 3
	otherDoc := opsFrom("doc", 0, 1, "c")
	otherDoc.Ops[0].DocID = "other"
	badJSON := opsFrom("doc", 0, 1, "c")
	badJSON.Ops[0].Op = json.RawMessage(`[3,"x"`)
	nulID := opsFrom("doc", 0, 1, "c")
	nulID.Ops[0].OpID = "a\x00b"
	negative := opsFrom("doc", -1, 1, "c")
	empty := gdoc.OpBatch{DocID: "doc"}
	results := appendAll(t, s, skipped, otherDoc, badJSON, nulID, negative, empty)
	for i, err := range results {
		if gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Errorf("batch %d: error %v, want %s", i, err, gdoc.EINVALID)
		}
	}
	requireRevs(t, s, "doc", 0)
}

func testAppendLargeBatch(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	// Larger than one multi-row INSERT holds.
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 250, "c"))[0], "")
	requireRevs(t, s, "doc", 250)
	// A collision in the last op rolls back every chunk of the batch.
	b := opsFrom("doc", 250, 250, "d")
	b.Ops[249].OpID = "c:1"
	requireCode(t, appendAll(t, s, b)[0], gdoc.ECONFLICT)
	requireRevs(t, s, "doc", 250)
}

func testAppendWithoutIDs(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	b := opsFrom("doc", 0, 3, "c")
	for i := range b.Ops {
		b.Ops[i].OpID = ""
	}
	requireCode(t, appendAll(t, s, b)[0], "")
	for _, op := range requireRevs(t, s, "doc", 3) {
		if op.OpID != "" {
			t.Fatalf("op %d has id %q, want none", op.Rev, op.OpID)
		}
	}
}

func testAppendConcurrent(t *testing.T, s gdoc.Store) {
	const writers, opsPerWriter, maxAttempts = 8, 8, 500
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range opsPerWriter {
				opID := fmt.Sprintf("w%d:%d", w, i)
				for attempt := 0; ; attempt++ {
					if attempt == maxAttempts {
						errs <- fmt.Errorf("writer %d gave up on op %d", w, i)
						return
					}
					head, err := s.HeadRev(ctx, "doc")
					if err != nil {
						errs <- err
						return
					}
					b := gdoc.OpBatch{DocID: "doc", BaseRev: head, Ops: []gdoc.CommittedOp{{
						Rev: head + 1, OpID: opID, UserID: strconv.Itoa(w), Op: json.RawMessage(`["x"]`),
					}}}
					results, err := s.AppendOps(ctx, []gdoc.OpBatch{b})
					if err != nil {
						errs <- err
						return
					}
					if results[0] == nil {
						break
					}
					if gdoc.ErrorCode(results[0]) != gdoc.ECONFLICT {
						errs <- results[0]
						return
					}
					conflicts.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ops := requireRevs(t, s, "doc", writers*opsPerWriter)
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.OpID] {
			t.Fatalf("op %q committed twice", op.OpID)
		}
		seen[op.OpID] = true
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

func testAppendCanceled(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AppendOps(ctx, []gdoc.OpBatch{opsFrom("doc", 0, 1, "c")}); err == nil {
		t.Fatal("AppendOps with a canceled context succeeded")
	}
	requireRevs(t, s, "doc", 0)
	// The store is still usable, for the same op.
	for range 3 {
		requireCode(t, appendAll(t, s, opsFrom("other", 0, 1, "c"), opsFrom("doc", 0, 1, "c"))[1], "")
		requireRevs(t, s, "doc", 1)
		must(t, s.DeleteDocument(context.Background(), "doc"))
		mustDoc(t, s, "doc", "", true)
	}
}

func testOpsRange(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "other", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 10, "c"), opsFrom("other", 0, 3, "o"))[0], "")
	for _, tc := range []struct {
		from, to int64
		want     []int64
	}{
		{0, 0, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{3, 6, []int64{4, 5, 6}},
		{7, 0, []int64{8, 9, 10}},
		{7, -1, []int64{8, 9, 10}},
		{9, 20, []int64{10}},
		{10, 0, nil},
		{6, 6, nil},
		{-5, 2, []int64{1, 2}},
	} {
		ops, err := s.Ops(ctx, "doc", tc.from, tc.to)
		must(t, err)
		if !slices.Equal(revsOf(ops), tc.want) {
			t.Errorf("Ops(%d, %d) revisions %v, want %v", tc.from, tc.to, revsOf(ops), tc.want)
		}
	}
	rev, err := s.OpRev(ctx, "doc", "1", "c:7")
	must(t, err)
	if rev != 7 {
		t.Fatalf("OpRev(c:7) = %d, want 7", rev)
	}
}

func testOpsUnknownDocument(t *testing.T, s gdoc.Store) {
	ops, err := s.Ops(context.Background(), "nope", 0, 0)
	must(t, err)
	if len(ops) != 0 {
		t.Fatalf("Ops of an unknown document: %v", ops)
	}
}

func testOpRevNotFound(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 1, "c"))[0], "")
	_, err := s.OpRev(context.Background(), "doc", "1", "c:2")
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.OpRev(context.Background(), "other", "1", "c:1")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testChatPaging(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "other", "", true)
	var ids []int64
	for i := range 7 {
		m := &gdoc.ChatMessage{DocID: "doc", UserID: "1", Username: "alice", Message: fmt.Sprintf("message %d", i)}
		must(t, s.AddChatMessage(ctx, m))
		if m.ID == 0 || m.CreatedAt.IsZero() {
			t.Fatalf("AddChatMessage left id %d, created %v", m.ID, m.CreatedAt)
		}
		ids = append(ids, m.ID)
	}
	must(t, s.AddChatMessage(ctx, &gdoc.ChatMessage{DocID: "other", UserID: "1", Username: "alice", Message: "elsewhere"}))
	stamp := time.UnixMilli(1764150000123).UTC()
	set := &gdoc.ChatMessage{DocID: "other", UserID: "2", Username: "bob", Message: "dated", CreatedAt: stamp}
	must(t, s.AddChatMessage(ctx, set))

	texts := func(msgs []*gdoc.ChatMessage) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, m.Message)
		}
		return out
	}
	latest, err := s.ChatMessages(ctx, "doc", 0, 3)
	must(t, err)
	if got := texts(latest); !slices.Equal(got, []string{"message 4", "message 5", "message 6"}) {
		t.Fatalf("latest page %v", got)
	}
	older, err := s.ChatMessages(ctx, "doc", latest[0].ID, 3)
	must(t, err)
	if got := texts(older); !slices.Equal(got, []string{"message 1", "message 2", "message 3"}) {
		t.Fatalf("older page %v", got)
	}
	oldest, err := s.ChatMessages(ctx, "doc", older[0].ID, 3)
	must(t, err)
	if got := texts(oldest); !slices.Equal(got, []string{"message 0"}) {
		t.Fatalf("oldest page %v", got)
	}
	if oldest[0].ID != ids[0] || oldest[0].UserID != "1" || oldest[0].Username != "alice" || oldest[0].DocID != "doc" {
		t.Fatalf("oldest message %+v", oldest[0])
	}
	other, err := s.ChatMessages(ctx, "other", 0, 50)
	must(t, err)
	if len(other) != 2 || !other[1].CreatedAt.Equal(stamp) || other[1].Username != "bob" {
		t.Fatalf("other's chat %+v", other)
	}
}

func testChatUnknownDocument(t *testing.T, s gdoc.Store) {
	m := &gdoc.ChatMessage{DocID: "nope", UserID: "1", Username: "alice", Message: "hi"}
	requireCode(t, s.AddChatMessage(context.Background(), m), gdoc.ENOTFOUND)
	if m.ID != 0 {
		t.Fatalf("a refused message got id %d", m.ID)
	}
}

func testChatBadLimit(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	_, err := s.ChatMessages(context.Background(), "doc", 0, 0)
	requireCode(t, err, gdoc.EINVALID)
}

func testSessions(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	base := time.UnixMilli(1764150000000).UTC()
	var sessions []*gdoc.DocSession
	for i := range 3 {
		sess := &gdoc.DocSession{DocID: "doc", UserID: strconv.Itoa(i + 1), ServerID: "server-a", JoinedAt: base.Add(time.Duration(i) * time.Minute)}
		must(t, s.StartSession(ctx, sess))
		if sess.ID == 0 {
			t.Fatal("StartSession left ID 0")
		}
		sessions = append(sessions, sess)
	}
	left := base.Add(time.Hour)
	must(t, s.EndSession(ctx, sessions[1].ID, left))

	got, err := s.Sessions(ctx, "doc", 2)
	must(t, err)
	if len(got) != 2 || got[0].ID != sessions[2].ID || got[1].ID != sessions[1].ID {
		t.Fatalf("Sessions = %+v, want the newest two, newest first", got)
	}
	if got[0].LeftAt != nil || got[1].LeftAt == nil || !got[1].LeftAt.Equal(left) {
		t.Fatalf("LeftAt: %v and %v, want nil and %v", got[0].LeftAt, got[1].LeftAt, left)
	}
	if got[1].UserID != "2" || got[1].ServerID != "server-a" || !got[1].JoinedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("session %+v", got[1])
	}
	requireCode(t, s.StartSession(ctx, &gdoc.DocSession{DocID: "nope", UserID: "1"}), gdoc.ENOTFOUND)
	_, err = s.Sessions(ctx, "doc", 0)
	requireCode(t, err, gdoc.EINVALID)
}

func testStartSessions(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "other", "", true)
	base := time.UnixMilli(1764150000000).UTC()
	left := base.Add(time.Hour)
	batch := []*gdoc.DocSession{
		{DocID: "doc", UserID: "1", ServerID: "server-a", JoinedAt: base},
		{DocID: "gone", UserID: "2", ServerID: "server-a", JoinedAt: base.Add(time.Minute)},
		{DocID: "other", UserID: "3", ServerID: "server-b", JoinedAt: base.Add(2 * time.Minute), LeftAt: &left},
		{DocID: "doc", UserID: "4", ServerID: "server-a", JoinedAt: base.Add(3 * time.Minute)},
	}
	must(t, s.StartSessions(ctx, batch))
	if batch[0].ID == 0 || batch[2].ID == 0 || batch[3].ID == 0 || batch[1].ID != 0 {
		t.Fatalf("IDs %d %d %d %d: want the three rows of existing documents stored, the one of a missing document skipped",
			batch[0].ID, batch[1].ID, batch[2].ID, batch[3].ID)
	}
	if batch[0].ID == batch[3].ID || batch[0].ID == batch[2].ID {
		t.Fatalf("IDs %d %d %d are not distinct", batch[0].ID, batch[2].ID, batch[3].ID)
	}
	got, err := s.Sessions(ctx, "doc", 10)
	must(t, err)
	if len(got) != 2 || got[0].ID != batch[3].ID || got[1].ID != batch[0].ID || got[0].UserID != "4" || !got[1].JoinedAt.Equal(base) || got[1].LeftAt != nil {
		t.Fatalf("Sessions(doc) = %+v", got)
	}
	got, err = s.Sessions(ctx, "other", 10)
	must(t, err)
	if len(got) != 1 || got[0].ServerID != "server-b" || got[0].LeftAt == nil || !got[0].LeftAt.Equal(left) {
		t.Fatalf("Sessions(other) = %+v", got)
	}
	// A stored row ends like one from StartSession.
	must(t, s.EndSession(ctx, batch[0].ID, left))
	must(t, s.StartSessions(ctx, nil))
	requireCode(t, s.StartSessions(ctx, []*gdoc.DocSession{{DocID: "doc", UserID: "a\x00b", ServerID: "x"}}), gdoc.EINVALID)
}

func testEndSessions(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	base := time.UnixMilli(1764150000000).UTC()
	batch := []*gdoc.DocSession{
		{DocID: "doc", UserID: "1", ServerID: "a", JoinedAt: base},
		{DocID: "doc", UserID: "2", ServerID: "a", JoinedAt: base.Add(time.Minute)},
		{DocID: "doc", UserID: "3", ServerID: "a", JoinedAt: base.Add(2 * time.Minute)},
	}
	must(t, s.StartSessions(ctx, batch))
	left0, left2 := base.Add(time.Hour), base.Add(2*time.Hour)
	// The missing id 424242 is skipped; the others end; the second stays open.
	must(t, s.EndSessions(ctx, []gdoc.SessionEnd{{ID: batch[0].ID, LeftAt: left0}, {ID: 424242, LeftAt: left0}, {ID: batch[2].ID, LeftAt: left2}}))
	got, err := s.Sessions(ctx, "doc", 10)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("Sessions(doc) = %+v", got)
	}
	byID := map[int64]*gdoc.DocSession{}
	for _, g := range got {
		byID[g.ID] = g
	}
	if g := byID[batch[0].ID]; g == nil || g.LeftAt == nil || !g.LeftAt.Equal(left0) {
		t.Fatalf("first session %+v: want left at %v", g, left0)
	}
	if g := byID[batch[1].ID]; g == nil || g.LeftAt != nil {
		t.Fatalf("second session %+v: want still open", g)
	}
	if g := byID[batch[2].ID]; g == nil || g.LeftAt == nil || !g.LeftAt.Equal(left2) {
		t.Fatalf("third session %+v: want left at %v", g, left2)
	}
	must(t, s.EndSessions(ctx, nil))
}

func testSessionsNotFound(t *testing.T, s gdoc.Store) {
	requireCode(t, s.EndSession(context.Background(), 424242, time.Now()), gdoc.ENOTFOUND)
}

func testRevokedTokens(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	revoked, err := s.TokenRevoked(ctx, "jti-1")
	must(t, err)
	if revoked {
		t.Fatal("a fresh store reports jti-1 revoked")
	}
	must(t, s.RevokeToken(ctx, "jti-1", time.Now().Add(time.Hour)))
	must(t, s.RevokeToken(ctx, "jti-1", time.Now().Add(2*time.Hour))) // twice is fine
	must(t, s.RevokeToken(ctx, "jti-old", time.Now().Add(-time.Hour)))
	revoked, err = s.TokenRevoked(ctx, "jti-1")
	must(t, err)
	if !revoked {
		t.Fatal("jti-1 is not revoked")
	}
	revoked, err = s.TokenRevoked(ctx, "jti-2")
	must(t, err)
	if revoked {
		t.Fatal("jti-2 is revoked")
	}
	// Revoking forgets tokens that have expired: they are refused anyway.
	must(t, s.RevokeToken(ctx, "jti-3", time.Now().Add(time.Hour)))
	revoked, err = s.TokenRevoked(ctx, "jti-old")
	must(t, err)
	if revoked {
		t.Fatal("an expired revoked token was kept")
	}
	requireCode(t, s.RevokeToken(ctx, "", time.Now()), gdoc.EINVALID)
}

// UserForToken agrees with UserByID and TokenRevoked.
func testUserForToken(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	must(t, s.RevokeToken(ctx, "jti-gone", time.Now().Add(time.Hour)))
	for jti, want := range map[string]bool{"jti-gone": true, "jti-live": false} {
		u, revoked, err := s.UserForToken(ctx, alice.ID, jti)
		must(t, err)
		byID, err := s.UserByID(ctx, alice.ID)
		must(t, err)
		if revoked != want || *u != *byID {
			t.Fatalf("UserForToken(alice, %s) = %+v, revoked %v; want %+v, revoked %v", jti, u, revoked, byID, want)
		}
	}
	_, err := s.RaiseTokenEpoch(ctx, alice.ID)
	must(t, err)
	if u, _, err := s.UserForToken(ctx, alice.ID, "jti-live"); err != nil || u.TokenEpoch != 1 {
		t.Fatalf("after RaiseTokenEpoch: %+v, %v", u, err)
	}
	for _, id := range []string{"424242", "not-a-number"} {
		_, _, err := s.UserForToken(ctx, id, "jti-live")
		requireCode(t, err, gdoc.ENOTFOUND)
	}
}

func testRaiseTokenEpoch(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	alice := &gdoc.User{Username: "alice", Email: "alice@example.com", PasswordHash: "h"}
	bob := &gdoc.User{Username: "bob", Email: "bob@example.com", PasswordHash: "h"}
	must(t, s.CreateUser(ctx, alice))
	must(t, s.CreateUser(ctx, bob))
	if alice.TokenEpoch != 0 {
		t.Fatalf("a new user's token epoch is %d, want 0", alice.TokenEpoch)
	}
	for want := int64(1); want <= 2; want++ {
		epoch, err := s.RaiseTokenEpoch(ctx, alice.ID)
		must(t, err)
		if epoch != want {
			t.Fatalf("RaiseTokenEpoch = %d, want %d", epoch, want)
		}
	}
	byID, err := s.UserByID(ctx, alice.ID)
	must(t, err)
	byName, err := s.UserByUsername(ctx, "ALICE")
	must(t, err)
	if byID.TokenEpoch != 2 || byName.TokenEpoch != 2 {
		t.Fatalf("read back epochs %d and %d, want 2", byID.TokenEpoch, byName.TokenEpoch)
	}
	other, err := s.UserByID(ctx, bob.ID)
	must(t, err)
	if other.TokenEpoch != 0 {
		t.Fatalf("raising alice's epoch changed bob's to %d", other.TokenEpoch)
	}
	_, err = s.RaiseTokenEpoch(ctx, "424242")
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.RaiseTokenEpoch(ctx, "not-an-id")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testDeleteCascades(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "kept", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 3, "c"), opsFrom("kept", 0, 2, "c"))[0], "")
	must(t, s.AddChatMessage(ctx, &gdoc.ChatMessage{DocID: "doc", UserID: "1", Username: "a", Message: "hi"}))
	must(t, s.AddChatMessage(ctx, &gdoc.ChatMessage{DocID: "kept", UserID: "1", Username: "a", Message: "hi"}))
	must(t, s.StartSession(ctx, &gdoc.DocSession{DocID: "doc", UserID: "1", ServerID: "s"}))
	must(t, s.StartSession(ctx, &gdoc.DocSession{DocID: "kept", UserID: "1", ServerID: "s"}))

	must(t, s.DeleteDocument(ctx, "doc"))
	_, err := s.Document(ctx, "doc")
	requireCode(t, err, gdoc.ENOTFOUND)
	requireRevs(t, s, "doc", 0)
	_, err = s.OpRev(ctx, "doc", "1", "c:1")
	requireCode(t, err, gdoc.ENOTFOUND)
	chat, err := s.ChatMessages(ctx, "doc", 0, 50)
	must(t, err)
	sessions, err := s.Sessions(ctx, "doc", 50)
	must(t, err)
	if len(chat) != 0 || len(sessions) != 0 {
		t.Fatalf("after delete: %d chat messages, %d sessions", len(chat), len(sessions))
	}
	// The neighbour is untouched.
	requireRevs(t, s, "kept", 2)
	chat, err = s.ChatMessages(ctx, "kept", 0, 50)
	must(t, err)
	sessions, err = s.Sessions(ctx, "kept", 50)
	must(t, err)
	if len(chat) != 1 || len(sessions) != 1 {
		t.Fatalf("neighbour: %d chat messages, %d sessions", len(chat), len(sessions))
	}
	// The id can be reused, starting a fresh log (op ids free again).
	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 1, "c"))[0], "")
	requireRevs(t, s, "doc", 1)
}

func testDeleteNotFound(t *testing.T, s gdoc.Store) {
	requireCode(t, s.DeleteDocument(context.Background(), "nope"), gdoc.ENOTFOUND)
}

func testUnicodeRoundTrip(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	text := "héllo wörld 👋🏽 日本語 e\u0301 \U0001F600\r\n\ttab 'quote' \"dq\" \\ %_"
	d := &gdoc.Document{ID: "uni", Title: "título 📄", Content: text, Language: "plaintext", Public: true}
	must(t, s.CreateDocument(ctx, d))
	got, err := s.Document(ctx, "uni")
	must(t, err)
	if got.Content != text || got.Title != d.Title {
		t.Fatalf("round trip: %q / %q, want %q / %q", got.Content, got.Title, text, d.Title)
	}
	b := opsFrom("uni", 0, 1, "c")
	b.Ops[0].OpID = "client-😀:1"
	b.Ops[0].Op = json.RawMessage(`[2,"👋🏽",{"d":"日本"}]`)
	requireCode(t, appendAll(t, s, b)[0], "")
	must(t, s.SaveSnapshot(ctx, "uni", text+"👋🏽", 1))
	got, err = s.Document(ctx, "uni")
	must(t, err)
	if got.Content != text+"👋🏽" {
		t.Fatalf("snapshot round trip: %q", got.Content)
	}
	ops, err := s.Ops(ctx, "uni", 0, 0)
	must(t, err)
	if string(ops[0].Op) != `[2,"👋🏽",{"d":"日本"}]` || ops[0].OpID != "client-😀:1" {
		t.Fatalf("op round trip: %s %q", ops[0].Op, ops[0].OpID)
	}
	m := &gdoc.ChatMessage{DocID: "uni", UserID: "1", Username: "zoë", Message: "👍 ok"}
	must(t, s.AddChatMessage(ctx, m))
	chat, err := s.ChatMessages(ctx, "uni", 0, 1)
	must(t, err)
	if chat[0].Message != "👍 ok" || chat[0].Username != "zoë" {
		t.Fatalf("chat round trip: %+v", chat[0])
	}
	u := &gdoc.User{Username: "Zoë", Email: "zoë@example.com"}
	must(t, s.CreateUser(ctx, u))
	byName, err := s.UserByUsername(ctx, "ZOË")
	must(t, err)
	if byName.ID != u.ID {
		t.Fatalf("UserByUsername(ZOË) = %+v", byName)
	}
}

// testUnicodeNUL pins down a choice: PostgreSQL TEXT cannot hold NUL, so
// every store refuses it with EINVALID and changes nothing.
func testUnicodeNUL(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "nul", Title: "t", Content: "a\x00b"}), gdoc.EINVALID)
	_, err := s.Document(ctx, "nul")
	requireCode(t, err, gdoc.ENOTFOUND)

	mustDoc(t, s, "doc", "", true)
	requireCode(t, appendAll(t, s, opsFrom("doc", 0, 1, "c"))[0], "")
	requireCode(t, s.SaveSnapshot(ctx, "doc", "a\x00b", 1), gdoc.EINVALID)
	requireSnapshot(t, s, "doc", "content of doc", 0)
	title := "a\x00"
	_, err = s.UpdateDocumentMeta(ctx, "doc", &title, nil, nil)
	requireCode(t, err, gdoc.EINVALID)
	requireCode(t, s.AddChatMessage(ctx, &gdoc.ChatMessage{DocID: "doc", UserID: "1", Username: "a", Message: "\x00"}), gdoc.EINVALID)
	requireCode(t, s.CreateUser(ctx, &gdoc.User{Username: "a\x00", Email: "a@b.c"}), gdoc.EINVALID)
	// Escaped NUL inside JSON is ordinary text and is kept.
	b := opsFrom("doc", 1, 1, "c")
	b.Ops[0].Op = json.RawMessage(`[1,"\u0000"]`)
	requireCode(t, appendAll(t, s, b)[0], "")
	ops, err := s.Ops(ctx, "doc", 1, 0)
	must(t, err)
	if string(ops[0].Op) != `[1,"\u0000"]` {
		t.Fatalf("op with an escaped NUL: %s", ops[0].Op)
	}
	chat, err := s.ChatMessages(ctx, "doc", 0, 50)
	must(t, err)
	if len(chat) != 0 {
		t.Fatalf("a refused chat message was stored")
	}
}

func testInvalidUTF8(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	requireCode(t, s.CreateDocument(ctx, &gdoc.Document{ID: "bad", Title: "t", Content: "a\xffb"}), gdoc.EINVALID)
	_, err := s.Document(ctx, "bad")
	requireCode(t, err, gdoc.ENOTFOUND)
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// BenchmarkAppendOps measures AppendOps on s for batches of 1, 10 and 100
// ops (one batch per call), and for group commits of 32 one-op batches on
// different documents, reporting ops/s and this process's CPU time per op
// (for PostgreSQL, the server's CPU is not included).
func BenchmarkAppendOps(b *testing.B, s gdoc.Store) {
	ctx := context.Background()
	run := func(name string, docs, opsPerBatch int) {
		b.Run(name, func(b *testing.B) {
			ids := make([]string, docs)
			heads := make([]int64, docs)
			for i := range ids {
				ids[i] = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(i)
				if err := s.CreateDocument(ctx, &gdoc.Document{ID: ids[i], Title: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			op := json.RawMessage(`[12,"hello, world"]`)
			calls := 0
			cpuBefore := processCPU()
			for b.Loop() {
				calls++
				batches := make([]gdoc.OpBatch, docs)
				for d := range batches {
					batch := gdoc.OpBatch{DocID: ids[d], BaseRev: heads[d], Ops: make([]gdoc.CommittedOp, opsPerBatch)}
					for i := range batch.Ops {
						rev := heads[d] + 1 + int64(i)
						batch.Ops[i] = gdoc.CommittedOp{Rev: rev, OpID: "bench:" + strconv.FormatInt(rev, 10), UserID: "1", Op: op}
					}
					heads[d] += int64(opsPerBatch)
					batches[d] = batch
				}
				results, err := s.AppendOps(ctx, batches)
				if err != nil {
					b.Fatal(err)
				}
				for _, err := range results {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			ops := float64(calls * docs * opsPerBatch)
			b.ReportMetric(ops/b.Elapsed().Seconds(), "ops/s")
			// On a shared machine wall time varies with the neighbours'
			// load; this process's CPU time per op does much less.
			b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/ops, "cpu-µs/op")
		})
	}
	run("batch=1", 1, 1)
	run("batch=10", 1, 10)
	run("batch=100", 1, 100)
	run("group=32x1", 32, 1)
}
