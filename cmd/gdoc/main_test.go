package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
	"github.com/gdoc/gdoc/internal/ws"
)

// TestMain lets tests run main() in a child process (re-executing the test
// binary) to check exit codes and stderr.
func TestMain(m *testing.M) {
	if os.Getenv("GDOC_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	// Every goroutine run() starts must end when it returns.
	goleak.VerifyTestMain(m)
}

// lineWriter collects output and reports the listening URL once printed.
type lineWriter struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	urlOnce  sync.Once
	listenCh chan string
}

var listeningPattern = regexp.MustCompile(`listening on (http://[0-9A-Za-z.:\[\]]+)`)

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := listeningPattern.FindSubmatch(w.buf.Bytes()); m != nil {
		w.urlOnce.Do(func() { w.listenCh <- string(m[1]) })
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// server is one gdoc started through run().
type server struct {
	URL     string
	DataDir string
	out     *lineWriter
	stop    context.CancelFunc
	done    chan error
}

// start runs the server on 127.0.0.1:0 with env (plus PORT, HOST and a
// temporary DATA_DIR unless given) and stops it when the test ends.
func start(t *testing.T, env map[string]string) *server {
	t.Helper()
	vars := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "AUTO_SAVE_INTERVAL": "1"}
	if env["DATA_DIR"] == "" {
		vars["DATA_DIR"] = filepath.Join(t.TempDir(), "data")
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{DataDir: vars["DATA_DIR"], out: &lineWriter{listenCh: make(chan string, 1)}, stop: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, []string{"gdoc", "--env-file="}, func(k string) string { return vars[k] }, s.out, s.out)
	}()
	select {
	case s.URL = <-s.out.listenCh:
	case err := <-s.done:
		cancel()
		t.Fatalf("run returned before listening: %v\n%s", err, s.out)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("server did not start:\n%s", s.out)
	}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown cancels run's context and checks it returns nil.
func (s *server) shutdown(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("run did not return after its context was canceled")
	}
}

// call is testenv.Call under a short name.
var call = testenv.Call

type tokenBody struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	User        struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Email    string `json:"email"`
	} `json:"user"`
}

