package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlstore"
)

// maxRowsPerInsert bounds one multi-row INSERT (6 parameters a row) well
// under SQLite's parameter limit.
const maxRowsPerInsert = 64

// insertChunk is how many of n remaining ops the next INSERT takes: a power
// of two, so that a handful of statement texts cover every batch size and
// each is prepared once.
func insertChunk(n int) int {
	chunk := maxRowsPerInsert
	for chunk > n {
		chunk /= 2
	}
	return chunk
}

// appendOps is sqlstore.AppendFunc on the writer connection: one
// transaction, two statements per batch (appendBatch).
//
// ctx bounds the wait for the writer connection and is checked again
// before COMMIT (done: nothing is committed); the statements themselves
// run without its cancellation. The driver watches a cancellable context
// with a goroutine of its own per statement (BEGIN and COMMIT included:
// four or five per group transaction in S2), and SQLite could interrupt
// these short statements only between VM steps anyway; waits for another
// process's lock end at busy_timeout.
func (s *Store) appendOps(ctx context.Context, batches []gdoc.OpBatch, order []int, results []error) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	run := context.WithoutCancel(ctx)
	tx, err := conn.BeginTx(run, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, i := range order {
		if results[i], err = s.appendBatch(run, tx, &batches[i]); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// The statements of AppendOps.
const (
	savepointSQL   = `SAVEPOINT batch`
	rollbackToSQL  = `ROLLBACK TO SAVEPOINT batch`
	releaseSQL     = `RELEASE SAVEPOINT batch`
	advanceHeadSQL = `UPDATE documents SET head_rev = $3, updated_at = $4 WHERE id = $1 AND head_rev = $2`
)

// maxGuardedRows is the largest batch written by one guarded INSERT
// (insertGuardedSQL) without a savepoint; larger batches take several
// INSERTs under one. Each size up to it has its own prepared statement.
const maxGuardedRows = 16

// appendBatch writes one batch inside the group transaction: insert the ops
// unless BaseRev is not the head, then advance the head. It returns the
// batch's own outcome, or err when the transaction cannot go on.
//
// A batch of up to maxGuardedRows ops needs no savepoint: its one INSERT
// either fails as a whole (SQLite backs out the failed statement alone and
// the transaction goes on) or, checking the head in the same statement,
// inserts all its ops or none; the UPDATE after it cannot then miss. That
// is two statements per batch instead of four (SAVEPOINT, UPDATE, INSERT,
// RELEASE).
func (s *Store) appendBatch(ctx context.Context, tx *sql.Tx, b *gdoc.OpBatch) (outcome, err error) {
	if len(b.Ops) > maxGuardedRows {
		return s.appendBatchSavepoint(ctx, tx, b)
	}
	args := append(insertOpsArgs(b.DocID, b.Ops), b.DocID, b.BaseRev)
	res, err := s.txExec(ctx, tx, insertGuardedSQL(len(b.Ops)), args...)
	if kind, detail := violation(err); kind == sqlstore.Unique {
		return sqlstore.BatchConflict(b, detail), nil
	} else if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return s.notApplied(ctx, tx, b)
	} else if n != int64(len(b.Ops)) {
		return nil, fmt.Errorf("batch for %q wrote %d of %d ops", b.DocID, n, len(b.Ops))
	}
	if err := s.advanceHead(ctx, tx, b); err != nil {
		return nil, err
	}
	return nil, nil
}

// advanceHead moves b's document's head from BaseRev past b's ops.
func (s *Store) advanceHead(ctx context.Context, tx *sql.Tx, b *gdoc.OpBatch) error {
	newHead := b.BaseRev + int64(len(b.Ops))
	res, err := s.txExec(ctx, tx, advanceHeadSQL, b.DocID, b.BaseRev, newHead, b.Ops[len(b.Ops)-1].CreatedAt.UnixMilli())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("advancing the head of %q from %d matched %d rows after its ops were inserted", b.DocID, b.BaseRev, n)
	}
	return nil
}

// notApplied is the outcome of b when its document's head is not BaseRev.
func (s *Store) notApplied(ctx context.Context, tx *sql.Tx, b *gdoc.OpBatch) (error, error) {
	var head int64
	err := tx.QueryRowContext(ctx, `SELECT head_rev FROM documents WHERE id = $1`, b.DocID).Scan(&head)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return sqlstore.BatchNotApplied(b, head, err == nil), nil
}

// appendBatchSavepoint writes a batch too large for one INSERT under a
// savepoint: advance the head from BaseRev (refused unless BaseRev is the
// head), then insert the ops in chunks.
func (s *Store) appendBatchSavepoint(ctx context.Context, tx *sql.Tx, b *gdoc.OpBatch) (outcome, err error) {
	if _, err := s.txExec(ctx, tx, savepointSQL); err != nil {
		return nil, err
	}
	newHead := b.BaseRev + int64(len(b.Ops))
	res, err := s.txExec(ctx, tx, advanceHeadSQL, b.DocID, b.BaseRev, newHead, b.Ops[len(b.Ops)-1].CreatedAt.UnixMilli())
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		outcome, err := s.notApplied(ctx, tx, b)
		if err != nil {
			return nil, err
		}
		return outcome, s.releaseBatch(ctx, tx)
	}
	for ops := b.Ops; len(ops) > 0; {
		chunk := ops[:insertChunk(len(ops))]
		ops = ops[len(chunk):]
		_, err := s.txExec(ctx, tx, insertOpsSQL(len(chunk)), insertOpsArgs(b.DocID, chunk)...)
		if kind, detail := violation(err); kind == sqlstore.Unique {
			if _, err := s.txExec(ctx, tx, rollbackToSQL); err != nil {
				return nil, err
			}
			return sqlstore.BatchConflict(b, detail), s.releaseBatch(ctx, tx)
		} else if err != nil {
			return nil, err
		}
	}
	return nil, s.releaseBatch(ctx, tx)
}

// releaseBatch forgets the batch's savepoint, keeping what it wrote (if
// anything) in the enclosing transaction.
func (s *Store) releaseBatch(ctx context.Context, tx *sql.Tx) error {
	_, err := s.txExec(ctx, tx, releaseSQL)
	return err
}

// insertOpsSQL uses anonymous "?" parameters: SQLite resolves "$n" names by
// a linear search per parameter, quadratic in a 600-parameter statement.
func insertOpsSQL(rows int) string {
	const row = "(?,?,?,?,?,?)"
	var b strings.Builder
	b.Grow(64 + rows*(len(row)+1))
	b.WriteString(`INSERT INTO ops (doc_id, rev, op_id, user_id, op, created_at) VALUES `)
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// insertGuardedSQL inserts rows ops (6 parameters each, as insertOpsSQL)
// only when the document (parameter 6*rows+1) is at the head revision
// parameter 6*rows+2.
func insertGuardedSQL(rows int) string {
	const row = "(?,?,?,?,?,?)"
	var b strings.Builder
	b.Grow(160 + rows*(len(row)+1))
	b.WriteString(`INSERT INTO ops (doc_id, rev, op_id, user_id, op, created_at) SELECT * FROM (VALUES `)
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(`) WHERE EXISTS (SELECT 1 FROM documents WHERE id = ? AND head_rev = ?)`)
	return b.String()
}

func insertOpsArgs(docID string, ops []gdoc.CommittedOp) []any {
	args := make([]any, 0, 6*len(ops)+2)
	for i := range ops {
		op := &ops[i]
		args = append(args, docID, op.Rev, sqlstore.OpIDParam(op), op.UserID, string(op.Op), op.CreatedAt.UnixMilli())
	}
	return args
}
