// Package redis implements gdoc.Bus and gdoc.Presence over Redis, so that
// many G-Doc instances can serve the same documents.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gdoc/gdoc/internal/gdoc"
)

var _ gdoc.Bus = (*Bus)(nil)

const (
	// subscriptionQueueSize bounds the events waiting for one handler. A
	// handler that falls this far behind loses events and then receives an
	// EventResync, exactly as after a Redis reconnect.
	subscriptionQueueSize = 1024
	// subscribeTimeout bounds the wait for Redis to confirm a SUBSCRIBE
	// when the caller's context has no deadline.
	subscribeTimeout = 5 * time.Second
	// defaultHealthInterval is how often the shared PubSub connection is
	// pinged. A connection that answers nothing for three intervals is
	// considered dead (a silent network partition) and replaced.
	defaultHealthInterval = time.Second
)

// Bus is a gdoc.Bus on Redis pub/sub: one channel per document, events as
// JSON (gdoc.Event, server_id included), and one shared PubSub connection
// per Bus whose channels are added and removed as documents are opened and
// closed.
//
// Delivery is at most once, like Redis pub/sub itself: messages published
// while the PubSub connection is down are lost. The Bus detects every such
// window (a failed read, a reconnect, a silent connection) and, once the
// channel is subscribed again, delivers gdoc.Event{Kind: EventResync} to
// each of its handlers, so the collaboration layer catches up from the op
// log. Within one connection, a handler receives events in publish order.
type Bus struct {
	client         *goredis.Client
	serverID       string
	logger         *slog.Logger
	channelPrefix  string
	healthInterval time.Duration

	// wireMu serialises SUBSCRIBE/UNSUBSCRIBE commands with the state
	// changes that cause them, so the order Redis sees them in matches
	// the order of our bookkeeping.
	wireMu sync.Mutex

	mu       sync.Mutex
	pubsub   *goredis.PubSub
	channels map[string]*channelState // Redis channel name -> state
	closed   bool

	closing chan struct{}
	wg      sync.WaitGroup
}

// channelState is what the Bus knows about one subscribed Redis channel.
type channelState struct {
	docID string
	subs  map[*subscription]struct{}
	// confirmed is set when Redis has confirmed the subscription on the
	// current connection.
	confirmed bool
	// lost is set when the connection failed after the subscription was
	// made: events may have been dropped, so the next confirmation
	// triggers an EventResync.
	lost    bool
	waiters []chan struct{}
}

type subscription struct {
	docID  string
	handle func(gdoc.Event)
	queue  chan gdoc.Event

	mu   sync.Mutex
	lost bool // an event was dropped because queue was full

	done chan struct{}
	once sync.Once
}

// NewBus starts a Bus on client. serverID is only used in logs: the caller
// sets Event.ServerID on what it publishes and filters its own events. The
// Bus does not own client; close the client after the Bus.
//
// Redis pub/sub ignores the database number, so for a client on a database
// other than 0 the channel names include it ("gdoc:<db>:doc:<id>"):
// deployments sharing one Redis server on different databases never see
// each other's events. On database 0 a channel is "gdoc:doc:<id>".
func NewBus(client *goredis.Client, serverID string, logger *slog.Logger) *Bus {
	return newBus(client, serverID, logger, defaultHealthInterval)
}

func newBus(client *goredis.Client, serverID string, logger *slog.Logger, healthInterval time.Duration) *Bus {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	prefix := "gdoc:doc:"
	if db := client.Options().DB; db != 0 {
		prefix = fmt.Sprintf("gdoc:%d:doc:", db)
	}
	b := &Bus{
		client:         client,
		serverID:       serverID,
		logger:         logger.With("component", "redis-bus", "server_id", serverID),
		channelPrefix:  prefix,
		healthInterval: healthInterval,
		pubsub:         client.Subscribe(context.Background()),
		channels:       make(map[string]*channelState),
		closing:        make(chan struct{}),
	}
	b.wg.Add(2)
	go b.receive()
	go b.ping()
	return b
}

// Channel returns the Redis channel carrying docID's events.
func (b *Bus) Channel(docID string) string { return b.channelPrefix + docID }

// Publish sends ev on its document's channel. EUNAVAILABLE when Redis
// cannot be reached or the Bus is closed; EINVALID without a document id.
func (b *Bus) Publish(ctx context.Context, ev gdoc.Event) error {
	if ev.DocID == "" {
		return gdoc.Errorf(gdoc.EINVALID, "An event needs a document id.")
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("redis bus: encode event: %w", err)
	}
	if err := b.client.Publish(ctx, b.Channel(ev.DocID), payload).Err(); err != nil {
		b.logger.Warn("publish failed", "doc_id", ev.DocID, "kind", ev.Kind, "err", err)
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is unavailable.")
	}
	return nil
}

