package multiinstance_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

// editor is one OT-dialect client that types unique markers into a
// document: the classic one-op-in-flight algorithm (internal/otclient),
// reconnecting with ?since= and resending its in-flight op under the same
// id when its connection drops.
//
// Every marker is inserted at a marker boundary, so the text is always a
// concatenation of whole markers, and each marker must end up in the
// document exactly once.
type editor struct {
	name  string
	token string
	docID string
	// urls are tried in order on every (re)connect: a direct instance
	// first, then nginx.
	urls []string

	mu          sync.Mutex
	state       *otclient.State
	markersByOp map[string][]string // op id -> markers it carries
	acked       map[string]bool     // markers whose op was acknowledged
	typed       []string            // every marker typed, in order
	reconnects  int
	connectedTo string
	// pendingSend is the op applyServerOp made ready to send (the buffer,
	// once the in-flight op is acknowledged during catch-up).
	pendingSend *otclient.Outgoing
	// resendDue is set when the server answered the in-flight op with
	// "unavailable": resend it (same id, rebased) after a pause.
	resendDue   bool
	unavailable int // "unavailable" answers received
}

func newEditor(name, token, docID string, urls ...string) *editor {
	return &editor{name: name, token: token, docID: docID, urls: urls,
		markersByOp: make(map[string][]string), acked: make(map[string]bool)}
}

func (e *editor) marker(k int) string { return fmt.Sprintf("[%s·%d😀]", e.name, k) }

// dial connects to the first URL that answers, catching up from the
// editor's revision when it has one.
func (e *editor) dial(ctx context.Context) (*otclient.Conn, *otclient.Message, error) {
	since := int64(-1)
	if e.state != nil {
		since = e.state.Rev
	}
	var errs []error
	for _, u := range e.urls {
		dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, init, err := otclient.Dial(dialCtx, u, e.docID, e.token, since)
		cancel()
		if err == nil {
			e.connectedTo = u
			return conn, init, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, nil, errors.Join(errs...)
}

// catchUp applies an init message: the whole text on a first connect, the
// missed ops on a reconnect. It returns the op to (re)send, if any.
func (e *editor) catchUp(init *otclient.Message) (*otclient.Outgoing, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		if init.Content == nil {
			return nil, fmt.Errorf("first init has no content: %s", init.Raw)
		}
		e.state = otclient.NewState(e.name+"-"+testenv.RandomHex(4), *init.Content, init.Rev)
		return nil, nil
	}
	if init.Reset {
		return nil, fmt.Errorf("server could not catch up from rev %d (reset): %s", e.state.Rev, init.Raw)
	}
	for _, m := range init.Ops {
		if err := e.applyServerOp(m.Rev, m.ID, m.Op); err != nil {
			return nil, err
		}
	}
	if init.Rev != e.state.Rev {
		return nil, fmt.Errorf("after catch-up at rev %d, init says head is %d", e.state.Rev, init.Rev)
	}
	return e.state.Resend(), nil
}

// applyServerOp applies another client's op (or, during catch-up, our own
// in-flight op, which acknowledges it). Caller holds e.mu.
func (e *editor) applyServerOp(rev int64, id string, raw []byte) (err error) {
	op, err := ot.Parse(raw)
	if err != nil {
		return fmt.Errorf("server op %s: %w", raw, err)
	}
	inflight := e.state.Inflight()
	next, err := e.state.ServerOp(rev, id, op)
	if err != nil {
		return err
	}
	e.noteAck(inflight)
	e.pendingSend = next
	return nil
}

// noteAck marks the markers of inflight as acknowledged once it is no
// longer in flight. Caller holds e.mu.
func (e *editor) noteAck(inflight *otclient.Outgoing) {
	if inflight == nil {
		return
	}
	if now := e.state.Inflight(); now != nil && now.ID == inflight.ID {
		return
	}
	for _, m := range e.markersByOp[inflight.ID] {
		e.acked[m] = true
	}
}

// run types n markers, one every 5–25 ms, then keeps receiving until ctx
// ends. A returned error is a protocol failure.
func (e *editor) run(ctx context.Context, n int) error {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(len(e.name))))
	typedCount := 0
	for ctx.Err() == nil {
		conn, init, err := e.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Every URL refused: an instance is starting or nginx has not
			// noticed a dead upstream yet. Retry shortly.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		resend, err := e.catchUp(init)
		if err != nil {
			conn.CloseNow()
			return err
		}
		if resend != nil {
			if err := conn.SendOp(ctx, resend); err != nil {
				conn.CloseNow()
				e.countReconnect()
				continue
			}
		}
		err = e.session(ctx, conn, rng, n, &typedCount)
		conn.CloseNow()
		if err == nil || ctx.Err() != nil {
			return nil
		}
		var fatal *protocolError
		if errors.As(err, &fatal) {
			return err
		}
		e.countReconnect()
	}
	return nil
}

