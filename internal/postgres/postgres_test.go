package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/postgres"
	"github.com/gdoc/gdoc/internal/storetest"
	"github.com/gdoc/gdoc/internal/testenv"
)

// mustOpen opens a store on a fresh schema and closes it after the test
// (before the schema is dropped: cleanups run last-in first-out).
func mustOpen(tb testing.TB) *postgres.Store {
	tb.Helper()
	return storetest.Open(tb, postgres.Open, testenv.FreshSchema(tb))
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gdoc.Store { return mustOpen(t) })
}

func TestOpen(t *testing.T) {
	t.Run("ErrSynchronousCommitOff", func(t *testing.T) {
		// FreshSchema's URL has a query already (search_path).
		url := testenv.FreshSchema(t) + "&synchronous_commit=off"
		s, err := postgres.Open(context.Background(), url)
		if err == nil {
			s.Close()
			t.Fatal("Open accepted a server with synchronous_commit=off")
		}
		if !strings.Contains(err.Error(), "synchronous_commit") {
			t.Fatalf("error %q does not name synchronous_commit", err)
		}
	})
	t.Run("TwoInstancesShareOneSchema", func(t *testing.T) {
		ctx := context.Background()
		url := testenv.FreshSchema(t)
		a := storetest.Open(t, postgres.Open, url)
		b := storetest.Open(t, postgres.Open, url) // migrations already applied
		if err := a.CreateDocument(ctx, &gdoc.Document{ID: "doc", Title: "t"}); err != nil {
			t.Fatal(err)
		}
		// Two instances both based on revision 0: exactly one wins.
		batch := func(opID string) []gdoc.OpBatch {
			return []gdoc.OpBatch{{DocID: "doc", BaseRev: 0, Ops: []gdoc.CommittedOp{{Rev: 1, OpID: opID, UserID: "1", Op: []byte(`["x"]`)}}}}
		}
		ra, err := a.AppendOps(ctx, batch("a:1"))
		if err != nil || ra[0] != nil {
			t.Fatalf("instance a: %v %v", ra, err)
		}
		rb, err := b.AppendOps(ctx, batch("b:1"))
		if err != nil {
			t.Fatal(err)
		}
		if gdoc.ErrorCode(rb[0]) != gdoc.ECONFLICT {
			t.Fatalf("instance b: %v, want %s", rb[0], gdoc.ECONFLICT)
		}
	})
	t.Run("ErrUnreachable", func(t *testing.T) {
		_, err := postgres.Open(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		if err == nil {
			t.Fatal("Open succeeded against a closed port")
		}
	})
}

// TestAppendOpsTimeoutWhileLocked: another instance's transaction holds the
// document's row; AppendOps waits, its context expires, and it commits
// nothing and leaves no transaction open on a pooled connection.
func TestAppendOpsTimeoutWhileLocked(t *testing.T) {
	ctx := context.Background()
	url := testenv.FreshSchema(t)
	s := storetest.Open(t, postgres.Open, url)
	for _, id := range []string{"locked", "free"} {
		if err := s.CreateDocument(ctx, &gdoc.Document{ID: id, Title: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	lock, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `SELECT 1 FROM documents WHERE id = 'locked' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	batch := func(docID string) gdoc.OpBatch {
		return gdoc.OpBatch{DocID: docID, BaseRev: 0, Ops: []gdoc.CommittedOp{{Rev: 1, OpID: "c:1", UserID: "1", Op: []byte(`["x"]`)}}}
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	// "free" sorts before "locked": its batch is written, then rolled back.
	if _, err := s.AppendOps(short, []gdoc.OpBatch{batch("locked"), batch("free")}); err == nil {
		t.Fatal("AppendOps succeeded while the document row was locked")
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"locked", "free"} {
		if head, err := s.HeadRev(ctx, id); err != nil || head != 0 {
			t.Fatalf("HeadRev(%s) = %d, %v after a failed AppendOps, want 0", id, head, err)
		}
	}
	// Every pooled connection is usable: no transaction was left open.
	for range 8 {
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	results, err := s.AppendOps(ctx, []gdoc.OpBatch{batch("locked"), batch("free")})
	if err != nil || results[0] != nil || results[1] != nil {
		t.Fatalf("AppendOps after the lock was released: %v, %v", results, err)
	}
}

func BenchmarkAppendOps(b *testing.B) {
	storetest.BenchmarkAppendOps(b, mustOpen(b))
}

// TestMigrationKeepsDocuments: a database written by schema version 1 keeps
// its documents through the later migrations (and back down).
func TestMigrationKeepsDocuments(t *testing.T) {
	url := testenv.FreshSchema(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.MigrationKeepsDocuments(t, db, goose.DialectPostgres, os.DirFS("migrations"),
		func(t *testing.T) gdoc.Store { return storetest.Open(t, postgres.Open, url) })
}
