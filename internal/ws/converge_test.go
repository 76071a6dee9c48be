package ws_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/ot/ottest"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

// editor is a test OT client: otclient.State (the one-op-in-flight
// algorithm of ot.js and ShareDB) over a real connection, with reconnects
// that keep the op in flight and the buffer.
type editor struct {
	t        *testing.T
	s        *server
	doc      string
	username string
	name     string // client id, the prefix of op ids
	rng      *rand.Rand

	c       *client
	state   *otclient.State
	acked   map[string]int64 // op id -> rev, for the exactly-once check
	offline bool

	progressMu sync.Mutex
	progress   string // what the editor last did, for a scenario timeout's report
}

// note records the editor's state for other goroutines to report.
func (e *editor) note(phase string, made int) {
	e.progressMu.Lock()
	e.progress = fmt.Sprintf("%s: %s, %d edits made, %d pending, rev %d, text %q", e.name, phase, made, e.state.Pending(), e.state.Rev, e.state.Text())
	e.progressMu.Unlock()
}

func (e *editor) lastProgress() string {
	e.progressMu.Lock()
	defer e.progressMu.Unlock()
	if e.progress == "" {
		return e.name + ": not started"
	}
	return e.progress
}

func newEditor(t *testing.T, s *server, doc, username, name string, seed uint64) *editor {
	e := &editor{t: t, s: s, doc: doc, username: username, name: name, rng: rand.New(rand.NewPCG(seed, 7)), acked: map[string]int64{}}
	e.c = s.ot(doc, username)
	e.state = otclient.NewState(name, *e.c.init.Content, e.c.init.Rev)
	return e
}

func (e *editor) fail(format string, args ...any) {
	e.t.Errorf("%s: %s", e.name, fmt.Sprintf(format, args...))
	panic(errStop)
}

var errStop = fmt.Errorf("editor stopped")

// errAbandoned stops an editor quietly: the test has already failed and
// given up on the scenario, so the editor must not log any more.
var errAbandoned = fmt.Errorf("editor abandoned")

// edit applies a local edit and sends or buffers it.
func (e *editor) edit(op ot.Op) {
	out, err := e.state.Edit(op)
	if err != nil {
		e.fail("local edit %v on %q: %v", op, e.state.Text(), err)
	}
	e.send(out)
}

// send writes o, if any, unless offline (reconnect resends it).
func (e *editor) send(o *otclient.Outgoing) {
	if o == nil || e.offline {
		return
	}
	if err := e.c.trySend(map[string]any{"type": "op", "rev": o.Rev, "op": o.Op, "id": o.ID}); err != nil {
		e.fail("%v", err)
	}
}

// serverOp applies someone's committed op (or recognizes our own, after a
// reconnect, as the acknowledgement of the op in flight).
func (e *editor) serverOp(m msg) {
	if in := e.state.Inflight(); in != nil && m.id() == in.ID {
		e.ack(m.id(), m.Rev)
		return
	}
	op, err := ot.Parse(m.Op)
	if err != nil {
		e.fail("parse server op: %v", err)
	}
	if _, err := e.state.ServerOp(m.Rev, m.id(), op); err != nil {
		e.fail("server op %s: %v", m.raw, err)
	}
}

func (e *editor) ack(id string, rev int64) {
	if in := e.state.Inflight(); in == nil || id != in.ID {
		// The resend of an op that a reconnect already acknowledged: its
		// ack names the original revision, which we have.
		if prev, ok := e.acked[id]; !ok || prev != rev {
			e.fail("unexpected ack %s rev %d (acked before: %v %d)", id, rev, ok, prev)
		}
		return
	}
	next, err := e.state.Ack(id, rev)
	if err != nil {
		e.fail("%v", err)
	}
	e.acked[id] = rev
	e.send(next)
}

func (e *editor) handle(m msg) {
	switch m.Type {
	case "op":
		e.serverOp(m)
	case "ack":
		e.ack(m.id(), m.Rev)
	case "error":
		e.fail("server error %s", m.raw)
	}
}

// reconnect drops the connection abruptly (ops may be in flight), then
// joins again with ?since= and resends the op in flight with its id.
func (e *editor) reconnect() {
	e.c.conn.CloseNow()
	e.offline = true
	deadline := time.After(waitFor)
	for closed := false; !closed; {
		select {
		case m, ok := <-e.c.in:
			if closed = !ok; ok {
				e.handle(m)
			}
		case <-deadline:
			e.fail("connection still delivering %v after CloseNow", waitFor)
		}
	}
	e.offline = false
	c, _, err := e.s.dial(e.doc, dialOpts{query: fmt.Sprintf("since=%d", e.state.Rev), subprotocols: []string{"gdoc.v1", "bearer." + e.s.token(e.username)}})
	if err != nil {
		e.fail("reconnect: %v", err)
	}
	e.c = c
	if c.init.Content != nil || c.init.Rev < e.state.Rev {
		e.fail("catch-up init %s", c.init.raw)
	}
	for _, m := range c.init.Ops {
		e.serverOp(m)
	}
	if e.state.Rev != c.init.Rev {
		e.fail("after catch-up at rev %d, init says %d", e.state.Rev, c.init.Rev)
	}
	e.send(e.state.Resend())
}

