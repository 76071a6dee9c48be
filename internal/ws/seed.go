package ws

import (
	"fmt"
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/ot"
)

// seedShadow lets a seed-dialect client, which sends and receives whole
// texts, take part in OT. It runs the one-op-in-flight client algorithm on
// the client's behalf: server is the document at rev, view is what the
// client has (server plus the op in flight plus the buffered one). An
// incoming whole text becomes an op on view (ot.Diff from the closest
// base, see bases); a committed op of someone else is transformed over the
// pending ops and applied to view, which the client then receives whole.
//
// The reader goroutine calls clientUpdate; the writer goroutine calls
// remoteOp, ack, opRefused and flush, in rev order.
type seedShadow struct {
	s *session

	mu         sync.Mutex
	rev        int64
	server     string
	view       string
	inflight   ot.Op
	inflightID string
	buffer     ot.Op
	seq        int

	// dirty: view changed in a way the client has not been sent yet.
	dirty            bool
	authorID, author string
	changedAt        time.Time
	// bases are the texts the client may have made its next update on: the
	// texts it was last sent and the text it last sent, oldest first, each
	// with the op that takes it to view (nil: it is view). A whole text
	// that crossed someone else's change on the wire is diffed against the
	// base closest to it and transformed over what it missed, instead of
	// overwriting the crossed change.
	bases []seedBase
	// The echo: a client's own text is sent back to it only when that is
	// needed for client and view to end equal, and only once it has been
	// idle for echoDelay (an echo per keystroke would itself cross the
	// next keystroke). It is needed when merging changed the client's text
	// (view != lastClient), or when an update sent before the client's
	// last one may reach it after that one and replace its text
	// (staleInFlight), and only if the client was not last sent view.
	lastSent, lastClient string
	sentSinceUpdate      bool // an update was sent since the last client update
	staleInFlight        bool
	echoTimer            *time.Timer
}

// echoDelay is how long a seed client must be idle before it gets its
// merged text back.
const echoDelay = 150 * time.Millisecond

// maxSeedBases bounds the candidate bases kept per seed connection.
const maxSeedBases = 8

type seedBase struct {
	text   string
	toView ot.Op
}

func newSeedShadow(s *session, content string, rev int64) *seedShadow {
	return &seedShadow{s: s, rev: rev, server: content, view: content, bases: []seedBase{{text: content}}, lastSent: content, lastClient: content}
}

// changeView applies op to view and carries every base along. Call with mu
// held.
func (sh *seedShadow) changeView(op ot.Op) error {
	view, err := ot.Apply(sh.view, op)
	if err != nil {
		return err
	}
	for i := range sh.bases {
		if sh.bases[i].toView == nil {
			sh.bases[i].toView = op
		} else if sh.bases[i].toView, err = ot.Compose(sh.bases[i].toView, op); err != nil {
			return err
		}
	}
	sh.view = view
	return nil
}

func (sh *seedShadow) addBase(b seedBase) {
	sh.bases = append(sh.bases, b)
	if len(sh.bases) > maxSeedBases {
		sh.bases = append(sh.bases[:0], sh.bases[len(sh.bases)-maxSeedBases:]...)
	}
}

// closestBase returns the base that differs least from content (by the
// size of the changed middle, a cheap scan), preferring newer ones.
func (sh *seedShadow) closestBase(content string) seedBase {
	best, bestCost := sh.bases[len(sh.bases)-1], -1
	for i := len(sh.bases) - 1; i >= 0; i-- {
		if cost := middleCost(sh.bases[i].text, content); bestCost < 0 || cost < bestCost {
			best, bestCost = sh.bases[i], cost
		}
	}
	return best
}

// middleCost is the number of bytes of a and b outside their common
// prefix and suffix.
func middleCost(a, b string) int {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	q := 0
	for q < len(a)-p && q < len(b)-p && a[len(a)-1-q] == b[len(b)-1-q] {
		q++
	}
	return len(a) + len(b) - 2*(p+q)
}

