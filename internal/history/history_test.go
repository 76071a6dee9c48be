package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/history"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// TestCheckpointerWritesAsOpsCommit appends ops through the checkpointer and
// waits for the checkpoints it writes in the background, each holding the
// text at its revision.
func TestCheckpointerWritesAsOpsCommit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := history.NewCheckpointer(store, 10, 0, nil)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := c.CreateDocument(ctx, &gdoc.Document{ID: "d", Title: "d", Language: "go", Public: true}); err != nil {
		t.Fatal(err)
	}
	for rev := int64(1); rev <= 35; rev++ {
		op := gdoc.CommittedOp{Rev: rev, OpID: fmt.Sprint(rev), UserID: "1", Op: json.RawMessage(fmt.Sprintf(`[%d,"x"]`, rev-1))}
		if rev == 1 {
			op.Op = json.RawMessage(`["x"]`)
		}
		if errs, err := c.AppendOps(ctx, []gdoc.OpBatch{{DocID: "d", BaseRev: rev - 1, Ops: []gdoc.CommittedOp{op}}}); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := store.Checkpoint(ctx, "d", 35)
		if err == nil && cp.Rev == 30 {
			if cp.Content != repeat("x", 30) {
				t.Fatalf("checkpoint at 30 holds %q", cp.Content)
			}
			for _, rev := range []int64{10, 20} {
				if cp, err := store.Checkpoint(ctx, "d", rev); err != nil || cp.Rev != rev || cp.Content != repeat("x", int(rev)) {
					t.Fatalf("checkpoint at %d: %+v %v", rev, cp, err)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at 30 after 10 s: newest %+v, %v", cp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// TestSessionsPageReadsBoundedOps: one session longer than MaxPageOps comes
// in parts that chain and add up.
func TestSessionsPageReadsBoundedOps(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateDocument(ctx, &gdoc.Document{ID: "d", Title: "d", Language: "go", Public: true}); err != nil {
		t.Fatal(err)
	}
	total := history.MaxPageOps + 1500
	for base := 0; base < total; base += 1000 {
		b := gdoc.OpBatch{DocID: "d", BaseRev: int64(base)}
		for i := base; i < min(total, base+1000); i++ {
			b.Ops = append(b.Ops, gdoc.CommittedOp{Rev: int64(i + 1), OpID: fmt.Sprint(i), UserID: "1", Op: json.RawMessage(`["x"]`)})
		}
		if errs, err := store.AppendOps(ctx, []gdoc.OpBatch{b}); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	svc := history.New(store, 0)
	first, err := svc.Sessions(ctx, "d", 0, 20)
	if err != nil || len(first.Sessions) != 1 || first.NextBefore == 0 || first.Sessions[0].ToRev != int64(total) {
		t.Fatalf("first page: %+v %v", first, err)
	}
	second, err := svc.Sessions(ctx, "d", first.NextBefore, 20)
	if err != nil || len(second.Sessions) != 1 || second.NextBefore != 0 || second.Sessions[0].ToRev != first.Sessions[0].FromRev || second.Sessions[0].FromRev != 0 {
		t.Fatalf("second page: %+v %v", second, err)
	}
	if n := first.Sessions[0].Inserted + second.Sessions[0].Inserted; n != total {
		t.Fatalf("the parts inserted %d, the ops %d", n, total)
	}
}

// TestBlameThroughRestoreChains: restoring back and forth many times (each
// restore bringing back the revision before the previous restore) keeps the
// original authors, and blame computes each restored state once.
func TestBlameThroughRestoreChains(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateDocument(ctx, &gdoc.Document{ID: "d", Title: "d", Language: "go", Public: true}); err != nil {
		t.Fatal(err)
	}
	appendOp := func(rev int64, user, op string) {
		t.Helper()
		b := gdoc.OpBatch{DocID: "d", BaseRev: rev - 1, Ops: []gdoc.CommittedOp{{Rev: rev, OpID: fmt.Sprint(rev), UserID: user, Op: json.RawMessage(op)}}}
		if errs, err := store.AppendOps(ctx, []gdoc.OpBatch{b}); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	appendOp(1, "alice", `["alice\n"]`)     // "alice\n"
	appendOp(2, "bob", `[6,"bob\n"]`)       // "alice\nbob\n"
	appendOp(3, "carol", `[6,{"d":4}]`)     // carol deletes bob's line: "alice\n"
	for rev := int64(4); rev <= 60; rev++ { // carol restores back and forth
		if rev%2 == 0 {
			appendOp(rev, "carol", `[6,"bob\n"]`)
		} else {
			appendOp(rev, "carol", `[6,{"d":4}]`)
		}
		if err := store.MarkRestore(ctx, "d", rev, rev-2); err != nil {
			t.Fatal(err)
		}
	}
	svc := history.New(store, 0)
	text, blame, err := svc.Blame(ctx, &gdoc.Document{ID: "d"}, 60)
	if err != nil {
		t.Fatal(err)
	}
	if text != "alice\nbob\n" || len(blame) != 3 || blame[0].Author.UserID != "alice" || blame[1].Author.UserID != "bob" {
		t.Fatalf("blame at 60 of %q: %+v", text, blame)
	}
}
