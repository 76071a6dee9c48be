package storetest

import (
	"context"
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
)

func testCheckpointFirstIsCreation(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "d", "", true)
	cp, err := s.Checkpoint(ctx, "d", 0)
	must(t, err)
	if cp.Rev != 0 || cp.Content != "content of d" || cp.Blame != "" {
		t.Fatalf("first checkpoint %+v", cp)
	}
	// A document created at a later revision starts its history there.
	must(t, s.CreateDocument(ctx, &gdoc.Document{ID: "late", Title: "t", Content: "at five", Language: "go", Public: true, Rev: 5}))
	if first, err := s.FirstCheckpointRev(ctx, "late"); err != nil || first != 5 {
		t.Fatalf("FirstCheckpointRev = %d, %v", first, err)
	}
	_, err = s.Checkpoint(ctx, "late", 4)
	requireCode(t, err, gdoc.ENOTFOUND)
	_, err = s.FirstCheckpointRev(ctx, "nope")
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testCheckpointNearest(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "d", "", true)
	appendAll(t, s, opsFrom("d", 0, 10, "c"))
	must(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 4, Content: "four", Blame: "[[1,4,\"1\",0]]"}))
	must(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 8, Content: "eight"}))
	// A second save at a stored revision keeps the first.
	must(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 4, Content: "other"}))
	for rev, want := range map[int64]string{0: "content of d", 3: "content of d", 4: "four", 7: "four", 8: "eight", 10: "eight"} {
		cp, err := s.Checkpoint(ctx, "d", rev)
		must(t, err)
		if cp.Content != want {
			t.Fatalf("Checkpoint(%d) = %+v, want %q", rev, cp, want)
		}
	}
	if cp, _ := s.Checkpoint(ctx, "d", 5); cp.Blame != "[[1,4,\"1\",0]]" || cp.Rev != 4 || cp.DocID != "d" {
		t.Fatalf("Checkpoint(5) = %+v", cp)
	}
	requireCode(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 11, Content: "ahead"}), gdoc.EINVALID)
	requireCode(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: -1}), gdoc.EINVALID)
	requireCode(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "nope", Rev: 0}), gdoc.ENOTFOUND)
	requireCode(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 9, Content: "nul\x00"}), gdoc.EINVALID)
	_, err := s.Checkpoint(ctx, "nope", 1)
	requireCode(t, err, gdoc.ENOTFOUND)
	// Checkpoints go with their document.
	must(t, s.DeleteDocument(ctx, "d"))
	_, err = s.Checkpoint(ctx, "d", 10)
	requireCode(t, err, gdoc.ENOTFOUND)
}

func testRestores(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "d", "", true)
	appendAll(t, s, opsFrom("d", 0, 6, "r"))
	must(t, s.MarkRestore(ctx, "d", 3, 1))
	must(t, s.MarkRestore(ctx, "d", 6, 0))
	must(t, s.MarkRestore(ctx, "d", 6, 2)) // a second mark is a no-op
	got, err := s.Restores(ctx, "d", 0, 6)
	must(t, err)
	if len(got) != 2 || got[3] != 1 || got[6] != 0 {
		t.Fatalf("Restores = %v", got)
	}
	if got, _ := s.Restores(ctx, "d", 3, 5); len(got) != 0 {
		t.Fatalf("Restores(3, 5] = %v", got)
	}
	requireCode(t, s.MarkRestore(ctx, "nope", 1, 0), gdoc.ENOTFOUND)
}

func testTrimHistory(t *testing.T, s gdoc.Store) {
	ctx := context.Background()
	mustDoc(t, s, "d", "", true)
	appendAll(t, s, opsFrom("d", 0, 10, "t"))
	must(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 4, Content: "four"}))
	must(t, s.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: "d", Rev: 8, Content: "eight"}))
	must(t, s.MarkRestore(ctx, "d", 3, 1))
	must(t, s.MarkRestore(ctx, "d", 6, 2))
	// Not after the snapshot (loading the document needs the ops after it).
	requireCode(t, s.TrimHistory(ctx, "d", 4), gdoc.EINVALID)
	must(t, s.SaveSnapshot(ctx, "d", "six", 6))
	requireCode(t, s.TrimHistory(ctx, "d", 5), gdoc.EINVALID) // no checkpoint at 5
	requireCode(t, s.TrimHistory(ctx, "d", 8), gdoc.EINVALID) // after the snapshot
	requireCode(t, s.TrimHistory(ctx, "nope", 0), gdoc.ENOTFOUND)
	must(t, s.TrimHistory(ctx, "d", 4))
	ops, err := s.Ops(ctx, "d", 0, 0)
	must(t, err)
	if revs := revsOf(ops); len(revs) != 6 || revs[0] != 5 {
		t.Fatalf("ops after trimming to 4: %v", revs)
	}
	if first, err := s.FirstCheckpointRev(ctx, "d"); err != nil || first != 4 {
		t.Fatalf("FirstCheckpointRev = %d, %v", first, err)
	}
	if got, _ := s.Restores(ctx, "d", 0, 10); len(got) != 1 || got[6] != 2 {
		t.Fatalf("Restores after trimming = %v", got)
	}
	if head, _ := s.HeadRev(ctx, "d"); head != 10 {
		t.Fatalf("head after trimming: %d", head)
	}
	// The log goes on from its head.
	requireCode(t, appendAll(t, s, opsFrom("d", 10, 1, "t"))[0], "")
}
