package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

type dialect int

const (
	dialectSeed dialect = iota // the seed's whole-content messages
	dialectOT                  // gdoc.v1: ops, acks, revisions
)

// reasonOutOfSync closes a seed connection whose shadow no longer matches
// the op stream (a server fault); the client reconnects and reloads.
const reasonOutOfSync = "Out of sync; reconnect"

// outItem is one entry of a connection's send queue: a collab.Message, a
// sessionFrame the session built itself (pong, error), or wakeSeed. An
// interface (two words) rather than a struct of the three keeps the queue's
// buffer, allocated whole for every connection, at SendQueue x 16 bytes.
type outItem any

// sessionFrame is a frame the session built itself.
type sessionFrame []byte

// wakeSeed has nothing to send but a seed client's pending update.
type wakeSeed struct{}

// session is one WebSocket connection to one document. It is collab's
// Client: collab calls Deliver from its own goroutines, and Deliver never
// waits for the peer (it writes what the socket takes at once, else
// queues). One goroutine reads (serve); a writer runs while messages wait,
// the keepalive from a timer, and the closer once it stops (idle.go); a
// seed connection also has one that submits its ops (seedShadow.submitLoop).
type session struct {
	h       *Handler
	conn    *websocket.Conn
	connID  string
	docID   string
	user    *gdoc.User
	token   string // checked again every ReauthInterval
	dialect dialect

	ctx    context.Context
	cancel context.CancelFunc

	qmu   sync.Mutex
	q     sendQueue      // guarded by qmu
	tasks sync.WaitGroup // the writer and keepalive tasks running

	stopOnce    sync.Once
	stopped     chan struct{}
	finished    chan struct{} // closed when finish is done
	closeCode   websocket.StatusCode
	closeReason string
	closeNow    bool // the peer is gone or stuck: skip the close handshake

	// knownRev is the newest revision queued for this client. A client
	// cannot legitimately base an op on a later one.
	knownRev atomic.Int64
	color    string
	// role is the user's role as collab last said (JoinState, then
	// AccessMessage); ops and updates need one that may edit. collab checks
	// again on its side.
	role atomic.Pointer[gdoc.Role]

	// The rate limiters, made when the first frame is read (pace): a
	// limiter starts full and refills only up to its burst, so one made
	// then behaves as one made at the join, and an idle connection, which
	// sends nothing but pongs (answered by the library), keeps none.
	// Touched only by the reading goroutine.
	opLimit, chatLimit, otherLimit *rate.Limiter
	frameLimit, byteLimit          *rate.Limiter // pace reading (pacing.go)

	slowCounted atomic.Bool // counted once as a slow consumer

	seed *seedShadow // seed dialect only

	// readAhead is the goroutine reading the client's messages ahead of
	// readLoop, started by the first seed update that waits for its budget
	// (pacing.go); until then readLoop reads them itself. Touched only by
	// the reading goroutine.
	readAhead *readAhead

	// cork is the socket under the library (cork.go): Deliver writes to it
	// without waiting, and the writer sends a burst of queued messages in
	// one system call; nil when the connection was not hijacked through
	// the handler.
	cork *corkedConn
}

// maxWriteBurst bounds the queued messages the writer sends under one cork.
const maxWriteBurst = 64

func newSession(h *Handler, conn *websocket.Conn, docID string, user *gdoc.User, d dialect) *session {
	ctx, cancel := context.WithCancel(h.ctx)
	connID := uuid.NewString()
	return &session{
		h:        h,
		conn:     conn,
		connID:   connID,
		docID:    docID,
		user:     user,
		dialect:  d,
		ctx:      ctx,
		cancel:   cancel,
		stopped:  make(chan struct{}),
		finished: make(chan struct{}),
	}
}

