package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/testenv"
	"github.com/gdoc/gdoc/internal/ws"
)

const testKey = "test-signing-key-0123456789abcdef0123456789"

// server is a real G-Doc WebSocket endpoint on a random local port: SQLite
// store, in-process bus and presence, the collab service, real JWT auth.
type server struct {
	t       testing.TB
	URL     string // ws://127.0.0.1:port
	Store   *sqlite.Store
	Collab  *collab.Service
	Auth    *auth.Service
	Handler *ws.Handler
	HTTP    *httptest.Server

	mu    sync.Mutex
	users map[string]*gdoc.User
}

func newServer(t testing.TB, tune func(*ws.Config)) *server {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	authSvc, err := auth.New([]byte(testKey), time.Hour, store)
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	svc := collab.New(collab.Config{
		Store: store, Bus: inmem.NewBus(), Presence: inmem.NewPresence(),
		ServerID: "test", AutoSaveInterval: time.Hour, IdleUnload: time.Hour, Logger: testLogger(),
	})
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { defer close(runDone); svc.Run(runCtx) }()

	cfg := ws.Config{Collab: svc, Auth: authSvc, OriginPatterns: []string{"http://allowed.example"}, Logger: testLogger()}
	if tune != nil {
		tune(&cfg)
	}
	h := ws.NewHandler(cfg)
	mux := http.NewServeMux()
	mux.Handle("GET /ws/{document_id}", h)
	hs := httptest.NewServer(mux)

	s := &server{t: t, URL: "ws" + strings.TrimPrefix(hs.URL, "http"), Store: store, Collab: svc, Auth: authSvc, Handler: h, HTTP: hs, users: map[string]*gdoc.User{}}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc.Shutdown(sctx)
		h.Shutdown(sctx)
		hs.Close()
		stopRun()
		if !receivedWithin(runDone, waitFor) {
			t.Errorf("collab.Service.Run did not return within %v of its context's cancel", waitFor)
			return // the store may still be in use: leave it open
		}
		store.Close()
	})
	return s
}

// token returns a valid token for username, creating the user once.
func (s *server) token(username string) string {
	s.t.Helper()
	s.mu.Lock()
	u := s.users[username]
	if u == nil {
		u = &gdoc.User{Username: username, Email: username + "@example.com", PasswordHash: "x"}
		if err := s.Store.CreateUser(context.Background(), u); err != nil {
			s.mu.Unlock()
			s.t.Fatalf("create user %s: %v", username, err)
		}
		s.users[username] = u
	}
	s.mu.Unlock()
	tok, _, err := s.Auth.Issue(u)
	if err != nil {
		s.t.Fatalf("issue token: %v", err)
	}
	return tok
}

func (s *server) user(username string) *gdoc.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[username]
}

// current returns the collab layer's text and revision of docID.
func (s *server) current(docID string) (string, int64) {
	s.t.Helper()
	d, err := s.Collab.Current(context.Background(), docID)
	if err != nil {
		s.t.Fatalf("current %s: %v", docID, err)
	}
	return d.Content, d.Rev
}

// stored rebuilds docID's text from the store alone: snapshot plus ops.
func (s *server) stored(docID string) (string, int64) {
	s.t.Helper()
	ctx := context.Background()
	d, err := s.Store.Document(ctx, docID)
	if err != nil {
		s.t.Fatalf("stored document %s: %v", docID, err)
	}
	ops, err := s.Store.Ops(ctx, docID, d.Rev, 0)
	if err != nil {
		s.t.Fatalf("stored ops: %v", err)
	}
	text, rev := d.Content, d.Rev
	for _, c := range ops {
		if c.Rev != rev+1 {
			s.t.Fatalf("op log gap: rev %d after %d", c.Rev, rev)
		}
		op, err := ot.Parse(c.Op)
		if err != nil {
			s.t.Fatalf("stored op %d: %v", c.Rev, err)
		}
		if text, err = ot.Apply(text, op); err != nil {
			s.t.Fatalf("apply stored op %d: %v", c.Rev, err)
		}
		rev = c.Rev
	}
	return text, rev
}

