package httpapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/testenv"
)

// newTestServer serves the API over real HTTP on a real SQLite store. Collab
// is nil: the endpoints that need it are tested through cmd/gdoc's run.
func newTestServer(t *testing.T, mutate func(*Config)) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	authService, err := auth.New([]byte(strings.Repeat("k", 32)), time.Hour, store)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := Config{
		Store: store, Auth: authService, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		AppName: "G-Doc test", CORSOrigins: []string{"http://localhost:3000"}, MaxBodyBytes: 4096,
		MaxDocumentBytes: 2048,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv := httptest.NewServer(NewHandler(cfg))
	t.Cleanup(srv.Close)
	return srv, &logs
}

// do is testenv.Call under a short name.
var do = testenv.Call

func TestAuthEndpoints(t *testing.T) {
	srv, logs := newTestServer(t, nil)
	base := srv.URL

	r := do(t, "POST", base+"/api/auth/register", "", `{"username":"alice","email":"alice@example.com","password":"securepass123"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var tok TokenBody
	if err := json.Unmarshal(r.Body, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "bearer" ||
		tok.User.Username != "alice" || tok.User.Email != "alice@example.com" || tok.User.ID == "" {
		t.Fatalf("register body %s", r.Body)
	}
	if strings.Contains(string(r.Body), "password") || strings.Contains(string(r.Body), "argon2") {
		t.Fatalf("register leaks the password or its hash: %s", r.Body)
	}

	t.Run("Me", func(t *testing.T) {
		r := do(t, "GET", base+"/api/auth/me", tok.AccessToken, "")
		var u UserBody
		json.Unmarshal(r.Body, &u)
		if r.Status != 200 || u != tok.User {
			t.Fatalf("me: %d %s", r.Status, r.Body)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		for _, body := range []string{
			`{"username":"alice","email":"other@example.com","password":"securepass123"}`,
			`{"username":"ALICE","email":"other@example.com","password":"securepass123"}`,
			`{"username":"other","email":"Alice@example.com","password":"securepass123"}`,
		} {
			// A taken email gets the same answer as a taken username, so
			// registration does not reveal who has an account.
			if r := do(t, "POST", base+"/api/auth/register", "", body); r.Status != http.StatusConflict ||
				r.Detail(t) != "That username or email is already registered." {
				t.Errorf("%s: %d %s", body, r.Status, r.Body)
			}
		}
	})
	t.Run("Validation", func(t *testing.T) {
		cases := map[string]string{
			`{"username":"al","email":"a@example.com","password":"securepass123"}`:                              "username",
			`{"username":"al ice","email":"a@example.com","password":"securepass123"}`:                          "username",
			`{"username":"` + strings.Repeat("a", 33) + `","email":"a@example.com","password":"securepass123"}`: "username",
			`{"username":"bob","email":"not-an-email","password":"securepass123"}`:                              "email",
			`{"username":"bob","email":"Bob <bob@example.com>","password":"securepass123"}`:                     "email",
			`{"username":"bob","email":"bob@localhost","password":"securepass123"}`:                             "email",
			`{"username":"bob","email":"bob@example.com","password":"short"}`:                                   "password",
			`{"username":"bob","email":"bob@example.com"}`:                                                      "password",
			`{"username":"bob","email":"bob@example.com","password":12345678}`:                                  "password",
		}
		for body, field := range cases {
			r := do(t, "POST", base+"/api/auth/register", "", body)
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Detail(t), field) {
				t.Errorf("%s: %d %s (want 422 naming %s)", body, r.Status, r.Body, field)
			}
		}
		if r := do(t, "POST", base+"/api/auth/register", "", `{"username":`); r.Status != http.StatusBadRequest {
			t.Errorf("malformed JSON: %d %s", r.Status, r.Body)
		} else if d := r.Detail(t); !strings.Contains(d, "JSON") {
			t.Errorf("malformed JSON detail %q", d)
		}
		// Nothing was created by the refused requests.
		if r := do(t, "POST", base+"/api/auth/login", "", `{"username":"bob","password":"securepass123"}`); r.Status != 401 {
			t.Errorf("a refused registration created bob: %d", r.Status)
		}
	})
	t.Run("Login", func(t *testing.T) {
		r := do(t, "POST", base+"/api/auth/login", "", `{"username":"alice","password":"securepass123"}`)
		var got TokenBody
		json.Unmarshal(r.Body, &got)
		if r.Status != 200 || got.AccessToken == "" || got.TokenType != "bearer" || got.User != tok.User {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		wrongPassword := do(t, "POST", base+"/api/auth/login", "", `{"username":"alice","password":"wrongpass123"}`)
		unknownUser := do(t, "POST", base+"/api/auth/login", "", `{"username":"nobody","password":"securepass123"}`)
		if wrongPassword.Status != 401 || unknownUser.Status != 401 || wrongPassword.Detail(t) != unknownUser.Detail(t) {
			t.Fatalf("wrong password %d %s vs unknown user %d %s", wrongPassword.Status, wrongPassword.Body, unknownUser.Status, unknownUser.Body)
		}
	})
	t.Run("BadTokens", func(t *testing.T) {
		for _, h := range []string{"Bearer nonsense", "Basic YWxpY2U6cA==", "Bearer", tok.AccessToken} {
			req, _ := http.NewRequest("GET", base+"/api/auth/me", nil)
			req.Header.Set("Authorization", h)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 401 || !strings.Contains(string(body), `"detail"`) || res.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("Authorization %q: %d %s", h, res.StatusCode, body)
			}
		}
		if r := do(t, "GET", base+"/api/auth/me", "", ""); r.Status != 401 || r.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("no token: %d", r.Status)
		}
	})
	login := func(t *testing.T) string {
		t.Helper()
		r := do(t, "POST", base+"/api/auth/login", "", `{"username":"alice","password":"securepass123"}`)
		var got TokenBody
		if r.Decode(t, &got); r.Status != 200 || got.AccessToken == "" {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		return got.AccessToken
	}
	t.Run("RefreshRotates", func(t *testing.T) {
		old := login(t)
		r := do(t, "POST", base+"/api/auth/refresh", old, "")
		var fresh TokenBody
		json.Unmarshal(r.Body, &fresh)
		if r.Status != 200 || fresh.AccessToken == "" || fresh.AccessToken == old || fresh.User != tok.User {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/auth/me", old, ""); r.Status != 401 || !strings.Contains(r.Detail(t), "revoked") {
			t.Fatalf("the refreshed token still works: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", base+"/api/auth/refresh", old, ""); r.Status != 401 {
			t.Fatalf("the refreshed token was refreshed again: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/auth/me", fresh.AccessToken, ""); r.Status != 200 {
			t.Fatalf("the fresh token: %d %s", r.Status, r.Body)
		}
	})
	t.Run("Logout", func(t *testing.T) {
		used, other := login(t), login(t)
		if r := do(t, "POST", base+"/api/auth/logout", used, ""); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/auth/me", used, ""); r.Status != 401 || !strings.Contains(r.Detail(t), "revoked") {
			t.Fatalf("revoked token still works: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/auth/me", other, ""); r.Status != 200 {
			t.Fatalf("logout revoked another token too: %d", r.Status)
		}
	})
	t.Run("LogoutEverywhere", func(t *testing.T) {
		used, other := login(t), login(t)
		if r := do(t, "POST", base+"/api/auth/logout?all=true", used, ""); r.Status != http.StatusNoContent {
			t.Fatalf("logout?all=true: %d %s", r.Status, r.Body)
		}
		for _, token := range []string{used, other, tok.AccessToken} {
			if r := do(t, "GET", base+"/api/auth/me", token, ""); r.Status != 401 || !strings.Contains(r.Detail(t), "revoked") {
				t.Fatalf("a token issued before logout?all=true still works: %d %s", r.Status, r.Body)
			}
		}
		after := login(t)
		if r := do(t, "GET", base+"/api/auth/me", after, ""); r.Status != 200 {
			t.Fatalf("a token issued after logging out everywhere: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", base+"/api/auth/logout?all=maybe", after, ""); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("logout?all=maybe: %d %s", r.Status, r.Body)
		}
	})
	if strings.Contains(logs.String(), "securepass123") || strings.Contains(logs.String(), tok.AccessToken) {
		t.Fatalf("logs contain a password or token:\n%s", logs)
	}
}

func TestDocumentsWithoutCollab(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	base := srv.URL
	alice := testenv.Register(t, base, "alice").Token
	bob := testenv.Register(t, base, "bob").Token

	r := do(t, "POST", base+"/api/documents", alice, `{"title":"My Project","content":"// Start coding here"}`)
	var doc gdoc.Document
	if err := json.Unmarshal(r.Body, &doc); r.Status != 201 || err != nil {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if doc.ID != "1" || doc.Title != "My Project" || doc.Content != "// Start coding here" ||
		doc.Language != "plaintext" || !doc.Public || doc.Rev != 0 || doc.CreatedAt.IsZero() {
		t.Fatalf("created %s", r.Body)
	}
	for _, field := range []string{`"id"`, `"title"`, `"content"`, `"language"`, `"owner_id"`, `"is_public"`, `"rev"`, `"created_at"`, `"updated_at"`} {
		if !bytes.Contains(r.Body, []byte(field)) {
			t.Errorf("document JSON lacks %s: %s", field, r.Body)
		}
	}
	r = do(t, "POST", base+"/api/documents", alice, `{"title":"secret.py","is_public":false}`)
	var private gdoc.Document
	json.Unmarshal(r.Body, &private)
	if r.Status != 201 || private.ID != "2" || private.Language != "python" || private.Public {
		t.Fatalf("create private: %d %s", r.Status, r.Body)
	}

	t.Run("CreateErrors", func(t *testing.T) {
		if r := do(t, "POST", base+"/api/documents", "", `{"title":"x"}`); r.Status != 401 {
			t.Errorf("anonymous create: %d", r.Status)
		}
		for body, field := range map[string]string{
			`{"title":"   "}`:                              "title",
			`{"content":"x"}`:                              "title",
			`{"title":"x","language":"Not A Lang"}`:        "language",
			`{"title":"` + strings.Repeat("t", 201) + `"}`: "title",
		} {
			if r := do(t, "POST", base+"/api/documents", alice, body); r.Status != 422 || !strings.Contains(r.Detail(t), field) {
				t.Errorf("%s: %d %s", body, r.Status, r.Body)
			}
		}
		big := `{"title":"big","content":"` + strings.Repeat("x", 5000) + `"}`
		if r := do(t, "POST", base+"/api/documents", alice, big); r.Status != http.StatusRequestEntityTooLarge ||
			!strings.Contains(r.Detail(t), "the limit is 2 KiB") {
			t.Errorf("over MaxDocumentBytes: %d %s", r.Status, r.Body)
		}
		huge := `{"title":"huge","content":"` + strings.Repeat("x", 80<<10) + `"}`
		if r := do(t, "POST", base+"/api/documents", alice, huge); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("over the document body limit: %d %s", r.Status, r.Body)
		} else {
			r.Detail(t)
		}
		if r := do(t, "POST", base+"/api/documents", alice, `{"title":"nul","content":"a\u0000b"}`); r.Status != 422 ||
			!strings.Contains(r.Detail(t), "NUL") {
			t.Errorf("NUL in content: %d %s", r.Status, r.Body)
		}
	})
	t.Run("List", func(t *testing.T) {
		var anon, own []DocumentSummary
		r := do(t, "GET", base+"/api/documents", "", "")
		json.Unmarshal(r.Body, &anon)
		if r.Status != 200 || len(anon) != 1 || anon[0].ID != doc.ID || bytes.Contains(r.Body, []byte("content")) {
			t.Fatalf("anonymous list: %d %s", r.Status, r.Body)
		}
		json.Unmarshal(do(t, "GET", base+"/api/documents", alice, "").Body, &own)
		if len(own) != 2 {
			t.Fatalf("owner list has %d documents", len(own))
		}
		var bobs []DocumentSummary
		json.Unmarshal(do(t, "GET", base+"/api/documents", bob, "").Body, &bobs)
		if len(bobs) != 1 {
			t.Fatalf("bob sees %d documents", len(bobs))
		}
	})
	t.Run("PrivateAndMissing", func(t *testing.T) {
		for _, path := range []string{"/chat", "/ops", "/users"} {
			if r := do(t, "GET", base+"/api/documents/"+private.ID+path, bob, ""); r.Status != 404 { // no probing of ids
				t.Errorf("bob GET private %s: %d %s", path, r.Status, r.Body)
			}
			if r := do(t, "GET", base+"/api/documents/nope"+path, bob, ""); r.Status != 404 {
				t.Errorf("GET missing %s: %d %s", path, r.Status, r.Body)
			}
		}
		if r := do(t, "DELETE", base+"/api/documents/"+doc.ID, bob, ""); r.Status != 403 {
			t.Errorf("bob deletes alice's document: %d %s", r.Status, r.Body)
		}
		if r := do(t, "PUT", base+"/api/documents/"+doc.ID, bob, `{"is_public":false}`); r.Status != 403 {
			t.Errorf("bob makes alice's document private: %d %s", r.Status, r.Body)
		}
		if r := do(t, "PUT", base+"/api/documents/"+private.ID, bob, `{"title":"mine"}`); r.Status != 404 {
			t.Errorf("bob renames a private document: %d %s", r.Status, r.Body)
		}
	})
	t.Run("ChatAndOps", func(t *testing.T) {
		r := do(t, "GET", base+"/api/documents/"+doc.ID+"/chat?limit=10", "", "")
		if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "[]" {
			t.Errorf("chat: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/documents/"+doc.ID+"/chat?limit=500", "", ""); r.Status != 422 || !strings.Contains(r.Detail(t), "limit") {
			t.Errorf("chat limit 500: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/documents/"+doc.ID+"/ops?from=5&to=2", "", ""); r.Status != 422 {
			t.Errorf("ops to<from: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/api/documents/"+doc.ID+"/ops?from=-1", "", ""); r.Status != 422 {
			t.Errorf("ops from=-1: %d %s", r.Status, r.Body)
		}
	})
}

func TestRateLimit(t *testing.T) {
	srv, _ := newTestServer(t, func(c *Config) { c.AuthRatePerMinute = 3 })
	var last testenv.Response
	for range 4 {
		last = do(t, "POST", srv.URL+"/api/auth/login", "", `{"username":"nobody","password":"securepass123"}`)
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("4th login in a minute: %d %s", last.Status, last.Body)
	}
	last.Detail(t)
	// Spoofed forwarding headers do not give a fresh budget.
	if r := do(t, "POST", srv.URL+"/api/auth/login", "", `{"username":"nobody","password":"x"}`, "X-Forwarded-For", "203.0.113.9"); r.Status != 429 {
		t.Fatalf("X-Forwarded-For bypassed the limit: %d", r.Status)
	}
	// Other routes are not limited.
	if r := do(t, "GET", srv.URL+"/api/documents", "", ""); r.Status != 200 {
		t.Fatalf("list documents: %d", r.Status)
	}
}

func TestIPRateLimiterForgetsIdleClients(t *testing.T) {
	l := newIPRateLimiter(1, nil)
	now := time.Now()
	for i := range rateLimitMaxIPs {
		l.allow(net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String(), now)
	}
	if l.allow("10.0.0.0", now) {
		t.Fatal("a client over its budget was allowed")
	}
	later := now.Add(rateLimitIdle + time.Minute)
	if !l.allow("192.0.2.1", later) || len(l.clients) != 1 {
		t.Fatalf("idle clients were not forgotten: %d remain", len(l.clients))
	}
}

func TestHealthAndReady(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := do(t, "GET", srv.URL+p, "", "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"ok"`) {
			t.Errorf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	closed, _ := newTestServer(t, func(c *Config) { c.Store = store })
	if r := do(t, "GET", closed.URL+"/readyz", "", ""); r.Status != 503 {
		t.Errorf("readyz with a closed database: %d %s", r.Status, r.Body)
	} else {
		r.Detail(t)
	}
}

func TestOpenAPIAndDocs(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	r := do(t, "GET", srv.URL+"/api/openapi.json", "", "")
	var spec struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &spec); r.Status != 200 || err != nil || !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Fatalf("openapi: %d %v", r.Status, err)
	}
	for path, method := range map[string]string{
		"/auth/register": "post", "/auth/login": "post", "/auth/refresh": "post", "/auth/logout": "post", "/auth/me": "get",
		"/documents": "post", "/documents/{id}": "put", "/documents/{id}/users": "get", "/documents/{id}/chat": "get",
		"/documents/{id}/ops": "get", "/documents/{id}/members": "get", "/documents/{id}/members/{username}": "put",
		"/documents/{id}/owner": "post",
	} {
		if spec.Paths[path][method] == nil {
			t.Errorf("openapi lacks %s %s", method, path)
		}
	}
	if spec.Paths["/documents/{id}/members/{username}"]["delete"] == nil {
		t.Error("openapi lacks delete /documents/{id}/members/{username}")
	}
	for _, field := range []string{`"visibility"`, `"link_role"`, `"owner_username"`, `"shared"`} {
		if !bytes.Contains(r.Body, []byte(field)) {
			t.Errorf("openapi does not describe %s", field)
		}
	}
	if !bytes.Contains(r.Body, []byte(`"detail"`)) {
		t.Error("openapi does not describe the {detail} error body")
	}

	page := do(t, "GET", srv.URL+"/docs", "", "")
	if page.Status != 200 || !bytes.Contains(page.Body, []byte("/api/auth/register")) || bytes.Contains(page.Body, []byte("https://")) {
		t.Fatalf("/docs without assets: %d %s", page.Status, page.Body)
	}
	assets := fstest.MapFS{"docs.html": {Data: []byte("<html>swagger here</html>")}, "index.html": {Data: []byte("<html>app</html>")}}
	withAssets, _ := newTestServer(t, func(c *Config) { c.Assets = assets })
	if r := do(t, "GET", withAssets.URL+"/docs", "", ""); r.Status != 200 || string(r.Body) != "<html>swagger here</html>" {
		t.Fatalf("/docs with assets: %d %s", r.Status, r.Body)
	}
}

