package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size at a fresh directory and unmounts it
// when the test ends. It skips (fails under CI=true) when the test cannot
// mount, e.g. when not root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot mount a tmpfs (root needed): %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (root needed): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes path until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for i := 0; i < 1<<16; i++ {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the disk never filled")
}

// editor sends ops one at a time on conn, each appending a marker, and
// remembers which were acknowledged.
type editor struct {
	t      *testing.T
	client string // the op ids' prefix, unique per connection
	conn   *otclient.Conn
	rev    int64
	chars  int
	seq    int
	acked  []string
}

// edit sends one op appending marker and returns the server's answer:
// "" for an ack, else the error code and message.
func (e *editor) edit(ctx context.Context, marker string) string {
	e.t.Helper()
	e.seq++
	return e.resend(ctx, e.seq, marker)
}

// resend sends op number seq (appending marker at the current end) again,
// under the same id.
func (e *editor) resend(ctx context.Context, seq int, marker string) string {
	e.t.Helper()
	id := fmt.Sprintf("%s:%d", e.client, seq)
	op := json.RawMessage(fmt.Sprintf(`[%d,%q]`, e.chars, marker))
	if e.chars == 0 {
		op = json.RawMessage(fmt.Sprintf(`[%q]`, marker))
	}
	if err := e.conn.Send(ctx, map[string]any{"type": "op", "rev": e.rev, "op": op, "id": id}); err != nil {
		e.t.Fatalf("send %s: %v", id, err)
	}
	for {
		m, err := e.conn.Read(ctx)
		if err != nil {
			e.t.Fatalf("waiting for the answer to %s: %v", id, err)
		}
		switch {
		case m.Type == "ack" && m.ID == id:
			e.rev = m.Rev
			e.chars += len([]rune(marker))
			e.acked = append(e.acked, marker)
			return ""
		case m.Type == "error" && m.ID == id:
			return m.Code + ": " + m.Text()
		case m.Type == "error":
			e.t.Fatalf("error about something else while waiting for %s: %s", id, m.Raw)
		}
	}
}

// TestSQLiteFullDisk: when the disk holding the SQLite database fills up,
// edits are refused with a clear `unavailable` error (nothing acknowledged
// that is not stored), the connection stays, and once space returns edits
// are accepted again; every acknowledged edit is in the document, also
// after a restart.
func TestSQLiteFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, "12m")
	dataDir := filepath.Join(mnt, "data")
	env := map[string]string{"DATA_DIR": dataDir, "AUTO_SAVE_INTERVAL": "3600"}
	s := start(t, env)
	alice := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, _, err := otclient.Dial(ctx, s.URL, "full-disk", alice.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	e := &editor{t: t, conn: conn, client: "disk"}
	if code := e.edit(ctx, "before;"); code != "" {
		t.Fatalf("first edit: %s", code)
	}

	fillDisk(t, filepath.Join(mnt, "filler"))
	// A few edits may still fit in pages SQLite already holds; soon one is
	// refused. Refusals must say what is wrong.
	refused := ""
	for i := 0; i < 2000 && refused == ""; i++ {
		refused = e.edit(ctx, fmt.Sprintf("full%d;%s", i, strings.Repeat("x", 512)))
	}
	if refused == "" {
		t.Fatal("2000 edits of 512 bytes were all acknowledged on a full disk")
	}
	if !strings.HasPrefix(refused, "unavailable: ") {
		t.Fatalf("refusal on a full disk: %q, want unavailable (resend later)", refused)
	}
	t.Logf("refused: %s", refused)
	// REST writes that reach the store directly say so too, with 503.
	if r := call(t, "POST", s.URL+"/api/documents", alice.Token, `{"title":"t","content":"`+strings.Repeat("y", 64<<10)+`"}`); r.Status != 503 || !strings.Contains(r.Detail(t), "disk") {
		t.Fatalf("create on a full disk: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", s.URL+"/healthz", "", ""); r.Status != 200 {
		t.Fatalf("healthz on a full disk: %d", r.Status)
	}

	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	var after string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if after = e.edit(ctx, "after;"); after == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edits still refused after space returned: %s", after)
		}
	}

	check := func(base string) {
		t.Helper()
		var got document
		call(t, "GET", base+"/api/documents/full-disk", "", "").Decode(t, &got)
		for _, marker := range e.acked {
			if strings.Count(got.Content, marker) != 1 {
				t.Fatalf("acknowledged %q appears %d times in %d bytes", marker[:min(len(marker), 12)], strings.Count(got.Content, marker), len(got.Content))
			}
		}
	}
	check(s.URL)
	if !strings.Contains(s.out.String(), "disk is full") {
		t.Errorf("the server log does not name the full disk:\n%s", s.out)
	}
	conn.Close()
	s.shutdown(t)
	check(start(t, env).URL)
}

