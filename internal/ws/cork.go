package ws

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// maxCorkedBytes bounds what a corked connection holds back; a larger
// burst goes out in several writes.
const maxCorkedBytes = 64 << 10

// heldSize is the size of the pooled buffers that hold a connection's
// bytes while they are written (heldPool); a larger burst grows its own,
// which is let go once written.
const heldSize = 4 << 10

// heldPool lends corked connections their write buffer while bytes are
// held, so that an idle connection keeps none (it used to keep the buffer
// its init frame was written from, up to 4 KiB).
var heldPool = sync.Pool{New: func() any { return new([heldSize]byte) }}

// readBufferSize is the size of a connection's read buffer: a frame
// header and a small message (a cursor, an op of a keystroke) come in one
// read; a larger message is read straight into the reader's slice.
const readBufferSize = 256

// controlBufferSize is the size of the write buffer the library writes
// through: it holds any control frame whole (2 header bytes, at most 125
// of payload, unmasked), and the library writes nothing else (writeText).
const controlBufferSize = 128

// corkedConn is the hijacked TCP connection under one session, and the one
// place where bytes reach its socket. The session writes its data frames
// here itself (appendTextFrame: the same bytes coder/websocket would
// write, with compression off); the library writes only control frames
// (ping, pong, close), each in one Write, as its write buffer
// (controlBufferSize) holds any of them whole; the few error frames
// written outside a session go through writeText.
//
// Writing never waits for the peer while the connection's mutex is held,
// so that a delivering goroutine (collab's, under a document's lock) may
// write here: sendNow puts a message's frames in the buffer and writes
// what the socket takes at once, without waiting for it to be writable.
// Whatever the socket does not take stays held, in order, and a goroutine
// that may wait (the session's writer, or the library's writer of a
// control frame) writes it out under the write timeout (drain); meanwhile
// later messages wait in the session's queue, which is what makes a peer
// that does not read a slow consumer.
//
// While the session's writer holds the cork, frames collect in the buffer
// and leave at uncork in one system call: a burst of queued messages (the
// ops of one group commit, an op and its ack) costs one write, not one per
// message, and the bytes on the wire are the same frames in the same
// order. The write deadline is set only when a write must wait.
type corkedConn struct {
	net.Conn
	raw     syscall.RawConn    // nil: no write without waiting (not a socket)
	rawFunc func(uintptr) bool // raw's write callback, made once

	mu        sync.Mutex
	drained   sync.Cond     // signalled when a drain ends; L is &mu
	corked    bool          // the session's writer collects a burst
	draining  bool          // a goroutine writes held out, waiting for the peer
	closeSent bool          // a close frame was written: no data frame may follow
	timeout   time.Duration // bounds a write that waits for the peer
	err       error         // a write failed: the connection is broken
	held      []byte        // bytes not on the socket yet, in order

	// The raw write's argument and results (under mu).
	attempt    []byte
	attemptN   int
	attemptErr error
}

var errCloseSent = errors.New("ws: close frame sent")

func newCorkedConn(nc net.Conn) *corkedConn {
	c := &corkedConn{Conn: nc}
	c.drained.L = &c.mu
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.rawFunc = c.rawWrite
		}
	}
	return c
}

// Write implements net.Conn for the library: it holds p back behind what
// is held already, writes what the socket takes now and, unless the
// session's writer or a drain will write the rest, waits for the peer to
// take it.
func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	// Each of the library's writes is one whole frame (above): 0x88 is a
	// close frame (FIN, opcode 8).
	if len(p) > 0 && p[0] == 0x88 {
		c.closeSent = true
	}
	c.held = append(c.heldLocked(), p...)
	if c.corked || c.draining {
		return len(p), nil // their owner writes it
	}
	if err := c.attemptLocked(); err != nil {
		return 0, err
	}
	if err := c.drainLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sendNow writes frames, as data frames, without waiting: into the buffer
// and from there as much as the socket takes at once. It reports sent
// false, having written nothing, when the frames must wait their turn
// (something is held or being written, or the connection is closing or
// broken), and pending when part of them is still held: the caller must
// then drain in a goroutine that may wait.
func (c *corkedConn) sendNow(frames [][]byte) (sent, pending bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw == nil || c.corked || c.draining || len(c.held) > 0 || c.closeSent || c.err != nil {
		return false, false, nil
	}
	c.held = c.heldLocked()
	for _, f := range frames {
		c.held = appendTextFrame(c.held, f)
	}
	if err := c.attemptLocked(); err != nil {
		return true, false, err
	}
	return true, len(c.held) > 0, nil
}

// cork starts holding writes back, once no drain runs. The caller must
// uncork, which is what bounds the time spent writing them.
func (c *corkedConn) cork(writeTimeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeout = writeTimeout
	for c.draining {
		c.drained.Wait()
	}
	if c.err != nil {
		return c.err
	}
	c.corked = true
	return nil
}

// appendText holds frame back, as a data frame, while corked.
func (c *corkedConn) appendText(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.appendTextLocked(frame)
}

// appendTextLocked holds frame back as a data frame behind what is held,
// unless the connection is broken or its close frame went out.
func (c *corkedConn) appendTextLocked(frame []byte) error {
	if c.err != nil {
		return c.err
	}
	if c.closeSent {
		return errCloseSent
	}
	c.held = appendTextFrame(c.heldLocked(), frame)
	return nil
}

