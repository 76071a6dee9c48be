// Package sqlite implements gdoc.Store on an embedded SQLite file (the
// zero-setup default): WAL, synchronous=FULL, one writer connection.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ gdoc.Store = (*Store)(nil)

// dialect is what SQLite does differently from PostgreSQL.
var dialect = sqlstore.Dialect{
	Name:               "sqlite",
	Constraint:         violation,
	Unavailable:        unavailable,
	UnavailableMessage: "The database is busy; try again.",
	Explain:            explain,
	Migrations:         migrations,
	Goose:              goose.DialectSQLite3,
	PrepareStatements:  true,
}

// Store is gdoc.Store on one SQLite database file.
type Store struct {
	*sqlstore.Store
	// write has exactly one connection: SQLite allows one writer at a time,
	// so writers queue in database/sql instead of spinning on SQLITE_BUSY.
	write *sql.DB
	// read is a small pool of read-only connections; in WAL mode readers
	// never wait for the writer's fsync.
	read *sql.DB
	// stmts are AppendOps' statements, prepared on the writer connection.
	stmts map[string]*sql.Stmt
}

// readConns is the size of the read pool.
const readConns = 4

// Open opens (creating if needed) the database file at path, creating its
// directory, and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	// A plain file path only: ":memory:" or a "file:" URI would give the
	// reader and writer pools different databases.
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":") || strings.HasPrefix(path, "file:") {
		return nil, gdoc.Errorf(gdoc.EINVALID, "SQLite path %q must be a plain file path (no '?', '#', ':memory:' or 'file:').", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	// synchronous=FULL: in WAL mode NORMAL may lose the last commits on power
	// loss, and an ack promises durability. _txlock=immediate takes the write
	// lock at BEGIN, so a transaction never fails to upgrade halfway.
	params := url.Values{}
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(FULL)")
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "foreign_keys(1)")
	params.Add("_pragma", "temp_store(memory)") // savepoint journals stay off disk
	writeDSN := path + "?" + params.Encode() + "&_txlock=immediate"
	params.Add("_pragma", "query_only(1)")
	readDSN := path + "?" + params.Encode()

	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s := &Store{write: write}
	if err := dialect.Migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", readDSN)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	s.read = read
	s.Store = sqlstore.New(dialect, write, read, s.appendOps)
	return s, nil
}

// Close closes AppendOps' statements and both pools; the WAL is
// checkpointed when the last connection closes.
func (s *Store) Close() error {
	return errors.Join(s.closeStmts(), s.Store.Close())
}

func (s *Store) closeStmts() error {
	var errs []error
	for _, stmt := range s.stmts {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}

// violation classifies a driver error; detail is the driver's message,
// which names the columns involved.
func violation(err error) (kind sqlstore.Violation, detail string) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.NoViolation, ""
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.Unique, e.Error()
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.Foreign, e.Error()
	}
	return sqlstore.NoViolation, ""
}

// unavailable reports a passing condition: a database locked by another
// process for longer than busy_timeout, or a full disk (the write was
// rolled back; it succeeds once space is freed). Retry later.
func unavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL:
		return true
	}
	return false
}

// explain names a full disk, which an operator must fix.
func explain(err error) string {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL {
		return "The server's disk is full: changes are not saved until space is freed; try again later."
	}
	return ""
}

// txExec runs query in tx through a statement prepared at Open when there is
// one: parsing costs more than executing these small statements.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if stmt, ok := s.stmts[query]; ok {
		return tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// prepare prepares the statements of AppendOps on the writer connection.
// It runs before any transaction: with one connection, preparing during one
// would wait for it forever.
func (s *Store) prepare(ctx context.Context) error {
	queries := []string{savepointSQL, releaseSQL, rollbackToSQL, advanceHeadSQL}
	for rows := 1; rows <= maxRowsPerInsert; rows *= 2 {
		queries = append(queries, insertOpsSQL(rows))
	}
	for rows := 1; rows <= maxGuardedRows; rows++ {
		queries = append(queries, insertGuardedSQL(rows))
	}
	s.stmts = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		stmt, err := s.write.PrepareContext(ctx, q)
		if err != nil {
			return dialect.Fault("prepare", err)
		}
		s.stmts[q] = stmt
	}
	return nil
}
