package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gdoc/gdoc/internal/gdoc"
)

var _ gdoc.Presence = (*Presence)(nil)

// DefaultPresenceTTL is the heartbeat TTL G-Doc uses: the connections of
// an instance that dies without saying goodbye disappear from
// Participants within this long.
const DefaultPresenceTTL = 15 * time.Second

// Presence is a gdoc.Presence on Redis, shared by every instance.
//
// Layout (keys in the client's database):
//
//	gdoc:presence:doc:<docID>       hash conn_id -> participant JSON
//	gdoc:presence:server:<serverID> heartbeat, expires after ttl
//
// Each instance refreshes its heartbeat every ttl/3. Participants lists
// only entries whose instance's heartbeat is alive and deletes the others,
// so the connections of a crashed instance vanish within ttl. A document's
// hash expires 2×ttl after the last live instance with connections to it
// refreshed it, so no key outlives every instance that used it. When the
// heartbeat key is found missing (Redis restarted empty, or this instance
// stalled longer than ttl), the instance writes its connections again. A
// Join or Leave that failed because Redis was unreachable is written by the
// next heartbeat that succeeds, so a Redis outage leaves neither missing
// nor ghost connections behind.
type Presence struct {
	client   *goredis.Client
	serverID string
	ttl      time.Duration

	mu    sync.Mutex
	local map[string]map[string]string // doc id -> conn id -> entry JSON joined here
	// unsynced is set when a write of local entries failed: the next
	// heartbeat writes them all again.
	unsynced bool
	// leaves are the connections whose removal from Redis failed, retried
	// by each heartbeat.
	leaves map[string]map[string]bool // doc id -> conn id
	closed bool

	closing chan struct{}
	done    chan struct{}
}

// presenceEntry is a hash value: the participant and the instance whose
// heartbeat keeps it alive (the instance that called Join).
type presenceEntry struct {
	gdoc.Participant
	Heartbeat string `json:"heartbeat"`
}

// NewPresence starts a Presence for the instance serverID, heartbeating
// every ttl/3 until Close. ttl <= 0 means DefaultPresenceTTL. The Presence
// does not own client.
func NewPresence(client *goredis.Client, serverID string, ttl time.Duration) *Presence {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	p := &Presence{
		client:   client,
		serverID: serverID,
		ttl:      ttl,
		local:    make(map[string]map[string]string),
		leaves:   make(map[string]map[string]bool),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	ctx, stop := context.WithTimeout(context.Background(), ttl/3)
	_ = p.heartbeat(ctx) // a failure is retried by the loop
	stop()
	go p.heartbeatLoop()
	return p
}

func docKey(docID string) string       { return "gdoc:presence:doc:" + docID }
func serverKey(serverID string) string { return "gdoc:presence:server:" + serverID }

// Join records part as connected to docID (replacing an entry with the same
// ConnID). EUNAVAILABLE when Redis is down or the Presence closed.
func (p *Presence) Join(ctx context.Context, docID string, part gdoc.Participant) error {
	if part.ConnID == "" {
		return gdoc.Errorf(gdoc.EINVALID, "A participant needs a connection id.")
	}
	if part.ServerID == "" {
		part.ServerID = p.serverID
	}
	raw, err := json.Marshal(presenceEntry{Participant: part, Heartbeat: p.serverID})
	if err != nil {
		return fmt.Errorf("redis presence: encode: %w", err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is closed.")
	}
	if p.local[docID] == nil {
		p.local[docID] = make(map[string]string)
	}
	p.local[docID][part.ConnID] = string(raw)
	removeConn(p.leaves, docID, part.ConnID)
	p.mu.Unlock()

	_, err = p.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		// The heartbeat first: an entry must never be visible without it,
		// or another instance would take it for a dead one's and delete it.
		pipe.SetArgs(ctx, serverKey(p.serverID), time.Now().UTC().Format(time.RFC3339),
			goredis.SetArgs{TTL: p.ttl, Get: true})
		pipe.HSet(ctx, docKey(docID), part.ConnID, raw)
		pipe.PExpire(ctx, docKey(docID), 2*p.ttl)
		return nil
	})
	if errors.Is(err, goredis.Nil) {
		// SET ... GET found no heartbeat key (Redis lost its data): the
		// other connections of this instance must be written again too,
		// and the next heartbeat, finding the key in place, would not know.
		err = nil
		p.mu.Lock()
		p.unsynced = true
		p.mu.Unlock()
	}
	if err != nil {
		// The entry stays in local: the next successful heartbeat writes it.
		p.mu.Lock()
		p.unsynced = true
		p.mu.Unlock()
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is unavailable.")
	}
	return nil
}

