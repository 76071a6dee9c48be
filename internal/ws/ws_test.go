package ws_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ws"
)

func TestAuth(t *testing.T) {
	s := newServer(t, nil)

	t.Run("MissingToken", func(t *testing.T) {
		if code, reason := s.refusal("doc", dialOpts{}); code != ws.CloseUnauthenticated || reason != "Missing token" {
			t.Fatalf("closed with %d %q, want 4401 \"Missing token\"", code, reason)
		}
	})
	t.Run("InvalidToken", func(t *testing.T) {
		for _, tok := range []string{"garbage", s.token("alice") + "x"} {
			if code, reason := s.refusal("doc", dialOpts{token: tok}); code != ws.CloseUnauthenticated || reason != "Invalid token" {
				t.Fatalf("closed with %d %q, want 4401 \"Invalid token\"", code, reason)
			}
		}
	})
	t.Run("Forbidden", func(t *testing.T) {
		s.ot("private-doc", "owner")
		public := false
		if _, err := s.Store.UpdateDocumentMeta(context.Background(), "private-doc", nil, nil, &public); err != nil {
			t.Fatal(err)
		}
		if code, reason := s.refusal("private-doc", dialOpts{token: s.token("stranger")}); code != ws.CloseForbidden || reason != "Forbidden" {
			t.Fatalf("closed with %d %q, want 4403 \"Forbidden\"", code, reason)
		}
	})
	// With the token in a subprotocol, the server selects the dialect's
	// subprotocol, never the token.
	for name, dialect := range map[string]string{"SubprotocolToken": "gdoc.v1", "SeedSubprotocol": "gdoc.seed"} {
		t.Run(name, func(t *testing.T) {
			c, resp, err := s.dial("doc", dialOpts{subprotocols: []string{dialect, "bearer." + s.token("alice")}})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != dialect {
				t.Fatalf("selected subprotocol %q, want %s", got, dialect)
			}
			if c.init.UserID != s.user("alice").ID || c.init.Username != "alice" || c.init.Content == nil {
				t.Fatalf("init %s", c.init.raw)
			}
		})
	}
	t.Run("QueryToken", func(t *testing.T) {
		c := s.seed("doc", "bob")
		if c.init.UserID != s.user("bob").ID || c.init.Content == nil || c.conn.Subprotocol() != "" {
			t.Fatalf("init %s, subprotocol %q", c.init.raw, c.conn.Subprotocol())
		}
	})
	t.Run("InvalidDocumentID", func(t *testing.T) {
		if code, _ := s.refusal("bad.id", dialOpts{token: s.token("alice")}); code != ws.CloseNotFound {
			t.Fatalf("closed with %d, want 4404", code)
		}
	})
}

func TestOrigin(t *testing.T) {
	s := newServer(t, nil)
	tok := s.token("alice")
	_, resp, err := s.dial("doc", dialOpts{token: tok, header: http.Header{"Origin": {"http://evil.example"}}, noInit: true})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin handshake: err %v, resp %v; want 403", err, resp)
	}
	for _, origin := range []string{"http://allowed.example", "http://" + strings.TrimPrefix(s.HTTP.URL, "http://")} {
		if _, _, err := s.dial("doc", dialOpts{token: tok, header: http.Header{"Origin": {origin}}}); err != nil {
			t.Fatalf("origin %s refused: %v", origin, err)
		}
	}
}

func TestInit(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("init-doc", "alice")
	// Joining an unknown id created the document, owned by the joiner.
	d, err := s.Store.Document(context.Background(), "init-doc")
	if err != nil || d.OwnerID != s.user("alice").ID || d.Title != "init-doc" || !d.Public {
		t.Fatalf("created document %+v, err %v", d, err)
	}
	if a.init.Rev != 0 || *a.init.Content != "" || len(a.init.ActiveUsers) != 0 || len(a.init.Users) != 1 || a.init.Color == "" || a.init.ConnID == "" {
		t.Fatalf("first init %s", a.init.raw)
	}
	a.send(`{"type":"op","rev":0,"op":["hello"],"id":"a:1"}`)
	if ack := a.next("ack"); ack.id() != "a:1" || ack.Rev != 1 {
		t.Fatalf("ack %s", ack.raw)
	}
	b := s.seed("init-doc", "bob")
	if *b.init.Content != "hello" || b.init.Rev != 1 || len(b.init.ActiveUsers) != 1 || b.init.ActiveUsers[0] != s.user("alice").ID || len(b.init.Users) != 2 {
		t.Fatalf("second init %s", b.init.raw)
	}
}

