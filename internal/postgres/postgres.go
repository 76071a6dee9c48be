// Package postgres implements gdoc.Store on PostgreSQL (pgx pool behind
// database/sql), for running several G-Doc instances on one database.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ gdoc.Store = (*Store)(nil)

// dialect is what PostgreSQL does differently from SQLite.
var dialect = sqlstore.Dialect{
	Name:               "postgres",
	Constraint:         violation,
	Unavailable:        unavailable,
	UnavailableMessage: "The database is unavailable; try again.",
	Migrations:         migrations,
	Goose:              goose.DialectPostgres,
}

// Store is gdoc.Store on a PostgreSQL database.
type Store struct {
	*sqlstore.Store
	// pool serves AppendOps' pipelines and, through database/sql, every
	// other query: PostgreSQL serializes writers itself.
	pool *pgxpool.Pool
}

// defaultMaxConns is the pool size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// Open connects to the database at url (a postgres:// URL or key=value
// DSN; search_path and other settings may be given as parameters), checks
// that commits are durable, and applies pending migrations (under an
// advisory lock, so instances starting together migrate once).
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (4 on a small machine) queues reads behind commits.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	s := &Store{pool: pool}
	s.Store = sqlstore.New(dialect, db, db, s.appendOps)
	if err := checkDurable(ctx, db); err != nil {
		s.Close()
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	if err := dialect.Migrate(ctx, db, goose.WithSessionLocker(locker)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkDurable refuses a server that acknowledges commits before they are
// on disk: G-Doc acks an op only after its commit, and promises that a crash
// right after the ack loses nothing.
func checkDurable(ctx context.Context, db *sql.DB) error {
	for _, setting := range []string{"synchronous_commit", "fsync"} {
		var value string
		if err := db.QueryRowContext(ctx, "SHOW "+setting).Scan(&value); err != nil {
			return dialect.Fault("check "+setting, err)
		}
		if strings.EqualFold(value, "off") {
			return fmt.Errorf("postgres: %s is off: committed edits could be lost in a crash; turn it on", setting)
		}
	}
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return dialect.Fault("ping", err)
	}
	return nil
}

// Close closes the database handle and the pool under it.
func (s *Store) Close() error {
	err := s.Store.Close()
	s.pool.Close()
	return err
}

// violation classifies a driver error; detail is the constraint's name,
// which names the columns involved.
func violation(err error) (kind sqlstore.Violation, detail string) {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return sqlstore.NoViolation, ""
	}
	switch e.Code {
	case "23505": // unique_violation
		return sqlstore.Unique, e.ConstraintName
	case "23503": // foreign_key_violation
		return sqlstore.Foreign, e.ConstraintName
	}
	return sqlstore.NoViolation, ""
}

// unavailable reports a database that cannot be reached, or is starting,
// shutting down or full: retry later.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || // connection exception
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || // shutting down, starting up
			pgErr.Code == "53300" // too many connections
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || pgconn.Timeout(err)
}
