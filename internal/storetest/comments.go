package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// commentTests are the CommentStore cases of the suite.
var commentTests = []struct {
	name string
	fn   func(t *testing.T, s gdoc.Store)
}{
	{"Comments/ThreadAndReplies", testCommentsThreadAndReplies},
	{"Comments/ErrUnknownDocumentOrThread", testCommentsUnknown},
	{"Comments/ErrReplyToAReply", testCommentsReplyToReply},
	{"Comments/ErrBadInput", testCommentsBadInput},
	{"Comments/UpdateBodyAndResolved", testCommentsUpdate},
	{"Comments/RebaseNeverMovesBack", testCommentsRebase},
	{"Comments/DeleteThreadTakesReplies", testCommentsDelete},
	{"Comments/DeleteDocumentCascades", testCommentsDocumentCascade},
}

func mustComment(t *testing.T, s gdoc.Store, c *gdoc.Comment) *gdoc.Comment {
	t.Helper()
	must(t, s.AddComment(context.Background(), c))
	if c.ID <= 0 || c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Fatalf("AddComment set id %d, created %v, updated %v", c.ID, c.CreatedAt, c.UpdatedAt)
	}
	return c
}

func thread(docID, body string, a gdoc.Anchor) *gdoc.Comment {
	return &gdoc.Comment{DocID: docID, UserID: "1", Username: "ann", Body: body, Anchor: a, Quote: "quoted"}
}

func reply(docID string, threadID int64, body string) *gdoc.Comment {
	return &gdoc.Comment{DocID: docID, ParentID: &threadID, UserID: "2", Username: "bob", Body: body}
}

func testCommentsThreadAndReplies(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "other", "", true)
	th := mustComment(t, s, thread("doc", "Why a loop here? @bob", gdoc.Anchor{Rev: 0, From: 2, To: 7}))
	mustComment(t, s, thread("other", "elsewhere", gdoc.Anchor{From: 0, To: 1}))
	r := mustComment(t, s, reply("doc", th.ID, "Because é 日本 😀"))
	if r.Anchor != th.Anchor || r.Quote != "quoted" {
		t.Fatalf("a reply reports its thread's anchor and quote: %+v", r)
	}

	list, err := s.Comments(ctx, "doc")
	must(t, err)
	if len(list) != 2 || list[0].ID != th.ID || list[1].ID != r.ID {
		t.Fatalf("Comments = %+v, want the thread then its reply", list)
	}
	got := list[0]
	if got.ParentID != nil || got.Body != th.Body || got.UserID != "1" || got.Username != "ann" ||
		got.Anchor != (gdoc.Anchor{Rev: 0, From: 2, To: 7}) || got.Quote != "quoted" || got.Resolved || got.Detached ||
		!got.CreatedAt.Equal(th.CreatedAt) {
		t.Fatalf("thread read back as %+v, stored %+v", got, th)
	}
	if rp := list[1]; rp.ParentID == nil || *rp.ParentID != th.ID || rp.Body != r.Body || rp.Anchor != th.Anchor {
		t.Fatalf("reply read back as %+v", rp)
	}
	one, err := s.Comment(ctx, "doc", r.ID)
	must(t, err)
	if one.Body != r.Body || one.ParentID == nil || *one.ParentID != th.ID {
		t.Fatalf("Comment = %+v", one)
	}
	// A comment of another document is not found through this one.
	_, err = s.Comment(ctx, "other", th.ID)
	requireCode(t, err, gdoc.ENOTFOUND)
	none, err := s.Comments(ctx, "nope")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("comments of an unknown document: %+v", none)
	}
}

func testCommentsUnknown(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	requireCode(t, s.AddComment(ctx, thread("nope", "hi", gdoc.Anchor{To: 1})), gdoc.ENOTFOUND)
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "other", "", true)
	th := mustComment(t, s, thread("other", "hi", gdoc.Anchor{To: 1}))
	requireCode(t, s.AddComment(ctx, reply("doc", th.ID, "cross-document")), gdoc.ENOTFOUND)
	requireCode(t, s.AddComment(ctx, reply("doc", 999999, "no such thread")), gdoc.ENOTFOUND)
	list, err := s.Comments(ctx, "doc")
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("refused comments were stored: %+v", list)
	}
}

