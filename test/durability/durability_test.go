// Package durability kills the real server binary with SIGKILL while a client edits, restarts it on the same data, and checks that no acknowledged edit is lost or applied twice.
package durability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/gdoc/gdoc/internal/ot"
)

const secretKey = "durability-test-secret-key-0123456789abcdef"

var listening = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)`)

// buildServer compiles cmd/gdoc, skipping the test when it does not build.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gdoc")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gdoc/gdoc/cmd/gdoc").CombinedOutput()
	if err != nil {
		t.Skipf("SKIP: cmd/gdoc does not build, so the kill -9 test cannot run: %v\n%s", err, out)
	}
	return bin
}

type process struct {
	cmd *exec.Cmd
	url string
}

// start runs the server on a random local port over dataDir and waits
// for its "listening on" line.
func start(t *testing.T, bin, dataDir string, extraEnv []string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dataDir // no stray .env file
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"HOST=127.0.0.1", "PORT=0", "DATA_DIR=" + dataDir, "SECRET_KEY=" + secretKey,
		"AUTO_SAVE_INTERVAL=1",
	}, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case p.url = <-found:
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not report listening; stderr:\n%s", stderr.String())
	}
	return nil
}

func (p *process) kill() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func register(t *testing.T, base string) string {
	t.Helper()
	body := `{"username":"durable","email":"durable@example.com","password":"correct horse battery"}`
	resp, err := http.Post(base+"/api/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.AccessToken == "" {
		t.Fatalf("register: status %d, err %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// writer is an OT client (one op in flight, a buffer) that survives the
// server: its state persists across connections.
type writer struct {
	t     *testing.T
	token string
	doc   string

	conn     *websocket.Conn
	in       chan serverMsg
	text     string
	rev      int64
	seq      int
	inflight *sentOp
	buffer   ot.Op
	markers  []string         // every marker inserted, in order
	acked    map[string]int64 // op id -> rev
}

type sentOp struct {
	id  string
	op  ot.Op
	rev int64
}

type serverMsg struct {
	Type    string          `json:"type"`
	Rev     int64           `json:"rev"`
	ID      string          `json:"id"`
	Op      json.RawMessage `json:"op"`
	Content *string         `json:"content"`
	Ops     []serverMsg     `json:"ops"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

// connect joins the document (catching up with ?since= after the first
// time) and resends the op in flight.
func (w *writer) connect(base string, first bool) {
	w.t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws/" + w.doc
	if !first {
		u += fmt.Sprintf("?since=%d", w.rev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"gdoc.v1", "bearer." + w.token}})
	if err != nil {
		w.t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	w.conn, w.in = conn, make(chan serverMsg, 10000)
	go func(in chan serverMsg) {
		defer close(in)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m serverMsg
			if json.Unmarshal(data, &m) == nil {
				in <- m
			}
		}
	}(w.in)
	init, ok := <-w.in
	if !ok || init.Type != "init" {
		w.t.Fatalf("no init: %+v", init)
	}
	if first {
		w.text, w.rev = *init.Content, init.Rev
		return
	}
	if init.Content != nil {
		w.t.Fatalf("catch-up from %d gave the whole content (reset %v)", w.rev, init.Ops == nil)
	}
	for _, m := range init.Ops {
		w.serverOp(m)
	}
	if w.rev != init.Rev {
		w.t.Fatalf("caught up to %d, head is %d", w.rev, init.Rev)
	}
	if w.inflight != nil {
		w.inflight.rev = w.rev
		w.send()
	}
}

func (w *writer) send() {
	data, _ := json.Marshal(map[string]any{"type": "op", "rev": w.inflight.rev, "op": w.inflight.op, "id": w.inflight.id})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A failed write means the server died; reconnecting resends.
	_ = w.conn.Write(ctx, websocket.MessageText, data)
}

func (w *writer) edit(rng *rand.Rand, marker string) {
	n := len([]rune(w.text))
	pos := rng.IntN(n + 1)
	// Insert only between markers, never inside one.
	for pos > 0 && pos < n && []rune(w.text)[pos-1] != ']' {
		pos--
	}
	parts := []any{marker}
	if pos > 0 {
		parts = []any{pos, marker}
	}
	raw, _ := json.Marshal(parts)
	op, err := ot.Parse(raw)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.text, err = ot.Apply(w.text, op); err != nil {
		w.t.Fatal(err)
	}
	w.markers = append(w.markers, marker)
	if w.inflight == nil {
		w.seq++
		w.inflight = &sentOp{id: fmt.Sprintf("dur:%d", w.seq), op: op, rev: w.rev}
		w.send()
	} else if w.buffer == nil {
		w.buffer = op
	} else if w.buffer, err = ot.Compose(w.buffer, op); err != nil {
		w.t.Fatal(err)
	}
}

