// Package multiinstance_test runs several real G-Doc processes against one
// PostgreSQL and one Redis, behind the shipped nginx.conf, and checks that
// clients spread over them converge through crashes and Redis restarts.
package multiinstance_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/jackc/pgx/v5"

	"github.com/gdoc/gdoc/internal/otclient"
)

// Paths of the tools the tests drive; overridable for other distributions.
var (
	nginxPath       = envOr("NGINX_BIN", "/usr/sbin/nginx")
	redisServerPath = envOr("REDIS_SERVER_BIN", "redis-server")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// requireEnv returns the value of name, skipping the test loudly when it is
// unset, or failing it under CI=true.
func requireEnv(t testing.TB, name, example string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the multi-instance tests must run in CI", name)
		}
		t.Skipf("SKIPPING multi-instance test: set %s (e.g. %s) to run it", name, example)
	}
	return v
}

// requireTool skips (or fails under CI=true) when an executable is missing.
func requireTool(t testing.TB, path string) string {
	t.Helper()
	full, err := exec.LookPath(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found but CI=true: %v", path, err)
		}
		t.Skipf("SKIPPING multi-instance test: %s not found (%v)", path, err)
	}
	return full
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// gdocBinary builds ./cmd/gdoc once per test process, or returns GDOC_BIN
// when that names an already built binary.
func gdocBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("GDOC_BIN"); bin != "" {
		return bin
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "gdoc-mi-bin-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "gdoc")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/gdoc")
		cmd.Dir = moduleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/gdoc: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// moduleRoot is the repository root (the tests run in test/multiinstance).
var moduleRoot = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "../.."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
})

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// freshDatabase creates an empty PostgreSQL database for this test on the
// server of TEST_DATABASE_URL, drops it afterwards, and returns its URL.
func freshDatabase(t testing.TB) string {
	t.Helper()
	base := requireEnv(t, "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at TEST_DATABASE_URL: %v", err)
	}
	name := "gdoc_mi_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// sharedRedis returns TEST_REDIS_URL with a database number picked for this
// run. G-Doc names its pub/sub channels after the database number (pub/sub
// ignores databases), and every key and channel also carries this run's
// random document ids, so concurrent runs do not meet.
func sharedRedis(t testing.TB) string {
	t.Helper()
	base := requireEnv(t, "TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	u.Path = fmt.Sprintf("/%d", 1+int(b[0])%15)
	return u.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a child process whose output goes to a log file that is
// printed when the test fails.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends sig and waits up to 10 s, then kills.
func (p *process) stop(sig syscall.Signal) {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// start runs cmd with its output in dir/name.log; onStdoutLine sees each
// stdout line. The process is stopped (SIGTERM) after the test.
func start(t testing.TB, dir, name string, cmd *exec.Cmd, onStdoutLine func(string)) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, logPath: filepath.Join(dir, name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(logFile, line)
			if onStdoutLine != nil {
				onStdoutLine(line)
			}
		}
	}()
	go func() {
		<-copied
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("--- last lines of %s (%s) ---\n%s", name, p.logPath, tail(p.logPath, 40))
		}
	})
	return p
}

// instance is one G-Doc process.
type instance struct {
	*process
	url string // http://127.0.0.1:port
}

var listeningLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// cluster is a set of G-Doc instances sharing one database and one Redis,
// optionally behind nginx.
type cluster struct {
	t         testing.TB
	dir       string
	bin       string
	dbURL     string
	redisURL  string
	secret    string
	instances []*instance
	nginx     *process
	lbURL     string // nginx, when started
}

func newCluster(t testing.TB, redisURL string) *cluster {
	t.Helper()
	c := &cluster{
		t:        t,
		dir:      t.TempDir(),
		dbURL:    freshDatabase(t),
		redisURL: redisURL,
		secret:   randomHex(32),
	}
	c.bin = gdocBinary(t)
	return c
}

// startInstances starts n instances: the first alone (it applies the
// migrations), the others together.
func (c *cluster) startInstances(n int) {
	c.t.Helper()
	c.instances = append(c.instances, c.startInstance())
	var wg sync.WaitGroup
	started := make([]*instance, n-1)
	errs := make([]error, n-1)
	for i := range n - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started[i], errs[i] = c.launch(len(c.instances) + i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
	c.instances = append(c.instances, started...)
}

func (c *cluster) startInstance() *instance {
	c.t.Helper()
	inst, err := c.launch(len(c.instances))
	if err != nil {
		c.t.Fatal(err)
	}
	return inst
}

func (c *cluster) launch(i int) (*instance, error) {
	name := fmt.Sprintf("gdoc-%d", i)
	dataDir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin)
	dieWithTest(cmd, syscall.SIGKILL)
	cmd.Dir = dataDir // no stray .env file is read
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dataDir,
		"HOST=127.0.0.1",
		"PORT=0",
		"DATA_DIR=" + dataDir,
		"DATABASE_URL=" + c.dbURL,
		"REDIS_URL=" + c.redisURL,
		"SECRET_KEY=" + c.secret,
		"AUTH_RATE_LIMIT=0", // every test user registers from 127.0.0.1
		"LOG_LEVEL=info",
	}
	found := make(chan string, 1)
	p := start(c.t, c.dir, name, cmd, func(line string) {
		if m := listeningLine.FindStringSubmatch(line); m != nil {
			select {
			case found <- m[1]:
			default:
			}
		}
	})
	select {
	case u := <-found:
		return &instance{process: p, url: u}, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v):\n%s", name, p.waitErr, tail(p.logPath, 40))
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s did not print its address within 30 s:\n%s", name, tail(p.logPath, 40))
	}
}