func testCommentsReplyToReply(t *testing.T, s gdoc.Store) {
	mustDoc(t, s, "doc", "", true)
	th := mustComment(t, s, thread("doc", "hi", gdoc.Anchor{To: 1}))
	r := mustComment(t, s, reply("doc", th.ID, "re"))
	requireCode(t, s.AddComment(context.Background(), reply("doc", r.ID, "re re")), gdoc.EINVALID)
}

func testCommentsBadInput(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	for _, tc := range []struct {
		name string
		c    *gdoc.Comment
		code string
	}{
		{"empty body", thread("doc", "", gdoc.Anchor{To: 1}), gdoc.EINVALID},
		{"NUL", thread("doc", "a\x00b", gdoc.Anchor{To: 1}), gdoc.EINVALID},
		{"invalid UTF-8", thread("doc", "a\xffb", gdoc.Anchor{To: 1}), gdoc.EINVALID},
		{"too long", thread("doc", strings.Repeat("é", gdoc.MaxCommentChars+1), gdoc.Anchor{To: 1}), gdoc.ETOOLARGE},
		{"negative rev", thread("doc", "x", gdoc.Anchor{Rev: -1, To: 1}), gdoc.EINVALID},
		{"to before from", thread("doc", "x", gdoc.Anchor{From: 3, To: 2}), gdoc.EINVALID},
	} {
		requireCode(t, s.AddComment(ctx, tc.c), tc.code)
	}
	// The longest body is fine.
	mustComment(t, s, thread("doc", strings.Repeat("é", gdoc.MaxCommentChars), gdoc.Anchor{To: 1}))
	list, err := s.Comments(ctx, "doc")
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d comments stored, want only the valid one", len(list))
	}
}

func testCommentsUpdate(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	th := mustComment(t, s, thread("doc", "first", gdoc.Anchor{To: 1}))
	r := mustComment(t, s, reply("doc", th.ID, "re"))

	body := "second"
	got, err := s.UpdateComment(ctx, "doc", th.ID, &body, nil)
	must(t, err)
	if got.Body != "second" || got.Resolved || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("after a body update: %+v", got)
	}
	yes, no := true, false
	got, err = s.UpdateComment(ctx, "doc", th.ID, nil, &yes)
	must(t, err)
	if got.Body != "second" || !got.Resolved {
		t.Fatalf("after resolving: %+v", got)
	}
	rp, err := s.Comment(ctx, "doc", r.ID)
	must(t, err)
	if !rp.Resolved {
		t.Fatalf("a reply reports its thread resolved: %+v", rp)
	}
	got, err = s.UpdateComment(ctx, "doc", th.ID, nil, &no)
	must(t, err)
	if got.Resolved {
		t.Fatalf("after reopening: %+v", got)
	}
	// A reply's body changes; a reply is not resolved on its own.
	rbody := "re, edited"
	if got, err = s.UpdateComment(ctx, "doc", r.ID, &rbody, nil); err != nil || got.Body != rbody {
		t.Fatalf("reply update: %+v, %v", got, err)
	}
	_, err = s.UpdateComment(ctx, "doc", r.ID, nil, &yes)
	requireCode(t, err, gdoc.EINVALID)

	empty := ""
	_, err = s.UpdateComment(ctx, "doc", th.ID, &empty, nil)
	requireCode(t, err, gdoc.EINVALID)
	_, err = s.UpdateComment(ctx, "doc", 999999, &body, nil)
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.UpdateComment(ctx, "other", th.ID, &body, nil)
	requireCode(t, err, gdoc.ENOTFOUND)
	if got, err = s.Comment(ctx, "doc", th.ID); err != nil || got.Body != "second" || got.Resolved {
		t.Fatalf("refused updates changed the thread: %+v, %v", got, err)
	}
}

