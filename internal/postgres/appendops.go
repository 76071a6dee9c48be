package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlstore"
)

// appendBatchSQL advances a document's head from $2 to $3 and inserts the
// batch's ops, in one statement: when the head is not $2 (or the document
// does not exist) the UPDATE matches nothing and no op is inserted, so a
// batch never lands on a stale head. Two transactions racing on one
// document serialize on the row lock; the second re-checks head_rev = $2
// after the first commits, and inserts nothing. Ops travel as arrays, so the
// statement text is fixed and prepared once per connection.
const appendBatchSQL = `
WITH head AS (
	UPDATE documents SET head_rev = $3, updated_at = $4
	WHERE id = $1 AND head_rev = $2
	RETURNING id
)
INSERT INTO ops (doc_id, rev, op_id, user_id, op, created_at)
SELECT head.id, o.rev, o.op_id, o.user_id, o.op, o.created_at
FROM head, unnest($5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[])
	AS o (rev, op_id, user_id, op, created_at)`

// appendOps is sqlstore.AppendFunc pipelined through pgx. BEGIN and a
// SAVEPOINT and one statement per batch go to the server in one pipeline,
// then COMMIT: two round trips per call however many batches it holds. When
// a batch's statement fails (a unique key taken), the server skips the
// rest; the transaction returns to that batch's savepoint and the batches
// after it are sent again.
func (s *Store) appendOps(ctx context.Context, batches []gdoc.OpBatch, order []int, results []error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// A transaction left open by a failure is rolled back before the
		// connection goes back to the pool; one that cannot be is closed.
		if conn.Conn().PgConn().TxStatus() != 'I' {
			if _, err := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
				conn.Conn().Close(context.WithoutCancel(ctx))
			}
		}
		conn.Release()
	}()
	var unwritten []int // batches whose statement matched no head
	for begin, pending := true, order; ; begin = false {
		failed, detail, err := sendBatches(ctx, conn.Conn(), batches, pending, begin, &unwritten)
		if err != nil {
			return err
		}
		if failed < 0 {
			break
		}
		i := pending[failed]
		if _, err := conn.Exec(ctx, `ROLLBACK TO SAVEPOINT batch`); err != nil {
			return err
		}
		results[i] = sqlstore.BatchConflict(&batches[i], detail)
		pending = pending[failed+1:]
	}
	// COMMIT goes alone, once every statement has answered: were it queued
	// behind them, a server still waiting on a row lock when this call gave
	// up (context done, connection dropped) would run it later, committing
	// a call that reported failure.
	if _, err := conn.Exec(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// On the same connection: taking a second one from the pool while
	// holding this one could deadlock a pool exhausted by AppendOps calls.
	return explainUnwritten(ctx, conn.Conn(), batches, unwritten, results)
}

// sendBatches sends, in one pipeline, BEGIN (when begin is set) and a
// savepoint and the statement of each pending batch. It returns failed = -1
// when every statement ran, or the position in pending of the first batch
// whose statement hit a unique key (detail names the key): then the server
// skipped the rest, and the transaction is failed, waiting for ROLLBACK TO
// SAVEPOINT. Batches that wrote nothing are added to
// unwritten; err is for anything else, which ends the transaction.
func sendBatches(ctx context.Context, conn *pgx.Conn, batches []gdoc.OpBatch, pending []int, begin bool, unwritten *[]int) (failed int, detail string, err error) {
	pipeline := &pgx.Batch{}
	if begin {
		pipeline.Queue(`BEGIN`)
	}
	for _, i := range pending {
		b := &batches[i]
		n := len(b.Ops)
		revs, createdAt := make([]int64, n), make([]int64, n)
		opIDs, userIDs, ops := make([]*string, n), make([]string, n), make([]string, n)
		for j := range b.Ops {
			op := &b.Ops[j]
			revs[j], opIDs[j], userIDs[j], ops[j], createdAt[j] = op.Rev, sqlstore.OpIDParam(op), op.UserID, string(op.Op), op.CreatedAt.UnixMilli()
		}
		pipeline.Queue(`SAVEPOINT batch`)
		pipeline.Queue(appendBatchSQL, b.DocID, b.BaseRev, b.BaseRev+int64(n), createdAt[n-1],
			revs, opIDs, userIDs, ops, createdAt)
	}
	replies := conn.SendBatch(ctx, pipeline)
	defer func() {
		if closeErr := replies.Close(); err == nil && failed < 0 && closeErr != nil {
			err = closeErr
		}
	}()
	if begin {
		if _, err := replies.Exec(); err != nil {
			return -1, "", fmt.Errorf("begin: %w", err)
		}
	}
	for k, i := range pending {
		if _, err := replies.Exec(); err != nil {
			return -1, "", fmt.Errorf("savepoint: %w", err)
		}
		tag, err := replies.Exec()
		if kind, detail := violation(err); kind == sqlstore.Unique {
			return k, detail, nil
		} else if err != nil {
			return -1, "", err
		}
		switch tag.RowsAffected() {
		case 0:
			*unwritten = append(*unwritten, i)
		case int64(len(batches[i].Ops)):
		default:
			return -1, "", fmt.Errorf("batch for %q wrote %d of %d ops", batches[i].DocID, tag.RowsAffected(), len(batches[i].Ops))
		}
	}
	return -1, "", nil
}

// explainUnwritten sets the outcome of batches that wrote nothing: ENOTFOUND
// when their document does not exist, ECONFLICT (stale base) otherwise.
func explainUnwritten(ctx context.Context, conn *pgx.Conn, batches []gdoc.OpBatch, unwritten []int, results []error) error {
	if len(unwritten) == 0 {
		return nil
	}
	ids := make([]string, len(unwritten))
	for k, i := range unwritten {
		ids[k] = batches[i].DocID
	}
	rows, err := conn.Query(ctx, `SELECT id, head_rev FROM documents WHERE id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	heads := map[string]int64{}
	var id string
	var head int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &head}, func() error { heads[id] = head; return nil }); err != nil {
		return err
	}
	for _, i := range unwritten {
		head, found := heads[batches[i].DocID]
		results[i] = sqlstore.BatchNotApplied(&batches[i], head, found)
	}
	return nil
}