// writeText writes frame as a data frame, after what is held, waiting for
// the peer up to timeout unless the session's writer or a drain writes it.
// It is for the few frames written outside the session's queue (an error
// before a refusal); the library's own writes are control frames only.
func (c *corkedConn) writeText(frame []byte, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.appendTextLocked(frame); err != nil {
		return err
	}
	if c.corked || c.draining {
		return nil // their owner writes it
	}
	if c.timeout <= 0 {
		c.timeout = timeout // cork sets the session's from then on
	}
	if err := c.attemptLocked(); err != nil {
		return err
	}
	return c.drainLocked()
}

// heldLocked returns the held bytes, in a buffer from heldPool when none
// is held.
func (c *corkedConn) heldLocked() []byte {
	if c.held == nil {
		c.held = heldPool.Get().(*[heldSize]byte)[:0]
	}
	return c.held
}

// release gives buf back to heldPool if it came from there.
func release(buf []byte) {
	if cap(buf) == heldSize {
		heldPool.Put((*[heldSize]byte)(buf[:heldSize]))
	}
}

// releaseHeldLocked lets go of the held buffer once everything is written.
func (c *corkedConn) releaseHeldLocked() {
	if len(c.held) == 0 && c.held != nil {
		release(c.held)
		c.held = nil
	}
}

// buffered returns the bytes held back.
func (c *corkedConn) buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// uncork stops holding writes back and writes what was held: what the
// socket takes at once, then the rest waiting for the peer up to the
// cork's write timeout.
func (c *corkedConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if err := c.attemptLocked(); err != nil {
		return err
	}
	return c.drainLocked()
}

// drain writes what is held, waiting for the peer up to the write timeout,
// after any drain already running.
func (c *corkedConn) drain() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drainLocked()
}

func (c *corkedConn) drainLocked() error {
	for c.draining {
		c.drained.Wait()
	}
	if c.err != nil || len(c.held) == 0 {
		return c.err
	}
	c.draining = true
	var err error
	if c.timeout > 0 {
		err = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	for err == nil && len(c.held) > 0 {
		// Others append behind these bytes while they are written.
		buf := c.held
		c.held = nil
		c.mu.Unlock()
		_, err = c.Conn.Write(buf)
		c.mu.Lock()
		release(buf)
	}
	c.releaseHeldLocked()
	if err == nil && c.timeout > 0 {
		err = c.Conn.SetWriteDeadline(time.Time{})
	}
	c.draining = false
	c.drained.Broadcast()
	if err != nil {
		c.failLocked(err)
	}
	return err
}

// attemptLocked writes what is held as far as the socket takes it at once,
// without waiting for it to become writable.
func (c *corkedConn) attemptLocked() error {
	if len(c.held) == 0 {
		c.releaseHeldLocked()
		return nil
	}
	if c.raw == nil {
		return nil
	}
	c.attempt = c.held
	err := c.raw.Write(c.rawFunc)
	n := c.attemptN
	if err == nil {
		err = c.attemptErr
	}
	c.attempt, c.attemptN, c.attemptErr = nil, 0, nil
	if err != nil {
		c.failLocked(err)
		return err
	}
	c.held = c.held[:copy(c.held, c.held[n:])]
	c.releaseHeldLocked() // an idle connection keeps no buffer
	return nil
}

// rawWrite is the raw connection's write callback: one write(2), whatever
// it does; a full socket (EAGAIN) writes nothing and is no error.
func (c *corkedConn) rawWrite(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), c.attempt)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			n, err = 0, nil
		case err != nil:
			n = 0
		}
		c.attemptN, c.attemptErr = n, err
		return true
	}
}

func (c *corkedConn) failLocked(err error) {
	c.err = err
	c.held = nil // not given back: a write may still read it
}

// appendTextFrame appends payload as one unmasked, uncompressed text frame
// (RFC 6455, section 5.2): what coder/websocket writes for a message when
// compression is off.
func appendTextFrame(b, payload []byte) []byte {
	const finText = 0x81 // FIN, opcode 1
	switch n := len(payload); {
	case n <= 125:
		b = append(b, finText, byte(n))
	case n <= 0xffff:
		b = append(b, finText, 126, byte(n>>8), byte(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// corkingResponseWriter hands the WebSocket library a corkedConn, and a
// write buffer over it, when the library hijacks the connection.
type corkingResponseWriter struct {
	http.ResponseWriter
	conn *corkedConn // set by Hijack
}

var _ http.Hijacker = (*corkingResponseWriter)(nil)

func (w *corkingResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	// The controller also finds a Hijacker under middleware wrappers.
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	w.conn = newCorkedConn(nc)
	// Small buffers instead of net/http's 4 KiB ones: an idle connection
	// keeps both for as long as it is open (readBufferSize,
	// controlBufferSize). net/http's reader stays when it holds bytes the
	// client sent after the handshake.
	r := brw.Reader
	if r.Buffered() == 0 {
		r = bufio.NewReaderSize(w.conn, readBufferSize)
	}
	return w.conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.conn, controlBufferSize)), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *corkingResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
