package multiinstance_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

// presenceBound is the documented bound (docs/architecture.md) within which
// the connections of a crashed instance disappear from presence: the
// heartbeat TTL of internal/redis. userLeftBound adds the interval at which
// each instance re-reads presence to tell its clients (internal/collab).
const (
	presenceBound = 15 * time.Second
	userLeftBound = presenceBound + 5*time.Second
)

// editing runs editors typing n markers each and returns a function that
// waits for them all to finish and converge.
type editing struct {
	t       *testing.T
	editors []*editor
	n       int
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

func startEditing(t *testing.T, editors []*editor, n int) *editing {
	ctx, cancel := context.WithCancel(context.Background())
	ed := &editing{t: t, editors: editors, n: n, cancel: cancel}
	for _, e := range editors {
		ed.wg.Add(1)
		go func() {
			defer ed.wg.Done()
			if err := e.run(ctx, n); err != nil {
				ed.mu.Lock()
				ed.errs = append(ed.errs, fmt.Errorf("editor %s: %w", e.name, err))
				ed.mu.Unlock()
			}
		}()
	}
	t.Cleanup(ed.stop)
	return ed
}

// stopLimit bounds how long editors may take to return once their context
// is canceled: each blocking call they make honors it, so reaching this
// is a bug, reported instead of hanging CI.
const stopLimit = 30 * time.Second

// stop cancels the editors and waits for every one to return, failing the
// test with their states if some has not within stopLimit.
func (ed *editing) stop() {
	ed.t.Helper()
	ed.cancel()
	returned := make(chan struct{})
	go func() { ed.wg.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(stopLimit):
		for _, e := range ed.editors {
			rev, text, pending := e.snapshot()
			ed.t.Logf("editor %s: rev %d, %d pending, %d bytes of text", e.name, rev, pending, len(text))
		}
		ed.t.Fatalf("editors still running %v after their context was canceled", stopLimit)
	}
}

func (ed *editing) failed() error {
	ed.mu.Lock()
	defer ed.mu.Unlock()
	if len(ed.errs) > 0 {
		return ed.errs[0]
	}
	return nil
}

// typedAtLeast waits until every editor has typed k markers.
func (ed *editing) typedAtLeast(k int) {
	ed.t.Helper()
	waitFor(ed.t, 60*time.Second, fmt.Sprintf("every editor to type %d markers", k), func() (bool, error) {
		for _, e := range ed.editors {
			e.mu.Lock()
			typed := len(e.typed)
			e.mu.Unlock()
			if typed < k {
				return false, ed.failed()
			}
		}
		return true, ed.failed()
	})
}

// converge waits until every editor typed everything, has nothing
// pending, and sits at the server's head revision with the server's text
// (read through every base URL); then it checks that every marker typed
// is in the text exactly once. It returns the final text and revision.
func (ed *editing) converge(docID string, baseURLs []string) (string, int64) {
	t := ed.t
	t.Helper()
	var text string
	var rev int64
	defer func() {
		if t.Failed() {
			ed.describe(docID, baseURLs)
		}
	}()
	waitFor(t, 30*time.Second, "editors to finish and converge", func() (bool, error) {
		if err := ed.failed(); err != nil {
			return false, err
		}
		for _, e := range ed.editors {
			if !e.done(ed.n) {
				return false, nil
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var first *restDocument
		for _, base := range baseURLs {
			doc, err := fetchDocument(ctx, base, docID)
			if err != nil {
				return false, nil // an instance may be restarting its Redis link
			}
			if first == nil {
				first = doc
			} else if doc.Rev != first.Rev || doc.Content != first.Content {
				return false, nil
			}
		}
		for _, e := range ed.editors {
			eRev, eText, _ := e.snapshot()
			if eRev != first.Rev || eText != first.Content {
				return false, nil
			}
		}
		text, rev = first.Content, first.Rev
		return true, nil
	})
	ed.stop()
	if err := ed.failed(); err != nil {
		t.Fatal(err)
	}

	counts, err := markerCounts(text)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range ed.editors {
		e.mu.Lock()
		for _, m := range e.typed {
			if !e.acked[m] {
				t.Errorf("editor %s: marker %s never acknowledged", e.name, m)
			}
			if counts[m] != 1 {
				t.Errorf("editor %s: marker %s appears %d times in the final text, want exactly once", e.name, m, counts[m])
			}
			total++
		}
		e.mu.Unlock()
	}
	if len(counts) != total {
		t.Errorf("final text holds %d distinct markers, %d were typed", len(counts), total)
	}
	return text, rev
}

// describe logs each editor's and each server's view, to explain a
// failure to converge.
func (ed *editing) describe(docID string, baseURLs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, base := range baseURLs {
		doc, err := fetchDocument(ctx, base, docID)
		if err != nil {
			ed.t.Logf("server %s: %v", base, err)
			continue
		}
		ed.t.Logf("server %s: rev %d, %d bytes", base, doc.Rev, len(doc.Content))
	}
	for _, e := range ed.editors {
		e.mu.Lock()
		rev, pending, inflight := int64(-1), 0, ""
		if e.state != nil {
			rev, pending = e.state.Rev, e.state.Pending()
			if o := e.state.Inflight(); o != nil {
				inflight = fmt.Sprintf("%s@%d", o.ID, o.Rev)
			}
		}
		ed.t.Logf("editor %s on %s: rev %d, typed %d, pending %d (in flight %s), reconnects %d, unavailable %d",
			e.name, e.connectedTo, rev, len(e.typed), pending, inflight, e.reconnects, e.unavailable)
		e.mu.Unlock()
	}
}

// checkOpLog checks that the PostgreSQL op log of docID holds revisions
// 1..head exactly, each once, with unique op ids.
func checkOpLog(t *testing.T, dbURL, docID string, head int64) {
	t.Helper()
	revs, ids := opLogRevisions(t, dbURL, docID)
	if int64(len(revs)) != head {
		t.Fatalf("op log holds %d ops, head revision is %d", len(revs), head)
	}
	for i, rev := range revs {
		if rev != int64(i+1) {
			t.Fatalf("op log revision #%d is %d: gap or duplicate (revs %v…)", i+1, rev, revs[:min(len(revs), i+3)])
		}
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		if seen[id] {
			t.Fatalf("op id %s committed twice", id)
		}
		seen[id] = true
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("while waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func urlsOf(insts []*testenv.Server) []string {
	var out []string
	for _, inst := range insts {
		out = append(out, inst.URL)
	}
	return out
}

// TestThreeInstancesBehindNginx runs one cluster (three instances, nginx in
// front) through its scenarios in order; the crash comes last.
func TestThreeInstancesBehindNginx(t *testing.T) {
	testenv.Tool(t, nginxPath)
	c := newCluster(t, sharedRedis(t))
	c.startInstances(3)
	c.startNginx()

	t.Run("ConcurrentEditorsConvergeAndOpLogIsGapFree", func(t *testing.T) {
		// Many clients on two instances hammer one document, plus some on
		// the third and through nginx: every revision is committed once, in
		// order, whichever instance received the op.
		owner := register(t, c.lbURL, "owner")
		docID := createDocument(t, c.lbURL, owner, "contention")
		var editors []*editor
		for i := range 8 {
			u := register(t, c.lbURL, fmt.Sprintf("ed%d", i))
			var urls []string
			switch {
			case i < 3:
				urls = []string{c.instances[0].URL}
			case i < 6:
				urls = []string{c.instances[1].URL}
			case i < 7:
				urls = []string{c.instances[2].URL}
			default:
				urls = []string{c.lbURL}
			}
			editors = append(editors, newEditor(fmt.Sprintf("e%d", i), u.Token, docID, urls...))
		}
		ed := startEditing(t, editors, 40)
		_, head := ed.converge(docID, append(urlsOf(c.instances), c.lbURL))
		unavailable := 0
		for _, e := range editors {
			unavailable += e.unavailable
		}
		// Buffered edits compose, so there are fewer revisions than
		// markers; "unavailable" answers are commits that lost the race
		// too often and were resent.
		t.Logf("head revision %d for %d markers; %d ops resent after \"unavailable\"", head, 8*40, unavailable)
		checkOpLog(t, c.dbURL, docID, head)
	})

	t.Run("ChatAndPresenceCrossInstances", func(t *testing.T) {
		alice := register(t, c.lbURL, "alice")
		bob := register(t, c.lbURL, "bob")
		docID := createDocument(t, c.lbURL, alice, "chat")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		aConn, _ := join(t, ctx, c.instances[0].URL, docID, alice)
		bConn, bInit := join(t, ctx, c.instances[1].URL, docID, bob)

		// Bob's init, on instance 1, already lists alice, who is on 0.
		if others := bInit.ActiveUsers; len(others) != 1 || others[0] != alice.ID {
			t.Fatalf("bob's init lists active_users %v, want [%s]", others, alice.ID)
		}
		if joined := readUntil(t, ctx, aConn, "user_joined"); joined.UserID != bob.ID || joined.Username != bob.Username {
			t.Fatalf("alice got %s, want user_joined for bob %s", joined.Raw, bob.ID)
		}
		// The third instance, which has neither connection, lists both.
		waitFor(t, 5*time.Second, "instance 2 to list alice and bob", func() (bool, error) {
			users, err := activeUsers(ctx, c.instances[2].URL, docID)
			return err == nil && sameIDs(users, alice.ID, bob.ID), nil
		})

		if err := aConn.Send(ctx, map[string]any{"type": "chat", "message": "hello across instances", "client_msg_id": "m1"}); err != nil {
			t.Fatal(err)
		}
		chat := readUntil(t, ctx, bConn, "chat")
		if id, err := strconv.ParseInt(chat.ID, 10, 64); chat.Text() != "hello across instances" || chat.UserID != alice.ID || err != nil || id <= 0 {
			t.Fatalf("bob received chat %s", chat.Raw)
		}
		// The sender gets its ack with the stored id, not its own message.
		ack := readUntil(t, ctx, aConn, "chat_ack", "chat")
		if ack.Type != "chat_ack" || ack.ClientMsgID != "m1" || ack.ID != chat.ID {
			t.Fatalf("alice received %s, want chat_ack for m1 with id %s", ack.Raw, chat.ID)
		}

		bConn.Close()
		if left := readUntil(t, ctx, aConn, "user_left"); left.UserID != bob.ID {
			t.Fatalf("alice got %s, want user_left for bob", left.Raw)
		}
		waitFor(t, 5*time.Second, "instance 2 to list only alice", func() (bool, error) {
			users, err := activeUsers(ctx, c.instances[2].URL, docID)
			return err == nil && sameIDs(users, alice.ID), nil
		})
	})

	t.Run("SeedDialectAcrossInstances", func(t *testing.T) {
		// The seed's flow: a whole-text update on one backend reaches a
		// seed client on another as an update with the new text.
		alice := register(t, c.lbURL, "seedalice")
		bob := register(t, c.lbURL, "seedbob")
		docID := createDocument(t, c.lbURL, alice, "seed")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		aConn, _ := joinSeed(t, ctx, c.instances[0].URL, docID, alice)
		bConn, _ := joinSeed(t, ctx, c.instances[1].URL, docID, bob)
		text := "def main():\n    print('héllo 😀')\n"
		if err := aConn.Send(ctx, map[string]any{"type": "update", "data": map[string]any{"content": text}, "timestamp": 1}); err != nil {
			t.Fatal(err)
		}
		update := readUntil(t, ctx, bConn, "update")
		if update.UserID != alice.ID || update.Data == nil || update.Data.Content != text {
			t.Fatalf("bob on instance 1 received %s, want alice's update with %q", update.Raw, text)
		}
		waitFor(t, 5*time.Second, "instance 2 to serve the new text", func() (bool, error) {
			doc, err := fetchDocument(ctx, c.instances[2].URL, docID)
			return err == nil && doc.Content == text && doc.Rev == 1, nil
		})
	})

	t.Run("KillOneInstanceMidEdit", func(t *testing.T) {
		victim := c.instances[2]
		survivors := c.instances[:2]
		owner := register(t, c.lbURL, "owner")
		docID := createDocument(t, c.lbURL, owner, "crash")

		// A user only on the victim who never reconnects: presence must
		// drop them within the bound.
		ghost := register(t, c.lbURL, "ghost")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		join(t, ctx, victim.URL, docID, ghost)

		var editors []*editor
		for i := range 6 {
			u := register(t, c.lbURL, fmt.Sprintf("k%d", i))
			var urls []string
			switch {
			case i < 3: // on the victim; after the crash, through nginx
				urls = []string{victim.URL, c.lbURL}
			case i < 5:
				urls = []string{survivors[i%2].URL}
			default:
				urls = []string{c.lbURL}
			}
			editors = append(editors, newEditor(fmt.Sprintf("k%d", i), u.Token, docID, urls...))
		}
		waitFor(t, 10*time.Second, "the ghost to be listed", func() (bool, error) {
			users, err := activeUsers(ctx, survivors[0].URL, docID)
			return err == nil && hasID(users, ghost.ID), nil
		})
		// An observer on a survivor, reading all along, must be told the
		// ghost left.
		observer := register(t, c.lbURL, "observer")
		obsConn, _ := join(t, ctx, survivors[0].URL, docID, observer)
		ghostLeft := make(chan time.Time, 1)
		go func() {
			for {
				m, err := obsConn.Read(ctx)
				if err != nil {
					return
				}
				if m.Type == "user_left" && m.UserID == ghost.ID {
					ghostLeft <- time.Now()
					return
				}
			}
		}()

		ed := startEditing(t, editors, 40)
		ed.typedAtLeast(15)
		victim.Stop(syscall.SIGKILL)
		killedAt := time.Now()

		_, head := ed.converge(docID, append(urlsOf(survivors), c.lbURL))
		checkOpLog(t, c.dbURL, docID, head)
		moved := 0
		for _, e := range editors[:3] {
			if e.reconnects > 0 && e.connectedTo == c.lbURL {
				moved++
			}
		}
		if moved != 3 {
			t.Fatalf("%d of the victim's 3 editors reconnected through nginx", moved)
		}

		waitFor(t, presenceBound+5*time.Second, "the ghost to leave presence", func() (bool, error) {
			users, err := activeUsers(ctx, survivors[0].URL, docID)
			return err == nil && !hasID(users, ghost.ID), nil
		})
		if gone := time.Since(killedAt); gone > presenceBound+2*time.Second {
			t.Fatalf("the crashed instance's user stayed listed %s, bound is %s", gone, presenceBound)
		}
		select {
		case at := <-ghostLeft:
			if gone := at.Sub(killedAt); gone > userLeftBound+2*time.Second {
				t.Fatalf("user_left for the crashed instance's user came after %s, bound is %s", gone, userLeftBound)
			}
		case <-time.After(userLeftBound + 2*time.Second - time.Since(killedAt)):
			t.Fatalf("the observer never received user_left for the crashed instance's user (bound %s)", userLeftBound)
		}
	})

	t.Run("SigtermOneInstanceMidEdit", func(t *testing.T) {
		// A rolling restart: the stopped instance closes its sockets with
		// "going away", its clients move through nginx, nothing is lost,
		// and its users leave presence at once.
		leaving, staying := c.instances[1], c.instances[0]
		owner := register(t, c.lbURL, "owner")
		docID := createDocument(t, c.lbURL, owner, "rolling")
		var editors []*editor
		for i := range 4 {
			u := register(t, c.lbURL, fmt.Sprintf("s%d", i))
			urls := []string{staying.URL}
			if i < 2 {
				urls = []string{leaving.URL, c.lbURL}
			}
			editors = append(editors, newEditor(fmt.Sprintf("s%d", i), u.Token, docID, urls...))
		}
		// An idle user only on the leaving instance, who does not come back.
		idle := register(t, c.lbURL, "idle")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		idleConn, _ := join(t, ctx, leaving.URL, docID, idle)
		waitFor(t, 5*time.Second, "the idle user to be listed", func() (bool, error) {
			users, err := activeUsers(ctx, staying.URL, docID)
			return err == nil && hasID(users, idle.ID), nil
		})
		idleClosed := make(chan websocket.StatusCode, 1)
		go func() {
			for {
				if _, err := idleConn.Read(ctx); err != nil {
					idleClosed <- websocket.CloseStatus(err)
					return
				}
			}
		}()

		ed := startEditing(t, editors, 40)
		ed.typedAtLeast(15)
		sigtermAt := time.Now()
		leaving.Stop(syscall.SIGTERM)
		stoppedAt := time.Now()
		t.Logf("the instance exited %s after SIGTERM", stoppedAt.Sub(sigtermAt).Round(time.Millisecond))
		if leaving.WaitErr() != nil {
			t.Fatalf("instance stopped by SIGTERM exited with %v", leaving.WaitErr())
		}
		_, head := ed.converge(docID, []string{staying.URL, c.lbURL})
		checkOpLog(t, c.dbURL, docID, head)
		for _, e := range editors[:2] {
			if e.reconnects == 0 || e.connectedTo != c.lbURL {
				t.Fatalf("editor %s did not move through nginx (reconnects %d, on %s)", e.name, e.reconnects, e.connectedTo)
			}
		}
		if code := <-idleClosed; code != websocket.StatusGoingAway {
			t.Fatalf("the stopped instance closed a socket with %d, want 1001 going away", code)
		}
		// Well inside the crash bound: a graceful stop removes presence.
		waitFor(t, 3*time.Second, "the idle user to leave presence", func() (bool, error) {
			users, err := activeUsers(ctx, staying.URL, docID)
			return err == nil && !hasID(users, idle.ID), nil
		})
		if gone := time.Since(stoppedAt); gone >= presenceBound {
			t.Fatalf("after a graceful stop the user stayed listed %s, as long as after a crash", gone)
		}
	})
}

// TestRedisRestartMidEdit runs two instances on a Redis of their own, kills
// that Redis mid-edit and starts it again on the same port: the instances
// resubscribe, catch up from the op log, and every client converges.
func TestRedisRestartMidEdit(t *testing.T) {
	redisServer := testenv.Tool(t, redisServerPath)
	dir := t.TempDir()
	port := freePort(t)
	startRedis := func() *testenv.Process {
		cmd := exec.Command(redisServer, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir)
		p := testenv.StartProcess(t, "redis", cmd, nil)
		waitFor(t, 10*time.Second, "redis-server to accept connections", func() (bool, error) {
			if !p.Alive() {
				return false, fmt.Errorf("redis-server exited:\n%s", p.Tail(20))
			}
			return redisAnswers(port), nil
		})
		return p
	}
	redisProc := startRedis()

	c := newCluster(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	c.startInstances(2)
	owner := register(t, c.instances[0].URL, "owner")
	docID := createDocument(t, c.instances[0].URL, owner, "redis-restart")
	var editors []*editor
	for i := range 4 {
		u := register(t, c.instances[0].URL, fmt.Sprintf("r%d", i))
		editors = append(editors, newEditor(fmt.Sprintf("r%d", i), u.Token, docID, c.instances[i%2].URL))
	}
	// One idle user on each instance, connected through the outage (they
	// read and discard, so they are never slow consumers).
	idleCtx, stopIdle := context.WithCancel(context.Background())
	defer stopIdle()
	var idleIDs []string
	for i, inst := range c.instances {
		u := register(t, inst.URL, fmt.Sprintf("idle%d", i))
		conn, _ := join(t, idleCtx, inst.URL, docID, u)
		go func() {
			for {
				if _, err := conn.Read(idleCtx); err != nil {
					return
				}
			}
		}()
		idleIDs = append(idleIDs, u.ID)
	}
	ed := startEditing(t, editors, 40)
	ed.typedAtLeast(10)
	redisProc.Stop(syscall.SIGKILL)
	time.Sleep(time.Second) // editing goes on without fan-out
	startRedis()
	_, head := ed.converge(docID, urlsOf(c.instances))
	checkOpLog(t, c.dbURL, docID, head)

	// The restarted Redis is empty: each instance writes its connections
	// again within a heartbeat (5 s), so both idle users, connected all
	// along, are listed again by both instances (the editors have left).
	waitFor(t, 12*time.Second, "presence to be rebuilt after the Redis restart", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, inst := range c.instances {
			users, err := activeUsers(ctx, inst.URL, docID)
			if err != nil || !sameIDs(users, idleIDs...) {
				return false, nil
			}
		}
		return true, nil
	})

	// Fan-out works again: a new edit on one instance reaches a client of
	// the other promptly, without waiting for a conflict to force catch-up.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watcher := register(t, c.instances[1].URL, "watcher")
	wConn, wInit := join(t, ctx, c.instances[1].URL, docID, watcher)
	writer := register(t, c.instances[0].URL, "writer")
	wr, _ := join(t, ctx, c.instances[0].URL, docID, writer)
	if err := wr.SendOp(ctx, &otclient.Outgoing{Rev: wInit.Rev, ID: "writer:1", Op: mustInsertAt0("[after-restart]")}); err != nil {
		t.Fatal(err)
	}
	op := readUntil(t, ctx, wConn, "op")
	if op.Rev != wInit.Rev+1 || op.ID != "writer:1" {
		t.Fatalf("watcher on the other instance received %s, want rev %d id writer:1", op.Raw, wInit.Rev+1)
	}
}

func redisAnswers(port int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(port), "ping").Output()
	if err == nil {
		return string(out) == "PONG\n"
	}
	// No redis-cli: fall back to a TCP connect.
	conn, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// readUntil reads messages until one of the given types arrives.
func readUntil(t testing.TB, ctx context.Context, conn *otclient.Conn, types ...string) *otclient.Message {
	t.Helper()
	for {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", types, err)
		}
		for _, typ := range types {
			if m.Type == typ {
				return m
			}
		}
	}
}

func hasID(users []activeUser, id string) bool {
	for _, u := range users {
		if u.UserID == id {
			return true
		}
	}
	return false
}

func sameIDs(users []activeUser, ids ...string) bool {
	got := make([]string, 0, len(users))
	for _, u := range users {
		got = append(got, u.UserID)
	}
	want := append([]string(nil), ids...)
	sort.Strings(got)
	sort.Strings(want)
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func mustInsertAt0(s string) ot.Op { return ot.Op{{Insert: s}} }
