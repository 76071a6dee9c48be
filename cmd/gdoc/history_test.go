package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/testenv"
)

// historyWait bounds every wait in the history tests.
const historyWait = 30 * time.Second

// otEditor is one OT-dialect client that edits at random and records the
// text it held at each revision it was synchronized at (no op in flight).
type otEditor struct {
	name  string
	conn  *otclient.Conn
	state *otclient.State
	in    chan *otclient.Message
	held  map[int64]string
}

func dialEditor(t *testing.T, base, docID string, u testenv.User) *otEditor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), historyWait)
	defer cancel()
	conn, init, err := otclient.Dial(ctx, base, docID, u.Token, -1)
	if err != nil {
		t.Fatalf("%s: dial: %v", u.Username, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	e := &otEditor{name: u.Username, conn: conn, state: otclient.NewState(u.Username+testenv.RandomHex(3), init.Text(), init.Rev),
		in: make(chan *otclient.Message, 1024), held: map[int64]string{}}
	if init.Content != nil {
		e.state = otclient.NewState(u.Username+testenv.RandomHex(3), *init.Content, init.Rev)
	}
	e.record()
	go func() {
		defer close(e.in)
		for {
			m, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			e.in <- m
		}
	}()
	return e
}

func (e *otEditor) record() {
	if e.state.Pending() == 0 {
		e.held[e.state.Rev] = e.state.Text()
	}
}

// handle applies one server message; it returns an error for anything
// unexpected.
func (e *otEditor) handle(ctx context.Context, m *otclient.Message) error {
	var next *otclient.Outgoing
	var err error
	switch m.Type {
	case "op":
		op, perr := ot.Parse(m.Op)
		if perr != nil {
			return perr
		}
		next, err = e.state.ServerOp(m.Rev, m.ID, op)
	case "ack":
		next, err = e.state.Ack(m.ID, m.Rev)
	case "error":
		return fmt.Errorf("%s: server error %s", e.name, m.Raw)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", e.name, err)
	}
	if next != nil {
		if err := e.conn.SendOp(ctx, next); err != nil {
			return err
		}
	}
	e.record()
	return nil
}

func (e *otEditor) edit(ctx context.Context, op ot.Op) error {
	out, err := e.state.Edit(op)
	if err != nil {
		return fmt.Errorf("%s: edit %v: %v", e.name, op, err)
	}
	if out != nil {
		return e.conn.SendOp(ctx, out)
	}
	return nil
}

// until handles messages until done() holds.
func (e *otEditor) until(ctx context.Context, what string, done func() bool) error {
	for !done() {
		select {
		case m, ok := <-e.in:
			if !ok {
				return fmt.Errorf("%s: connection closed waiting for %s", e.name, what)
			}
			if err := e.handle(ctx, m); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: at rev %d with %d pending", e.name, what, e.state.Rev, e.state.Pending())
		}
	}
	return nil
}

// randomEdit inserts or deletes a little at a random place of text.
func randomEdit(rng *rand.Rand, text string) ot.Op {
	n := utf8.RuneCountInString(text)
	pos := rng.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Skip: pos})
	}
	if rng.IntN(3) == 0 && pos < n {
		op = append(op, ot.Component{Delete: min(n-pos, 1+rng.IntN(3))})
	} else {
		pieces := []string{"a", "é", "中", "😀", "\n", " ", "x\n"}
		op = append(op, ot.Component{Insert: pieces[rng.IntN(len(pieces))]})
	}
	return ot.Normalize(op)
}

