package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/storetest"
)

// mustOpen opens a store on a fresh file in a temporary directory (in a
// subdirectory, so Open must create it) and closes it after the test.
func mustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return storetest.Open(tb, sqlite.Open, filepath.Join(tb.TempDir(), "data", "gdoc.db"))
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gdoc.Store { return mustOpen(t) })
}

func TestOpen(t *testing.T) {
	t.Run("ReopenKeepsDataAndMigratesOnce", func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "gdoc.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateDocument(ctx, &gdoc.Document{ID: "doc", Title: "t", Content: "kept"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		d, err := storetest.Open(t, sqlite.Open, path).Document(ctx, "doc")
		if err != nil || d.Content != "kept" {
			t.Fatalf("after reopen: %+v, %v", d, err)
		}
	})
	t.Run("ErrBadPath", func(t *testing.T) {
		for _, path := range []string{"", filepath.Join(t.TempDir(), "a?b.db"), ":memory:", "file:x.db"} {
			_, err := sqlite.Open(context.Background(), path)
			if gdoc.ErrorCode(err) != gdoc.EINVALID {
				t.Fatalf("Open(%q): error %v, want %s", path, err, gdoc.EINVALID)
			}
		}
	})
	t.Run("ErrUnwritableDirectory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlite.Open(context.Background(), filepath.Join(file, "gdoc.db")); err == nil {
			t.Fatal("Open under a regular file succeeded")
		}
	})
}

// TestDurabilityAcrossCrash runs a child process (this test binary, see
// TestMain) that appends ops one commit at a time and prints each committed
// revision; the parent kills it with SIGKILL at a random moment, reopens the
// file and checks that every revision the child reported is there, once,
// with no gap before the head.
func TestDurabilityAcrossCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	s := storetest.Open(t, sqlite.Open, path)
	if err := s.CreateDocument(context.Background(), &gdoc.Document{ID: "doc", Title: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 20 + rand.IntN(150)
		lines := bufio.NewScanner(stdout)
		var reported []int64
		for lines.Scan() {
			rev, err := strconv.ParseInt(strings.TrimPrefix(lines.Text(), "committed "), 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", lines.Text())
			}
			reported = append(reported, rev)
			if len(reported) == killAfter {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		// Drain what the child wrote before it died: those were committed too.
		for lines.Scan() {
			if rev, err := strconv.ParseInt(strings.TrimPrefix(lines.Text(), "committed "), 10, 64); err == nil {
				reported = append(reported, rev)
			}
		}
		err = cmd.Wait()
		if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
			t.Fatalf("round %d: child was not killed (exit %v) after %d revisions", round, err, len(reported))
		}

		s := storetest.Open(t, sqlite.Open, path)
		ops, err := s.Ops(context.Background(), "doc", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, op := range ops {
			if op.Rev != int64(i)+1 {
				t.Fatalf("round %d: revision %d at position %d: gap or duplicate", round, op.Rev, i)
			}
			if op.OpID != "crash:"+strconv.FormatInt(op.Rev, 10) {
				t.Fatalf("round %d: revision %d holds op %q", round, op.Rev, op.OpID)
			}
		}
		head, err := s.HeadRev(context.Background(), "doc")
		if err != nil {
			t.Fatal(err)
		}
		if head != int64(len(ops)) {
			t.Fatalf("round %d: head %d with %d ops", round, head, len(ops))
		}
		last := reported[len(reported)-1]
		if head < last {
			t.Fatalf("round %d: the child reported revision %d committed, the file has %d", round, last, head)
		}
		// The child prints after each commit, so at most one commit can be
		// missing from what it reported.
		if head > last+1 {
			t.Fatalf("round %d: the file has revision %d, the child reported only up to %d", round, head, last)
		}
		t.Logf("round %d: killed after %d reported commits; file holds %d", round, len(reported), head)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

const crashChildEnv = "GDOC_SQLITE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild appends one op per commit to document "doc" in the file at
// path, forever, printing each revision once AppendOps has returned.
func crashChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(time.Minute) // never outlive a lost parent for long
	for time.Now().Before(deadline) {
		head, err := s.HeadRev(ctx, "doc")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		rev := head + 1
		results, err := s.AppendOps(ctx, []gdoc.OpBatch{{DocID: "doc", BaseRev: head, Ops: []gdoc.CommittedOp{{
			Rev: rev, OpID: "crash:" + strconv.FormatInt(rev, 10), UserID: "1", Op: json.RawMessage(`["x"]`),
		}}}})
		if err == nil {
			err = results[0]
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "committed %d\n", rev)
		out.Flush()
	}
	os.Exit(3)
}

func BenchmarkAppendOps(b *testing.B) {
	storetest.BenchmarkAppendOps(b, mustOpen(b))
}

// TestMigrationKeepsDocuments: a database written by schema version 1 keeps
// its documents through the later migrations (and back down).
func TestMigrationKeepsDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gdoc.db")
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	storetest.MigrationKeepsDocuments(t, db, goose.DialectSQLite3, os.DirFS("migrations"),
		func(t *testing.T) gdoc.Store { return storetest.Open(t, sqlite.Open, path) })
}

// BenchmarkReads measures the queries of a join on the read pool (prepared
// by sqlstore's statement cache), reporting this process's CPU time per
// query: the figure to compare SQLite bindings or settings by.
func BenchmarkReads(b *testing.B) {
	ctx := context.Background()
	s := mustOpen(b)
	u := &gdoc.User{Username: "bench", Email: "bench@example.com", PasswordHash: "x"}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateDocument(ctx, &gdoc.Document{ID: "doc", Title: "bench", OwnerID: u.ID, Content: strings.Repeat("hello, world\n", 100)}); err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name  string
		query func() error
	}{
		{"UserForToken", func() error { _, _, err := s.UserForToken(ctx, u.ID, "jti"); return err }},
		{"Document", func() error { _, err := s.Document(ctx, "doc"); return err }},
		{"DocumentMeta", func() error { _, err := s.DocumentMeta(ctx, "doc"); return err }},
		{"HeadRev", func() error { _, err := s.HeadRev(ctx, "doc"); return err }},
	} {
		b.Run(bench.name, func(b *testing.B) {
			calls := 0
			before := cpuTime()
			for b.Loop() {
				calls++
				if err := bench.query(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/1e3/float64(calls), "cpu-µs/op")
		})
	}
}

func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
