// Package ws serves the WebSocket endpoint /ws/{document_id}: it authenticates a connection, speaks the seed or the OT (gdoc.v1) dialect of docs/protocol.md, and connects it to the collaboration layer.
package ws

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
)

// Subprotocols the server selects. A client offering SubprotocolOT speaks
// the OT dialect; anything else speaks the seed dialect. A browser that
// passes its token as a "bearer.<JWT>" subprotocol must also offer one of
// these, because a browser fails the handshake when the server selects none
// of the subprotocols it offered (the server never echoes the token).
const (
	SubprotocolOT   = "gdoc.v1"
	SubprotocolSeed = "gdoc.seed"
	bearerPrefix    = "bearer."
)

// Defaults of Config's limits (docs/protocol.md, "Limits"). The wire limits
// every client must know (message size, id and field lengths) are
// gdoc.MaxMessageBytes and its siblings.
const (
	DefaultSendQueue      = 256
	DefaultPingInterval   = 25 * time.Second
	DefaultPongTimeout    = 60 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultReauthInterval = time.Minute
	DefaultOpRate         = 100 // ops (and seed updates) per second per connection
	DefaultOpBurst        = 200
	DefaultChatRate       = 10 // chat messages per second per connection
	DefaultChatBurst      = 20
	DefaultOtherRate      = 200 // cursors, pings and anything else per second
	DefaultOtherBurst     = 400
	// Every frame, whatever it holds (malformed ones included), costs one
	// of the frame budget and its size of the byte budget; a connection
	// over either is read more slowly (see pacing.go).
	DefaultFrameRate  = 400
	DefaultFrameBurst = 800
	DefaultByteRate   = 4 << 20 // bytes per second per connection
	DefaultByteBurst  = 8 << 20
)

// Config wires the endpoint. Collab and Auth are required; zero limits take
// the defaults above.
type Config struct {
	Collab *collab.Service
	// Comments gives init the open comment threads; nil sends none.
	Comments OpenComments
	Auth     gdoc.Authenticator
	Logger   *slog.Logger
	// OriginPatterns lists the origins allowed besides the request's own
	// host: hosts ("app.example.com", "localhost:*") or full origins
	// ("http://localhost:3000"), as path.Match patterns.
	OriginPatterns []string

	MaxMessageBytes int64         // largest message a client may send (default gdoc.MaxMessageBytes; tests lower it)
	SendQueue       int           // messages queued per connection before it counts as a slow consumer
	PingInterval    time.Duration // WebSocket-level ping period
	PongTimeout     time.Duration // a connection that does not answer a ping within this is dropped
	WriteTimeout    time.Duration // a single write that takes longer drops the connection
	// ReauthInterval is how often a connection's token is checked again,
	// so that an expired or revoked token does not keep a socket open.
	ReauthInterval time.Duration

	OpRate, ChatRate, OtherRate    rate.Limit
	OpBurst, ChatBurst, OtherBurst int
	// FrameRate and ByteRate pace a connection's reading (frames and
	// bytes per second); ByteBurst is raised to at least two messages.
	FrameRate, ByteRate   rate.Limit
	FrameBurst, ByteBurst int
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = gdoc.MaxMessageBytes
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ReauthInterval <= 0 {
		c.ReauthInterval = DefaultReauthInterval
	}
	if c.OpRate <= 0 {
		c.OpRate, c.OpBurst = DefaultOpRate, DefaultOpBurst
	}
	if c.ChatRate <= 0 {
		c.ChatRate, c.ChatBurst = DefaultChatRate, DefaultChatBurst
	}
	if c.OtherRate <= 0 {
		c.OtherRate, c.OtherBurst = DefaultOtherRate, DefaultOtherBurst
	}
	c.OpBurst = max(c.OpBurst, 1)
	c.ChatBurst = max(c.ChatBurst, 1)
	c.OtherBurst = max(c.OtherBurst, 1)
	if c.FrameRate <= 0 {
		c.FrameRate, c.FrameBurst = DefaultFrameRate, DefaultFrameBurst
	}
	if c.ByteRate <= 0 {
		c.ByteRate, c.ByteBurst = DefaultByteRate, DefaultByteBurst
	}
	c.FrameBurst = max(c.FrameBurst, 1)
	c.ByteBurst = max(c.ByteBurst, 2*int(c.MaxMessageBytes)+2)
}