type revisionBody struct {
	Rev       int64     `json:"rev"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
}

type historyBody struct {
	Entries []struct {
		FromRev   int64     `json:"from_rev"`
		ToRev     int64     `json:"to_rev"`
		StartedAt time.Time `json:"started_at"`
		EndedAt   time.Time `json:"ended_at"`
		Authors   []struct {
			UserID   string `json:"user_id"`
			Username string `json:"username"`
			Color    string `json:"color"`
		} `json:"authors"`
		Inserted    int    `json:"inserted"`
		Deleted     int    `json:"deleted"`
		Kind        string `json:"kind"`
		RestoredRev *int64 `json:"restored_rev"`
	} `json:"entries"`
	StartRev   int64 `json:"start_rev"`
	HeadRev    int64 `json:"head_rev"`
	NextBefore int64 `json:"next_before"`
}

func getRevision(t *testing.T, base, docID, token string, rev int64) revisionBody {
	t.Helper()
	r := call(t, "GET", fmt.Sprintf("%s/api/documents/%s/revisions/%d", base, docID, rev), token, "")
	var body revisionBody
	if r.Decode(t, &body); r.Status != 200 || body.Rev != rev {
		t.Fatalf("revision %d: %d %s", rev, r.Status, r.Body)
	}
	return body
}

func createDoc(t *testing.T, base string, u testenv.User, content string) document {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"title": "history.py", "content": content})
	r := call(t, "POST", base+"/api/documents", u.Token, string(body))
	var doc document
	if r.Decode(t, &doc); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return doc
}

// concurrentHistory has three OT clients and one seed-dialect client edit
// a document at once, then checks that revisions/{r} is what each OT client
// held at r, and that the history accounts for every character. It returns
// the document, a token and what the clients held.
func concurrentHistory(t *testing.T, base string) (document, testenv.User, map[int64]string) {
	alice, bob := testenv.Register(t, base, "alice"), testenv.Register(t, base, "bob")
	const initial = "def f():\n    return 1\n"
	doc := createDoc(t, base, alice, initial)
	ctx, cancel := context.WithTimeout(context.Background(), 2*historyWait)
	defer cancel()

	eds := []*otEditor{dialEditor(t, base, doc.ID, alice), dialEditor(t, base, doc.ID, bob), dialEditor(t, base, doc.ID, alice)}
	seed, _, err := otclient.DialSeed(ctx, base, doc.ID, bob.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer seed.CloseNow()

	const edits = 60
	errs := make(chan error, len(eds)+1)
	var wg sync.WaitGroup
	for i, e := range eds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i)+1, 7))
			for made := 0; made < edits; {
				select {
				case m, ok := <-e.in:
					if !ok {
						errs <- fmt.Errorf("%s: closed", e.name)
						return
					}
					if err := e.handle(ctx, m); err != nil {
						errs <- err
						return
					}
				case <-time.After(time.Duration(rng.IntN(4)) * time.Millisecond):
					if err := e.edit(ctx, randomEdit(rng, e.state.Text())); err != nil {
						errs <- err
						return
					}
					made++
					// Now and then wait for the ack, so that the client is
					// synchronized at many revisions.
					if made%4 == 0 {
						if err := e.until(ctx, "an ack", func() bool { return e.state.Pending() == 0 }); err != nil {
							errs <- err
							return
						}
					}
				}
			}
			errs <- e.until(ctx, "its acks", func() bool { return e.state.Pending() == 0 })
		}()
	}
	wg.Add(1)
	go func() { // the seed client appends whole texts, as the seed's frontend does
		defer wg.Done()
		text := initial
		for i := 0; i < 10; i++ {
			text += fmt.Sprintf("# seed %d\n", i)
			if err := seed.Send(ctx, map[string]any{"type": "update", "data": map[string]string{"content": text}}); err != nil {
				errs <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		errs <- nil
	}()
	wg.Wait()
	for range len(eds) + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Everyone catches up with the head, once no more ops are coming.
	var head int64
	for deadline := time.Now().Add(historyWait); ; {
		var cur document
		call(t, "GET", base+"/api/documents/"+doc.ID, "", "").Decode(t, &cur)
		if cur.Rev == head && head > 0 {
			break
		}
		head = cur.Rev
		if time.Now().After(deadline) {
			t.Fatalf("the document never settled (rev %d)", head)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, e := range eds {
		if err := e.until(ctx, "the head", func() bool { return e.state.Rev >= head }); err != nil {
			t.Fatal(err)
		}
	}
	held := map[int64]string{}
	for _, e := range eds {
		for rev, text := range e.held {
			if other, ok := held[rev]; ok && other != text {
				t.Fatalf("two clients held different texts at rev %d", rev)
			}
			held[rev] = text
		}
	}
	if len(held) < 20 {
		t.Fatalf("only %d revisions observed", len(held))
	}
	checkHeld(t, base, doc.ID, "", held)

	// The history: sessions newest first with both authors, and inserted
	// minus deleted is how much the text grew.
	r := call(t, "GET", base+"/api/documents/"+doc.ID+"/history?limit=100", "", "")
	var h historyBody
	if r.Decode(t, &h); r.Status != 200 || h.HeadRev != head || h.StartRev != 0 || len(h.Entries) == 0 {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	grew, names := 0, map[string]bool{}
	for i, e := range h.Entries {
		grew += e.Inserted - e.Deleted
		for _, a := range e.Authors {
			names[a.Username] = true
			if a.Color == "" || a.UserID == "" {
				t.Fatalf("author without id or colour: %s", r.Body)
			}
		}
		if i > 0 && e.ToRev != h.Entries[i-1].FromRev {
			t.Fatalf("entries do not chain: %s", r.Body)
		}
	}
	if last := h.Entries[len(h.Entries)-1]; last.FromRev != 0 || h.Entries[0].ToRev != head {
		t.Fatalf("entries do not cover 0..%d: %s", head, r.Body)
	}
	final := getRevision(t, base, doc.ID, "", head).Content
	if want := utf8.RuneCountInString(final) - utf8.RuneCountInString(initial); grew != want {
		t.Fatalf("history says the text grew by %d, it grew by %d", grew, want)
	}
	if !names["alice"] || !names["bob"] {
		t.Fatalf("history authors %v", names)
	}
	return doc, alice, held
}

// checkHeld compares revisions/{r} with what the clients held at r.
func checkHeld(t *testing.T, base, docID, token string, held map[int64]string) {
	t.Helper()
	for rev, text := range held {
		if got := getRevision(t, base, docID, token, rev); got.Content != text {
			t.Fatalf("revisions/%d = %q, the clients held %q", rev, got.Content, text)
		}
	}
	if r0 := getRevision(t, base, docID, token, 0); r0.UserID != "" || r0.Username != "" {
		t.Fatalf("revision 0 has an author: %+v", r0)
	}
}

func TestHistoryRevisionsAfterConcurrentEdits(t *testing.T) {
	env := map[string]string{"HISTORY_CHECKPOINT_EVERY": "16", "DATA_DIR": filepath.Join(t.TempDir(), "data")}
	s := start(t, env)
	doc, alice, held := concurrentHistory(t, s.URL)
	s.shutdown(t)

	// Reading the revisions wrote checkpoints, and they are in the database.
	store, err := sqlite.Open(context.Background(), filepath.Join(env["DATA_DIR"], "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.Checkpoint(context.Background(), doc.ID, 1<<40)
	store.Close()
	if err != nil || cp.Rev < 16 {
		t.Fatalf("newest checkpoint %+v, %v", cp, err)
	}
	again := start(t, env)
	checkHeld(t, again.URL, doc.ID, alice.Token, held)
}

func TestHistoryRevisionsPostgres(t *testing.T) {
	env := map[string]string{"HISTORY_CHECKPOINT_EVERY": "16", "DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("h", 40)}
	s := start(t, env)
	doc, alice, held := concurrentHistory(t, s.URL)
	s.shutdown(t)
	again := start(t, env)
	checkHeld(t, again.URL, doc.ID, alice.Token, held)
}

type blameBody struct {
	Rev   int64 `json:"rev"`
	Lines []struct {
		Line     int    `json:"line"`
		UserID   string `json:"user_id"`
		Username string `json:"username"`
		Rev      int64  `json:"rev"`
	} `json:"lines"`
}

func getBlame(t *testing.T, base, docID string) blameBody {
	t.Helper()
	r := call(t, "GET", base+"/api/documents/"+docID+"/blame", "", "")
	var b blameBody
	if r.Decode(t, &b); r.Status != 200 {
		t.Fatalf("blame: %d %s", r.Status, r.Body)
	}
	return b
}

// blameOf returns "line text=username" for every line.
func blameOf(t *testing.T, base, docID string) string {
	t.Helper()
	b := getBlame(t, base, docID)
	text := getRevision(t, base, docID, "", b.Rev).Content
	lines := strings.Split(text, "\n")
	if len(lines) != len(b.Lines) {
		t.Fatalf("blame has %d lines, the text %d", len(b.Lines), len(lines))
	}
	var out []string
	for i, l := range lines {
		out = append(out, l+"="+b.Lines[i].Username)
	}
	return strings.Join(out, "|")
}

func restore(t *testing.T, base, docID string, u testenv.User, rev int64) document {
	t.Helper()
	r := call(t, "POST", base+"/api/documents/"+docID+"/restore", u.Token, fmt.Sprintf(`{"rev": %d}`, rev))
	var d document
	if r.Decode(t, &d); r.Status != 200 {
		t.Fatalf("restore %d: %d %s", rev, r.Status, r.Body)
	}
	return d
}

// TestHistoryRestoreAndBlame: two users write lines concurrently, one
// types a line and undoes it, a restore brings back an older revision and a
// second restore undoes it. A live editor receives each restore as an op,
// blame names the right user on every line throughout, and the history
// shows the restores.
func TestHistoryRestoreAndBlame(t *testing.T) { historyRestoreAndBlame(t, nil) }

func TestHistoryRestoreAndBlamePostgres(t *testing.T) {
	historyRestoreAndBlame(t, map[string]string{"DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("b", 40)})
}

func historyRestoreAndBlame(t *testing.T, env map[string]string) {
	s := start(t, env)
	base := s.URL
	alice, bob := testenv.Register(t, base, "alice"), testenv.Register(t, base, "bob")
	carol := testenv.Register(t, base, "carol")
	doc := createDoc(t, base, alice, "top\n")
	ctx, cancel := context.WithTimeout(context.Background(), historyWait)
	defer cancel()
	a, b := dialEditor(t, base, doc.ID, alice), dialEditor(t, base, doc.ID, bob)
	seed, _, err := otclient.DialSeed(ctx, base, doc.ID, bob.Token) // the seed's dialect
	if err != nil {
		t.Fatal(err)
	}
	defer seed.CloseNow()
	synced := func(e *otEditor, head int64) {
		t.Helper()
		if err := e.until(ctx, "sync", func() bool { return e.state.Pending() == 0 && e.state.Rev >= head }); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent: both insert after "top\n" at rev 0, neither has seen the other.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.edit(ctx, ot.Op{{Skip: 4}, {Insert: "alice wrote this\n"}}))
	must(b.edit(ctx, ot.Op{{Skip: 4}, {Insert: "bob wrote that\n"}}))
	synced(a, 2)
	synced(b, 2)
	if a.state.Text() != b.state.Text() {
		t.Fatalf("clients diverged: %q %q", a.state.Text(), b.state.Text())
	}
	both := a.state.Text()
	bothRev := a.state.Rev
	want := map[string]string{"top": "", "alice wrote this": "alice", "bob wrote that": "bob", "": ""}
	checkBlame := func(when string) {
		t.Helper()
		for _, pair := range strings.Split(blameOf(t, base, doc.ID), "|") {
			line, name, _ := strings.Cut(pair, "=")
			if w, ok := want[line]; ok && w != name {
				t.Fatalf("%s: line %q blamed on %q, want %q (%s)", when, line, name, w, blameOf(t, base, doc.ID))
			}
		}
	}
	checkBlame("after the concurrent edit")

	// Bob types a line and undoes it (the inverse op).
	typed := ot.Op{{Skip: utf8.RuneCountInString(both)}, {Insert: "oops\n"}}
	must(b.edit(ctx, typed))
	synced(b, bothRev+1)
	undo, err := ot.InvertWithDoc(typed, both)
	must(err)
	must(b.edit(ctx, undo))
	synced(b, bothRev+2)
	synced(a, bothRev+2)
	if a.state.Text() != both {
		t.Fatalf("after undo: %q", a.state.Text())
	}
	checkBlame("after an undo")

	// Carol restores revision 0 (editors only: the document is public, so
	// any signed-in user edits). Alice's editor receives it as an op.
	before := a.state.Rev
	d := restore(t, base, doc.ID, carol, 0)
	if d.Content != "top\n" {
		t.Fatalf("restore returned %q", d.Content)
	}
	if err := a.until(ctx, "the restore", func() bool { return a.state.Rev > before }); err != nil {
		t.Fatal(err)
	}
	restoreRev := a.state.Rev
	ops := call(t, "GET", fmt.Sprintf("%s/api/documents/%s/ops?from=%d", base, doc.ID, before), "", "")
	var list []otclient.Message
	ops.Decode(t, &list)
	if len(list) != 1 || list[0].UserID != carol.ID {
		t.Fatalf("the restore is not one op by carol: %s", ops.Body)
	}
	if a.state.Text() != getRevision(t, base, doc.ID, "", 0).Content {
		t.Fatalf("alice's editor holds %q after the restore", a.state.Text())
	}
	// A seed-dialect client receives it as an update with the whole text.
	for {
		m, err := seed.Read(ctx)
		if err != nil {
			t.Fatalf("seed client waiting for the restore: %v", err)
		}
		if m.Type == "update" && m.Data != nil && m.Data.Content == "top\n" {
			break
		}
	}
	if lines := getBlame(t, base, doc.ID).Lines; len(lines) != 2 || lines[0].UserID != "" {
		t.Fatalf("after restoring revision 0, blame %+v", lines)
	}

	// A second restore undoes the first: the two users' lines are theirs
	// again, not carol's.
	d = restore(t, base, doc.ID, carol, restoreRev-1)
	if d.Content != both {
		t.Fatalf("second restore returned %q, want %q", d.Content, both)
	}
	if err := a.until(ctx, "the second restore", func() bool { return a.state.Rev > restoreRev }); err != nil {
		t.Fatal(err)
	}
	if a.state.Text() != both {
		t.Fatalf("alice's editor holds %q after the second restore", a.state.Text())
	}
	checkBlame("after a restore")

	r := call(t, "GET", base+"/api/documents/"+doc.ID+"/history", "", "")
	var h historyBody
	r.Decode(t, &h)
	if len(h.Entries) < 3 || h.Entries[0].Kind != "restore" || h.Entries[0].RestoredRev == nil || *h.Entries[0].RestoredRev != restoreRev-1 ||
		h.Entries[1].Kind != "restore" || *h.Entries[1].RestoredRev != 0 || h.Entries[0].Authors[0].Username != "carol" {
		t.Fatalf("history does not show the restores: %s", r.Body)
	}

	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, token, body string
			status                    int
		}{
			{"GET", "/revisions/999", "", "", 404},
			{"GET", "/revisions/-1", "", "", 422},
			{"GET", "/revisions/x", "", "", 422},
			{"POST", "/restore", "", `{"rev":0}`, 401},
			{"POST", "/restore", alice.Token, `{}`, 422},
			{"POST", "/restore", alice.Token, `{"rev":999}`, 404},
			{"GET", "/blame?rev=999", "", "", 404},
			{"GET", "/history?limit=0", "", "", 422},
		} {
			r := call(t, tc.method, base+"/api/documents/"+doc.ID+tc.path, tc.token, tc.body)
			if r.Status != tc.status || r.Detail(t) == "" {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, r.Status, r.Body, tc.status)
			}
		}
		if r := call(t, "GET", base+"/api/documents/nope/history", "", ""); r.Status != 404 {
			t.Errorf("unknown document: %d", r.Status)
		}
	})

	t.Run("PrivateDocument", func(t *testing.T) {
		r := call(t, "POST", base+"/api/documents", alice.Token, `{"title":"secret","content":"s","is_public":false}`)
		var priv document
		r.Decode(t, &priv)
		for _, p := range []string{"/history", "/revisions/0", "/blame", "/download"} {
			if r := call(t, "GET", base+"/api/documents/"+priv.ID+p, bob.Token, ""); r.Status != 404 { // as if it did not exist (issue 9)
				t.Errorf("bob reads %s of alice's private document: %d", p, r.Status)
			}
			if r := call(t, "GET", base+"/api/documents/"+priv.ID+p, alice.Token, ""); r.Status != 200 {
				t.Errorf("alice reads %s of her private document: %d %s", p, r.Status, r.Body)
			}
		}
		if r := call(t, "POST", base+"/api/documents/"+priv.ID+"/restore", bob.Token, `{"rev":0}`); r.Status != 404 {
			t.Errorf("bob restores alice's private document: %d", r.Status)
		}
		// Shared with bob as a viewer: he reads the history but cannot restore.
		if r := call(t, "PUT", base+"/api/documents/"+priv.ID+"/members/"+bob.Username, alice.Token, `{"role":"viewer"}`); r.Status != 200 {
			t.Fatalf("share with bob: %d %s", r.Status, r.Body)
		}
		if r := call(t, "GET", base+"/api/documents/"+priv.ID+"/history", bob.Token, ""); r.Status != 200 {
			t.Errorf("viewer reads the history: %d %s", r.Status, r.Body)
		}
		if r := call(t, "POST", base+"/api/documents/"+priv.ID+"/restore", bob.Token, `{"rev":0}`); r.Status != 403 {
			t.Errorf("viewer restores: %d %s", r.Status, r.Body)
		}
	})

	t.Run("Download", func(t *testing.T) {
		r := call(t, "GET", base+"/api/documents/"+doc.ID+"/download?rev=0", "", "")
		if r.Status != 200 || string(r.Body) != "top\n" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") ||
			!strings.Contains(r.Header.Get("Content-Disposition"), `attachment; filename="history.py"`) {
			t.Fatalf("download: %d %q %v", r.Status, r.Body, r.Header)
		}
		r = call(t, "GET", base+"/api/documents/"+doc.ID+"/download", "", "")
		if r.Status != 200 || string(r.Body) != both {
			t.Fatalf("download of the head: %d %q", r.Status, r.Body)
		}
	})
}

// TestHistoryRetention: with HISTORY_KEEP_REVISIONS the op log is trimmed
// behind a checkpoint; the history says where it starts, older revisions
// are refused with that sentence, and a client reconnecting from a trimmed
// revision gets the whole text (reset) instead of ops.
func TestHistoryRetention(t *testing.T) {
	env := map[string]string{"HISTORY_CHECKPOINT_EVERY": "10", "HISTORY_KEEP_REVISIONS": "20", "AUTO_SAVE_INTERVAL": "1",
		"DATA_DIR": filepath.Join(t.TempDir(), "data")}
	s := start(t, env)
	alice := testenv.Register(t, s.URL, "alice")
	doc := createDoc(t, s.URL, alice, "first\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*historyWait)
	defer cancel()
	a := dialEditor(t, s.URL, doc.ID, alice)
	var h historyBody
	for round := 0; ; round++ {
		for i := 0; i < 10; i++ {
			if err := a.edit(ctx, ot.Op{{Skip: utf8.RuneCountInString(a.state.Text())}, {Insert: fmt.Sprintf("%d.%d\n", round, i)}}); err != nil {
				t.Fatal(err)
			}
			if err := a.until(ctx, "an ack", func() bool { return a.state.Pending() == 0 }); err != nil {
				t.Fatal(err)
			}
		}
		call(t, "GET", s.URL+"/api/documents/"+doc.ID+"/history?limit=100", "", "").Decode(t, &h)
		if h.StartRev > 0 {
			break
		}
		if round == 40 {
			t.Fatalf("the history was never trimmed (head %d)", h.HeadRev)
		}
		time.Sleep(300 * time.Millisecond) // let an autosave move the snapshot
	}
	// Trimming runs behind the autosave, so it may move once more after the
	// last edit: wait until the start stays put across two autosave periods.
	for settle := 0; ; settle++ {
		time.Sleep(2500 * time.Millisecond)
		var later historyBody
		call(t, "GET", s.URL+"/api/documents/"+doc.ID+"/history?limit=100", "", "").Decode(t, &later)
		if later.StartRev == h.StartRev {
			break
		}
		if settle == 10 {
			t.Fatalf("the history's start kept moving after the edits stopped: %d, then %d", h.StartRev, later.StartRev)
		}
		h = later
	}
	if h.HeadRev-h.StartRev < 20 || h.Entries[len(h.Entries)-1].FromRev != h.StartRev {
		t.Fatalf("history after trimming: %+v", h)
	}
	r := call(t, "GET", s.URL+"/api/documents/"+doc.ID+"/revisions/0", "", "")
	if r.Status != 404 || !strings.Contains(r.Detail(t), fmt.Sprintf("starts at revision %d", h.StartRev)) {
		t.Fatalf("revision 0 after trimming: %d %s", r.Status, r.Body)
	}
	if got := getRevision(t, s.URL, doc.ID, "", h.StartRev); got.Content != a.held[h.StartRev] {
		t.Fatalf("revision %d = %q, the client held %q", h.StartRev, got.Content, a.held[h.StartRev])
	}
	text, head := a.state.Text(), a.state.Rev
	a.conn.Close()
	s.shutdown(t)

	// After a restart the document is read from its snapshot; a client that
	// was at revision 0 cannot be served ops it lacks: it gets the text.
	again := start(t, env)
	conn, init, err := otclient.Dial(ctx, again.URL, doc.ID, alice.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if !init.Reset || init.Content == nil || *init.Content != text || init.Rev != head || len(init.Ops) != 0 {
		t.Fatalf("reconnect from a trimmed revision: %s", init.Raw)
	}
	// A client within the kept history still gets ops.
	conn2, init2, err := otclient.Dial(ctx, again.URL, doc.ID, alice.Token, head-5)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.CloseNow()
	if init2.Reset || len(init2.Ops) != 5 {
		t.Fatalf("reconnect within the kept history: %s", init2.Raw)
	}
	if b := getBlame(t, again.URL, doc.ID); len(b.Lines) != strings.Count(text, "\n")+1 || b.Lines[len(b.Lines)-2].Username != "alice" {
		t.Fatalf("blame after trimming: %+v", b)
	}
}
