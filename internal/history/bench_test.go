package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/history"
	"github.com/gdoc/gdoc/internal/httpapi"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// longDocument stores a document with revs revisions on SQLite: each op
// types one character somewhere in a text that grows to revs characters,
// one user every 10 ops, with a ten-minute pause every 1,000 ops.
func longDocument(b *testing.B, revs int) (gdoc.Store, *gdoc.Document) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "gdoc.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	doc := &gdoc.Document{ID: "long", Title: "long.go", Content: "package main\n", Language: "go", Public: true}
	if err := store.CreateDocument(ctx, doc); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	length := len(doc.Content)
	start := time.Now().Add(-time.Duration(revs) * time.Second)
	for base := 0; base < revs; base += 1000 {
		batch := gdoc.OpBatch{DocID: doc.ID, BaseRev: int64(base)}
		for i := base; i < min(revs, base+1000); i++ {
			pos := rng.IntN(length + 1)
			ch := "x"
			if i%40 == 0 {
				ch = `\n`
			}
			op := fmt.Sprintf(`["%s"]`, ch)
			if pos > 0 {
				op = fmt.Sprintf(`[%d,"%s"]`, pos, ch)
			}
			batch.Ops = append(batch.Ops, gdoc.CommittedOp{DocID: doc.ID, Rev: int64(i + 1), OpID: fmt.Sprint("op", i),
				UserID: fmt.Sprint(1 + i/10%3), Op: json.RawMessage(op), CreatedAt: start.Add(time.Duration(i)*time.Second + time.Duration(i/1000)*10*time.Minute)})
			length++
		}
		errs, err := store.AppendOps(ctx, []gdoc.OpBatch{batch})
		if err != nil || errs[0] != nil {
			b.Fatal(err, errs)
		}
	}
	return store, doc
}

// BenchmarkRevisionLookup reads random revisions of a 100,000-revision
// document, after one read of the head wrote its checkpoints (reported as
// first-read-ms).
func BenchmarkRevisionLookup(b *testing.B) {
	const revs = 100_000
	store, doc := longDocument(b, revs)
	ctx := context.Background()
	svc := history.New(store, 0)
	began := time.Now()
	if _, err := svc.Revision(ctx, doc, revs); err != nil {
		b.Fatal(err)
	}
	first := time.Since(began)
	rng := rand.New(rand.NewPCG(2, 2))
	b.ResetTimer()
	for b.Loop() {
		rev := rng.Int64N(revs + 1)
		r, err := svc.Revision(ctx, doc, rev)
		if err != nil || r.Rev != rev {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Milliseconds()), "first-read-ms")
}

// BenchmarkBlame attributes the lines of random revisions of the same
// document.
func BenchmarkBlame(b *testing.B) {
	const revs = 100_000
	store, doc := longDocument(b, revs)
	ctx := context.Background()
	svc := history.New(store, 0)
	if _, _, err := svc.Blame(ctx, doc, revs); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for b.Loop() {
		if _, _, err := svc.Blame(ctx, doc, rng.Int64N(revs+1)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistoryPage reads the newest page of sessions (one per 1,000
// ops here).
func BenchmarkHistoryPage(b *testing.B) {
	const revs = 100_000
	store, doc := longDocument(b, revs)
	ctx := context.Background()
	svc := history.New(store, 0)
	for b.Loop() {
		p, err := svc.Sessions(ctx, doc.ID, 0, 20)
		if err != nil || len(p.Sessions) != 20 {
			b.Fatal(err, len(p.Sessions))
		}
	}
}

// BenchmarkRevisionHTTP is RevisionLookup through GET
// /api/documents/{id}/revisions/{rev} over real HTTP (JSON included).
func BenchmarkRevisionHTTP(b *testing.B) {
	const revs = 100_000
	store, doc := longDocument(b, revs)
	authService, err := auth.New([]byte(strings.Repeat("k", 32)), time.Hour, store)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Store: store, Auth: authService}))
	defer srv.Close()
	get := func(rev int64) {
		res, err := http.Get(fmt.Sprintf("%s/api/documents/%s/revisions/%d", srv.URL, doc.ID, rev))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(body) < int(rev) {
			b.Fatalf("revision %d: %d %.200s", rev, res.StatusCode, body)
		}
	}
	get(revs) // writes the checkpoints
	rng := rand.New(rand.NewPCG(4, 4))
	for b.Loop() {
		get(revs/2 + rng.Int64N(revs/2+1)) // the later half: texts of 50-100 KB
	}
}
