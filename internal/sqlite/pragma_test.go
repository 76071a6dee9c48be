package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/gdoc/gdoc/internal/storetest"
)

// TestPragmas checks that the durability and integrity settings reach every
// connection: they are per connection, and a typo in a DSN is silent.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, Open, filepath.Join(t.TempDir(), "gdoc.db"))
	for _, tc := range []struct {
		db     *sql.DB
		name   string
		pragma string
		want   string
	}{
		{s.write, "writer", "journal_mode", "wal"},
		{s.write, "writer", "synchronous", "2"}, // FULL
		{s.write, "writer", "foreign_keys", "1"},
		{s.write, "writer", "busy_timeout", "10000"},
		{s.write, "writer", "query_only", "0"},
		{s.read, "reader", "journal_mode", "wal"},
		{s.read, "reader", "query_only", "1"},
	} {
		var got string
		if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.name, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.read.ExecContext(ctx, `DELETE FROM users`); err == nil {
		t.Error("the read pool accepted a write")
	}
	if got := s.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
}
