package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/gdoc/gdoc/internal/bustest"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var uniqueCounter atomic.Int64

// unique returns a name no other test of any process uses at the same time.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), time.Now().UnixNano(), uniqueCounter.Add(1))
}

// redisOptions reads TEST_REDIS_URL (see testenv.RedisURL).
func redisOptions(t testing.TB) *goredis.Options {
	t.Helper()
	opt, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	return opt
}

// newClient returns a client of the test Redis, closed after the test.
func newClient(t *testing.T, opt *goredis.Options) *goredis.Client {
	t.Helper()
	client := goredis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		t.Fatalf("Redis at %s does not answer: %v", opt.Addr, err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startBus returns a Bus on its own client (as another instance would
// have), closed after the test.
func startBus(t *testing.T, opt *goredis.Options, serverID string, health time.Duration) *Bus {
	t.Helper()
	bus := newBus(newClient(t, opt), serverID, testLogger(t), health)
	t.Cleanup(func() { bus.Close() })
	return bus
}

func TestBusConformance(t *testing.T) {
	opt := redisOptions(t)
	bustest.RunBus(t, func(t *testing.T) (gdoc.Bus, gdoc.Bus) {
		return startBus(t, opt, "a", defaultHealthInterval), startBus(t, opt, "b", defaultHealthInterval)
	})
}

func TestBusClose(t *testing.T) {
	opt := redisOptions(t)
	bustest.RunBusClose(t, func(t *testing.T) (gdoc.Bus, gdoc.Bus) {
		return startBus(t, opt, "a", defaultHealthInterval), startBus(t, opt, "b", defaultHealthInterval)
	})
	t.Run("SubscribeAfterClose", func(t *testing.T) {
		bus := startBus(t, opt, "a", defaultHealthInterval)
		bus.Close()
		if _, err := bus.Subscribe(context.Background(), "doc", func(gdoc.Event) {}); gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
			t.Fatalf("Subscribe after Close: %v, want EUNAVAILABLE", err)
		}
		if err := bus.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestBusRefusesEventWithoutDocument(t *testing.T) {
	bus := startBus(t, redisOptions(t), "a", defaultHealthInterval)
	if err := bus.Publish(context.Background(), gdoc.Event{Kind: gdoc.EventChat}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("Publish without a document: %v, want EINVALID", err)
	}
}

func TestChannelNamesIncludeNonZeroDatabase(t *testing.T) {
	cases := map[int]string{0: "gdoc:doc:d1", 3: "gdoc:3:doc:d1"}
	for db, want := range cases {
		client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DB: db})
		bus := newBus(client, "s", nil, time.Hour)
		got := bus.Channel("d1")
		bus.Close()
		client.Close()
		if got != want {
			t.Errorf("DB %d: channel %q, want %q", db, got, want)
		}
	}
}

// events collects what a handler receives.
type events struct {
	mu  sync.Mutex
	got []gdoc.Event
}

func (e *events) handle(ev gdoc.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) count(kind, payload string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.got {
		if ev.Kind == kind && (payload == "" || string(ev.Payload) == payload) {
			n++
		}
	}
	return n
}

// waitUntil polls cond every 20 ms for up to limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publishUntilReceived publishes a fresh chat event every 50 ms until rec
// has one of them: events published while a subscriber reconnects are lost
// (at most once), so one publish would prove nothing.
func publishUntilReceived(t *testing.T, pub *Bus, docID string, rec *events) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		payload := fmt.Sprintf(`{"n":%d}`, i)
		_ = pub.Publish(context.Background(), gdoc.Event{ServerID: "pub", DocID: docID, Kind: gdoc.EventChat, Payload: json.RawMessage(payload)})
		time.Sleep(50 * time.Millisecond)
		if rec.count(gdoc.EventChat, payload) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no event reached the subscriber within 10 s")
		}
	}
}

