// Package multiinstance_test runs several real G-Doc processes against one
// PostgreSQL and one Redis, behind the shipped nginx.conf, and checks that
// clients spread over them converge through crashes and Redis restarts.
package multiinstance_test

import (
	"context"
	"crypto/rand"
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

	"github.com/jackc/pgx/v5"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
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

// sharedRedis returns TEST_REDIS_URL with a database number picked for this
// run. G-Doc names its pub/sub channels after the database number (pub/sub
// ignores databases), and every key and channel also carries this run's
// random document ids, so concurrent runs do not meet.
func sharedRedis(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	u.Path = fmt.Sprintf("/%d", 1+int(b[0])%15)
	return u.String()
}

func TestMain(m *testing.M) { testenv.Main(m) }

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// cluster is a set of G-Doc instances sharing one database and one Redis,
// optionally behind nginx.
type cluster struct {
	t         testing.TB
	dir       string
	dbURL     string
	redisURL  string
	secret    string
	instances []*testenv.Server
	nginx     *testenv.Process
	lbURL     string // nginx, when started
}

func newCluster(t testing.TB, redisURL string) *cluster {
	t.Helper()
	testenv.BuildServer(t) // once, before instances start in parallel
	return &cluster{t: t, dir: t.TempDir(), dbURL: testenv.FreshDatabase(t), redisURL: redisURL, secret: testenv.RandomHex(32)}
}

// startInstances starts n instances: the first alone (it applies the
// migrations), the others together.
func (c *cluster) startInstances(n int) {
	c.t.Helper()
	c.instances = append(c.instances, c.startInstance())
	var wg sync.WaitGroup
	started := make([]*testenv.Server, n-1)
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

func (c *cluster) startInstance() *testenv.Server {
	c.t.Helper()
	inst, err := c.launch(len(c.instances))
	if err != nil {
		c.t.Fatal(err)
	}
	return inst
}

func (c *cluster) launch(i int) (*testenv.Server, error) {
	name := fmt.Sprintf("gdoc-%d", i)
	dataDir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	return testenv.LaunchServer(c.t, name, dataDir, "DATABASE_URL="+c.dbURL, "REDIS_URL="+c.redisURL, "SECRET_KEY="+c.secret,
		"AUTH_RATE_LIMIT=0", // every test user registers from 127.0.0.1
		"LOG_LEVEL=info")
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
	// The shipped access log (and its format) is kept, moved under dir.
	conf = strings.ReplaceAll(conf, "/var/log/nginx/", dir+"/")
	paths := fmt.Sprintf("http {\n    client_body_temp_path %[1]s/client_body;\n"+
		"    proxy_temp_path %[1]s/proxy;\n    fastcgi_temp_path %[1]s/fastcgi;\n    uwsgi_temp_path %[1]s/uwsgi;\n    scgi_temp_path %[1]s/scgi;\n", dir)
	conf = httpBlock.ReplaceAllLiteralString(conf, paths)
	return conf, nil
}

func shippedNginxConf(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "nginx.conf"))
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
	nginx := testenv.Tool(c.t, nginxPath)
	dir := filepath.Join(c.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	var upstreams []string
	for _, inst := range c.instances {
		upstreams = append(upstreams, strings.TrimPrefix(inst.URL, "http://"))
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
	testenv.DieWithTest(cmd, syscall.SIGTERM) // the master stops its workers
	c.nginx = testenv.StartProcess(c.t, "nginx", cmd, nil)
	c.lbURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	probe := &http.Client{Timeout: 5 * time.Second} // a hung probe must not outlast the deadline
	for {
		resp, err := probe.Get(c.lbURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !c.nginx.Alive() || time.Now().After(deadline) {
			c.t.Fatalf("nginx not serving /healthz on %s (last error %v):\n%s", c.lbURL, err,
				testenv.Tail(filepath.Join(dir, "nginx-error.log"), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
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

// register creates a user with a unique name through baseURL.
func register(t testing.TB, baseURL, name string) testenv.User {
	t.Helper()
	return testenv.Register(t, baseURL, name+"_"+testenv.RandomHex(3))
}

// createDocument creates an empty public document through baseURL.
func createDocument(t testing.TB, baseURL string, owner testenv.User, title string) string {
	t.Helper()
	r := testenv.Call(t, "POST", baseURL+"/api/documents", owner.Token, `{"title":"`+title+`","content":"","language":"plaintext"}`)
	var doc struct {
		ID string `json:"id"`
	}
	if r.Decode(t, &doc); r.Status != http.StatusCreated || doc.ID == "" {
		t.Fatalf("create document: %d %s", r.Status, r.Body)
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

// join connects u to docID through baseURL in the OT dialect until the
// test ends.
func join(t testing.TB, ctx context.Context, baseURL, docID string, u testenv.User) (*otclient.Conn, *otclient.Message) {
	t.Helper()
	conn, init, err := otclient.Dial(ctx, baseURL, docID, u.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn, init
}

// joinSeed is join in the seed dialect.
func joinSeed(t testing.TB, ctx context.Context, baseURL, docID string, u testenv.User) (*otclient.Conn, *otclient.Message) {
	t.Helper()
	conn, init, err := otclient.DialSeed(ctx, baseURL, docID, u.Token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn, init
}
