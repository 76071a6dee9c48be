// Package sqlstore implements gdoc.Store over database/sql in the SQL subset
// SQLite and PostgreSQL share; internal/sqlite and internal/postgres supply
// the driver, migrations and the few dialect differences.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/gdoc/gdoc/internal/gdoc"
)

var _ gdoc.Store = (*Store)(nil)

// Violation is the kind of constraint a failed statement broke.
type Violation int

const (
	NoViolation Violation = iota
	Unique                // unique or primary key
	Foreign               // foreign key
)

// Dialect is what differs between the engines' drivers.
type Dialect struct {
	// Name prefixes the store's error messages ("sqlite", "postgres").
	Name string
	// Constraint classifies a driver error by the constraint it broke.
	// detail names the columns or the constraint: the store tells
	// constraints apart by looking for "email" and "op_id" in it.
	Constraint func(err error) (kind Violation, detail string)
	// Unavailable reports whether err is a passing condition (a busy or
	// unreachable database): Fault reports it as EUNAVAILABLE with
	// UnavailableMessage, so that clients retry later.
	Unavailable        func(err error) bool
	UnavailableMessage string
	// Explain, when set, may give a more precise sentence than
	// UnavailableMessage for an unavailable err ("" keeps the default).
	Explain func(err error) string
	// Migrations holds the engine's schema migrations in a "migrations"
	// directory, in Goose's dialect.
	Migrations fs.FS
	Goose      goose.Dialect
	// PrepareStatements keeps every query prepared on each connection
	// (stmtcache.go), for a driver that does not cache statements itself
	// (modernc SQLite; pgx does).
	PrepareStatements bool
}

// Fault wraps an unexpected driver error. An unavailable database is
// EUNAVAILABLE; anything else is a plain error, which gdoc.ErrorCode reports
// as EINTERNAL. A done context is returned as it is.
func (d Dialect) Fault(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if d.Unavailable(err) {
		msg := d.UnavailableMessage
		if d.Explain != nil {
			if m := d.Explain(err); m != "" {
				msg = m
			}
		}
		return fmt.Errorf("%s: %s: %w: %w", d.Name, what, gdoc.Errorf(gdoc.EUNAVAILABLE, "%s", msg), err)
	}
	return fmt.Errorf("%s: %s: %w", d.Name, what, err)
}

// Migrate applies the pending migrations to db.
func (d Dialect) Migrate(ctx context.Context, db *sql.DB, opts ...goose.ProviderOption) error {
	dir, err := fs.Sub(d.Migrations, "migrations")
	if err != nil {
		return fmt.Errorf("%s: migrations: %w", d.Name, err)
	}
	provider, err := goose.NewProvider(d.Goose, db, dir, opts...)
	if err != nil {
		return fmt.Errorf("%s: migrations: %w", d.Name, err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return d.Fault("migrate", err)
	}
	return nil
}

// AppendFunc is an engine's way to write AppendOps' batches: every batch
// batches[i] for i in order (well formed, documents in id order, each
// document's batches in revision order) in one transaction, setting
// results[i] to the batch's own outcome (see BatchConflict, BatchNotApplied)
// and committing. A non-nil error means nothing was committed.
type AppendFunc func(ctx context.Context, batches []gdoc.OpBatch, order []int, results []error) error

// Store is gdoc.Store on a database/sql handle. Engines embed it, and may
// wrap Ping and Close.
type Store struct {
	dialect Dialect
	// write takes every statement that writes; read the others. They may be
	// one handle (PostgreSQL), or two pools of one file (SQLite).
	write, read *pool
	appendOps   AppendFunc
	now         func() time.Time
}

// New returns a store on write and read, which Close closes.
func New(dialect Dialect, write, read *sql.DB, appendOps AppendFunc) *Store {
	w := newPool(write, dialect.PrepareStatements)
	r := w
	if read != write {
		r = newPool(read, dialect.PrepareStatements)
	}
	return &Store{dialect: dialect, write: w, read: r, appendOps: appendOps, now: time.Now}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return s.dialect.Fault("ping", err)
	}
	return nil
}

// Close closes the read handle, then the write handle.
func (s *Store) Close() error {
	if s.read == s.write {
		return s.write.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// AppendOps commits every batch in one transaction (group commit) and
// returns one error per batch: ECONFLICT when the batch's base revision is
// not the document's head or one of its op ids is already taken by the
// same user in that document (then wrapping gdoc.ErrOpIDTaken), ENOTFOUND
// when the document does not exist, EINVALID when the batch is malformed;
// other batches are unaffected. Ops without a CreatedAt are stamped with the
// commit time (in the caller's slice). A non-nil second result means nothing
// was committed.
func (s *Store) AppendOps(ctx context.Context, batches []gdoc.OpBatch) ([]error, error) {
	results := make([]error, len(batches))
	order := make([]int, 0, len(batches))
	for i := range batches {
		if results[i] = s.checkBatch(&batches[i]); results[i] == nil {
			order = append(order, i)
		}
	}
	if len(order) == 0 {
		return results, nil
	}
	// Batches of one document apply in revision order so that consecutive
	// batches in one call both commit; documents go in id order so that two
	// concurrent group commits lock rows in the same order (no deadlock).
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(batches[a].DocID, batches[b].DocID), cmp.Compare(batches[a].BaseRev, batches[b].BaseRev))
	})
	if err := s.appendOps(ctx, batches, order, results); err != nil {
		return nil, s.dialect.Fault("append ops", err)
	}
	return results, nil
}

// BatchConflict is the outcome of a batch whose ops hit a unique key
// (detail as from Dialect.Constraint): one of its op ids is committed
// already, or a revision after its base is taken.
func BatchConflict(b *gdoc.OpBatch, detail string) error {
	if strings.Contains(detail, "op_id") {
		return fmt.Errorf("%w: %w", gdoc.Errorf(gdoc.ECONFLICT, "An op of this batch was already committed to document %q.", b.DocID), gdoc.ErrOpIDTaken)
	}
	return gdoc.Errorf(gdoc.ECONFLICT, "A revision after %d of document %q is taken.", b.BaseRev, b.DocID)
}

// BatchNotApplied is the outcome of a batch whose document's head was not
// its base revision: head, or no document at all when !found.
func BatchNotApplied(b *gdoc.OpBatch, head int64, found bool) error {
	if !found {
		return gdoc.Errorf(gdoc.ENOTFOUND, "No document %q.", b.DocID)
	}
	return gdoc.Errorf(gdoc.ECONFLICT, "Document %q is at revision %d, not %d.", b.DocID, head, b.BaseRev)
}

// OpIDParam is an op's id as a query parameter: NULL for "", since an op
// without an id is never deduplicated.
func OpIDParam(op *gdoc.CommittedOp) *string {
	if op.OpID == "" {
		return nil
	}
	return &op.OpID
}