// Handler serves GET /ws/{document_id}. Register it with a ServeMux
// pattern that names the wildcard: mux.Handle("GET /ws/{document_id}", h).
type Handler struct {
	cfg Config
	log *slog.Logger

	// ctx lives as long as the server: a connection outlives the request
	// that opened it, so it must not use r.Context().
	ctx    context.Context
	cancel context.CancelFunc

	opFrames opFrameCache
	// cursorFrames encodes a cursor once for all its receivers.
	cursorFrames cursorFrameCache

	// Counters read by internal/metrics.
	slowConsumers, rateLimited atomic.Int64

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup
}

var _ http.Handler = (*Handler)(nil)
var _ collab.Client = (*session)(nil)

// NewHandler returns the WebSocket endpoint. Call Shutdown to close every
// connection when the server stops (http.Server.Shutdown does not close
// hijacked connections).
func NewHandler(cfg Config) *Handler {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Handler{
		cfg:      cfg,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		sessions: make(map[*session]struct{}),
	}
}

// Shutdown closes every connection with 1001 (going away) so clients
// reconnect elsewhere, refuses new ones, and waits for the connections'
// goroutines until ctx is done. Call it after collab's Shutdown, which
// finishes pending commits.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	for s := range h.sessions {
		s.stop(endGoingAway, collab.ReasonShutdown, false)
	}
	h.mu.Unlock()

	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	defer h.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Cut the close handshakes still waiting short (reads and pings
		// take no cancellable context; see readFrame).
		h.mu.Lock()
		for s := range h.sessions {
			s.conn.CloseNow()
		}
		h.mu.Unlock()
		return ctx.Err()
	}
}

// Connections returns the number of open connections.
func (h *Handler) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// QueuedMessages returns the messages waiting in every connection's send
// queue.
func (h *Handler) QueuedMessages() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.sessions {
		n += s.queued()
	}
	return n
}

// SlowConsumersDropped returns how many connections were closed because
// their send queue was full.
func (h *Handler) SlowConsumersDropped() int64 { return h.slowConsumers.Load() }

// RateLimited returns how many messages were refused with rate_limited.
func (h *Handler) RateLimited() int64 { return h.rateLimited.Load() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	docID := r.PathValue("document_id")
	offered := offeredSubprotocols(r)
	dialect := dialectSeed
	if containsFold(offered, SubprotocolOT) {
		dialect = dialectOT
	}

	h.mu.Lock()
	closing := h.closing
	if !closing {
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if closing {
		http.Error(w, "Server shutting down", http.StatusServiceUnavailable)
		return
	}
	// A connection that joined outlives this call (serve, below); until
	// then every return ends it here.
	kept := false
	defer func() {
		if !kept {
			h.wg.Done()
		}
	}()

	// Accept refuses a cross-origin handshake with 403 before anything else.
	cw := &corkingResponseWriter{ResponseWriter: w}
	conn, err := websocket.Accept(cw, acceptRequest(r, offered), &websocket.AcceptOptions{
		Subprotocols:    []string{SubprotocolOT, SubprotocolSeed},
		OriginPatterns:  h.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		h.log.Debug("websocket handshake refused", "err", err, "remote", r.RemoteAddr)
		return
	}
	// The read limit sits one byte above ours so that the reader, not the
	// library, sees an oversized message first and can say too_large.
	conn.SetReadLimit(h.cfg.MaxMessageBytes + 1)

	token := r.URL.Query().Get("token")
	if token == "" {
		for _, p := range offered {
			if len(p) > len(bearerPrefix) && strings.EqualFold(p[:len(bearerPrefix)], bearerPrefix) {
				token = p[len(bearerPrefix):]
				break
			}
		}
	}
	if token == "" {
		closeConn(conn, refusedUnauthenticated, "Missing token")
		return
	}
	// The request's values (a token admission parsed already, see
	// auth.WithParsed), the server's lifetime.
	authCtx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	stop := context.AfterFunc(h.ctx, cancel)
	user, err := h.cfg.Auth.Authenticate(authCtx, token)
	stop()
	cancel()
	if err != nil {
		switch gdoc.ErrorCode(err) {
		case gdoc.EUNAUTHORIZED, gdoc.EINVALID, gdoc.ENOTFOUND:
			closeConn(conn, refusedUnauthenticated, "Invalid token")
		case gdoc.EFORBIDDEN:
			closeConn(conn, refusedForbidden, "Forbidden")
		case gdoc.EUNAVAILABLE:
			closeConn(conn, endInternal, "Service unavailable")
		default:
			h.log.Error("authenticate websocket", "err", err)
			closeConn(conn, endInternal, "Internal error")
		}
		return
	}
	if !gdoc.ValidDocumentID(docID) {
		closeConn(conn, refusedNotFound, "Invalid document id")
		return
	}

	since := int64(-1)
	if v := r.URL.Query().Get("since"); v != "" && dialect == dialectOT {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeNow(h.ctx, conn, cw.conn, errorFrame(codeBadRevision, "since must be a revision (an integer >= 0).", ""))
			closeConn(conn, refusedBadRevision, "Bad revision")
			return
		}
		since = n
	}

	s := newSession(h, conn, docID, user, dialect)
	s.token = strings.Clone(token) // not the request's header block
	s.cork = cw.conn
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		closeConn(conn, endGoingAway, collab.ReasonShutdown)
		return
	}
	h.sessions[s] = struct{}{}
	h.mu.Unlock()
	forget := func() {
		h.mu.Lock()
		delete(h.sessions, s)
		h.mu.Unlock()
	}
	if !s.start(since) {
		forget()
		return
	}
	// The session runs on in a goroutine of its own, and this call returns
	// so that net/http lets go of the request, its buffers and this
	// goroutine's stack (grown by the handshake, the token check and the
	// join): an idle connection then costs one small goroutine.
	kept = true
	end, _ := r.Context().Value(connectionEndKey{}).(*ConnectionEnd)
	if end != nil {
		end.kept.Store(true)
	}
	go func() {
		defer h.wg.Done()
		s.serve()
		forget()
		if end != nil {
			end.end()
		}
	}()
}

