package collab_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
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

// headCountingStore counts HeadRev calls: the sweep's query per loaded
// document.
type headCountingStore struct {
	gdoc.Store
	heads atomic.Int64
}

func (s *headCountingStore) HeadRev(ctx context.Context, docID string) (int64, error) {
	s.heads.Add(1)
	return s.Store.HeadRev(ctx, docID)
}

type sweepClient struct{ user *gdoc.User }

func (c sweepClient) ConnID() string              { return "conn-" + c.user.ID }
func (c sweepClient) User() *gdoc.User            { return c.user }
func (c sweepClient) Deliver(collab.Message) bool { return true }

// TestSweepOnlyWithPeers: a single instance (in-process fan-out) does not
// re-read the heads of its loaded documents every few seconds; an instance
// with peers does, to repair lost bus events.
func TestSweepOnlyWithPeers(t *testing.T) {
	for _, single := range []bool{true, false} {
		base, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gdoc.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { base.Close() })
		store := &headCountingStore{Store: base}
		user := &gdoc.User{Username: "alice", Email: "alice@example.com", PasswordHash: "x"}
		if err := base.CreateUser(context.Background(), user); err != nil {
			t.Fatal(err)
		}
		bus, presence := inmem.NewBus(), inmem.NewPresence()
		t.Cleanup(func() { presence.Close(); bus.Close() })
		s := collab.New(collab.Config{Store: store, Bus: bus, Presence: presence, ServerID: "s1",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SingleInstance: single})
		collab.SetSweepInterval(s, 10*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		if _, err := s.Join(ctx, "doc", sweepClient{user}, -1); err != nil {
			t.Fatal(err)
		}
		before := store.heads.Load()
		time.Sleep(200 * time.Millisecond) // 20 sweep periods
		swept := store.heads.Load() - before
		cancel()
		testenv.WaitClosed(t, done, waitLimit, "Service.Run after its context's cancel")
		shutdownCtx, stopShutdown := callCtx()
		defer stopShutdown()
		if err := s.Shutdown(shutdownCtx); err != nil {
			t.Fatal(err)
		}
		if single && swept != 0 {
			t.Errorf("single instance: %d head reads while idle, want 0", swept)
		}
		if !single && swept == 0 {
			t.Error("instance with peers: the sweep never re-read the document's head")
		}
	}
}

// opCountingBus counts the op events published on it.
type opCountingBus struct {
	gdoc.Bus
	ops atomic.Int64
}

func (b *opCountingBus) Publish(ctx context.Context, ev gdoc.Event) error {
	if ev.Kind == gdoc.EventOp {
		b.ops.Add(1)
	}
	return b.Bus.Publish(ctx, ev)
}

type ackClient struct {
	user *gdoc.User
	acks chan collab.AckMessage
}

func (c ackClient) ConnID() string   { return "conn-" + c.user.ID }
func (c ackClient) User() *gdoc.User { return c.user }
func (c ackClient) Deliver(m collab.Message) bool {
	if a, ok := m.(collab.AckMessage); ok {
		c.acks <- a
	}
	return true
}

// TestOpEventsOnlyWithPeers: a single instance commits and acks an op
// without publishing it on the bus (its only subscriber is itself); an
// instance with peers publishes every committed op.
func TestOpEventsOnlyWithPeers(t *testing.T) {
	for _, single := range []bool{true, false} {
		store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gdoc.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		user := &gdoc.User{Username: "alice", Email: "alice@example.com", PasswordHash: "x"}
		if err := store.CreateUser(context.Background(), user); err != nil {
			t.Fatal(err)
		}
		bus, presence := &opCountingBus{Bus: inmem.NewBus()}, inmem.NewPresence()
		t.Cleanup(func() { presence.Close(); bus.Close() })
		s := collab.New(collab.Config{Store: store, Bus: bus, Presence: presence, ServerID: "s1",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SingleInstance: single})
		ctx, cancel := callCtx()
		defer cancel()
		c := ackClient{user: user, acks: make(chan collab.AckMessage, 2)}
		if _, err := s.Join(ctx, "doc", c, -1); err != nil {
			t.Fatal(err)
		}
		for i, op := range []string{"a", "b"} {
			if err := s.SubmitOp(ctx, "doc", c, int64(i), "op-"+op, ot.Op{{Insert: op}}); err != nil {
				t.Fatal(err)
			}
			select {
			case a := <-c.acks:
				if a.Rev != int64(i+1) {
					t.Fatalf("ack %+v, want revision %d", a, i+1)
				}
			case <-ctx.Done():
				t.Fatal("no ack")
			}
		}
		if err := s.Shutdown(ctx); err != nil { // the workers, publishing included, are done
			t.Fatal(err)
		}
		if got := bus.ops.Load(); single && got != 0 {
			t.Errorf("single instance: %d op events published, want 0", got)
		} else if !single && got != 2 {
			t.Errorf("instance with peers: %d op events published, want 2", got)
		}
		doc, err := store.Document(context.Background(), "doc")
		if err != nil || doc.Rev != 2 {
			t.Fatalf("stored document: %+v, %v; want revision 2", doc, err)
		}
	}
}