func TestOpAckAndRelay(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("relay", "alice")
	b := s.ot("relay", "bob")
	a.until("bob joined", func(m msg) bool { return m.Type == "user_joined" })

	a.send(`{"type":"op","rev":0,"op":["héllo 😀"],"id":"a:1"}`)
	ack := a.next("ack")
	if ack.id() != "a:1" || ack.Rev != 1 {
		t.Fatalf("ack %s", ack.raw)
	}
	op := b.next("op")
	if op.Rev != 1 || op.id() != "a:1" || op.UserID != s.user("alice").ID || op.Username != "alice" || string(op.Op) != `["héllo 😀"]` {
		t.Fatalf("relayed op %s", op.raw)
	}
	// b edits based on rev 0 concurrently: transformed over a's op.
	b.send(`{"type":"op","rev":0,"op":["X"],"id":"b:1"}`)
	if ack := b.next("ack"); ack.Rev != 2 {
		t.Fatalf("ack %s", ack.raw)
	}
	if op := a.next("op"); op.Rev != 2 || op.id() != "b:1" {
		t.Fatalf("relayed op %s", op.raw)
	}
	if text, rev := s.current("relay"); text != "Xhéllo 😀" || rev != 2 {
		t.Fatalf("text %q rev %d", text, rev)
	}

	t.Run("ResendIsAckedWithTheOriginalRev", func(t *testing.T) {
		a.send(`{"type":"op","rev":0,"op":["héllo 😀"],"id":"a:1"}`)
		if ack := a.next("ack"); ack.id() != "a:1" || ack.Rev != 1 {
			t.Fatalf("resend ack %s", ack.raw)
		}
		if text, rev := s.current("relay"); text != "Xhéllo 😀" || rev != 2 {
			t.Fatalf("resend changed the text: %q rev %d", text, rev)
		}
		b.quiet()
	})

	t.Run("CatchUpSince", func(t *testing.T) {
		c, _, err := s.dial("relay", dialOpts{query: "since=1", subprotocols: []string{"gdoc.v1", "bearer." + s.token("carol")}})
		if err != nil {
			t.Fatal(err)
		}
		if c.init.Content != nil || c.init.Rev != 2 || len(c.init.Ops) != 1 || c.init.Ops[0].Rev != 2 || c.init.Ops[0].id() != "b:1" || string(c.init.Ops[0].Op) != `["X"]` {
			t.Fatalf("catch-up init %s", c.init.raw)
		}
		c, _, err = s.dial("relay", dialOpts{query: "since=2", subprotocols: []string{"gdoc.v1", "bearer." + s.token("carol")}})
		if err != nil {
			t.Fatal(err)
		}
		if c.init.Content != nil || c.init.Rev != 2 || c.init.Ops == nil && !strings.Contains(c.init.raw, `"ops":[]`) {
			t.Fatalf("catch-up init at head %s", c.init.raw)
		}
	})

	t.Run("SinceAheadIsRefused", func(t *testing.T) {
		c, _, err := s.dial("relay", dialOpts{query: "since=99", subprotocols: []string{"gdoc.v1", "bearer." + s.token("carol")}, noInit: true})
		if err != nil {
			t.Fatal(err)
		}
		if e := c.next("error"); e.Code != "bad_revision" {
			t.Fatalf("error %s", e.raw)
		}
		if code, _ := c.closeStatus(); code != ws.CloseBadRevision {
			t.Fatalf("closed with %d, want 4409", code)
		}
	})
}

