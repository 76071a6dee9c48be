package collab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

// maxCommitAttempts bounds the retries of a batch that lost a commit race
// to another instance. Between attempts the loser waits a random moment
// that grows with the attempt (at most a few milliseconds), so instances
// racing for one document fall out of step instead of colliding again.
const maxCommitAttempts = 20

// submission is one op waiting to be committed.
type submission struct {
	client   Client // nil for an edit made through REST
	connID   string
	userID   string
	username string
	baseRev  int64
	minBase  int64 // the oldest revision the connection has received
	opID     string
	op       ot.Op
	done     chan submitResult // REST only: the outcome
}

type submitResult struct {
	rev int64
	err error
}

// SubmitOp queues op, written against revision rev, for commit. The result
// reaches c through Deliver, in revision order with the OpMessages: an
// AckMessage once the op is durable, or an OpErrorMessage (bad revision, op
// not fitting the text, growing the document past its size limit, based on
// a revision older than any the connection has received, storage down).
// SubmitOp itself fails only at once: EINVALID when c has not joined docID,
// the id is empty or op is not a valid op or inserts a NUL character;
// ETOOLARGE when op inserts more than MaxOpBytes; EUNAVAILABLE while
// shutting down.
func (s *Service) SubmitOp(ctx context.Context, docID string, c Client, rev int64, opID string, op ot.Op) error {
	if opID == "" || len(opID) > gdoc.MaxOpIDBytes || !utf8.ValidString(opID) || strings.IndexByte(opID, 0) >= 0 {
		return gdoc.Errorf(gdoc.EINVALID, "An op needs an id of 1 to %d bytes of text.", gdoc.MaxOpIDBytes)
	}
	if err := ot.Check(op); err != nil {
		return gdoc.Errorf(gdoc.EINVALID, "Invalid op: %v", err)
	}
	if err := s.checkInserts(op); err != nil {
		return err
	}
	user := c.User()
	sub := &submission{client: c, connID: c.ConnID(), userID: user.ID, username: user.Username, baseRev: rev, opID: opID, op: op}
	return s.enqueue(docID, sub, true)
}

// checkInserts refuses an op that inserts a NUL character (it would break
// every snapshot of the document) or more than MaxOpBytes of text.
func (s *Service) checkInserts(op ot.Op) error {
	n := 0
	for _, c := range op {
		if strings.IndexByte(c.Insert, 0) >= 0 {
			return gdoc.Errorf(gdoc.EINVALID, "Invalid op: the text contains a NUL character, which a document cannot hold.")
		}
		n += len(c.Insert)
	}
	if n > s.cfg.MaxOpBytes {
		return gdoc.Errorf(gdoc.ETOOLARGE, "The op inserts %d bytes, over the limit of %d bytes per op; send it as several smaller ops.", n, s.cfg.MaxOpBytes)
	}
	return nil
}

// enqueue adds sub to its document's queue and makes sure a worker runs.
// joined requires sub's connection to be registered on the document; its
// minBase is then the oldest revision the connection has received.
func (s *Service) enqueue(docID string, sub *submission, joined bool) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The server is shutting down; resend the op to another server.")
	}
	d := s.docs[docID]
	s.mu.Unlock()
	if d == nil {
		return gdoc.Errorf(gdoc.EINVALID, "Not joined to document %s.", docID)
	}
	d.mu.Lock()
	defer s.unlock(d)
	if !d.open() {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The document was closed.")
	}
	if _, ok := d.clients[sub.connID]; joined && !ok {
		return gdoc.Errorf(gdoc.EINVALID, "Not joined to document %s.", docID)
	}
	if joined && !d.role(sub.connID).CanEdit() {
		return errViewOnly()
	}
	if joined {
		sub.minBase = d.conns[sub.connID].minBase // joined: in clients, so in conns
	}
	d.pending = append(d.pending, sub)
	s.startWorkerLocked(d)
	return nil
}

// startWorkerLocked hands d's writer token to a new worker goroutine
// unless one holds it already.
func (s *Service) startWorkerLocked(d *document) {
	if d.state != stateIdle {
		return
	}
	d.state = stateWriting
	s.workers.Go(func() { s.work(d) })
}

// work commits d's queued submissions and catches up with other instances
// until there is nothing left, then gives the writer token back.
func (s *Service) work(d *document) {
	for {
		d.mu.Lock()
		if d.state == stateClosed {
			s.unlock(d)
			return
		}
		if d.remoteHint > d.auth.head {
			s.unlock(d)
			s.catchUp(d)
			continue
		}
		subs := d.pending
		d.pending = nil
		if len(subs) == 0 {
			d.state = stateIdle
			s.unlock(d)
			return
		}
		s.unlock(d)
		s.commitSubmissions(d, subs)
	}
}