// makeLimiters makes the session's rate limiters (see session).
func (s *session) makeLimiters() {
	cfg := &s.h.cfg
	s.opLimit = rate.NewLimiter(cfg.OpRate, cfg.OpBurst)
	s.chatLimit = rate.NewLimiter(cfg.ChatRate, cfg.ChatBurst)
	s.otherLimit = rate.NewLimiter(cfg.OtherRate, cfg.OtherBurst)
	s.frameLimit = rate.NewLimiter(cfg.FrameRate, cfg.FrameBurst)
	s.byteLimit = rate.NewLimiter(cfg.ByteRate, cfg.ByteBurst)
}

// logger is the handler's logger with the connection's ids. It is made
// for each message logged (a connection logs a few, mostly at debug
// level), not kept: a kept one is about 160 bytes per connection.
func (s *session) logger() *slog.Logger {
	return s.h.log.With("conn_id", s.connID, "doc_id", s.docID, "user_id", s.user.ID)
}

// ConnID implements collab.Client.
func (s *session) ConnID() string { return s.connID }

// User implements collab.Client.
func (s *session) User() *gdoc.User { return s.user }

// Deliver implements collab.Client: it queues m without blocking and
// reports false when the queue is full, after which the connection closes
// with 4429 "Slow consumer".
func (s *session) Deliver(m collab.Message) bool {
	hold := false // another message follows at once: write both together
	switch m := m.(type) {
	case collab.OpMessage:
		s.raiseKnownRev(m.Op.Rev)
		hold = m.More
	case collab.AckMessage:
		s.raiseKnownRev(m.Rev)
		hold = m.More
	case collab.AccessMessage:
		role := m.Role
		s.role.Store(&role) // before the next message is read, not when the frame is written
	case collab.CursorMessage:
		// A cursor is superseded by the next one: when the queue is three
		// quarters full it is dropped rather than the connection, so that
		// another connection's cursors never make this one a slow consumer.
		if !m.Cursor.Removed && s.queued() >= s.h.cfg.SendQueue*3/4 {
			return true
		}
		hold = m.More
	}
	if hold {
		return s.hold(m)
	}
	return s.enqueue(m)
}

// Flush implements collab.Flusher: it writes what Deliver held back
// (More) as far as the socket takes it at once, or leaves it to the
// writer that runs.
func (s *session) Flush() {
	s.qmu.Lock()
	held := s.q.started && !s.q.writing && !s.q.closed && len(s.q.items) > 0
	s.qmu.Unlock()
	if held {
		s.enqueue(wakeSeed{})
	}
}

