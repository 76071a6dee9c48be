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
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gdoc/gdoc/internal/gdoc"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ gdoc.Store = (*Store)(nil)

// Store is gdoc.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// write and read are the same pool: PostgreSQL serializes writers
	// itself. Both names exist so the queries read like internal/sqlite's.
	write, read *sql.DB
	now         func() time.Time
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
	s := &Store{pool: pool, write: db, read: db, now: time.Now}
	if err := s.checkDurable(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkDurable refuses a server that acknowledges commits before they are
// on disk: G-Doc acks an op only after its commit, and promises that a crash
// right after the ack loses nothing.
func (s *Store) checkDurable(ctx context.Context) error {
	for _, setting := range []string{"synchronous_commit", "fsync"} {
		var value string
		if err := s.read.QueryRowContext(ctx, "SHOW "+setting).Scan(&value); err != nil {
			return s.fault("check "+setting, err)
		}
		if strings.EqualFold(value, "off") {
			return fmt.Errorf("postgres: %s is off: committed edits could be lost in a crash; turn it on", setting)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, s.write, dir, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return s.fault("migrate", err)
	}
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.fault("ping", err)
	}
	return nil
}

// Close closes the database handle and the pool under it.
func (s *Store) Close() error {
	err := s.write.Close()
	s.pool.Close()
	return err
}

// constraintViolation classifies a driver error: "unique", "foreign" or "".
// detail names the constraint, to tell constraints apart.
func constraintViolation(err error) (kind, detail string) {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return "", ""
	}
	switch e.Code {
	case "23505": // unique_violation
		return "unique", e.ConstraintName
	case "23503": // foreign_key_violation
		return "foreign", e.ConstraintName
	}
	return "", ""
}

// fault wraps an unexpected driver error. A database that cannot be reached
// or is shutting down is EUNAVAILABLE (retry later); anything else is a
// plain error, which gdoc.ErrorCode reports as EINTERNAL.
func (s *Store) fault(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", what, gdoc.Errorf(gdoc.EUNAVAILABLE, "The database is unavailable; try again."), err)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

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