// catchUp applies the ops other instances committed after d's head, read
// from the OpLog. The caller holds d's writer token.
func (s *Service) catchUp(d *document) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	d.mu.Lock()
	head, target := d.auth.head, d.remoteHint
	s.unlock(d)
	ops, err := s.cfg.Store.Ops(ctx, d.id, head, 0)
	var missing []committed
	if err == nil {
		missing, err = s.resolve(ctx, ops)
	}
	d.mu.Lock()
	defer s.unlock(d)
	if err != nil {
		s.log.Warn("catching up from the op log failed", "doc", d.id, "err", err)
	}
	n, applyErr := d.auth.replay(missing)
	if applyErr != nil {
		s.log.Error("committed op does not apply", "doc", d.id, "err", applyErr)
	}
	s.fanOutRemoteLocked(d, missing[:n])
	// A hint raised meanwhile (a newer event) makes the worker read again;
	// otherwise whatever the hint promised beyond the log is not there and
	// the next event, conflict or sweep brings it.
	if err != nil || d.remoteHint <= target {
		d.remoteHint = d.auth.head
	}
}

// prepared is a submission rebased to the head and checked against the
// text.
type prepared struct {
	sub *submission
	op  ot.Op
}

// commitSubmissions commits subs (in order) for d. The caller holds d's
// writer token, so text and head change only here meanwhile.
func (s *Service) commitSubmissions(d *document, subs []*submission) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	for attempt := 1; len(subs) > 0; attempt++ {
		subs = s.answerDuplicates(ctx, d, subs)
		if len(subs) == 0 {
			return
		}
		batch, deferred, err := s.prepare(ctx, d, subs)
		if err != nil {
			s.failAll(d, subs, err)
			return
		}
		if len(batch) == 0 {
			subs = deferred
			continue
		}
		// The submissions still unanswered: prepare answered the refused.
		open := make([]*submission, 0, len(batch)+len(deferred))
		for _, p := range batch {
			open = append(open, p.sub)
		}
		open = append(open, deferred...)
		err = s.commitPrepared(ctx, d, batch)
		switch gdoc.ErrorCode(err) {
		case "":
			subs = deferred
			attempt = 0
		case gdoc.ECONFLICT:
			if errors.Is(err, gdoc.ErrOpIDTaken) {
				// An id of the batch is its user's, committed before (a
				// resend the in-memory window cannot tell, as after a
				// reload): answer those submissions alone and commit the
				// others, without counting an attempt.
				var rest []*submission
				for _, p := range batch {
					rest = append(rest, p.sub)
				}
				if kept := s.askOpLog(ctx, d, rest); len(kept) < len(rest) {
					subs = append(kept, deferred...)
					attempt--
					continue
				}
				// None of them was: it is a conflict like any other.
			}
			// Another instance took these revisions: apply its ops and
			// rebase everything again from the original base revisions.
			s.log.Debug("commit conflict: another instance took the revisions; catching up", "doc", d.id, "attempt", attempt)
			if attempt >= maxCommitAttempts {
				s.failAll(d, open, gdoc.Errorf(gdoc.EUNAVAILABLE, "The document is too busy; resend the op."))
				return
			}
			time.Sleep(time.Duration(rand.Int64N(int64(attempt)*int64(time.Millisecond)/2 + 1)))
			s.catchUp(d)
			subs = open
		case gdoc.ENOTFOUND:
			s.failAll(d, open, gdoc.Errorf(gdoc.ENOTFOUND, "The document was deleted."))
			return
		case gdoc.EINVALID: // the store refused what prepare accepted
			s.log.Error("the store refused a checked batch", "doc", d.id, "err", err)
			s.failAll(d, open, err)
			return
		default:
			s.log.Warn("committing ops failed", "doc", d.id, "err", err)
			s.failAll(d, open, gdoc.Errorf(gdoc.EUNAVAILABLE, "Storage is unavailable; resend the op later with the same id."))
			return
		}
	}
}

