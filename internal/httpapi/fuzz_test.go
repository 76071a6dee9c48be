package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// fuzzRoutes are the operations that decode a request body.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/auth/register"},
	{"POST", "/api/auth/login"},
	{"POST", "/api/documents"},
	{"PUT", "/api/documents/1"},
	{"PUT", "/api/documents/1?x=1"},
}

// FuzzRESTBodies sends arbitrary bodies to every operation that reads one,
// on a real SQLite store and collaboration layer: no answer is a 500, every
// refusal is {"detail": "<sentence>"}, and a refused request leaves
// document 1 as it was.
func FuzzRESTBodies(f *testing.F) {
	for i, body := range []string{
		`{"username":"alice2","email":"a2@example.com","password":"securepass123"}`,
		`{"username":"alice","password":"securepass123"}`,
		`{"title":"t","content":"x","language":"go","is_public":false}`,
		`{"content":"new text 😀"}`, `{"title":"renamed","is_public":true}`, `{"content":"a\u0000b"}`,
		`{"content":"\ud800"}`, `{"title":12}`, `{"content":null}`, `[]`, `{`, ``, `null`, `{"language":"Not A Lang"}`,
		`{"title":"` + strings.Repeat("x", 300) + `"}`, `{"content":"` + strings.Repeat("y", 3000) + `"}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "gdoc.db"))
	if err != nil {
		f.Fatal(err)
	}
	authService, err := auth.New([]byte(strings.Repeat("k", 32)), time.Hour, store)
	if err != nil {
		f.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	svc := collab.New(collab.Config{Store: store, Bus: inmem.NewBus(), Presence: inmem.NewPresence(), ServerID: "fuzz", Logger: logger})
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { defer close(runDone); svc.Run(runCtx) }()
	f.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		svc.Shutdown(sctx)
		stop()
		<-runDone
		store.Close()
	})
	h := NewHandler(Config{Store: store, Collab: svc, Auth: authService, Logger: logger, MaxBodyBytes: 4096, MaxDocumentBytes: 2048})
	serve := func(method, path, token string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := serve("POST", "/api/auth/register", "", []byte(`{"username":"alice","email":"alice@example.com","password":"securepass123"}`))
	var tok TokenBody
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || rec.Code != http.StatusCreated {
		f.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	if rec := serve("POST", "/api/documents", tok.AccessToken, []byte(`{"title":"one","content":"start"}`)); rec.Code != http.StatusCreated {
		f.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	// docState is what a refused request must not change (comparable:
	// gdoc.Document holds a map of members).
	type docState struct {
		Title, Content, Language string
		Public                   bool
		Rev                      int64
	}
	current := func(t *testing.T) docState {
		d, err := svc.Current(ctx, "1")
		if err != nil {
			t.Fatalf("current: %v", err)
		}
		return docState{Title: d.Title, Content: d.Content, Language: d.Language, Public: d.Public, Rev: d.Rev}
	}

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		before := current(t)
		rec := serve(r.method, r.path, tok.AccessToken, body)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct{ Detail string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Detail == "" {
				t.Fatalf("%s %s %q: %d without a detail: %s", r.method, r.path, body, rec.Code, rec.Body)
			}
			if after := current(t); after != before {
				t.Fatalf("%s %s %q was refused (%d) but changed document 1: %+v -> %+v", r.method, r.path, body, rec.Code, before, after)
			}
		}
	})
}