// clientUpdate turns the client's whole text into an op and submits it
// (or buffers it while another op is in flight).
func (sh *seedShadow) clientUpdate(content string) *wireError {
	sh.mu.Lock()
	base := sh.closestBase(content)
	op := ot.Diff(base.text, content)
	if base.toView != nil {
		// The client missed changes: carry its edit over them (its edit on
		// the left, as the server does with an incoming op), and send it
		// the merged text.
		var err error
		newBase := seedBase{text: content}
		if newBase.toView, err = ot.Transform(base.toView, op, ot.Right); err == nil {
			op, err = ot.Transform(op, base.toView, ot.Left)
		}
		if err != nil {
			sh.mu.Unlock()
			sh.s.log.Error("seed: transform a crossed update", "err", err)
			return refuse(codeInternal, "", "Internal error.")
		}
		if err := sh.changeView(op); err != nil {
			sh.mu.Unlock()
			sh.s.log.Error("seed: apply a crossed update", "err", err)
			return refuse(codeInternal, "", "Internal error.")
		}
		sh.addBase(newBase)
	} else {
		if err := sh.changeView(op); err != nil {
			sh.mu.Unlock()
			sh.s.log.Error("seed: apply an update", "err", err)
			return refuse(codeInternal, "", "Internal error.")
		}
		sh.addBase(seedBase{text: content})
	}
	sh.lastClient = content
	sh.staleInFlight, sh.sentSinceUpdate = sh.sentSinceUpdate, false
	if sh.echoTimer == nil {
		sh.echoTimer = time.AfterFunc(echoDelay, sh.echoDue)
	} else {
		sh.echoTimer.Reset(echoDelay)
	}
	owed := sh.dirty
	if len(op) == 0 {
		sh.mu.Unlock()
		if owed {
			sh.s.wake()
		}
		return nil
	}
	if sh.inflight != nil {
		if sh.buffer == nil {
			sh.buffer = op
		} else {
			composed, err := ot.Compose(sh.buffer, op)
			if err != nil {
				sh.mu.Unlock()
				sh.s.log.Error("seed: compose buffered edits", "err", err)
				return refuse(codeInternal, "", "Internal error.")
			}
			sh.buffer = composed
		}
		sh.mu.Unlock()
		if owed {
			sh.s.wake()
		}
		return nil
	}
	rev, id := sh.rev, sh.startInflight(op)
	sh.mu.Unlock()
	if owed {
		sh.s.wake()
	}
	return sh.submit(rev, id, op)
}

// startInflight records op as in flight and returns its id. Call with mu held.
func (sh *seedShadow) startInflight(op ot.Op) string {
	sh.seq++
	sh.inflight = op
	sh.inflightID = fmt.Sprintf("%s:%d", sh.s.connID, sh.seq)
	return sh.inflightID
}

// submit hands the op to collab; a refusal at once reverts the client's
// pending edits.
func (sh *seedShadow) submit(rev int64, id string, op ot.Op) *wireError {
	err := sh.s.h.cfg.Collab.SubmitOp(sh.s.ctx, sh.s.docID, sh.s, rev, id, op)
	if err == nil {
		return nil
	}
	sh.mu.Lock()
	if sh.inflightID == id {
		sh.revert()
	}
	sh.mu.Unlock()
	sh.s.wake()
	return sh.s.domainError(err, "", true)
}

// revert drops the pending edits: the client gets the server's text back.
// Call with mu held.
func (sh *seedShadow) revert() {
	sh.inflight, sh.inflightID, sh.buffer = nil, "", nil
	if err := sh.changeView(ot.Diff(sh.view, sh.server)); err != nil {
		sh.view, sh.bases = sh.server, []seedBase{{text: sh.server}}
	}
	sh.markDirty(sh.s.user.ID, sh.s.user.Username)
}

func (sh *seedShadow) markDirty(userID, username string) {
	sh.dirty = true
	sh.authorID, sh.author = userID, username
	sh.changedAt = time.Now()
}