// Subscribe registers handle for docID's events and returns once Redis has
// confirmed the subscription. EUNAVAILABLE when Redis does not confirm in
// time (bounded by ctx, or 5 s without a deadline) or the Bus is closed.
func (b *Bus) Subscribe(ctx context.Context, docID string, handle func(gdoc.Event)) (cancel func(), err error) {
	if docID == "" {
		return nil, gdoc.Errorf(gdoc.EINVALID, "A subscription needs a document id.")
	}
	if _, ok := ctx.Deadline(); !ok {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, subscribeTimeout)
		defer stop()
	}
	sub := &subscription{
		docID:  docID,
		handle: handle,
		queue:  make(chan gdoc.Event, subscriptionQueueSize),
		done:   make(chan struct{}),
	}
	channel := b.Channel(docID)

	b.wireMu.Lock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wireMu.Unlock()
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
	}
	state := b.channels[channel]
	isNew := state == nil
	if isNew {
		state = &channelState{docID: docID, subs: make(map[*subscription]struct{})}
		b.channels[channel] = state
	}
	state.subs[sub] = struct{}{}
	var confirmed chan struct{}
	if !state.confirmed {
		confirmed = make(chan struct{})
		state.waiters = append(state.waiters, confirmed)
	}
	pubsub := b.pubsub
	// Added under mu while not closed, so Close's Wait covers it.
	b.wg.Add(1)
	b.mu.Unlock()
	var subscribeErr error
	if isNew {
		// go-redis remembers the channel even when this write fails, and
		// subscribes it again on its next connection.
		subscribeErr = pubsub.Subscribe(ctx, channel)
	}
	b.wireMu.Unlock()

	go func() {
		defer b.wg.Done()
		sub.deliver()
	}()
	cancel = func() { b.unsubscribe(channel, sub) }

	if confirmed != nil {
		select {
		case <-confirmed:
		case <-ctx.Done():
			cancel()
			b.logger.Warn("subscribe not confirmed", "doc_id", docID, "err", errors.Join(subscribeErr, ctx.Err()))
			return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is unavailable.")
		case <-b.closing:
			cancel()
			return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "The event bus is closed.")
		}
	}
	return cancel, nil
}

// unsubscribe removes sub; the last subscription of a channel unsubscribes
// the channel in Redis. Calling it again is harmless.
func (b *Bus) unsubscribe(channel string, sub *subscription) {
	sub.stop()
	b.wireMu.Lock()
	defer b.wireMu.Unlock()
	b.mu.Lock()
	state := b.channels[channel]
	if state == nil {
		b.mu.Unlock()
		return
	}
	if _, ok := state.subs[sub]; !ok {
		b.mu.Unlock()
		return
	}
	delete(state.subs, sub)
	if len(state.subs) > 0 {
		b.mu.Unlock()
		return
	}
	delete(b.channels, channel)
	pubsub, closed := b.pubsub, b.closed
	b.mu.Unlock()
	if closed {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), subscribeTimeout)
	defer stop()
	if err := pubsub.Unsubscribe(ctx, channel); err != nil {
		// go-redis forgot the channel anyway: it is not subscribed again
		// on the next connection.
		b.logger.Warn("unsubscribe failed", "channel", channel, "err", err)
	}
}

// receive is the only reader of the PubSub connection. It confirms
// subscriptions, routes messages to their subscriptions' queues, and turns
// every connection failure into EventResync for the channels it touched.
func (b *Bus) receive() {
	defer b.wg.Done()
	ctx := context.Background()
	failures := 0
	for {
		b.mu.Lock()
		pubsub, closed := b.pubsub, b.closed
		b.mu.Unlock()
		if closed {
			return
		}
		msg, err := pubsub.ReceiveTimeout(ctx, 3*b.healthInterval)
		if err != nil {
			if b.isClosed() {
				return
			}
			b.markAllLost()
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				// Nothing came back, not even the pongs: the connection is
				// silently dead, and go-redis does not reconnect on a read
				// timeout. Replace it.
				b.replacePubSub()
			}
			if failures == 0 {
				b.logger.Warn("pubsub connection lost; resubscribing", "err", err)
			}
			failures++
			backoff := min(time.Duration(failures)*100*time.Millisecond, time.Second)
			select {
			case <-time.After(backoff):
			case <-b.closing:
				return
			}
			continue
		}
		if failures > 0 {
			b.logger.Info("pubsub connection restored", "failures", failures)
			failures = 0
		}
		switch msg := msg.(type) {
		case *goredis.Subscription:
			if msg.Kind == "subscribe" {
				b.confirm(msg.Channel)
			}
		case *goredis.Message:
			b.route(msg)
		}
	}
}