// nginxConfig rewrites the shipped nginx.conf for a test: the upstream
// servers become upstreams (keeping their parameters), the listen address
// becomes listen, and the pid, log and temporary files go under dir.
// Everything else, the WebSocket settings included, is the shipped file.
func nginxConfig(shipped, listen string, upstreams []string, dir string) (string, error) {
	serverLine := regexp.MustCompile(`(?m)^([ \t]*)server[ \t]+gdoc-\d+:8000([^;\n]*);[ \t]*\n`)
	matches := serverLine.FindAllStringSubmatchIndex(shipped, -1)
	if len(matches) < 2 {
		return "", fmt.Errorf("nginx.conf: want at least two `server gdoc-N:8000;` upstream lines, found %d", len(matches))
	}
	first := serverLine.FindStringSubmatch(shipped)
	indent, params := first[1], first[2]
	var lines strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&lines, "%sserver %s%s;\n", indent, u, params)
	}
	replaced := false
	conf := serverLine.ReplaceAllStringFunc(shipped, func(string) string {
		if replaced {
			return ""
		}
		replaced = true
		return lines.String()
	})
	listenLine := regexp.MustCompile(`(?m)^([ \t]*)listen[ \t]+80;`)
	if !listenLine.MatchString(conf) {
		return "", fmt.Errorf("nginx.conf: no `listen 80;`")
	}
	conf = listenLine.ReplaceAllString(conf, "${1}listen "+listen+";")
	httpBlock := regexp.MustCompile(`(?m)^http[ \t]*\{`)
	if !httpBlock.MatchString(conf) {
		return "", fmt.Errorf("nginx.conf: no top-level `http {`")
	}
	paths := fmt.Sprintf("http {\n    access_log %[1]s/access.log;\n    client_body_temp_path %[1]s/client_body;\n"+
		"    proxy_temp_path %[1]s/proxy;\n    fastcgi_temp_path %[1]s/fastcgi;\n    uwsgi_temp_path %[1]s/uwsgi;\n    scgi_temp_path %[1]s/scgi;\n", dir)
	conf = httpBlock.ReplaceAllLiteralString(conf, paths)
	return conf, nil
}

