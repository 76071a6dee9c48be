// Package comments keeps review comments anchored to code: it checks who may
// do what, and brings every anchor to the document's head revision by moving
// it through the op log (ot.TransformRange), storing it back as it goes so
// the next reader replays only the newer ops.
package comments

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// Texts gives a document's current text and revision (gdoc.Collab does).
type Texts interface {
	Current(ctx context.Context, docID string) (*gdoc.Document, error)
}

// Service serves the comments of every document.
//
// Who may do what, given the caller's gdoc.Role on the document: anyone who
// may read it reads its comments; a signed-in reader (viewers too) writes
// threads and replies; only the author changes a comment's text; the
// thread's author and anyone who may edit the document resolve and reopen
// it; the author and the document's owner delete a comment.
type Service struct {
	store gdoc.Store
	texts Texts
	// notify, when set, is told of every change after it is stored.
	notify func(ctx context.Context, docID string, ev gdoc.CommentEvent)
}

// New returns a service on store; texts gives the current text when a
// thread is written. notify may be nil.
func New(store gdoc.Store, texts Texts, notify func(ctx context.Context, docID string, ev gdoc.CommentEvent)) *Service {
	return &Service{store: store, texts: texts, notify: notify}
}

func (s *Service) tell(ctx context.Context, docID, action string, c *gdoc.Comment) {
	if s.notify != nil {
		s.notify(ctx, docID, gdoc.CommentEvent{Action: action, Comment: c})
	}
}

// readable is ENOTFOUND unless role may read the document: a stranger learns
// nothing, not even that the document exists.
func readable(role gdoc.Role) error {
	if !role.CanRead() {
		return gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.")
	}
	return nil
}

// List returns every comment of docID (threads and replies, resolved ones
// too) in id order, with anchors at the head revision. role is the
// caller's on the document (gdoc.Document.RoleOf), as for every method.
func (s *Service) List(ctx context.Context, docID string, role gdoc.Role) ([]*gdoc.Comment, error) {
	if err := readable(role); err != nil {
		return nil, err
	}
	return s.current(ctx, docID)
}

// Open returns doc's open (unresolved) threads and their replies, anchors
// at the head revision, for a joining connection (access checked by the
// caller).
func (s *Service) Open(ctx context.Context, docID string) ([]*gdoc.Comment, error) {
	all, err := s.current(ctx, docID)
	if err != nil {
		return nil, err
	}
	open := all[:0:0]
	for _, c := range all {
		if !c.Resolved {
			open = append(open, c)
		}
	}
	return open, nil
}

// current reads the comments of docID and brings their anchors to the head.
func (s *Service) current(ctx context.Context, docID string) ([]*gdoc.Comment, error) {
	list, err := s.store.Comments(ctx, docID)
	if err != nil {
		return nil, err
	}
	if err := s.rebase(ctx, docID, list); err != nil {
		return nil, err
	}
	return list, nil
}

// rebase moves the anchors of the threads in list to the head revision,
// stores them there, and gives every reply in list its thread's anchor.
func (s *Service) rebase(ctx context.Context, docID string, list []*gdoc.Comment) error {
	oldest := int64(-1)
	for _, c := range list {
		if c.ParentID == nil && (oldest < 0 || c.Anchor.Rev < oldest) {
			oldest = c.Anchor.Rev
		}
	}
	if oldest < 0 {
		return nil
	}
	head, err := s.store.HeadRev(ctx, docID)
	if err != nil || head <= oldest {
		return err
	}
	log, err := s.store.Ops(ctx, docID, oldest, head)
	if err != nil {
		return err
	}
	ops := make([]ot.Op, len(log))
	for i, c := range log {
		if ops[i], err = ot.Parse(c.Op); err != nil {
			return err // a committed op is valid: a server fault
		}
	}
	if len(log) > 0 {
		head = log[len(log)-1].Rev
	}
	// The op log may start later than an anchor (HISTORY_KEEP_REVISIONS
	// trimmed it): such a thread cannot be followed any more, so it is
	// detached where the text starts, and kept with its quote.
	kept := head + 1
	if len(log) > 0 {
		kept = log[0].Rev
	}
	threads := map[int64]*gdoc.Comment{}
	for _, c := range list {
		if c.ParentID != nil {
			continue
		}
		threads[c.ID] = c
		if c.Anchor.Rev >= head {
			continue
		}
		r := ot.Range{From: c.Anchor.From, To: c.Anchor.To, Detached: c.Detached}
		if c.Anchor.Rev+1 < kept {
			r = ot.Range{Detached: true}
		} else {
			for i, op := range ops {
				if log[i].Rev > c.Anchor.Rev {
					r = ot.TransformRange(r, op)
				}
			}
		}
		c.Anchor, c.Detached = gdoc.Anchor{Rev: head, From: r.From, To: r.To}, r.Detached
		err := s.store.RebaseAnchor(ctx, docID, c.ID, c.Anchor, c.Detached)
		if err != nil && gdoc.ErrorCode(err) != gdoc.ENOTFOUND { // deleted meanwhile: nothing to keep
			return err
		}
	}
	for _, c := range list {
		if c.ParentID == nil {
			continue
		}
		if t := threads[*c.ParentID]; t != nil {
			c.Anchor, c.Detached = t.Anchor, t.Detached
		}
	}
	return nil
}