func testCommentsRebase(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	th := mustComment(t, s, thread("doc", "hi", gdoc.Anchor{Rev: 1, From: 4, To: 9}))
	r := mustComment(t, s, reply("doc", th.ID, "re"))
	requireAnchor := func(want gdoc.Anchor, detached bool) {
		t.Helper()
		for _, id := range []int64{th.ID, r.ID} {
			c, err := s.Comment(ctx, "doc", id)
			must(t, err)
			if c.Anchor != want || c.Detached != detached {
				t.Fatalf("comment %d: anchor %+v detached %v, want %+v %v", id, c.Anchor, c.Detached, want, detached)
			}
		}
	}
	must(t, s.RebaseAnchor(ctx, "doc", th.ID, gdoc.Anchor{Rev: 5, From: 6, To: 11}, false))
	requireAnchor(gdoc.Anchor{Rev: 5, From: 6, To: 11}, false)
	// An older or equal revision never moves the anchor back.
	must(t, s.RebaseAnchor(ctx, "doc", th.ID, gdoc.Anchor{Rev: 3, From: 0, To: 1}, false))
	must(t, s.RebaseAnchor(ctx, "doc", th.ID, gdoc.Anchor{Rev: 5, From: 0, To: 1}, true))
	requireAnchor(gdoc.Anchor{Rev: 5, From: 6, To: 11}, false)
	// Detached sticks.
	must(t, s.RebaseAnchor(ctx, "doc", th.ID, gdoc.Anchor{Rev: 7, From: 6, To: 6}, true))
	must(t, s.RebaseAnchor(ctx, "doc", th.ID, gdoc.Anchor{Rev: 8, From: 2, To: 2}, false))
	requireAnchor(gdoc.Anchor{Rev: 8, From: 2, To: 2}, true)

	requireCode(t, s.RebaseAnchor(ctx, "doc", r.ID, gdoc.Anchor{Rev: 9}, false), gdoc.ENOTFOUND)
	requireCode(t, s.RebaseAnchor(ctx, "doc", 999999, gdoc.Anchor{Rev: 9}, false), gdoc.ENOTFOUND)
	requireCode(t, s.RebaseAnchor(ctx, "other", th.ID, gdoc.Anchor{Rev: 9}, false), gdoc.ENOTFOUND)
}

func testCommentsDelete(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	a := mustComment(t, s, thread("doc", "a", gdoc.Anchor{To: 1}))
	ra := mustComment(t, s, reply("doc", a.ID, "ra"))
	b := mustComment(t, s, thread("doc", "b", gdoc.Anchor{To: 1}))
	rb1 := mustComment(t, s, reply("doc", b.ID, "rb1"))
	rb2 := mustComment(t, s, reply("doc", b.ID, "rb2"))

	must(t, s.DeleteComment(ctx, "doc", rb1.ID))
	must(t, s.DeleteComment(ctx, "doc", a.ID))
	requireCode(t, s.DeleteComment(ctx, "doc", a.ID), gdoc.ENOTFOUND)
	requireCode(t, s.DeleteComment(ctx, "doc", ra.ID), gdoc.ENOTFOUND)
	requireCode(t, s.DeleteComment(ctx, "other", b.ID), gdoc.ENOTFOUND)
	list, err := s.Comments(ctx, "doc")
	must(t, err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != rb2.ID {
		t.Fatalf("after deletes: %+v, want thread b and its second reply", list)
	}
}

func testCommentsDocumentCascade(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "doc", "", true)
	mustDoc(t, s, "kept", "", true)
	th := mustComment(t, s, thread("doc", "a", gdoc.Anchor{To: 1}))
	mustComment(t, s, reply("doc", th.ID, "ra"))
	mustComment(t, s, thread("kept", "k", gdoc.Anchor{To: 1}))
	must(t, s.DeleteDocument(ctx, "doc"))
	mustDoc(t, s, "doc", "", true) // the id is reused: no comments come back
	list, err := s.Comments(ctx, "doc")
	must(t, err)
	kept, err2 := s.Comments(ctx, "kept")
	must(t, err2)
	if len(list) != 0 || len(kept) != 1 {
		t.Fatalf("after deleting the document: %d comments, neighbour %d", len(list), len(kept))
	}
}
