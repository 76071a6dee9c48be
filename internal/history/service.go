package history

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// CheckpointEvery is the replay bound: a read of any revision replays at
// most this many ops after the newest checkpoint at or before it. A read
// that finds a longer stretch without checkpoints (history written before
// checkpoints existed, or not read since) writes them on its way, every
// CheckpointEvery revisions, so the next read of that stretch is bounded.
const CheckpointEvery = 1000

// Service reads history from a store.
type Service struct {
	store gdoc.Store
	every int64
}

// New returns a Service on store, checkpointing every CheckpointEvery
// revisions (every > 0 overrides it, for tests).
func New(store gdoc.Store, every int64) *Service {
	if every <= 0 {
		every = CheckpointEvery
	}
	return &Service{store: store, every: every}
}

// Revision is the text at one revision, and the op that made it.
type Revision struct {
	Rev       int64
	Content   string
	CreatedAt time.Time
	UserID    string // "" for the text as created
}

// Bounds returns the oldest revision with a known text (where the history
// starts) and the head revision.
func (s *Service) Bounds(ctx context.Context, docID string) (start, head int64, err error) {
	head, err = s.store.HeadRev(ctx, docID)
	if err != nil {
		return 0, 0, err
	}
	start, err = s.store.FirstCheckpointRev(ctx, docID)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return head, head, nil // no history kept: only the head is known
	}
	return start, head, err
}

// checkRev refuses a revision outside the history.
func (s *Service) checkRev(ctx context.Context, docID string, rev int64) error {
	start, head, err := s.Bounds(ctx, docID)
	if err != nil {
		return err
	}
	switch {
	case rev > head:
		return gdoc.Errorf(gdoc.ENOTFOUND, "Revision %d does not exist yet: the document is at revision %d.", rev, head)
	case rev < start:
		return gdoc.Errorf(gdoc.ENOTFOUND, "The history of this document starts at revision %d; revision %d is not kept.", start, rev)
	}
	return nil
}

// Revision returns docID's text at rev. ENOTFOUND outside the history.
func (s *Service) Revision(ctx context.Context, doc *gdoc.Document, rev int64) (*Revision, error) {
	if err := s.checkRev(ctx, doc.ID, rev); err != nil {
		return nil, err
	}
	text, _, err := s.state(ctx, doc.ID, rev, false)
	if err != nil {
		return nil, err
	}
	r := &Revision{Rev: rev, Content: text, CreatedAt: doc.CreatedAt}
	if rev > 0 {
		ops, err := s.store.Ops(ctx, doc.ID, rev-1, rev)
		if err != nil {
			return nil, err
		}
		if len(ops) == 1 {
			r.CreatedAt, r.UserID = ops[0].CreatedAt, ops[0].UserID
		}
	}
	return r, nil
}

// Blame returns docID's text at rev and who last changed each of its lines.
func (s *Service) Blame(ctx context.Context, doc *gdoc.Document, rev int64) (string, Blame, error) {
	if err := s.checkRev(ctx, doc.ID, rev); err != nil {
		return "", nil, err
	}
	return s.state(ctx, doc.ID, rev, true)
}

// state replays the ops after the newest checkpoint at or before rev, with
// the blame when wantBlame. When that stretch is longer than s.every, it
// writes checkpoints on the way.
func (s *Service) state(ctx context.Context, docID string, rev int64, wantBlame bool) (string, Blame, error) {
	return s.replay(ctx, docID, rev, wantBlame, false)
}

// fill writes the checkpoints due up to rev (every s.every revisions from
// the newest one).
func (s *Service) fill(ctx context.Context, docID string, rev int64) (string, Blame, error) {
	return s.replay(ctx, docID, rev, false, true)
}

func (s *Service) replay(ctx context.Context, docID string, rev int64, wantBlame, mustFill bool) (string, Blame, error) {
	return s.replayMemo(ctx, docID, rev, wantBlame, mustFill, map[int64]revState{})
}

// revState is the text and blame at a revision that a restore brought back.
type revState struct {
	text  string
	blame Blame
}

