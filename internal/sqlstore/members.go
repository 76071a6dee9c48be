package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// memberRoles maps the members of document id (the owner is not one) to
// their roles.
func (s *Store) memberRoles(ctx context.Context, id string) (map[string]gdoc.Role, error) {
	list, err := queryList(ctx, s, "read members", func(row rowScanner) (gdoc.Member, error) {
		var m gdoc.Member
		var user int64
		err := row.Scan(&user, &m.Role)
		m.UserID = strconv.FormatInt(user, 10)
		return m, err
	}, `SELECT user_id, role FROM document_members WHERE doc_id = $1`, id)
	if err != nil {
		return nil, err
	}
	roles := make(map[string]gdoc.Role, len(list))
	for _, m := range list {
		roles[m.UserID] = m.Role
	}
	return roles, nil
}

// Members lists the owner (role owner) first, then the members by
// username. ENOTFOUND for no such document.
func (s *Store) Members(ctx context.Context, docID string) ([]gdoc.Member, error) {
	var owner sql.NullInt64
	var ownerName sql.NullString
	err := s.read.QueryRowContext(ctx, `
		SELECT d.owner_id, u.username FROM documents d LEFT JOIN users u ON u.id = d.owner_id
		WHERE d.id = $1`, docID).Scan(&owner, &ownerName)
	if err = s.rowErr("read members", err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", docID)); err != nil {
		return nil, err
	}
	members, err := queryList(ctx, s, "read members", func(row rowScanner) (gdoc.Member, error) {
		var m gdoc.Member
		var user int64
		err := row.Scan(&user, &m.Username, &m.Role)
		m.UserID = strconv.FormatInt(user, 10)
		return m, err
	}, `
		SELECT m.user_id, u.username, m.role FROM document_members m JOIN users u ON u.id = m.user_id
		WHERE m.doc_id = $1 ORDER BY u.username_key`, docID)
	if err != nil {
		return nil, err
	}
	if owner.Valid {
		members = append([]gdoc.Member{{UserID: formatID(owner), Username: ownerName.String, Role: gdoc.RoleOwner}}, members...)
	}
	return members, nil
}