func TestWebClientAndFallbacks(t *testing.T) {
	bare, _ := newTestServer(t, nil)
	if r := do(t, "GET", bare.URL+"/", "", ""); r.Status != 200 || !bytes.Contains(r.Body, []byte("make build")) {
		t.Fatalf("/ without assets: %d %s", r.Status, r.Body)
	}
	assets := fstest.MapFS{
		"index.html":        {Data: []byte("<html>app</html>")},
		"assets/app-123.js": {Data: []byte("console.log(1)")},
		"favicon.svg":       {Data: []byte("<svg/>")},
	}
	srv, _ := newTestServer(t, func(c *Config) { c.Assets = assets })
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "<html>app</html>"},
		{"GET", "/doc/my-project", 200, "<html>app</html>"},
		{"GET", "/assets/app-123.js", 200, "console.log(1)"},
		{"GET", "/favicon.svg", 200, "<svg/>"},
		{"GET", "/assets/missing.js", 404, `"detail"`},
		{"GET", "/api/nope", 404, `"detail"`},
		{"GET", "/ws/doc", 404, `"detail"`},
		{"GET", "/api/auth/login", 405, `"detail"`},
		{"DELETE", "/api/documents", 405, `"detail"`},
		{"POST", "/somewhere", 405, `"detail"`},
	}
	for _, tc := range cases {
		r := do(t, tc.method, srv.URL+tc.path, "", "")
		if r.Status != tc.status || !bytes.Contains(r.Body, []byte(tc.body)) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.Status, r.Body, tc.status, tc.body)
		}
	}
	if r := do(t, "GET", srv.URL+"/assets/app-123.js", "", ""); !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("hashed asset Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
	if r := do(t, "GET", srv.URL+"/api/auth/login", "", ""); !strings.Contains(r.Header.Get("Allow"), "POST") {
		t.Errorf("405 Allow = %q", r.Header.Get("Allow"))
	}
}

