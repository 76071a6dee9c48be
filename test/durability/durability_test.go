// Package durability kills the real server binary with SIGKILL while a client edits, restarts it on the same data, and checks that no acknowledged edit is lost or applied twice.
package durability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

const secretKey = "durability-test-secret-key-0123456789abcdef"

func TestMain(m *testing.M) { testenv.Main(m) }

// start runs the server binary on a random local port over dataDir.
func start(t *testing.T, dataDir string, extraEnv []string) *testenv.Server {
	t.Helper()
	return testenv.StartServer(t, "gdoc", dataDir, append([]string{"SECRET_KEY=" + secretKey, "AUTO_SAVE_INTERVAL=1"}, extraEnv...)...)
}

// writer is the only client of its document; its OT state survives the
// server, across connections.
type writer struct {
	t     *testing.T
	token string
	doc   string

	conn    *otclient.Conn
	in      chan *otclient.Message
	state   *otclient.State
	markers []string         // every marker inserted, in order
	acked   map[string]int64 // op id -> rev
}

// connect joins the document (catching up with ?since= after the first
// time) and resends the op in flight.
func (w *writer) connect(base string) {
	w.t.Helper()
	since := int64(-1)
	if w.state != nil {
		since = w.state.Rev
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, init, err := otclient.Dial(ctx, base, w.doc, w.token, since)
	if err != nil {
		w.t.Fatalf("dial: %v", err)
	}
	w.conn, w.in = conn, make(chan *otclient.Message, 10000)
	go func(in chan *otclient.Message) {
		defer close(in)
		for {
			m, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			in <- m
		}
	}(w.in)
	if w.state == nil {
		w.state = otclient.NewState("dur", *init.Content, init.Rev)
		return
	}
	if init.Content != nil {
		w.t.Fatalf("catch-up from %d gave the whole content (reset %v)", since, init.Ops == nil)
	}
	for _, m := range init.Ops {
		w.serverOp(&m)
	}
	if w.state.Rev != init.Rev {
		w.t.Fatalf("caught up to %d, head is %d", w.state.Rev, init.Rev)
	}
	w.send(w.state.Resend())
}

// send writes o when there is one. A failed write means the server died;
// reconnecting resends.
func (w *writer) send(o *otclient.Outgoing) {
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.conn.SendOp(ctx, o)
}

func (w *writer) edit(rng *rand.Rand, marker string) {
	text := []rune(w.state.Text())
	n := len(text)
	pos := rng.IntN(n + 1)
	// Insert only between markers, never inside one.
	for pos > 0 && pos < n && text[pos-1] != ']' {
		pos--
	}
	op := ot.Op{{Insert: marker}}
	if pos > 0 {
		op = ot.Op{{Skip: pos}, {Insert: marker}}
	}
	out, err := w.state.Edit(op)
	if err != nil {
		w.t.Fatal(err)
	}
	w.markers = append(w.markers, marker)
	w.send(out)
}

// serverOp handles an op of the document: only ever this writer's own,
// seen during catch-up.
func (w *writer) serverOp(m *otclient.Message) {
	if in := w.state.Inflight(); in == nil || m.ID != in.ID {
		w.t.Fatalf("an op from nobody else: %s", m.Raw)
	}
	w.ack(m.ID, m.Rev)
}

func (w *writer) ack(id string, rev int64) {
	if in := w.state.Inflight(); in == nil || id != in.ID {
		if w.acked[id] != rev {
			w.t.Fatalf("unexpected ack %s rev %d", id, rev)
		}
		return // the resend of an op a catch-up already acknowledged
	}
	next, err := w.state.Ack(id, rev)
	if err != nil {
		w.t.Fatal(err)
	}
	w.acked[id] = rev
	w.send(next)
}

// handle applies what a message means to the writer.
func (w *writer) handle(m *otclient.Message) {
	switch m.Type {
	case "ack":
		w.ack(m.ID, m.Rev)
	case "op":
		w.serverOp(m)
	case "error":
		if m.Code != "unavailable" {
			w.t.Fatalf("error %s: %s", m.Code, m.Text())
		}
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
			w.handle(m)
		case <-tick.C:
			if edit != nil {
				w.edit(rng, edit())
			}
		case <-deadline:
			return true
		}
	}
}

// drain handles the acks and ops that arrived before the connection
// ended, failing the test if it has not ended within limit (its reader
// closes w.in when a read fails, which CloseNow forces).
func (w *writer) drain(round int, limit time.Duration) {
	w.t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case m, ok := <-w.in:
			if !ok {
				return
			}
			if m.Type == "ack" || m.Type == "op" {
				w.handle(m)
			}
		case <-deadline:
			w.t.Fatalf("round %d: the killed server's connection still open after %v (client at rev %d, %d pending)", round, limit, w.state.Rev, w.state.Pending())
		}
	}
}

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
	kill9(t, []string{"DATABASE_URL=" + testenv.FreshDatabase(t)})
}

func kill9(t *testing.T, extraEnv []string) {
	dataDir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("random seed %d; data in %s", seed, dataDir)

	p := start(t, dataDir, extraEnv)
	w := &writer{t: t, token: testenv.Register(t, p.URL, "durable").Token, doc: "durable-doc", acked: map[string]int64{}}
	w.connect(p.URL)
	const rounds = 8
	n := 0
	for round := range rounds {
		// Edit for a random while, then SIGKILL the server mid-stream.
		editFor := time.Duration(50+rng.IntN(400)) * time.Millisecond
		if !w.pump(editFor, rng, func() string { n++; return fmt.Sprintf("[%d.%d]", round, n) }) {
			t.Fatalf("round %d: the connection dropped before the kill", round)
		}
		p.Kill()
		w.conn.CloseNow()
		w.drain(round, 10*time.Second) // what arrived before the kill still counts
		p = start(t, dataDir, extraEnv)
		w.connect(p.URL)
	}
	// Let everything pending commit.
	for i := 0; w.state.Pending() > 0; i++ {
		if i > 100 || !w.pump(100*time.Millisecond, rng, nil) {
			t.Fatalf("pending edits never acknowledged")
		}
	}
	// Restart once more, cleanly killed, and read the document back.
	p.Kill()
	p = start(t, dataDir, extraEnv)
	var doc struct {
		Content string `json:"content"`
		Rev     int64  `json:"rev"`
	}
	testenv.Call(t, "GET", p.URL+"/api/documents/"+w.doc, "", "").Decode(t, &doc)
	if doc.Content != w.state.Text() || doc.Rev != w.state.Rev {
		t.Fatalf("after %d kills the server has rev %d %q; the client's replay is rev %d %q", rounds, doc.Rev, doc.Content, w.state.Rev, w.state.Text())
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