// privatePostgres is a PostgreSQL cluster of this test's own, run as the
// postgres user on a free port (the shared server is never touched).
type privatePostgres struct {
	t          *testing.T
	bin, data  string
	port       string
	credential *syscall.Credential
}

// startPrivatePostgres initdbs a cluster in a temporary directory and
// starts it. It skips (fails under CI=true) without root, a postgres user
// or PostgreSQL's server binaries.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	var bin string
	if p, err := exec.LookPath("initdb"); err == nil {
		bin = filepath.Dir(p)
	} else if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(matches) > 0 {
		bin = filepath.Dir(matches[len(matches)-1])
	} else {
		skip("no initdb: a private PostgreSQL needs the server binaries")
	}
	if os.Geteuid() != 0 {
		skip("not root: cannot run initdb as the postgres user")
	}
	out, err := exec.Command("id", "-u", "postgres").Output()
	uid, gid := 0, 0
	if err == nil {
		fmt.Sscan(string(out), &uid)
		if out, err = exec.Command("id", "-g", "postgres").Output(); err == nil {
			fmt.Sscan(string(out), &gid)
		}
	}
	if err != nil || uid == 0 {
		skip("no postgres user: %v", err)
	}
	root, err := os.MkdirTemp("", "gdoc-private-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	os.Chown(root, uid, gid)
	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(data, uid, gid)
	port := fmt.Sprint(freeTCPPort(t))
	pg := &privatePostgres{t: t, bin: bin, data: data, port: port, credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	pg.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	pg.start()
	t.Cleanup(func() { pg.cmd("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run() })
	return pg
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (pg *privatePostgres) cmd(name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	pg.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.credential}
	cmd.Dir = filepath.Dir(pg.data)
	return cmd
}

func (pg *privatePostgres) run(name string, args ...string) {
	pg.t.Helper()
	if out, err := pg.cmd(name, args...).CombinedOutput(); err != nil {
		pg.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (pg *privatePostgres) start() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.data, "-w", "-t", "30", "-l", filepath.Join(filepath.Dir(pg.data), "pg.log"),
		"-o", "-p "+pg.port+" -c listen_addresses=127.0.0.1 -c unix_socket_directories="+filepath.Dir(pg.data), "start")
}

func (pg *privatePostgres) stop() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop")
}

func (pg *privatePostgres) URL() string {
	return "postgres://postgres@127.0.0.1:" + pg.port + "/postgres?sslmode=disable"
}

// TestPostgresStoppedMidEdit: with PostgreSQL stopped for 10 s, nothing is
// acknowledged (edits are answered `unavailable`, the connection kept);
// once it is back, the same op resent under its id is acknowledged; every
// acknowledged edit is in the document exactly once.
func TestPostgresStoppedMidEdit(t *testing.T) {
	pg := startPrivatePostgres(t)
	s := start(t, map[string]string{"DATABASE_URL": pg.URL(), "SECRET_KEY": strings.Repeat("s", 40)})
	alice := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	conn, _, err := otclient.Dial(ctx, s.URL, "pg-outage", alice.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	e := &editor{t: t, conn: conn, client: "pg"}
	for i := 0; i < 3; i++ {
		if code := e.edit(ctx, fmt.Sprintf("up%d;", i)); code != "" {
			t.Fatalf("edit before the outage: %s", code)
		}
	}

	pg.stop()
	stopped := time.Now()
	// During the outage every edit is refused, none acknowledged.
	refusals := 0
	e.seq++ // one new op, resent under its id until it goes through
	for time.Since(stopped) < 10*time.Second {
		code := e.resend(ctx, e.seq, "down;")
		if code == "" {
			t.Fatal("an edit was acknowledged while PostgreSQL was stopped")
		}
		if !strings.HasPrefix(code, "unavailable: ") {
			t.Fatalf("refusal during the outage: %q, want unavailable", code)
		}
		refusals++
		time.Sleep(500 * time.Millisecond)
	}
	if refusals == 0 {
		t.Fatal("no edit was tried during the outage")
	}
	pg.start()
	// The same op, resent under the same id, goes through once PostgreSQL is back.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code := e.resend(ctx, e.seq, "down;")
		if code == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edits still refused 30 s after PostgreSQL returned: %s", code)
		}
	}
	if code := e.edit(ctx, "back;"); code != "" {
		t.Fatalf("edit after the outage: %s", code)
	}
	var got document
	call(t, "GET", s.URL+"/api/documents/pg-outage", "", "").Decode(t, &got)
	for _, marker := range e.acked {
		if strings.Count(got.Content, marker) != 1 {
			t.Fatalf("acknowledged %q appears %d times in %q", marker, strings.Count(got.Content, marker), got.Content)
		}
	}
	if want := "up0;up1;up2;down;back;"; got.Content != want {
		t.Fatalf("content %q, want %q", got.Content, want)
	}
}

// TestShutdownWith50Clients: on SIGTERM (run's context canceled) with 50
// editors connected, each with an edit acknowledged and one in flight, the
// server closes every socket with 1001, returns within 10 s, and every
// acknowledged edit is in the documents after a restart.
func TestShutdownWith50Clients(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"DATA_DIR": dataDir, "AUTO_SAVE_INTERVAL": "3600"}
	s := start(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		acked []string
		code  websocket.StatusCode
		err   error
	}
	const clients, docs = 50, 5
	users := make([]testenv.User, 5)
	for i := range users {
		users[i] = testenv.Register(t, s.URL, fmt.Sprintf("user%d", i))
	}
	editors := make([]*editor, clients)
	for i := range editors {
		doc := fmt.Sprintf("shutdown-%d", i%docs)
		conn, init, err := otclient.Dial(ctx, s.URL, doc, users[i%len(users)].Token, -1)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer conn.CloseNow()
		editors[i] = &editor{t: t, conn: conn, rev: init.Rev, client: fmt.Sprintf("c%d", i)}
	}
	// One acknowledged edit each, at the start of the text (where every
	// client's position is valid whatever the others did): sequential, so
	// each editor's rev is current when it sends.
	for i, e := range editors {
		if code := e.edit(ctx, fmt.Sprintf("<c%d>", i)); code != "" {
			t.Fatalf("client %d: %s", i, code)
		}
		e.chars = 0
	}
	// Then one more each, not waited for, and read until the close.
	results := make(chan result, clients)
	for i, e := range editors {
		e.seq++
		id := fmt.Sprintf("%s:%d", e.client, e.seq)
		marker := fmt.Sprintf("<late%d>", i)
		if err := e.conn.Send(ctx, map[string]any{"type": "op", "rev": e.rev, "op": json.RawMessage(fmt.Sprintf(`[%q]`, marker)), "id": id}); err != nil {
			t.Fatal(err)
		}
		go func(e *editor, id, marker string) {
			r := result{acked: e.acked}
			for {
				m, err := e.conn.Read(ctx)
				if err != nil {
					r.code, r.err = websocket.CloseStatus(err), err
					results <- r
					return
				}
				if m.Type == "ack" && m.ID == id {
					r.acked = append(r.acked, marker)
				}
			}
		}(e, id, marker)
	}
	stopped := time.Now()
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the server did not stop within 10 s of SIGTERM")
	}
	took := time.Since(stopped)
	var acked []string
	for range editors {
		r := <-results
		if r.code != websocket.StatusGoingAway {
			t.Fatalf("a client's connection ended with %v, want 1001 going away", r.err)
		}
		acked = append(acked, r.acked...)
	}
	t.Logf("stopped in %v with %d clients; %d edits acknowledged", took, clients, len(acked))

	again := start(t, env)
	var all strings.Builder
	for d := 0; d < docs; d++ {
		var got document
		call(t, "GET", fmt.Sprintf("%s/api/documents/shutdown-%d", again.URL, d), "", "").Decode(t, &got)
		all.WriteString(got.Content)
	}
	for _, marker := range acked {
		if n := strings.Count(all.String(), marker); n != 1 {
			t.Fatalf("acknowledged %s appears %d times after the restart", marker, n)
		}
	}
}