func (s *session) raiseKnownRev(rev int64) {
	for {
		cur := s.knownRev.Load()
		if rev <= cur || s.knownRev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

func (s *session) enqueue(it outItem) bool {
	if s.push(it, false) {
		return true
	}
	return s.slowConsumer()
}

// hold queues it without writing it yet: the next message, which collab
// delivers at once, writes both.
func (s *session) hold(it outItem) bool {
	if s.push(it, true) {
		return true
	}
	return s.slowConsumer()
}

// slowConsumer closes the session, whose queue is full, and reports false.
func (s *session) slowConsumer() bool {
	if s.slowCounted.CompareAndSwap(false, true) {
		s.h.slowConsumers.Add(1)
	}
	s.stop(refusedSlowConsumer, "Slow consumer", false)
	return false
}

func (s *session) sendFrame(frame []byte) { s.enqueue(sessionFrame(frame)) }

// wake makes the writer flush a seed client's pending update.
func (s *session) wake() { s.enqueue(wakeSeed{}) }

func (s *session) sendError(e *wireError) {
	if e.Code == codeRateLimited {
		s.h.rateLimited.Add(1)
	}
	s.sendFrame(errorFrame(e.Code, e.Message, e.ID))
}

// stop asks the session to close for r with reason; the first call wins.
// Once the session serves, the first call also starts the closer.
func (s *session) stop(r refusal, reason string, now bool) {
	s.stopOnce.Do(func() {
		code := closeCode(r)
		s.logger().Debug("closing connection", "code", code, "reason", reason, "abrupt", now)
		s.closeCode, s.closeReason, s.closeNow = code, reason, now
		s.qmu.Lock()
		close(s.stopped)
		serving := s.q.serving
		s.qmu.Unlock()
		if serving {
			go s.finish()
		}
	})
}

// start joins the document and sends init. It reports false when the
// connection ended there (refused, or init could not be written); else
// serve takes it on.
func (s *session) start(since int64) bool {
	// The server's context, not s.ctx (nothing cancels that before start
	// returns but the server's): the store's contexts then register with
	// it, and s.ctx keeps no list of children for the connection's life.
	st, err := s.h.cfg.Collab.Join(s.h.ctx, s.docID, s, since)
	if err != nil {
		s.refuseJoin(err, since)
		s.cancel()
		return false
	}
	s.color = st.Color
	s.raiseKnownRev(st.Rev)
	role := st.Role
	s.role.CompareAndSwap(nil, &role) // an AccessMessage during Join is newer
	if s.dialect == dialectSeed {
		s.seed = newSeedShadow(s, st.Document.Content, st.Rev)
	}

	// init goes out before anything Deliver queued meanwhile: the writer
	// starts only after it. It is corked, so that a frame larger than the
	// connection's write buffer still leaves in one system call.
	frame := s.initFrame(st, since, s.openComments())
	if s.cork != nil {
		if err = s.cork.cork(s.h.cfg.WriteTimeout); err == nil {
			err = s.cork.appendText(frame)
		}
		if uerr := s.cork.uncork(); err == nil {
			err = uerr
		}
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, s.h.cfg.WriteTimeout)
		err = s.conn.Write(ctx, websocket.MessageText, frame)
		cancel()
	}
	if err != nil {
		s.h.cfg.Collab.Leave(s.docID, s)
		s.conn.CloseNow()
		s.cancel()
		return false
	}
	s.startWriting()
	s.startKeepalive()
	if s.seed != nil {
		s.tasks.Add(1)
		go func() { defer s.tasks.Done(); s.seed.submitLoop(s.ctx) }()
	}
	return true
}

// serve reads the client's messages until the connection stops, and
// returns once the closer (finish) left the document and closed the
// socket.
func (s *session) serve() {
	// Shutdown stops every registered session itself (h.sessions): no
	// callback on the server's context per connection.
	defer s.cancel()
	s.serving()
	s.readLoop()
	<-s.finished
}

// finish leaves the document, closes the socket and waits for the
// session's tasks. It runs once, in its own goroutine, after stop.
func (s *session) finish() {
	defer close(s.finished)
	s.h.cfg.Collab.Leave(s.docID, s)
	if s.seed != nil {
		s.seed.close()
	}
	if s.closeNow {
		s.conn.CloseNow()
	} else {
		s.conn.Close(s.closeCode, s.closeReason)
	}
	s.cancel()
	s.stopTasks()
}

func (s *session) refuseJoin(err error, since int64) {
	code := gdoc.ErrorCode(err)
	switch {
	case code == gdoc.EFORBIDDEN:
		closeConn(s.conn, refusedForbidden, "Forbidden")
	case code == gdoc.EUNAUTHORIZED:
		closeConn(s.conn, refusedUnauthenticated, "Invalid token")
	case code == gdoc.EINVALID && since >= 0:
		writeNow(s.ctx, s.conn, s.cork, errorFrame(codeBadRevision, gdoc.ErrorMessage(err), ""))
		closeConn(s.conn, refusedBadRevision, "Bad revision")
	case code == gdoc.EINVALID || code == gdoc.ENOTFOUND || code == gdoc.ERATELIMITED:
		writeNow(s.ctx, s.conn, s.cork, errorFrame(wireCode(code, false), gdoc.ErrorMessage(err), ""))
		closeConn(s.conn, refusedNotFound, closeReason(gdoc.ErrorMessage(err)))
	case code == gdoc.EUNAVAILABLE:
		closeConn(s.conn, endInternal, "Service unavailable")
	default:
		s.logger().Error("join document", "err", err)
		closeConn(s.conn, endInternal, "Internal error")
	}
}

// closeReason trims a sentence to what a close frame can carry.
func closeReason(s string) string {
	const limit = 120 // a close frame holds 123 bytes of reason
	if len(s) <= limit {
		return s
	}
	for i := limit; i > 0; i-- {
		if (s[i] & 0xC0) != 0x80 {
			return s[:i]
		}
	}
	return ""
}

func (s *session) initFrame(st collab.JoinState, since int64, comments []*gdoc.Comment) []byte {
	out := initOut{
		Type:        "init",
		UserID:      s.user.ID,
		Username:    s.user.Username,
		ActiveUsers: []string{},
		Rev:         st.Rev,
		Color:       st.Color,
		ConnID:      s.connID,
		Users:       st.Users,
		Document:    newDocumentOut(st.Document),
		Chat:        make([]chatOut, 0, len(st.Chat)),
		Cursors:     make([]cursorOut, 0, len(st.Cursors)),
		Comments:    comments,
		Reset:       st.Reset,
		Role:        s.currentRole(),
	}
	if out.Users == nil {
		out.Users = []gdoc.ActiveUser{}
	}
	for _, u := range st.Users {
		if u.UserID != s.user.ID {
			out.ActiveUsers = append(out.ActiveUsers, u.UserID)
		}
	}
	if since >= 0 && !st.Reset {
		ops := make([]opOut, 0, len(st.Ops))
		for _, m := range st.Ops {
			ops = append(ops, opFrame(m))
		}
		out.Ops = &ops
	} else {
		content := st.Document.Content
		out.Content = &content
	}
	for _, c := range st.Chat {
		out.Chat = append(out.Chat, chatFrame(c))
	}
	for _, c := range st.Cursors {
		out.Cursors = append(out.Cursors, cursorFrame(c))
	}
	return mustJSON(out)
}

// readLoop handles the client's messages in order, paced (pacing.go). It
// reads them itself, or, once a seed update waited for its budget, takes
// them from the read-ahead goroutine (one ahead at most).
func (s *session) readLoop() {
	defer func() {
		if s.readAhead != nil {
			<-s.readAhead.done // it ends once the connection or the session does
		}
	}()
	var held *frame
	for {
		var f frame
		switch {
		case held != nil:
			f, held = *held, nil
		case s.readAhead == nil:
			f = s.readFrame()
		default:
			select {
			case f = <-s.readAhead.frames:
			case <-s.stopped:
				return
			}
		}
		if err := f.err; err != nil {
			s.logger().Debug("read failed", "err", err)
			if websocket.CloseStatus(err) != -1 {
				s.stop(endNormal, "", false)
			} else {
				s.stop(endGoingAway, "", true)
			}
			return
		}
		if f.tooLarge {
			limit := s.h.cfg.MaxMessageBytes
			writeNow(s.ctx, s.conn, s.cork, errorFrame(codeTooLarge, fmt.Sprintf("A message may hold at most %d bytes.", limit), ""))
			s.stop(refusedTooLarge, "Message too large", false)
			return
		}
		if !s.pace(len(f.data)) {
			return
		}
		held = s.handle(f.data)
	}
}

// handle answers one client message. Nothing a client sends may crash the
// server: a panic is logged as a server fault and answered with internal.
// An op or seed update first waits for the op budget; a frame read
// meanwhile and not handled is returned, to be handled next.
func (s *session) handle(data []byte) (held *frame) {
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("panic handling a websocket message", "panic", p, "stack", string(debug.Stack()))
			s.sendError(refuse(codeInternal, "", "Internal error."))
		}
	}()
	in, werr := decodeInbound(data)
	if werr != nil {
		s.sendError(werr)
		return nil
	}
	switch in.Type {
	case "op":
		if s.opLimit.Wait(s.ctx) != nil {
			return nil
		}
		werr = s.handleOp(in)
	case "update":
		if s.dialect == dialectSeed {
			in, held = s.waitUpdate(in)
		}
		werr = s.handleUpdate(in)
	case "cursor":
		werr = s.handleCursor(in)
	case "chat":
		werr = s.handleChat(in)
	case "viewport":
		werr = s.handleViewport(in)
	case "ping":
		if !s.otherLimit.Allow() {
			werr = refuse(codeRateLimited, "", "Too many messages; slow down.")
		} else {
			s.sendFrame(pongFrame)
		}
	default:
		if !s.otherLimit.Allow() {
			return held
		}
		werr = refuse(codeUnknownType, "", "Unknown message type %q.", closeReason(in.Type))
	}
	if werr != nil {
		s.sendError(werr)
	}
	return held
}

