// Package inmem implements gdoc.Bus and gdoc.Presence inside one process:
// the zero-setup default for a single G-Doc instance.
package inmem

import (
	"context"
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
// lives in this process. Each subscription has its own bounded queue and
// goroutine, so a slow handler never blocks Publish or other subscribers,
// and events reach one subscriber in publish order.
type Bus struct {
	mu     sync.Mutex
	subs   map[string]map[*subscription]struct{} // doc id -> live subscriptions
	closed bool
}

type subscription struct {
	docID  string
	handle func(gdoc.Event)
	wake   chan struct{} // capacity 1: events are waiting
	done   chan struct{}
	once   sync.Once

	mu sync.Mutex
	// queue holds the waiting events. It grows with a burst and is dropped
	// when drained, so an idle document costs a few words, not a buffer of
	// subscriptionQueueSize events.
	queue []gdoc.Event
	// lost is set when an event was dropped because queue was full; the
	// delivery goroutine then emits one EventResync.
	lost bool
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{subs: make(map[string]map[*subscription]struct{})}
}

// Publish hands ev to every subscription of ev.DocID without waiting for
// the handlers. EUNAVAILABLE after Close.
func (b *Bus) Publish(ctx context.Context, ev gdoc.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
	}
	for sub := range b.subs[ev.DocID] {
		sub.push(ev)
	}
	return nil
}

func (sub *subscription) push(ev gdoc.Event) {
	sub.mu.Lock()
	if len(sub.queue) < subscriptionQueueSize {
		sub.queue = append(sub.queue, ev)
	} else {
		sub.lost = true
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default: // already woken
	}
}

// Subscribe registers handle for docID's events; it is active when
// Subscribe returns. EUNAVAILABLE after Close.
func (b *Bus) Subscribe(ctx context.Context, docID string, handle func(gdoc.Event)) (cancel func(), err error) {
	sub := &subscription{
		docID:  docID,
		handle: handle,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
	}
	if b.subs[docID] == nil {
		b.subs[docID] = make(map[*subscription]struct{})
	}
	b.subs[docID][sub] = struct{}{}
	b.mu.Unlock()

	go sub.deliver()
	return func() { b.unsubscribe(sub) }, nil
}

func (b *Bus) unsubscribe(sub *subscription) {
	b.mu.Lock()
	if set := b.subs[sub.docID]; set != nil {
		delete(set, sub)
		if len(set) == 0 {
			delete(b.subs, sub.docID)
		}
	}
	b.mu.Unlock()
	sub.once.Do(func() { close(sub.done) })
}

func (sub *subscription) deliver() {
	for {
		select {
		case <-sub.done:
			return
		case <-sub.wake:
		}
		for {
			ev, ok := sub.next()
			if !ok {
				break
			}
			// A cancelled subscription delivers nothing more, even what
			// was already queued.
			select {
			case <-sub.done:
				return
			default:
			}
			sub.handle(ev)
		}
	}
}

// next takes the oldest waiting event; once the queue is drained after a
// loss, it returns one EventResync.
func (sub *subscription) next() (gdoc.Event, bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.queue) > 0 {
		ev := sub.queue[0]
		sub.queue = sub.queue[1:]
		if len(sub.queue) == 0 {
			sub.queue = nil // let a burst's buffer go
		}
		return ev, true
	}
	if sub.lost {
		sub.lost = false
		return gdoc.Event{DocID: sub.docID, Kind: gdoc.EventResync}, true
	}
	return gdoc.Event{}, false
}

// Close stops every subscription; later Publish and Subscribe calls fail.
// Closing twice is harmless.
func (b *Bus) Close() error {
	b.mu.Lock()
	subs := b.subs
	b.subs = make(map[string]map[*subscription]struct{})
	b.closed = true
	b.mu.Unlock()
	for _, set := range subs {
		for sub := range set {
			sub.once.Do(func() { close(sub.done) })
		}
	}
	return nil
}
