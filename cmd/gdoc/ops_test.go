package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/config"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/testenv"
)

var metricsPattern = regexp.MustCompile(`metrics on (http://[0-9A-Za-z.:\[\]]+)/metrics`)

// metricsURL is the base URL of the metrics listener a server logged.
func (s *server) metricsURL(t *testing.T) string {
	t.Helper()
	m := metricsPattern.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", s.out)
	}
	return m[1]
}

// scrape returns every sample of GET base/metrics, keyed by name and labels
// as printed ("name" or `name{a="b"}`).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// sample returns the named sample, failing when the scrape lacks it.
func sample(t *testing.T, m map[string]float64, name string) float64 {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Fatalf("the scrape has no %s", name)
	}
	return v
}

// typist sends op after op on one connection, each after the previous ack,
// inserting at the start of the document.
type typist struct {
	conn *otclient.Conn
	rev  int64
	seq  int
}

func (e *typist) edit(ctx context.Context, t *testing.T) (id string, rev int64) {
	t.Helper()
	e.seq++
	id = fmt.Sprintf("e:%d", e.seq)
	if err := e.conn.Send(ctx, map[string]any{"type": "op", "rev": e.rev, "op": []any{"x"}, "id": id}); err != nil {
		t.Errorf("send op: %v", err)
		return "", 0
	}
	for {
		m, err := e.conn.Read(ctx)
		if err != nil {
			t.Errorf("read ack of %s: %v", id, err)
			return "", 0
		}
		switch {
		case m.Type == "ack" && m.ID == id:
			e.rev = m.Rev
			return id, m.Rev
		case m.Type == "error":
			t.Errorf("op %s refused: %s", id, m.Raw)
			return "", 0
		}
	}
}