// remoteOp applies someone else's committed op.
func (sh *seedShadow) remoteOp(m collab.OpMessage) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m.Op.Rev != sh.rev+1 {
		return fmt.Errorf("op rev %d after shadow rev %d", m.Op.Rev, sh.rev)
	}
	op := m.Parsed
	if op == nil {
		var err error
		if op, err = ot.Parse(m.Op.Op); err != nil {
			return fmt.Errorf("parse committed op: %w", err)
		}
	}
	server, err := ot.Apply(sh.server, op)
	if err != nil {
		return fmt.Errorf("apply committed op: %w", err)
	}
	// The classic transform: the client's pending ops go on the left, as
	// the server transforms an incoming op.
	if sh.inflight != nil {
		inflight, err := ot.Transform(sh.inflight, op, ot.Left)
		if err != nil {
			return err
		}
		if op, err = ot.Transform(op, sh.inflight, ot.Right); err != nil {
			return err
		}
		sh.inflight = inflight
	}
	if sh.buffer != nil {
		buffer, err := ot.Transform(sh.buffer, op, ot.Left)
		if err != nil {
			return err
		}
		if op, err = ot.Transform(op, sh.buffer, ot.Right); err != nil {
			return err
		}
		sh.buffer = buffer
	}
	if err := sh.changeView(op); err != nil {
		return fmt.Errorf("apply to the client's text: %w", err)
	}
	sh.server, sh.rev = server, m.Op.Rev
	sh.markDirty(m.Op.UserID, m.Username)
	sh.changedAt = m.Op.CreatedAt
	return nil
}

// ack records the commit of the op in flight and submits the buffer.
func (sh *seedShadow) ack(m collab.AckMessage) error {
	sh.mu.Lock()
	if m.OpID != sh.inflightID || sh.inflight == nil {
		sh.mu.Unlock()
		return fmt.Errorf("ack of %q while %q is in flight", m.OpID, sh.inflightID)
	}
	if m.Rev != sh.rev+1 {
		sh.mu.Unlock()
		return fmt.Errorf("ack rev %d after shadow rev %d", m.Rev, sh.rev)
	}
	server, err := ot.Apply(sh.server, sh.inflight)
	if err != nil {
		sh.mu.Unlock()
		return fmt.Errorf("apply acked op: %w", err)
	}
	sh.server, sh.rev = server, m.Rev
	sh.inflight, sh.inflightID = nil, ""
	next := sh.buffer
	sh.buffer = nil
	if next == nil {
		sh.mu.Unlock()
		return nil
	}
	rev, id := sh.rev, sh.startInflight(next)
	sh.mu.Unlock()
	if werr := sh.submit(rev, id, next); werr != nil {
		sh.s.sendError(werr)
	}
	return nil
}

// opRefused reverts the pending edits when collab refused the op in flight.
func (sh *seedShadow) opRefused(m collab.OpErrorMessage) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m.OpID == sh.inflightID && sh.inflight != nil {
		sh.revert()
	}
}

// flush returns the update frame the client is owed, or nil.
func (sh *seedShadow) flush() []byte {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.dirty {
		return nil
	}
	sh.dirty = false
	if last := sh.bases[len(sh.bases)-1]; last.toView != nil || last.text != sh.view {
		sh.addBase(seedBase{text: sh.view})
	}
	sh.lastSent, sh.sentSinceUpdate = sh.view, true
	return mustJSON(updateOut{
		Type: "update", UserID: sh.authorID, Username: sh.author,
		Data: updateData{Content: sh.view}, Timestamp: timestamp(sh.changedAt),
	})
}

// echoDue runs once the client has been idle for echoDelay after an update.
func (sh *seedShadow) echoDue() {
	sh.mu.Lock()
	owed := sh.view != sh.lastSent && (sh.view != sh.lastClient || sh.staleInFlight)
	if owed {
		sh.markDirty(sh.s.user.ID, sh.s.user.Username)
	}
	sh.mu.Unlock()
	if owed {
		sh.s.wake()
	}
}

// close stops the echo timer.
func (sh *seedShadow) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.echoTimer != nil {
		sh.echoTimer.Stop()
	}
}
