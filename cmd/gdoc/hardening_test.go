package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/testenv"
)

// trickle writes data to conn one byte every gap until done is closed or a
// write fails (the server hung up).
func trickle(conn net.Conn, data string, gap time.Duration, done <-chan struct{}) {
	for i := 0; i < len(data); i++ {
		select {
		case <-done:
			return
		case <-time.After(gap):
		}
		if _, err := conn.Write([]byte{data[i]}); err != nil {
			return
		}
	}
}

// TestReadTimeoutsCutTricklingClients: a client sending its headers or its
// body a byte at a time is cut off after READ_HEADER_TIMEOUT/READ_TIMEOUT,
// long before it would have finished, and its request changes nothing.
func TestReadTimeoutsCutTricklingClients(t *testing.T) {
	s := start(t, map[string]string{"READ_TIMEOUT": "1", "READ_HEADER_TIMEOUT": "1"})
	alice, doc := seedFlow(t, s.URL)
	addr := strings.TrimPrefix(s.URL, "http://")
	body := `{"content":"` + strings.Repeat("x", 150) + `"}`
	cases := map[string]struct{ head, slow string }{
		"Headers": {head: "GET /healthz HTTP/1.1\r\nHost: x\r\n", slow: "X-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"},
		"Body": {head: "PUT /api/documents/" + doc.ID + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Authorization: Bearer " + alice.AccessToken + "\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n", slow: body},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			defer close(done)
			// 100 ms a byte: the whole request would take 15 s or more.
			go trickle(conn, tc.slow, 100*time.Millisecond, done)
			started := time.Now()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				t.Fatalf("the server still held the trickling connection after %v", time.Since(started))
			}
			if err == nil {
				defer res.Body.Close()
				if res.StatusCode < 400 {
					t.Fatalf("a trickled request was served: %d", res.StatusCode)
				}
			}
		})
	}
	r := call(t, "GET", s.URL+"/api/documents/"+doc.ID, "", "")
	var got document
	if r.Decode(t, &got); got.Content != doc.Content {
		t.Fatalf("the trickled PUT changed the document to %q", got.Content)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// dialWS opens the OT dialect with token in the subprotocol and header
// added, waits for init, and returns the connection or the HTTP status
// that refused it.
func dialWS(ctx context.Context, t *testing.T, base, docID, token string, header http.Header) (*websocket.Conn, int) {
	t.Helper()
	url := strings.Replace(base, "http://", "ws://", 1) + "/ws/" + docID
	conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{"gdoc.v1", "bearer." + token}, HTTPHeader: header,
	})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			return nil, res.StatusCode
		}
		t.Fatalf("dial %s: %v", docID, err)
	}
	_, data, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"init"`) {
		t.Fatalf("first message %s, %v", data, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn, http.StatusSwitchingProtocols
}

// TestWebSocketOutlivesReadTimeout: READ_TIMEOUT does not cut a WebSocket
// (net/http drops the deadline when the handler hijacks the connection).
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	s := start(t, map[string]string{"READ_TIMEOUT": "1", "READ_HEADER_TIMEOUT": "1"})
	alice := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _ := dialWS(ctx, t, s.URL, "long-lived", alice.Token, nil)
	time.Sleep(2500 * time.Millisecond) // past READ_TIMEOUT
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"op","rev":0,"op":["still here"],"id":"c:1"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("the WebSocket was cut after READ_TIMEOUT: %v", err)
		}
		if strings.Contains(string(data), `"ack"`) {
			break
		}
	}
}

// TestWebSocketAdmission: the per-user and per-address caps on open
// connections and handshakes answer 429 before the upgrade, free a slot
// when a connection ends, and count the client named by a trusted proxy
// (only).
func TestWebSocketAdmission(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Run("PerUserOpenConnections", func(t *testing.T) {
		s := start(t, map[string]string{"WS_MAX_CONNECTIONS_PER_USER": "2"})
		alice := testenv.Register(t, s.URL, "alice")
		bob := testenv.Register(t, s.URL, "bob")
		first, _ := dialWS(ctx, t, s.URL, "d1", alice.Token, nil)
		dialWS(ctx, t, s.URL, "d2", alice.Token, nil)
		if _, status := dialWS(ctx, t, s.URL, "d3", alice.Token, nil); status != http.StatusTooManyRequests {
			t.Fatalf("alice's third connection: %d, want 429", status)
		}
		if _, status := dialWS(ctx, t, s.URL, "d1", bob.Token, nil); status != http.StatusSwitchingProtocols {
			t.Fatalf("bob was refused because of alice's connections: %d", status)
		}
		first.Close(websocket.StatusNormalClosure, "")
		for deadline := time.Now().Add(10 * time.Second); ; {
			conn, status := dialWS(ctx, t, s.URL, "d3", alice.Token, nil)
			if status == http.StatusSwitchingProtocols {
				conn.CloseNow()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a closed connection did not free its slot: %d", status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("PerUserHandshakes", func(t *testing.T) {
		s := start(t, map[string]string{"WS_HANDSHAKES_PER_USER": "3"})
		alice := testenv.Register(t, s.URL, "alice")
		for i := 0; i < 3; i++ {
			conn, status := dialWS(ctx, t, s.URL, "d", alice.Token, nil)
			if status != http.StatusSwitchingProtocols {
				t.Fatalf("handshake %d: %d", i+1, status)
			}
			conn.Close(websocket.StatusNormalClosure, "")
		}
		if _, status := dialWS(ctx, t, s.URL, "d", alice.Token, nil); status != http.StatusTooManyRequests {
			t.Fatalf("fourth handshake within a minute: %d, want 429", status)
		}
	})
	t.Run("PerAddressBehindATrustedProxy", func(t *testing.T) {
		s := start(t, map[string]string{"WS_MAX_CONNECTIONS_PER_IP": "1", "TRUSTED_PROXIES": "127.0.0.1"})
		alice := testenv.Register(t, s.URL, "alice")
		from := func(ip string) http.Header { return http.Header{"X-Real-Ip": {ip}} }
		dialWS(ctx, t, s.URL, "d", alice.Token, from("203.0.113.1"))
		if _, status := dialWS(ctx, t, s.URL, "d", alice.Token, from("203.0.113.2")); status != http.StatusSwitchingProtocols {
			t.Fatalf("another client behind the proxy: %d", status)
		}
		if _, status := dialWS(ctx, t, s.URL, "d", alice.Token, from("203.0.113.1")); status != http.StatusTooManyRequests {
			t.Fatalf("a second connection from 203.0.113.1: %d, want 429", status)
		}
	})
	t.Run("PerAddressIgnoresUntrustedHeaders", func(t *testing.T) {
		s := start(t, map[string]string{"WS_MAX_CONNECTIONS_PER_IP": "1", "WS_HANDSHAKES_PER_IP": "2"})
		alice := testenv.Register(t, s.URL, "alice")
		dialWS(ctx, t, s.URL, "d", alice.Token, http.Header{"X-Real-Ip": {"203.0.113.1"}})
		if _, status := dialWS(ctx, t, s.URL, "d", alice.Token, http.Header{"X-Real-Ip": {"203.0.113.2"}}); status != http.StatusTooManyRequests {
			t.Fatalf("a spoofed X-Real-IP escaped the per-address cap: %d", status)
		}
		// Two handshakes used the minute's budget: the third is refused even
		// though a slot would be free.
		r := call(t, "GET", s.URL+"/ws/d", "", "")
		if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Detail(t), "a minute") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("third handshake: %d %s", r.Status, r.Body)
		}
	})
}

// TestRESTWritesRateLimitedPerUser: document writes past the per-user
// budget get 429 with a sentence; another user is not affected.
func TestRESTWritesRateLimitedPerUser(t *testing.T) {
	s := start(t, map[string]string{"REST_WRITE_RATE_LIMIT": "3"})
	alice := testenv.Register(t, s.URL, "alice")
	bob := testenv.Register(t, s.URL, "bob")
	for i := 0; i < 3; i++ {
		if r := call(t, "POST", s.URL+"/api/documents", alice.Token, `{"title":"t"}`); r.Status != 201 {
			t.Fatalf("write %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := call(t, "PUT", s.URL+"/api/documents/1", alice.Token, `{"title":"renamed"}`)
	if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Detail(t), "Too many document changes") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth write: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", s.URL+"/api/documents/1", "", ""); !strings.Contains(string(r.Body), `"title":"t"`) {
		t.Fatalf("the refused write changed the document: %s", r.Body)
	}
	if r := call(t, "POST", s.URL+"/api/documents", bob.Token, `{"title":"b"}`); r.Status != 201 {
		t.Fatalf("bob was limited by alice's writes: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", s.URL+"/api/documents", alice.Token, ""); r.Status != 200 {
		t.Fatalf("reads are not writes: %d", r.Status)
	}
}

// TestDocumentContentChecks: a PUT or create with NUL is 422, one past
// MAX_DOCUMENT_BYTES is 413, and neither changes anything (not even the
// title sent alongside).
func TestDocumentContentChecks(t *testing.T) {
	s := start(t, map[string]string{"MAX_DOCUMENT_BYTES": "2048"})
	alice, doc := seedFlow(t, s.URL)
	put := func(body string) testenv.Response {
		return call(t, "PUT", s.URL+"/api/documents/"+doc.ID, alice.AccessToken, body)
	}
	if r := put(`{"title":"renamed","content":"a\u0000b"}`); r.Status != 422 || !strings.Contains(r.Detail(t), "NUL") {
		t.Fatalf("PUT with NUL: %d %s", r.Status, r.Body)
	}
	if r := put(`{"title":"renamed","content":"` + strings.Repeat("y", 2049) + `"}`); r.Status != 413 || !strings.Contains(r.Detail(t), "2 KiB") {
		t.Fatalf("PUT past the cap: %d %s", r.Status, r.Body)
	}
	if r := call(t, "POST", s.URL+"/api/documents", alice.AccessToken, `{"title":"n","content":"\u0000"}`); r.Status != 422 {
		t.Fatalf("create with NUL: %d %s", r.Status, r.Body)
	}
	var got document
	call(t, "GET", s.URL+"/api/documents/"+doc.ID, "", "").Decode(t, &got)
	if got.Title != doc.Title || got.Content != doc.Content || got.Rev != doc.Rev {
		t.Fatalf("refused PUTs changed the document: %+v", got)
	}
	if r := put(`{"content":"` + strings.Repeat("z", 2048) + `"}`); r.Status != 200 {
		t.Fatalf("PUT at the cap: %d %s", r.Status, r.Body)
	}
}

// startPrivateRedis runs a redis-server of this test's own on a free port
// with requirepass password (the shared Redis is never reconfigured), and
// returns its address. It is killed when the test ends.
func startPrivateRedis(t *testing.T, password string) string {
	t.Helper()
	bin := testenv.Tool(t, "/usr/bin/redis-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	testenv.DieWithTest(cmd, syscall.SIGKILL)
	proc := testenv.StartProcess(t, "redis-server", cmd, nil)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if !proc.Alive() || time.Now().After(deadline) {
			t.Fatalf("private redis-server did not start on %s", addr)
		}
	}
}

// TestRedisWithPassword: REDIS_URL (and REDIS_HOST with REDIS_PASSWORD)
// reach a Redis that requires a password, and fan-out and presence work
// through it; a wrong password stops start-up with a sentence that does not
// print the password.
func TestRedisWithPassword(t *testing.T) {
	const password = "s3cret-redis-pw"
	addr := startPrivateRedis(t, password)
	host, port, _ := net.SplitHostPort(addr)
	env := map[string]string{"DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("p", 40)}
	withURL := map[string]string{"REDIS_URL": "redis://:" + password + "@" + addr + "/0"}
	withHost := map[string]string{"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_PASSWORD": password}
	for k, v := range env {
		withURL[k], withHost[k] = v, v
	}
	one, two := start(t, withURL), start(t, withHost)
	for _, s := range []*server{one, two} {
		if !strings.Contains(s.out.String(), "fanout=Redis") {
			t.Fatalf("not on Redis fan-out:\n%s", s.out)
		}
	}
	alice := testenv.Register(t, one.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _ := dialWS(ctx, t, one.URL, "pw-doc", alice.Token, nil)
	defer conn.CloseNow()
	r := call(t, "GET", two.URL+"/api/documents/pw-doc/users", "", "")
	if r.Status != 200 || !strings.Contains(string(r.Body), `"active_users":["`+alice.ID+`"]`) {
		t.Fatalf("instance two does not see instance one's user through the private Redis: %d %s", r.Status, r.Body)
	}

	wrong := map[string]string{"REDIS_URL": "redis://:wrong-password@" + addr + "/0"}
	for k, v := range env {
		wrong[k] = v
	}
	wrong["HOST"], wrong["PORT"], wrong["DATA_DIR"] = "127.0.0.1", "0", t.TempDir()
	var out strings.Builder
	err := run(context.Background(), []string{"gdoc", "--env-file="}, func(k string) string { return wrong[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis") || strings.Contains(err.Error()+out.String(), "wrong-password") {
		t.Fatalf("start-up with a wrong Redis password: %v\n%s", err, out.String())
	}
}
