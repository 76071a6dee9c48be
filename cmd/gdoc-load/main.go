// Command gdoc-load is G-Doc's load generator: simulated editors typing into
// documents over the OT dialect at a constant (open-loop) rate, measuring
// edit propagation from each keystroke's intended send time to every other
// editor, ack latency (durable commit), and convergence at the end.
//
// Modes: edit (the default) types keystrokes; chat sends chat messages at
// the same open-loop rate and measures their propagation the same way; idle
// opens connections that send nothing and reports the server's RSS per
// connection and its CPU while they idle.
//
// It talks only to the server it is given (127.0.0.1 by default), runs for a
// bounded time and stops by itself.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
)

type options struct {
	url       string
	docs      int
	clients   int
	users     int
	rate      float64
	duration  time.Duration
	warmup    time.Duration
	docSize   int
	serverPID int
	settle    time.Duration
	mode      string
	typists   int // edit: editors per document who type (0: all); the others watch

	// soak (and -cursor-rate for the other modes too)
	metricsURL     string
	lifetime       time.Duration
	seedClients    int
	chatRate       float64
	cursorRate     float64
	dropFraction   float64
	deleteFraction float64
	sampleEvery    time.Duration
	afterBaseline  func() // tests: called once the baseline is taken
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8000", "G-Doc server base URL")
	flag.IntVar(&o.docs, "docs", 1, "number of documents")
	flag.IntVar(&o.clients, "clients", 50, "editors per document")
	flag.IntVar(&o.users, "users", 5, "accounts shared by the editors")
	flag.Float64Var(&o.rate, "rate", 5, "keystrokes per second per editor")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "warm-up before measuring")
	flag.IntVar(&o.docSize, "doc-size", 0, "initial document size in bytes (e.g. 1048576 for S4)")
	flag.IntVar(&o.serverPID, "server-pid", 0, "server process id, to report its CPU time and RSS")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "how long to wait for convergence at the end")
	flag.StringVar(&o.mode, "mode", "edit", "edit (keystrokes), chat (chat messages), idle (connections that send nothing; -duration is the idle time) or soak (a rolling mixed load of documents opened and closed, then a check that the server's goroutines and heap return to their baseline; needs -metrics-url; its own defaults: -docs 4 -clients 3 -rate 1 -doc-size 2048 -warmup 10s -settle 90s -cursor-rate 0.5)")
	flag.StringVar(&o.metricsURL, "metrics-url", "", "soak: base URL of the server's METRICS_ADDR listener (with PPROF=true), e.g. http://127.0.0.1:9090")
	flag.DurationVar(&o.lifetime, "lifetime", time.Minute, "soak: mean time a document stays open (each lives 0.5 to 1.5 times this)")
	flag.IntVar(&o.seedClients, "seed-clients", 1, "soak: seed-dialect clients per document (typing at half -rate)")
	flag.Float64Var(&o.chatRate, "chat-rate", 0.05, "soak: chat messages per second per client")
	flag.Float64Var(&o.cursorRate, "cursor-rate", 0, "cursor messages per second sent by each editor who does not type (edit; soak: by every client, default 0.5)")
	flag.IntVar(&o.typists, "typists", 0, "edit: editors per document who type (the others are connected watchers; 0: all)")
	flag.Float64Var(&o.dropFraction, "drop-fraction", 0.25, "soak: share of connections dropped without a close frame")
	flag.Float64Var(&o.deleteFraction, "delete-fraction", 0.3, "soak: share of documents deleted at the end of their life (half of them while still open)")
	flag.DurationVar(&o.sampleEvery, "sample-every", time.Minute, "soak: how often to print a line of server figures")
	cpuProfile := flag.String("cpuprofile", "", "write the generator's own CPU profile to this file (to check that its costs do not dominate)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gdoc-load:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if o.mode == "soak" {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, value := range map[string]string{"docs": "4", "clients": "3", "rate": "1", "doc-size": "2048", "warmup": "10s", "settle": "90s", "cursor-rate": "0.5"} {
			if !set[name] {
				_ = flag.Set(name, value)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gdoc-load:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// recorder collects latencies of one kind.
type recorder struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

func (r *recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.samples)
	if n == 0 {
		return "no samples"
	}
	sort.Slice(r.samples, func(i, j int) bool { return r.samples[i] < r.samples[j] })
	q := func(p float64) string {
		i := int(p * float64(n-1))
		return fmt.Sprintf("%.2fms", float64(r.samples[i].Microseconds())/1000)
	}
	return fmt.Sprintf("n=%d p50=%s p95=%s p99=%s p99.9=%s max=%s", n, q(0.50), q(0.95), q(0.99), q(0.999), q(1))
}

type stats struct {
	propagation recorder
	ack         recorder
	sent        atomic.Int64
	delivered   atomic.Int64
	cursorsSent atomic.Int64 // while measuring
	cursorsRecv atomic.Int64 // cursor deliveries while measuring
	errors      atomic.Int64
	measuring   atomic.Bool
	intended    sync.Map // op id -> time.Time (intended send time of its first keystroke)
}

type editor struct {
	name  string
	mu    sync.Mutex
	state *otclient.State
	conn  *wsConn
	rng   *rand.Rand
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.docs < 1 || o.clients < 1 || o.users < 1 || o.rate <= 0 {
		return errors.New("docs, clients, users and rate must be positive")
	}
	if o.typists < 0 || o.cursorRate < 0 {
		return errors.New("typists and cursor-rate must not be negative")
	}
	if o.typists == 0 || o.typists > o.clients {
		o.typists = o.clients
	}
	if o.mode != "edit" && o.mode != "chat" && o.mode != "idle" && o.mode != "soak" {
		return fmt.Errorf("mode must be edit, chat, idle or soak, not %q", o.mode)
	}
	if o.mode == "soak" && (o.lifetime <= 0 || o.sampleEvery <= 0 || o.seedClients < 0 || o.chatRate < 0 || o.cursorRate < 0 ||
		o.dropFraction < 0 || o.dropFraction > 1 || o.deleteFraction < 0 || o.deleteFraction > 1) {
		return errors.New("soak: -lifetime and -sample-every must be positive, the rates and counts not negative, the fractions between 0 and 1")
	}
	tokens := make([]string, o.users)
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	for i := range tokens {
		tok, err := register(ctx, o.url, fmt.Sprintf("load%s_%d", tag, i))
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		tokens[i] = tok
	}
	if o.mode == "soak" {
		return soak(ctx, o, tokens, tag, out)
	}
	content := initialText(o.docSize)
	docIDs := make([]string, o.docs)
	for d := range docIDs {
		id, err := createDocument(ctx, o.url, tokens[0], fmt.Sprintf("load %s %d.go", tag, d), content)
		if err != nil {
			return fmt.Errorf("create document: %w", err)
		}
		docIDs[d] = id
	}

	st := &stats{}
	rssBefore := processRSSKiB(o.serverPID)
	connectStart := time.Now()
	editors := make([][]*editor, o.docs)
	for d, id := range docIDs {
		for c := 0; c < o.clients; c++ {
			conn, init, err := dialOT(ctx, o.url, id, tokens[(d*o.clients+c)%o.users], -1)
			if err != nil {
				return fmt.Errorf("connect editor %d of %s: %w", c, id, err)
			}
			if init.Content == nil {
				return errors.New("init without content")
			}
			e := &editor{
				name:  fmt.Sprintf("L%d-%d", d, c),
				state: otclient.NewState(fmt.Sprintf("L%d-%d", d, c), *init.Content, init.Rev),
				conn:  conn,
				rng:   rand.New(rand.NewPCG(uint64(d), uint64(c))),
			}
			editors[d] = append(editors[d], e)
			go e.readLoop(ctx, st)
		}
	}
	connectTime := time.Since(connectStart)
	if o.mode == "idle" {
		return idle(ctx, o, editors, rssBefore, connectTime, out)
	}
	fmt.Fprintf(out, "connected %d editors on %d documents in %s; warm-up %s, measuring %s at %.1f %s/s each",
		o.docs*o.clients, o.docs, connectTime.Round(time.Millisecond), o.warmup, o.duration, o.rate, map[string]string{"edit": "keys", "chat": "chat messages"}[o.mode])
	if o.typists < o.clients {
		fmt.Fprintf(out, " for %d of them per document (the others watch", o.typists)
		if o.cursorRate > 0 {
			fmt.Fprintf(out, " and move their cursor %g times a second", o.cursorRate)
		}
		fmt.Fprint(out, ")")
	}
	fmt.Fprintln(out)

	cpu0, _ := processCPU(o.serverPID)
	ownCPU0 := ownCPU()
	start := time.Now()
	measureFrom, measureTo := start.Add(o.warmup), start.Add(o.warmup+o.duration)
	var wg sync.WaitGroup
	for _, doc := range editors {
		for i, e := range doc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i >= o.typists {
					e.cursorLoop(ctx, st, o.cursorRate, measureFrom, measureTo)
					return
				}
				if o.mode == "chat" {
					e.chatLoop(ctx, st, o.rate, measureFrom, measureTo)
				} else {
					e.typeLoop(ctx, st, o.rate, measureFrom, measureTo)
				}
			}()
		}
	}
	go func() {
		select {
		case <-time.After(time.Until(measureFrom)):
			st.measuring.Store(true)
		case <-ctx.Done():
		}
	}()
	wg.Wait()
	st.measuring.Store(false)
	elapsed := time.Since(measureFrom)
	cpu1, _ := processCPU(o.serverPID)
	delivered := st.delivered.Load()

	converged := waitConverged(ctx, o, editors, docIDs, tokens[0], out)
	fmt.Fprintf(out, "ops sent (measured): %d, deliveries: %d (%.0f/s), errors: %d\n",
		st.sent.Load(), delivered, float64(delivered)/elapsed.Seconds(), st.errors.Load())
	fmt.Fprintf(out, "propagation: %s\n", st.propagation.summary())
	if n := st.cursorsSent.Load(); n > 0 {
		fmt.Fprintf(out, "cursors sent (measured): %d, deliveries: %d (%.0f/s; %.1f%% of the %d possible, the server drops cursors to a busy receiver)\n",
			n, st.cursorsRecv.Load(), float64(st.cursorsRecv.Load())/elapsed.Seconds(),
			100*float64(st.cursorsRecv.Load())/float64(n*int64(o.clients-1)), n*int64(o.clients-1))
	}
	fmt.Fprintf(out, "ack (durable commit): %s\n", st.ack.summary())
	fmt.Fprintf(out, "generator: GOMAXPROCS=%d, own CPU %.0f%% of one core while measuring\n",
		runtime.GOMAXPROCS(0), 100*float64(ownCPU()-ownCPU0)/float64(elapsed))
	if o.serverPID > 0 && delivered > 0 {
		fmt.Fprintf(out, "server CPU: %.1f ms per 1,000 deliveries; RSS %s\n",
			float64((cpu1-cpu0).Milliseconds())*1000/float64(delivered), processRSS(o.serverPID))
	}
	for _, doc := range editors {
		for _, e := range doc {
			e.conn.Close()
		}
	}
	if !converged {
		return errors.New("documents did not converge")
	}
	if st.errors.Load() > 0 {
		return fmt.Errorf("%d error messages from the server", st.errors.Load())
	}
	return nil
}