// TestConvergenceOT: 8 OT clients (4 users, two tabs each) type random
// edits concurrently, dropping and resuming connections with ops in flight.
// Every replica, the live document and the stored log end up equal, and
// every acknowledged op is in the log exactly once.
func TestConvergenceOT(t *testing.T) {
	s := newServer(t, nil)
	const doc, clients, edits = "converge", 8, 60
	eds := make([]*editor, clients)
	for i := range eds {
		eds[i] = newEditor(t, s, doc, fmt.Sprintf("user%d", i/2), fmt.Sprintf("c%d", i), uint64(i+1))
	}
	runEditors(t, s, doc, eds, edits, func() {})
	text, rev := s.current(doc)
	storedText, storedRev := s.stored(doc)
	if storedText != text || storedRev != rev {
		t.Fatalf("stored %d %q != live %d %q", storedRev, storedText, rev, text)
	}
	for _, e := range eds {
		if e.state.Text() != text || e.state.Rev != rev {
			t.Errorf("%s at rev %d has %q; document at rev %d has %q", e.name, e.state.Rev, e.state.Text(), rev, text)
		}
	}
	if t.Failed() {
		return
	}
	// Exactly once: every acked id appears once in the log, at its rev.
	ops, err := s.Store.Ops(t.Context(), doc, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for _, o := range ops {
		if _, dup := seen[o.OpID]; dup {
			t.Fatalf("op %s committed twice", o.OpID)
		}
		seen[o.OpID] = o.Rev
	}
	total := 0
	for _, e := range eds {
		for id, r := range e.acked {
			total++
			if seen[id] != r {
				t.Fatalf("acked op %s rev %d; log has it at %d", id, r, seen[id])
			}
		}
	}
	if total < clients || int64(len(ops)) != rev {
		t.Fatalf("%d acked ops, %d in the log, rev %d", total, len(ops), rev)
	}
}

// runEditors runs each editor in a goroutine of its own, typing edits
// random edits. Once all are acknowledged it calls settle, has every editor
// catch up to the head revision, and returns when every editor has
// stopped. Each phase is bounded by scenarioLimit, and an editor that died
// early (having reported why) never holds the others up.
func runEditors(t *testing.T, s *server, doc string, eds []*editor, edits int, settle func()) {
	t.Helper()
	var editing sync.WaitGroup
	// Buffered so that handing out the head revision never waits for an
	// editor that has already stopped.
	finalRev := make(chan int64, len(eds))
	abandon := make(chan struct{}) // closed if this function exits early
	var running sync.WaitGroup
	for _, e := range eds {
		editing.Add(1)
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() {
				if p := recover(); p != nil && p != errStop && p != errAbandoned {
					panic(p)
				}
			}()
			e.run(edits, &editing, finalRev, abandon)
		}()
	}
	stopped := waitGroupDone(&running)
	states := func() string {
		var b strings.Builder
		for _, e := range eds {
			b.WriteString("  " + e.lastProgress() + "\n")
		}
		return b.String()
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		// A phase failed the test: stop the editors and wait for them, so
		// that none logs after the test has ended.
		close(abandon)
		if !receivedWithin(stopped, 2*waitFor+time.Second) {
			t.Errorf("editors did not stop after the scenario was abandoned:\n%s", states())
		}
	}()
	waitWithin(t, waitGroupDone(&editing), scenarioLimit, "every editor's edits to be acknowledged", states)
	settle()
	_, head := s.current(doc)
	for range eds {
		finalRev <- head
	}
	waitWithin(t, stopped, scenarioLimit, fmt.Sprintf("every editor to catch up to rev %d", head), states)
	finished = true
}

