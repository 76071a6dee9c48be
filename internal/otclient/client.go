// Package otclient is a Go client of G-Doc's OT dialect (gdoc.v1): the
// classic one-op-in-flight algorithm of ot.js and ShareDB, kept pure (State)
// and wrapped around a WebSocket (Conn) for tests and the load generator.
package otclient

import (
	"fmt"

	"github.com/gdoc/gdoc/internal/ot"
)

// Outgoing is an op to send: {"type":"op","rev":Rev,"op":Op,"id":ID}.
type Outgoing struct {
	Rev int64
	ID  string
	Op  ot.Op
}

// State is one client's view of a document: synchronized (no op in flight),
// awaiting an ack (Inflight set), or awaiting with a buffer (Buffer set too).
type State struct {
	ClientID string
	Doc      *ot.Text // the client's text, local edits included
	Rev      int64    // the last server revision applied

	seq      int
	inflight *Outgoing
	buffer   ot.Op
	bufID    string
}

// NewState starts a client at text and rev.
func NewState(clientID, text string, rev int64) *State {
	return &State{ClientID: clientID, Doc: ot.NewText(text), Rev: rev}
}

// Text returns the client's current text.
func (s *State) Text() string { return s.Doc.String() }

// Pending counts the local edits not yet acknowledged (0, 1 or 2 ops).
func (s *State) Pending() int {
	n := 0
	if s.inflight != nil {
		n++
	}
	if s.buffer != nil {
		n++
	}
	return n
}

// BufferID returns the id the buffered op will be sent with ("" when none).
func (s *State) BufferID() string { return s.bufID }

// Inflight returns the op awaiting its ack, or nil.
func (s *State) Inflight() *Outgoing { return s.inflight }

func (s *State) nextID() string {
	s.seq++
	return fmt.Sprintf("%s:%d", s.ClientID, s.seq)
}

// Edit applies a local op and returns the op to send now, or nil when one is
// already in flight (the op is then composed into the buffer).
func (s *State) Edit(op ot.Op) (*Outgoing, error) {
	if err := s.Doc.Apply(op); err != nil {
		return nil, err
	}
	var err error
	switch {
	case s.inflight == nil:
		s.inflight = &Outgoing{Rev: s.Rev, ID: s.nextID(), Op: op}
		return s.inflight, nil
	case s.buffer == nil:
		s.buffer, s.bufID = op, s.nextID()
	default:
		if s.buffer, err = ot.Compose(s.buffer, op); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// ServerOp applies another client's op that produced revision rev. An op
// whose id is the in-flight op's id is that op's acknowledgement (seen
// during catch-up after a reconnect); the result is then as for Ack.
func (s *State) ServerOp(rev int64, id string, op ot.Op) (*Outgoing, error) {
	_, next, err := s.ApplyServerOp(rev, id, op)
	return next, err
}

// ApplyServerOp is ServerOp that also returns the op it applied to Doc:
// op transformed over the pending edits, or nil when op was the in-flight
// op's acknowledgement. A client that keeps something positioned in the
// text (the seed dialect's candidate bases, cursors) carries it over that.
func (s *State) ApplyServerOp(rev int64, id string, op ot.Op) (applied ot.Op, next *Outgoing, err error) {
	if rev != s.Rev+1 {
		return nil, nil, fmt.Errorf("otclient: server op rev %d after %d", rev, s.Rev)
	}
	if s.inflight != nil && id == s.inflight.ID {
		next, err := s.Ack(id, rev)
		return nil, next, err
	}
	if s.inflight != nil {
		// The server transformed our in-flight op on side left against op;
		// we do the mirror image.
		op1, err := ot.Transform(op, s.inflight.Op, ot.Right)
		if err != nil {
			return nil, nil, err
		}
		inflight, err := ot.Transform(s.inflight.Op, op, ot.Left)
		if err != nil {
			return nil, nil, err
		}
		s.inflight.Op, op = inflight, op1
		if s.buffer != nil {
			op2, err := ot.Transform(op, s.buffer, ot.Right)
			if err != nil {
				return nil, nil, err
			}
			buf, err := ot.Transform(s.buffer, op, ot.Left)
			if err != nil {
				return nil, nil, err
			}
			s.buffer, op = buf, op2
		}
	}
	if err := s.Doc.Apply(op); err != nil {
		return nil, nil, err
	}
	s.Rev = rev
	return op, nil, nil
}

// Ack records that the in-flight op became revision rev and returns the
// buffered op to send next, if any. An ack for an id that is not in flight
// (a duplicate answer to a resend) is ignored.
func (s *State) Ack(id string, rev int64) (*Outgoing, error) {
	if s.inflight == nil || id != s.inflight.ID {
		return nil, nil
	}
	if rev != s.Rev+1 {
		return nil, fmt.Errorf("otclient: ack rev %d after %d", rev, s.Rev)
	}
	s.Rev = rev
	s.inflight = nil
	if s.buffer != nil {
		s.inflight = &Outgoing{Rev: s.Rev, ID: s.bufID, Op: s.buffer}
		s.buffer, s.bufID = nil, ""
		return s.inflight, nil
	}
	return nil, nil
}

// Resend returns the in-flight op rebased on the current revision, to send
// again after a reconnect and catch-up (same id: the server never applies
// it twice).
func (s *State) Resend() *Outgoing {
	if s.inflight == nil {
		return nil
	}
	s.inflight.Rev = s.Rev
	return s.inflight
}

// Revert drops the pending edits (the op in flight and the buffer), as a
// client does when the server refused its op in flight, and sets the text
// to server, the document at Rev, which the caller keeps. It returns the op
// that took the text there; on an error (not expected: the op is a diff of
// the text itself) the text is server all the same and the op is nil.
func (s *State) Revert(server string) (ot.Op, error) {
	s.inflight, s.buffer, s.bufID = nil, nil, ""
	op := ot.Diff(s.Text(), server)
	if err := s.Doc.Apply(op); err != nil {
		s.Doc = ot.NewText(server)
		return nil, err
	}
	return op, nil
}