// openLoop calls act at intended times rate a second, from a random phase
// until measureTo (open loop: intended times do not slip when the system is
// slow), and counts in sent the calls intended from measureFrom on. It
// stops at the first error, counted in st.errors, or when ctx ends.
func (e *editor) openLoop(ctx context.Context, st *stats, sent *atomic.Int64, rate float64, measureFrom, measureTo time.Time, act func(seq int, intended time.Time) error) {
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now().Add(time.Duration(e.rng.Int64N(int64(interval))))
	for seq := 0; next.Before(measureTo); seq++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		if err := act(seq, next); err != nil {
			st.errors.Add(1)
			return
		}
		if !next.Before(measureFrom) {
			sent.Add(1)
		}
		next = next.Add(interval)
	}
}

// typeLoop makes one random keystroke at each intended time.
func (e *editor) typeLoop(ctx context.Context, st *stats, rate float64, measureFrom, measureTo time.Time) {
	e.openLoop(ctx, st, &st.sent, rate, measureFrom, measureTo, func(_ int, intended time.Time) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		op := randomKeystroke(e.rng, e.state.Doc.Len())
		out, err := e.state.Edit(op)
		if err == nil && out == nil && e.state.BufferID() != "" {
			st.intended.LoadOrStore(e.state.BufferID(), intended)
		}
		if out != nil {
			st.intended.LoadOrStore(out.ID, intended)
			err = e.conn.SendOp(ctx, out)
		}
		return err
	})
}