func TestChat(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("chat", "alice")
	b := s.seed("chat", "bob")
	a.until("bob joined", func(m msg) bool { return m.Type == "user_joined" })

	a.send(`{"type":"chat","message":"hi <b>bob</b>","client_msg_id":"m1"}`)
	ack := a.next("chat_ack")
	if ack.ClientMsgID != "m1" || ack.id() == "" || ack.Timestamp < 1e9 {
		t.Fatalf("chat_ack %s", ack.raw)
	}
	got := b.next("chat")
	if got.text() != "hi <b>bob</b>" || got.UserID != s.user("alice").ID || got.Username != "alice" || got.id() != ack.id() || got.Timestamp < 1e9 {
		t.Fatalf("chat %s", got.raw)
	}
	// The sender gets no copy; the seed sender no ack either.
	if extra := a.roundTrip(); len(extra) != 0 {
		t.Fatalf("sender got %v", extra[0].raw)
	}
	b.send(`{"type":"chat","message":"hello"}`)
	if m := a.next("chat"); m.text() != "hello" || m.Username != "bob" {
		t.Fatalf("chat %s", m.raw)
	}
	if extra := b.roundTrip(); len(extra) != 0 {
		t.Fatalf("seed sender got %s", extra[0].raw)
	}

	c := s.ot("chat", "carol")
	if len(c.init.Chat) != 2 || c.init.Chat[0].text() != "hi <b>bob</b>" || c.init.Chat[1].text() != "hello" || c.init.Chat[1].Username != "bob" {
		t.Fatalf("init chat history %s", c.init.raw)
	}

	for _, bad := range []string{`{"type":"chat","message":"   "}`, `{"type":"chat","message":"` + strings.Repeat("x", 2001) + `"}`, `{"type":"chat"}`, `{"type":"chat","message":7}`} {
		a.send(bad)
		if e := a.next("error"); e.Code != "invalid_message" {
			t.Fatalf("%.40s: error %s", bad, e.raw)
		}
	}
	b.quiet()
}

func TestPresencePerUser(t *testing.T) {
	s := newServer(t, nil)
	watcher := s.ot("presence", "watcher")
	tab1 := s.ot("presence", "alice")
	j := watcher.next("user_joined")
	if j.UserID != s.user("alice").ID || j.Username != "alice" || j.Color == "" {
		t.Fatalf("user_joined %s", j.raw)
	}
	tab2 := s.seed("presence", "alice")
	if len(tab2.init.Users) != 2 {
		t.Fatalf("users %s", tab2.init.raw)
	}
	tab1.conn.Close(websocket.StatusNormalClosure, "")
	// The first tab's cursor goes away, but alice is still here.
	for _, m := range watcher.roundTrip() {
		if m.Type == "user_joined" || m.Type == "user_left" {
			t.Fatalf("per-tab presence message %s", m.raw)
		}
	}
	tab2.conn.Close(websocket.StatusNormalClosure, "")
	left := watcher.until("user_left", func(m msg) bool { return m.Type == "user_left" })
	if left.UserID != s.user("alice").ID || left.Username != "alice" {
		t.Fatalf("user_left %s", left.raw)
	}
}

func TestCursor(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("cursor", "alice")
	b := s.seed("cursor", "bob")
	a.until("bob joined", func(m msg) bool { return m.Type == "user_joined" })
	a.send(`{"type":"op","rev":0,"op":["abcdef"],"id":"a:1"}`)
	a.next("ack")
	b.until("update", func(m msg) bool { return m.Type == "update" })

	a.send(`{"type":"cursor","rev":1,"anchor":2,"head":4}`)
	c := b.next("cursor")
	if c.UserID != s.user("alice").ID || c.Username != "alice" || c.Color == "" || c.ConnID != a.init.ConnID || c.Rev != 1 || *c.Anchor != 2 || *c.Head != 4 {
		t.Fatalf("cursor %s", c.raw)
	}
	b.send(`{"type":"cursor","position":{"lineNumber":10,"column":5},"selection":null}`)
	c = a.next("cursor")
	if string(c.Position) != `{"lineNumber":10,"column":5}` || c.Username != "bob" || c.ConnID != b.init.ConnID || c.Anchor != nil {
		t.Fatalf("seed cursor %s", c.raw)
	}
	d := s.ot("cursor", "carol")
	if len(d.init.Cursors) != 2 {
		t.Fatalf("init cursors %s", d.init.raw)
	}
	a.conn.Close(websocket.StatusNormalClosure, "")
	gone := b.until("cursor removal", func(m msg) bool { return m.Type == "cursor" && m.Removed })
	if gone.ConnID != a.init.ConnID || gone.UserID != s.user("alice").ID {
		t.Fatalf("removal %s", gone.raw)
	}
	for _, bad := range []string{`{"type":"cursor"}`, `{"type":"cursor","anchor":-1,"head":2}`, `{"type":"cursor","anchor":1}`, `{"type":"cursor","rev":5,"anchor":1,"head":1}`, `{"type":"cursor","position":{"x":"` + strings.Repeat("y", 2000) + `"}}`} {
		d.send(bad)
		if e := d.next("error"); e.Code != "invalid_message" && e.Code != "bad_revision" {
			t.Fatalf("%.40s: error %s", bad, e.raw)
		}
	}
}

