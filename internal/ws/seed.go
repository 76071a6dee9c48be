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
// incoming whole text becomes ot.Diff(view, text); a committed op of
// someone else is transformed over the pending ops and applied to view,
// which the client then receives whole.
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
	// remoteSinceUpdate: the client was sent someone else's change since
	// its last update. Its next update may have crossed that change (it was
	// made on the older text and overwrites the merge), so the client is
	// then sent the resulting text, which keeps client and view equal.
	remoteSinceUpdate bool
}

func newSeedShadow(s *session, content string, rev int64) *seedShadow {
	return &seedShadow{s: s, rev: rev, server: content, view: content}
}

// clientUpdate turns the client's whole text into an op and submits it
// (or buffers it while another op is in flight).
func (sh *seedShadow) clientUpdate(content string) *wireError {
	sh.mu.Lock()
	op := ot.Diff(sh.view, content)
	if sh.remoteSinceUpdate {
		sh.remoteSinceUpdate = false
		sh.markDirty(sh.s.user.ID, sh.s.user.Username)
	}
	owed := sh.dirty
	if len(op) == 0 {
		sh.mu.Unlock()
		if owed {
			sh.s.wake()
		}
		return nil
	}
	sh.view = content
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
	sh.view = sh.server
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
	view, err := ot.Apply(sh.view, op)
	if err != nil {
		return fmt.Errorf("apply to the client's text: %w", err)
	}
	sh.server, sh.view, sh.rev = server, view, m.Op.Rev
	sh.markDirty(m.Op.UserID, m.Username)
	sh.changedAt = m.Op.CreatedAt
	sh.remoteSinceUpdate = true
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
	return mustJSON(updateOut{
		Type: "update", UserID: sh.authorID, Username: sh.author,
		Data: updateData{Content: sh.view}, Timestamp: timestamp(sh.changedAt),
	})
}
