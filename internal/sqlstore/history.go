package sqlstore

import (
	"context"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// SaveCheckpoint stores cp unless a checkpoint at cp.Rev is stored (a
// no-op). ENOTFOUND; EINVALID when cp.Rev is negative or ahead of the head.
func (s *Store) SaveCheckpoint(ctx context.Context, cp *gdoc.Checkpoint) error {
	if cp.Rev < 0 {
		return gdoc.Errorf(gdoc.EINVALID, "A checkpoint revision cannot be negative.")
	}
	if err := checkTexts("content", cp.Content, "blame", cp.Blame); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `
		INSERT INTO checkpoints (doc_id, rev, content, blame)
		SELECT id, $2, $3, $4 FROM documents WHERE id = $1 AND head_rev >= $2
		ON CONFLICT (doc_id, rev) DO NOTHING`, cp.DocID, cp.Rev, cp.Content, cp.Blame)
	if err != nil {
		return s.dialect.Fault("save checkpoint", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.dialect.Fault("save checkpoint", err)
	} else if n > 0 {
		return nil
	}
	// Not written: stored already (a no-op), ahead of the head, or no
	// such document.
	var head int64
	err = s.read.QueryRowContext(ctx, `SELECT head_rev FROM documents WHERE id = $1`, cp.DocID).Scan(&head)
	if err = s.rowErr("save checkpoint", err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", cp.DocID)); err != nil {
		return err
	}
	if cp.Rev > head {
		return gdoc.Errorf(gdoc.EINVALID, "A checkpoint at revision %d is ahead of document %q's head revision %d.", cp.Rev, cp.DocID, head)
	}
	return nil
}

// Checkpoint returns docID's newest checkpoint with Rev <= rev. ENOTFOUND.
func (s *Store) Checkpoint(ctx context.Context, docID string, rev int64) (*gdoc.Checkpoint, error) {
	cp := &gdoc.Checkpoint{DocID: docID}
	err := s.read.QueryRowContext(ctx, `
		SELECT rev, content, blame FROM checkpoints
		WHERE doc_id = $1 AND rev <= $2
		ORDER BY rev DESC LIMIT 1`, docID, rev).Scan(&cp.Rev, &cp.Content, &cp.Blame)
	if err = s.rowErr("read checkpoint", err, gdoc.Errorf(gdoc.ENOTFOUND, "Document %q has no checkpoint at or before revision %d.", docID, rev)); err != nil {
		return nil, err
	}
	return cp, nil
}

// FirstCheckpointRev returns the revision of docID's oldest checkpoint.
// ENOTFOUND when it has none.
func (s *Store) FirstCheckpointRev(ctx context.Context, docID string) (int64, error) {
	var rev int64
	err := s.read.QueryRowContext(ctx, `
		SELECT rev FROM checkpoints WHERE doc_id = $1 ORDER BY rev LIMIT 1`, docID).Scan(&rev)
	if err = s.rowErr("read checkpoint", err, gdoc.Errorf(gdoc.ENOTFOUND, "Document %q has no checkpoint.", docID)); err != nil {
		return 0, err
	}
	return rev, nil
}

// MarkRestore records that revision rev of docID restored the text of
// revision restored. ENOTFOUND for an unknown document; marking a rev twice
// keeps the first mark.
func (s *Store) MarkRestore(ctx context.Context, docID string, rev, restored int64) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO restores (doc_id, rev, restored_rev) VALUES ($1, $2, $3)
		ON CONFLICT (doc_id, rev) DO NOTHING`, docID, rev, restored)
	if kind, _ := s.dialect.Constraint(err); kind == Foreign {
		return gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", docID)
	} else if err != nil {
		return s.dialect.Fault("mark restore", err)
	}
	return nil
}

// Restores returns docID's restore marks with from < rev <= to.
func (s *Store) Restores(ctx context.Context, docID string, from, to int64) (map[int64]int64, error) {
	type mark struct{ rev, restored int64 }
	marks, err := queryList(ctx, s, "read restores", func(row rowScanner) (mark, error) {
		var m mark
		err := row.Scan(&m.rev, &m.restored)
		return m, err
	}, `SELECT rev, restored_rev FROM restores WHERE doc_id = $1 AND rev > $2 AND rev <= $3`, docID, from, to)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(marks))
	for _, m := range marks {
		out[m.rev] = m.restored
	}
	return out, nil
}

// TrimHistory drops docID's ops with Rev <= start, and its checkpoints and
// restore marks before start. EINVALID unless a checkpoint at start is
// stored and start <= the snapshot's revision; ENOTFOUND.
func (s *Store) TrimHistory(ctx context.Context, docID string, start int64) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dialect.Fault("trim history", err)
	}
	defer tx.Rollback()
	var snapshotRev int64
	err = tx.QueryRowContext(ctx, `SELECT snapshot_rev FROM documents WHERE id = $1`, docID).Scan(&snapshotRev)
	if err = s.rowErr("trim history", err, gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", docID)); err != nil {
		return err
	}
	if start > snapshotRev {
		return gdoc.Errorf(gdoc.EINVALID, "Document %q's history cannot start at revision %d, after its snapshot at %d.", docID, start, snapshotRev)
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM checkpoints WHERE doc_id = $1 AND rev = $2`, docID, start).Scan(&one)
	if err = s.rowErr("trim history", err, gdoc.Errorf(gdoc.EINVALID, "Document %q has no checkpoint at revision %d to start its history at.", docID, start)); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM ops WHERE doc_id = $1 AND rev <= $2`,
		`DELETE FROM checkpoints WHERE doc_id = $1 AND rev < $2`,
		`DELETE FROM restores WHERE doc_id = $1 AND rev <= $2`,
	} {
		if _, err := tx.ExecContext(ctx, q, docID, start); err != nil {
			return s.dialect.Fault("trim history", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.dialect.Fault("trim history", err)
	}
	return nil
}
