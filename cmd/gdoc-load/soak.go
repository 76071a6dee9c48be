package main

// The soak mode (issue 10): a rolling, modest mixed load for -duration in
// which documents are created or reopened, edited by a few OT editors and
// seed-dialect clients who type, chat and move cursors, left and rejoined
// (catch-up), closed cleanly or dropped without a close frame, and some
// deleted; then everything is closed and the server's goroutines and heap
// (read from its METRICS_ADDR listener) must come back to the baseline
// taken after a warm-up cycle with nothing connected.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
)

// Tolerances of the end comparison (see docs/security.md, "Soak").
const (
	goroutineSlack = 5       // goroutines over the baseline still counted as returned
	heapFactor     = 1.25    // heap in use may be this many times the baseline...
	heapSlack      = 2 << 20 // ...plus this many bytes
)

// serverSample is what the soak reads from the server's /metrics.
type serverSample struct {
	Goroutines float64
	HeapInuse  float64 // bytes; after a forced GC when the sample asked for one
	RSS        float64 // bytes
	CPUSeconds float64
}

func (s serverSample) String() string {
	return fmt.Sprintf("goroutines %.0f, heap in use %.1f MB, RSS %.1f MB", s.Goroutines, s.HeapInuse/1e6, s.RSS/1e6)
}

// verdict is the end-versus-baseline comparison.
type verdict struct {
	GoroutinesOK, HeapOK bool
	Lines                []string
}

func (v verdict) OK() bool { return v.GoroutinesOK && v.HeapOK }

// compareToBaseline judges end against base: goroutines at most
// goroutineSlack over, heap in use at most heapFactor*base+heapSlack. RSS is
// reported, not judged (the runtime returns freed pages to the system
// lazily, so RSS lags behind the heap).
func compareToBaseline(base, end serverSample) verdict {
	v := verdict{
		GoroutinesOK: end.Goroutines <= base.Goroutines+goroutineSlack,
		HeapOK:       end.HeapInuse <= heapFactor*base.HeapInuse+heapSlack,
	}
	word := map[bool]string{true: "returned", false: "NOT RETURNED"}
	v.Lines = append(v.Lines,
		fmt.Sprintf("goroutines: baseline %.0f, end %.0f (limit %.0f): %s", base.Goroutines, end.Goroutines, base.Goroutines+goroutineSlack, word[v.GoroutinesOK]),
		fmt.Sprintf("heap in use after GC: baseline %.2f MB, end %.2f MB (limit %.2f MB = %.2fx + %d MB): %s",
			base.HeapInuse/1e6, end.HeapInuse/1e6, (heapFactor*base.HeapInuse+heapSlack)/1e6, heapFactor, heapSlack>>20, word[v.HeapOK]),
		fmt.Sprintf("RSS: baseline %.1f MB, end %.1f MB (%.2fx; reported, not judged)", base.RSS/1e6, end.RSS/1e6, end.RSS/max(base.RSS, 1)))
	return v
}

// metricsClient opens a fresh connection per request, so the scrapes leave
// no keep-alive connection (a server goroutine) behind.
var metricsClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrape reads the server's metrics, forcing a GC first (pprof's
// heap?gc=1, which needs PPROF=true) when gc is set.
func scrape(ctx context.Context, base string, gc bool) (serverSample, error) {
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/metrics")
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := metricsClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		return data, err
	}
	if gc {
		if _, err := get("/debug/pprof/heap?gc=1"); err != nil {
			return serverSample{}, fmt.Errorf("forcing a GC (the server needs PPROF=true): %w", err)
		}
	}
	data, err := get("/metrics")
	if err != nil {
		return serverSample{}, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(data)))
	if err != nil {
		return serverSample{}, fmt.Errorf("parse /metrics: %w", err)
	}
	value := func(name string) (float64, error) {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, fmt.Errorf("/metrics has no %s", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), nil
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), nil
		}
		return m.GetUntyped().GetValue(), nil
	}
	var s serverSample
	for _, f := range []struct {
		name string
		into *float64
	}{{"go_goroutines", &s.Goroutines}, {"go_memstats_heap_inuse_bytes", &s.HeapInuse},
		{"process_resident_memory_bytes", &s.RSS}, {"process_cpu_seconds_total", &s.CPUSeconds}} {
		if *f.into, err = value(f.name); err != nil {
			return s, err
		}
	}
	return s, nil
}

