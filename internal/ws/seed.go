package ws

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
)

// seedShadow lets a seed-dialect client, which sends and receives whole
// texts, take part in OT. It runs the one-op-in-flight client algorithm on
// the client's behalf with an otclient.State, whose text (the view) is what
// the client has: the document at the State's revision plus the op in
// flight plus the buffered one. An incoming whole text becomes an op on the
// view (ot.Diff from the closest base, see bases); a committed op of someone
// else is transformed over the pending ops and applied to the view, which
// the client then receives whole.
//
// The reader goroutine calls clientUpdate; the writer goroutine calls
// remoteOp, ack, opRefused and flush, in rev order; submitLoop, a goroutine
// of its own, hands the ops to collab, so the writer only writes.
type seedShadow struct {
	s *session

	mu     sync.Mutex
	st     *otclient.State // revision, view and the pending ops
	server string          // the document at st.Rev, for reverting
	// toSubmit is the op to hand to collab next: a copy of the State's
	// op in flight as it was made (the State transforms its own copy as
	// remote ops arrive; collab must get the op on its base revision).
	toSubmit  *otclient.Outgoing
	submitDue chan struct{} // capacity 1: toSubmit is set

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
	return &seedShadow{
		s: s, st: otclient.NewState(s.connID, content, rev), server: content,
		submitDue: make(chan struct{}, 1),
		bases:     []seedBase{{text: content}}, lastSent: content, lastClient: content,
	}
}

// carryBases carries every base over op, which the view just took. Call
// with mu held.
func (sh *seedShadow) carryBases(op ot.Op) error {
	for i := range sh.bases {
		if sh.bases[i].toView == nil {
			sh.bases[i].toView = op
		} else {
			var err error
			if sh.bases[i].toView, err = ot.Compose(sh.bases[i].toView, op); err != nil {
				return err
			}
		}
	}
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

// clientUpdate turns the client's whole text into an op on the view, which
// goes to collab at once or, while another op is in flight, into the
// buffer.
func (sh *seedShadow) clientUpdate(content string) *wireError {
	sh.mu.Lock()
	werr := sh.takeUpdate(content)
	owed := sh.dirty
	sh.mu.Unlock()
	if owed {
		sh.s.wake()
	}
	return werr
}

// takeUpdate is clientUpdate with mu held.
func (sh *seedShadow) takeUpdate(content string) *wireError {
	base := sh.closestBase(content)
	op := ot.Diff(base.text, content)
	newBase := seedBase{text: content}
	if base.toView != nil {
		// The client missed changes: carry its edit over them (its edit on
		// the left, as the server does with an incoming op), and send it
		// the merged text.
		var err error
		if newBase.toView, err = ot.Transform(base.toView, op, ot.Right); err == nil {
			op, err = ot.Transform(op, base.toView, ot.Left)
		}
		if err != nil {
			sh.s.logger().Error("seed: transform a crossed update", "err", err)
			return refuse(codeInternal, "", "Internal error.")
		}
	}
	if len(op) > 0 {
		out, err := sh.st.Edit(op)
		if err != nil {
			sh.s.logger().Error("seed: apply an update", "err", err)
			return refuse(codeInternal, "", "Internal error.")
		}
		if out != nil {
			sh.submitLater(out)
		}
	}
	if err := sh.carryBases(op); err != nil {
		sh.s.logger().Error("seed: carry the bases over an update", "err", err)
		return refuse(codeInternal, "", "Internal error.")
	}
	sh.addBase(newBase)
	sh.lastClient = content
	sh.staleInFlight, sh.sentSinceUpdate = sh.sentSinceUpdate, false
	if sh.echoTimer == nil {
		sh.echoTimer = time.AfterFunc(echoDelay, sh.echoDue)
	} else {
		sh.echoTimer.Reset(echoDelay)
	}
	return nil
}

// submitLater schedules out, the State's new op in flight, for submitLoop.
// Call with mu held.
func (sh *seedShadow) submitLater(out *otclient.Outgoing) {
	o := *out
	sh.toSubmit = &o
	select {
	case sh.submitDue <- struct{}{}:
	default: // already due
	}
}

// submitLoop hands each op in flight to collab until ctx is done. It is the
// only caller of SubmitOp for the connection.
func (sh *seedShadow) submitLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sh.submitDue:
		}
		sh.mu.Lock()
		o := sh.toSubmit
		sh.toSubmit = nil
		if in := sh.st.Inflight(); o != nil && (in == nil || in.ID != o.ID) {
			o = nil // reverted meanwhile
		}
		sh.mu.Unlock()
		if o != nil {
			if werr := sh.submit(*o); werr != nil {
				sh.s.sendError(werr)
			}
		}
	}
}

