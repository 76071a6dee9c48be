package collab

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// busyLog is a real OpLog whose every transaction, while load is on, sees
// another document's commit arrive before it returns: the steady load of
// other documents, made deterministic.
type busyLog struct {
	gdoc.OpLog
	g     *groupCommitter
	txs   atomic.Int64 // AppendOps calls so far
	load  func() bool  // starts one other document's commit; false once the load is over
	gate  chan struct{}
	first sync.Once
}

func (l *busyLog) AppendOps(ctx context.Context, batches []gdoc.OpBatch) ([]error, error) {
	l.txs.Add(1)
	l.first.Do(func() { <-l.gate }) // the leader's transaction waits until the test lets it go
	if l.load != nil {
		queued := func() bool { l.g.mu.Lock(); defer l.g.mu.Unlock(); return len(l.g.queue) > 0 }
		if l.load() {
			for deadline := time.Now().Add(10 * time.Second); !queued() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	return l.OpLog.AppendOps(ctx, batches)
}

// TestGroupCommitterLeaderIsAnsweredUnderLoad: while other documents commit
// continuously, the document whose batch went into a transaction gets its
// answer after that transaction, not once the queue happens to be empty.
func TestGroupCommitterLeaderIsAnsweredUnderLoad(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const others = 60 // other documents, one commit each: the load lasts 60 transactions
	owner := &gdoc.User{Username: "owner", Email: "owner@example.com", PasswordHash: "x"}
	if err := store.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	for i := range others + 1 {
		if err := store.CreateDocument(ctx, &gdoc.Document{ID: fmt.Sprintf("d%d", i), Title: "t", Language: "plaintext", OwnerID: owner.ID, Public: true}); err != nil {
			t.Fatal(err)
		}
	}
	batch := func(doc string) gdoc.OpBatch {
		raw, _ := json.Marshal([]any{"x"})
		return gdoc.OpBatch{DocID: doc, BaseRev: 0, Ops: []gdoc.CommittedOp{{DocID: doc, Rev: 1, OpID: doc + ":1", UserID: owner.ID, Op: raw, CreatedAt: time.Now()}}}
	}
	log := &busyLog{OpLog: store, gate: make(chan struct{})}
	g := newGroupCommitter(log)
	defer g.stop()
	log.g = g
	var wg sync.WaitGroup
	var started atomic.Int64
	log.load = func() bool {
		n := started.Add(1)
		if n > others {
			return false
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.commit(batch(fmt.Sprintf("d%d", n))); err != nil {
				t.Errorf("commit of d%d: %v", n, err)
			}
		}()
		return true
	}
	defer wg.Wait()

	answered := make(chan int64, 1)
	go func() {
		if err := g.commit(batch("d0")); err != nil {
			t.Errorf("commit of d0: %v", err)
		}
		answered <- log.txs.Load()
	}()
	for log.txs.Load() == 0 { // d0's transaction started (and waits for the gate)
		time.Sleep(time.Millisecond)
	}
	close(log.gate)
	select {
	case txs := <-answered:
		// Its own transaction is the first; one more may have started
		// before it returned.
		if txs > 2 {
			t.Fatalf("d0 was in the first transaction but was answered only after %d transactions (of %d): the committer kept writing before answering", txs, others+1)
		}
	case <-time.After(time.Minute):
		t.Fatalf("d0 was not answered within a minute (%d transactions)", log.txs.Load())
	}
}