// TestBusResyncsAfterConnectionKill kills the Bus's PubSub connection from
// the Redis side (CLIENT KILL, as a Redis restart or failover would): the
// handler must receive EventResync once the channel is subscribed again,
// and events published after that must still arrive.
func TestBusResyncsAfterConnectionKill(t *testing.T) {
	opt := redisOptions(t)
	named := *opt
	named.ClientName = unique("gdoc-bus-kill")
	sub := startBus(t, &named, "sub", defaultHealthInterval)
	pub := startBus(t, opt, "pub", defaultHealthInterval)
	admin := newClient(t, opt)
	docID := unique("killdoc")
	other := unique("killdoc-other")

	rec, otherRec := &events{}, &events{}
	for doc, r := range map[string]*events{docID: rec, other: otherRec} {
		cancel, err := sub.Subscribe(context.Background(), doc, r.handle)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	publishUntilReceived(t, pub, docID, rec)
	if n := rec.count(gdoc.EventResync, ""); n != 0 {
		t.Fatalf("%d resyncs before any failure", n)
	}

	// Only this Bus's PubSub connection: other processes share this Redis.
	ctx := context.Background()
	list, err := admin.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+named.ClientName+" ") {
			continue
		}
		id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", id, err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("found %d PubSub connections named %s, want 1:\n%s", killed, named.ClientName, list)
	}

	waitUntil(t, 10*time.Second, "EventResync on both channels", func() bool {
		return rec.count(gdoc.EventResync, "") >= 1 && otherRec.count(gdoc.EventResync, "") >= 1
	})
	publishUntilReceived(t, pub, docID, rec)
	publishUntilReceived(t, pub, other, otherRec)
}

// freezingProxy forwards TCP to Redis and can silently stop forwarding on
// the connections open now (a network partition: nothing closes, nothing
// arrives), while new connections work.
type freezingProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []net.Conn
	frozen []chan struct{}
	down   bool // new connections are closed at once
	wg     sync.WaitGroup
}

// startFreezingProxy proxies to the Redis of opt and returns opt with its
// address changed to the proxy.
func startFreezingProxy(t *testing.T, opt *goredis.Options) (*freezingProxy, *goredis.Options) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln, target: opt.Addr}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	viaProxy := *opt
	viaProxy.Addr = ln.Addr().String()
	return p, &viaProxy
}

func (p *freezingProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		freeze := make(chan struct{})
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.frozen = append(p.frozen, freeze)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(server, client, freeze)
		go p.pipe(client, server, freeze)
	}
}

// pipe copies src to dst until either closes; once freeze is closed it
// reads and discards.
func (p *freezingProxy) pipe(dst, src net.Conn, freeze chan struct{}) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		select {
		case <-freeze:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

func (p *freezingProxy) freezeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		select {
		case <-f:
		default:
			close(f)
		}
	}
}

// setDown cuts every open connection and refuses new ones (true), or lets
// new ones through again (false): Redis unreachable, then back.
func (p *freezingProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
	}
}

