package sqlstore

// The queries below are written in the SQL that SQLite and PostgreSQL share
// ($n placeholders, RETURNING).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// checkText refuses text that one of the engines cannot store faithfully:
// PostgreSQL TEXT rejects NUL and invalid UTF-8, so both engines refuse them
// and behave alike.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return gdoc.Errorf(gdoc.EINVALID, "The %s is not valid UTF-8.", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return gdoc.Errorf(gdoc.EINVALID, "The %s contains a NUL character.", field)
	}
	return nil
}

func checkTexts(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if err := checkText(fields[i], fields[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func unixMS(t time.Time) int64 { return t.UnixMilli() }

func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// stamp returns t, or now when t is zero, at the millisecond precision the
// database keeps, so a stored value reads back equal.
func (s *Store) stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return fromMS(unixMS(t))
}

// userKey is the case-insensitive form of a username or email that the
// unique constraints compare.
func userKey(s string) string { return strings.ToLower(s) }

// parseID turns a decimal id into a row id; ok is false for anything else.
func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

func formatID(n sql.NullInt64) string {
	if !n.Valid {
		return ""
	}
	return strconv.FormatInt(n.Int64, 10)
}

// CreateUser stores u, setting u.ID and u.CreatedAt. ECONFLICT when the
// username or email is taken (case-insensitively), EINVALID when either is
// empty.
func (s *Store) CreateUser(ctx context.Context, u *gdoc.User) error {
	if u.Username == "" || u.Email == "" {
		return gdoc.Errorf(gdoc.EINVALID, "A user needs a username and an email.")
	}
	if err := checkTexts("username", u.Username, "email", u.Email, "password hash", u.PasswordHash); err != nil {
		return err
	}
	created := s.stamp(u.CreatedAt)
	var id int64
	err := s.write.QueryRowContext(ctx, `
		INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		u.Username, userKey(u.Username), u.Email, userKey(u.Email), u.PasswordHash, unixMS(created),
	).Scan(&id)
	if kind, detail := s.dialect.Constraint(err); kind == Unique {
		if strings.Contains(detail, "email") {
			return gdoc.Errorf(gdoc.ECONFLICT, "The email %q is already registered.", u.Email)
		}
		return gdoc.Errorf(gdoc.ECONFLICT, "The username %q is taken.", u.Username)
	} else if err != nil {
		return s.dialect.Fault("create user", err)
	}
	u.ID = strconv.FormatInt(id, 10)
	u.CreatedAt = created
	return nil
}

const userColumns = `id, username, email, password_hash, created_at, token_epoch`

func (s *Store) scanUser(row *sql.Row, what string) (*gdoc.User, error) {
	var u gdoc.User
	var id, created int64
	err := row.Scan(&id, &u.Username, &u.Email, &u.PasswordHash, &created, &u.TokenEpoch)
	if err = s.rowErr("read user", err, gdoc.Errorf(gdoc.ENOTFOUND, "No user %s.", what)); err != nil {
		return nil, err
	}
	u.ID = strconv.FormatInt(id, 10)
	u.CreatedAt = fromMS(created)
	return &u, nil
}

// UserByID returns ENOTFOUND when there is no such user.
func (s *Store) UserByID(ctx context.Context, id string) (*gdoc.User, error) {
	n, ok := parseID(id)
	if !ok {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", id)
	}
	return s.scanUser(s.read.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE id = $1`, n), "with id "+strconv.Quote(id))
}

// UserForToken returns user userID and whether token jti is revoked, in
// one query. ENOTFOUND when there is no such user.
func (s *Store) UserForToken(ctx context.Context, userID, jti string) (*gdoc.User, bool, error) {
	n, ok := parseID(userID)
	if !ok {
		return nil, false, gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", userID)
	}
	var u gdoc.User
	var id, created int64
	var revoked bool
	err := s.read.QueryRowContext(ctx, `SELECT `+userColumns+`, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2)
		FROM users WHERE id = $1`, n, jti).Scan(&id, &u.Username, &u.Email, &u.PasswordHash, &created, &u.TokenEpoch, &revoked)
	if err = s.rowErr("read user", err, gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", userID)); err != nil {
		return nil, false, err
	}
	u.ID = strconv.FormatInt(id, 10)
	u.CreatedAt = fromMS(created)
	return &u, revoked, nil
}

// UserByUsername matches case-insensitively; ENOTFOUND when none.
func (s *Store) UserByUsername(ctx context.Context, username string) (*gdoc.User, error) {
	return s.scanUser(s.read.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE username_key = $1`, userKey(username)),
		"named "+strconv.Quote(username))
}

// ownerParam turns an owner id into a query parameter: NULL for "".
func ownerParam(ownerID string) (any, error) {
	if ownerID == "" {
		return nil, nil
	}
	n, ok := parseID(ownerID)
	if !ok {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", ownerID)
	}
	return n, nil
}

// CreateDocument stores d (Rev 0 unless set: its op log then continues from
// d.Rev), setting CreatedAt, UpdatedAt, Public, Visibility, LinkRole (see
// gdoc.DocumentStore), OwnerUsername and an empty Members; a deleted id is
// used again (its tombstone goes). ECONFLICT if the id exists, EINVALID for
// a malformed id, visibility or link role, ENOTFOUND for an unknown owner.
func (s *Store) CreateDocument(ctx context.Context, d *gdoc.Document) error {
	return s.createDocument(ctx, d, true)
}

// CreateDocumentUnlessDeleted is CreateDocument, but ENOTFOUND when the id
// was deleted: a join never brings a deleted document back.
func (s *Store) CreateDocumentUnlessDeleted(ctx context.Context, d *gdoc.Document) error {
	return s.createDocument(ctx, d, false)
}

func (s *Store) createDocument(ctx context.Context, d *gdoc.Document, reuse bool) error {
	row, err := s.newDocumentRow(d)
	if err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("create document", err)
	}
	defer tx.Rollback()
	if err := s.insertDocument(ctx, tx, &row, reuse); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("create document", err)
	}
	row.done()
	return nil
}

// CreateDocumentsUnlessDeleted is CreateDocumentUnlessDeleted for every
// document of docs, in one transaction (one commit for the documents that
// concurrent joins create); out[i] is docs[i]'s outcome. When the
// transaction fails, nothing is committed and every document not refused
// on its own has that error.
func (s *Store) CreateDocumentsUnlessDeleted(ctx context.Context, docs []*gdoc.Document) []error {
	out := make([]error, len(docs))
	if len(docs) == 1 {
		out[0] = s.CreateDocumentUnlessDeleted(ctx, docs[0])
		return out
	}
	rows := make([]documentRow, len(docs))
	for i, d := range docs {
		rows[i], out[i] = s.newDocumentRow(d)
	}
	if err := s.createDocuments(ctx, rows, out); err != nil {
		for i := range out {
			if rows[i].d != nil { // not refused by newDocumentRow
				out[i] = err
			}
		}
		return out
	}
	for i := range rows {
		if out[i] == nil {
			rows[i].done()
		}
	}
	return out
}

// createDocuments inserts the rows whose out entry is nil, each under a
// savepoint so that one refused (ECONFLICT, ENOTFOUND, set in out) leaves
// the others, and commits.
func (s *Store) createDocuments(ctx context.Context, rows []documentRow, out []error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("create documents", err)
	}
	defer tx.Rollback()
	for i := range rows {
		if out[i] != nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT create_document`); err != nil {
			return s.dialect.Fault("create documents", err)
		}
		err := s.insertDocument(ctx, tx, &rows[i], false)
		if code := gdoc.ErrorCode(err); err != nil && code != gdoc.ECONFLICT && code != gdoc.ENOTFOUND {
			return err
		} else if err != nil {
			out[i] = err
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT create_document`); err != nil {
				return s.dialect.Fault("create documents", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT create_document`); err != nil {
			return s.dialect.Fault("create documents", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("create documents", err)
	}
	return nil
}

// documentRow is a checked document about to be inserted.
type documentRow struct {
	d         *gdoc.Document
	vis       gdoc.Visibility
	linkRole  gdoc.Role
	owner     any
	created   time.Time
	ownerName sql.NullString
}

// newDocumentRow checks d. EINVALID, ENOTFOUND for a malformed owner id.
func (s *Store) newDocumentRow(d *gdoc.Document) (documentRow, error) {
	if !gdoc.ValidDocumentID(d.ID) {
		return documentRow{}, gdoc.Errorf(gdoc.EINVALID, "A document id must match %s.", gdoc.DocumentIDPattern)
	}
	if d.Rev < 0 {
		return documentRow{}, gdoc.Errorf(gdoc.EINVALID, "A document revision cannot be negative.")
	}
	if d.Visibility != "" && !gdoc.ValidVisibility(d.Visibility) {
		return documentRow{}, gdoc.Errorf(gdoc.EINVALID, "A document's visibility is public, link or private, not %q.", d.Visibility)
	}
	if d.LinkRole != "" && !gdoc.ValidMemberRole(d.LinkRole) {
		return documentRow{}, gdoc.Errorf(gdoc.EINVALID, "A document's link role is editor or viewer, not %q.", d.LinkRole)
	}
	if err := checkTexts("title", d.Title, "language", d.Language, "content", d.Content); err != nil {
		return documentRow{}, err
	}
	owner, err := ownerParam(d.OwnerID)
	if err != nil {
		return documentRow{}, err
	}
	return documentRow{d: d, vis: d.EffectiveVisibility(), linkRole: d.EffectiveLinkRole(), owner: owner, created: s.stamp(d.CreatedAt)}, nil
}

// insertDocument writes r's rows in tx: ECONFLICT if the id exists,
// ENOTFOUND for an unknown owner or (unless reuse) a deleted id; another
// error is a fault.
func (s *Store) insertDocument(ctx context.Context, tx *Tx, r *documentRow, reuse bool) error {
	d := r.d
	if reuse {
		if _, err := tx.ExecContext(ctx, `DELETE FROM deleted_documents WHERE id = $1`, d.ID); err != nil {
			return s.dialect.Fault("create document", err)
		}
	}
	// Otherwise a tombstoned id is refused in the same statement, so no
	// join re-creates a document deleted a moment before.
	res, err := tx.ExecContext(ctx, `
		INSERT INTO documents (id, title, language, owner_id, created_by, is_public, visibility, link_role, snapshot_rev, head_rev, created_at, updated_at)
		SELECT $1, $2, $3, $4, $4, $5, $6, $7, $8, $8, $9, $9
		WHERE NOT EXISTS (SELECT 1 FROM deleted_documents WHERE id = $1)`,
		d.ID, d.Title, d.Language, r.owner, r.vis == gdoc.VisibilityPublic, string(r.vis), string(r.linkRole), d.Rev, unixMS(r.created))
	switch kind, _ := s.dialect.Constraint(err); {
	case kind == Unique:
		return gdoc.Errorf(gdoc.ECONFLICT, "A document with id %q exists.", d.ID)
	case kind == Foreign:
		return gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", d.OwnerID)
	case err != nil:
		return s.dialect.Fault("create document", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.dialect.Fault("create document", err)
	} else if n == 0 {
		return gdoc.Errorf(gdoc.ENOTFOUND, "The document %q was deleted.", d.ID)
	}
	if r.owner != nil {
		if err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = $1`, r.owner).Scan(&r.ownerName); err != nil {
			return s.dialect.Fault("create document", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO snapshots (doc_id, content) VALUES ($1, $2)`, d.ID, d.Content); err != nil {
		return s.dialect.Fault("create document", err)
	}
	// History starts here: the text as created is its first checkpoint.
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (doc_id, rev, content) VALUES ($1, $2, $3)`, d.ID, d.Rev, d.Content); err != nil {
		return s.dialect.Fault("create document", err)
	}
	return nil
}

// done sets the fields of a committed document.
func (r *documentRow) done() {
	d := r.d
	d.CreatedAt, d.UpdatedAt = r.created, r.created
	d.Public, d.Visibility, d.LinkRole = r.vis == gdoc.VisibilityPublic, r.vis, r.linkRole
	d.OwnerUsername, d.Members = r.ownerName.String, map[string]gdoc.Role{}
}

// documentColumns are read from documents; a document's text is in
// snapshots (one row per document, written with it), so that the documents
// row every commit updates stays small.
const documentColumns = `documents.id, documents.title, documents.language, documents.owner_id, documents.is_public,
	documents.snapshot_rev, documents.created_at, documents.updated_at, documents.visibility, documents.link_role,
	(SELECT username FROM users WHERE users.id = documents.owner_id)`

// snapshotContent is the text of the document of the documents row in
// scope, as a scalar subquery.
const snapshotContent = `(SELECT content FROM snapshots WHERE snapshots.doc_id = documents.id)`

type rowScanner interface{ Scan(dest ...any) error }

// rowErr classifies the error of a one-row query: notFound when there is no
// row, a fault for a driver error, nil otherwise.
func (s *Store) rowErr(what string, err, notFound error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	} else if err != nil {
		return s.dialect.Fault(what, err)
	}
	return nil
}

// queryList runs query on the read pool and returns what scan makes of each
// row (an empty list, not nil, when there is none).
func queryList[T any](ctx context.Context, s *Store, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.dialect.Fault(what, err)
	}
	defer rows.Close()
	list := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.dialect.Fault(what, err)
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dialect.Fault(what, err)
	}
	return list, nil
}

// execOne runs a statement meant to change one row; notFound when it
// changes none.
func (s *Store) execOne(ctx context.Context, what string, notFound error, query string, args ...any) error {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return s.dialect.Fault(what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.dialect.Fault(what, err)
	} else if n == 0 {
		return notFound
	}
	return nil
}

// scanDocument reads documentColumns, then extra.
func scanDocument(row rowScanner, extra ...any) (*gdoc.Document, error) {
	var d gdoc.Document
	var owner sql.NullInt64
	var created, updated int64
	var visibility, linkRole string
	var ownerName sql.NullString
	dest := append([]any{&d.ID, &d.Title, &d.Language, &owner, &d.Public, &d.Rev, &created, &updated,
		&visibility, &linkRole, &ownerName}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	d.OwnerID, d.OwnerUsername = formatID(owner), ownerName.String
	d.Visibility, d.LinkRole = gdoc.Visibility(visibility), gdoc.Role(linkRole)
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	return &d, nil
}

// Document returns the document with its latest snapshot and all its
// Members. ENOTFOUND.
func (s *Store) Document(ctx context.Context, id string) (*gdoc.Document, error) {
	var content string
	d, err := scanDocument(s.read.QueryRowContext(ctx,
		`SELECT `+documentColumns+`, `+snapshotContent+` FROM documents WHERE id = $1`, id), &content)
	if err = s.rowErr("read document", err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", id)); err != nil {
		return nil, err
	}
	d.Content = content
	if d.Members, err = s.memberRoles(ctx, id); err != nil {
		return nil, err
	}
	return d, nil
}

// DocumentMeta returns the document without Content, with its owner's
// username and all its Members, in one query (the members joined: one row
// each, or one row without a member). ENOTFOUND.
func (s *Store) DocumentMeta(ctx context.Context, id string) (*gdoc.Document, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+documentColumns+`, m.user_id, m.role
		FROM documents LEFT JOIN document_members m ON m.doc_id = documents.id WHERE documents.id = $1`, id)
	if err != nil {
		return nil, s.dialect.Fault("read document", err)
	}
	defer rows.Close()
	var d *gdoc.Document
	for rows.Next() {
		var user sql.NullInt64
		var role sql.NullString
		row, err := scanDocument(rows, &user, &role)
		if err != nil {
			return nil, s.dialect.Fault("read document", err)
		}
		if d == nil {
			d = row
			d.Members = map[string]gdoc.Role{}
		}
		if user.Valid {
			d.Members[strconv.FormatInt(user.Int64, 10)] = gdoc.Role(role.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.dialect.Fault("read document", err)
	}
	if d == nil {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", id)
	}
	return d, nil
}

// Documents lists public documents and, when viewerID != "", the viewer's
// own and those the viewer is a member of (Members holds the viewer's role
// there), most recently updated first, without Content.
func (s *Store) Documents(ctx context.Context, viewerID string) ([]*gdoc.Document, error) {
	viewer, ok := parseID(viewerID)
	if !ok {
		viewer = 0 // no user has id 0: public documents only
	}
	return queryList(ctx, s, "list documents", func(row rowScanner) (*gdoc.Document, error) {
		var role sql.NullString
		d, err := scanDocument(row, &role)
		if err == nil {
			d.Members = map[string]gdoc.Role{}
			if role.Valid {
				d.Members[viewerID] = gdoc.Role(role.String)
			}
		}
		return d, err
	}, `
		SELECT `+documentColumns+`, m.role FROM documents
		LEFT JOIN document_members m ON m.doc_id = documents.id AND m.user_id = $1
		WHERE documents.visibility = 'public' OR documents.owner_id = $1 OR m.user_id IS NOT NULL
		ORDER BY documents.updated_at DESC, documents.id`, viewer)
}

// UpdateDocumentMeta changes title, language and publicity where non-nil,
// and returns the document with its snapshot. ENOTFOUND.
func (s *Store) UpdateDocumentMeta(ctx context.Context, id string, title, language *string, public *bool) (*gdoc.Document, error) {
	if title != nil {
		if err := checkText("title", *title); err != nil {
			return nil, err
		}
	}
	if language != nil {
		if err := checkText("language", *language); err != nil {
			return nil, err
		}
	}
	var visibility *string
	if public != nil {
		v := string(gdoc.VisibilityPrivate)
		if *public {
			v = string(gdoc.VisibilityPublic)
		}
		visibility = &v
	}
	return s.updateDocument(ctx, id, `
			title = COALESCE($2, title),
			language = COALESCE($3, language),
			visibility = COALESCE($4, visibility),
			is_public = (COALESCE($4, visibility) = 'public')`, title, language, visibility)
}

// SetDocumentAccess changes visibility and link role where non-nil, and
// returns the document with its snapshot and members. ENOTFOUND, EINVALID.
func (s *Store) SetDocumentAccess(ctx context.Context, id string, visibility *gdoc.Visibility, linkRole *gdoc.Role) (*gdoc.Document, error) {
	var v, l *string
	if visibility != nil {
		if !gdoc.ValidVisibility(*visibility) {
			return nil, gdoc.Errorf(gdoc.EINVALID, "visibility: must be public, link or private, not %q.", *visibility)
		}
		v = (*string)(visibility)
	}
	if linkRole != nil {
		if !gdoc.ValidMemberRole(*linkRole) {
			return nil, gdoc.Errorf(gdoc.EINVALID, "link_role: must be editor or viewer, not %q.", *linkRole)
		}
		l = (*string)(linkRole)
	}
	return s.updateDocument(ctx, id, `
			visibility = COALESCE($2, visibility),
			link_role = COALESCE($3, link_role),
			is_public = (COALESCE($2, visibility) = 'public')`, v, l)
}

// updateDocument runs UPDATE documents SET <set>, updated_at = now WHERE id
// = $1 with args as $2..., and returns the document with its snapshot and
// members.
func (s *Store) updateDocument(ctx context.Context, id, set string, args ...any) (*gdoc.Document, error) {
	var content string
	n := len(args) + 2
	d, err := scanDocument(s.write.QueryRowContext(ctx, `
		UPDATE documents SET `+set+`,
			updated_at = $`+strconv.Itoa(n)+`
		WHERE id = $1
		RETURNING `+documentColumns+`, `+snapshotContent,
		append(append([]any{id}, args...), unixMS(s.stamp(time.Time{})))...), &content)
	if err = s.rowErr("update document", err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", id)); err != nil {
		return nil, err
	}
	d.Content = content
	if d.Members, err = s.memberRoles(ctx, id); err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteDocument removes the document; its ops, chat, sessions and members
// go with it (ON DELETE CASCADE), and a tombstone keeps its id from being
// created again. ENOTFOUND.
func (s *Store) DeleteDocument(ctx context.Context, id string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("delete document", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO deleted_documents (id, created_by, created_at, deleted_at)
		SELECT id, created_by, created_at, $2 FROM documents WHERE id = $1
		ON CONFLICT (id) DO UPDATE SET deleted_at = excluded.deleted_at`, id, unixMS(s.stamp(time.Time{}))); err != nil {
		return s.dialect.Fault("delete document", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE id = $1`, id)
	if err != nil {
		return s.dialect.Fault("delete document", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.dialect.Fault("delete document", err)
	} else if n == 0 {
		return gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", id)
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("delete document", err)
	}
	return nil
}

// DocumentDeleted reports whether document id existed and was deleted.
func (s *Store) DocumentDeleted(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM deleted_documents WHERE id = $1`, id).Scan(&n)
	if err != nil {
		return false, s.dialect.Fault("read tombstone", err)
	}
	return n > 0, nil
}

// DocumentsCreatedSince counts the documents userID created at or after
// since, deleted ones included.
func (s *Store) DocumentsCreatedSince(ctx context.Context, userID string, since time.Time) (int, error) {
	user, ok := parseID(userID)
	if !ok {
		return 0, nil
	}
	var n int
	err := s.read.QueryRowContext(ctx, `
		SELECT (SELECT COUNT(*) FROM documents WHERE created_by = $1 AND created_at >= $2)
		     + (SELECT COUNT(*) FROM deleted_documents WHERE created_by = $1 AND created_at >= $2)`,
		user, unixMS(since)).Scan(&n)
	if err != nil {
		return 0, s.dialect.Fault("count created documents", err)
	}
	return n, nil
}

// SaveSnapshot stores content as the document's text at revision rev unless
// a snapshot at rev or later is stored (then it is a no-op). ENOTFOUND;
// EINVALID when rev is negative or ahead of the op log, since a snapshot
// must describe committed history.
func (s *Store) SaveSnapshot(ctx context.Context, id string, content string, rev int64) error {
	if rev < 0 {
		return gdoc.Errorf(gdoc.EINVALID, "A snapshot revision cannot be negative.")
	}
	if err := checkText("content", content); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("save snapshot", err)
	}
	defer tx.Rollback()
	// Advancing snapshot_rev first takes the documents row's lock
	// (PostgreSQL), so a racing SaveSnapshot of the same document waits,
	// then finds snapshot_rev moved and writes no text: the stored text
	// always belongs to the stored snapshot_rev.
	res, err := tx.ExecContext(ctx, `
		UPDATE documents SET snapshot_rev = $2
		WHERE id = $1 AND snapshot_rev < $2 AND $2 <= head_rev`, id, rev)
	if err != nil {
		return s.dialect.Fault("save snapshot", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.dialect.Fault("save snapshot", err)
	} else if n == 0 {
		// Not saved: no such document, rev ahead of the head, or a snapshot
		// at rev or later is stored (a no-op).
		var head int64
		err := tx.QueryRowContext(ctx, `SELECT head_rev FROM documents WHERE id = $1`, id).Scan(&head)
		if err = s.rowErr("save snapshot", err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", id)); err != nil {
			return err
		}
		if rev > head {
			return gdoc.Errorf(gdoc.EINVALID, "A snapshot at revision %d is ahead of document %q's head revision %d.", rev, id, head)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO snapshots (doc_id, content) VALUES ($1, $2)
		ON CONFLICT (doc_id) DO UPDATE SET content = excluded.content`, id, content); err != nil {
		return s.dialect.Fault("save snapshot", err)
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("save snapshot", err)
	}
	return nil
}

// checkBatch refuses a batch that is malformed in itself (before any
// database work), and stamps ops that carry no CreatedAt.
func (s *Store) checkBatch(b *gdoc.OpBatch) error {
	if len(b.Ops) == 0 {
		return gdoc.Errorf(gdoc.EINVALID, "A batch for document %q has no ops.", b.DocID)
	}
	if b.BaseRev < 0 {
		return gdoc.Errorf(gdoc.EINVALID, "A batch's base revision cannot be negative.")
	}
	for i := range b.Ops {
		op := &b.Ops[i]
		if op.DocID != "" && op.DocID != b.DocID {
			return gdoc.Errorf(gdoc.EINVALID, "An op for document %q is in a batch for %q.", op.DocID, b.DocID)
		}
		if want := b.BaseRev + 1 + int64(i); op.Rev != want {
			return gdoc.Errorf(gdoc.EINVALID, "Op %d of a batch based on revision %d must have revision %d, not %d.", i, b.BaseRev, want, op.Rev)
		}
		if !json.Valid(op.Op) {
			return gdoc.Errorf(gdoc.EINVALID, "Op %q is not valid JSON.", op.OpID)
		}
		if err := checkTexts("op id", op.OpID, "user id", op.UserID); err != nil {
			return err
		}
		if op.CreatedAt.IsZero() {
			op.CreatedAt = s.stamp(time.Time{})
		}
	}
	return nil
}

// Ops returns the ops of docID with from < Rev <= to in rev order (to <= 0
// means up to the newest); none for an unknown document.
func (s *Store) Ops(ctx context.Context, docID string, from, to int64) ([]gdoc.CommittedOp, error) {
	if to <= 0 {
		to = 1<<63 - 1
	}
	return queryList(ctx, s, "read ops", func(row rowScanner) (gdoc.CommittedOp, error) {
		op := gdoc.CommittedOp{DocID: docID}
		var opID sql.NullString
		var text string
		var created int64
		err := row.Scan(&op.Rev, &opID, &op.UserID, &text, &created)
		op.OpID, op.Op, op.CreatedAt = opID.String, json.RawMessage(text), fromMS(created)
		return op, err
	}, `
		SELECT rev, op_id, user_id, op, created_at FROM ops
		WHERE doc_id = $1 AND rev > $2 AND rev <= $3
		ORDER BY rev`, docID, from, to)
}

// HeadRev returns the newest committed revision of docID (0 when none, and
// for an unknown document).
func (s *Store) HeadRev(ctx context.Context, docID string) (int64, error) {
	var head int64
	err := s.read.QueryRowContext(ctx, `SELECT head_rev FROM documents WHERE id = $1`, docID).Scan(&head)
	if err = s.rowErr("read head revision", err, nil); err != nil {
		return 0, err
	}
	return head, nil
}

// OpRev returns the revision that user userID's op opID of docID became.
// ENOTFOUND.
func (s *Store) OpRev(ctx context.Context, docID, userID, opID string) (int64, error) {
	var rev int64
	err := s.read.QueryRowContext(ctx, `SELECT rev FROM ops WHERE doc_id = $1 AND user_id = $2 AND op_id = $3`, docID, userID, opID).Scan(&rev)
	if err = s.rowErr("read op revision", err, gdoc.Errorf(gdoc.ENOTFOUND, "No op %q in document %q.", opID, docID)); err != nil {
		return 0, err
	}
	return rev, nil
}

// AddChatMessage stores m, setting m.ID and m.CreatedAt (unless set).
// ENOTFOUND when the document does not exist.
func (s *Store) AddChatMessage(ctx context.Context, m *gdoc.ChatMessage) error {
	if err := checkTexts("message", m.Message, "username", m.Username, "user id", m.UserID); err != nil {
		return err
	}
	created := s.stamp(m.CreatedAt)
	id, err := s.insertForDocument(ctx, "add chat message", m.DocID, `
		INSERT INTO chat_messages (doc_id, user_id, username, message, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		m.DocID, m.UserID, m.Username, m.Message, unixMS(created))
	if err != nil {
		return err
	}
	m.ID, m.CreatedAt = id, created
	return nil
}

// insertForDocument runs an INSERT of a row of document docID that returns
// the row's id. ENOTFOUND when there is no such document.
func (s *Store) insertForDocument(ctx context.Context, what, docID, query string, args ...any) (int64, error) {
	var id int64
	err := s.write.QueryRowContext(ctx, query, args...).Scan(&id)
	if kind, _ := s.dialect.Constraint(err); kind == Foreign {
		return 0, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", docID)
	} else if err != nil {
		return 0, s.dialect.Fault(what, err)
	}
	return id, nil
}

// ChatMessages returns up to limit messages with ID < beforeID (all when
// beforeID <= 0), the newest of them, in chronological order. EINVALID when
// limit < 1.
func (s *Store) ChatMessages(ctx context.Context, docID string, beforeID int64, limit int) ([]*gdoc.ChatMessage, error) {
	if limit < 1 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "A chat page holds at least one message.")
	}
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	msgs, err := queryList(ctx, s, "read chat", func(row rowScanner) (*gdoc.ChatMessage, error) {
		m := &gdoc.ChatMessage{DocID: docID}
		var created int64
		err := row.Scan(&m.ID, &m.UserID, &m.Username, &m.Message, &created)
		m.CreatedAt = fromMS(created)
		return m, err
	}, `
		SELECT id, user_id, username, message, created_at FROM chat_messages
		WHERE doc_id = $1 AND id < $2
		ORDER BY id DESC LIMIT $3`, docID, beforeID, limit)
	slices.Reverse(msgs)
	return msgs, err
}

// StartSession stores sess, setting sess.ID (and JoinedAt unless set).
// ENOTFOUND when the document does not exist.
func (s *Store) StartSession(ctx context.Context, sess *gdoc.DocSession) error {
	if err := checkTexts("user id", sess.UserID, "server id", sess.ServerID); err != nil {
		return err
	}
	joined := s.stamp(sess.JoinedAt)
	var left any
	if sess.LeftAt != nil {
		left = unixMS(*sess.LeftAt)
	}
	id, err := s.insertForDocument(ctx, "start session", sess.DocID, `
		INSERT INTO doc_sessions (doc_id, user_id, server_id, joined_at, left_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		sess.DocID, sess.UserID, sess.ServerID, unixMS(joined), left)
	if err != nil {
		return err
	}
	sess.ID, sess.JoinedAt = id, joined
	return nil
}

// StartSessions stores every session of ss in one transaction (one
// commit for a batch of joins), setting their IDs (and JoinedAt unless
// set). A session whose document does not exist is skipped and keeps ID 0.
func (s *Store) StartSessions(ctx context.Context, ss []*gdoc.DocSession) error {
	for _, sess := range ss {
		if err := checkTexts("user id", sess.UserID, "server id", sess.ServerID); err != nil {
			return err
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("start sessions", err)
	}
	defer tx.Rollback()
	ids := make([]int64, len(ss))
	joined := make([]time.Time, len(ss))
	for i, sess := range ss {
		joined[i] = s.stamp(sess.JoinedAt)
		var left any
		if sess.LeftAt != nil {
			left = unixMS(*sess.LeftAt)
		}
		// The EXISTS skips a deleted document's session instead of failing
		// the transaction on the foreign key (PostgreSQL would abort it).
		err := tx.QueryRowContext(ctx, `
			INSERT INTO doc_sessions (doc_id, user_id, server_id, joined_at, left_at)
			SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT), CAST($5 AS BIGINT)
			WHERE EXISTS (SELECT 1 FROM documents WHERE id = $1) RETURNING id`,
			sess.DocID, sess.UserID, sess.ServerID, unixMS(joined[i]), left).Scan(&ids[i])
		if errors.Is(err, sql.ErrNoRows) {
			ids[i] = 0
			continue
		}
		if err != nil {
			return s.dialect.Fault("start sessions", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("start sessions", err)
	}
	for i, sess := range ss {
		sess.ID = ids[i]
		if ids[i] != 0 {
			sess.JoinedAt = joined[i]
		}
	}
	return nil
}

// EndSession sets the session's LeftAt. ENOTFOUND.
func (s *Store) EndSession(ctx context.Context, id int64, leftAt time.Time) error {
	return s.execOne(ctx, "end session", gdoc.Errorf(gdoc.ENOTFOUND, "No session %d.", id),
		`UPDATE doc_sessions SET left_at = $2 WHERE id = $1`, id, unixMS(s.stamp(leftAt)))
}

// EndSessions sets the LeftAt of every session of ends in one
// transaction (one commit for a batch of leaves); an id that is no session
// is skipped.
func (s *Store) EndSessions(ctx context.Context, ends []gdoc.SessionEnd) error {
	if len(ends) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("end sessions", err)
	}
	defer tx.Rollback()
	for _, e := range ends {
		if _, err := tx.ExecContext(ctx, `UPDATE doc_sessions SET left_at = $2 WHERE id = $1`, e.ID, unixMS(s.stamp(e.LeftAt))); err != nil {
			return s.dialect.Fault("end sessions", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("end sessions", err)
	}
	return nil
}

// Sessions lists a document's sessions, newest first, up to limit. EINVALID
// when limit < 1.
func (s *Store) Sessions(ctx context.Context, docID string, limit int) ([]*gdoc.DocSession, error) {
	if limit < 1 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "A session list holds at least one session.")
	}
	return queryList(ctx, s, "read sessions", func(row rowScanner) (*gdoc.DocSession, error) {
		sess := &gdoc.DocSession{DocID: docID}
		var joined int64
		var left sql.NullInt64
		err := row.Scan(&sess.ID, &sess.UserID, &sess.ServerID, &joined, &left)
		sess.JoinedAt = fromMS(joined)
		if left.Valid {
			t := fromMS(left.Int64)
			sess.LeftAt = &t
		}
		return sess, err
	}, `
		SELECT id, user_id, server_id, joined_at, left_at FROM doc_sessions
		WHERE doc_id = $1
		ORDER BY joined_at DESC, id DESC LIMIT $2`, docID, limit)
}

// RevokeToken remembers jti as revoked until expiresAt, and forgets tokens
// that have expired (they are refused as expired anyway).
func (s *Store) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return gdoc.Errorf(gdoc.EINVALID, "A token id is required.")
	}
	if err := checkText("token id", jti); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("revoke token", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at < $1`, unixMS(s.now())); err != nil {
		return s.dialect.Fault("revoke token", err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at`,
		jti, unixMS(expiresAt)); err != nil {
		return s.dialect.Fault("revoke token", err)
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("revoke token", err)
	}
	return nil
}

// RaiseTokenEpoch increments the user's token epoch (log out everywhere).
func (s *Store) RaiseTokenEpoch(ctx context.Context, userID string) (int64, error) {
	n, ok := parseID(userID)
	notFound := gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", userID)
	if !ok {
		return 0, notFound
	}
	var epoch int64
	err := s.write.QueryRowContext(ctx,
		`UPDATE users SET token_epoch = token_epoch + 1 WHERE id = $1 RETURNING token_epoch`, n).Scan(&epoch)
	if err = s.rowErr("raise token epoch", err, notFound); err != nil {
		return 0, err
	}
	return epoch, nil
}

// TokenRevoked reports whether jti was revoked (and not yet forgotten).
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM revoked_tokens WHERE jti = $1`, jti).Scan(&one)
	if err = s.rowErr("read revoked token", err, nil); err != nil {
		return false, err
	}
	return one == 1, nil
}
