package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	t     *testing.T
	conn  *otclient.Conn
	rev   int64
	chars int
	seq   int
	acked []string
}

// edit sends one op appending marker and returns the server's answer:
// "" for an ack, else the error code.
func (e *editor) edit(ctx context.Context, marker string) string {
	e.t.Helper()
	e.seq++
	id := fmt.Sprintf("disk:%d", e.seq)
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
	e := &editor{t: t, conn: conn}
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