// msg is any server message; fields a type does not use stay zero.
type msg struct {
	Type        string                    `json:"type"`
	Code        string                    `json:"code"`
	Message     json.RawMessage           `json:"message"`
	ID          json.RawMessage           `json:"id"` // a string for ops, a number for chat
	Rev         int64                     `json:"rev"`
	Op          json.RawMessage           `json:"op"`
	UserID      string                    `json:"user_id"`
	Username    string                    `json:"username"`
	Color       string                    `json:"color"`
	ConnID      string                    `json:"conn_id"`
	Content     *string                   `json:"content"`
	Data        *struct{ Content string } `json:"data"`
	Ops         []msg                     `json:"ops"`
	Reset       bool                      `json:"reset"`
	ActiveUsers []string                  `json:"active_users"`
	Users       []gdoc.ActiveUser         `json:"users"`
	Chat        []msg                     `json:"chat"`
	Cursors     []msg                     `json:"cursors"`
	ClientMsgID string                    `json:"client_msg_id"`
	Anchor      *int                      `json:"anchor"`
	Head        *int                      `json:"head"`
	Position    json.RawMessage           `json:"position"`
	Removed     bool                      `json:"removed"`
	Timestamp   float64                   `json:"timestamp"`

	raw string
}

func (m msg) id() string {
	var s string
	if json.Unmarshal(m.ID, &s) == nil {
		return s
	}
	return string(m.ID)
}

func (m msg) text() string {
	var s string
	_ = json.Unmarshal(m.Message, &s)
	return s
}

// client is a test WebSocket client whose reader goroutine queues every
// message it receives.
type client struct {
	t    testing.TB
	conn *websocket.Conn
	in   chan msg
	done chan struct{}
	err  error // why reading stopped; read after done
	init msg

	mu   sync.Mutex
	gate chan struct{} // when set, reading waits until it is closed
}

type dialOpts struct {
	token        string
	query        string // extra query, e.g. "since=3"
	subprotocols []string
	header       http.Header
	noInit       bool
}

func (s *server) dial(doc string, o dialOpts) (*client, *http.Response, error) {
	s.t.Helper()
	u := s.URL + "/ws/" + doc
	var q []string
	if o.token != "" {
		q = append(q, "token="+o.token)
	}
	if o.query != "" {
		q = append(q, o.query)
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: o.subprotocols, HTTPHeader: o.header})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(64 << 20)
	c := &client{t: s.t, conn: conn, in: make(chan msg, 100000), done: make(chan struct{})}
	go c.readLoop()
	s.t.Cleanup(func() { c.conn.CloseNow() })
	if !o.noInit {
		c.init = c.next("init")
	}
	return c, resp, nil
}

// refusal dials doc with o and returns the close that refused the join:
// the handshake itself succeeds, so a browser can read the reason.
func (s *server) refusal(doc string, o dialOpts) (websocket.StatusCode, string) {
	s.t.Helper()
	o.noInit = true
	c, _, err := s.dial(doc, o)
	if err != nil {
		s.t.Fatalf("handshake refused: %v (the reason must be readable after it)", err)
	}
	return c.closeStatus()
}

// ot dials docID in the OT dialect as username.
func (s *server) ot(doc, username string) *client {
	s.t.Helper()
	c, _, err := s.dial(doc, dialOpts{subprotocols: []string{"gdoc.v1", "bearer." + s.token(username)}})
	if err != nil {
		s.t.Fatalf("dial %s as %s: %v", doc, username, err)
	}
	return c
}

// seed dials docID in the seed dialect (?token=, no subprotocol).
func (s *server) seed(doc, username string) *client {
	s.t.Helper()
	c, _, err := s.dial(doc, dialOpts{token: s.token(username)})
	if err != nil {
		s.t.Fatalf("dial %s as %s: %v", doc, username, err)
	}
	return c
}

func (c *client) readLoop() {
	defer close(c.done)
	defer close(c.in)
	for {
		c.mu.Lock()
		gate := c.gate
		c.mu.Unlock()
		if gate != nil {
			<-gate
		}
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var m msg
		if err := json.Unmarshal(data, &m); err != nil {
			c.err = fmt.Errorf("bad server message %q: %w", data, err)
			return
		}
		m.raw = string(data)
		c.in <- m
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.trySend(v); err != nil {
		c.t.Fatal(err)
	}
}

// trySend is send for goroutines other than the test's.
func (c *client) trySend(v any) error {
	var data []byte
	switch v := v.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("send %.200s: %w", data, err)
	}
	return nil
}