// TestPrecompressedAssets: a file with build-time .br and .gz copies is sent
// in the best encoding the client accepts, and decodes to the very bytes of
// the file; a client accepting neither gets the file itself.
func TestPrecompressedAssets(t *testing.T) {
	js := bytes.Repeat([]byte("export const editor = 'monaco';\n"), 200)
	var gz, br bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(js)
	gw.Close()
	bw := brotli.NewWriter(&br)
	bw.Write(js)
	bw.Close()
	assets := fstest.MapFS{
		"index.html":              {Data: []byte("<html>app</html>")},
		"assets/editor-abc.js":    {Data: js},
		"assets/editor-abc.js.br": {Data: br.Bytes()},
		"assets/editor-abc.js.gz": {Data: gz.Bytes()},
		"assets/plain-abc.js":     {Data: []byte("plain")},
	}
	srv, _ := newTestServer(t, func(c *Config) { c.Assets = assets })
	get := func(acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/assets/editor-abc.js", nil)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		// DisableCompression: the transport must neither ask for gzip itself
		// nor decode the answer, so the test sees the bytes on the wire.
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	cases := []struct{ accept, encoding string }{
		{"gzip, deflate, br, zstd", "br"}, // Chromium's header
		{"br;q=0, gzip", "gzip"},
		{"gzip;q=0.5", "gzip"},
		{"identity", ""},
		{"", ""},
		{"br;q=0, gzip;q=0", ""},
		{"*", "br"},
	}
	for _, tc := range cases {
		resp, body := get(tc.accept)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.encoding {
			t.Errorf("Accept-Encoding %q: %d Content-Encoding %q, want %q", tc.accept, resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.encoding)
			continue
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("Accept-Encoding %q: headers %v", tc.accept, resp.Header)
		}
		var decoded []byte
		switch tc.encoding {
		case "br":
			decoded, _ = io.ReadAll(brotli.NewReader(bytes.NewReader(body)))
			if len(body) >= len(js) {
				t.Errorf("br body is %d bytes, the file %d", len(body), len(js))
			}
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("gzip body: %v", err)
			}
			decoded, _ = io.ReadAll(zr)
		default:
			decoded = body
		}
		if !bytes.Equal(decoded, js) {
			t.Errorf("Accept-Encoding %q: decoded %d bytes differ from the %d of the file", tc.accept, len(decoded), len(js))
		}
	}
	// A file without compressed copies is served as before, with no Vary.
	req, _ := http.NewRequest("GET", srv.URL+"/assets/plain-abc.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "plain" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("plain asset: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

func TestCORS(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	r := do(t, "OPTIONS", srv.URL+"/api/documents", "", "", "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("allowed preflight: %d %v", r.Status, r.Header)
	}
	r = do(t, "OPTIONS", srv.URL+"/api/documents", "", "", "Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
	if r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", r.Status, r.Header)
	}
	r = do(t, "GET", srv.URL+"/api/documents", "", "", "Origin", "http://localhost:3000")
	if r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Fatalf("simple request: %v", r.Header)
	}
	r = do(t, "GET", srv.URL+"/api/documents", "", "", "Origin", "http://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign simple request got CORS headers: %v", r.Header)
	}
}