// confirm records that Redis confirmed channel's subscription. A
// confirmation for a channel that was already confirmed, or that lost its
// connection, is a resubscription: its handlers get an EventResync, after
// which no event can fall between their catch-up and the live stream.
func (b *Bus) confirm(channel string) {
	b.mu.Lock()
	state := b.channels[channel]
	if state == nil { // unsubscribed meanwhile
		b.mu.Unlock()
		return
	}
	resync := state.confirmed || state.lost
	state.confirmed, state.lost = true, false
	waiters := state.waiters
	state.waiters = nil
	var subs []*subscription
	if resync {
		for sub := range state.subs {
			subs = append(subs, sub)
		}
	}
	b.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	if resync {
		b.logger.Info("resubscribed; asking for catch-up", "doc_id", state.docID)
		for _, sub := range subs {
			sub.enqueue(gdoc.Event{ServerID: b.serverID, DocID: state.docID, Kind: gdoc.EventResync})
		}
	}
}

func (b *Bus) route(msg *goredis.Message) {
	if !strings.HasPrefix(msg.Channel, b.channelPrefix) {
		return
	}
	var ev gdoc.Event
	if err := json.Unmarshal([]byte(msg.Payload), &ev); err != nil {
		b.logger.Warn("dropping an undecodable event", "channel", msg.Channel, "err", err)
		return
	}
	b.mu.Lock()
	state := b.channels[msg.Channel]
	var subs []*subscription
	if state != nil {
		for sub := range state.subs {
			subs = append(subs, sub)
		}
	}
	b.mu.Unlock()
	for _, sub := range subs {
		sub.enqueue(ev)
	}
}

// markAllLost records that every channel may have missed events.
func (b *Bus) markAllLost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, state := range b.channels {
		state.lost = true
		state.confirmed = false
	}
}

// replacePubSub swaps the PubSub connection for a new one subscribed to
// every current channel.
func (b *Bus) replacePubSub() {
	b.wireMu.Lock()
	defer b.wireMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	old := b.pubsub
	channels := make([]string, 0, len(b.channels))
	for channel := range b.channels {
		channels = append(channels, channel)
	}
	ctx, stop := context.WithTimeout(context.Background(), subscribeTimeout)
	defer stop()
	b.pubsub = b.client.Subscribe(ctx)
	pubsub := b.pubsub
	b.mu.Unlock()
	_ = old.Close()
	if len(channels) > 0 {
		// On failure go-redis keeps the channels and subscribes them when
		// the connection comes back.
		_ = pubsub.Subscribe(ctx, channels...)
	}
}

// ping keeps traffic on the PubSub connection so that receive can tell a
// quiet connection from a dead one.
func (b *Bus) ping() {
	defer b.wg.Done()
	ticker := time.NewTicker(b.healthInterval)
	defer ticker.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-ticker.C:
		}
		b.mu.Lock()
		pubsub := b.pubsub
		b.mu.Unlock()
		ctx, stop := context.WithTimeout(context.Background(), b.healthInterval)
		_ = pubsub.Ping(ctx) // a failure shows up in receive
		stop()
	}
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close ends every subscription and the PubSub connection and waits for
// the Bus's goroutines. Later calls fail with EUNAVAILABLE; closing twice
// is harmless. The Redis client stays open.
func (b *Bus) Close() error {
	b.wireMu.Lock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wireMu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	channels := b.channels
	b.channels = make(map[string]*channelState)
	pubsub := b.pubsub
	b.mu.Unlock()
	b.wireMu.Unlock()

	for _, state := range channels {
		for sub := range state.subs {
			sub.stop()
		}
	}
	err := pubsub.Close()
	b.wg.Wait()
	if err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("redis bus: close: %w", err)
	}
	return nil
}

// enqueue hands ev to the subscription without blocking the reader; a full
// queue drops ev and schedules an EventResync.
func (sub *subscription) enqueue(ev gdoc.Event) {
	select {
	case <-sub.done:
	case sub.queue <- ev:
	default:
		sub.mu.Lock()
		sub.lost = true
		sub.mu.Unlock()
	}
}

func (sub *subscription) stop() { sub.once.Do(func() { close(sub.done) }) }

// deliver calls the handler for each queued event, in order, until stop.
func (sub *subscription) deliver() {
	for {
		select {
		case <-sub.done:
			return
		case ev := <-sub.queue:
			// A cancelled subscription delivers nothing more, even what
			// was already queued.
			select {
			case <-sub.done:
				return
			default:
			}
			sub.handle(ev)
			sub.mu.Lock()
			lost := sub.lost
			sub.lost = false
			sub.mu.Unlock()
			if lost {
				sub.handle(gdoc.Event{DocID: sub.docID, Kind: gdoc.EventResync})
			}
		}
	}
}
