package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// openPool opens a one-connection pool on a new SQLite file, as SQLite's
// writer pool is.
func openPool(t *testing.T) *pool {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	p := newPool(db, true)
	t.Cleanup(func() { p.Close() })
	if _, err := p.ExecContext(context.Background(), `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStatementCache(t *testing.T) {
	t.Run("reads see later writes", func(t *testing.T) {
		p := openPool(t)
		ctx := context.Background()
		read := func() string {
			var v string
			if err := p.QueryRowContext(ctx, `SELECT v FROM t WHERE k = $1`, 1).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if _, err := p.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, 1, "a"); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "a" {
			t.Fatalf("read %q, want a", got)
		}
		if _, err := p.ExecContext(ctx, `UPDATE t SET v = $2 WHERE k = $1`, 1, "b"); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "b" {
			t.Fatalf("read %q after the update, want b", got)
		}
		if p.cached(`SELECT v FROM t WHERE k = $1`) == nil {
			t.Fatal("the read is not cached")
		}
	})

	// With one connection, preparing inside a transaction would wait for
	// that connection forever: a transaction runs a new query unprepared
	// and the next transaction prepares it before it begins.
	t.Run("transaction on one connection", func(t *testing.T) {
		p := openPool(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const insert = `INSERT INTO t (k, v) VALUES ($1, $2)`
		for i := range 3 {
			tx, err := p.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, insert, i, "x"); err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if i == 0 && p.cached(insert) != nil {
				t.Fatal("prepared inside the first transaction")
			}
		}
		if p.cached(insert) == nil {
			t.Fatal("not prepared for the later transactions")
		}
		var n int
		if err := p.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("rows %d, %v; want 3", n, err)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		p := openPool(t)
		ctx := context.Background()
		for i := range maxStatements + 10 {
			rows, err := p.QueryContext(ctx, `SELECT v FROM t WHERE k = `+strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
		if len(p.stmts) != maxStatements {
			t.Fatalf("%d statements cached, want %d", len(p.stmts), maxStatements)
		}
	})
}