func (s *session) handleOp(in *inbound) *wireError {
	if s.dialect != dialectOT {
		return refuse(codeUnknownType, "", "op needs the %s subprotocol; the seed dialect sends update.", SubprotocolOT)
	}
	if in.ID == nil || *in.ID == "" || len(*in.ID) > gdoc.MaxOpIDBytes {
		return refuse(codeInvalidMessage, "", "An op needs an id: a string of 1 to %d bytes.", gdoc.MaxOpIDBytes)
	}
	id := *in.ID
	if !s.currentRole().CanEdit() {
		return refuse(codeForbidden, id, "You can view this document but not edit it.")
	}
	if in.Rev == nil {
		return refuse(codeInvalidMessage, id, "An op needs rev, the revision it is based on.")
	}
	if len(in.Op) == 0 || string(in.Op) == "null" {
		return refuse(codeInvalidMessage, id, "An op needs op, a list of components.")
	}
	rev := *in.Rev
	if rev < 0 || rev > s.knownRev.Load() {
		return refuse(codeBadRevision, id, "Revision %d is not one this connection has received.", rev)
	}
	op, err := ot.Parse(in.Op)
	if err == nil {
		err = ot.Check(op)
	}
	if err != nil {
		return refuse(codeInvalidOp, id, "Malformed op: %s", opErrorText(err))
	}
	if err := s.h.cfg.Collab.SubmitOp(s.ctx, s.docID, s, rev, id, op); err != nil {
		return s.domainError(err, id, true)
	}
	return nil
}