// documentOwner reads document docID's owner inside tx, locking its row on
// PostgreSQL. ENOTFOUND.
func (s *Store) documentOwner(ctx context.Context, tx *Tx, what, docID string) (sql.NullInt64, error) {
	var owner sql.NullInt64
	// The no-op update takes the row lock, so that two membership changes
	// of one document serialize with each other and with a transfer.
	err := tx.QueryRowContext(ctx, `UPDATE documents SET owner_id = owner_id WHERE id = $1 RETURNING owner_id`, docID).Scan(&owner)
	return owner, s.rowErr(what, err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", docID))
}

// SetMember gives userID role (editor or viewer) on docID. ENOTFOUND for no
// such document or user; EINVALID for another role or for the owner.
func (s *Store) SetMember(ctx context.Context, docID, userID string, role gdoc.Role) (*gdoc.Member, error) {
	if !gdoc.ValidMemberRole(role) {
		return nil, gdoc.Errorf(gdoc.EINVALID, "role: must be editor or viewer, not %q.", role)
	}
	user, ok := parseID(userID)
	if !ok {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", userID)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.dialect.Fault("set member", err)
	}
	defer tx.Rollback()
	owner, err := s.documentOwner(ctx, tx, "set member", docID)
	if err != nil {
		return nil, err
	}
	if owner.Valid && owner.Int64 == user {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The owner's role cannot be changed; transfer the ownership instead.")
	}
	m := gdoc.Member{UserID: userID, Role: role}
	err = tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = $1`, user).Scan(&m.Username)
	if err = s.rowErr("set member", err, gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", userID)); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO document_members (doc_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (doc_id, user_id) DO UPDATE SET role = excluded.role`,
		docID, user, string(role), unixMS(s.stamp(time.Time{}))); err != nil {
		return nil, s.dialect.Fault("set member", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.dialect.Fault("set member", err)
	}
	return &m, nil
}

// RemoveMember ends userID's membership of docID. ENOTFOUND when userID is
// not a member.
func (s *Store) RemoveMember(ctx context.Context, docID, userID string) error {
	user, ok := parseID(userID)
	if !ok {
		return gdoc.Errorf(gdoc.ENOTFOUND, "No user with id %q.", userID)
	}
	return s.execOne(ctx, "remove member", gdoc.Errorf(gdoc.ENOTFOUND, "That user is not a member of document %q.", docID),
		`DELETE FROM document_members WHERE doc_id = $1 AND user_id = $2`, docID, user)
}

// TransferOwnership makes member userID the owner of docID and the old
// owner an editor. ENOTFOUND for no such document; EINVALID when userID is
// not a member.
func (s *Store) TransferOwnership(ctx context.Context, docID, userID string) (*gdoc.Document, error) {
	user, ok := parseID(userID)
	if !ok {
		return nil, gdoc.Errorf(gdoc.EINVALID, "Only a member can become the owner.")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.dialect.Fault("transfer ownership", err)
	}
	defer tx.Rollback()
	owner, err := s.documentOwner(ctx, tx, "transfer ownership", docID)
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM document_members WHERE doc_id = $1 AND user_id = $2`, docID, user)
	if err != nil {
		return nil, s.dialect.Fault("transfer ownership", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, s.dialect.Fault("transfer ownership", err)
	} else if n == 0 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "Only a member can become the owner: add them first.")
	}
	now := unixMS(s.stamp(time.Time{}))
	if _, err := tx.ExecContext(ctx, `UPDATE documents SET owner_id = $2, updated_at = $3 WHERE id = $1`, docID, user, now); err != nil {
		return nil, s.dialect.Fault("transfer ownership", err)
	}
	if owner.Valid {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO document_members (doc_id, user_id, role, created_at) VALUES ($1, $2, 'editor', $3)
			ON CONFLICT (doc_id, user_id) DO UPDATE SET role = excluded.role`, docID, owner.Int64, now); err != nil {
			return nil, s.dialect.Fault("transfer ownership", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, s.dialect.Fault("transfer ownership", err)
	}
	return s.Document(ctx, docID)
}

// maxIDsPerQuery bounds the placeholders of one IN list.
const maxIDsPerQuery = 500

// placeholders returns "$1, $2, ..., $n".
func placeholders(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i))
	}
	return b.String()
}

// DocumentsByID returns those of ids that exist, with their members and
// without Content: two queries per maxIDsPerQuery ids.
func (s *Store) DocumentsByID(ctx context.Context, ids []string) ([]*gdoc.Document, error) {
	out := []*gdoc.Document{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxIDsPerQuery)]
		ids = ids[len(chunk):]
		// The list is padded (with its last id) to a power of two, so
		// that a few query texts serve every length (stmtcache.go).
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, n)
		for i := range args {
			args[i] = chunk[min(i, len(chunk)-1)]
		}
		in := placeholders(n)
		docs, err := queryList(ctx, s, "read documents", func(row rowScanner) (*gdoc.Document, error) { return scanDocument(row) },
			`SELECT `+documentColumns+` FROM documents WHERE documents.id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]*gdoc.Document, len(docs))
		for _, d := range docs {
			d.Members = map[string]gdoc.Role{}
			byID[d.ID] = d
		}
		type membership struct {
			doc, user string
			role      gdoc.Role
		}
		ms, err := queryList(ctx, s, "read members", func(row rowScanner) (membership, error) {
			var m membership
			var user int64
			err := row.Scan(&m.doc, &user, &m.role)
			m.user = strconv.FormatInt(user, 10)
			return m, err
		}, `SELECT doc_id, user_id, role FROM document_members WHERE doc_id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if d := byID[m.doc]; d != nil {
				d.Members[m.user] = m.role
			}
		}
		out = append(out, docs...)
	}
	return out, nil
}
