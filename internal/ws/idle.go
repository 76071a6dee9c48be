package ws

import (
	"context"
	"slices"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// An idle connection holds one goroutine, its reader (session.serve); the
// HTTP handler that joined returns. A message pushed while nothing waits is
// written by the pushing goroutine itself, without waiting for the peer
// (writeNow); a writer goroutine runs only while messages wait behind a
// write the socket did not take at once (sendQueue). The keepalive ping
// and the token re-check run from one timer (keepalive), each in a
// goroutine of its own only while it works. So 10,000 idle connections
// cost 10,000 parked goroutines with small stacks, not 40,000.

// maxKeptQueue bounds the queue buffer an idle connection keeps between
// bursts (entries); a larger burst's buffer is let go.
const maxKeptQueue = 16

// sendQueue is a connection's bounded send queue and the state of its
// writer. Its fields are guarded by session.qmu.
type sendQueue struct {
	items   []outItem
	spare   []outItem // the previous burst's buffer, for the next one
	started bool      // init is written: a writer may run
	writing bool      // a writer goroutine runs
	serving bool      // run reached its read loop: stop starts the closer
	closed  bool      // the session is finishing: no new task starts
	timer   *time.Timer
	// nextPing and nextReauth are when the keepalive timer pings and
	// re-checks the token next (touched only by the timer's task).
	nextPing, nextReauth time.Time
}

// push queues it, starting a writer when none runs, or writes it at once
// (writeNow), after any messages held back. With hold it only queues it,
// held back for the message collab delivers next. It reports false when
// the queue is full (a slow consumer).
func (s *session) push(it outItem, hold bool) bool {
	s.qmu.Lock()
	q := &s.q
	if q.closed {
		s.qmu.Unlock()
		return true // finishing: nothing is written any more
	}
	if len(q.items) >= s.h.cfg.SendQueue {
		s.qmu.Unlock()
		return false
	}
	if hold && !q.writing {
		q.items = append(q.items, it)
		s.qmu.Unlock()
		return true
	}
	if s.inlineLocked() {
		q.writing = true
		s.tasks.Add(1)
		items := []outItem{it}
		if len(q.items) > 0 { // held back (push with hold)
			items = append(slices.Clip(q.items), it)
			q.items = nil
		}
		s.qmu.Unlock()
		s.writeNow(items)
		return true
	}
	q.items = append(q.items, it)
	start := s.startWriterLocked()
	s.qmu.Unlock()
	if start {
		go s.writeLoop()
	}
	return true
}

// inlineLocked reports whether the pushing goroutine may write itself
// (writeNow): nothing is being written and the session runs (what waits
// then was held back). A seed connection always writes from its writer,
// which keeps its shadow.
func (s *session) inlineLocked() bool {
	q := &s.q
	if !q.started || q.writing || q.closed || s.seed != nil || s.cork == nil || s.cork.raw == nil {
		return false
	}
	select {
	case <-s.stopped:
		return false
	default:
		return true
	}
}

// writeNow writes it from the pushing goroutine (collab's, often under a
// document's lock), which must never wait for the peer: the frames go out
// as far as the socket takes them at once. A remainder, or a connection
// busy with an earlier write, is left to a writer goroutine, and messages
// pushed meanwhile queue behind it. The caller set q.writing and counted
// the task; a writer started here takes both over.
func (s *session) writeNow(items []outItem) {
	var frames [][]byte
	closing, reason := false, ""
	for i, it := range items {
		f, c, r := s.encode(it)
		if frames == nil {
			frames = f
		} else {
			frames = append(frames, f...)
		}
		if c {
			closing, reason, items = true, r, items[:i+1] // nothing after it
			break
		}
	}
	sent, pending, err := s.cork.sendNow(frames)
	if err != nil {
		s.writeFailed(err)
		s.endWriting()
		return
	}
	if closing && sent {
		s.stop(closingRefusal(reason), reason, false)
		s.endWriting()
		return
	}
	s.qmu.Lock()
	if !sent {
		// Their turn comes after what is being written: first in the queue.
		s.q.items = slices.Insert(s.q.items, 0, items...)
	}
	if !sent || pending || len(s.q.items) > 0 {
		s.qmu.Unlock()
		go s.writeLoop()
		return
	}
	s.q.writing = false
	s.qmu.Unlock()
	s.tasks.Done()
}

// endWriting ends a writer that stops early.
func (s *session) endWriting() {
	s.qmu.Lock()
	s.q.writing = false
	s.qmu.Unlock()
	s.tasks.Done()
}

// startWriterLocked reports whether the caller must start a writer (and
// counts it), because messages wait and none runs.
func (s *session) startWriterLocked() bool {
	q := &s.q
	if !q.started || q.writing || q.closed || len(q.items) == 0 {
		return false
	}
	q.writing = true
	s.tasks.Add(1)
	return true
}

// startWriting lets writers run once init is written, and starts one for
// what Deliver queued meanwhile.
func (s *session) startWriting() {
	s.qmu.Lock()
	s.q.started = true
	start := s.startWriterLocked()
	s.qmu.Unlock()
	if start {
		go s.writeLoop()
	}
}

// queued returns the number of messages waiting.
func (s *session) queued() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.q.items)
}

