package ws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxCorkedBytes bounds what a corked connection holds back; a larger
// burst goes out in several writes.
const maxCorkedBytes = 64 << 10

// connBufferSize is the size of a connection's read and write buffers.
const connBufferSize = 1 << 10

// corkedConn is the hijacked TCP connection under one session. The
// WebSocket library flushes every message with its own write system call;
// while the session's writer holds the cork, those flushes collect here
// instead and leave in one write at uncork. A burst of queued messages (the
// ops of one group commit, an op and its ack) then costs one system call,
// not one per message, and the bytes on the wire are the same frames in the
// same order.
type corkedConn struct {
	net.Conn
	mu      sync.Mutex
	corked  bool
	timeout time.Duration // bounds writing what was held back
	held    []byte
}

// Write implements net.Conn: it holds p back while corked, else writes it
// (after anything still held, so order is kept).
func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	if len(c.held)+len(p) > maxCorkedBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	c.held = append(c.held, p...)
	return len(p), nil
}

// cork starts holding writes back. The caller must uncork, which is what
// bounds the time spent writing them.
func (c *corkedConn) cork(writeTimeout time.Duration) {
	c.mu.Lock()
	c.corked = true
	c.timeout = writeTimeout
	c.mu.Unlock()
}

// uncork writes what was held back and stops holding writes back.
func (c *corkedConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// flushLocked writes what is held back, giving up after the cork's write
// timeout (a peer that does not read).
func (c *corkedConn) flushLocked() error {
	if len(c.held) == 0 {
		return nil
	}
	err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if err == nil {
		_, err = c.Conn.Write(c.held)
	}
	if err == nil {
		err = c.Conn.SetWriteDeadline(time.Time{})
	}
	// An idle connection should not keep a burst's buffer.
	if cap(c.held) > 4<<10 {
		c.held = nil
	} else {
		c.held = c.held[:0]
	}
	return err
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
	w.conn = &corkedConn{Conn: nc}
	// Buffers of connBufferSize instead of net/http's 4 KiB ones: an idle
	// connection keeps both for as long as it is open. A message larger
	// than the read buffer is read straight into the reader's slice, and
	// the writer's bytes collect in the cork anyway. net/http's reader
	// stays when it holds bytes the client sent after the handshake.
	r := brw.Reader
	if r.Buffered() == 0 {
		r = bufio.NewReaderSize(w.conn, connBufferSize)
	}
	return w.conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.conn, connBufferSize)), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *corkingResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