// cursorLoop moves the editor's cursor rate times a second to a random
// place of its text, at its current revision; rate 0 sends nothing.
func (e *editor) cursorLoop(ctx context.Context, st *stats, rate float64, measureFrom, measureTo time.Time) {
	if rate <= 0 {
		return
	}
	e.openLoop(ctx, st, &st.cursorsSent, rate, measureFrom, measureTo, func(int, time.Time) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		pos := e.rng.IntN(e.state.Doc.Len() + 1)
		return e.conn.Send(ctx, map[string]any{"type": "cursor", "rev": e.state.Rev, "anchor": pos, "head": pos})
	})
}

// chatLoop sends one chat message at each intended time; the message text
// is its own id, by which receivers find its intended time.
func (e *editor) chatLoop(ctx context.Context, st *stats, rate float64, measureFrom, measureTo time.Time) {
	e.openLoop(ctx, st, &st.sent, rate, measureFrom, measureTo, func(seq int, intended time.Time) error {
		id := fmt.Sprintf("%s:c%d", e.name, seq)
		st.intended.Store(id, intended)
		return e.conn.Send(ctx, map[string]any{"type": "chat", "message": id, "client_msg_id": id})
	})
}

func (e *editor) readLoop(ctx context.Context, st *stats) {
	for {
		m, err := e.conn.Read(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		e.mu.Lock()
		var out *otclient.Outgoing
		switch m.Type {
		case "op":
			var op ot.Op
			if err = json.Unmarshal(m.Op, &op); err == nil {
				out, err = e.state.ServerOp(m.Rev, m.ID, op)
			}
			if st.measuring.Load() {
				if t, ok := st.intended.Load(m.ID); ok {
					st.propagation.add(now.Sub(t.(time.Time)))
				}
				st.delivered.Add(1)
			}
		case "ack":
			if st.measuring.Load() {
				if t, ok := st.intended.Load(m.ID); ok {
					st.ack.add(now.Sub(t.(time.Time)))
				}
			}
			out, err = e.state.Ack(m.ID, m.Rev)
		case "chat":
			if st.measuring.Load() {
				if t, ok := st.intended.Load(m.Text()); ok {
					st.propagation.add(now.Sub(t.(time.Time)))
				}
				st.delivered.Add(1)
			}
		case "chat_ack":
			var ack struct {
				ClientMsgID string `json:"client_msg_id"`
			}
			if json.Unmarshal(m.Raw, &ack) == nil && st.measuring.Load() {
				if t, ok := st.intended.Load(ack.ClientMsgID); ok {
					st.ack.add(now.Sub(t.(time.Time)))
				}
			}
		case "cursor":
			if st.measuring.Load() {
				st.cursorsRecv.Add(1)
			}
		case "error":
			st.errors.Add(1)
			fmt.Fprintf(os.Stderr, "server error: %s\n", m.Raw)
		}
		if err == nil && out != nil {
			err = e.conn.SendOp(ctx, out)
		}
		e.mu.Unlock()
		if err != nil {
			st.errors.Add(1)
			fmt.Fprintf(os.Stderr, "editor: %v\n", err)
			return
		}
	}
}

// randomKeystroke inserts a character at a random place, or deletes one
// (one time in five, when there is text).
func randomKeystroke(rng *rand.Rand, n int) ot.Op {
	pos := rng.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Skip: pos})
	}
	if n > 0 && pos < n && rng.IntN(5) == 0 {
		return append(op, ot.Component{Delete: 1})
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz {}();\n"
	return append(op, ot.Component{Insert: string(alphabet[rng.IntN(len(alphabet))])})
}