func (p *freezingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestBusReplacesSilentConnection: when the PubSub connection stops
// answering without closing, the Bus notices (no pong), reconnects and
// resyncs; go-redis alone would wait for TCP keepalive.
func TestBusReplacesSilentConnection(t *testing.T) {
	opt := redisOptions(t)
	proxy, viaProxy := startFreezingProxy(t, opt)
	sub := startBus(t, viaProxy, "sub", 100*time.Millisecond)
	pub := startBus(t, opt, "pub", defaultHealthInterval)
	docID := unique("silentdoc")
	rec := &events{}
	cancel, err := sub.Subscribe(context.Background(), docID, rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	publishUntilReceived(t, pub, docID, rec)

	proxy.freezeAll()
	waitUntil(t, 10*time.Second, "EventResync after the connection went silent", func() bool {
		return rec.count(gdoc.EventResync, "") >= 1
	})
	publishUntilReceived(t, pub, docID, rec)
}

// TestBusSlowHandlerGetsResync: a handler that falls a whole queue behind
// loses events and is told so, while other subscriptions are unaffected.
func TestBusSlowHandlerGetsResync(t *testing.T) {
	opt := redisOptions(t)
	// A long health interval: this test is about a slow handler, and on a
	// loaded machine a late pong would replace the connection mid-test
	// (losing events for every subscription, which is another test's case).
	bus := startBus(t, opt, "a", 10*time.Second)
	docID := unique("slowdoc")
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseSlow := func() { releaseOnce.Do(func() { close(release) }) }
	slow, fast := &events{}, &events{}
	var once sync.Once
	cancelSlow, err := bus.Subscribe(context.Background(), docID, func(ev gdoc.Event) {
		once.Do(func() { <-release })
		slow.handle(ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSlow()
	// Released before cancelSlow waits for the handler, also when the test
	// fails while the handler is still held.
	defer releaseSlow()
	cancelFast, err := bus.Subscribe(context.Background(), docID, fast.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cancelFast()

	const n = subscriptionQueueSize + 100
	_, err = bus.client.Pipelined(context.Background(), func(pipe goredis.Pipeliner) error {
		for i := range n {
			raw, _ := json.Marshal(gdoc.Event{ServerID: "a", DocID: docID, Kind: gdoc.EventChat, Payload: json.RawMessage(fmt.Sprint(i))})
			pipe.Publish(context.Background(), bus.Channel(docID), raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the fast handler to receive every event", func() bool {
		return fast.count(gdoc.EventChat, "") == n
	})
	releaseSlow()
	waitUntil(t, 10*time.Second, "EventResync for the slow handler", func() bool {
		return slow.count(gdoc.EventResync, "") == 1
	})
	if got := slow.count(gdoc.EventChat, ""); got >= n {
		t.Fatalf("slow handler received %d of %d events: nothing was dropped, the test proves nothing", got, n)
	}
	if fast.count(gdoc.EventResync, "") != 0 {
		t.Fatal("the fast handler was told to resync")
	}
}

func TestPresenceConformance(t *testing.T) {
	opt := redisOptions(t)
	bustest.RunPresence(t, func(t *testing.T) (gdoc.Presence, gdoc.Presence) {
		a := NewPresence(newClient(t, opt), unique("server-a"), DefaultPresenceTTL)
		b := NewPresence(newClient(t, opt), unique("server-b"), DefaultPresenceTTL)
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	})
}

// crash stops p's heartbeat without removing anything from Redis, as a
// killed process would.
func (p *Presence) crash() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	close(p.closing)
	<-p.done
}

func participant(conn, server, user string) gdoc.Participant {
	return gdoc.Participant{ConnID: conn, ServerID: server, UserID: user, Username: "user" + user, Color: "#e06c75", JoinedAt: time.Now()}
}

func connIDs(t *testing.T, p gdoc.Presence, docID string) []string {
	t.Helper()
	parts, err := p.Participants(context.Background(), docID)
	if err != nil {
		t.Fatalf("Participants: %v", err)
	}
	ids := make([]string, len(parts))
	for i, part := range parts {
		ids[i] = part.ConnID
	}
	return ids
}

// TestPresenceExpiresDeadServer: the connections of an instance that stops
// heartbeating vanish within ttl, and are deleted from Redis; a live
// instance's stay.
func TestPresenceExpiresDeadServer(t *testing.T) {
	opt := redisOptions(t)
	const ttl = 600 * time.Millisecond
	client := newClient(t, opt)
	deadID, liveID := unique("dead"), unique("live")
	dead := NewPresence(client, deadID, ttl)
	live := NewPresence(client, liveID, ttl)
	defer live.Close()
	docID := unique("expiredoc")
	ctx := context.Background()
	if err := dead.Join(ctx, docID, participant("dead-conn", deadID, "1")); err != nil {
		t.Fatal(err)
	}
	if err := live.Join(ctx, docID, participant("live-conn", liveID, "2")); err != nil {
		t.Fatal(err)
	}
	// Several heartbeats pass: both stay listed.
	time.Sleep(2 * ttl)
	if got := connIDs(t, live, docID); len(got) != 2 {
		t.Fatalf("while both instances heartbeat, listed %v", got)
	}

	crashedAt := time.Now()
	dead.crash()
	waitUntil(t, 3*ttl, "the dead instance's connection to disappear", func() bool {
		got := connIDs(t, live, docID)
		return len(got) == 1 && got[0] == "live-conn"
	})
	if elapsed := time.Since(crashedAt); elapsed > ttl+200*time.Millisecond {
		t.Fatalf("the dead connection stayed listed %s, more than ttl %s", elapsed, ttl)
	}
	if exists, err := client.HExists(ctx, docKey(docID), "dead-conn").Result(); err != nil || exists {
		t.Fatalf("dead entry still stored in Redis (exists=%v, err=%v)", exists, err)
	}
	if got := connIDs(t, live, docID); len(got) != 1 || got[0] != "live-conn" {
		t.Fatalf("live instance's connections: %v", got)
	}
}

// TestPresenceRepublishesAfterRedisLosesData: a Redis restarted without
// persistence forgets every key; each instance writes its connections
// again on its next heartbeat.
func TestPresenceRepublishesAfterRedisLosesData(t *testing.T) {
	opt := redisOptions(t)
	const ttl = 600 * time.Millisecond
	client := newClient(t, opt)
	serverID := unique("server")
	p := NewPresence(client, serverID, ttl)
	defer p.Close()
	docID := unique("lossdoc")
	ctx := context.Background()
	if err := p.Join(ctx, docID, participant("c1", serverID, "1")); err != nil {
		t.Fatal(err)
	}
	if err := client.Del(ctx, docKey(docID), serverKey(serverID)).Err(); err != nil {
		t.Fatal(err)
	}
	if got := connIDs(t, p, docID); len(got) != 0 {
		t.Fatalf("after the keys were deleted, listed %v", got)
	}
	// A join before the next heartbeat recreates the heartbeat key; the
	// older connection must come back all the same.
	if err := p.Join(ctx, docID, participant("c2", serverID, "2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 3*ttl, "the connection to be written again", func() bool {
		got := connIDs(t, p, docID)
		return len(got) == 2 && got[0] == "c1" && got[1] == "c2"
	})
	if ttlLeft := client.PTTL(ctx, docKey(docID)).Val(); ttlLeft <= 0 || ttlLeft > 2*ttl {
		t.Fatalf("document hash TTL %s, want in (0, %s]", ttlLeft, 2*ttl)
	}
}

// TestPresenceCloseRemovesConnections: a graceful shutdown removes the
// instance's connections at once, not after ttl.
func TestPresenceCloseRemovesConnections(t *testing.T) {
	opt := redisOptions(t)
	client := newClient(t, opt)
	a := NewPresence(client, unique("a"), DefaultPresenceTTL)
	b := NewPresence(client, unique("b"), DefaultPresenceTTL)
	defer b.Close()
	docID := unique("closedoc")
	ctx := context.Background()
	if err := a.Join(ctx, docID, participant("ca", "a", "1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(ctx, docID, participant("cb", "b", "2")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := connIDs(t, b, docID); len(got) != 1 || got[0] != "cb" {
		t.Fatalf("after a closed, listed %v", got)
	}
	if err := a.Join(ctx, docID, participant("ca2", "a", "1")); gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
		t.Fatalf("Join after Close: %v, want EUNAVAILABLE", err)
	}
	if err := a.Join(ctx, docID, gdoc.Participant{}); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("Join without a connection id: %v, want EINVALID", err)
	}
}

// BenchmarkBusCrossInstanceHop measures one event's trip from Publish on
// one instance to the handler on another (one event in flight at a time:
// latency, not throughput).
func BenchmarkBusCrossInstanceHop(b *testing.B) {
	opt := redisOptions(b)
	pubClient, subClient := goredis.NewClient(opt), goredis.NewClient(opt)
	defer pubClient.Close()
	defer subClient.Close()
	pub := NewBus(pubClient, "pub", nil)
	defer pub.Close()
	sub := NewBus(subClient, "sub", nil)
	defer sub.Close()
	docID := unique("bench")
	arrived := make(chan struct{}, 1)
	cancel, err := sub.Subscribe(context.Background(), docID, func(ev gdoc.Event) {
		if ev.Kind == gdoc.EventOp {
			arrived <- struct{}{}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()
	ev := gdoc.Event{ServerID: "pub", DocID: docID, Kind: gdoc.EventOp,
		Payload: json.RawMessage(`{"doc_id":"d","rev":1,"id":"c:1","user_id":"1","op":[3,"x"]}`)}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := pub.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		<-arrived
	}
}

// TestPresenceRecoversFromRedisOutage: a Join and a Leave that fail while
// Redis is unreachable are written once it answers again, so the outage
// leaves neither a missing connection nor a ghost one.
func TestPresenceRecoversFromRedisOutage(t *testing.T) {
	opt := redisOptions(t)
	proxy, viaProxy := startFreezingProxy(t, opt)
	viaProxy.MaxRetries, viaProxy.DialTimeout = -1, 200*time.Millisecond // fail fast while down
	const ttl = 900 * time.Millisecond
	serverID := unique("flaky")
	p := NewPresence(newClient(t, viaProxy), serverID, ttl)
	defer p.Close()
	observer := NewPresence(newClient(t, opt), unique("observer"), ttl)
	defer observer.Close()
	docID := unique("outagedoc")
	ctx := context.Background()
	if err := p.Join(ctx, docID, participant("before", serverID, "1")); err != nil {
		t.Fatal(err)
	}

	proxy.setDown(true)
	if err := p.Leave(ctx, docID, "before"); gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
		t.Fatalf("Leave while Redis is unreachable: %v, want EUNAVAILABLE", err)
	}
	if err := p.Join(ctx, docID, participant("during", serverID, "2")); gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
		t.Fatalf("Join while Redis is unreachable: %v, want EUNAVAILABLE", err)
	}
	if got := connIDs(t, observer, docID); len(got) != 1 || got[0] != "before" {
		t.Fatalf("during the outage the observer lists %v, want [before]", got)
	}
	proxy.setDown(false)

	waitUntil(t, 4*ttl, "the failed Leave and Join to reach Redis", func() bool {
		got := connIDs(t, observer, docID)
		return len(got) == 1 && got[0] == "during"
	})
}

// TestBusDatabasesAreIsolated: two deployments on one Redis server with
// different database numbers do not receive each other's events, although
// Redis pub/sub itself ignores database numbers.
func TestBusDatabasesAreIsolated(t *testing.T) {
	opt := redisOptions(t)
	onDB := func(db int) *goredis.Options {
		o := *opt
		o.DB = db
		return &o
	}
	first := opt.DB%15 + 1 // two databases other than the test's own
	second := first%15 + 1
	pubA := startBus(t, onDB(first), "a", defaultHealthInterval)
	subA := startBus(t, onDB(first), "a2", defaultHealthInterval)
	subB := startBus(t, onDB(second), "b", defaultHealthInterval)
	docID := unique("sameid")
	recA, recB := &events{}, &events{}
	for bus, rec := range map[*Bus]*events{subA: recA, subB: recB} {
		cancel, err := bus.Subscribe(context.Background(), docID, rec.handle)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	publishUntilReceived(t, pubA, docID, recA)
	// recA got an event published after recB subscribed; pub/sub order on
	// one server means recB would have it by now if it leaked.
	time.Sleep(100 * time.Millisecond)
	if n := recB.count(gdoc.EventChat, ""); n != 0 {
		t.Fatalf("a bus on database %d received %d events published on database %d", second, n, first)
	}
}

// TestBusWhileRedisUnreachable: Publish and Subscribe fail with
// EUNAVAILABLE (within the caller's deadline) while Redis cannot be
// reached, and work again once it can, with a resync for the channel that
// was subscribed all along.
func TestBusWhileRedisUnreachable(t *testing.T) {
	opt := redisOptions(t)
	proxy, viaProxy := startFreezingProxy(t, opt)
	viaProxy.MaxRetries, viaProxy.DialTimeout = -1, 200*time.Millisecond // fail fast while down
	bus := startBus(t, viaProxy, "flaky", 100*time.Millisecond)
	pub := startBus(t, opt, "pub", defaultHealthInterval)
	kept, later := unique("kept"), unique("later")
	keptRec := &events{}
	cancel, err := bus.Subscribe(context.Background(), kept, keptRec.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	proxy.setDown(true)
	ctx := context.Background()
	if err := bus.Publish(ctx, gdoc.Event{ServerID: "flaky", DocID: kept, Kind: gdoc.EventChat}); gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
		t.Fatalf("Publish while Redis is unreachable: %v, want EUNAVAILABLE", err)
	}
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = bus.Subscribe(short, later, func(gdoc.Event) {})
	stop()
	if gdoc.ErrorCode(err) != gdoc.EUNAVAILABLE {
		t.Fatalf("Subscribe while Redis is unreachable: %v, want EUNAVAILABLE", err)
	}

	proxy.setDown(false)
	waitUntil(t, 10*time.Second, "EventResync for the kept subscription", func() bool {
		return keptRec.count(gdoc.EventResync, "") >= 1
	})
	publishUntilReceived(t, pub, kept, keptRec)
	laterRec := &events{}
	cancelLater, err := bus.Subscribe(ctx, later, laterRec.handle)
	if err != nil {
		t.Fatalf("Subscribe after Redis came back: %v", err)
	}
	defer cancelLater()
	publishUntilReceived(t, pub, later, laterRec)
}