func (e *editor) run(edits int, editing *sync.WaitGroup, finalRev <-chan int64, abandon <-chan struct{}) {
	doneEditing := false
	finish := func() {
		if !doneEditing {
			doneEditing = true
			editing.Done()
		}
	}
	defer finish()
	tick := time.NewTicker(time.Duration(2+e.rng.IntN(4)) * time.Millisecond)
	defer tick.Stop()
	made := 0
	for made < edits || e.state.Pending() > 0 {
		e.note("editing", made)
		select {
		case <-abandon:
			panic(errAbandoned)
		case m, ok := <-e.c.in:
			if !ok {
				e.fail("connection lost: %v", e.c.err)
			}
			e.handle(m)
		case <-tick.C:
			if made >= edits {
				continue
			}
			e.edit(ottest.RandomOp(e.rng, e.state.Text()))
			made++
			if e.rng.IntN(25) == 0 {
				e.reconnect()
			}
		case <-time.After(waitFor):
			e.fail("stuck with %d edits made, in flight %v", made, e.state.Inflight() != nil)
		}
	}
	finish()
	e.note("waiting for the head revision", made)
	var target int64
	select {
	case target = <-finalRev:
	case <-abandon:
		panic(errAbandoned)
	}
	for e.state.Rev < target {
		e.note(fmt.Sprintf("catching up to rev %d", target), made)
		select {
		case <-abandon:
			panic(errAbandoned)
		case m, ok := <-e.c.in:
			if !ok {
				e.fail("connection lost: %v", e.c.err)
			}
			e.handle(m)
		case <-time.After(waitFor):
			e.fail("stuck at rev %d of %d", e.state.Rev, target)
		}
	}
}

// seedClient is a seed-dialect client: it sends its whole text and
// replaces it with every update it receives, as the seed's frontend does.
type seedClient struct {
	c    *client
	mu   sync.Mutex
	text string
	done chan struct{}
}

func newSeedClient(s *server, doc, username string) *seedClient {
	sc := &seedClient{c: s.seed(doc, username), done: make(chan struct{})}
	sc.text = *sc.c.init.Content
	go func() {
		defer close(sc.done)
		for m := range sc.c.in {
			if m.Type == "update" {
				sc.mu.Lock()
				sc.text = m.Data.Content
				sc.mu.Unlock()
			}
		}
	}()
	return sc
}

// set edits the client's text and sends it; it is safe to call from any
// goroutine and returns the send's error for the caller to report.
func (sc *seedClient) set(edit func(string) string) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.text = edit(sc.text)
	return sc.c.trySend(map[string]any{"type": "update", "data": map[string]string{"content": sc.text}, "timestamp": float64(time.Now().UnixMilli()) / 1000})
}