// one returns comment id of docID with its anchor at the head revision.
func (s *Service) one(ctx context.Context, docID string, id int64) (*gdoc.Comment, error) {
	c, err := s.store.Comment(ctx, docID, id)
	if err != nil {
		return nil, err
	}
	if c.ParentID == nil {
		return c, s.rebase(ctx, docID, []*gdoc.Comment{c})
	}
	t, err := s.store.Comment(ctx, docID, *c.ParentID)
	if err != nil {
		return nil, err
	}
	if err := s.rebase(ctx, docID, []*gdoc.Comment{t}); err != nil {
		return nil, err
	}
	c.Anchor, c.Detached = t.Anchor, t.Detached
	return c, nil
}

func checkBody(body string) (string, error) {
	if strings.TrimSpace(body) == "" {
		return "", gdoc.Errorf(gdoc.EINVALID, "body: a comment needs some text.")
	}
	if n := utf8.RuneCountInString(body); n > gdoc.MaxCommentChars {
		return "", gdoc.Errorf(gdoc.ETOOLARGE, "body: a comment holds at most %d characters, not %d.", gdoc.MaxCommentChars, n)
	}
	if !utf8.ValidString(body) || strings.IndexByte(body, 0) >= 0 {
		return "", gdoc.Errorf(gdoc.EINVALID, "body: must be text (valid UTF-8, no NUL).")
	}
	return body, nil
}

// NewComment is what a client writes: a thread on Anchor, or a reply in
// thread ParentID (one of the two).
type NewComment struct {
	Anchor   *gdoc.Anchor
	ParentID *int64
	Body     string
}

// Create stores a thread or a reply by user and returns it, anchors at the
// head revision. A thread's anchor is in code points of the text at its
// revision, which may be up to gdoc.MaxAnchorAge revisions old; it must
// cover at least one code point. A reply to a reply joins that reply's
// thread. ENOTFOUND (no access, no thread), EUNAUTHORIZED, EINVALID,
// ETOOLARGE.
func (s *Service) Create(ctx context.Context, docID string, role gdoc.Role, user *gdoc.User, in NewComment) (*gdoc.Comment, error) {
	if err := readable(role); err != nil {
		return nil, err
	}
	if user == nil {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Sign in to comment.")
	}
	body, err := checkBody(in.Body)
	if err != nil {
		return nil, err
	}
	c := &gdoc.Comment{DocID: docID, UserID: user.ID, Username: user.Username, Body: body}
	switch {
	case (in.Anchor == nil) == (in.ParentID == nil):
		return nil, gdoc.Errorf(gdoc.EINVALID, "A comment has either an anchor (a new thread) or a parent_id (a reply).")
	case in.ParentID != nil:
		parent, err := s.store.Comment(ctx, docID, *in.ParentID)
		if err != nil {
			return nil, err
		}
		thread := parent.ID
		if parent.ParentID != nil {
			thread = *parent.ParentID
		}
		c.ParentID = &thread
	default:
		if err := s.anchorAtHead(ctx, docID, *in.Anchor, c); err != nil {
			return nil, err
		}
	}
	if err := s.store.AddComment(ctx, c); err != nil {
		return nil, err
	}
	if c.ParentID != nil {
		if c, err = s.one(ctx, docID, c.ID); err != nil {
			return nil, err
		}
	}
	s.tell(ctx, docID, gdoc.CommentCreated, c)
	return c, nil
}

// textAt returns the document's current text, waiting (bounded) when this
// instance has yet to apply committed revisions up to rev, which a client of
// another instance may already have seen.
func (s *Service) textAt(ctx context.Context, docID string, rev int64) (*gdoc.Document, error) {
	cur, err := s.texts.Current(ctx, docID)
	if err != nil || rev <= cur.Rev {
		return cur, err
	}
	head, err := s.store.HeadRev(ctx, docID)
	if err != nil || rev > head {
		return cur, err // not committed anywhere: the caller refuses it
	}
	for range 50 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if cur, err = s.texts.Current(ctx, docID); err != nil || rev <= cur.Rev {
			return cur, err
		}
	}
	return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "This server is still catching up with revision %d; try again.", rev)
}

