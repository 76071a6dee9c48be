package collab

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Presence: who is connected to a document on any instance. Each
// connection is a gdoc.Participant in the shared Presence store; a loaded
// document announces to its local clients the users that joined or left
// since it last looked (recomputePresence), after every join and leave here,
// on every presence event from elsewhere and on the periodic sweep.

// ActiveUsers lists the users connected to docID on every instance, in
// order of their first connection.
func (s *Service) ActiveUsers(ctx context.Context, docID string) ([]gdoc.ActiveUser, error) {
	parts, err := s.cfg.Presence.Participants(ctx, docID)
	if err != nil {
		return nil, err
	}
	users := groupUsers(parts)
	if users == nil {
		users = []gdoc.ActiveUser{}
	}
	return users, nil
}

// queuePresence schedules a recomputation of d's user set unless one is
// already queued.
func (s *Service) queuePresence(d *document) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s.queuePresenceLocked(d)
}

func (s *Service) queuePresenceLocked(d *document) {
	if d.presenceQ || d.state == stateClosed {
		return
	}
	if s.closing.Load() {
		return
	}
	d.presenceQ = true
	s.workers.Go(func() {
		d.mu.Lock()
		d.presenceQ = false
		d.mu.Unlock()
		s.recomputePresence(d)
	})
}

// recomputePresence reads d's participants on every instance and tells the
// local clients which users joined or left since the set last announced.
// Cursors of connections that are gone (an instance died) are removed too.
func (s *Service) recomputePresence(d *document) {
	d.presenceMu.Lock()
	defer d.presenceMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	parts, err := s.cfg.Presence.Participants(ctx, d.id)
	if err != nil {
		s.log.Warn("reading presence failed", "doc", d.id, "err", err)
		return
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].JoinedAt.Before(parts[j].JoinedAt) })
	users := groupUsers(parts)
	live := make(map[string]bool, len(parts))
	for _, p := range parts {
		live[p.ConnID] = true
	}
	d.mu.Lock()
	defer s.unlock(d)
	next := slices.Clone(users)
	slices.SortFunc(next, func(a, b gdoc.ActiveUser) int { return strings.Compare(a.UserID, b.UserID) })
	for _, u := range users {
		if _, ok := findUser(d.announced, u.UserID); !ok {
			d.broadcastLocked(UserJoinedMessage{User: u}, "")
		}
	}
	for _, u := range d.announced {
		if _, ok := findUser(next, u.UserID); !ok {
			d.broadcastLocked(UserLeftMessage{UserID: u.UserID, Username: u.Username}, "")
		}
	}
	d.announced = next
	for connID, cur := range d.cursors {
		if _, local := d.clients[connID]; !live[connID] && !local {
			delete(d.cursors, connID)
			gone := Cursor{ConnID: cur.ConnID, UserID: cur.UserID, Username: cur.Username, Color: cur.Color, Removed: true}
			d.broadcastLocked(CursorMessage{Cursor: gone}, "")
		}
	}
}

// findUser finds userID in users, sorted by user id: its index, or where
// it would go.
func findUser(users []gdoc.ActiveUser, userID string) (int, bool) {
	return slices.BinarySearchFunc(users, userID, func(u gdoc.ActiveUser, id string) int { return strings.Compare(u.UserID, id) })
}

// groupUsers turns live connections into one ActiveUser per user, in order
// of each user's first connection.
func groupUsers(parts []gdoc.Participant) []gdoc.ActiveUser {
	var users []gdoc.ActiveUser
	index := make(map[string]int)
	for _, p := range parts {
		if i, ok := index[p.UserID]; ok {
			users[i].Connections++
			continue
		}
		index[p.UserID] = len(users)
		color := p.Color
		if color == "" {
			color = colorFor(p.UserID)
		}
		users = append(users, gdoc.ActiveUser{UserID: p.UserID, Username: p.Username, Color: color, Connections: 1})
	}
	return users
}

// colorFor is the user's colour (gdoc.UserColor).
func colorFor(userID string) string { return gdoc.UserColor(userID) }
