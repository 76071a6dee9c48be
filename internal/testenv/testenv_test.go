package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// outcome records how a helper ended a test: skipped, failed, or neither.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Helper()        {}
func (o *outcome) Name() string   { return "TestSomething" }
func (o *outcome) Fatal(a ...any) { o.failed = fmt.Sprint(a...); runtime.Goexit() }
func (o *outcome) Fatalf(f string, a ...any) {
	o.failed = fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (o *outcome) Skipf(f string, a ...any) {
	o.skipped = fmt.Sprintf(f, a...)
	runtime.Goexit()
}

// run calls f with o on a goroutine of its own, as the testing package
// runs a test, so that Goexit ends only f.
func (o *outcome) run(f func(testing.TB)) *outcome {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f(o) }()
	wg.Wait()
	return o
}

func TestServiceURLs(t *testing.T) {
	t.Run("UnsetSkipsLoudly", func(t *testing.T) {
		t.Setenv("CI", "")
		t.Setenv("TEST_REDIS_URL", "")
		o := (&outcome{}).run(func(tb testing.TB) { RedisURL(tb) })
		if o.failed != "" || !strings.Contains(o.skipped, "SKIPPING TestSomething") || !strings.Contains(o.skipped, "TEST_REDIS_URL") {
			t.Fatalf("skipped %q, failed %q", o.skipped, o.failed)
		}
	})
	t.Run("UnsetFailsUnderCI", func(t *testing.T) {
		t.Setenv("CI", "true")
		t.Setenv("TEST_DATABASE_URL", "")
		o := (&outcome{}).run(func(tb testing.TB) { PostgresURL(tb) })
		if o.skipped != "" || !strings.Contains(o.failed, "TEST_DATABASE_URL is not set, and CI=true") {
			t.Fatalf("skipped %q, failed %q", o.skipped, o.failed)
		}
	})
	t.Run("Set", func(t *testing.T) {
		t.Setenv("CI", "true")
		t.Setenv("TEST_REDIS_URL", "redis://example:6379/3")
		var got string
		if o := (&outcome{}).run(func(tb testing.TB) { got = RedisURL(tb) }); got != "redis://example:6379/3" || o.skipped+o.failed != "" {
			t.Fatalf("got %q; skipped %q, failed %q", got, o.skipped, o.failed)
		}
	})
	t.Run("MissingTool", func(t *testing.T) {
		t.Setenv("CI", "")
		o := (&outcome{}).run(func(tb testing.TB) { Tool(tb, "gdoc-no-such-tool") })
		if !strings.Contains(o.skipped, "gdoc-no-such-tool not found") {
			t.Fatalf("skipped %q, failed %q", o.skipped, o.failed)
		}
	})
}

func TestProcess(t *testing.T) {
	lines := make(chan string, 10)
	p := StartProcess(t, "sh", exec.Command("sh", "-c", "echo to-stderr >&2; echo ready; exec sleep 30"), func(line string) { lines <- line })
	select {
	case line := <-lines:
		if line != "ready" {
			t.Fatalf("first stdout line %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stdout line")
	}
	if !p.Alive() {
		t.Fatal("not alive after its first line")
	}
	p.Kill()
	if p.Alive() || p.WaitErr() == nil {
		t.Fatalf("after Kill: alive %v, wait error %v", p.Alive(), p.WaitErr())
	}
	if got := p.Cmd.ProcessState.Sys().(syscall.WaitStatus).Signal(); got != syscall.SIGKILL {
		t.Fatalf("ended by %v, want SIGKILL", got)
	}
	if log := p.Tail(10); !strings.Contains(log, "to-stderr") || !strings.Contains(log, "ready") {
		t.Fatalf("log %q lacks stdout or stderr", log)
	}
	if got := p.Tail(1); got != "ready" && got != "to-stderr" {
		t.Fatalf("Tail(1) = %q", got)
	}
}

func TestCallAndRegister(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"detail":"headers %v"}`, r.Header)
		case r.URL.Path == "/probe" && r.Header.Get("X-Probe") == "1":
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/api/auth/register" && strings.Contains(string(body), `"username":"taken"`):
			w.WriteHeader(http.StatusConflict)
		case r.URL.Path == "/api/auth/register":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"access_token":"tok","user":{"id":"7","username":"ann","email":"ann@example.com"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	if r := Call(t, "POST", srv.URL+"/probe", "", `{}`, "X-Probe", "1"); r.Status != http.StatusNoContent {
		t.Fatalf("body and header pairs: %d %s", r.Status, r.Body)
	}
	if r := Call(t, "POST", srv.URL+"/probe", "secret", `{}`); r.Status != http.StatusBadRequest || !strings.Contains(r.Detail(t), "Bearer secret") {
		t.Fatalf("the token was not sent as a bearer token: %d %s", r.Status, r.Body)
	}
	if u := Register(t, srv.URL, "ann"); u != (User{ID: "7", Username: "ann", Email: "ann@example.com", Token: "tok"}) {
		t.Fatalf("registered %+v", u)
	}
	o := (&outcome{}).run(func(tb testing.TB) { Register(tb, srv.URL, "taken") })
	if !strings.Contains(o.failed, "register taken: 409") {
		t.Fatalf("a refused registration: failed %q", o.failed)
	}
}

func TestFreshSchemaAndDatabase(t *testing.T) {
	base := PostgresURL(t)
	var schemaURL, dbURL string
	t.Run("Create", func(t *testing.T) {
		schemaURL, dbURL = FreshSchema(t), FreshDatabase(t)
		for _, u := range []string{schemaURL, dbURL} {
			if err := execOnce(u, "CREATE TABLE probe (x int)"); err != nil {
				t.Fatal(err)
			}
		}
	})
	// The subtest's cleanup dropped both.
	if err := execOnce(dbURL, "SELECT 1"); err == nil {
		t.Fatalf("database %s outlived its test", dbURL)
	}
	schema := schemaURL[strings.LastIndex(schemaURL, "search_path=")+len("search_path="):]
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s: %d left, %v", schema, n, err)
	}
}
