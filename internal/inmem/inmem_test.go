package inmem_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/bustest"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/inmem"
)

// newBus is one bus seen from both "instances": in memory there is only
// one. Closing it twice is harmless.
func newBus(t *testing.T) (gdoc.Bus, gdoc.Bus) {
	bus := inmem.NewBus()
	t.Cleanup(func() { bus.Close() })
	return bus, bus
}

func TestBus(t *testing.T)      { bustest.RunBus(t, newBus) }
func TestBusClose(t *testing.T) { bustest.RunBusClose(t, newBus) }

func TestPresence(t *testing.T) {
	bustest.RunPresence(t, func(t *testing.T) (gdoc.Presence, gdoc.Presence) {
		p := inmem.NewPresence()
		t.Cleanup(func() { p.Close() })
		return p, p
	})
}

// A subscriber whose handler is stuck does not block Publish; once it
// resumes it is told it lost events.
func TestBusSlowSubscriberGetsResync(t *testing.T) {
	bus := inmem.NewBus()
	defer bus.Close()
	release := make(chan struct{})
	var resyncs atomic.Int32
	cancel, err := bus.Subscribe(context.Background(), "doc", func(ev gdoc.Event) {
		if ev.Kind == gdoc.EventResync {
			resyncs.Add(1)
			return
		}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3000 {
			if err := bus.Publish(context.Background(), gdoc.Event{DocID: "doc", Kind: gdoc.EventOp}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a stuck subscriber")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for resyncs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no EventResync after events were dropped")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
