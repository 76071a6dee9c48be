package storetest

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// MigrationKeepsDocuments checks that migrating a database written by
// schema version 1 (the snapshot text in documents.content) keeps every
// document's text and revisions. db is an empty database in dialect,
// migrations the engine's migrations directory; open opens the store on the
// same database, applying the pending migrations. Then the down migration
// back to version 1 must put the text back into documents.content.
func MigrationKeepsDocuments(t *testing.T, db *sql.DB, dialect goose.Dialect, migrations fs.FS, open func(t *testing.T) gdoc.Store) {
	ctx := context.Background()
	provider, err := goose.NewProvider(dialect, db, migrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	const text = "package main\n\nfunc main() {} // é 日本"
	_, err = db.ExecContext(ctx, `
		INSERT INTO documents (id, title, language, owner_id, is_public, content, snapshot_rev, head_rev, created_at, updated_at)
		VALUES ('old', 'Old', 'go', NULL, $1, $2, 2, 3, 1000, 2000)`, true, text)
	must(t, err)
	for rev := 1; rev <= 3; rev++ {
		_, err = db.ExecContext(ctx, `
			INSERT INTO ops (doc_id, rev, op_id, user_id, op, created_at)
			VALUES ('old', $1, NULL, '1', '["x"]', 1500)`, rev)
		must(t, err)
	}

	s := open(t)
	requireSnapshot(t, s, "old", text, 2)
	head, err := s.HeadRev(ctx, "old")
	must(t, err)
	if head != 3 {
		t.Fatalf("head after migration: %d, want 3", head)
	}
	requireRevs(t, s, "old", 3)
	// Its history starts at its snapshot (migration 00004): earlier texts
	// were never kept.
	if cp, err := s.Checkpoint(ctx, "old", 3); err != nil || cp.Rev != 2 || cp.Content != text {
		t.Fatalf("checkpoint after migration: %+v, %v", cp, err)
	}
	// The migrated document takes commits and snapshots as a new one would.
	requireCode(t, appendAll(t, s, opsFrom("old", 3, 1, "c"))[0], "")
	must(t, s.SaveSnapshot(ctx, "old", "text at 4", 4))
	requireSnapshot(t, s, "old", "text at 4", 4)

	if _, err := provider.DownTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var content string
	var snapshotRev, headRev int64
	err = db.QueryRowContext(ctx, `SELECT content, snapshot_rev, head_rev FROM documents WHERE id = 'old'`).Scan(&content, &snapshotRev, &headRev)
	must(t, err)
	if content != "text at 4" || snapshotRev != 4 || headRev != 4 {
		t.Fatalf("after migrating down: %q at %d, head %d; want %q at 4, head 4", content, snapshotRev, headRev, "text at 4")
	}
}
