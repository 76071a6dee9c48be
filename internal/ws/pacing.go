package ws

import (
	"context"
	"io"
	"time"
)

// Reading is paced, never refused: a connection over a budget has its next
// message read only when the budget allows (golang.org/x/time/rate's Wait),
// so a client typing faster than the op rate composes more into its buffer
// and loses nothing, and a connection flooding the server (ops, cursors,
// malformed frames, big messages) slows only itself. Every frame costs one
// of the frame budget and its size of the byte budget; an op or a seed
// update also costs one of the op budget. Chat over its own limit is still
// refused (rate_limited, with its client_msg_id), and cursors over theirs
// are dropped (the next one supersedes them).

// frame is one message read from the client.
type frame struct {
	data     []byte
	tooLarge bool  // over MaxMessageBytes (data holds the first bytes)
	err      error // reading failed: the connection is done
}

// readFrame reads the client's next message.
func (s *session) readFrame() frame {
	limit := s.h.cfg.MaxMessageBytes
	var f frame
	// No context that can be cancelled: the library would register a
	// callback on it per read (about 400 bytes kept with s.ctx's list of
	// children). A read ends when the socket closes, which finish does
	// before it cancels s.ctx.
	_, r, err := s.conn.Reader(context.Background())
	if err == nil {
		f.data, err = io.ReadAll(io.LimitReader(r, limit+1))
		f.tooLarge = int64(len(f.data)) > limit
	}
	f.err = err
	return f
}

// readAhead is a goroutine reading the client's messages for readLoop.
// readLoop reads them itself (one goroutine per idle connection) until a
// seed update has to wait for its budget: from then on this goroutine
// reads on meanwhile, so that a newer update can replace the waiting one.
type readAhead struct {
	frames chan frame
	done   chan struct{}
}

// startReadAhead starts the read-ahead goroutine once; readLoop then takes
// its messages from it.
func (s *session) startReadAhead() *readAhead {
	if s.readAhead == nil {
		ra := &readAhead{frames: make(chan frame), done: make(chan struct{})}
		go func() { defer close(ra.done); s.readFrames(ra.frames) }()
		s.readAhead = ra
	}
	return s.readAhead
}

// readFrames reads the client's messages and hands them to readLoop one at
// a time: it reads the next only once readLoop took the last, so a paced
// connection holds at most one message read ahead. It returns after a
// failed or oversized read, or once the session stopped.
func (s *session) readFrames(out chan<- frame) {
	for {
		f := s.readFrame()
		select {
		case out <- f:
		case <-s.stopped:
			return
		}
		if f.err != nil || f.tooLarge {
			return
		}
	}
}

// pace waits until the frame and byte budgets allow a frame of n bytes; it
// reports false once the session is ending.
func (s *session) pace(n int) bool {
	if s.frameLimit == nil {
		s.makeLimiters()
	}
	if err := s.frameLimit.Wait(s.ctx); err != nil {
		return false
	}
	return s.byteLimit.WaitN(s.ctx, max(n, 1)) == nil
}

// waitUpdate waits until the op budget allows a seed update. Meanwhile it
// reads on: an update arriving while it waits replaces the one waiting
// (whole texts supersede each other; it pays its frame and byte budget
// all the same), and anything else is returned as held, to be handled
// once the update is.
func (s *session) waitUpdate(in *inbound) (latest *inbound, held *frame) {
	r := s.opLimit.Reserve()
	delay := r.Delay()
	if delay == 0 {
		return in, nil
	}
	frames := s.startReadAhead().frames
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		var next <-chan frame
		if held == nil {
			next = frames
		}
		select {
		case <-timer.C:
			return in, held
		case <-s.stopped:
			r.Cancel()
			return in, held
		case f := <-next:
			if f.err == nil && !f.tooLarge {
				if newer, werr := decodeInbound(f.data); werr == nil && newer.Type == "update" && newer.Data != nil && newer.Data.Content != nil {
					s.frameLimit.Reserve()
					s.byteLimit.ReserveN(time.Now(), max(len(f.data), 1))
					in = newer
					continue
				}
			}
			held = &f
		}
	}
}