// hijackable is a ResponseWriter that supports Hijack, as net/http's does.
type hijackable struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.hijacked = true
	return nil, nil, nil
}

func TestLogMiddleware(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	h := logMiddleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
			t.Errorf("hijack through the log middleware: %v", err)
		}
	}))
	w := &hijackable{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ws/doc?token=SECRET-TOKEN", nil))
	if !w.hijacked {
		t.Fatal("the connection was not hijacked")
	}
	line := logs.String()
	if strings.Contains(line, "SECRET-TOKEN") || !strings.Contains(line, "path=/ws/doc") || !strings.Contains(line, "status=101") {
		t.Fatalf("log line %q", line)
	}
}

func TestGuessLanguage(t *testing.T) {
	for title, want := range map[string]string{"main.py": "python", "x.GO": "go", "app.ts": "typescript", "a.js": "javascript",
		"README": "plaintext", "My Project": "plaintext", "Dockerfile": "dockerfile", "notes.md": "markdown"} {
		if got := GuessLanguage(title); got != want {
			t.Errorf("GuessLanguage(%q) = %q, want %q", title, got, want)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	for code, want := range map[string]int{gdoc.EINVALID: 422, gdoc.EUNAUTHORIZED: 401, gdoc.EFORBIDDEN: 403, gdoc.ENOTFOUND: 404,
		gdoc.ECONFLICT: 409, gdoc.ETOOLARGE: 413, gdoc.ERATELIMITED: 429, gdoc.EUNAVAILABLE: 503, gdoc.EINTERNAL: 500} {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, want)
		}
	}
}