// anchorAtHead checks a, written at a.Rev, against the text at that
// revision and sets c's anchor, detached flag and quote at the head.
func (s *Service) anchorAtHead(ctx context.Context, docID string, a gdoc.Anchor, c *gdoc.Comment) error {
	cur, err := s.textAt(ctx, docID, a.Rev)
	if err != nil {
		return err
	}
	switch {
	case a.Rev < 0 || a.Rev > cur.Rev:
		return gdoc.Errorf(gdoc.EINVALID, "anchor.rev: revision %d is not between 0 and the document's revision %d.", a.Rev, cur.Rev)
	case cur.Rev-a.Rev > gdoc.MaxAnchorAge:
		return gdoc.Errorf(gdoc.EINVALID, "anchor.rev: revision %d is more than %d revisions old; reload and select again.", a.Rev, gdoc.MaxAnchorAge)
	case a.From < 0 || a.To <= a.From:
		return gdoc.Errorf(gdoc.EINVALID, "anchor: select some text (0 <= from < to).")
	}
	log, err := s.store.Ops(ctx, docID, a.Rev, cur.Rev)
	if err != nil {
		return err
	}
	if int64(len(log)) != cur.Rev-a.Rev {
		return gdoc.Errorf(gdoc.EINVALID, "anchor.rev: revision %d is older than the history this server keeps; reload and select again.", a.Rev)
	}
	ops := make([]ot.Op, len(log))
	text := []rune(cur.Content)
	length := len(text) // at a.Rev: the head's length less what each op added
	for i, l := range log {
		if ops[i], err = ot.Parse(l.Op); err != nil {
			return err
		}
		length -= ops[i].TargetLen() - ops[i].BaseLen()
	}
	if a.To > length {
		return gdoc.Errorf(gdoc.EINVALID, "anchor: the text at revision %d has %d characters; the range %d-%d is outside it.", a.Rev, length, a.From, a.To)
	}
	r := ot.Range{From: a.From, To: a.To}
	for _, op := range ops {
		r = ot.TransformRange(r, op)
	}
	c.Anchor, c.Detached = gdoc.Anchor{Rev: cur.Rev, From: r.From, To: r.To}, r.Detached
	quote := text[r.From:r.To]
	if len(quote) > gdoc.MaxCommentQuoteChars {
		quote = append(quote[:gdoc.MaxCommentQuoteChars:gdoc.MaxCommentQuoteChars], '…')
	}
	c.Quote = string(quote)
	return nil
}

// Update changes a comment's body (its author only), its thread's resolved
// flag (the thread's author or an editor), or both, and returns it.
// ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN, EINVALID.
func (s *Service) Update(ctx context.Context, docID string, role gdoc.Role, user *gdoc.User, id int64, body *string, resolved *bool) (*gdoc.Comment, error) {
	if err := readable(role); err != nil {
		return nil, err
	}
	if user == nil {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Sign in to change a comment.")
	}
	if body == nil && resolved == nil {
		return nil, gdoc.Errorf(gdoc.EINVALID, "Send a new body or resolved: true or false.")
	}
	old, err := s.store.Comment(ctx, docID, id)
	if err != nil {
		return nil, err
	}
	if body != nil {
		if old.UserID != user.ID {
			return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only its author may edit a comment.")
		}
		b, err := checkBody(*body)
		if err != nil {
			return nil, err
		}
		body = &b
	}
	if resolved != nil {
		if old.ParentID != nil {
			return nil, gdoc.Errorf(gdoc.EINVALID, "Comment %d is a reply; resolve its thread %d.", id, *old.ParentID)
		}
		if old.UserID != user.ID && !role.CanEdit() {
			return nil, gdoc.Errorf(gdoc.EFORBIDDEN, "Only the thread's author or someone who may edit the document may resolve or reopen it.")
		}
	}
	if _, err := s.store.UpdateComment(ctx, docID, id, body, resolved); err != nil {
		return nil, err
	}
	c, err := s.one(ctx, docID, id)
	if err != nil {
		return nil, err
	}
	if body != nil && *body != old.Body {
		s.tell(ctx, docID, gdoc.CommentUpdated, c)
	}
	if resolved != nil && *resolved != old.Resolved {
		s.tell(ctx, docID, gdoc.CommentResolved, c)
	}
	return c, nil
}

// Delete removes a comment (its author or the document's owner), with its
// replies when it is a thread. ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN.
func (s *Service) Delete(ctx context.Context, docID string, role gdoc.Role, user *gdoc.User, id int64) error {
	if err := readable(role); err != nil {
		return err
	}
	if user == nil {
		return gdoc.Errorf(gdoc.EUNAUTHORIZED, "Sign in to delete a comment.")
	}
	c, err := s.store.Comment(ctx, docID, id)
	if err != nil {
		return err
	}
	if c.UserID != user.ID && role != gdoc.RoleOwner {
		return gdoc.Errorf(gdoc.EFORBIDDEN, "Only its author or the document's owner may delete a comment.")
	}
	if err := s.store.DeleteComment(ctx, docID, id); err != nil {
		return err
	}
	s.tell(ctx, docID, gdoc.CommentDeleted, &gdoc.Comment{ID: c.ID, ParentID: c.ParentID})
	return nil
}