func TestPing(t *testing.T) {
	s := newServer(t, nil)
	for _, c := range []*client{s.ot("ping", "alice"), s.seed("ping", "bob")} {
		c.send(`{"type":"ping"}`)
		c.until("pong", func(m msg) bool { return m.Type == "pong" })
	}
}

// TestBadInput sends every kind of malformed message: each is answered
// with its error, changes nothing, and leaves the connection and the other
// clients unharmed.
func TestBadInput(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("bad", "alice")
	other := s.ot("bad", "bob")
	seed := s.seed("bad", "carol")
	a.send(`{"type":"op","rev":0,"op":["abc"],"id":"a:1"}`)
	a.next("ack")
	cases := []struct{ in, code, id string }{
		{`not json`, "invalid_json", ""},
		{`[1,2]`, "invalid_json", ""},
		{`"op"`, "invalid_json", ""},
		{`null`, "invalid_json", ""},
		{`{"type":"op"`, "invalid_json", ""},
		{`{}`, "invalid_message", ""},
		{`{"type":5}`, "invalid_message", ""},
		{`{"type":"explode"}`, "unknown_type", ""},
		{`{"type":"op","rev":1,"op":["x"]}`, "invalid_message", ""},
		{`{"type":"op","op":["x"],"id":"a:2"}`, "invalid_message", "a:2"},
		{`{"type":"op","rev":1,"id":"a:3"}`, "invalid_message", "a:3"},
		{`{"type":"op","rev":"1","op":["x"],"id":"a:4"}`, "invalid_message", "a:4"},
		{`{"type":"op","rev":1,"op":"x","id":"a:5"}`, "invalid_op", "a:5"},
		{`{"type":"op","rev":1,"op":[0,"x"],"id":"a:6"}`, "invalid_op", "a:6"},
		{`{"type":"op","rev":1,"op":[3],"id":"a:7"}`, "invalid_op", "a:7"},
		{`{"type":"op","rev":1,"op":[{"d":-1}],"id":"a:8"}`, "invalid_op", "a:8"},
		{`{"type":"op","rev":1,"op":[10,"x"],"id":"a:9"}`, "invalid_op", "a:9"},
		{`{"type":"op","rev":1,"op":[{"d":9}],"id":"a:10"}`, "invalid_op", "a:10"},
		{`{"type":"op","rev":1,"op":[{"d":"xyz"}],"id":"a:11"}`, "invalid_op", "a:11"},
		{`{"type":"op","rev":1,"op":["\ud83d"],"id":"a:12"}`, "invalid_op", "a:12"},
		{`{"type":"op","rev":7,"op":["x"],"id":"a:13"}`, "bad_revision", "a:13"},
		{`{"type":"op","rev":-1,"op":["x"],"id":"a:14"}`, "bad_revision", "a:14"},
		{`{"type":"op","rev":1e99,"op":["x"],"id":"a:15"}`, "invalid_message", "a:15"},
		{`{"type":"update","data":{"content":"zzz"}}`, "invalid_message", ""},
		{"{\"type\":\"chat\",\"message\":\"\xff\xfe\"}", "invalid_message", ""},
	}
	for _, tc := range cases {
		a.send(tc.in)
		e := a.next("error")
		if e.Code != tc.code || e.id() != tc.id || e.text() == "" {
			t.Errorf("%s: got %s, want code %s id %q", tc.in, e.raw, tc.code, tc.id)
		}
	}
	seed.until("update", func(m msg) bool { return m.Type == "update" && m.Data.Content == "abc" })
	for _, bad := range []string{`{"type":"update"}`, `{"type":"update","data":{"content":5}}`, `{"type":"op","rev":0,"op":["x"],"id":"s:1"}`} {
		seed.send(bad)
		if e := seed.next("error"); e.Code != "invalid_message" && e.Code != "unknown_type" {
			t.Errorf("seed %s: got %s", bad, e.raw)
		}
	}
	if text, rev := s.current("bad"); text != "abc" || rev != 1 {
		t.Fatalf("bad input changed the document: %q rev %d", text, rev)
	}
	// Still connected and working; the others saw only the one good op.
	a.send(`{"type":"op","rev":1,"op":[3,"!"],"id":"a:99"}`)
	if ack := a.next("ack"); ack.Rev != 2 {
		t.Fatalf("ack %s", ack.raw)
	}
	other.until("op", func(m msg) bool { return m.Type == "op" && m.Rev == 1 })
	if op := other.next("op"); op.Rev != 2 || op.id() != "a:99" {
		t.Fatalf("other saw %s", op.raw)
	}
	seed.until("update", func(m msg) bool { return m.Type == "update" && m.Data.Content == "abc!" })
}