// runSeedWriters runs write(i, sc) for each seed client in a goroutine of
// its own; the returned wait blocks until all return, for at most
// scenarioLimit, and fails the test with each writer's error.
func runSeedWriters(t *testing.T, seeds []*seedClient, write func(i int, sc *seedClient) error) (wait func()) {
	var wg sync.WaitGroup
	errs := make([]error, len(seeds))
	for i, sc := range seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(i, sc)
		}()
	}
	return func() {
		t.Helper()
		waitWithin(t, waitGroupDone(&wg), scenarioLimit, "seed clients to send their updates", func() string {
			var b strings.Builder
			for i, sc := range seeds {
				fmt.Fprintf(&b, "  seed client %d: %q\n", i, sc.get())
			}
			return b.String()
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("seed client %d: %v", i, err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func (sc *seedClient) get() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.text
}

// waitConverged waits until every seed client and OT editor shows the
// document's current text, which must also be what the store holds.
func waitConverged(t *testing.T, s *server, doc string, seeds []*seedClient) string {
	t.Helper()
	var text string
	defer func() {
		if t.Failed() {
			for i, sc := range seeds {
				t.Logf("seed client %d: %q (live text %q)", i, sc.get(), text)
			}
		}
	}()
	testenv.Eventually(t, waitFor, "every seed client showing the live text", func() bool {
		text, _ = s.current(doc)
		for _, sc := range seeds {
			if sc.get() != text {
				return false
			}
		}
		return true
	})
	if stored, _ := s.stored(doc); stored != text {
		t.Fatalf("stored %q != live %q", stored, text)
	}
	return text
}

// TestSeedLoadPattern is the seed README's load test: 10 seed clients
// (one account, as in the README) each send 100 whole-text updates.
func TestSeedLoadPattern(t *testing.T) {
	s := newServer(t, nil)
	const doc = "test-doc"
	seeds := make([]*seedClient, 10)
	for i := range seeds {
		seeds[i] = newSeedClient(s, doc, "loadtester")
	}
	wait := runSeedWriters(t, seeds, func(i int, sc *seedClient) error {
		for n := range 100 {
			if err := sc.set(func(string) string { return fmt.Sprintf("Test %d from user user_%d", n, i) }); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	wait()
	text := waitConverged(t, s, doc, seeds)
	// Concurrent whole-text updates merge character by character; what
	// matters is that everyone ends on the same text.
	if !strings.HasPrefix(text, "Test ") {
		t.Fatalf("final text %q", text)
	}
	if _, rev := s.current(doc); rev < 100 {
		t.Fatalf("only %d revisions for 1000 updates", rev)
	}
}

// TestMixedDialects: seed and OT clients edit one document together; each
// sees the others' edits and all converge.
func TestMixedDialects(t *testing.T) {
	s := newServer(t, nil)
	const doc = "mixed"
	seeds := []*seedClient{newSeedClient(s, doc, "seed1"), newSeedClient(s, doc, "seed2")}
	eds := []*editor{newEditor(t, s, doc, "ot1", "o1", 11), newEditor(t, s, doc, "ot2", "o2", 12)}

	wait := runSeedWriters(t, seeds, func(i int, sc *seedClient) error {
		rng := rand.New(rand.NewPCG(uint64(100+i), 1))
		for n := range 40 {
			marker := fmt.Sprintf("<s%d.%d>", i, n)
			err := sc.set(func(text string) string {
				r := []rune(text)
				at := rng.IntN(len(r) + 1)
				return string(r[:at]) + marker + string(r[at:])
			})
			if err != nil {
				return err
			}
			time.Sleep(3 * time.Millisecond)
		}
		return nil
	})
	var text string
	runEditors(t, s, doc, eds, 40, func() {
		wait()
		text = waitConverged(t, s, doc, seeds)
	})
	for _, e := range eds {
		if e.state.Text() != text {
			t.Errorf("OT client %s has %q, want %q", e.name, e.state.Text(), text)
		}
	}
	// Whole-text updates that cross others' edits in flight are merged by
	// guessing their base (docs/protocol.md, "Seed dialect"), so only
	// convergence is asserted here; TestSeedExchange and
	// TestSeedCrossedUpdate check exact merges.
	if text == "" {
		t.Fatalf("empty final text")
	}

}

// TestSeedExchange: a seed client's whole text becomes an op that OT
// clients receive exactly; an OT op reaches seed clients as the merged
// whole text; the seed sender hears about its own edit only when merging
// changed it.
func TestSeedExchange(t *testing.T) {
	s := newServer(t, nil)
	o := s.ot("exchange", "otuser")
	sd := s.seed("exchange", "seeduser")
	o.until("seeduser joined", func(m msg) bool { return m.Type == "user_joined" })

	sd.send(`{"type":"update","data":{"content":"hello 😀 world"},"timestamp":1}`)
	op := o.next("op")
	if op.Rev != 1 || string(op.Op) != `["hello 😀 world"]` || op.Username != "seeduser" {
		t.Fatalf("op %s", op.raw)
	}
	sd.send(`{"type":"update","data":{"content":"hello 😀 brave world"},"timestamp":2}`)
	if op := o.next("op"); op.Rev != 2 || string(op.Op) != `[8,"brave "]` {
		t.Fatalf("minimal op %s", op.raw)
	}
	if extra := sd.roundTrip(); len(extra) != 0 {
		t.Fatalf("seed sender got %s for its own unmerged edit", extra[0].raw)
	}
	o.send(`{"type":"op","rev":2,"op":[19,"!"],"id":"o:1"}`)
	o.next("ack")
	up := sd.next("update")
	if up.Data.Content != "hello 😀 brave world!" || up.UserID != s.user("otuser").ID || up.Username != "otuser" || up.Timestamp < 1e9 {
		t.Fatalf("update %s", up.raw)
	}
	if text, rev := s.current("exchange"); text != "hello 😀 brave world!" || rev != 3 {
		t.Fatalf("document %q rev %d", text, rev)
	}
}

// TestSeedCrossedUpdate: a seed client's update made before it received
// someone else's change is merged with that change, not written over it.
func TestSeedCrossedUpdate(t *testing.T) {
	s := newServer(t, nil)
	o := s.ot("crossed", "otuser")
	sd := s.seed("crossed", "seeduser")
	o.until("seeduser joined", func(m msg) bool { return m.Type == "user_joined" })
	sd.send(`{"type":"update","data":{"content":"alpha beta"}}`)
	o.next("op")
	// The OT client appends; the seed client, which has not read that yet,
	// edits the front of its old text.
	o.send(`{"type":"op","rev":1,"op":[10," gamma"],"id":"o:1"}`)
	o.next("ack")
	sd.send(`{"type":"update","data":{"content":"ALPHA beta"}}`)
	want := "ALPHA beta gamma"
	up := sd.until("merged update", func(m msg) bool { return m.Type == "update" && m.Data.Content == want })
	if up.Data.Content != want {
		t.Fatalf("update %s", up.raw)
	}
	if op := o.next("op"); op.Username != "seeduser" || string(op.Op) != `[{"d":5},"ALPHA"]` {
		t.Fatalf("op %s", op.raw)
	}
	if text, _ := s.current("crossed"); text != want {
		t.Fatalf("document %q, want %q", text, want)
	}
}