func (s *session) handleUpdate(in *inbound) *wireError {
	if s.dialect != dialectSeed {
		return refuse(codeInvalidMessage, "", "update is the seed dialect's message; %s clients send op.", SubprotocolOT)
	}
	if in.Data == nil || in.Data.Content == nil {
		return refuse(codeInvalidMessage, "", "An update needs data.content, the whole text.")
	}
	if !s.currentRole().CanEdit() {
		return refuse(codeForbidden, "", "You can view this document but not edit it.")
	}
	return s.seed.clientUpdate(*in.Data.Content)
}

func (s *session) handleCursor(in *inbound) *wireError {
	cur := collab.Cursor{ConnID: s.connID, UserID: s.user.ID, Username: s.user.Username, Color: s.color}
	hasOffsets := in.Anchor != nil || in.Head != nil
	hasPosition := len(in.Position) > 0
	if !hasOffsets && !hasPosition {
		return refuse(codeInvalidMessage, "", "A cursor needs anchor and head (code points) or position.")
	}
	if hasOffsets {
		if in.Anchor == nil || in.Head == nil || *in.Anchor < 0 || *in.Head < 0 {
			return refuse(codeInvalidMessage, "", "A cursor needs both anchor and head, each >= 0.")
		}
		cur.Anchor, cur.Head = *in.Anchor, *in.Head
		cur.Rev = s.knownRev.Load()
		if in.Rev != nil {
			if *in.Rev < 0 || *in.Rev > cur.Rev {
				return refuse(codeBadRevision, "", "Revision %d is not one this connection has received.", *in.Rev)
			}
			cur.Rev = *in.Rev
		}
	}
	if len(in.Position) > gdoc.MaxCursorFieldBytes || len(in.Selection) > gdoc.MaxCursorFieldBytes {
		return refuse(codeInvalidMessage, "", "position and selection may hold at most %d bytes each.", gdoc.MaxCursorFieldBytes)
	}
	if hasPosition {
		cur.Position, cur.Selection = in.Position, in.Selection
	}
	// Cursors over the rate are dropped without a word: the next one
	// supersedes them.
	if !s.otherLimit.Allow() {
		return nil
	}
	if err := s.h.cfg.Collab.UpdateCursor(s.ctx, s.docID, s, cur); err != nil {
		return s.domainError(err, "", false)
	}
	return nil
}

