package collab_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/testenv"
)

// waitLimit bounds every wait for asynchronous work; reaching it is a
// failure, never a timing assertion.
const waitLimit = 10 * time.Second

// scenarioLimit bounds a whole test's calls into the service through one
// context: far above a healthy run, far below go test's 20-minute
// timeout, so a stuck call fails the test instead of hanging CI.
const scenarioLimit = 2 * time.Minute

// callCtx is the context of one call into the service or store: a call
// still blocked after waitLimit returns the context's error instead of
// hanging the package.
func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitLimit)
}

// fakeClient is a connection that records what collab delivers.
type fakeClient struct {
	connID string
	user   *gdoc.User

	mu     sync.Mutex
	inbox  []collab.Message
	full   bool // Deliver refuses: a slow consumer
	signal chan struct{}
}

var connCounter atomic.Int64

func newClient(user *gdoc.User) *fakeClient {
	return &fakeClient{connID: fmt.Sprintf("conn-%d", connCounter.Add(1)), user: user, signal: make(chan struct{}, 1)}
}

func (c *fakeClient) ConnID() string    { return c.connID }
func (c *fakeClient) User() *gdoc.User  { return c.user }
func (c *fakeClient) setFull(full bool) { c.mu.Lock(); c.full = full; c.mu.Unlock() }

func (c *fakeClient) Deliver(m collab.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full {
		return false
	}
	c.inbox = append(c.inbox, m)
	select {
	case c.signal <- struct{}{}:
	default:
	}
	return true
}

// take removes and returns everything delivered so far.
func (c *fakeClient) take() []collab.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := c.inbox
	c.inbox = nil
	return msgs
}

func (c *fakeClient) messages() []collab.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]collab.Message(nil), c.inbox...)
}

// await waits until a message of type M that satisfies match (any, when
// match is nil) has been delivered to c, and returns it.
func await[M collab.Message](t *testing.T, c *fakeClient, what string, match func(M) bool) M {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		for _, m := range c.messages() {
			if typed, ok := m.(M); ok && (match == nil || match(typed)) {
				return typed
			}
		}
		select {
		case <-c.signal:
		case <-deadline:
			t.Fatalf("%s never arrived at %s; got %+v", what, c.connID, c.messages())
		}
	}
}

func (c *fakeClient) waitAck(t *testing.T, opID string) collab.AckMessage {
	t.Helper()
	return await(t, c, "ack "+opID, func(a collab.AckMessage) bool { return a.OpID == opID })
}

func (c *fakeClient) waitOpError(t *testing.T, opID string) collab.OpErrorMessage {
	t.Helper()
	return await(t, c, "op error "+opID, func(e collab.OpErrorMessage) bool { return e.OpID == opID })
}

func (c *fakeClient) waitOp(t *testing.T, rev int64) collab.OpMessage {
	t.Helper()
	return await(t, c, fmt.Sprintf("op rev %d", rev), func(o collab.OpMessage) bool { return o.Op.Rev == rev })
}

// env is one store and bus shared by the services of a test.
type env struct {
	t        *testing.T
	dbPath   string
	store    *sqlite.Store
	bus      *inmem.Bus
	presence *inmem.Presence
	users    map[string]*gdoc.User
}

func newEnv(t testing.TB) *env {
	t.Helper()
	tt, _ := t.(*testing.T)
	path := filepath.Join(t.TempDir(), "db")
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	bus, presence := inmem.NewBus(), inmem.NewPresence()
	t.Cleanup(func() {
		bus.Close()
		presence.Close()
		store.Close()
	})
	return &env{t: tt, dbPath: path, store: store, bus: bus, presence: presence, users: make(map[string]*gdoc.User)}
}

func (e *env) user(t testing.TB, name string) *gdoc.User {
	t.Helper()
	if u, ok := e.users[name]; ok {
		return u
	}
	u := &gdoc.User{Username: name, Email: name + "@example.com", PasswordHash: "x"}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	e.users[name] = u
	return u
}

type serviceOptions struct {
	serverID   string
	store      gdoc.Store
	autosave   time.Duration
	idleUnload time.Duration
	run        bool
	logger     *slog.Logger
	bus        gdoc.Bus // default: the env's bus
	sweep      time.Duration
	maxDoc     int // MaxDocumentBytes (0: the default)
	// joinCreateLimit and accessCheck set Config's JoinCreateLimit and
	// AccessCheckInterval.
	joinCreateLimit int
	accessCheck     time.Duration
}