const waitFor = 10 * time.Second

// scenarioLimit bounds a whole multi-client scenario, such as every
// editor of a convergence test finishing its edits: far above what a
// healthy run needs on a loaded 2-core machine, far below go test's
// 20-minute timeout, so a stuck scenario fails with its state instead of
// hanging CI.
const scenarioLimit = 90 * time.Second

// receivedWithin reports whether done is closed (or yields a value) within
// limit.
func receivedWithin[T any](done <-chan T, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// waitWithin waits for done to close and fails the test after limit,
// saying what it waited for and the scenario's state at that moment.
func waitWithin(t testing.TB, done <-chan struct{}, limit time.Duration, what string, state func() string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("state while waiting for %s:\n%s", what, state())
		}
	}()
	testenv.WaitClosed(t, done, limit, what)
}

// waitGroupDone is closed when wg's count reaches zero; the goroutine
// waiting on wg outlives a test that gave up on it, which goleak reports.
func waitGroupDone(wg *sync.WaitGroup) <-chan struct{} {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// drain returns every message still queued or arriving until the
// connection ends, failing the test if it has not ended within limit.
func (c *client) drain(what string, limit time.Duration) []msg {
	c.t.Helper()
	var got []msg
	deadline := time.After(limit)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return got
			}
			got = append(got, m)
		case <-deadline:
			c.t.Fatalf("connection still open %v after %s; %d messages since", limit, what, len(got))
		}
	}
}

// receive returns the next message, failing the test when the connection
// closes or deadline passes first.
func (c *client) receive(what string, deadline <-chan time.Time) msg {
	c.t.Helper()
	var m msg
	select {
	case got, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed while waiting for %s: %v", what, c.err)
		}
		m = got
	case <-deadline:
		c.t.Fatalf("timed out waiting for %s", what)
	}
	return m
}

// next returns the next message, which must have type typ. Presence and
// cursor messages in between are skipped unless typ is one of them.
func (c *client) next(typ string) msg {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		m := c.receive(fmt.Sprintf("%q", typ), deadline)
		if m.Type != typ && noise[m.Type] && !noise[typ] {
			continue
		}
		if m.Type != typ {
			c.t.Fatalf("got %s, want a %q message", m.raw, typ)
		}
		return m
	}
}

// noise are the message types next skips.
var noise = map[string]bool{"user_joined": true, "user_left": true, "cursor": true}

// until returns the first message matching pred, skipping others.
func (c *client) until(what string, pred func(msg) bool) msg {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		if m := c.receive(what, deadline); pred(m) {
			return m
		}
	}
}

// quiet asserts that nothing but presence and cursor messages reached c
// before the pong of a ping sent now. That proves the absence of anything
// the server queued for c before the pong: a synchronous refusal's
// side effects, and a commit's fan-out once its ack reached the author
// (collab queues both under the document's lock).
func (c *client) quiet() {
	c.t.Helper()
	for _, m := range c.roundTrip() {
		if !noise[m.Type] {
			c.t.Fatalf("unexpected message %s", m.raw)
		}
	}
}

// roundTrip sends a ping and returns every message that arrived before
// its pong: a barrier proving the connection still works.
func (c *client) roundTrip() []msg {
	c.t.Helper()
	c.send(`{"type":"ping"}`)
	var got []msg
	deadline := time.After(waitFor)
	for {
		m := c.receive("pong", deadline)
		if m.Type == "pong" {
			return got
		}
		got = append(got, m)
	}
}

// closeStatus waits for the connection to end and returns its close error.
func (c *client) closeStatus() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.in:
			if ok {
				continue
			}
			var ce websocket.CloseError
			if asCloseError(c.err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, fmt.Sprint(c.err)
		case <-time.After(waitFor):
			c.t.Fatalf("connection did not close")
		}
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool {
	return errors.As(err, ce)
}

// testLogger logs to stderr with GDOC_TEST_DEBUG=1 and discards otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("GDOC_TEST_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
