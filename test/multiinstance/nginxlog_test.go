package multiinstance_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/testenv"
)

// TestNginxLogsWithoutQueryStrings runs the shipped nginx.conf in front of a
// plain upstream and checks that a seed-style /ws/<doc>?token=... request
// reaches the access log by its path alone: the token never lands on disk.
func TestNginxLogsWithoutQueryStrings(t *testing.T) {
	nginx := testenv.Tool(t, nginxPath)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "query=%s", r.URL.RawQuery)
	}))
	defer upstream.Close()
	dir := t.TempDir()
	addr := strings.TrimPrefix(upstream.URL, "http://")
	port := freePort(t)
	conf, err := nginxConfig(shippedNginxConf(t), fmt.Sprintf("127.0.0.1:%d", port), []string{addr, addr}, dir)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, nginxArgs(dir, confPath)...)
	testenv.DieWithTest(cmd, syscall.SIGTERM)
	proc := testenv.StartProcess(t, "nginx", cmd, nil)

	const secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig"
	client := &http.Client{Timeout: 5 * time.Second}
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/ws/logged-doc?token=%s", port, secret))
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
			break
		}
		if !proc.Alive() || time.Now().After(deadline) {
			t.Fatalf("nginx does not answer (last error %v):\n%s", err, testenv.Tail(filepath.Join(dir, "nginx-error.log"), 20))
		}
	}
	if body != "query=token="+secret {
		t.Fatalf("the upstream did not get the query (the test's premise): %q", body)
	}
	var log string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		if log = string(data); strings.Contains(log, "/ws/logged-doc") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(log, "GET /ws/logged-doc HTTP/1.1") {
		t.Fatalf("the access log does not name the request by its path:\n%s", log)
	}
	if strings.Contains(log, secret) || strings.Contains(log, "token=") {
		t.Fatalf("the access log holds the token:\n%s", log)
	}
}

// serviceBlock returns the lines of service name in a compose file (the
// two-space indented key under "services:" and everything indented deeper).
func serviceBlock(text, name string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "  "+name+":":
			in = true
		case in && (strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") || line != "" && line[0] != ' ' && line[0] != '#'):
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestComposeKeepsRedisPrivate: neither compose file publishes Redis on the
// host, Redis requires a password, and G-Doc is given it.
func TestComposeKeepsRedisPrivate(t *testing.T) {
	for _, name := range []string{"docker-compose.yml", "docker-compose.prod.yml"} {
		data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), name))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		redis := serviceBlock(text, "redis")
		if redis == "" {
			t.Fatalf("%s has no redis service", name)
		}
		if strings.Contains(redis, "ports:") || strings.Contains(redis, "6379:") {
			t.Errorf("%s publishes Redis on the host:\n%s", name, redis)
		}
		if !strings.Contains(redis, `"--requirepass", "${REDIS_PASSWORD`) {
			t.Errorf("%s: Redis does not require a password:\n%s", name, redis)
		}
		if !strings.Contains(text, "- REDIS_PASSWORD=${REDIS_PASSWORD:?") {
			t.Errorf("%s does not give G-Doc REDIS_PASSWORD (required)", name)
		}
	}
}