// service starts a Service on e and shuts it down at cleanup.
func (e *env) service(t testing.TB, opts serviceOptions) *collab.Service {
	t.Helper()
	if opts.serverID == "" {
		opts.serverID = "server-1"
	}
	if opts.store == nil {
		opts.store = e.store
	}
	bus := gdoc.Bus(e.bus)
	if opts.bus != nil {
		bus = opts.bus
	}
	if opts.logger == nil {
		opts.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := collab.New(collab.Config{
		Store: opts.store, Bus: bus, Presence: e.presence, ServerID: opts.serverID,
		AutoSaveInterval: opts.autosave, IdleUnload: opts.idleUnload,
		Logger: opts.logger, MaxDocumentBytes: opts.maxDoc, JoinCreateLimit: opts.joinCreateLimit, AccessCheckInterval: opts.accessCheck,
	})
	if opts.sweep > 0 {
		collab.SetSweepInterval(s, opts.sweep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if opts.run {
		go func() { s.Run(ctx); close(done) }()
	} else {
		close(done)
	}
	t.Cleanup(func() {
		shutdownCtx, stop := context.WithTimeout(context.Background(), waitLimit)
		defer stop()
		if err := s.Shutdown(shutdownCtx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		testenv.WaitClosed(t, done, waitLimit, "Service.Run after its context's cancel")
	})
	return s
}

func join(t testing.TB, s *collab.Service, docID string, c *fakeClient, since int64) collab.JoinState {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	state, err := s.Join(ctx, docID, c, since)
	if err != nil {
		t.Fatalf("Join(%s, %s, since %d): %v", docID, c.connID, since, err)
	}
	return state
}

func submit(t testing.TB, s *collab.Service, docID string, c *fakeClient, rev int64, opID, op string) {
	t.Helper()
	parsed, err := ot.Parse([]byte(op))
	if err != nil {
		t.Fatalf("Parse(%s): %v", op, err)
	}
	ctx, cancel := callCtx()
	defer cancel()
	if err := s.SubmitOp(ctx, docID, c, rev, opID, parsed); err != nil {
		t.Fatalf("SubmitOp(%s): %v", opID, err)
	}
}

// commit submits op and waits for its ack.
func commit(t *testing.T, s *collab.Service, docID string, c *fakeClient, rev int64, opID, op string) collab.AckMessage {
	t.Helper()
	submit(t, s, docID, c, rev, opID, op)
	return c.waitAck(t, opID)
}

// storedText rebuilds docID's text from the store alone: snapshot plus
// every op after it.
func storedText(t testing.TB, store gdoc.Store, docID string) (string, int64) {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	doc, err := store.Document(ctx, docID)
	if err != nil {
		t.Fatalf("Document(%s): %v", docID, err)
	}
	ops, err := store.Ops(ctx, docID, doc.Rev, 0)
	if err != nil {
		t.Fatal(err)
	}
	text, rev := ot.NewText(doc.Content), doc.Rev
	for _, op := range ops {
		parsed, err := ot.Parse(op.Op)
		if err != nil {
			t.Fatal(err)
		}
		if op.Rev != rev+1 {
			t.Fatalf("op log jumps from %d to %d", rev, op.Rev)
		}
		if err := text.Apply(parsed); err != nil {
			t.Fatalf("stored op %d does not apply: %v", op.Rev, err)
		}
		rev = op.Rev
	}
	return text.String(), rev
}

func current(t testing.TB, s *collab.Service, docID string) *gdoc.Document {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	doc, err := s.Current(ctx, docID)
	if err != nil {
		t.Fatalf("Current(%s): %v", docID, err)
	}
	return doc
}

// openSecondStore opens e's database file again, as a second instance
// would.
func openSecondStore(e *env) (*sqlite.Store, error) {
	s, err := sqlite.Open(context.Background(), e.dbPath)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { s.Close() })
	return s, nil
}

// countingHandler counts log records whose message starts with prefix.
type countingHandler struct {
	prefix string
	n      *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
