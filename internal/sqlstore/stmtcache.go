package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// pool is a database handle that, when its dialect asks for it
// (Dialect.PrepareStatements), runs every query through a statement
// prepared once per connection instead of parsing it again on every call:
// on SQLite (modernc) parsing was about 45 % of a join's server CPU.
// database/sql prepares a cached *sql.Stmt on each connection the first
// time it runs there and resets it after every use.
//
// A statement needs a connection to be prepared, and SQLite's writer pool
// has one: preparing inside a transaction would wait for it forever. So a
// transaction only uses statements prepared before it began; one it runs
// unprepared is remembered and prepared before the next transaction
// begins.
type pool struct {
	*sql.DB
	prepare bool

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	missed map[string]struct{} // run unprepared in a transaction
}

// maxStatements bounds the cache; a query past it runs unprepared.
const maxStatements = 256

func newPool(db *sql.DB, prepare bool) *pool {
	return &pool{DB: db, prepare: prepare, stmts: map[string]*sql.Stmt{}, missed: map[string]struct{}{}}
}

// cached returns query's prepared statement, or nil.
func (p *pool) cached(query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stmts[query]
}

// stmt returns query's statement, preparing it on first use; nil when the
// pool does not prepare, the cache is full or preparing failed (the query
// then runs unprepared and reports its own error). Never call it inside a
// transaction on this pool.
func (p *pool) stmt(ctx context.Context, query string) *sql.Stmt {
	if !p.prepare {
		return nil
	}
	p.mu.Lock()
	st, full := p.stmts[query], len(p.stmts) >= maxStatements
	p.mu.Unlock()
	if st != nil || full {
		return st
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.stmts[query]; old != nil { // prepared concurrently
		st.Close()
		return old
	}
	if len(p.stmts) >= maxStatements {
		st.Close()
		return nil
	}
	p.stmts[query] = st
	delete(p.missed, query)
	return st
}

func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

// BeginTx prepares the statements earlier transactions ran unprepared,
// then begins one.
func (p *pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	if p.prepare {
		p.mu.Lock()
		var missed []string
		for q := range p.missed {
			missed = append(missed, q)
		}
		p.mu.Unlock()
		for _, q := range missed {
			p.stmt(ctx, q)
		}
	}
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, pool: p}, nil
}

// Close closes the cached statements, then the handle.
func (p *pool) Close() error {
	p.mu.Lock()
	var errs []error
	for _, st := range p.stmts {
		errs = append(errs, st.Close())
	}
	p.stmts = map[string]*sql.Stmt{}
	p.mu.Unlock()
	return errors.Join(append(errs, p.DB.Close())...)
}

// Tx is a transaction on a pool: it runs a query through the pool's
// statement when one was prepared before it began.
type Tx struct {
	*sql.Tx
	pool *pool
}

// txStmt returns query's statement bound to tx, or nil (and remembers the
// query for the next transaction).
func (tx *Tx) txStmt(ctx context.Context, query string) *sql.Stmt {
	if !tx.pool.prepare {
		return nil
	}
	if st := tx.pool.cached(query); st != nil {
		return tx.Tx.StmtContext(ctx, st)
	}
	tx.pool.mu.Lock()
	if len(tx.pool.stmts)+len(tx.pool.missed) < maxStatements {
		tx.pool.missed[query] = struct{}{}
	}
	tx.pool.mu.Unlock()
	return nil
}

func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.txStmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.txStmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.txStmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}
