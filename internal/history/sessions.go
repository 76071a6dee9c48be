package history

import (
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// Pause is the quiet time after which the next op starts a new session.
const Pause = 5 * time.Minute

// Session is a run of ops with no pause of Pause or longer, or one restore:
// the ops with FromRev < rev <= ToRev.
type Session struct {
	FromRev, ToRev     int64
	StartedAt, EndedAt time.Time
	UserIDs            []string // in order of first op
	Inserted, Deleted  int      // code points
	RestoredRev        int64    // for a restore: the revision it brought back; else -1
}

// Counts returns the code points op inserts and deletes.
func Counts(op ot.Op) (inserted, deleted int) {
	for _, c := range op {
		inserted += utf8Len(c.Insert)
		deleted += c.Delete
	}
	return inserted, deleted
}

func utf8Len(s string) int {
	n := 0
	for range s {
		n++
	}
	return n
}

// Grouper builds sessions from ops fed newest first.
type Grouper struct {
	Restores map[int64]int64 // rev -> restored revision
	sessions []*Session
	oldest   *gdoc.CommittedOp
}

// Add feeds the op before every op fed so far (ops go newest first) with its
// parsed form's counts.
func (g *Grouper) Add(op gdoc.CommittedOp, inserted, deleted int) {
	restored, isRestore := g.Restores[op.Rev]
	var cur *Session
	if n := len(g.sessions); n > 0 {
		cur = g.sessions[n-1]
	}
	prevRestore := false
	if g.oldest != nil {
		_, prevRestore = g.Restores[g.oldest.Rev]
	}
	if cur == nil || isRestore || prevRestore || cur.StartedAt.Sub(op.CreatedAt) >= Pause {
		cur = &Session{ToRev: op.Rev, EndedAt: op.CreatedAt, RestoredRev: -1}
		if isRestore {
			cur.RestoredRev = restored
		}
		g.sessions = append(g.sessions, cur)
	}
	cur.FromRev, cur.StartedAt = op.Rev-1, op.CreatedAt
	cur.Inserted += inserted
	cur.Deleted += deleted
	found := false
	for i, id := range cur.UserIDs {
		if id == op.UserID {
			found = true
			// Keep the order of first op: this op is older, so its user
			// comes first.
			copy(cur.UserIDs[1:i+1], cur.UserIDs[:i])
			cur.UserIDs[0] = id
			break
		}
	}
	if !found {
		cur.UserIDs = append([]string{op.UserID}, cur.UserIDs...)
	}
	g.oldest = &op
}

// Sessions returns the sessions built so far, newest first. The last one may
// still grow when older ops are added.
func (g *Grouper) Sessions() []*Session { return g.sessions }