func TestTooLarge(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.MaxMessageBytes = 4096 })
	a := s.ot("large", "alice")
	other := s.ot("large", "bob")
	a.send(`{"type":"op","rev":0,"op":["` + strings.Repeat("x", 5000) + `"],"id":"a:1"}`)
	if e := a.next("error"); e.Code != "too_large" {
		t.Fatalf("error %s", e.raw)
	}
	if code, _ := a.closeStatus(); code != ws.CloseTooLarge {
		t.Fatalf("closed with %d, want 4413", code)
	}
	if text, rev := s.current("large"); text != "" || rev != 0 {
		t.Fatalf("document changed: %q %d", text, rev)
	}
	other.roundTrip()
}

// TestRateLimit: ops over the op rate are paced, not refused: every one
// is acked, in order, and the text has them all. Chat over its limit is
// refused with rate_limited and the message's client_msg_id.
func TestRateLimit(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.OpRate, c.OpBurst = 20, 3; c.ChatRate, c.ChatBurst = 0.1, 2 })
	a := s.ot("rate", "alice")
	for i := range 6 {
		a.send(`{"type":"op","rev":0,"op":["x"],"id":"a:` + string(rune('0'+i)) + `"}`)
	}
	for i := range 6 {
		m := a.until("ack or error", func(m msg) bool { return m.Type == "ack" || m.Type == "error" })
		if m.Type != "ack" || m.id() != "a:"+string(rune('0'+i)) {
			t.Fatalf("op %d: %s, want its ack", i, m.raw)
		}
	}
	if text, _ := s.current("rate"); text != "xxxxxx" {
		t.Fatalf("text %q", text)
	}
	for i := range 3 {
		a.send(`{"type":"chat","message":"hi","client_msg_id":"c` + string(rune('0'+i)) + `"}`)
	}
	m := a.until("the refused chat", func(m msg) bool { return m.Type == "error" })
	if m.Code != "rate_limited" || m.id() != "c2" {
		t.Fatalf("chat over its limit: %s", m.raw)
	}
}

// TestSlowConsumer: a client that stops reading is dropped once its queue
// fills, while the others keep receiving everything.
func TestSlowConsumer(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.OtherRate, c.OtherBurst = 1e6, 1e6 })
	slow := s.ot("slow", "slowpoke")
	fast := s.ot("slow", "fast")
	writer := s.ot("slow", "writer")
	fast.until("writer joined", func(m msg) bool { return m.Type == "user_joined" && m.Username == "writer" })
	// Stop reading: the test's reader goroutine is detached by pausing it.
	resumeSlow := pauseReading(slow)

	big := strings.Repeat("z", 200_000)
	rev := int64(0)
	dropped, sawLeft := false, false
	for i := 0; i < 200 && !dropped; i++ {
		writer.send(`{"type":"op","rev":` + itoa(rev) + `,"op":["` + big + `"],"id":"w:` + itoa(int64(2*i)) + `"}`)
		writer.until("ack", func(m msg) bool { return m.Type == "ack" })
		writer.send(`{"type":"op","rev":` + itoa(rev+1) + `,"op":[{"d":200000}],"id":"w:` + itoa(int64(2*i+1)) + `"}`)
		writer.until("ack", func(m msg) bool { return m.Type == "ack" })
		rev += 2
		for range 50 {
			writer.send(`{"type":"cursor","rev":` + itoa(rev) + `,"anchor":0,"head":0}`)
		}
		// The fast client keeps up: it sees both ops right away.
		fast.until("op", func(m msg) bool {
			sawLeft = sawLeft || m.Type == "user_left" && m.Username == "slowpoke"
			return m.Type == "op" && m.Rev == rev
		})
		dropped = !hasUser(t, s, "slow", "slowpoke")
	}
	if !dropped {
		t.Fatalf("the slow consumer was never dropped")
	}
	if !sawLeft {
		fast.until("slowpoke left", func(m msg) bool { return m.Type == "user_left" && m.Username == "slowpoke" })
	}
	resumeSlow()
	code, reason := slow.closeStatus()
	if code != ws.CloseSlowConsumer || reason != "Slow consumer" {
		t.Fatalf("slow consumer closed with %d %q, want 4429 \"Slow consumer\"", code, reason)
	}
	if n := s.Handler.SlowConsumersDropped(); n != 1 {
		t.Fatalf("SlowConsumersDropped = %d, want 1", n)
	}
}