// takeBurst returns up to maxWriteBurst waiting messages, oldest first,
// taking back done (the previous burst) as a spare buffer. It reports
// false, and the writer ends, when nothing waits or the session stops.
func (s *session) takeBurst(done []outItem) ([]outItem, bool) {
	clear(done)
	s.qmu.Lock()
	defer s.qmu.Unlock()
	q := &s.q
	if done != nil && cap(done) <= maxKeptQueue && q.spare == nil {
		q.spare = done[:0]
	}
	stopped := false
	select {
	case <-s.stopped:
		stopped = true
	default:
	}
	if stopped || len(q.items) == 0 {
		q.writing = false
		if cap(q.items) > maxKeptQueue {
			q.items = nil
		}
		return nil, false
	}
	if len(q.items) <= maxWriteBurst {
		burst := q.items
		q.items, q.spare = q.spare, nil
		return burst, true
	}
	burst := make([]outItem, maxWriteBurst)
	copy(burst, q.items)
	n := copy(q.items, q.items[maxWriteBurst:])
	clear(q.items[n:])
	q.items = q.items[:n]
	return burst, true
}

// writeLoop writes the waiting messages until none is left, then ends; the
// next push starts another.
func (s *session) writeLoop() {
	defer s.tasks.Done()
	var burst []outItem
	for {
		// A write left to this goroutine (writeNow) finishes first.
		if s.cork != nil {
			if err := s.cork.drain(); err != nil {
				s.writeFailed(err)
				s.qmu.Lock()
				s.q.writing = false
				s.qmu.Unlock()
				return
			}
		}
		var ok bool
		if burst, ok = s.takeBurst(burst); !ok {
			return
		}
		if !s.writeBurst(burst) {
			s.qmu.Lock()
			s.q.writing = false
			s.qmu.Unlock()
			return
		}
	}
}

// startKeepalive arms the timer that pings the client every PingInterval
// and re-checks its token every ReauthInterval.
func (s *session) startKeepalive() {
	now := time.Now()
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.q.closed {
		return
	}
	s.q.nextPing = now.Add(s.h.cfg.PingInterval)
	s.q.nextReauth = now.Add(s.h.cfg.ReauthInterval)
	s.q.timer = time.AfterFunc(s.nextKeepalive(now), s.keepalive)
}

func (s *session) nextKeepalive(now time.Time) time.Duration {
	next := s.q.nextPing
	if s.q.nextReauth.Before(next) {
		next = s.q.nextReauth
	}
	return next.Sub(now)
}

// keepalive runs when the timer fires (in the timer's goroutine): it
// re-checks the token when due, pings when due (waiting up to PongTimeout
// for the pong), and re-arms the timer.
func (s *session) keepalive() {
	s.qmu.Lock()
	if s.q.closed {
		s.qmu.Unlock()
		return
	}
	s.tasks.Add(1)
	s.qmu.Unlock()
	defer s.tasks.Done()

	if !time.Now().Before(s.q.nextReauth) {
		// Under the server's context, not s.ctx, which then keeps no list
		// of children (see start); the session waits for this task.
		ctx, cancel := context.WithTimeout(s.h.ctx, 10*time.Second)
		_, err := s.h.cfg.Auth.Authenticate(ctx, s.token)
		cancel()
		// Only a verdict on the token ends the session; an unreachable
		// store does not.
		if code := gdoc.ErrorCode(err); code == gdoc.EUNAUTHORIZED || code == gdoc.EFORBIDDEN {
			s.stop(refusedUnauthenticated, "Token expired or revoked", false)
			return
		}
		s.q.nextReauth = time.Now().Add(s.h.cfg.ReauthInterval)
	}
	if !time.Now().Before(s.q.nextPing) {
		// A ping also ends when the socket closes (finish).
		ctx, cancel := context.WithTimeout(s.h.ctx, s.h.cfg.PongTimeout)
		err := s.conn.Ping(ctx)
		cancel()
		if err != nil {
			// No pong: the peer is gone (half-open) or stuck.
			s.stop(endGoingAway, "", true)
			return
		}
		s.q.nextPing = time.Now().Add(s.h.cfg.PingInterval)
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if !s.q.closed {
		s.q.timer.Reset(max(s.nextKeepalive(time.Now()), 0))
	}
}

// serving marks the session as serving: from now on stop starts the
// closer itself. If it stopped already, the closer starts here.
func (s *session) serving() {
	s.qmu.Lock()
	s.q.serving = true
	stopped := false
	select {
	case <-s.stopped:
		stopped = true
	default:
	}
	s.qmu.Unlock()
	if stopped {
		go s.finish()
	}
}

// stopTasks keeps new tasks from starting, stops the keepalive timer and
// waits for the running tasks.
func (s *session) stopTasks() {
	s.qmu.Lock()
	s.q.closed = true
	t := s.q.timer
	s.q.items, s.q.spare = nil, nil
	s.qmu.Unlock()
	if t != nil {
		t.Stop()
	}
	s.tasks.Wait()
}