func TestMetricsCountEdits(t *testing.T) {
	s := start(t, map[string]string{"METRICS_ADDR": "127.0.0.1:0"})
	base := s.metricsURL(t)
	before := scrape(t, base)
	if v := sample(t, before, `gdoc_build_info{goversion="`+goVersion()+`",version="dev"}`); v != 1 {
		t.Fatalf("gdoc_build_info = %v", v)
	}
	if v := sample(t, before, "gdoc_websocket_connections"); v != 0 {
		t.Fatalf("connections before any = %v", v)
	}

	tok := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, init, err := otclient.Dial(ctx, s.URL, "metrics-doc", tok.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	ed := &typist{conn: conn, rev: init.Rev}
	const edits = 5
	for range edits {
		ed.edit(ctx, t)
	}
	// Chat far past the burst (20, then 10/s; each accepted chat is an
	// fsync'd commit, so a slow disk refills tokens): every message is
	// answered by a chat_ack or a rate_limited error.
	const chats = 100
	for i := range chats {
		if err := conn.Send(ctx, map[string]any{"type": "chat", "message": "hi", "client_msg_id": strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	acked, limited := 0, 0
	for acked+limited < chats {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after %d chat_acks and %d refusals: %v", acked, limited, err)
		}
		switch {
		case m.Type == "chat_ack":
			acked++
		case m.Type == "error" && m.Code == "rate_limited":
			limited++
		case m.Type == "error":
			t.Fatalf("unexpected error %s", m.Raw)
		}
	}
	if limited == 0 {
		t.Fatalf("%d chats in a burst were all accepted; the test needs some refused", chats)
	}

	after := scrape(t, base)
	delta := func(name string) float64 { return sample(t, after, name) - before[name] }
	if v := delta("gdoc_ops_committed_total"); v != edits {
		t.Errorf("gdoc_ops_committed_total moved by %v, want %d", v, edits)
	}
	if v := delta("gdoc_chat_messages_total"); v != float64(acked) {
		t.Errorf("gdoc_chat_messages_total moved by %v, want %d (the acked chats)", v, acked)
	}
	if v := sample(t, after, "gdoc_websocket_rate_limited_total"); v != float64(limited) {
		t.Errorf("gdoc_websocket_rate_limited_total = %v, want %d", v, limited)
	}
	if v := delta("gdoc_commit_duration_seconds_count"); v < 1 || v > edits {
		t.Errorf("commits timed: %v, want 1..%d", v, edits)
	}
	if v := delta("gdoc_commit_batch_ops_sum"); v != edits {
		t.Errorf("ops in timed commits: %v, want %d", v, edits)
	}
	if v := sample(t, after, "gdoc_websocket_connections"); v != 1 {
		t.Errorf("gdoc_websocket_connections = %v, want 1", v)
	}
	if v := sample(t, after, "gdoc_documents_loaded"); v != 1 {
		t.Errorf("gdoc_documents_loaded = %v, want 1", v)
	}
	for _, name := range []string{"gdoc_delivery_queue_messages", "gdoc_slow_consumers_dropped_total",
		"gdoc_http_rate_limited_total", `gdoc_database_errors_total{operation="append_ops"}`, "go_goroutines", "process_resident_memory_bytes"} {
		sample(t, after, name)
	}
	if v := sample(t, after, `gdoc_database_errors_total{operation="append_ops"}`); v != 0 {
		t.Errorf("database errors = %v", v)
	}

	// Neither /metrics nor pprof is on the public listener, and pprof is
	// off unless PPROF is set.
	r := call(t, "GET", s.URL+"/metrics", "", "")
	if strings.Contains(string(r.Body), "gdoc_build_info") {
		t.Errorf("the public listener serves metrics: %d", r.Status)
	}
	for _, u := range []string{s.URL + "/debug/pprof/", base + "/debug/pprof/"} {
		if r := call(t, "GET", u, "", ""); r.Status != 404 {
			t.Errorf("GET %s = %d, want 404 without PPROF", u, r.Status)
		}
	}
}

func TestMetricsOffByDefaultAndPprof(t *testing.T) {
	s := start(t, nil)
	if metricsPattern.MatchString(s.out.String()) {
		t.Fatalf("a metrics listener without METRICS_ADDR:\n%s", s.out)
	}
	p := start(t, map[string]string{"METRICS_ADDR": "127.0.0.1:0", "PPROF": "true", "AUTH_RATE_LIMIT": "2"})
	base := p.metricsURL(t)
	limited := 0
	for range 5 {
		if r := call(t, "POST", p.URL+"/api/auth/login", "", `{"username":"nobody","password":"wrongpass123"}`); r.Status == 429 {
			limited++
		}
	}
	if v := sample(t, scrape(t, base), "gdoc_http_rate_limited_total"); limited == 0 || v != float64(limited) {
		t.Errorf("gdoc_http_rate_limited_total = %v after %d answers 429", v, limited)
	}
	if r := call(t, "GET", base+"/debug/pprof/", "", ""); r.Status != 200 || !strings.Contains(string(r.Body), "goroutine") {
		t.Errorf("pprof index: %d %.200s", r.Status, r.Body)
	}
	if r := call(t, "GET", p.URL+"/debug/pprof/", "", ""); r.Status != 404 {
		t.Errorf("pprof on the public listener: %d", r.Status)
	}
}

// TestBackupWhileEditing copies the database while an editor commits op
// after op: the copy opens and holds every op acknowledged before the backup
// began, at the revision the ack gave.
func TestBackupWhileEditing(t *testing.T) {
	s := start(t, nil)
	tok := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, init, err := otclient.Dial(ctx, s.URL, "backup-doc", tok.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()

	var (
		mu    sync.Mutex
		acked = map[string]int64{} // op id -> revision, as acknowledged
	)
	ackedNow := func() map[string]int64 {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]int64, len(acked))
		for k, v := range acked {
			out[k] = v
		}
		return out
	}
	stop := make(chan struct{})
	editing := make(chan struct{})
	go func() {
		defer close(editing)
		ed := &typist{conn: conn, rev: init.Rev}
		for i := 0; i < 5000; i++ { // bounded; stopped after the backup
			select {
			case <-stop:
				return
			default:
			}
			id, rev := ed.edit(ctx, t)
			if id == "" {
				return
			}
			mu.Lock()
			acked[id] = rev
			mu.Unlock()
		}
	}()
	waitFor := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for len(ackedNow()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d edits acknowledged", len(ackedNow()))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(20)

	dest := filepath.Join(t.TempDir(), "copy.db")
	getenv := func(k string) string {
		if k == "DATA_DIR" {
			return s.DataDir
		}
		return ""
	}
	var out strings.Builder
	before := ackedNow()
	if err := run(ctx, []string{"gdoc", "backup", "--env-file=", dest}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("backup: %v", err)
	}
	waitFor(len(before) + 10) // edits went on during and after the copy
	close(stop)
	<-editing
	if !strings.Contains(out.String(), "written to "+dest) {
		t.Errorf("backup output: %q", out.String())
	}

	copyStore, err := sqlite.Open(ctx, dest)
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer copyStore.Close()
	if _, err := copyStore.Document(ctx, "backup-doc"); err != nil {
		t.Fatalf("the copy lacks the document: %v", err)
	}
	for id, rev := range before {
		got, err := copyStore.OpRev(ctx, "backup-doc", tok.ID, id)
		if err != nil || got != rev {
			t.Fatalf("acknowledged op %s (rev %d) in the copy: rev %d, %v", id, rev, got, err)
		}
	}
	head, err := copyStore.HeadRev(ctx, "backup-doc")
	if err != nil || head < int64(len(before)) {
		t.Fatalf("copy head %d, %v; %d ops were acknowledged before it", head, err, len(before))
	}
	t.Logf("%d ops acknowledged before the backup; the copy holds %d", len(before), head)

	// A second backup to the same file is refused and leaves it as it was.
	st, _ := os.Stat(dest)
	err = run(ctx, []string{"gdoc", "backup", "--env-file=", dest}, getenv, io.Discard, io.Discard)
	var cerr *config.Error
	if !asConfigError(err, &cerr) || !strings.Contains(cerr.Message, "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	if st2, _ := os.Stat(dest); st2 == nil || st2.Size() != st.Size() || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("the refused backup changed %s", dest)
	}
}

func TestBackupErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"NoFile":     {args: nil, want: "needs the file to write"},
		"FlagLast":   {args: []string{"--data-dir=" + dir}, want: "needs the file to write"},
		"NoDatabase": {args: []string{"--data-dir", filepath.Join(dir, "none"), filepath.Join(dir, "x.db")}, want: "There is no database"},
		"Postgres": {args: []string{filepath.Join(dir, "y.db")},
			env: map[string]string{"DATABASE_URL": "postgres://db/x", "SECRET_KEY": strings.Repeat("k", 32)}, want: "pg_dump"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"gdoc", "backup", "--env-file="}, tc.args...)
			err := run(ctx, args, func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
			var cerr *config.Error
			if !asConfigError(err, &cerr) || !strings.Contains(cerr.Message, tc.want) {
				t.Fatalf("err = %v, want a config error containing %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); err == nil {
		t.Error("a failed backup created the data directory")
	}
}

func asConfigError(err error, target **config.Error) bool { return errors.As(err, target) }

func goVersion() string { return runtime.Version() }

// TestMetricsOnPostgresAndRedis: the same decorators count on PostgreSQL,
// and the Redis fan-out's error counters are served (at zero).
func TestMetricsOnPostgresAndRedis(t *testing.T) {
	s := start(t, map[string]string{"DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("m", 40),
		"REDIS_URL": testenv.RedisURL(t), "METRICS_ADDR": "127.0.0.1:0"})
	base := s.metricsURL(t)
	alice := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, init, err := otclient.Dial(ctx, s.URL, "pg-metrics", alice.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	ed := &typist{conn: conn, rev: init.Rev}
	for range 3 {
		ed.edit(ctx, t)
	}
	m := scrape(t, base)
	if v := sample(t, m, "gdoc_ops_committed_total"); v != 3 {
		t.Errorf("gdoc_ops_committed_total = %v, want 3", v)
	}
	for _, op := range []string{"publish", "subscribe", "presence_join"} {
		if v := sample(t, m, `gdoc_redis_errors_total{operation="`+op+`"}`); v != 0 {
			t.Errorf("redis %s errors = %v", op, v)
		}
	}
	if v := sample(t, m, `gdoc_database_errors_total{operation="append_ops"}`); v != 0 {
		t.Errorf("database errors = %v", v)
	}
}
