package collab

import (
	"fmt"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// recentOpsLimit is how many committed ops an authority keeps in memory for
// transforming late submissions and serving catch-up; older ones are read
// from the OpLog. The window grows by up to recentOpsSlack more before it is
// cut back, so that the cut (a copy of the window) happens once per
// recentOpsSlack ops rather than on every op. recentOpsBytes bounds the
// window's ops by their encoded size as well (a few big pastes must not
// keep tens of megabytes per document): past it, the oldest ops go until
// the window holds at most three quarters of it.
const (
	recentOpsLimit = 1000
	recentOpsSlack = recentOpsLimit / 4
	recentOpsBytes = 8 << 20
)

// committed is one op of a document's history.
type committed struct {
	op       gdoc.CommittedOp
	parsed   ot.Op
	username string
}

// message is how c reaches clients other than its author.
func (c committed) message() OpMessage {
	return OpMessage{Op: c.op, Username: c.username, Parsed: c.parsed}
}

// authority is the transform-and-commit core of one document, the ot.js
// server (lib/server.js) with a bounded history: its text, head revision,
// the window of recent ops and the index of their op ids. It is pure: no
// lock, no I/O. The caller (document, under its lock) reads what it needs
// from the OpLog and applies an op only once it is durable.
type authority struct {
	text        *ot.Text
	head        int64
	recent      []committed     // recent[i].op.Rev == head-len(recent)+1+i
	recentBytes int             // the encoded size of recent's ops
	opIDs       map[opKey]int64 // (user, op id) -> rev for every op with rev > idsFrom
	idsFrom     int64
	// maxTextBytes bounds the text (UTF-8 bytes): an op that would grow
	// it past the bound is refused with ETOOLARGE.
	maxTextBytes int
}

// opKey names an op: its id belongs to its author, so another user cannot
// pre-empt it.
type opKey struct{ user, id string }

// newAuthority starts an authority at a snapshot: content at revision rev.
func newAuthority(content string, rev int64) *authority {
	return &authority{text: ot.NewText(content), head: rev, idsFrom: rev, opIDs: make(map[opKey]int64),
		maxTextBytes: gdoc.DefaultMaxDocumentBytes}
}

// recentFrom returns the revision after which recent holds every op.
func (a *authority) recentFrom() int64 { return a.head - int64(len(a.recent)) }

// duplicate returns the revision user's op opID committed as, when the
// window knows it.
func (a *authority) duplicate(user, opID string) (int64, bool) {
	rev, ok := a.opIDs[opKey{user, opID}]
	return rev, ok
}

// proposal is a submitted op: written against baseRev by user, named
// opID, through a connection that has received no revision before minBase.
type proposal struct {
	baseRev int64
	minBase int64
	user    string
	opID    string
	op      ot.Op
}

// verdict is what receive decided about one proposal: exactly one of
// duplicate (the id committed as rev dupRev), deferred (its id is already in
// this batch: send it again once the batch committed), err (refused), or op
// (to commit, in order, at the head).
type verdict struct {
	op       ot.Op
	dupRev   int64
	deferred bool
	err      error
}

// receive rebases props, in order, onto the head, each also over the ones
// accepted before it, and checks each against the text. The text is the
// same afterwards: nothing is applied until apply. older holds the ops of
// the revisions just before the window (older[len(older)-1] is revision
// recentFrom), read from the OpLog by the caller for proposals based before
// the window. An error code is CodeBadRevision (base outside minBase..head),
// EINVALID (the op does not fit), ETOOLARGE (it would grow the text past
// maxTextBytes) or EINTERNAL (older does not reach back to the base).
func (a *authority) receive(props []proposal, older []ot.Op) []verdict {
	out := make([]verdict, len(props))
	from := a.recentFrom()
	first := from - int64(len(older)) // history[i] is the op of revision first+1+i
	history := make([]ot.Op, 0, len(older)+len(a.recent)+len(props))
	history = append(history, older...)
	for _, c := range a.recent {
		history = append(history, c.parsed)
	}
	inBatch := make(map[opKey]bool, len(props))
	var undo []ot.Op
	for i, p := range props {
		v := &out[i]
		key := opKey{p.user, p.opID}
		if rev, ok := a.opIDs[key]; ok {
			v.dupRev = rev
			continue
		}
		if p.baseRev < 0 || p.baseRev > a.head {
			v.err = gdoc.Errorf(CodeBadRevision, "Bad revision: %d is not between 0 and the document's revision %d.", p.baseRev, a.head)
			continue
		}
		if p.baseRev < p.minBase {
			v.err = gdoc.Errorf(CodeBadRevision, "Bad revision: %d is not one this connection has received (it started at revision %d).", p.baseRev, p.minBase)
			continue
		}
		if p.baseRev < first {
			v.err = gdoc.Errorf(gdoc.EINTERNAL, "The history since revision %d is not at hand.", p.baseRev)
			continue
		}
		if inBatch[key] {
			v.deferred = true
			continue
		}
		op, err := rebase(p.op, history[p.baseRev-first:])
		before := a.text.Bytes()
		if err == nil {
			var inverse ot.Op
			if inverse, err = invertOn(a.text, op); err == nil {
				if err = a.text.Apply(op); err == nil {
					undo = append(undo, inverse)
				}
			}
		}
		if err != nil {
			v.err = gdoc.Errorf(gdoc.EINVALID, "The op does not fit the document: %v", err)
			continue
		}
		if after := a.text.Bytes(); after > before && after > a.maxTextBytes {
			v.err = gdoc.Errorf(gdoc.ETOOLARGE, "The document would grow to %d bytes, over its limit of %d bytes; the edit was not applied.", after, a.maxTextBytes)
			if err := a.text.Apply(undo[len(undo)-1]); err != nil {
				panic(fmt.Sprintf("collab: undoing a checked op failed: %v", err)) // a bug in invertOn or ot
			}
			undo = undo[:len(undo)-1]
			continue
		}
		inBatch[key] = true
		v.op = op
		history = append(history, op) // later proposals are concurrent with it too
	}
	for i := len(undo) - 1; i >= 0; i-- {
		if err := a.text.Apply(undo[i]); err != nil {
			panic(fmt.Sprintf("collab: undoing a checked op failed: %v", err)) // a bug in invertOn or ot
		}
	}
	return out
}

// apply commits c as the new head: c.op.Rev must be head+1 and c.parsed
// must fit the text. On error nothing changed.
func (a *authority) apply(c committed) error {
	if c.op.Rev != a.head+1 {
		return fmt.Errorf("op has rev %d after %d", c.op.Rev, a.head)
	}
	if err := a.text.Apply(c.parsed); err != nil {
		return fmt.Errorf("op %d does not apply: %w", c.op.Rev, err)
	}
	a.head = c.op.Rev
	a.recent = append(a.recent, c)
	a.recentBytes += len(c.op.Op)
	if c.op.OpID != "" {
		a.opIDs[opKey{c.op.UserID, c.op.OpID}] = c.op.Rev
	}
	if len(a.recent) > recentOpsLimit+recentOpsSlack || a.recentBytes > recentOpsBytes {
		a.cutWindow()
	}
	return nil
}

// cutWindow forgets the oldest ops of the window (and their ids) until it
// holds at most recentOpsLimit ops and three quarters of recentOpsBytes.
func (a *authority) cutWindow() {
	excess := max(len(a.recent)-recentOpsLimit, 0)
	bytes := a.recentBytes
	for _, old := range a.recent[:excess] {
		bytes -= len(old.op.Op)
	}
	for excess < len(a.recent) && bytes > recentOpsBytes*3/4 {
		bytes -= len(a.recent[excess].op.Op)
		excess++
	}
	for _, old := range a.recent[:excess] {
		delete(a.opIDs, opKey{old.op.UserID, old.op.OpID})
		a.idsFrom = old.op.Rev
	}
	kept := make([]committed, len(a.recent)-excess, recentOpsLimit+recentOpsSlack+1)
	copy(kept, a.recent[excess:])
	a.recent, a.recentBytes = kept, bytes
}

// replay applies ops in order and returns how many applied; it stops at the
// first that is not the next revision or does not fit.
func (a *authority) replay(ops []committed) (int, error) {
	for i, c := range ops {
		if err := a.apply(c); err != nil {
			return i, err
		}
	}
	return len(ops), nil
}

// since returns the committed ops after rev that the window holds, and
// whether it holds all of them (false: the ones up to recentFrom are older).
func (a *authority) since(rev int64) ([]committed, bool) {
	from := a.recentFrom()
	if rev < from {
		return a.recent, false
	}
	return a.recent[rev-from:], true
}

// parseOps parses stored ops (pure; usernames are the caller's).
func parseOps(ops []gdoc.CommittedOp) ([]committed, error) {
	out := make([]committed, len(ops))
	for i, op := range ops {
		parsed, err := ot.Parse(op.Op)
		if err != nil {
			return nil, gdoc.Errorf(gdoc.EINTERNAL, "document %s: stored op %d is malformed: %v", op.DocID, op.Rev, err)
		}
		out[i] = committed{op: op, parsed: parsed}
	}
	return out, nil
}

// rebase is the authority's transform (ot.js lib/server.js): op was written
// against some revision, history lists in order the ops committed since
// then, and the result is op as it must be committed at the head. The
// incoming op goes on the Left side, as ShareDB does, so of two inserts at
// one position the one committed later ends up first; clients following the
// one-op-in-flight algorithm transform the same way and converge.
func rebase(op ot.Op, history []ot.Op) (ot.Op, error) {
	for i, other := range history {
		var err error
		if op, err = ot.Transform(op, other, ot.Left); err != nil {
			return nil, fmt.Errorf("transforming over committed op %d of %d: %w", i+1, len(history), err)
		}
	}
	return op, nil
}

// invertOn returns the op that undoes op on text, computed before op is
// applied (deletes need the text they remove). It fails when op does not
// fit text.
func invertOn(text *ot.Text, op ot.Op) (ot.Op, error) {
	invertible := make(ot.Op, len(op))
	pos, length := 0, text.Len()
	for i, c := range op {
		invertible[i] = c
		switch {
		case c.Skip > 0:
			pos += c.Skip
		case c.Delete > 0:
			if pos+c.Delete > length {
				return nil, fmt.Errorf("op component %d deletes past the end of the text", i)
			}
			removed := text.Slice(pos, pos+c.Delete)
			if c.DeleteText != "" && c.DeleteText != removed {
				return nil, fmt.Errorf("op component %d deletes a text that differs from the document's", i)
			}
			invertible[i].DeleteText = removed
			pos += c.Delete
		}
		if pos > length {
			return nil, fmt.Errorf("op component %d skips past the end of the text", i)
		}
	}
	return ot.Invert(invertible)
}