// removeConn deletes connID of docID from a doc -> conn set map.
func removeConn[V any](m map[string]map[string]V, docID, connID string) {
	if conns := m[docID]; conns != nil {
		delete(conns, connID)
		if len(conns) == 0 {
			delete(m, docID)
		}
	}
}

// Leave removes connection connID of docID, whichever instance joined it.
// An unknown connection is not an error. EUNAVAILABLE when Redis is down.
func (p *Presence) Leave(ctx context.Context, docID, connID string) error {
	p.mu.Lock()
	removeConn(p.local, docID, connID)
	p.mu.Unlock()
	if err := p.client.HDel(ctx, docKey(docID), connID).Err(); err != nil {
		// Retried by the heartbeat, or the entry would outlive the
		// connection for as long as this instance lives.
		p.mu.Lock()
		if p.leaves != nil {
			if p.leaves[docID] == nil {
				p.leaves[docID] = make(map[string]bool)
			}
			p.leaves[docID][connID] = true
		}
		p.mu.Unlock()
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is unavailable.")
	}
	return nil
}

// deleteIfDead removes a hash field only if the heartbeat key named by the
// entry is still missing at the moment of deletion, so an instance that
// heartbeats again concurrently keeps its connections.
var deleteIfDead = goredis.NewScript(`
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HDEL', KEYS[1], ARGV[i-1])
  end
end
return 0`)

// Participants lists docID's live connections, oldest first. Entries of
// instances whose heartbeat expired are left out and deleted.
// EUNAVAILABLE when Redis is down.
func (p *Presence) Participants(ctx context.Context, docID string) ([]gdoc.Participant, error) {
	if p.isClosed() {
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is closed.")
	}
	fields, err := p.client.HGetAll(ctx, docKey(docID)).Result()
	if err != nil {
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is unavailable.")
	}
	if len(fields) == 0 {
		return []gdoc.Participant{}, nil
	}
	entries := make(map[string]presenceEntry, len(fields))
	heartbeats := make(map[string]bool)
	for connID, raw := range fields {
		var e presenceEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil || e.Heartbeat == "" {
			e = presenceEntry{} // unreadable: treated as dead and deleted
		}
		entries[connID] = e
		heartbeats[e.Heartbeat] = false
	}
	servers := make([]string, 0, len(heartbeats))
	keys := make([]string, 0, len(heartbeats))
	for server := range heartbeats {
		servers = append(servers, server)
		keys = append(keys, serverKey(server))
	}
	alive, err := p.client.Exists(ctx, keys...).Result()
	if err != nil {
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is unavailable.")
	}
	if int(alive) == len(keys) {
		for _, server := range servers {
			heartbeats[server] = true
		}
	} else {
		// Some instance is gone: ask which, one key at a time.
		cmds, err := p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
			for _, key := range keys {
				pipe.Exists(ctx, key)
			}
			return nil
		})
		if err != nil {
			return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is unavailable.")
		}
		for i, cmd := range cmds {
			heartbeats[servers[i]] = cmd.(*goredis.IntCmd).Val() == 1
		}
	}

	parts := make([]gdoc.Participant, 0, len(entries))
	deadKeys := []string{docKey(docID)}
	var deadConns []any
	for connID, e := range entries {
		if e.Heartbeat != "" && heartbeats[e.Heartbeat] {
			e.ConnID = connID
			parts = append(parts, e.Participant)
			continue
		}
		deadKeys = append(deadKeys, serverKey(e.Heartbeat))
		deadConns = append(deadConns, connID)
	}
	if len(deadConns) > 0 {
		// Best effort: the entries stay invisible either way.
		_ = deleteIfDead.Run(ctx, p.client, deadKeys, deadConns...).Err()
	}
	sort.Slice(parts, func(i, j int) bool {
		if !parts[i].JoinedAt.Equal(parts[j].JoinedAt) {
			return parts[i].JoinedAt.Before(parts[j].JoinedAt)
		}
		return parts[i].ConnID < parts[j].ConnID
	})
	return parts, nil
}

