package inmem

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Presence is an in-process gdoc.Presence for a single instance: a
// connection is present from Join until Leave. Nothing expires, because
// the only instance that could stop heartbeating is this one.
type Presence struct {
	mu sync.Mutex
	// docs maps doc id -> its participants, a slice searched by conn id:
	// one participant costs its 112 bytes, where a map per document held
	// eight slots (about 370 bytes with the participant). Join and Leave
	// are linear in a document's connections, as Participants (which
	// collab reads on every join and leave) is already.
	docs   map[string][]gdoc.Participant
	closed bool
}

// NewPresence returns an empty presence registry.
func NewPresence() *Presence {
	return &Presence{docs: make(map[string][]gdoc.Participant)}
}

// Join records p on docID, replacing an earlier entry with the same ConnID.
func (p *Presence) Join(ctx context.Context, docID string, part gdoc.Participant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is closed.")
	}
	parts := p.docs[docID]
	if i := indexConn(parts, part.ConnID); i >= 0 {
		parts[i] = part
		return nil
	}
	p.docs[docID] = append(parts, part)
	return nil
}

// Leave removes connID from docID; an unknown connection is not an error.
func (p *Presence) Leave(ctx context.Context, docID, connID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := p.docs[docID]
	if i := indexConn(parts, connID); i >= 0 {
		parts = slices.Delete(parts, i, i+1)
		if len(parts) == 0 {
			delete(p.docs, docID)
		} else {
			p.docs[docID] = parts
		}
	}
	return nil
}

func indexConn(parts []gdoc.Participant, connID string) int {
	return slices.IndexFunc(parts, func(part gdoc.Participant) bool { return part.ConnID == connID })
}

// Participants lists docID's connections, oldest first.
func (p *Presence) Participants(ctx context.Context, docID string) ([]gdoc.Participant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Presence is closed.")
	}
	parts := slices.Clone(p.docs[docID])
	if parts == nil {
		parts = []gdoc.Participant{}
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
	p.docs = make(map[string][]gdoc.Participant)
	return nil
}