// TestStalledConsumerDelaysNoOne: a client that never reads, with a queue
// and a write timeout too large for it ever to be dropped here, does not
// hold up the others: every op reaches a reading client while megabytes
// wait for the stalled one. Deliveries come from collab's goroutine; if it
// waited for the stalled socket, the reader would stop receiving.
func TestStalledConsumerDelaysNoOne(t *testing.T) {
	s := newServer(t, func(c *ws.Config) {
		unlimited(c)
		c.SendQueue, c.WriteTimeout = 100_000, time.Hour
	})
	reader := s.ot("stalled", "reader")
	writer := s.ot("stalled", "writer")
	stalled := rawDial(t, strings.TrimPrefix(s.URL, "ws://"), "stalled", s.token("stalled"))
	defer stalled.Close()
	stalled.(*net.TCPConn).SetReadBuffer(4 << 10)
	reader.until("stalled joined", func(m msg) bool { return m.Type == "user_joined" && m.Username == "stalled" })

	big := strings.Repeat("s", 200_000)
	rev := writer.init.Rev
	for i := range 50 { // 20 MB for the stalled client: more than any socket buffers
		writer.send(`{"type":"op","rev":` + itoa(rev) + `,"op":["` + big + `"],"id":"s:` + itoa(int64(2*i)) + `"}`)
		rev = writer.next("ack").Rev
		writer.send(`{"type":"op","rev":` + itoa(rev) + `,"op":[{"d":200000}],"id":"s:` + itoa(int64(2*i+1)) + `"}`)
		rev = writer.next("ack").Rev
		reader.until("op", func(m msg) bool { return m.Type == "op" && m.Rev == rev })
	}
	if s.Handler.QueuedMessages() == 0 {
		t.Fatalf("nothing waits for the stalled client: it was not stalled")
	}
	if !hasUser(t, s, "stalled", "stalled") {
		t.Fatalf("the stalled client was dropped; this test needs it to stay")
	}
}

// TestFrameLengths: the session frames its messages itself (cork.go); a
// library client reads every length form, at each boundary (7-bit, 16-bit
// and 64-bit payload lengths: 125/126 and 65,535/65,536 bytes).
func TestFrameLengths(t *testing.T) {
	s := newServer(t, unlimited)
	reader := s.ot("lengths", "reader")
	writer := s.ot("lengths", "writer")
	reader.until("writer joined", func(m msg) bool { return m.Type == "user_joined" && m.Username == "writer" })
	rev := writer.init.Rev
	for _, span := range [][2]int{{0, 140}, {65_380, 65_560}} {
		for n := span[0]; n <= span[1]; n++ { // an op frame is about 76 bytes more than its text
			ins := strings.Repeat("f", n+1)
			writer.send(`{"type":"op","rev":` + itoa(rev) + `,"op":["` + ins + `"],"id":"f:` + itoa(int64(n)) + `"}`)
			rev = writer.next("ack").Rev
			m := reader.until("op", func(m msg) bool { return m.Type == "op" && m.Rev == rev })
			if string(m.Op) != `["`+ins+`"]` {
				t.Fatalf("op %d arrived as %.80s", rev, m.raw)
			}
			writer.send(`{"type":"op","rev":` + itoa(rev) + `,"op":[{"d":` + strconv.Itoa(len(ins)) + `}],"id":"g:` + itoa(int64(n)) + `"}`)
			rev = writer.next("ack").Rev
			reader.until("delete", func(m msg) bool { return m.Type == "op" && m.Rev == rev })
		}
	}
}