type document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Content   string    `json:"content"`
	Language  string    `json:"language"`
	OwnerID   string    `json:"owner_id"`
	IsPublic  bool      `json:"is_public"`
	Rev       int64     `json:"rev"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// seedFlow runs the seed README's curl examples verbatim against base and
// returns alice's token and the created document.
func seedFlow(t *testing.T, base string) (tokenBody, document) {
	t.Helper()
	r := call(t, "POST", base+"/api/auth/register", "", `{
    "username": "alice",
    "email": "alice@example.com",
    "password": "securepass123"
  }`)
	var reg tokenBody
	r.Decode(t, &reg)
	if r.Status != 201 || reg.AccessToken == "" || reg.TokenType != "bearer" || reg.User.Username != "alice" ||
		reg.User.Email != "alice@example.com" || reg.User.ID == "" {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	r = call(t, "POST", base+"/api/auth/login", "", `{
    "username": "alice",
    "password": "securepass123"
  }`)
	var login tokenBody
	r.Decode(t, &login)
	if r.Status != 200 || login.AccessToken == "" || login.TokenType != "bearer" || login.User != reg.User {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	r = call(t, "POST", base+"/api/documents", login.AccessToken, `{
    "title": "My Project",
    "content": "// Start coding here"
  }`)
	var doc document
	r.Decode(t, &doc)
	if r.Status != 201 || doc.ID == "" || doc.Title != "My Project" || doc.Content != "// Start coding here" ||
		doc.OwnerID != reg.User.ID || !doc.IsPublic || doc.Rev != 0 || doc.Language != "plaintext" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r = call(t, "GET", base+"/api/documents", "", "")
	var list []document
	r.Decode(t, &list)
	if r.Status != 200 || len(list) != 1 || list[0].ID != doc.ID || list[0].Title != "My Project" {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	r = call(t, "GET", base+"/api/documents/"+doc.ID, "", "")
	var got document
	r.Decode(t, &got)
	if r.Status != 200 || got.Content != "// Start coding here" || got.Rev != 0 || got.ID != doc.ID {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	return login, doc
}

func TestSeedExamplesEmbedded(t *testing.T) {
	s := start(t, nil)
	seedFlow(t, s.URL)
	// The seed's "curl http://localhost:8000/api/documents/1" works verbatim:
	// POST numbers documents 1, 2, 3, ... and the first one is "1".
	r := call(t, "GET", s.URL+"/api/documents/1", "", "")
	var got document
	r.Decode(t, &got)
	if r.Status != 200 || got.ID != "1" || got.Content != "// Start coding here" {
		t.Fatalf("GET /api/documents/1: %d %s", r.Status, r.Body)
	}
}

func TestDocumentsLifecycle(t *testing.T) {
	s := start(t, nil)
	alice, doc := seedFlow(t, s.URL)
	bob := testenv.Register(t, s.URL, "bob")
	docURL := s.URL + "/api/documents/" + doc.ID

	t.Run("PutContentIsAnEdit", func(t *testing.T) {
		r := call(t, "PUT", docURL, bob.Token, `{"content":"// Start coding here\nfmt.Println(1)"}`)
		var got document
		r.Decode(t, &got)
		if r.Status != 200 || got.Content != "// Start coding here\nfmt.Println(1)" || got.Rev != 1 {
			t.Fatalf("put content: %d %s", r.Status, r.Body)
		}
		r = call(t, "GET", docURL, "", "")
		r.Decode(t, &got)
		if got.Content != "// Start coding here\nfmt.Println(1)" || got.Rev != 1 {
			t.Fatalf("get after put: %s", r.Body)
		}
		r = call(t, "GET", docURL+"/ops?from=0", "", "")
		var ops []struct {
			Rev    int64           `json:"rev"`
			Op     json.RawMessage `json:"op"`
			UserID string          `json:"user_id"`
		}
		r.Decode(t, &ops)
		if r.Status != 200 || len(ops) != 1 || ops[0].Rev != 1 || ops[0].UserID != bob.ID || string(ops[0].Op) != `[20,"\nfmt.Println(1)"]` {
			t.Fatalf("ops: %d %s", r.Status, r.Body)
		}
		if r := call(t, "PUT", docURL, "", `{"content":"x"}`); r.Status != 401 {
			t.Fatalf("anonymous put: %d", r.Status)
		}
	})
	t.Run("PutMeta", func(t *testing.T) {
		r := call(t, "PUT", docURL, bob.Token, `{"title":"main.go","language":"go"}`)
		var got document
		r.Decode(t, &got)
		if r.Status != 200 || got.Title != "main.go" || got.Language != "go" || got.Rev != 1 {
			t.Fatalf("put meta: %d %s", r.Status, r.Body)
		}
		if r := call(t, "PUT", docURL, bob.Token, `{"is_public":false}`); r.Status != 403 || !strings.Contains(r.Detail(t), "owner") {
			t.Fatalf("non-owner changes is_public: %d %s", r.Status, r.Body)
		}
		if r := call(t, "PUT", docURL, bob.Token, `{"title":""}`); r.Status != 422 || !strings.Contains(r.Detail(t), "title") {
			t.Fatalf("empty title: %d %s", r.Status, r.Body)
		}
		if r := call(t, "PUT", s.URL+"/api/documents/missing", bob.Token, `{"title":"x"}`); r.Status != 404 {
			t.Fatalf("put missing: %d %s", r.Status, r.Body)
		}
	})
	t.Run("Private", func(t *testing.T) {
		r := call(t, "PUT", docURL, alice.AccessToken, `{"is_public":false}`)
		var got document
		r.Decode(t, &got)
		if r.Status != 200 || got.IsPublic {
			t.Fatalf("owner makes private: %d %s", r.Status, r.Body)
		}
		for _, token := range []string{"", bob.Token} {
			if r := call(t, "GET", docURL, token, ""); r.Status != 404 || r.Detail(t) == "" { // as if it did not exist
				t.Fatalf("other user reads private: %d %s", r.Status, r.Body)
			}
		}
		if r := call(t, "GET", docURL, alice.AccessToken, ""); r.Status != 200 {
			t.Fatalf("owner reads private: %d", r.Status)
		}
		var list []document
		call(t, "GET", s.URL+"/api/documents", bob.Token, "").Decode(t, &list)
		if len(list) != 0 {
			t.Fatalf("bob's list shows a private document: %+v", list)
		}
		call(t, "PUT", docURL, alice.AccessToken, `{"is_public":true}`)
	})
	t.Run("WebSocketJoinCreatesDocument", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// The seed's form: the token in the query string.
		conn, _, err := otclient.DialSeed(ctx, s.URL, "ws-made", bob.Token)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		r := call(t, "GET", s.URL+"/api/documents/ws-made", "", "")
		var got document
		r.Decode(t, &got)
		if r.Status != 200 || got.OwnerID != bob.ID || got.Title != "ws-made" {
			t.Fatalf("document made by joining: %d %s", r.Status, r.Body)
		}
		r = call(t, "GET", s.URL+"/api/documents/ws-made/users", "", "")
		var users struct {
			ActiveUsers []string `json:"active_users"`
			Count       int      `json:"count"`
		}
		r.Decode(t, &users)
		if r.Status != 200 || users.Count != 1 || len(users.ActiveUsers) != 1 || users.ActiveUsers[0] != bob.ID {
			t.Fatalf("users: %d %s", r.Status, r.Body)
		}
		if err := conn.Send(ctx, map[string]any{"type": "chat", "message": "hello from bob"}); err != nil {
			t.Fatal(err)
		}
		// A ping after the chat: its pong means the chat was handled.
		conn.Send(ctx, map[string]any{"type": "ping"})
		for {
			m, err := conn.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == "pong" {
				break
			}
		}
		var chat []struct {
			Message string `json:"message"`
			UserID  string `json:"user_id"`
		}
		call(t, "GET", s.URL+"/api/documents/ws-made/chat", "", "").Decode(t, &chat)
		if len(chat) != 1 || chat[0].Message != "hello from bob" || chat[0].UserID != bob.ID {
			t.Fatalf("chat history: %+v", chat)
		}
		conn.Close()
	})
	t.Run("Delete", func(t *testing.T) {
		if r := call(t, "DELETE", docURL, bob.Token, ""); r.Status != 403 {
			t.Fatalf("non-owner delete: %d %s", r.Status, r.Body)
		}
		if r := call(t, "DELETE", docURL, alice.AccessToken, ""); r.Status != 204 {
			t.Fatalf("owner delete: %d %s", r.Status, r.Body)
		}
		if r := call(t, "GET", docURL, alice.AccessToken, ""); r.Status != 404 {
			t.Fatalf("get deleted: %d %s", r.Status, r.Body)
		}
	})
	s.shutdown(t)
	logs := s.out.String()
	for _, secret := range []string{"securepass123", alice.AccessToken, bob.Token} {
		if strings.Contains(logs, secret) {
			t.Fatalf("logs contain a password or token %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "path=/ws/ws-made ") {
		t.Fatalf("the WebSocket request was not logged:\n%s", logs)
	}
}

func TestAuthErrors(t *testing.T) {
	s := start(t, nil)
	alice := testenv.Register(t, s.URL, "alice")

	for _, body := range []string{
		`{"username":"alice","email":"new@example.com","password":"securepass123"}`,
		`{"username":"carol","email":"alice@example.com","password":"securepass123"}`,
	} {
		if r := call(t, "POST", s.URL+"/api/auth/register", "", body); r.Status != 409 || r.Detail(t) == "" {
			t.Fatalf("duplicate %s: %d %s", body, r.Status, r.Body)
		}
	}
	wrongPassword := call(t, "POST", s.URL+"/api/auth/login", "", `{"username":"alice","password":"wrongpass999"}`)
	wrongUser := call(t, "POST", s.URL+"/api/auth/login", "", `{"username":"mallory","password":"securepass123"}`)
	if wrongPassword.Status != 401 || wrongUser.Status != 401 || wrongPassword.Detail(t) != wrongUser.Detail(t) {
		t.Fatalf("login failures differ: %d %s / %d %s", wrongPassword.Status, wrongPassword.Body, wrongUser.Status, wrongUser.Body)
	}
	if r := call(t, "POST", s.URL+"/api/auth/register", "", `{"username":"x","email":"bad","password":"1"}`); r.Status != 422 {
		t.Fatalf("validation: %d %s", r.Status, r.Body)
	}
	big := `{"username":"big","email":"big@example.com","password":"` + strings.Repeat("x", 1<<20) + `"}`
	if r := call(t, "POST", s.URL+"/api/auth/register", "", big); r.Status != 413 || r.Detail(t) == "" {
		t.Fatalf("body over MAX_BODY_BYTES: %d %.200s", r.Status, r.Body)
	}
	// Document writes take bodies up to the document cap (4 MiB by default).
	huge := `{"title":"big","content":"` + strings.Repeat("x", 4<<20+1) + `"}`
	if r := call(t, "POST", s.URL+"/api/documents", alice.Token, huge); r.Status != 413 || !strings.Contains(r.Detail(t), "4 MiB") {
		t.Fatalf("document over MAX_DOCUMENT_BYTES: %d %.200s", r.Status, r.Body)
	}

	key, err := os.ReadFile(filepath.Join(s.DataDir, "secret_key"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(strings.TrimSpace(string(key)))
	now := time.Now()
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": alice.ID, "jti": "t1", "aud": "gdoc", "iss": "gdoc", "iat": now.Add(-2 * time.Hour).Unix(), "exp": exp.Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(jwt.SigningMethodHS256, secret, claims(now.Add(time.Hour)))
	if r := call(t, "GET", s.URL+"/api/auth/me", good, ""); r.Status != 200 {
		t.Fatalf("a token signed with the server's key: %d %s", r.Status, r.Body)
	}
	refused := map[string]string{
		"Expired":  sign(jwt.SigningMethodHS256, secret, claims(now.Add(-time.Hour))),
		"AlgNone":  sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(now.Add(time.Hour))),
		"HS384":    sign(jwt.SigningMethodHS384, secret, claims(now.Add(time.Hour))),
		"OtherKey": sign(jwt.SigningMethodHS256, []byte(strings.Repeat("z", 32)), claims(now.Add(time.Hour))),
	}
	for name, tok := range refused {
		if r := call(t, "GET", s.URL+"/api/auth/me", tok, ""); r.Status != 401 || r.Detail(t) == "" {
			t.Errorf("%s token: %d %s", name, r.Status, r.Body)
		}
		if r := call(t, "POST", s.URL+"/api/documents", tok, `{"title":"x"}`); r.Status != 401 {
			t.Errorf("%s token creates a document: %d %s", name, r.Status, r.Body)
		}
	}
	if r := call(t, "GET", s.URL+"/api/auth/me", refused["Expired"], ""); !strings.Contains(r.Detail(t), "expired") {
		t.Errorf("expired token detail %q", r.Detail(t))
	}

	r := call(t, "POST", s.URL+"/api/auth/refresh", alice.Token, "")
	var fresh tokenBody
	r.Decode(t, &fresh)
	if r.Status != 200 || fresh.AccessToken == "" {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	if r := call(t, "POST", s.URL+"/api/auth/logout", fresh.AccessToken, ""); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", s.URL+"/api/auth/me", fresh.AccessToken, ""); r.Status != 401 {
		t.Fatalf("token works after logout: %d", r.Status)
	}
	// A revoked token cannot open a WebSocket either.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(s.URL, "http://", "ws://", 1)+"/ws/doc?token="+fresh.AccessToken, nil)
	if err == nil {
		var m map[string]any
		err = wsjson.Read(ctx, conn, &m)
		conn.CloseNow()
		if websocket.CloseStatus(err) != ws.CloseUnauthenticated {
			t.Fatalf("revoked token on the WebSocket: %v %v", m, err)
		}
	}
}

func TestTokensSurviveRestart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	first := start(t, map[string]string{"DATA_DIR": dataDir})
	alice, doc := seedFlow(t, first.URL)
	first.shutdown(t)

	st, err := os.Stat(filepath.Join(dataDir, "secret_key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret_key: %v %v", err, st)
	}
	second := start(t, map[string]string{"DATA_DIR": dataDir})
	if r := call(t, "GET", second.URL+"/api/auth/me", alice.AccessToken, ""); r.Status != 200 {
		t.Fatalf("token after restart: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", second.URL+"/api/documents/"+doc.ID, "", ""); r.Status != 200 {
		t.Fatalf("document after restart: %d %s", r.Status, r.Body)
	}
}

func TestServiceEndpoints(t *testing.T) {
	s := start(t, nil)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ok"`, "/docs": "/api/documents", "/api/openapi.json": `"openapi":"3.1`, "/": "make build"} {
		r := call(t, "GET", s.URL+path, "", "")
		if r.Status != 200 || !bytes.Contains(r.Body, []byte(want)) {
			t.Errorf("GET %s: %d %.300s", path, r.Status, r.Body)
		}
	}
}