// answerDuplicates acks every submission whose id already committed (the
// resend of an acknowledged op) and returns the others. An op based on rev
// b can only have committed after b, so the in-memory id map, which covers
// every op after idsFrom, settles every submission based at or after
// idsFrom; older ones ask the OpLog.
func (s *Service) answerDuplicates(ctx context.Context, d *document, subs []*submission) []*submission {
	d.mu.Lock()
	idsFrom := d.auth.idsFrom
	var fresh, old []*submission
	for _, sub := range subs {
		if rev, ok := d.auth.duplicate(sub.userID, sub.opID); ok {
			d.finishLocked(sub, rev, nil)
		} else if sub.baseRev < idsFrom && sub.baseRev >= sub.minBase {
			old = append(old, sub)
		} else {
			fresh = append(fresh, sub)
		}
	}
	s.unlock(d)
	if len(old) == 0 {
		return fresh
	}
	remaining := s.askOpLog(ctx, d, old)
	// Keep the submission order: old ones were queued among fresh ones.
	keep := make(map[*submission]bool, len(remaining)+len(fresh))
	for _, sub := range remaining {
		keep[sub] = true
	}
	for _, sub := range fresh {
		keep[sub] = true
	}
	out := remaining[:0:0]
	for _, sub := range subs {
		if keep[sub] {
			out = append(out, sub)
		}
	}
	return out
}

// askOpLog acks every submission of subs whose id its user committed to d
// before (as the OpLog says), refuses with EUNAVAILABLE those the OpLog
// cannot be asked about, and returns the others, in order.
func (s *Service) askOpLog(ctx context.Context, d *document, subs []*submission) []*submission {
	remaining := make([]*submission, 0, len(subs))
	for _, sub := range subs {
		rev, err := s.cfg.Store.OpRev(ctx, d.id, sub.userID, sub.opID)
		if err == nil {
			d.mu.Lock()
			d.finishLocked(sub, rev, nil)
			s.unlock(d)
			continue
		} else if gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			s.failAll(d, []*submission{sub}, gdoc.Errorf(gdoc.EUNAVAILABLE, "Storage is unavailable; resend the op later with the same id."))
			continue
		}
		remaining = append(remaining, sub)
	}
	return remaining
}

// prepare has the authority rebase subs onto the head, in order, and check
// them against the text (which changes only once the commit is durable),
// reading from the OpLog the history older than the in-memory window that
// late submissions need. A submission that does not fit is refused at once.
// A second submission with an id already in the batch is deferred to the
// next round, where it is answered as a duplicate. The error is for a
// failure to read history.
func (s *Service) prepare(ctx context.Context, d *document, subs []*submission) (batch []prepared, deferred []*submission, err error) {
	d.mu.Lock()
	head, from := d.auth.head, d.auth.recentFrom()
	s.unlock(d)
	oldest := head
	for _, sub := range subs {
		if sub.baseRev >= sub.minBase && sub.baseRev < oldest { // the authority refuses the others
			oldest = sub.baseRev
		}
	}
	// older[i] is the op of revision oldest+1+i, up to from.
	var older []ot.Op
	if oldest < from {
		ops, err := s.cfg.Store.Ops(ctx, d.id, oldest, from)
		if err != nil {
			return nil, nil, err
		}
		if int64(len(ops)) != from-oldest {
			return nil, nil, gdoc.Errorf(gdoc.EINTERNAL, "document %s: op log misses ops between %d and %d", d.id, oldest, from)
		}
		parsed, err := parseOps(ops)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range parsed {
			older = append(older, c.parsed)
		}
	}
	props := make([]proposal, len(subs))
	for i, sub := range subs {
		props[i] = proposal{baseRev: sub.baseRev, minBase: sub.minBase, user: sub.userID, opID: sub.opID, op: sub.op}
	}

	d.mu.Lock()
	defer s.unlock(d)
	for i, v := range d.auth.receive(props, older) {
		sub := subs[i]
		switch {
		case v.err != nil:
			d.finishLocked(sub, 0, v.err)
		case v.deferred:
			deferred = append(deferred, sub)
		case v.op == nil:
			d.finishLocked(sub, v.dupRev, nil)
		default:
			batch = append(batch, prepared{sub: sub, op: v.op})
		}
	}
	return batch, deferred, nil
}

// commitPrepared makes batch durable and only then applies it, acks the
// submitters, delivers it to the other local clients and publishes it (when
// there may be other instances).
func (s *Service) commitPrepared(ctx context.Context, d *document, batch []prepared) error {
	d.mu.Lock()
	head := d.auth.head
	s.unlock(d)
	now := time.Now().UTC()
	ops := make([]committed, len(batch))
	opBatch := gdoc.OpBatch{DocID: d.id, BaseRev: head, Ops: make([]gdoc.CommittedOp, len(batch))}
	for i, p := range batch {
		raw, err := p.op.MarshalJSON() // compact already: json.Marshal would re-scan it
		if err != nil {
			return gdoc.Errorf(gdoc.EINTERNAL, "encoding op: %v", err)
		}
		op := gdoc.CommittedOp{DocID: d.id, Rev: head + 1 + int64(i), OpID: p.sub.opID, UserID: p.sub.userID, Op: raw, CreatedAt: now}
		opBatch.Ops[i] = op
		ops[i] = committed{op: op, parsed: p.op, username: p.sub.username}
	}
	if err := s.committer.commit(opBatch); err != nil {
		return err
	}
	d.mu.Lock()
	for _, c := range ops {
		if err := d.auth.apply(c); err != nil {
			// receive checked exactly this op against exactly this text.
			panic(fmt.Sprintf("collab: a checked op no longer applies: %v", err))
		}
	}
	flush := s.fanOutCommitLocked(d, batch, ops, nil)
	s.unlock(d)
	for _, f := range flush {
		f.Flush()
	}
	if s.cfg.SingleInstance {
		// No other instance to tell: the only subscriber is this one's own,
		// which ignores its own op events.
		return nil
	}
	for _, c := range ops {
		if ev, err := c.event(s.cfg.ServerID); err == nil {
			s.publish(ctx, ev)
		}
	}
	return nil
}