// TestHalfOpen: a peer that never answers pings is dropped and leaves.
func TestHalfOpen(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.PingInterval, c.PongTimeout = 50*time.Millisecond, 200*time.Millisecond })
	watcher := s.ot("halfopen", "watcher")
	mute := s.ot("halfopen", "mute")
	watcher.until("mute joined", func(m msg) bool { return m.Type == "user_joined" })
	pauseReading(mute) // no reads after the next message: pings go unanswered
	watcher.send(`{"type":"chat","message":"wake mute's reader so that it pauses"}`)
	watcher.until("mute left", func(m msg) bool { return m.Type == "user_left" && m.Username == "mute" })
	if hasUser(t, s, "halfopen", "mute") {
		t.Fatalf("mute still present")
	}
	// The watcher, which reads, survived several ping rounds.
	watcher.roundTrip()
}

func TestShutdownClosesGoingAway(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("shutdown", "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Collab.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Handler.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := a.closeStatus(); code != websocket.StatusGoingAway {
		t.Fatalf("closed with %d, want 1001", code)
	}
	if n := s.Handler.Connections(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// hasUser reports whether username is connected to doc, per collab.
func hasUser(t *testing.T, s *server, doc, username string) bool {
	t.Helper()
	users, err := s.Collab.ActiveUsers(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Username == username {
			return true
		}
	}
	return false
}

// pauseReading stops c's reader goroutine after its current read, until
// the returned function is called (at the latest when the test ends).
func pauseReading(c *client) (resume func()) {
	gate := make(chan struct{})
	c.mu.Lock()
	c.gate = gate
	c.mu.Unlock()
	var once sync.Once
	resume = func() { once.Do(func() { close(gate) }) }
	c.t.Cleanup(resume)
	return resume
}

// TestGarbageNeverHurts throws mutated messages at a connection: every one
// is answered without a server fault, the connection survives, and a
// bystander sees only well-formed traffic.
func TestGarbageNeverHurts(t *testing.T) {
	s := newServer(t, func(c *ws.Config) { c.OpRate, c.OpBurst, c.OtherRate, c.OtherBurst = 1e6, 1e6, 1e6, 1e6 })
	a := s.ot("garbage", "alice")
	sd := s.seed("garbage", "bob")
	bystander := s.ot("garbage", "carol")
	valid := []string{
		`{"type":"op","rev":0,"op":[{"d":"x"}],"id":"g"}`,
		`{"type":"cursor","rev":0,"anchor":0,"head":0,"position":{"lineNumber":1}}`,
		`{"type":"chat","message":"m","client_msg_id":"c"}`,
		`{"type":"update","data":{"content":"q"},"timestamp":1}`,
		`{"type":"ping"}`,
	}
	junk := []string{`"`, `\`, `\u`, `\ud800`, `{`, `}`, `[`, `]`, `:`, `,`, `null`, `-1`, `1e309`, `"type"`, `"op"`, `{"d":-5}`, `"😀"`, "\xff", ` `, `0`}
	rng := rand.New(rand.NewPCG(42, 42))
	for i := range 400 {
		m := []byte(valid[rng.IntN(len(valid))])
		for range 1 + rng.IntN(3) {
			at := rng.IntN(len(m) + 1)
			cut := min(at+rng.IntN(4), len(m))
			m = append(m[:at:at], append([]byte(junk[rng.IntN(len(junk))]), m[cut:]...)...)
		}
		target := a
		if i%2 == 1 {
			target = sd
		}
		target.send(m)
	}
	for _, c := range []*client{a, sd} {
		for _, m := range c.roundTrip() {
			if m.Type == "error" && m.Code == "internal" {
				t.Fatalf("server fault: %s", m.raw)
			}
		}
	}
	for _, m := range bystander.roundTrip() {
		if m.Type == "error" {
			t.Fatalf("bystander got %s", m.raw)
		}
	}
	text, _ := s.current("garbage")
	if stored, _ := s.stored("garbage"); stored != text {
		t.Fatalf("stored %q != live %q", stored, text)
	}
}

// TestRevokedTokenCloses: logging out (revoking the token) ends the
// sessions opened with it.
func TestRevokedTokenCloses(t *testing.T) {
	checks := make(chan struct{}, 64)
	var watched atomic.Value // the token whose checks count
	s := newServer(t, func(c *ws.Config) {
		c.ReauthInterval = 20 * time.Millisecond
		c.Auth = countingAuth{c.Auth, &watched, checks}
	})
	tok := s.token("alice")
	watched.Store(tok)
	c, _, err := s.dial("revoke", dialOpts{subprotocols: []string{"gdoc.v1", "bearer." + tok}})
	if err != nil {
		t.Fatal(err)
	}
	other := s.ot("revoke", "bob")
	// The handshake checked the token; then c survives three re-checks
	// while it is valid.
	timeout := time.After(waitFor)
	for n := 0; n < 1+3; n++ {
		select {
		case <-checks:
		case <-timeout:
			t.Fatalf("only %d token checks within %v", n, waitFor)
		}
	}
	c.roundTrip()
	if err := s.Auth.Revoke(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	code, reason := c.closeStatus()
	if code != ws.CloseUnauthenticated || reason != "Token expired or revoked" {
		t.Fatalf("closed with %d %q", code, reason)
	}
	other.roundTrip()
}

// countingAuth is the real authenticator that also signals every check of
// the watched token.
type countingAuth struct {
	gdoc.Authenticator
	watched *atomic.Value
	checks  chan<- struct{}
}

func (a countingAuth) Authenticate(ctx context.Context, token string) (*gdoc.User, error) {
	u, err := a.Authenticator.Authenticate(ctx, token)
	if a.watched.Load() == token {
		select {
		case a.checks <- struct{}{}:
		default:
		}
	}
	return u, err
}

// TestSameOpIDInTwoDocuments: ops that share id and revision in two
// documents reach each document's clients as their own op (op frames are
// encoded once and shared, per document).
func TestSameOpIDInTwoDocuments(t *testing.T) {
	s := newServer(t, nil)
	a1, b1 := s.ot("doc-one", "alice"), s.ot("doc-one", "bob")
	a2, b2 := s.ot("doc-two", "alice"), s.ot("doc-two", "bob")
	a1.send(`{"type":"op","rev":0,"op":["one"],"id":"same:1"}`)
	a2.send(`{"type":"op","rev":0,"op":["two"],"id":"same:1"}`)
	a1.next("ack")
	a2.next("ack")
	if op := b1.next("op"); string(op.Op) != `["one"]` {
		t.Fatalf("doc-one got %s", op.raw)
	}
	if op := b2.next("op"); string(op.Op) != `["two"]` {
		t.Fatalf("doc-two got %s", op.raw)
	}
}

// TestDeletedDocumentCloses: deleting a document closes its connections
// with 4404 "Document deleted", which tells clients not to reconnect.
func TestDeletedDocumentCloses(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("doomed", "alice")
	b := s.seed("doomed", "bob")
	if err := s.Store.DeleteDocument(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	s.Collab.Forget("doomed")
	for _, c := range []*client{a, b} {
		if code, reason := c.closeStatus(); code != ws.CloseNotFound || reason != "Document deleted" {
			t.Fatalf("closed with %d %q, want 4404 \"Document deleted\"", code, reason)
		}
	}
}

// TestShutdownAcksWhatItStored: when the server shuts down while ops
// stream in, every op it stored is acked before the 1001 close (so the
// client does not need to resend it) and every ack is for a stored op.
// Ops it had not read yet are neither: the client resends them later.
func TestShutdownAcksWhatItStored(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("drain", "alice")
	for i := range 20 {
		a.send(`{"type":"op","rev":0,"op":["x"],"id":"d:` + itoa(int64(i)) + `"}`)
	}
	first := a.next("ack")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Collab.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Handler.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	acked, refused := map[string]bool{first.id(): true}, 0
	for _, m := range a.drain("the server's shutdown", waitFor) {
		switch {
		case m.Type == "ack":
			acked[m.id()] = true
		case m.Type == "error" && m.Code == "unavailable":
			refused++
		default:
			t.Fatalf("unexpected %s", m.raw)
		}
	}
	var ce websocket.CloseError
	if !asCloseError(a.err, &ce) || ce.Code != websocket.StatusGoingAway {
		t.Fatalf("closed with %v, want 1001", a.err)
	}
	if len(acked)+refused > 20 {
		t.Fatalf("%d acks and %d refusals for 20 ops", len(acked), refused)
	}
	ops, err := s.Store.Ops(context.Background(), "drain", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if !acked[o.OpID] {
			t.Fatalf("stored op %s was never acked", o.OpID)
		}
	}
	if len(ops) != len(acked) {
		t.Fatalf("%d stored, %d acked", len(ops), len(acked))
	}
}

// TestPlainHTTP: a GET without the upgrade is refused with 426, not a
// server error.
func TestPlainHTTP(t *testing.T) {
	s := newServer(t, nil)
	resp, err := http.Get(s.HTTP.URL + "/ws/doc?token=" + s.token("alice"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
}