// soakStats counts what the soak did.
type soakStats struct {
	cycles, connects, drops, deletes, reconnects atomic.Int64
	ops, chats, cursors, seedUpdates, delivered  atomic.Int64
	errors, divergences                          atomic.Int64
}

func (s *soakStats) line() string {
	return fmt.Sprintf("cycles %d, connects %d (%d dropped without close, %d rejoins), deleted %d; sent ops %d, seed updates %d, chats %d, cursors %d; delivered %d; errors %d, diverged %d",
		s.cycles.Load(), s.connects.Load(), s.drops.Load(), s.reconnects.Load(), s.deletes.Load(),
		s.ops.Load(), s.seedUpdates.Load(), s.chats.Load(), s.cursors.Load(), s.delivered.Load(),
		s.errors.Load(), s.divergences.Load())
}

// soakDoc is a document and its owner's token (only the owner deletes).
type soakDoc struct{ id, token string }

// soakDocs is the pool of documents closed but not deleted, to reopen.
type soakDocs struct {
	mu   sync.Mutex
	docs []soakDoc
}

func (p *soakDocs) take(rng *rand.Rand) (soakDoc, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.docs) == 0 {
		return soakDoc{}, false
	}
	i := rng.IntN(len(p.docs))
	d := p.docs[i]
	p.docs = append(p.docs[:i], p.docs[i+1:]...)
	return d, true
}

func (p *soakDocs) put(d soakDoc) {
	p.mu.Lock()
	p.docs = append(p.docs, d)
	p.mu.Unlock()
}

var stderr io.Writer = os.Stderr

type soaker struct {
	o      options
	tokens []string
	st     soakStats
	pool   soakDocs
	tag    string
	seq    atomic.Int64
}