// TestDocumentIDsSkipTakenNumbers: ids taken by WebSocket joins ("3") or
// out of order do not stop POST from finding a free number.
func TestDocumentIDsSkipTakenNumbers(t *testing.T) {
	var store gdoc.Store
	srv, _ := newTestServer(t, func(c *Config) { store = c.Store })
	alice := testenv.Register(t, srv.URL, "alice").Token
	for _, id := range []string{"1", "2", "3", "5"} {
		if err := store.CreateDocument(context.Background(), &gdoc.Document{ID: id, Title: id, OwnerID: "1", Public: true}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{"1": true, "2": true, "3": true, "5": true}
	for i := 0; i < 5; i++ {
		r := do(t, "POST", srv.URL+"/api/documents", alice, `{"title":"t"}`)
		var doc gdoc.Document
		if err := json.Unmarshal(r.Body, &doc); r.Status != 201 || err != nil || seen[doc.ID] {
			t.Fatalf("create %d: %d %s", i, r.Status, r.Body)
		}
		seen[doc.ID] = true
		// An id taken behind the server's back (a join) right after the
		// one it created last is skipped too.
		if i == 2 {
			n, _ := strconv.Atoi(doc.ID)
			next := strconv.Itoa(n + 1)
			if err := store.CreateDocument(context.Background(), &gdoc.Document{ID: next, Title: next, OwnerID: "1", Public: true}); err != nil {
				t.Fatal(err)
			}
			seen[next] = true
		}
	}
	// The numbers stay dense: ten ids are taken, all of them at most 10.
	for id := range seen {
		if n, err := strconv.Atoi(id); err != nil || n < 1 || n > len(seen) {
			t.Fatalf("ids %v are not 1 to %d", seen, len(seen))
		}
	}
}

// TestRateLimitBehindTrustedProxy: behind nginx every request comes from
// the proxy's address; with the proxy trusted, each client it names gets its
// own budget, and a client cannot escape the limit by naming someone else
// through a hop the proxy appended to.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	srv, _ := newTestServer(t, func(c *Config) {
		c.AuthRatePerMinute = 2
		c.TrustedProxies = []netip.Prefix{loopback}
	})
	login := func(header ...string) int {
		return do(t, "POST", srv.URL+"/api/auth/login", "", `{"username":"nobody","password":"securepass123"}`, header...).Status
	}
	for range 2 {
		if s := login("X-Real-IP", "198.51.100.1"); s != http.StatusUnauthorized {
			t.Fatalf("first logins of client 1: %d", s)
		}
	}
	if s := login("X-Real-IP", "198.51.100.1"); s != http.StatusTooManyRequests {
		t.Fatalf("third login of client 1: %d", s)
	}
	if s := login("X-Real-IP", "198.51.100.2"); s != http.StatusUnauthorized {
		t.Fatalf("client 2 shares client 1's budget: %d", s)
	}
	// X-Forwarded-For: the nearest untrusted hop counts, not what the
	// client wrote at the left.
	if s := login("X-Forwarded-For", "203.0.113.7, 198.51.100.1"); s != http.StatusTooManyRequests {
		t.Fatalf("a spoofed left-most hop escaped the limit: %d", s)
	}
}