// submit hands the op to collab; a refusal at once reverts the client's
// pending edits.
func (sh *seedShadow) submit(o otclient.Outgoing) *wireError {
	err := sh.s.h.cfg.Collab.SubmitOp(sh.s.ctx, sh.s.docID, sh.s, o.Rev, o.ID, o.Op)
	if err == nil {
		return nil
	}
	sh.mu.Lock()
	if in := sh.st.Inflight(); in != nil && in.ID == o.ID {
		sh.revert()
	}
	sh.mu.Unlock()
	sh.s.wake()
	return sh.s.domainError(err, "", true)
}

// revert drops the pending edits: the client gets the server's text back.
// Call with mu held.
func (sh *seedShadow) revert() {
	sh.toSubmit = nil
	op, err := sh.st.Revert(sh.server)
	if err == nil {
		err = sh.carryBases(op)
	}
	if err != nil {
		sh.bases = []seedBase{{text: sh.server}}
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
	// Collab acknowledges this connection's own ops with an ack, never as
	// an op, so the op is someone else's: no id to match.
	applied, _, err := sh.st.ApplyServerOp(m.Op.Rev, "", op)
	if err != nil {
		return fmt.Errorf("apply to the client's text: %w", err)
	}
	if err := sh.carryBases(applied); err != nil {
		return fmt.Errorf("carry the bases: %w", err)
	}
	sh.server = server
	sh.markDirty(m.Op.UserID, m.Username)
	sh.changedAt = m.Op.CreatedAt
	return nil
}

// ack records the commit of the op in flight and schedules the buffer.
func (sh *seedShadow) ack(m collab.AckMessage) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	in := sh.st.Inflight()
	if in == nil || m.OpID != in.ID {
		return fmt.Errorf("ack of %q while %v is in flight", m.OpID, in)
	}
	if m.Rev != sh.st.Rev+1 {
		return fmt.Errorf("ack rev %d after shadow rev %d", m.Rev, sh.st.Rev)
	}
	server, err := ot.Apply(sh.server, in.Op)
	if err != nil {
		return fmt.Errorf("apply acked op: %w", err)
	}
	next, err := sh.st.Ack(m.OpID, m.Rev)
	if err != nil {
		return err
	}
	sh.server = server
	if next != nil {
		sh.submitLater(next)
	}
	return nil
}

// opRefused reverts the pending edits when collab refused the op in flight.
func (sh *seedShadow) opRefused(m collab.OpErrorMessage) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if in := sh.st.Inflight(); in != nil && in.ID == m.OpID {
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
	view := sh.st.Text()
	if last := sh.bases[len(sh.bases)-1]; last.toView != nil || last.text != view {
		sh.addBase(seedBase{text: view})
	}
	sh.lastSent, sh.sentSinceUpdate = view, true
	return mustJSON(updateOut{
		Type: "update", UserID: sh.authorID, Username: sh.author,
		Data: updateData{Content: view}, Timestamp: timestamp(sh.changedAt),
	})
}

// echoDue runs once the client has been idle for echoDelay after an update.
func (sh *seedShadow) echoDue() {
	sh.mu.Lock()
	view := sh.st.Text()
	owed := view != sh.lastSent && (view != sh.lastClient || sh.staleInFlight)
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