func (w *writer) serverOp(m serverMsg) {
	if m.Rev != w.rev+1 {
		w.t.Fatalf("op rev %d after %d", m.Rev, w.rev)
	}
	if w.inflight != nil && m.ID == w.inflight.id {
		w.ack(m.ID, m.Rev)
		return
	}
	w.t.Fatalf("an op from nobody else: %+v", m)
}

func (w *writer) ack(id string, rev int64) {
	if w.inflight == nil || id != w.inflight.id {
		if w.acked[id] != rev {
			w.t.Fatalf("unexpected ack %s rev %d", id, rev)
		}
		return // the resend of an op a catch-up already acknowledged
	}
	if rev != w.rev+1 {
		w.t.Fatalf("ack rev %d after %d", rev, w.rev)
	}
	w.acked[id], w.rev, w.inflight = rev, rev, nil
	if w.buffer != nil {
		w.seq++
		w.inflight = &sentOp{id: fmt.Sprintf("dur:%d", w.seq), op: w.buffer, rev: w.rev}
		w.buffer = nil
		w.send()
	}
}

// pump handles server messages until the connection ends or d passes,
// making an edit every few milliseconds when edit is set.
func (w *writer) pump(d time.Duration, rng *rand.Rand, edit func() string) (alive bool) {
	deadline := time.After(d)
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-w.in:
			if !ok {
				return false
			}
			switch m.Type {
			case "ack":
				w.ack(m.ID, m.Rev)
			case "op":
				w.serverOp(m)
			case "error":
				if m.Code != "unavailable" {
					w.t.Fatalf("error %s: %s", m.Code, m.Message)
				}
			}
		case <-tick.C:
			if edit != nil {
				w.edit(rng, edit())
			}
		case <-deadline:
			return true
		}
	}
}

func (w *writer) pending() bool { return w.inflight != nil || w.buffer != nil }

// TestKill9 edits through several SIGKILLs at random moments, on the
// embedded SQLite database: every acknowledged edit survives exactly once,
// and the document equals the client's replay of its edits.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: kill -9 rounds take a few seconds")
	}
	kill9(t, nil)
}

// TestKill9Postgres is TestKill9 on PostgreSQL (a fresh database of the
// server at TEST_DATABASE_URL).
func TestKill9Postgres(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: kill -9 rounds take a few seconds")
	}
	kill9(t, []string{"DATABASE_URL=" + freshDatabase(t)})
}

func kill9(t *testing.T, extraEnv []string) {
	bin := buildServer(t)
	dataDir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("random seed %d; data in %s", seed, dataDir)

	p := start(t, bin, dataDir, extraEnv)
	w := &writer{t: t, token: register(t, p.url), doc: "durable-doc", acked: map[string]int64{}}
	w.connect(p.url, true)
	const rounds = 8
	n := 0
	for round := range rounds {
		// Edit for a random while, then SIGKILL the server mid-stream.
		editFor := time.Duration(50+rng.IntN(400)) * time.Millisecond
		if !w.pump(editFor, rng, func() string { n++; return fmt.Sprintf("[%d.%d]", round, n) }) {
			t.Fatalf("round %d: the connection dropped before the kill", round)
		}
		p.kill()
		w.conn.CloseNow()
		for m := range w.in { // what arrived before the kill still counts
			switch m.Type {
			case "ack":
				w.ack(m.ID, m.Rev)
			case "op":
				w.serverOp(m)
			}
		}
		p = start(t, bin, dataDir, extraEnv)
		w.connect(p.url, false)
	}
	// Let everything pending commit.
	for i := 0; w.pending(); i++ {
		if i > 100 || !w.pump(100*time.Millisecond, rng, nil) {
			t.Fatalf("pending edits never acknowledged")
		}
	}
	// Restart once more, cleanly killed, and read the document back.
	p.kill()
	p = start(t, bin, dataDir, extraEnv)
	resp, err := http.Get(p.url + "/api/documents/" + w.doc)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Content string `json:"content"`
		Rev     int64  `json:"rev"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Content != w.text || doc.Rev != w.rev {
		t.Fatalf("after %d kills the server has rev %d %q; the client's replay is rev %d %q", rounds, doc.Rev, doc.Content, w.rev, w.text)
	}
	for _, m := range w.markers {
		if c := strings.Count(doc.Content, m); c != 1 {
			t.Fatalf("marker %s present %d times", m, c)
		}
	}
	if len(w.acked) == 0 || int64(len(w.acked)) != doc.Rev {
		t.Fatalf("%d acked ops for rev %d", len(w.acked), doc.Rev)
	}
	t.Logf("%d edits in %d ops survived %d kills", len(w.markers), doc.Rev, rounds)
}

// freshDatabase creates an empty database on the PostgreSQL server of
// TEST_DATABASE_URL, drops it when the test ends, and returns its URL.
// Without TEST_DATABASE_URL the test skips, except under CI=true, where it
// fails.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set (CI=true requires PostgreSQL), e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		}
		t.Skip("SKIP: TEST_DATABASE_URL is not set; PostgreSQL durability NOT tested. Set it, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("gdoc_durability_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