func soak(ctx context.Context, o options, tokens []string, tag string, out io.Writer) error {
	if o.metricsURL == "" {
		return errors.New("soak needs -metrics-url (the server's METRICS_ADDR listener, with PPROF=true)")
	}
	if _, err := scrape(ctx, o.metricsURL, true); err != nil {
		return err
	}
	s := &soaker{o: o, tokens: tokens, tag: tag}
	fmt.Fprintf(out, "soak: %d document slots, %d OT editors (%g keys/s) and %d seed clients each, lifetime ~%s, for %s\n",
		o.docs, o.clients, o.rate, o.seedClients, o.lifetime, o.duration)

	// Warm-up: one full cycle, then a baseline with nothing connected.
	s.cycle(ctx, rand.New(rand.NewPCG(0, 0)), time.Now().Add(o.warmup))
	base, err := s.quiet(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "baseline (after a warm-up cycle, nothing connected, forced GC): %s\n", base)
	if o.afterBaseline != nil {
		o.afterBaseline()
	}

	start := time.Now()
	end := start.Add(o.duration)
	cpu0, own0 := base.CPUSeconds, ownCPU()
	var wg sync.WaitGroup
	for slot := 0; slot < o.docs; slot++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(slot)+1, uint64(start.UnixNano())))
			// Stagger the slots so documents do not open and close together.
			if !sleepCtx(ctx, time.Duration(rng.Int64N(int64(o.lifetime)/int64(o.docs)+1))) {
				return
			}
			for time.Now().Before(end) && ctx.Err() == nil {
				life := o.lifetime/2 + time.Duration(rng.Int64N(int64(o.lifetime)+1))
				s.cycle(ctx, rng, minTime(time.Now().Add(life), end))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	ticker := time.NewTicker(o.sampleEvery)
	prevCPU, prevOwn, prevAt := cpu0, own0, start
sampling:
	for {
		select {
		case <-done:
			break sampling
		case <-ctx.Done():
			<-done
			break sampling
		case now := <-ticker.C:
			smp, err := scrape(ctx, o.metricsURL, true)
			if err != nil {
				fmt.Fprintf(out, "sample: %v\n", err)
				continue
			}
			own := ownCPU()
			secs := now.Sub(prevAt).Seconds()
			fmt.Fprintf(out, "[%s] server: %s, CPU %.1f%%; generator CPU %.1f%%; %s\n",
				now.Sub(start).Round(time.Second), smp, 100*(smp.CPUSeconds-prevCPU)/secs,
				100*(own-prevOwn).Seconds()/secs, s.st.line())
			prevCPU, prevOwn, prevAt = smp.CPUSeconds, own, now
		}
	}
	ticker.Stop()
	elapsed := time.Since(start)
	fmt.Fprintf(out, "load done after %s: %s\n", elapsed.Round(time.Second), s.st.line())

	// Everything is closed: wait -settle (by default long enough for the
	// server to unload the documents left idle, which it does a minute
	// after their last client left), then compare after a forced GC; a
	// goroutine just finishing gets two more looks, 2 s apart.
	http.DefaultClient.CloseIdleConnections()
	settleStart := time.Now()
	sleepCtx(ctx, o.settle)
	var final serverSample
	var v verdict
	for look := 0; ; look++ {
		if final, err = scrape(context.WithoutCancel(ctx), o.metricsURL, true); err != nil {
			return err
		}
		if v = compareToBaseline(base, final); v.OK() || look == 2 {
			break
		}
		time.Sleep(2 * time.Second)
	}
	fmt.Fprintf(out, "end (everything closed, %s settled, forced GC): %s; server CPU %.1f%% and generator CPU %.1f%% of one core on average\n",
		time.Since(settleStart).Round(time.Second), final, 100*(final.CPUSeconds-cpu0)/elapsed.Seconds(), 100*(ownCPU()-own0).Seconds()/elapsed.Seconds())
	for _, l := range v.Lines {
		fmt.Fprintln(out, l)
	}
	switch {
	case !v.OK():
		return errors.New("soak: the server did not return to its baseline")
	case s.st.divergences.Load() > 0:
		return fmt.Errorf("soak: %d documents diverged", s.st.divergences.Load())
	case s.st.errors.Load() > 0:
		return fmt.Errorf("soak: %d errors", s.st.errors.Load())
	case s.st.cycles.Load() == 0:
		return errors.New("soak: no document cycle completed")
	}
	fmt.Fprintln(out, "soak: goroutines and heap compared with the baseline: returned")
	return nil
}

// quiet waits until the server's goroutine count holds still (nothing is
// connected) and returns that sample, taken after a forced GC.
func (s *soaker) quiet(ctx context.Context) (serverSample, error) {
	http.DefaultClient.CloseIdleConnections()
	var prev serverSample
	for i := 0; ; i++ {
		smp, err := scrape(ctx, s.o.metricsURL, true)
		if err != nil {
			return smp, err
		}
		if (i > 0 && smp.Goroutines == prev.Goroutines) || i >= 15 {
			return smp, nil
		}
		prev = smp
		if !sleepCtx(ctx, time.Second) {
			return smp, ctx.Err()
		}
	}
}

// soakClient is one connection of a cycle, OT or seed dialect.
type soakClient struct {
	name  string
	seed  bool
	mu    sync.Mutex
	state *otclient.State // OT
	text  string          // seed: the text last received or sent
	conn  *otclient.Conn
	done  chan struct{} // closed when the read loop ends
	// closing is set before the generator closes the connection itself.
	closing atomic.Bool
}