func (s *session) handleChat(in *inbound) *wireError {
	clientMsgID := ""
	if in.ClientMsgID != nil {
		clientMsgID = *in.ClientMsgID
		if len(clientMsgID) > gdoc.MaxClientIDBytes {
			return refuse(codeInvalidMessage, "", "client_msg_id may hold at most %d bytes.", gdoc.MaxClientIDBytes)
		}
	}
	if in.Message == nil {
		return refuse(codeInvalidMessage, clientMsgID, "A chat message needs message, a string.")
	}
	if !s.chatLimit.Allow() {
		return refuse(codeRateLimited, clientMsgID, "Too many chat messages; slow down.")
	}
	if err := s.h.cfg.Collab.SendChat(s.ctx, s.docID, s, *in.Message, clientMsgID); err != nil {
		return s.domainError(err, clientMsgID, false)
	}
	return nil
}

// domainError turns an error from collab into a wire error, logging only
// server faults.
func (s *session) domainError(err error, id string, aboutOp bool) *wireError {
	code := gdoc.ErrorCode(err)
	if code == gdoc.EINTERNAL {
		s.logger().Error("websocket request failed", "err", err)
	}
	return &wireError{Code: wireCode(code, aboutOp), Message: gdoc.ErrorMessage(err), ID: id}
}

// opErrorText is the sentence of an ot parse or check error.
func opErrorText(err error) string {
	var e *gdoc.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return strings.TrimPrefix(err.Error(), "ot: ")
}

// writeBurst sends burst, corked so that its messages leave in one system
// call. It reports false once the connection is stopping.
func (s *session) writeBurst(burst []outItem) bool {
	write := s.write
	if s.cork != nil {
		if err := s.cork.cork(s.h.cfg.WriteTimeout); err != nil {
			return s.writeFailed(err)
		}
		write = s.writeCorked
	}
	ok := true
	for i, it := range burst {
		// A seed client's pending update goes out once nothing else waits.
		last := s.seed != nil && i == len(burst)-1 && s.queued() == 0
		if ok = s.writeItem(it, write, last); !ok {
			break
		}
		if s.cork != nil && s.cork.buffered() > maxCorkedBytes {
			if err := s.cork.drain(); err != nil {
				ok = false
				break
			}
		}
	}
	if s.cork != nil {
		if err := s.cork.uncork(); err != nil {
			return s.writeFailed(err)
		}
	}
	return ok
}

// writeFailed stops the session after a failed write (the peer is gone or
// does not read) and reports false.
func (s *session) writeFailed(err error) bool {
	s.logger().Debug("write failed", "err", err)
	s.stop(endGoingAway, "", true)
	return false
}

// writeItem sends one queued item. It reports false once the connection
// is stopping.
func (s *session) writeItem(it outItem, write func([]byte) bool, last bool) bool {
	frames, closing, reason := s.encode(it)
	for _, f := range frames {
		if !write(f) {
			return false
		}
	}
	if closing {
		s.stop(closingRefusal(reason), reason, false)
		return false
	}
	if last {
		if f := s.seed.flush(); f != nil && !write(f) {
			return false
		}
	}
	return true
}

