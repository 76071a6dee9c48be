package multiinstance_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/testenv"
)

// TestShippedNginxConfAccepted runs `nginx -t` on the shipped nginx.conf
// with only the upstream hosts, the listen address and file paths
// substituted (the same rewrite the multi-instance tests run nginx with).
func TestShippedNginxConfAccepted(t *testing.T) {
	nginx := testenv.Tool(t, nginxPath)
	dir := t.TempDir()
	shipped := shippedNginxConf(t)
	for _, want := range []string{
		"least_conn;",
		"location /ws",
		"proxy_http_version 1.1;",
		"proxy_set_header Upgrade $http_upgrade;",
		`proxy_set_header Connection "Upgrade";`,
		"proxy_read_timeout 86400;",
		"location /api",
		"location / {",
	} {
		if !strings.Contains(shipped, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	conf, err := nginxConfig(shipped, "127.0.0.1:1", []string{"127.0.0.1:2", "127.0.0.1:3"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conf, "server 127.0.0.1:2 max_fails") || strings.Contains(conf, "gdoc-1:8000") {
		t.Fatalf("upstream rewrite failed:\n%s", conf)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := nginxArgs(dir, path, "-t")
	// -t with "daemon off" is fine; nginx only parses.
	out, err := boundedCommand(t, nginx, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t refused the shipped configuration: %v\n%s", err, out)
	}
}

// composeServices returns the service names under the top-level
// "services:" key of a compose file (two-space indented keys).
func composeServices(t *testing.T, text string) []string {
	t.Helper()
	var names []string
	in := false
	key := regexp.MustCompile(`^  ([A-Za-z0-9_.-]+):\s*$`)
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "services:":
			in = true
		case in && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			in = false
		case in:
			if m := key.FindStringSubmatch(line); m != nil {
				names = append(names, m[1])
			}
		}
	}
	return names
}

// TestComposeFilesMatchNginx checks the compose files' services against
// the seed's setup and nginx.conf's upstream, and that they parse as YAML
// when a YAML parser (python3 with PyYAML) is available: no Docker engine
// runs here, so nothing is started.
func TestComposeFilesMatchNginx(t *testing.T) {
	root := testenv.ModuleRoot()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "\t") {
			t.Fatalf("%s contains a tab: YAML forbids tabs for indentation", name)
		}
		return string(data)
	}
	dev, prod := read("docker-compose.yml"), read("docker-compose.prod.yml")

	for _, want := range []string{"gdoc", "postgres", "redis"} {
		if !slices.Contains(composeServices(t, dev), want) {
			t.Errorf("docker-compose.yml has no %q service (services: %v)", want, composeServices(t, dev))
		}
	}
	for _, want := range []string{"postgres:16-alpine", "redis:7-alpine", `"8000:8000"`, "SECRET_KEY="} {
		if !strings.Contains(dev, want) {
			t.Errorf("docker-compose.yml lacks %s", want)
		}
	}

	prodServices := composeServices(t, prod)
	upstream := regexp.MustCompile(`(?m)^\s*server\s+(gdoc-\d+):8000`).FindAllStringSubmatch(shippedNginxConf(t), -1)
	if len(upstream) < 2 {
		t.Fatalf("nginx.conf has %d upstream servers, want at least 2", len(upstream))
	}
	for _, m := range upstream {
		if !slices.Contains(prodServices, m[1]) {
			t.Errorf("nginx.conf proxies to %s, which docker-compose.prod.yml does not define (services: %v)", m[1], prodServices)
		}
	}
	for _, want := range []string{"nginx", "postgres", "redis"} {
		if !slices.Contains(prodServices, want) {
			t.Errorf("docker-compose.prod.yml has no %q service", want)
		}
	}
	if !strings.Contains(prod, "./nginx.conf:/etc/nginx/nginx.conf") {
		t.Error("docker-compose.prod.yml does not mount nginx.conf as /etc/nginx/nginx.conf")
	}

	python, err := exec.LookPath("python3")
	if err != nil || boundedCommand(t, python, "-c", "import yaml").Run() != nil {
		t.Log("NOTE: python3 with PyYAML not found; the compose files were checked structurally, not parsed as YAML")
		return
	}
	for _, name := range []string{"docker-compose.yml", "docker-compose.prod.yml"} {
		script := `import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert isinstance(d.get("services"), dict) and d["services"], "no services"
for name, svc in d["services"].items():
    assert "image" in svc or "build" in svc, name + ": neither image nor build"
`
		out, err := boundedCommand(t, python, "-c", script, filepath.Join(root, name)).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not parse as a compose file: %v\n%s", name, err, out)
		}
	}
}

// TestDockerfileBuildsWhatTheTestsRun checks the Dockerfile builds the web
// client and the binary the way the Makefile does, runs as non-root, and
// exposes the seed's port.
func TestDockerfileBuildsWhatTheTestsRun(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{
		"npm ci", "npm run build", "-tags webdist", "-trimpath", "./cmd/gdoc",
		"USER ", "EXPOSE 8000", "DATA_DIR=/data", `VOLUME ["/data"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^USER\s+(root|0)\b`).MatchString(df) {
		t.Error("Dockerfile runs as root")
	}
}

// boundedCommand is exec.Command killed after a minute, so a tool that
// hangs fails the test instead of stalling CI.
func boundedCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, name, args...)
}