func initialText(size int) string {
	const line = "func example(x int) int { return x * 2 } // some code\n"
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.String()[:size]
}

// waitConverged waits until no editor has edits pending, then checks that
// every editor of a document and the server hold the same text.
func waitConverged(ctx context.Context, o options, editors [][]*editor, docIDs []string, token string, out io.Writer) bool {
	deadline := time.Now().Add(o.settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pending := 0
		for _, doc := range editors {
			for _, e := range doc {
				e.mu.Lock()
				pending += e.state.Pending()
				e.mu.Unlock()
			}
		}
		if pending == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ok := true
	for d, doc := range editors {
		var server struct {
			Content string `json:"content"`
			Rev     int64  `json:"rev"`
		}
		// The last deliveries may still be in flight: retry briefly.
		for try := 0; try < 100; try++ {
			if err := getJSON(ctx, o.url+"/api/documents/"+docIDs[d], token, &server); err != nil {
				fmt.Fprintf(out, "document %s: %v\n", docIDs[d], err)
				return false
			}
			same := true
			for _, e := range doc {
				e.mu.Lock()
				same = same && e.state.Rev == server.Rev && e.state.Text() == server.Content
				e.mu.Unlock()
			}
			if same {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for i, e := range doc {
			e.mu.Lock()
			if e.state.Text() != server.Content || e.state.Rev != server.Rev {
				fmt.Fprintf(out, "DIVERGED: document %s editor %d at rev %d, server at rev %d\n", docIDs[d], i, e.state.Rev, server.Rev)
				ok = false
			}
			e.mu.Unlock()
		}
	}
	if ok {
		fmt.Fprintln(out, "converged: every editor holds the server's text")
	}
	return ok
}

func register(ctx context.Context, base, name string) (string, error) {
	body := map[string]string{"username": name, "email": name + "@load.test", "password": "load-test-password"}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	for attempt := 0; ; attempt++ {
		status, err := postJSON(ctx, base+"/api/auth/register", "", body, &resp)
		if status == http.StatusTooManyRequests && attempt < 20 {
			time.Sleep(3 * time.Second) // the auth rate limit; wait it out
			continue
		}
		return resp.AccessToken, err
	}
}

func createDocument(ctx context.Context, base, token, title, content string) (string, error) {
	var doc struct {
		ID string `json:"id"`
	}
	_, err := postJSON(ctx, base+"/api/documents", token, map[string]any{"title": title, "content": content}, &doc)
	return doc.ID, err
}

func postJSON(ctx context.Context, url, token string, body, into any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON(req, token, into)
}

func getJSON(ctx context.Context, url, token string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	_, err = doJSON(req, token, into)
	return err
}

func doJSON(req *http.Request, token string, into any) (int, error) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, data)
	}
	return resp.StatusCode, json.Unmarshal(data, into)
}