// writeCorked writes frame while the connection is corked: the bytes only
// reach the cork's buffer (whose flush has its own deadline).
func (s *session) writeCorked(frame []byte) bool {
	if err := s.cork.appendText(frame); err != nil {
		return s.writeFailed(err)
	}
	return true
}

func (s *session) write(frame []byte) bool {
	ctx, cancel := context.WithTimeout(s.ctx, s.h.cfg.WriteTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		s.logger().Debug("write failed", "err", err)
		s.stop(endGoingAway, "", true)
		return false
	}
	return true
}

// encode renders one queued item in the connection's dialect. closing
// reports that the connection must close after the frames (collab said
// Closing).
func (s *session) encode(it outItem) (frames [][]byte, closing bool, reason string) {
	switch m := it.(type) {
	case sessionFrame:
		return s.withSeedFlush(m), false, ""
	case wakeSeed:
		return s.withSeedFlush(nil), false, ""
	case collab.OpMessage:
		if s.seed != nil {
			if err := s.seed.remoteOp(m); err != nil {
				s.logger().Error("seed shadow out of sync", "err", err)
				return nil, true, reasonOutOfSync
			}
			return nil, false, ""
		}
		return [][]byte{s.h.opFrames.frame(m)}, false, ""
	case collab.AckMessage:
		if s.seed != nil {
			if err := s.seed.ack(m); err != nil {
				s.logger().Error("seed shadow out of sync", "err", err)
				return nil, true, reasonOutOfSync
			}
			return nil, false, ""
		}
		return [][]byte{mustJSON(ackOut{Type: "ack", ID: m.OpID, Rev: m.Rev})}, false, ""
	case collab.OpErrorMessage:
		if s.seed != nil {
			s.seed.opRefused(m)
		}
		return s.withSeedFlush(errorFrame(wireCode(m.Code, true), m.Message, m.OpID)), false, ""
	case collab.ChatMessage:
		return s.withSeedFlush(mustJSON(chatFrame(m.Chat))), false, ""
	case collab.ChatAckMessage:
		if s.dialect == dialectSeed {
			return nil, false, "" // the seed client shows its own message already
		}
		return [][]byte{mustJSON(chatAckOut{Type: "chat_ack", ClientMsgID: m.ClientMsgID, ID: m.Chat.ID, Timestamp: timestamp(m.Chat.CreatedAt)})}, false, ""
	case collab.CursorMessage:
		return s.withSeedFlush(s.h.cursorFrames.frame(m.Cursor)), false, ""
	case collab.UserJoinedMessage:
		return s.withSeedFlush(userJoinedFrame(m.User)), false, ""
	case collab.UserLeftMessage:
		return s.withSeedFlush(mustJSON(userLeftOut{Type: "user_left", UserID: m.UserID, Username: m.Username})), false, ""
	case collab.DocumentMessage:
		return s.withSeedFlush(mustJSON(documentChangedOut{Type: "document", Document: newDocumentOut(m.Document), UserID: m.UserID, Username: m.Username})), false, ""
	case collab.AccessMessage:
		return s.withSeedFlush(mustJSON(accessOut{Type: "access", Role: m.Role})), false, ""
	case collab.ClosingMessage:
		return s.withSeedFlush(nil), true, closeReasonOr(m.Reason, collab.ReasonShutdown)
	default:
		if frames, ok := s.reviewFrame(m); ok {
			return frames, false, ""
		}
		s.logger().Error("unknown collab message", "type", fmt.Sprintf("%T", m))
		return nil, false, ""
	}
}

func closeReasonOr(reason, fallback string) string {
	if reason == "" {
		return fallback
	}
	return closeReason(reason)
}

// withSeedFlush puts a seed client's pending update before frame, so the
// client sees the text change before what follows it.
func (s *session) withSeedFlush(frame []byte) [][]byte {
	var frames [][]byte
	if s.seed != nil {
		if f := s.seed.flush(); f != nil {
			frames = append(frames, f)
		}
	}
	if frame != nil {
		frames = append(frames, frame)
	}
	return frames
}
