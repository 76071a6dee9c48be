// Package inmem implements gdoc.Bus and gdoc.Presence inside one process:
// the zero-setup default for a single G-Doc instance.
package inmem

import (
	"context"
	"slices"
	"sync"

	"github.com/gdoc/gdoc/internal/gdoc"
)

var (
	_ gdoc.Bus      = (*Bus)(nil)
	_ gdoc.Presence = (*Presence)(nil)
)

// subscriptionQueueSize bounds the events waiting for one subscriber. A
// subscriber that falls this far behind loses events and is told so with an
// EventResync (the bus is at most once; revisions and the op log make up
// for it).
const subscriptionQueueSize = 1024

// Bus is an in-process gdoc.Bus. It serves one instance: every subscriber
// lives in this process. Each subscription has its own bounded queue and,
// while events wait, its own delivery goroutine, so a slow handler never
// blocks Publish or other subscribers, and events reach one subscriber in
// publish order.
type Bus struct {
	mu sync.Mutex
	// subs maps doc id -> its live subscriptions (a slice: one costs 8
	// bytes, where a set per document was a map of about 240).
	subs   map[string][]*subscription
	closed bool
}

type subscription struct {
	docID  string
	handle func(gdoc.Event)

	mu sync.Mutex
	// queue holds the waiting events. It grows with a burst and is dropped
	// when drained, so an idle document costs a few words, not a buffer of
	// subscriptionQueueSize events.
	queue []gdoc.Event
	// lost is set when an event was dropped because queue was full; the
	// delivery goroutine then emits one EventResync.
	lost bool
	// delivering is set while a delivery goroutine runs. There is at most
	// one, started by the push that finds none and ending when the queue
	// is drained, so an idle subscription has no goroutine and events
	// still reach the handler one at a time, in publish order.
	delivering bool
	cancelled  bool
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{subs: make(map[string][]*subscription)}
}

// Publish hands ev to every subscription of ev.DocID without waiting for
// the handlers. EUNAVAILABLE after Close.
func (b *Bus) Publish(ctx context.Context, ev gdoc.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
	}
	for _, sub := range b.subs[ev.DocID] {
		sub.push(ev)
	}
	return nil
}

func (sub *subscription) push(ev gdoc.Event) {
	sub.mu.Lock()
	if sub.cancelled {
		sub.mu.Unlock()
		return
	}
	if len(sub.queue) < subscriptionQueueSize {
		sub.queue = append(sub.queue, ev)
	} else {
		sub.lost = true
	}
	start := !sub.delivering
	sub.delivering = true
	sub.mu.Unlock()
	if start {
		go sub.deliver()
	}
}

// Subscribe registers handle for docID's events; it is active when
// Subscribe returns. EUNAVAILABLE after Close.
func (b *Bus) Subscribe(ctx context.Context, docID string, handle func(gdoc.Event)) (cancel func(), err error) {
	sub := &subscription{docID: docID, handle: handle}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
	}
	b.subs[docID] = append(b.subs[docID], sub)
	b.mu.Unlock()
	return func() { b.unsubscribe(sub) }, nil
}

func (b *Bus) unsubscribe(sub *subscription) {
	b.mu.Lock()
	if set := b.subs[sub.docID]; set != nil {
		if i := slices.Index(set, sub); i >= 0 {
			set = slices.Delete(set, i, i+1)
		}
		if len(set) == 0 {
			delete(b.subs, sub.docID)
		} else {
			b.subs[sub.docID] = set
		}
	}
	b.mu.Unlock()
	sub.cancel()
}

// cancel stops deliveries: a cancelled subscription delivers nothing more,
// even what was already queued.
func (sub *subscription) cancel() {
	sub.mu.Lock()
	sub.cancelled = true
	sub.queue = nil
	sub.lost = false
	sub.mu.Unlock()
}

// deliver hands the waiting events to the handler until none is left
// (or the subscription is cancelled), then ends.
func (sub *subscription) deliver() {
	for {
		ev, ok := sub.next()
		if !ok {
			return
		}
		sub.handle(ev)
	}
}

// next takes the oldest waiting event; once the queue is drained after a
// loss, it returns one EventResync. When there is nothing to deliver it
// reports false and the caller's goroutine ends: the next push starts
// another.
func (sub *subscription) next() (gdoc.Event, bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.cancelled && len(sub.queue) > 0 {
		ev := sub.queue[0]
		sub.queue = sub.queue[1:]
		if len(sub.queue) == 0 {
			sub.queue = nil // let a burst's buffer go
		}
		return ev, true
	}
	if !sub.cancelled && sub.lost {
		sub.lost = false
		return gdoc.Event{DocID: sub.docID, Kind: gdoc.EventResync}, true
	}
	sub.delivering = false
	return gdoc.Event{}, false
}

// Close stops every subscription; later Publish and Subscribe calls fail.
// Closing twice is harmless.
func (b *Bus) Close() error {
	b.mu.Lock()
	subs := b.subs
	b.subs = make(map[string][]*subscription)
	b.closed = true
	b.mu.Unlock()
	for _, set := range subs {
		for _, sub := range set {
			sub.cancel()
		}
	}
	return nil
}