func shippedNginxConf(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(), "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// nginxArgs are the command-line arguments that keep nginx's pid and error
// log under dir and nginx in the foreground.
func nginxArgs(dir, confPath string, extra ...string) []string {
	args := []string{"-p", dir, "-c", confPath, "-g",
		fmt.Sprintf("daemon off; pid %s/nginx.pid; error_log %s/nginx-error.log;", dir, dir)}
	return append(args, extra...)
}

// startNginx puts nginx with the shipped configuration in front of every
// instance.
func (c *cluster) startNginx() {
	c.t.Helper()
	nginx := requireTool(c.t, nginxPath)
	dir := filepath.Join(c.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	var upstreams []string
	for _, inst := range c.instances {
		upstreams = append(upstreams, strings.TrimPrefix(inst.url, "http://"))
	}
	port := freePort(c.t)
	conf, err := nginxConfig(shippedNginxConf(c.t), fmt.Sprintf("127.0.0.1:%d", port), upstreams, dir)
	if err != nil {
		c.t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(nginx, nginxArgs(dir, confPath)...)
	dieWithTest(cmd, syscall.SIGTERM) // the master stops its workers
	c.nginx = start(c.t, c.dir, "nginx", cmd, nil)
	c.lbURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(c.lbURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !c.nginx.alive() || time.Now().After(deadline) {
			c.t.Fatalf("nginx not serving /healthz on %s (last error %v):\n%s", c.lbURL, err,
				tail(filepath.Join(dir, "nginx-error.log"), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// user is a registered account.
type user struct {
	ID       string
	Username string
	Token    string
}

func postJSON(ctx context.Context, u, token string, body any) (*http.Response, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

func getJSON(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, data)
	}
	return json.Unmarshal(data, into)
}

// register creates a user through baseURL.
func register(t testing.TB, baseURL, name string) *user {
	t.Helper()
	username := name + "_" + randomHex(3)
	resp, data, err := postJSON(context.Background(), baseURL+"/api/auth/register", "", map[string]string{
		"username": username, "email": username + "@example.com", "password": "correct horse battery staple",
	})
	if err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d %s", username, resp.StatusCode, data)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("register response %s: %v", data, err)
	}
	return &user{ID: out.User.ID, Username: out.User.Username, Token: out.AccessToken}
}

// createDocument creates an empty public document through baseURL.
func createDocument(t testing.TB, baseURL string, owner *user, title string) string {
	t.Helper()
	resp, data, err := postJSON(context.Background(), baseURL+"/api/documents", owner.Token,
		map[string]any{"title": title, "content": "", "language": "plaintext"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create document: %d %s", resp.StatusCode, data)
	}
	var doc struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.ID == "" {
		t.Fatalf("create document response %s: %v", data, err)
	}
	return doc.ID
}

type restDocument struct {
	ID      string `json:"id"`
	Content string `json:"content"`
	Rev     int64  `json:"rev"`
}

func fetchDocument(ctx context.Context, baseURL, docID string) (*restDocument, error) {
	var doc restDocument
	err := getJSON(ctx, baseURL+"/api/documents/"+url.PathEscape(docID), &doc)
	return &doc, err
}

type activeUser struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
}

// activeUsers reads GET /api/documents/{id}/users: {"active_users":[ids],
// "users":[{user_id,username,...}]}.
func activeUsers(ctx context.Context, baseURL, docID string) ([]activeUser, error) {
	var body struct {
		ActiveUsers []string     `json:"active_users"`
		Users       []activeUser `json:"users"`
	}
	if err := getJSON(ctx, baseURL+"/api/documents/"+url.PathEscape(docID)+"/users", &body); err != nil {
		return nil, err
	}
	if len(body.ActiveUsers) != len(body.Users) {
		return nil, fmt.Errorf("users response lists %d active_users but %d users", len(body.ActiveUsers), len(body.Users))
	}
	return body.Users, nil
}

// opLogRevisions reads a document's revisions and op ids straight from the
// PostgreSQL op log.
func opLogRevisions(t testing.TB, dbURL, docID string) (revs []int64, opIDs []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT rev, COALESCE(op_id, '') FROM ops WHERE doc_id = $1 ORDER BY rev", docID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var rev int64
		var id string
		if err := rows.Scan(&rev, &id); err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
		opIDs = append(opIDs, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return revs, opIDs
}

// rawConn is a bare OT-dialect WebSocket for the tests that look at
// messages other than ops (chat ids are numbers, otclient's are strings).
type rawConn struct {
	ws *websocket.Conn
}

type rawMessage map[string]any

func (m rawMessage) str(field string) string {
	s, _ := m[field].(string)
	return s
}

func (m rawMessage) num(field string) int64 {
	f, _ := m[field].(float64)
	return int64(f)
}

func dialRaw(ctx context.Context, baseURL, docID, token string) (*rawConn, rawMessage, error) {
	u := strings.Replace(baseURL, "http://", "ws://", 1) + "/ws/" + url.PathEscape(docID)
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{otclient.Subprotocol, "bearer." + token}})
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", u, err)
	}
	c := &rawConn{ws: ws}
	init, err := c.read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, nil, err
	}
	if init.str("type") != "init" {
		ws.CloseNow()
		return nil, nil, fmt.Errorf("first message is not init: %v", init)
	}
	return c, init, nil
}

// dialSeed opens a seed-dialect connection: no subprotocol, the token in
// the query string, exactly as the seed's client does.
func dialSeed(ctx context.Context, baseURL, docID, token string) (*rawConn, rawMessage, error) {
	u := strings.Replace(baseURL, "http://", "ws://", 1) + "/ws/" + url.PathEscape(docID) + "?token=" + url.QueryEscape(token)
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("dial seed dialect: %w", err)
	}
	c := &rawConn{ws: ws}
	init, err := c.read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, nil, err
	}
	if init.str("type") != "init" {
		ws.CloseNow()
		return nil, nil, fmt.Errorf("first message is not init: %v", init)
	}
	return c, init, nil
}

func (c *rawConn) read(ctx context.Context) (rawMessage, error) {
	var m rawMessage
	err := wsjson.Read(ctx, c.ws, &m)
	return m, err
}

func (c *rawConn) send(ctx context.Context, v any) error { return wsjson.Write(ctx, c.ws, v) }

// readUntil reads messages until one of the given types arrives.
func (c *rawConn) readUntil(t testing.TB, ctx context.Context, types ...string) rawMessage {
	t.Helper()
	for {
		m, err := c.read(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", types, err)
		}
		for _, typ := range types {
			if m.str("type") == typ {
				return m
			}
		}
	}
}
