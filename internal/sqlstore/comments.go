package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// commentSelect reads comments c with their thread t (NULL for a thread
// itself): a reply reports its thread's anchor, quote and flags.
const commentSelect = `
	SELECT c.id, c.parent_id, c.user_id, c.username, c.body,
		COALESCE(t.anchor_rev, c.anchor_rev), COALESCE(t.anchor_from, c.anchor_from), COALESCE(t.anchor_to, c.anchor_to),
		COALESCE(t.quote, c.quote), COALESCE(t.resolved, c.resolved), COALESCE(t.detached, c.detached),
		c.created_at, c.updated_at
	FROM comments c LEFT JOIN comments t ON t.id = c.parent_id`

func scanComment(row rowScanner, docID string) (*gdoc.Comment, error) {
	c := &gdoc.Comment{DocID: docID}
	var parent sql.NullInt64
	var created, updated int64
	err := row.Scan(&c.ID, &parent, &c.UserID, &c.Username, &c.Body,
		&c.Anchor.Rev, &c.Anchor.From, &c.Anchor.To, &c.Quote, &c.Resolved, &c.Detached, &created, &updated)
	if err != nil {
		return nil, err
	}
	if parent.Valid {
		c.ParentID = &parent.Int64
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

func noComment(docID string, id int64) error {
	return gdoc.Errorf(gdoc.ENOTFOUND, "No comment %d in document %q.", id, docID)
}

// checkComment refuses a comment the store cannot keep faithfully or that
// breaks the limits of gdoc.
func checkComment(c *gdoc.Comment) error {
	if err := checkBody(c.Body); err != nil {
		return err
	}
	if err := checkTexts("username", c.Username, "user id", c.UserID, "quote", c.Quote); err != nil {
		return err
	}
	if c.ParentID == nil {
		a := c.Anchor
		if a.Rev < 0 || a.From < 0 || a.To < a.From {
			return gdoc.Errorf(gdoc.EINVALID, "An anchor needs 0 <= rev and 0 <= from <= to.")
		}
	}
	return nil
}

func checkBody(body string) error {
	if err := checkText("comment", body); err != nil {
		return err
	}
	if body == "" {
		return gdoc.Errorf(gdoc.EINVALID, "A comment needs a body.")
	}
	if utf8.RuneCountInString(body) > gdoc.MaxCommentChars {
		return gdoc.Errorf(gdoc.ETOOLARGE, "A comment holds at most %d characters.", gdoc.MaxCommentChars)
	}
	return nil
}

// AddComment stores c, setting c.ID, c.CreatedAt and c.UpdatedAt. A reply
// takes its thread's anchor and flags (in c too). ENOTFOUND (document or
// thread), EINVALID (a reply to a reply, bad text), ETOOLARGE when the
// document holds gdoc.MaxCommentsPerDocument comments.
func (s *Store) AddComment(ctx context.Context, c *gdoc.Comment) error {
	if err := checkComment(c); err != nil {
		return err
	}
	created := s.stamp(c.CreatedAt)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("add comment", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM comments WHERE doc_id = $1`, c.DocID).Scan(&n); err != nil {
		return s.dialect.Fault("add comment", err)
	}
	if n >= gdoc.MaxCommentsPerDocument {
		return gdoc.Errorf(gdoc.ETOOLARGE, "Document %q has %d comments, the most it may hold; delete some first.", c.DocID, n)
	}
	var parent any
	if c.ParentID != nil {
		var threadParent sql.NullInt64
		thread := *c.ParentID
		err := tx.QueryRowContext(ctx, `
			SELECT parent_id, anchor_rev, anchor_from, anchor_to, quote, resolved, detached
			FROM comments WHERE doc_id = $1 AND id = $2`, c.DocID, thread).
			Scan(&threadParent, &c.Anchor.Rev, &c.Anchor.From, &c.Anchor.To, &c.Quote, &c.Resolved, &c.Detached)
		if err = s.rowErr("add comment", err, noComment(c.DocID, thread)); err != nil {
			return err
		}
		if threadParent.Valid {
			return gdoc.Errorf(gdoc.EINVALID, "Comment %d is a reply; reply to its thread %d.", thread, threadParent.Int64)
		}
		parent = thread
	}
	var id int64
	err = tx.QueryRowContext(ctx, `
		INSERT INTO comments (doc_id, parent_id, user_id, username, body, anchor_rev, anchor_from, anchor_to, quote, resolved, detached, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id`,
		c.DocID, parent, c.UserID, c.Username, c.Body, c.Anchor.Rev, c.Anchor.From, c.Anchor.To, c.Quote,
		c.ParentID == nil && c.Resolved, c.ParentID == nil && c.Detached, unixMS(created)).Scan(&id)
	if kind, _ := s.dialect.Constraint(err); kind == Foreign {
		return gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", c.DocID)
	} else if err != nil {
		return s.dialect.Fault("add comment", err)
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("add comment", err)
	}
	c.ID, c.CreatedAt, c.UpdatedAt = id, created, created
	return nil
}

// Comment returns one comment as stored. ENOTFOUND.
func (s *Store) Comment(ctx context.Context, docID string, id int64) (*gdoc.Comment, error) {
	c, err := scanComment(s.read.QueryRowContext(ctx, commentSelect+` WHERE c.doc_id = $1 AND c.id = $2`, docID, id), docID)
	if err = s.rowErr("read comment", err, noComment(docID, id)); err != nil {
		return nil, err
	}
	return c, nil
}

// Comments returns the document's comments in id order, as stored (none for
// an unknown document).
func (s *Store) Comments(ctx context.Context, docID string) ([]*gdoc.Comment, error) {
	return queryList(ctx, s, "read comments", func(row rowScanner) (*gdoc.Comment, error) { return scanComment(row, docID) },
		commentSelect+` WHERE c.doc_id = $1 ORDER BY c.id`, docID)
}

// UpdateComment sets the body, resolved flag or both (where non-nil) and
// UpdatedAt. ENOTFOUND; EINVALID for an empty body or resolving a reply;
// ETOOLARGE for a body over gdoc.MaxCommentChars.
func (s *Store) UpdateComment(ctx context.Context, docID string, id int64, body *string, resolved *bool) (*gdoc.Comment, error) {
	if body != nil {
		if err := checkBody(*body); err != nil {
			return nil, err
		}
	}
	if resolved != nil {
		var parent sql.NullInt64
		err := s.read.QueryRowContext(ctx, `SELECT parent_id FROM comments WHERE doc_id = $1 AND id = $2`, docID, id).Scan(&parent)
		if err = s.rowErr("update comment", err, noComment(docID, id)); err != nil {
			return nil, err
		}
		if parent.Valid {
			return nil, gdoc.Errorf(gdoc.EINVALID, "Comment %d is a reply; resolve its thread %d.", id, parent.Int64)
		}
	}
	err := s.execOne(ctx, "update comment", noComment(docID, id), `
		UPDATE comments SET body = COALESCE($3, body), resolved = COALESCE($4, resolved), updated_at = $5
		WHERE doc_id = $1 AND id = $2`, docID, id, body, resolved, unixMS(s.stamp(time.Time{})))
	if err != nil {
		return nil, err
	}
	return s.Comment(ctx, docID, id)
}

// RebaseAnchor stores thread id's anchor as brought to anchor.Rev, unless
// the stored one is at anchor.Rev or later. detached is never cleared.
// ENOTFOUND when there is no such thread.
func (s *Store) RebaseAnchor(ctx context.Context, docID string, id int64, anchor gdoc.Anchor, detached bool) error {
	res, err := s.write.ExecContext(ctx, `
		UPDATE comments SET anchor_rev = $3, anchor_from = $4, anchor_to = $5, detached = (detached OR $6)
		WHERE doc_id = $1 AND id = $2 AND parent_id IS NULL AND anchor_rev < $3`,
		docID, id, anchor.Rev, anchor.From, anchor.To, detached)
	if err != nil {
		return s.dialect.Fault("rebase comment anchor", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.dialect.Fault("rebase comment anchor", err)
	} else if n == 1 {
		return nil
	}
	var one int
	err = s.read.QueryRowContext(ctx, `SELECT 1 FROM comments WHERE doc_id = $1 AND id = $2 AND parent_id IS NULL`, docID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return noComment(docID, id)
	} else if err != nil {
		return s.dialect.Fault("rebase comment anchor", err)
	}
	return nil // already at anchor.Rev or later
}

// DeleteComment removes a comment, with its replies when it is a thread (ON
// DELETE CASCADE). ENOTFOUND.
func (s *Store) DeleteComment(ctx context.Context, docID string, id int64) error {
	return s.execOne(ctx, "delete comment", noComment(docID, id),
		`DELETE FROM comments WHERE doc_id = $1 AND id = $2`, docID, id)
}