// cycle runs one document's life until until: open (create or reopen),
// edit, close, perhaps delete.
func (s *soaker) cycle(ctx context.Context, rng *rand.Rand, until time.Time) {
	o := s.o
	doc, reopen := soakDoc{}, false
	if rng.IntN(3) == 0 {
		doc, reopen = s.pool.take(rng)
	}
	if !reopen {
		doc.token = s.tokens[rng.IntN(len(s.tokens))]
		var err error
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		doc.id, err = createDocument(rctx, o.url, doc.token, fmt.Sprintf("soak %s %d.go", s.tag, s.seq.Add(1)), initialText(o.docSize))
		cancel()
		if err != nil {
			s.fail("create document: %v", err)
			sleepCtx(ctx, time.Until(until))
			return
		}
	}
	id, token := doc.id, doc.token
	var clients []*soakClient
	var wg sync.WaitGroup
	n := o.clients + o.seedClients
	for i := 0; i < n && ctx.Err() == nil; i++ {
		c := s.connect(ctx, id, s.tokens[(i+rng.IntN(len(s.tokens)))%len(s.tokens)], fmt.Sprintf("S%d-%d", s.seq.Add(1), i), i >= o.clients, -1)
		if c == nil {
			continue
		}
		clients = append(clients, c)
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			s.act(ctx, c, rand.New(rand.NewPCG(seed, 1)), id, token, until)
		}(rng.Uint64())
	}
	wg.Wait()
	// End of life: every OT editor must hold the server's text.
	if ctx.Err() == nil {
		s.checkConverged(ctx, id, token, clients)
	}
	deleteWhileOpen := rng.Float64() < o.deleteFraction/2
	if deleteWhileOpen {
		for _, c := range clients {
			c.closing.Store(true)
		}
		s.delete(ctx, id, token)
	}
	for _, c := range clients {
		s.close(c, rng)
	}
	switch {
	case deleteWhileOpen:
	case rng.Float64() < o.deleteFraction/2/(1-o.deleteFraction/2):
		s.delete(ctx, id, token)
	default:
		s.pool.put(doc)
	}
	s.st.cycles.Add(1)
}

func (s *soaker) fail(format string, args ...any) {
	s.st.errors.Add(1)
	fmt.Fprintf(stderr, "soak: "+format+"\n", args...)
}

func (s *soaker) delete(ctx context.Context, id, token string) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodDelete, s.o.url+"/api/documents/"+id, nil)
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+token)
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				err = fmt.Errorf("DELETE: %d", resp.StatusCode)
			}
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			s.fail("delete %s: %v", id, err)
		}
		return
	}
	s.st.deletes.Add(1)
}

// connect opens one client (nil on failure, counted as an error).
func (s *soaker) connect(ctx context.Context, id, token, name string, seed bool, since int64) *soakClient {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := &soakClient{name: name, seed: seed, done: make(chan struct{})}
	var init *otclient.Message
	var err error
	if seed {
		c.conn, init, err = otclient.DialSeed(dctx, s.o.url, id, token)
	} else {
		c.conn, init, err = otclient.Dial(dctx, s.o.url, id, token, since)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.fail("connect %s to %s: %v", name, id, err)
		}
		return nil
	}
	s.st.connects.Add(1)
	if init.Content == nil && seed {
		s.fail("seed init without content")
		c.conn.CloseNow()
		return nil
	}
	if init.Content != nil {
		c.text = *init.Content
		c.state = otclient.NewState(name, *init.Content, init.Rev)
	}
	go s.read(ctx, c)
	return c
}

