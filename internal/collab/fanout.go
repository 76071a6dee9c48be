package collab

// The fan-out of a document's ops and cursors to its local clients. The
// worker commits a batch, acks its authors at once (with the ops they have
// not received yet, in revision order) and leaves the ops for everyone
// else in d.fanLog; cursor moves wait in d.cursorQueue (latest wins). One
// goroutine per document then delivers in rounds: each round gives every
// connection all that arrived since the last one, queued under the lock
// (cheap: ws only appends to the connection's queue) and written after it
// (one write per connection per round). So in a big room the writes follow
// the rounds, not the ops and cursor moves times the receivers; the worker
// goes on committing while a round writes, and a round carries whatever
// the worker committed meanwhile.

// fanEntry is one op for the fan-out: author is the connection that
// submitted it ("" when none here did), which received it already.
type fanEntry struct {
	msg    OpMessage
	author string
}

// Flusher is a Client that holds messages delivered with More until Flush
// (ws's session). A client without it gets its last message of a round
// without More instead.
type Flusher interface {
	// Flush writes what Deliver held back, without waiting for the peer.
	Flush()
}

// startFanOutLocked starts d's fan-out goroutine unless it runs.
func (s *Service) startFanOutLocked(d *document) {
	if d.fanRound || d.state == stateClosed || s.closing.Load() {
		return
	}
	d.fanRound = true
	s.workers.Go(func() { s.fanOut(d) })
}

// fanOut delivers rounds until nothing is left.
func (s *Service) fanOut(d *document) {
	var curs []Cursor
	var flush []Flusher
	var msgs, boxed []Message
	for {
		d.mu.Lock()
		queue := d.cursorQueue
		d.cursorQueue = nil
		clear(d.cursorQueued)
		if (len(d.fanLog) == 0 && len(queue) == 0) || d.state == stateClosed {
			d.fanRound = false
			s.unlock(d)
			return
		}
		curs = curs[:0]
		for _, id := range queue {
			if cur, ok := d.cursors[id]; ok && !cur.Removed {
				curs = append(curs, cur)
			}
		}
		// Each message is boxed once for all receivers, marked More: ws
		// holds it until Flush (deliverAllLocked unmarks the last one for
		// a client that is no Flusher).
		boxed = boxed[:0]
		for _, e := range d.fanLog {
			m := e.msg
			m.More = true
			boxed = append(boxed, m)
		}
		for _, cur := range curs {
			boxed = append(boxed, CursorMessage{Cursor: cur, More: true})
		}
		flush = flush[:0]
		for id, c := range d.clients {
			msgs = msgs[:0]
			for i, e := range d.fanLog[min(d.fanSent[id], len(d.fanLog)):] {
				if e.author != id {
					msgs = append(msgs, boxed[min(d.fanSent[id], len(d.fanLog))+i])
				}
			}
			// A sender that left (dropped earlier in this round) is
			// skipped: its removal went out already.
			for i, cur := range curs {
				if _, ok := d.cursors[cur.ConnID]; ok && cur.ConnID != id {
					msgs = append(msgs, boxed[len(d.fanLog)+i])
				}
			}
			if f := d.deliverAllLocked(c, msgs); f != nil {
				flush = append(flush, f)
			}
		}
		clear(d.fanLog)
		d.fanLog = d.fanLog[:0]
		clear(d.fanSent)
		s.unlock(d)
		for _, f := range flush {
			f.Flush()
		}
		clear(flush)
	}
}

// deliverAllLocked delivers msgs, marked More, to c in order; when c is
// no Flusher, its last one without More; else c is returned for the
// caller to flush once it unlocked d. It stops when c is dropped.
func (d *document) deliverAllLocked(c Client, msgs []Message) Flusher {
	if len(msgs) == 0 {
		return nil
	}
	f, _ := c.(Flusher)
	for i, m := range msgs {
		if _, ok := d.clients[c.ConnID()]; !ok {
			return nil // dropped as a slow consumer
		}
		if f == nil && i == len(msgs)-1 {
			m = withMore(m, false)
		}
		d.deliverLocked(c, m)
	}
	if _, ok := d.clients[c.ConnID()]; !ok {
		return nil
	}
	return f
}

// withMore returns m with More set to more, for the messages that have it.
func withMore(m Message, more bool) Message {
	switch mm := m.(type) {
	case OpMessage:
		mm.More = more
		return mm
	case AckMessage:
		mm.More = more
		return mm
	case CursorMessage:
		mm.More = more
		return mm
	}
	return m
}

// fanOutCommitLocked hands a durable, applied commit to the fan-out: a
// REST edit's outcome at once, and to each connection that submitted one
// of its ops, at once too, every op it has not received yet up to this
// commit, with acks for its own; everyone else gets the ops in the next
// round. It returns the authors to flush once d is unlocked.
func (s *Service) fanOutCommitLocked(d *document, batch []prepared, ops []committed, flush []Flusher) []Flusher {
	for i, p := range batch {
		d.fanLog = append(d.fanLog, fanEntry{msg: ops[i].message(), author: p.sub.connID})
		if p.sub.done != nil {
			d.finishLocked(p.sub, ops[i].op.Rev, nil)
		}
	}
	var msgs []Message
	for i, p := range batch {
		if p.sub.client == nil || p.sub.done != nil {
			continue
		}
		id := p.sub.connID
		c, joined := d.clients[id]
		if !joined {
			continue // it left; a reconnect resends the op and gets its ack then
		}
		from, to := min(d.fanSent[id], len(d.fanLog)), len(d.fanLog)
		if from >= to-len(batch)+i+1 {
			continue // an earlier op of this batch served it
		}
		msgs = msgs[:0]
		for j, e := range d.fanLog[from:to] {
			if e.author != id {
				m := e.msg
				m.More = true
				msgs = append(msgs, m)
				continue
			}
			if k := from + j - (to - len(batch)); k >= 0 {
				msgs = append(msgs, AckMessage{OpID: batch[k].sub.opID, Rev: e.msg.Op.Rev, More: true})
			}
		}
		d.fanSent[id] = to
		if f := d.deliverAllLocked(c, msgs); f != nil {
			flush = append(flush, f)
		}
	}
	s.startFanOutLocked(d)
	return flush
}

// takePendingLocked appends to msgs, marked More, the ops of the fan-out
// connection id has not received yet, and counts them as received.
func (d *document) takePendingLocked(id string, msgs []Message) []Message {
	if _, ok := d.clients[id]; !ok {
		return msgs
	}
	for _, e := range d.fanLog[min(d.fanSent[id], len(d.fanLog)):] {
		if e.author != id {
			m := e.msg
			m.More = true
			msgs = append(msgs, m)
		}
	}
	d.fanSent[id] = len(d.fanLog)
	return msgs
}

// fanOutRemoteLocked hands ops committed elsewhere to the fan-out.
func (s *Service) fanOutRemoteLocked(d *document, ops []committed) {
	for _, c := range ops {
		d.fanLog = append(d.fanLog, fanEntry{msg: c.message()})
	}
	if len(ops) > 0 {
		s.startFanOutLocked(d)
	}
}