// heartbeat refreshes this instance's heartbeat and the TTL of every
// document it has connections to. It writes this instance's connections
// again when the heartbeat had vanished or an earlier write failed, and
// retries failed removals.
func (p *Presence) heartbeat(ctx context.Context) error {
	// SET ... GET answers nil when the key did not exist.
	_, err := p.client.SetArgs(ctx, serverKey(p.serverID), time.Now().UTC().Format(time.RFC3339),
		goredis.SetArgs{TTL: p.ttl, Get: true}).Result()
	lost := errors.Is(err, goredis.Nil)
	if err != nil && !lost {
		p.mu.Lock()
		p.unsynced = true
		p.mu.Unlock()
		return err
	}
	p.mu.Lock()
	rewrite := lost || p.unsynced
	p.unsynced = false
	local := make(map[string]map[string]string, len(p.local))
	for docID, conns := range p.local {
		local[docID] = maps.Clone(conns)
	}
	leaves := p.leaves
	p.leaves = make(map[string]map[string]bool)
	p.mu.Unlock()
	if len(local) == 0 && len(leaves) == 0 {
		return nil
	}
	_, err = p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for docID, conns := range leaves {
			for connID := range conns {
				pipe.HDel(ctx, docKey(docID), connID)
			}
		}
		for docID, conns := range local {
			if rewrite {
				for connID, raw := range conns {
					pipe.HSet(ctx, docKey(docID), connID, raw)
				}
			}
			pipe.PExpire(ctx, docKey(docID), 2*p.ttl)
		}
		return nil
	})
	if err != nil {
		// Try everything again next time, except what was left or
		// rejoined meanwhile.
		p.mu.Lock()
		p.unsynced = p.unsynced || rewrite
		for docID, conns := range leaves {
			for connID := range conns {
				if _, rejoined := p.local[docID][connID]; rejoined {
					continue
				}
				if p.leaves[docID] == nil {
					p.leaves[docID] = make(map[string]bool)
				}
				p.leaves[docID][connID] = true
			}
		}
		p.mu.Unlock()
	}
	return err
}

func (p *Presence) heartbeatLoop() {
	defer close(p.done)
	ticker := time.NewTicker(p.ttl / 3)
	defer ticker.Stop()
	for {
		select {
		case <-p.closing:
			return
		case <-ticker.C:
		}
		ctx, stop := context.WithTimeout(context.Background(), p.ttl/3)
		_ = p.heartbeat(ctx) // Participants elsewhere show the effect of a failure
		stop()
	}
}

func (p *Presence) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close stops the heartbeat and removes this instance's heartbeat and
// connections from Redis, so other instances stop listing them at once
// rather than after ttl. Closing twice is harmless.
func (p *Presence) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.closing)
	<-p.done // no heartbeat touches local or leaves any more
	p.mu.Lock()
	local, leaves := p.local, p.leaves
	p.local, p.leaves = nil, nil
	p.mu.Unlock()

	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	_, err := p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		pipe.Del(ctx, serverKey(p.serverID))
		for docID, conns := range local {
			for connID := range conns {
				pipe.HDel(ctx, docKey(docID), connID)
			}
		}
		for docID, conns := range leaves {
			for connID := range conns {
				pipe.HDel(ctx, docKey(docID), connID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis presence: remove this instance's connections: %w", err)
	}
	return nil
}