// act is one client's life in a cycle: type, chat, move the cursor, maybe
// leave and rejoin once (OT: catch-up with ?since), until until.
func (s *soaker) act(ctx context.Context, c *soakClient, rng *rand.Rand, id, token string, until time.Time) {
	o := s.o
	rejoinAt := time.Time{}
	if !c.seed && rng.IntN(3) == 0 {
		rejoinAt = time.Now().Add(time.Duration(rng.Int64N(int64(time.Until(until)) + 1)))
	}
	keyRate := o.rate
	if c.seed {
		keyRate = o.rate / 2
	}
	nextKey := poisson(rng, keyRate)
	nextChat := poisson(rng, o.chatRate)
	nextCursor := poisson(rng, o.cursorRate)
	for ctx.Err() == nil {
		next := minTime(minTime(nextKey, nextChat), minTime(nextCursor, until))
		if !rejoinAt.IsZero() {
			next = minTime(next, rejoinAt)
		}
		if !sleepCtx(ctx, time.Until(next)) || !next.Before(until) {
			return
		}
		select {
		case <-c.done: // the connection ended (a rejoin failed)
			return
		default:
		}
		var err error
		switch next {
		case rejoinAt:
			rejoinAt = time.Time{}
			if !s.rejoin(ctx, c, id, token, rng) {
				return
			}
		case nextKey:
			nextKey = nextKey.Add(poissonGap(rng, keyRate))
			err = s.key(ctx, c, rng)
		case nextChat:
			nextChat = nextChat.Add(poissonGap(rng, o.chatRate))
			s.st.chats.Add(1)
			err = c.conn.Send(ctx, map[string]any{"type": "chat", "message": "soak " + c.name})
		case nextCursor:
			nextCursor = nextCursor.Add(poissonGap(rng, o.cursorRate))
			s.st.cursors.Add(1)
			err = s.cursor(ctx, c, rng)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.fail("%s: send: %v", c.name, err)
			}
			return
		}
	}
}

func (s *soaker) key(ctx context.Context, c *soakClient, rng *rand.Rand) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seed {
		op := randomKeystroke(rng, len(c.text)) // the text is ASCII: bytes are code points
		text, err := ot.Apply(c.text, op)
		if err != nil {
			return err
		}
		c.text = text
		s.st.seedUpdates.Add(1)
		return c.conn.Send(ctx, map[string]any{"type": "update", "data": map[string]string{"content": text},
			"timestamp": float64(time.Now().UnixMilli()) / 1000})
	}
	out, err := c.state.Edit(randomKeystroke(rng, c.state.Doc.Len()))
	if err == nil && out != nil {
		s.st.ops.Add(1)
		err = c.conn.SendOp(ctx, out)
	}
	return err
}

func (s *soaker) cursor(ctx context.Context, c *soakClient, rng *rand.Rand) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seed {
		return c.conn.Send(ctx, map[string]any{"type": "cursor", "position": map[string]int{"lineNumber": 1 + rng.IntN(20), "column": 1 + rng.IntN(40)}, "selection": nil})
	}
	pos := rng.IntN(c.state.Doc.Len() + 1)
	return c.conn.Send(ctx, map[string]any{"type": "cursor", "rev": c.state.Rev, "anchor": pos, "head": pos})
}

// rejoin leaves (cleanly or not) once the client's edits are acknowledged
// and comes back with ?since, applying the catch-up.
func (s *soaker) rejoin(ctx context.Context, c *soakClient, id, token string, rng *rand.Rand) bool {
	if !s.waitAcked(ctx, []*soakClient{c}, 10*time.Second) {
		s.fail("%s: edits not acknowledged before rejoining", c.name)
		return false
	}
	c.closing.Store(true)
	s.close(c, rng)
	c.mu.Lock()
	rev, name := c.state.Rev, c.state.ClientID
	c.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, init, err := otclient.Dial(dctx, s.o.url, id, token, rev)
	if err != nil {
		if ctx.Err() == nil {
			s.fail("%s: rejoin: %v", c.name, err)
		}
		return false
	}
	s.st.connects.Add(1)
	s.st.reconnects.Add(1)
	c.mu.Lock()
	if init.Content != nil { // reset
		c.state = otclient.NewState(name+"r", *init.Content, init.Rev)
	} else {
		for _, m := range init.Ops {
			var op ot.Op
			if err = json.Unmarshal(m.Op, &op); err == nil {
				_, err = c.state.ServerOp(m.Rev, m.ID, op)
			}
			if err != nil {
				break
			}
		}
	}
	c.conn, c.done = conn, make(chan struct{})
	c.closing.Store(false)
	c.mu.Unlock()
	if err != nil {
		s.fail("%s: catch-up: %v", c.name, err)
		conn.CloseNow()
		close(c.done) // no read loop runs on this connection
		return false
	}
	go s.read(ctx, c)
	return true
}