// processCPU returns the user+system CPU time of pid from /proc.
func processCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}

// idle holds the connections open without sending anything for
// o.duration and reports the server's RSS and CPU per connection.
func idle(ctx context.Context, o options, editors [][]*editor, rssBefore int64, connectTime time.Duration, out io.Writer) error {
	n := o.docs * o.clients
	fmt.Fprintf(out, "connected %d idle connections on %d documents in %s (%.0f connections/s)\n",
		n, o.docs, connectTime.Round(time.Millisecond), float64(n)/connectTime.Seconds())
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
	}
	rssAfter := processRSSKiB(o.serverPID)
	cpu0, _ := processCPU(o.serverPID)
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
	}
	cpu1, _ := processCPU(o.serverPID)
	if o.serverPID > 0 {
		// The runtime returns freed memory to the system gradually, so the
		// RSS just after connecting still holds the garbage of the
		// connects; the figure after the idle period is closer to what
		// the connections keep.
		rssIdle := processRSSKiB(o.serverPID)
		fmt.Fprintf(out, "server RSS %d kB before connecting, %d kB connected: %.1f KB per connection; after idling %s: %d kB, %.1f KB per connection\n",
			rssBefore, rssAfter, float64(rssAfter-rssBefore)/float64(n), o.duration, rssIdle, float64(rssIdle-rssBefore)/float64(n))
		fmt.Fprintf(out, "server CPU while idle: %.1f%% of one core over %s\n",
			100*float64(cpu1-cpu0)/float64(o.duration), o.duration)
	}
	for _, doc := range editors {
		for _, e := range doc {
			e.conn.CloseNow()
		}
	}
	return nil
}

// ownCPU returns this process's user+system CPU time.
func ownCPU() time.Duration {
	d, _ := processCPU(os.Getpid())
	return d
}

// processRSSKiB returns pid's resident set in KiB (0 when unknown).
func processRSSKiB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	fields := strings.Fields(processRSS(pid))
	if len(fields) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(fields[0], 10, 64)
	return n
}

func processRSS(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
		}
	}
	return "unknown"
}
