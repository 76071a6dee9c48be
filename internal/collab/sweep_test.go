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