// close ends a client's connection: without a close frame (a dropped TCP
// connection) -drop-fraction of the time, else with a normal close.
func (s *soaker) close(c *soakClient, rng *rand.Rand) {
	c.closing.Store(true)
	if rng.Float64() < s.o.dropFraction {
		s.st.drops.Add(1)
		c.conn.CloseNow()
	} else {
		c.conn.Close()
	}
	<-c.done
}

func (s *soaker) read(ctx context.Context, c *soakClient) {
	c.mu.Lock()
	conn, done := c.conn, c.done
	c.mu.Unlock()
	defer close(done)
	for {
		m, err := conn.Read(ctx)
		if err != nil {
			if !c.closing.Load() && ctx.Err() == nil {
				s.fail("%s: read: %v", c.name, err)
			}
			return
		}
		c.mu.Lock()
		var out *otclient.Outgoing
		switch m.Type {
		case "op":
			s.st.delivered.Add(1)
			var op ot.Op
			if err = json.Unmarshal(m.Op, &op); err == nil && c.state != nil {
				out, err = c.state.ServerOp(m.Rev, m.ID, op)
			}
		case "ack":
			if c.state != nil {
				out, err = c.state.Ack(m.ID, m.Rev)
			}
		case "update":
			s.st.delivered.Add(1)
			if m.Data != nil {
				c.text = m.Data.Content
			}
		case "chat", "cursor":
			s.st.delivered.Add(1)
		case "error":
			if !c.closing.Load() {
				s.fail("%s: server error: %s", c.name, m.Raw)
			}
		}
		if err == nil && out != nil {
			err = conn.SendOp(ctx, out)
		}
		c.mu.Unlock()
		if err != nil {
			if !c.closing.Load() && ctx.Err() == nil {
				s.fail("%s: %v", c.name, err)
			}
			conn.CloseNow()
			return
		}
	}
}

func (s *soaker) waitAcked(ctx context.Context, clients []*soakClient, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		pending := 0
		for _, c := range clients {
			if !c.seed {
				c.mu.Lock()
				pending += c.state.Pending()
				c.mu.Unlock()
			}
		}
		if pending == 0 {
			return true
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, 20*time.Millisecond) {
			return false
		}
	}
}

// checkConverged: once the edits are acknowledged, every OT editor must
// reach the server's text and revision (the last deliveries may still be
// in flight, so it retries for a while).
func (s *soaker) checkConverged(ctx context.Context, id, token string, clients []*soakClient) {
	if !s.waitAcked(ctx, clients, 30*time.Second) {
		s.st.divergences.Add(1)
		fmt.Fprintf(stderr, "soak: document %s: edits still unacknowledged after 30 s\n", id)
		return
	}
	for try := 0; try < 100 && ctx.Err() == nil; try++ {
		var server struct {
			Content string `json:"content"`
			Rev     int64  `json:"rev"`
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := getJSON(rctx, s.o.url+"/api/documents/"+id, token, &server)
		cancel()
		if err != nil {
			s.fail("document %s: %v", id, err)
			return
		}
		same := true
		for _, c := range clients {
			if !c.seed {
				c.mu.Lock()
				same = same && c.state.Rev == server.Rev && c.state.Text() == server.Content
				c.mu.Unlock()
			}
		}
		if same {
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	if ctx.Err() == nil {
		s.st.divergences.Add(1)
		fmt.Fprintf(stderr, "soak: DIVERGED: document %s\n", id)
	}
}

// poisson returns the first time of a Poisson process of rate per second
// (far in the future when rate is 0).
func poisson(rng *rand.Rand, rate float64) time.Time {
	return time.Now().Add(poissonGap(rng, rate))
}

func poissonGap(rng *rand.Rand, rate float64) time.Duration {
	if rate <= 0 {
		return 1000 * time.Hour
	}
	return time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// sleepCtx sleeps for d and reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