func TestClientIP(t *testing.T) {
	l := newIPRateLimiter(1, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	headers := func(h map[string]string) func(string) string { return func(k string) string { return h[k] } }
	for _, c := range []struct {
		remote string
		h      map[string]string
		want   string
	}{
		{"192.0.2.1:5000", map[string]string{"X-Real-IP": "198.51.100.9"}, "192.0.2.1"}, // untrusted peer: headers ignored
		{"10.1.2.3:5000", map[string]string{"X-Real-IP": "198.51.100.9"}, "198.51.100.9"},
		{"10.1.2.3:5000", map[string]string{"X-Forwarded-For": "1.1.1.1, 198.51.100.9, 10.0.0.5"}, "198.51.100.9"},
		{"10.1.2.3:5000", map[string]string{"X-Real-IP": "not an ip"}, "10.1.2.3"},
		{"10.1.2.3:5000", nil, "10.1.2.3"},
	} {
		if got := l.clientIP(c.remote, headers(c.h)); got != c.want {
			t.Errorf("clientIP(%s, %v) = %s, want %s", c.remote, c.h, got, c.want)
		}
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	assets := fstest.MapFS{
		"index.html":       {Data: []byte("<!doctype html><title>x</title>")},
		"docs.html":        {Data: []byte("<!doctype html><title>docs</title>")},
		"assets/app-1.js":  {Data: []byte("console.log(1)")},
		"assets/app-1.css": {Data: []byte("body{}")},
	}
	ws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadRequest) })
	srv, _ := newTestServer(t, func(c *Config) { c.Assets = assets; c.WebSocket = ws })
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/d/some-doc"}, {"GET", "/docs"}, {"GET", "/assets/app-1.js"}, {"GET", "/assets/missing.js"},
		{"GET", "/api/documents"}, {"GET", "/api/openapi.json"}, {"GET", "/api/nope"}, {"POST", "/api/auth/login"},
		{"DELETE", "/api/auth/me"}, {"GET", "/healthz"}, {"GET", "/ws/doc"},
	} {
		r := do(t, tc.method, srv.URL+tc.path, "", "")
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self';", "worker-src 'self' blob:", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s (%d): CSP %q lacks %q", tc.method, tc.path, r.Status, csp, want)
			}
		}
		if strings.Contains(strings.Split(strings.SplitAfter(csp, "script-src")[1], ";")[0], "unsafe") {
			t.Errorf("%s %s: script-src allows unsafe sources: %q", tc.method, tc.path, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s %s: X-Content-Type-Options %q, Referrer-Policy %q", tc.method, tc.path,
				r.Header.Get("X-Content-Type-Options"), r.Header.Get("Referrer-Policy"))
		}
	}
}

func TestDocumentAtTheSizeCap(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	alice := testenv.Register(t, srv.URL, "alice")
	// Exactly MaxDocumentBytes (2 KiB here) is fine; multi-byte text counts in bytes.
	atCap := `{"title":"at-cap","content":"` + strings.Repeat("é", 1024) + `"}`
	if r := do(t, "POST", srv.URL+"/api/documents", alice.Token, atCap); r.Status != http.StatusCreated {
		t.Fatalf("a document of exactly MaxDocumentBytes: %d %s", r.Status, r.Body)
	}
	over := `{"title":"over","content":"` + strings.Repeat("é", 1024) + `x"}`
	if r := do(t, "POST", srv.URL+"/api/documents", alice.Token, over); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("one byte over MaxDocumentBytes: %d %s", r.Status, r.Body)
	}
}