type protocolError struct{ error }

func (e *editor) countReconnect() {
	e.mu.Lock()
	e.reconnects++
	e.mu.Unlock()
}

// session runs one connection: it types while markers remain and applies
// what the server sends. It returns a *protocolError for a broken
// guarantee, another error when the connection dropped.
func (e *editor) session(ctx context.Context, conn *otclient.Conn, rng *rand.Rand, n int, typed *int) error {
	msgs := make(chan *otclient.Message, 256)
	readErr := make(chan error, 1)
	sessionCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			m, err := conn.Read(sessionCtx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-sessionCtx.Done():
				return
			}
		}
	}()
	typeTimer := time.NewTimer(time.Duration(5+rng.IntN(20)) * time.Millisecond)
	defer typeTimer.Stop()
	resendTicker := time.NewTicker(100 * time.Millisecond)
	defer resendTicker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			return err
		case <-resendTicker.C:
			e.mu.Lock()
			var out *otclient.Outgoing
			if e.resendDue {
				e.resendDue = false
				out = e.state.Resend()
			}
			e.mu.Unlock()
			if out != nil {
				if err := conn.SendOp(ctx, out); err != nil {
					return err
				}
			}
		case <-typeTimer.C:
			if *typed < n {
				out, err := e.typeMarker(rng, *typed)
				if err != nil {
					return &protocolError{err}
				}
				*typed++
				if out != nil {
					if err := conn.SendOp(ctx, out); err != nil {
						return err
					}
				}
				typeTimer.Reset(time.Duration(5+rng.IntN(20)) * time.Millisecond)
			}
		case m := <-msgs:
			out, err := e.receive(m)
			if err != nil {
				return &protocolError{err}
			}
			if out != nil {
				if err := conn.SendOp(ctx, out); err != nil {
					return err
				}
			}
		}
	}
}

// typeMarker inserts marker k at a random marker boundary.
func (e *editor) typeMarker(rng *rand.Rand, k int) (*otclient.Outgoing, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	text := e.state.Text()
	boundaries := []int{0}
	pos := 0
	for _, r := range text {
		pos++
		if r == ']' {
			boundaries = append(boundaries, pos)
		}
	}
	at := boundaries[rng.IntN(len(boundaries))]
	m := e.marker(k)
	var op ot.Op
	if at > 0 {
		op = append(op, ot.Component{Skip: at})
	}
	op = append(op, ot.Component{Insert: m})
	out, err := e.state.Edit(op)
	if err != nil {
		return nil, fmt.Errorf("local edit at %d of %d: %w", at, utf8.RuneCountInString(text), err)
	}
	e.typed = append(e.typed, m)
	id := e.state.BufferID()
	if out != nil {
		id = out.ID
	}
	e.markersByOp[id] = append(e.markersByOp[id], m)
	return out, nil
}

// receive applies one server message and returns the op to send next.
func (e *editor) receive(m *otclient.Message) (*otclient.Outgoing, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pendingSend = nil
	switch m.Type {
	case "ack":
		inflight := e.state.Inflight()
		next, err := e.state.Ack(m.ID, m.Rev)
		if err != nil {
			return nil, err
		}
		e.noteAck(inflight)
		return next, nil
	case "op":
		if err := e.applyServerOp(m.Rev, m.ID, m.Op); err != nil {
			return nil, err
		}
		return e.pendingSend, nil
	case "error":
		if m.Code == "unavailable" {
			// Storage down or the document too contended: the op stays in
			// flight and is resent shortly with the same id.
			e.unavailable++
			if inflight := e.state.Inflight(); inflight != nil && inflight.ID == m.ID {
				e.resendDue = true
			}
			return nil, nil
		}
		return nil, fmt.Errorf("server error: %s", m.Raw)
	}
	return nil, nil
}

// snapshot returns the editor's revision, text and pending op count.
func (e *editor) snapshot() (rev int64, text string, pending int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		return -1, "", 0
	}
	return e.state.Rev, e.state.Text(), e.state.Pending()
}

func (e *editor) done(n int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state != nil && len(e.typed) == n && e.state.Pending() == 0
}

// markerCounts counts each marker of text (text is a concatenation of
// markers "[...]").
func markerCounts(text string) (map[string]int, error) {
	counts := make(map[string]int)
	rest := text
	for rest != "" {
		if !strings.HasPrefix(rest, "[") {
			return nil, fmt.Errorf("text is not a sequence of markers near %q", abbreviate(rest))
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, fmt.Errorf("unterminated marker near %q", abbreviate(rest))
		}
		counts[rest[:end+1]]++
		rest = rest[end+1:]
	}
	return counts, nil
}

func abbreviate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