// ConnectionEnd lets middleware in front of the Handler hold
// per-connection state (an open-connection count) until the connection
// ends. A connection that joined outlives the ServeHTTP call that opened
// it: the Handler returns once the session runs.
type ConnectionEnd struct {
	end  func()
	kept atomic.Bool
}

type connectionEndKey struct{}

// WithConnectionEnd returns r carrying end. Once ServeHTTP returned, the
// middleware calls end itself unless Kept reports that the Handler kept
// the connection; the Handler then calls end once, when it closes.
func WithConnectionEnd(r *http.Request, end func()) (*http.Request, *ConnectionEnd) {
	ce := &ConnectionEnd{end: end}
	return r.WithContext(context.WithValue(r.Context(), connectionEndKey{}, ce)), ce
}

// Kept reports whether the Handler kept the connection and will call end.
func (c *ConnectionEnd) Kept() bool { return c.kept.Load() }

// offeredSubprotocols lists the Sec-WebSocket-Protocol entries of r.
func offeredSubprotocols(r *http.Request) []string {
	var out []string
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// acceptRequest is r for websocket.Accept, its Sec-WebSocket-Protocol
// header cut to the one entry Accept selects (the first of ours the client
// offered, in its spelling), copied. The library keeps the selected entry
// for the connection's life, and a substring of the client's header would
// keep all of it (with a bearer token, about 250 bytes). The response is
// the same.
func acceptRequest(r *http.Request, offered []string) *http.Request {
	pick := ""
	for _, ours := range []string{SubprotocolOT, SubprotocolSeed} {
		for _, p := range offered {
			if strings.EqualFold(p, ours) {
				pick = p
				break
			}
		}
		if pick != "" {
			break
		}
	}
	ar := r.WithContext(r.Context())
	ar.Header = maps.Clone(r.Header) // its values are shared, not changed
	if ar.Header == nil {
		ar.Header = http.Header{}
	}
	if pick == "" {
		ar.Header.Del("Sec-WebSocket-Protocol")
	} else {
		ar.Header.Set("Sec-WebSocket-Protocol", strings.Clone(pick))
	}
	return ar
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// writeNow writes one frame outside the session's queue (before a
// refusal), through cork when the connection has one (the library then
// writes only control frames; see controlBufferSize).
func writeNow(ctx context.Context, conn *websocket.Conn, cork *corkedConn, frame []byte) {
	// A failed write needs no handling: the caller closes the connection next.
	const timeout = 5 * time.Second
	if cork != nil {
		_ = cork.writeText(frame, timeout)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = conn.Write(ctx, websocket.MessageText, frame)
}
