package ws

import (
	"context"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
)

// Reviewing on the wire: comment events and the open threads in init
// (stored and announced by internal/comments and collab), and viewports for
// follow mode and presenting, relayed like cursors.

// OpenComments gives a document's open threads and their replies, anchors
// at the head (comments.Service.Open).
type OpenComments interface {
	Open(ctx context.Context, docID string) ([]*gdoc.Comment, error)
}

// commentsLoadTimeout bounds reading the open threads for an init.
const commentsLoadTimeout = 5 * time.Second

type commentOut struct {
	Type    string        `json:"type"`
	Action  string        `json:"action"`
	Comment *gdoc.Comment `json:"comment"`
}

type viewportOut struct {
	Type string `json:"type"`
	collab.Viewport
}

// openComments reads the open threads for init. It runs after Join, so a
// change made meanwhile arrives as an event as well (clients apply events
// by comment id); a failure leaves init without them (clients also read
// them over REST) and is logged.
func (s *session) openComments() []*gdoc.Comment {
	list := []*gdoc.Comment{}
	if s.h.cfg.Comments == nil {
		return list
	}
	ctx, cancel := context.WithTimeout(s.ctx, commentsLoadTimeout)
	defer cancel()
	open, err := s.h.cfg.Comments.Open(ctx, s.docID)
	if err != nil {
		s.logger().Warn("reading the open comments for init", "err", err)
		return list
	}
	return append(list, open...)
}

func (s *session) handleViewport(in *inbound) *wireError {
	if in.FirstLine == nil || in.LastLine == nil || *in.FirstLine < 1 || *in.LastLine < *in.FirstLine || *in.LastLine > collab.MaxViewportLine {
		return refuse(codeInvalidMessage, "", "A viewport needs first_line and last_line with 1 <= first_line <= last_line <= %d.", collab.MaxViewportLine)
	}
	v := collab.Viewport{FirstLine: *in.FirstLine, LastLine: *in.LastLine}
	if in.Following != nil {
		if len(*in.Following) > gdoc.MaxClientIDBytes {
			return refuse(codeInvalidMessage, "", "following may hold at most %d bytes (a user id).", gdoc.MaxClientIDBytes)
		}
		v.Following = *in.Following
	}
	if in.Presenting != nil {
		v.Presenting = *in.Presenting
	}
	// Like cursors: over the rate they are dropped without a word, the
	// next one supersedes them.
	if !s.otherLimit.Allow() {
		return nil
	}
	if err := s.h.cfg.Collab.UpdateViewport(s.ctx, s.docID, s, v); err != nil {
		return s.domainError(err, "", false)
	}
	return nil
}

// reviewFrame encodes a comment or viewport message; ok is false for any
// other message.
func (s *session) reviewFrame(m outItem) (frames [][]byte, ok bool) {
	switch m := m.(type) {
	case collab.CommentMessage:
		return s.withSeedFlush(mustJSON(commentOut{Type: "comment", Action: m.Event.Action, Comment: m.Event.Comment})), true
	case collab.ViewportMessage:
		return s.withSeedFlush(mustJSON(viewportOut{Type: "viewport", Viewport: m.Viewport})), true
	}
	return nil, false
}
