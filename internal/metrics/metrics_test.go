package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// TestStoreCountsFaultsNotMistakes: on a real SQLite store, a missing
// document (the client's mistake) is not a database error; a call on a
// closed database is.
func TestStoreCountsFaultsNotMistakes(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := New("test")
	s := m.Store(raw)
	if _, err := s.Document(ctx, "nope"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
		t.Fatalf("Document(nope) = %v", err)
	}
	if v := testutil.ToFloat64(m.dbErrors.WithLabelValues("document")); v != 0 {
		t.Fatalf("not found counted as a database error: %v", v)
	}
	raw.Close()
	if _, err := s.Document(ctx, "nope"); err == nil {
		t.Fatal("Document on a closed store succeeded")
	}
	if v := testutil.ToFloat64(m.dbErrors.WithLabelValues("document")); v != 1 {
		t.Fatalf("database errors = %v, want 1", v)
	}
}

func TestBusAndPresenceCountErrors(t *testing.T) {
	ctx := context.Background()
	m := New("test")
	b := m.Bus(inmem.NewBus())
	p := m.Presence(inmem.NewPresence())
	if err := b.Publish(ctx, gdoc.Event{DocID: "d", Kind: gdoc.EventPresence}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := b.Publish(ctx, gdoc.Event{DocID: "d", Kind: gdoc.EventPresence}); err == nil {
		t.Fatal("Publish on a closed bus succeeded")
	}
	if v := testutil.ToFloat64(m.redisErrors.WithLabelValues("publish")); v != 1 {
		t.Fatalf("publish errors = %v, want 1", v)
	}
	if err := p.Join(ctx, "d", gdoc.Participant{ConnID: "c", UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if v := testutil.ToFloat64(m.redisErrors.WithLabelValues("presence_join")); v != 0 {
		t.Fatalf("presence errors = %v, want 0", v)
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	m := New("v1.2.3")
	m.Observe(Live{Connections: func() int { return 7 }})
	srv := httptest.NewServer(m.Handler(false))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"\ngdoc_websocket_connections 7\n", `version="v1.2.3"} 1`, "# TYPE gdoc_commit_duration_seconds histogram"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if r, _ := http.Get(srv.URL + "/debug/pprof/"); r.StatusCode != 404 {
		t.Errorf("pprof without asking: %d", r.StatusCode)
	}
}