// replayMemo is replay with memo holding the states of restored revisions
// met so far: a restore of n needs the blame at n, which is kept on the way
// when n is in the replayed stretch, and computed once otherwise.
func (s *Service) replayMemo(ctx context.Context, docID string, rev int64, wantBlame, mustFill bool, memo map[int64]revState) (string, Blame, error) {
	cp, err := s.store.Checkpoint(ctx, docID, rev)
	if err != nil {
		return "", nil, err
	}
	fill := rev-cp.Rev > s.every || mustFill && rev-cp.Rev >= s.every
	withBlame := wantBlame || fill
	text := ot.NewText(cp.Content)
	var blame Blame
	var restores map[int64]int64
	targets := map[int64]bool{}
	if withBlame {
		if blame, err = Decode(cp.Blame, cp.Content, cp.Rev); err != nil {
			return "", nil, gdoc.Errorf(gdoc.EINTERNAL, "document %q checkpoint %d: %v", docID, cp.Rev, err)
		}
		if restores, err = s.store.Restores(ctx, docID, cp.Rev, rev); err != nil {
			return "", nil, err
		}
		for _, n := range restores {
			targets[n] = true
		}
		if targets[cp.Rev] {
			memo[cp.Rev] = revState{cp.Content, slices.Clone(blame)}
		}
	}
	saved := cp.Rev
	for cur := cp.Rev; cur < rev; {
		to := min(rev, cur+s.every)
		ops, err := s.store.Ops(ctx, docID, cur, to)
		if err != nil {
			return "", nil, err
		}
		if int64(len(ops)) != to-cur {
			return "", nil, gdoc.Errorf(gdoc.EINTERNAL, "document %q: %d ops stored between revisions %d and %d", docID, len(ops), cur, to)
		}
		for _, c := range ops {
			op, err := ot.Parse(c.Op)
			if err == nil {
				err = text.Apply(op)
			}
			if err == nil && withBlame {
				blame, err = blame.Apply(op, Author{Rev: c.Rev, UserID: c.UserID, At: c.CreatedAt.UnixMilli()})
			}
			if err != nil {
				return "", nil, gdoc.Errorf(gdoc.EINTERNAL, "document %q op %d: %v", docID, c.Rev, err)
			}
			// A restore that brought back revision n's text exactly brings
			// back its authors too, not the restorer's name on every line.
			if n, ok := restores[c.Rev]; ok && n < c.Rev {
				m, known := memo[n]
				if !known {
					// Before this stretch (or its history is gone): once.
					rt, rb, err := s.replayMemo(ctx, docID, n, true, false, memo)
					if err != nil && ctx.Err() != nil {
						return "", nil, ctx.Err()
					}
					m = revState{rt, rb}
					memo[n] = m
				}
				if m.blame != nil && m.text == text.String() {
					blame = slices.Clone(m.blame)
				}
			}
			if targets[c.Rev] {
				memo[c.Rev] = revState{text.String(), slices.Clone(blame)}
			}
		}
		cur = to
		if fill && cur-saved >= s.every {
			saved = cur
			err := s.store.SaveCheckpoint(ctx, &gdoc.Checkpoint{DocID: docID, Rev: cur, Content: text.String(), Blame: blame.Encode()})
			if err != nil && !errors.Is(err, context.Canceled) {
				return "", nil, err
			}
		}
	}
	return text.String(), blame, nil
}

// MaxPageOps bounds the ops one page of sessions reads: a longer stretch
// (a long session) is returned in parts, the next page continuing it.
const MaxPageOps = 20_000

// Page is one page of sessions, newest first.
type Page struct {
	Sessions   []*Session
	Start      int64 // the oldest revision the history keeps
	Head       int64
	NextBefore int64 // the before of the next (older) page; 0 when this is the last
}

// Sessions returns up to limit sessions whose ops are at or before before
// (0: the head), newest first.
func (s *Service) Sessions(ctx context.Context, docID string, before int64, limit int) (*Page, error) {
	start, head, err := s.Bounds(ctx, docID)
	if err != nil {
		return nil, err
	}
	if before <= 0 || before > head {
		before = head
	}
	page := &Page{Start: start, Head: head, Sessions: []*Session{}}
	if before <= start {
		return page, nil
	}
	restores, err := s.store.Restores(ctx, docID, start, before)
	if err != nil {
		return nil, err
	}
	g := &Grouper{Restores: restores}
	hi, read := before, 0
	for hi > start && len(g.Sessions()) <= limit && read < MaxPageOps {
		lo := max(start, hi-s.every)
		ops, err := s.store.Ops(ctx, docID, lo, hi)
		if err != nil {
			return nil, err
		}
		for i := len(ops) - 1; i >= 0; i-- {
			ins, del := 0, 0
			if op, err := ot.Parse(ops[i].Op); err == nil {
				ins, del = Counts(op)
			}
			g.Add(ops[i], ins, del)
		}
		hi, read = lo, read+len(ops)
	}
	sessions := g.Sessions()
	switch {
	case len(sessions) > limit:
		sessions = sessions[:limit]
		page.NextBefore = sessions[limit-1].FromRev
	case hi > start && len(sessions) > 0:
		// Stopped at MaxPageOps: the oldest entry may go on before where
		// reading stopped; the next page continues it.
		page.NextBefore = sessions[len(sessions)-1].FromRev
	}
	page.Sessions = sessions
	return page, nil
}

// Restore commits, through collab, the one op that turns the current text
// into the text at rev, on behalf of user, marks it as a restore of rev and
// returns the document after it. A restore to the current text commits
// nothing.
func (s *Service) Restore(ctx context.Context, collab gdoc.Collab, doc *gdoc.Document, user *gdoc.User, rev int64) (*gdoc.Document, error) {
	r, err := s.Revision(ctx, doc, rev)
	if err != nil {
		return nil, err
	}
	before, err := s.store.HeadRev(ctx, doc.ID)
	if err != nil {
		return nil, err
	}
	after, err := collab.ReplaceContent(ctx, doc.ID, user, r.Content)
	if err != nil {
		return nil, err
	}
	// ReplaceContent commits its op under a "rest:" id; find it among the
	// ops committed meanwhile (newest first: it is usually the last one).
	ops, err := s.store.Ops(ctx, doc.ID, before, after.Rev)
	if err != nil {
		return nil, err
	}
	for i := len(ops) - 1; i >= 0; i-- {
		if strings.HasPrefix(ops[i].OpID, "rest:") && ops[i].UserID == user.ID {
			if err := s.store.MarkRestore(ctx, doc.ID, ops[i].Rev, rev); err != nil {
				return nil, err
			}
			break
		}
	}
	return after, nil
}