func TestShutdownClosesWebSockets(t *testing.T) {
	s := start(t, nil)
	tok := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := otclient.DialSeed(ctx, s.URL, "doc", tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	// Read (and so answer the close handshake) while the server shuts down.
	closed := make(chan error, 1)
	go func() {
		for {
			if _, err := conn.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	s.shutdown(t)
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close after shutdown: %v, want 1001", err)
	}
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Fatal("the server still accepts connections after shutdown")
	}
}

// runMain runs main() in a child process with args and env and returns its
// exit code, stdout and stderr. Every use expects main to exit at once, so
// a child still running after a minute (serving, say) is killed and fails
// the test rather than hanging it.
func runMain(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	const limit = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"GDOC_TEST_RUN_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("main with args %q and env %q did not exit within %v; stdout:\n%s\nstderr:\n%s", args, env, limit, &stdout, &stderr)
	}
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestConfigErrorsExit2(t *testing.T) {
	cases := map[string]struct {
		env  []string
		args []string
		want string
	}{
		"BadPort":        {args: []string{"--port", "eighty"}, want: "PORT must be"},
		"Algorithm":      {env: []string{"ALGORITHM=RS256"}, want: "ALGORITHM must be HS256"},
		"PostgresNoKey":  {env: []string{"DATABASE_URL=postgres://127.0.0.1:1/x"}, want: "SECRET_KEY is required"},
		"ShortSecretKey": {env: []string{"SECRET_KEY=tooshort"}, want: "SECRET_KEY must be at least 32 bytes"},
		"UnknownFlag":    {args: []string{"--bogus"}, want: "flag provided but not defined"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tc.env, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
				strings.Contains(stderr, "goroutine") || stdout != "" {
				t.Fatalf("exit %d stdout %q stderr %q, want 2 and one line containing %q", code, stdout, stderr, tc.want)
			}
		})
	}
	t.Run("UnreachableDatabaseExits1", func(t *testing.T) {
		code, _, stderr := runMain(t, []string{"DATABASE_URL=postgres://gdoc:hunter2secret@127.0.0.1:1/x?connect_timeout=2",
			"SECRET_KEY=" + strings.Repeat("s", 32), "PORT=0"})
		if code != 1 || !strings.Contains(stderr, "cannot open the PostgreSQL database") || strings.Contains(stderr, "hunter2secret") ||
			strings.Contains(stderr, "goroutine") {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
	t.Run("Help", func(t *testing.T) {
		code, stdout, _ := runMain(t, nil, "--help")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, name := range []string{"PORT", "HOST", "DATABASE_URL", "REDIS_HOST", "REDIS_URL", "SECRET_KEY", "ALGORITHM",
			"ACCESS_TOKEN_EXPIRE_MINUTES", "CORS_ORIGINS", "AUTO_SAVE_INTERVAL", "APP_NAME", "DEBUG", "DATA_DIR", "MAX_BODY_BYTES",
			"--port", "--database-url", "default 8000"} {
			if !strings.Contains(stdout, name) {
				t.Errorf("--help does not mention %s", name)
			}
		}
	})
}

// TestPostgres runs the seed examples against PostgreSQL (a fresh schema).
func TestPostgres(t *testing.T) {
	schemaURL := testenv.FreshSchema(t)
	key := strings.Repeat("p", 40)
	s := start(t, map[string]string{"DATABASE_URL": schemaURL, "SECRET_KEY": key})
	alice, doc := seedFlow(t, s.URL)
	if r := call(t, "GET", s.URL+"/readyz", "", ""); r.Status != 200 {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "gdoc.db")); err == nil {
		t.Fatal("PostgreSQL mode created an SQLite file")
	}
	s.shutdown(t)
	again := start(t, map[string]string{"DATABASE_URL": schemaURL, "SECRET_KEY": key})
	if r := call(t, "GET", again.URL+"/api/auth/me", alice.AccessToken, ""); r.Status != 200 {
		t.Fatalf("token after restart: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", again.URL+"/api/documents/"+doc.ID, "", ""); r.Status != 200 {
		t.Fatalf("document after restart: %d %s", r.Status, r.Body)
	}
}

// TestTwoInstancesWithRedis runs two servers on one PostgreSQL schema with
// Redis fan-out: a user connected to one instance is listed by the other.
func TestTwoInstancesWithRedis(t *testing.T) {
	env := map[string]string{"DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("r", 40), "REDIS_URL": testenv.RedisURL(t)}
	one, two := start(t, env), start(t, env)
	if !strings.Contains(one.out.String(), "fanout=Redis") {
		t.Fatalf("REDIS_URL did not select Redis fan-out:\n%s", one.out)
	}
	alice := testenv.Register(t, one.URL, "alice")
	// A token from one instance works on the other (shared SECRET_KEY).
	if r := call(t, "GET", two.URL+"/api/auth/me", alice.Token, ""); r.Status != 200 {
		t.Fatalf("token from instance one on instance two: %d %s", r.Status, r.Body)
	}
	docID := "redis-" + hex.EncodeToString([]byte(t.Name()))[:8]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := otclient.DialSeed(ctx, one.URL, docID, alice.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	r := call(t, "GET", two.URL+"/api/documents/"+docID+"/users", "", "")
	var users struct {
		ActiveUsers []string `json:"active_users"`
	}
	r.Decode(t, &users)
	if r.Status != 200 || len(users.ActiveUsers) != 1 || users.ActiveUsers[0] != alice.ID {
		t.Fatalf("instance two's view of instance one's users: %d %s", r.Status, r.Body)
	}
	// An edit through instance two's REST API is read back on instance one.
	if r := call(t, "PUT", two.URL+"/api/documents/"+docID, alice.Token, `{"content":"from two"}`); r.Status != 200 {
		t.Fatalf("put on two: %d %s", r.Status, r.Body)
	}
	var got document
	call(t, "GET", one.URL+"/api/documents/"+docID, "", "").Decode(t, &got)
	if got.Content != "from two" || got.Rev != 1 {
		t.Fatalf("instance one after an edit on two: %+v", got)
	}
	conn.Close()
}

// TestCORSOriginsReachWebSockets checks CORS_ORIGINS governs both the REST
// API and WebSocket handshakes.
func TestCORSOriginsReachWebSockets(t *testing.T) {
	s := start(t, map[string]string{"CORS_ORIGINS": `["http://app.example:3000"]`})
	tok := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(origin string) (*http.Response, error) {
		conn, res, err := websocket.Dial(ctx, strings.Replace(s.URL, "http://", "ws://", 1)+"/ws/doc?token="+tok.Token,
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil {
			conn.CloseNow()
		}
		return res, err
	}
	if _, err := dial("http://app.example:3000"); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	if res, err := dial("http://evil.example"); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", res, err)
	}
	req, _ := http.NewRequest("OPTIONS", s.URL+"/api/documents", nil)
	req.Header.Set("Origin", "http://app.example:3000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
}
