package inmem

import (
	"context"
	"sort"
	"sync"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Presence is an in-process gdoc.Presence for a single instance: a
// connection is present from Join until Leave. Nothing expires, because
// the only instance that could stop heartbeating is this one.
type Presence struct {
	mu sync.Mutex
	// docs maps doc id -> conn id -> participant. The values are pointers:
	// a map's slots hold eight entries at a time, and a participant is 120
	// bytes, so a document with one connection would hold about 1 KiB.
	docs   map[string]map[string]*gdoc.Participant
	closed bool
}

// NewPresence returns an empty presence registry.
func NewPresence() *Presence {
	return &Presence{docs: make(map[string]map[string]*gdoc.Participant)}
}

// Join records p on docID, replacing an earlier entry with the same ConnID.
func (p *Presence) Join(ctx context.Context, docID string, part gdoc.Participant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is closed.")
	}
	if p.docs[docID] == nil {
		p.docs[docID] = make(map[string]*gdoc.Participant, 1)
	}
	p.docs[docID][part.ConnID] = &part
	return nil
}

// Leave removes connID from docID; an unknown connection is not an error.
func (p *Presence) Leave(ctx context.Context, docID, connID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if conns := p.docs[docID]; conns != nil {
		delete(conns, connID)
		if len(conns) == 0 {
			delete(p.docs, docID)
		}
	}
	return nil
}

// Participants lists docID's connections, oldest first.
func (p *Presence) Participants(ctx context.Context, docID string) ([]gdoc.Participant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is closed.")
	}
	parts := make([]gdoc.Participant, 0, len(p.docs[docID]))
	for _, part := range p.docs[docID] {
		parts = append(parts, *part)
	}
	sort.Slice(parts, func(i, j int) bool {
		if !parts[i].JoinedAt.Equal(parts[j].JoinedAt) {
			return parts[i].JoinedAt.Before(parts[j].JoinedAt)
		}
		return parts[i].ConnID < parts[j].ConnID
	})
	return parts, nil
}

// Close forgets everything; later calls fail with EUNAVAILABLE.
func (p *Presence) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.docs = make(map[string]map[string]*gdoc.Participant)
	return nil
}
