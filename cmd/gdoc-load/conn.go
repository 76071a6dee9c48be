package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/gdoc/gdoc/internal/otclient"
)

// wsConn is the edit and chat modes' OT-dialect connection: otclient.Conn's
// wire behaviour, with a cheaper Read for the flood a big room sends (500
// editors moving their cursors deliver tens of thousands of cursor messages a
// second to the generator, which would otherwise spend more CPU decoding
// them than the server spends sending them).
type wsConn struct {
	ws  *websocket.Conn
	buf bytes.Buffer // the message being read, reused (Read is called from one goroutine)
}

// dialOT connects as otclient.Dial does (subprotocol gdoc.v1, the token as
// a bearer subprotocol, ?since when since >= 0) and returns the connection,
// read from here on by the cheaper Read below, and its init message.
func dialOT(ctx context.Context, baseURL, docID, token string, since int64) (*wsConn, *otclient.Message, error) {
	conn, init, err := otclient.Dial(ctx, baseURL, docID, token, since)
	if err != nil {
		return nil, nil, err
	}
	return &wsConn{ws: conn.Socket()}, init, nil
}

// cursorPrefix starts every cursor message the server sends (its type is
// the first field); such a message is counted, never decoded.
var cursorPrefix = []byte(`{"type":"cursor"`)

// cursorMessage is what Read returns for every cursor message.
var cursorMessage = &otclient.Message{Type: "cursor"}

// Read returns the next server message; a cursor message comes back with
// its Type only (a shared value: do not modify it).
func (c *wsConn) Read(ctx context.Context) (*otclient.Message, error) {
	_, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(c.buf.Bytes(), cursorPrefix) {
		return cursorMessage, nil
	}
	data := bytes.Clone(c.buf.Bytes())
	m := &otclient.Message{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("bad server message %s: %w", data, err)
	}
	m.Raw = data
	return m, nil
}

// Send writes v as JSON.
func (c *wsConn) Send(ctx context.Context, v any) error { return wsjson.Write(ctx, c.ws, v) }

// SendOp sends an op message.
func (c *wsConn) SendOp(ctx context.Context, o *otclient.Outgoing) error {
	return c.Send(ctx, map[string]any{"type": "op", "rev": o.Rev, "op": o.Op, "id": o.ID})
}

// Close closes the connection normally.
func (c *wsConn) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "") }

// CloseNow drops the connection without a closing handshake.
func (c *wsConn) CloseNow() error { return c.ws.CloseNow() }