// failAll refuses every submission in subs with err.
func (s *Service) failAll(d *document, subs []*submission, err error) {
	d.mu.Lock()
	defer s.unlock(d)
	for _, sub := range subs {
		d.finishLocked(sub, 0, err)
	}
}

// finishLocked tells sub's author the outcome: rev on success, else err.
func (d *document) finishLocked(sub *submission, rev int64, err error) {
	if sub.done != nil {
		select {
		case sub.done <- submitResult{rev: rev, err: err}:
		default: // answered already
		}
		return
	}
	if sub.client == nil {
		return
	}
	if _, joined := d.clients[sub.connID]; !joined {
		return // it left; a reconnect resends the op and gets its ack then
	}
	// The ops it has not received yet (still in the fan-out) go first:
	// an ack or refusal never overtakes an op.
	msgs := d.takePendingLocked(sub.connID, nil)
	if err != nil {
		msgs = append(msgs, OpErrorMessage{OpID: sub.opID, Code: gdoc.ErrorCode(err), Message: gdoc.ErrorMessage(err)})
	} else {
		msgs = append(msgs, AckMessage{OpID: sub.opID, Rev: rev})
	}
	for _, m := range msgs {
		if _, joined := d.clients[sub.connID]; !joined {
			return // dropped as a slow consumer
		}
		d.deliverLocked(sub.client, m)
	}
}

// ReplaceContent commits the minimal op turning the current text into
// content, on behalf of user, through the same path as a live edit (live
// clients receive it as an ordinary op), and returns the document after it.
// ENOTFOUND, EINVALID, EUNAVAILABLE.
func (s *Service) ReplaceContent(ctx context.Context, docID string, user *gdoc.User, content string) (*gdoc.Document, error) {
	if !gdoc.ValidDocumentID(docID) {
		return nil, gdoc.Errorf(gdoc.ENOTFOUND, "Document not found.")
	}
	if user == nil || user.ID == "" {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Editing a document needs a signed-in user.")
	}
	if err := ot.Check(ot.Op{{Insert: content}}); content != "" && err != nil {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The content must be valid Unicode text.")
	}
	if strings.IndexByte(content, 0) >= 0 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The content contains a NUL character, which a document cannot hold.")
	}
	if len(content) > s.cfg.MaxDocumentBytes {
		return nil, gdoc.Errorf(gdoc.ETOOLARGE, "The content is %d bytes, over the document limit of %d bytes.", len(content), s.cfg.MaxDocumentBytes)
	}
	d, err := s.hold(ctx, docID)
	if err != nil {
		return nil, err
	}
	defer s.release(d)
	d.mu.Lock()
	current, head := d.auth.text.String(), d.auth.head
	s.unlock(d)
	op := ot.Diff(current, content)
	if len(op) == 0 {
		return s.Current(ctx, docID)
	}
	sub := &submission{connID: "rest", userID: user.ID, username: user.Username, baseRev: head, minBase: head,
		opID: "rest:" + uuid.NewString(), op: op, done: make(chan submitResult, 1)}
	if err := s.enqueueHeld(d, sub); err != nil {
		return nil, err
	}
	select {
	case res := <-sub.done:
		if res.err != nil {
			return nil, res.err
		}
	case <-ctx.Done():
		return nil, gdoc.Errorf(gdoc.EUNAVAILABLE, "Timed out waiting for the commit.")
	}
	return s.Current(ctx, docID)
}

// enqueueHeld queues a REST submission on a document the caller holds.
func (s *Service) enqueueHeld(d *document, sub *submission) error {
	if s.closing.Load() {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The server is shutting down.")
	}
	d.mu.Lock()
	defer s.unlock(d)
	if !d.open() {
		return gdoc.Errorf(gdoc.EUNAVAILABLE, "The document was closed.")
	}
	d.pending = append(d.pending, sub)
	s.startWorkerLocked(d)
	return nil
}
