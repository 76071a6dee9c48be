package otclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Subprotocol selects the OT dialect.
const Subprotocol = "gdoc.v1"

// Message is any server message; fields not used by a type stay zero.
type Message struct {
	Type     string          `json:"type"`
	ID       string          `json:"-"` // an op id, or a chat message's number as a string
	Rev      int64           `json:"rev"`
	Op       json.RawMessage `json:"op,omitempty"`
	UserID   string          `json:"user_id,omitempty"`
	Username string          `json:"username,omitempty"`
	Code     string          `json:"code,omitempty"`
	Message  json.RawMessage `json:"message,omitempty"` // a string in errors and chat
	Content  *string         `json:"content,omitempty"`
	Ops      []Message       `json:"ops,omitempty"`
	Reset    bool            `json:"reset,omitempty"`

	ActiveUsers []string `json:"active_users,omitempty"`  // init
	ClientMsgID string   `json:"client_msg_id,omitempty"` // chat_ack
	Data        *struct {
		Content string `json:"content"`
	} `json:"data,omitempty"` // a seed-dialect update

	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a server message; its "id" is a string for ops and
// a number for chat messages.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var wire struct {
		plain
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	*m = Message(wire.plain)
	if len(wire.ID) > 0 && string(wire.ID) != "null" {
		var n json.Number
		if err := json.Unmarshal(wire.ID, &m.ID); err != nil {
			if err := json.Unmarshal(wire.ID, &n); err != nil {
				return fmt.Errorf("id is neither a string nor a number: %s", wire.ID)
			}
			m.ID = n.String()
		}
	}
	return nil
}

// Text returns the message field as a string (chat text, error sentence).
func (m *Message) Text() string {
	var s string
	_ = json.Unmarshal(m.Message, &s)
	return s
}

// Conn is one OT-dialect WebSocket connection to a document.
type Conn struct {
	ws *websocket.Conn
}

// Socket returns the WebSocket under c, for a caller that reads it its own
// way (the load generator counts cursor messages without decoding them).
func (c *Conn) Socket() *websocket.Conn { return c.ws }

// Dial connects to /ws/{docID} on the server at baseURL (http:// or ws://)
// with token, catching up from since when since >= 0, and returns the
// connection and its init message.
func Dial(ctx context.Context, baseURL, docID, token string, since int64) (*Conn, *Message, error) {
	query := url.Values{}
	if since >= 0 {
		query.Set("since", strconv.FormatInt(since, 10))
	}
	return dial(ctx, baseURL, docID, query, []string{Subprotocol, "bearer." + token})
}

// DialSeed connects in the seed's dialect, as the seed's own client does:
// no subprotocol, the token in the query string.
func DialSeed(ctx context.Context, baseURL, docID, token string) (*Conn, *Message, error) {
	return dial(ctx, baseURL, docID, url.Values{"token": {token}}, nil)
}

func dial(ctx context.Context, baseURL, docID string, query url.Values, subprotocols []string) (*Conn, *Message, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, nil, err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	// The id is escaped once: RawPath is what goes on the wire.
	u.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + "/ws/" + url.PathEscape(docID)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws/" + docID
	u.RawQuery = query.Encode()
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("dial %s: %w (HTTP %d)", u.Redacted(), err, resp.StatusCode)
		}
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	c := &Conn{ws: ws}
	init, err := c.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, nil, err
	}
	if init.Type != "init" {
		ws.CloseNow()
		return nil, nil, fmt.Errorf("first message is %q, not init: %s", init.Type, init.Raw)
	}
	return c, init, nil
}

// Read returns the next server message.
func (c *Conn) Read(ctx context.Context) (*Message, error) {
	var raw json.RawMessage
	if err := wsjson.Read(ctx, c.ws, &raw); err != nil {
		return nil, err
	}
	m := &Message{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("bad server message %s: %w", raw, err)
	}
	m.Raw = raw
	return m, nil
}

// Send writes v as JSON.
func (c *Conn) Send(ctx context.Context, v any) error { return wsjson.Write(ctx, c.ws, v) }

// SendOp sends an op message.
func (c *Conn) SendOp(ctx context.Context, o *Outgoing) error {
	return c.Send(ctx, map[string]any{"type": "op", "rev": o.Rev, "op": o.Op, "id": o.ID})
}

// Close closes the connection normally.
func (c *Conn) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "") }

// CloseNow drops the connection without a closing handshake.
func (c *Conn) CloseNow() error { return c.ws.CloseNow() }
