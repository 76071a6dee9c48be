package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
)

// Error codes of {"type":"error"} messages (docs/protocol.md, "Errors").
const (
	codeInvalidJSON    = "invalid_json"
	codeUnknownType    = "unknown_type"
	codeInvalidMessage = "invalid_message"
	codeInvalidOp      = "invalid_op"
	codeBadRevision    = "bad_revision"
	codeTooLarge       = "too_large"
	codeRateLimited    = "rate_limited"
	codeUnavailable    = "unavailable"
	codeInternal       = "internal"
	codeForbidden      = "forbidden"
	codeNotFound       = "not_found"
	codeConflict       = "conflict"
	codeReload         = "reload"
)

// wireCode maps a domain error code to the code a client sees. This is the
// one place where that mapping lives. aboutOp selects invalid_op over
// invalid_message for EINVALID.
func wireCode(code string, aboutOp bool) string {
	switch code {
	case gdoc.EINVALID:
		if aboutOp {
			return codeInvalidOp
		}
		return codeInvalidMessage
	case gdoc.ETOOLARGE:
		return codeTooLarge
	case gdoc.ERATELIMITED:
		return codeRateLimited
	case gdoc.EUNAVAILABLE:
		return codeUnavailable
	case gdoc.EFORBIDDEN, gdoc.EUNAUTHORIZED:
		return codeForbidden
	case gdoc.ENOTFOUND:
		return codeNotFound
	case gdoc.ECONFLICT:
		return codeConflict
	case gdoc.ERELOAD:
		return codeReload
	case codeBadRevision, codeInvalidOp, codeInvalidMessage:
		return code // already a wire code
	default:
		return codeInternal
	}
}

// timestamp renders t as the seed does: Unix seconds with a fraction.
func timestamp(t time.Time) float64 {
	if t.IsZero() {
		t = time.Now()
	}
	return float64(t.UnixMicro()) / 1e6
}

// inbound is every field any client message may carry. Pointers tell a
// missing field from a zero one.
type inbound struct {
	Type string `json:"type"`
	// op
	Rev *int64          `json:"rev"`
	Op  json.RawMessage `json:"op"`
	ID  *string         `json:"id"`
	// update (seed)
	Data *struct {
		Content *string `json:"content"`
	} `json:"data"`
	// cursor
	Anchor    *int            `json:"anchor"`
	Head      *int            `json:"head"`
	Position  json.RawMessage `json:"position"`
	Selection json.RawMessage `json:"selection"`
	// chat
	Message     *string `json:"message"`
	ClientMsgID *string `json:"client_msg_id"`
	// viewport (review.go)
	FirstLine  *int    `json:"first_line"`
	LastLine   *int    `json:"last_line"`
	Following  *string `json:"following"`
	Presenting *bool   `json:"presenting"`
}

// wireError is a refusal to send back as {"type":"error"}.
type wireError struct {
	Code    string
	Message string
	ID      string
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

func refuse(code, id, format string, args ...any) *wireError {
	return &wireError{Code: code, ID: id, Message: fmt.Sprintf(format, args...)}
}

// decodeInbound parses one client message strictly: it must be a JSON
// object whose fields have the documented types, and its text must be valid
// Unicode (no invalid UTF-8, no lone surrogate escapes, which Go's decoder
// would silently turn into U+FFFD).
func decodeInbound(data []byte) (*inbound, *wireError) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(data) {
		return nil, refuse(codeInvalidJSON, "", "A message must be a JSON object.")
	}
	var in inbound
	if err := json.Unmarshal(data, &in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, refuse(codeInvalidMessage, peekID(data), "Field %q has the wrong type.", typeErr.Field)
		}
		return nil, refuse(codeInvalidMessage, peekID(data), "The message does not have the documented fields.")
	}
	if in.Type == "" {
		return nil, refuse(codeInvalidMessage, "", "The message has no type.")
	}
	if !utf8.Valid(data) || hasLoneSurrogate(data) {
		code := codeInvalidMessage
		if in.Type == "op" {
			code = codeInvalidOp
		}
		return nil, refuse(code, peekID(data), "The message contains invalid Unicode (a lone surrogate or invalid UTF-8).")
	}
	return &in, nil
}

// peekID returns the message's "id" when it is a string, so that an error
// about an op can name it.
func peekID(data []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(v.ID, &id) != nil {
		return ""
	}
	return id
}

// hasLoneSurrogate reports whether JSON text contains a \uD800-\uDFFF
// escape that is not half of a well-formed surrogate pair.
func hasLoneSurrogate(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 >= len(data) {
			return false
		}
		if data[i+1] != 'u' {
			i++ // skip the escaped character, which may itself be a backslash
			continue
		}
		r, ok := hex4(data, i+2)
		if !ok {
			return true
		}
		i += 5
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
				if lo, ok := hex4(data, i+3); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 6
					continue
				}
			}
			return true
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		}
	}
	return false
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Server → client frames.

type errorOut struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

type opOut struct {
	Type     string          `json:"type"`
	Rev      int64           `json:"rev"`
	Op       json.RawMessage `json:"op"`
	ID       string          `json:"id"`
	UserID   string          `json:"user_id"`
	Username string          `json:"username"`
}

type ackOut struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Rev  int64  `json:"rev"`
}

type chatOut struct {
	Type      string  `json:"type"`
	ID        int64   `json:"id"`
	UserID    string  `json:"user_id"`
	Username  string  `json:"username"`
	Message   string  `json:"message"`
	Timestamp float64 `json:"timestamp"`
}

type chatAckOut struct {
	Type        string  `json:"type"`
	ClientMsgID string  `json:"client_msg_id"`
	ID          int64   `json:"id"`
	Timestamp   float64 `json:"timestamp"`
}

type cursorOut struct {
	Type      string          `json:"type"`
	ConnID    string          `json:"conn_id"`
	UserID    string          `json:"user_id"`
	Username  string          `json:"username,omitempty"`
	Color     string          `json:"color,omitempty"`
	Rev       *int64          `json:"rev,omitempty"`
	Anchor    *int            `json:"anchor,omitempty"`
	Head      *int            `json:"head,omitempty"`
	Position  json.RawMessage `json:"position,omitempty"`
	Selection json.RawMessage `json:"selection,omitempty"`
	Removed   bool            `json:"removed,omitempty"`
}

type userJoinedOut struct {
	Type     string `json:"type"`
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Color    string `json:"color"`
}

type userLeftOut struct {
	Type     string `json:"type"`
	UserID   string `json:"user_id"`
	Username string `json:"username"`
}

type updateOut struct {
	Type      string     `json:"type"`
	UserID    string     `json:"user_id"`
	Username  string     `json:"username"`
	Data      updateData `json:"data"`
	Timestamp float64    `json:"timestamp"`
}

type updateData struct {
	Content string `json:"content"`
}

type documentOut struct {
	ID            string          `json:"id"`
	Title         string          `json:"title"`
	Language      string          `json:"language"`
	OwnerID       string          `json:"owner_id"`
	Public        bool            `json:"is_public"`
	Visibility    gdoc.Visibility `json:"visibility,omitempty"`
	LinkRole      gdoc.Role       `json:"link_role,omitempty"`
	OwnerUsername string          `json:"owner_username,omitempty"`
}

func newDocumentOut(d gdoc.Document) documentOut {
	return documentOut{ID: d.ID, Title: d.Title, Language: d.Language, OwnerID: d.OwnerID, Public: d.Public,
		Visibility: d.Visibility, LinkRole: d.LinkRole, OwnerUsername: d.OwnerUsername}
}

// accessOut tells a client its role changed.
type accessOut struct {
	Type string    `json:"type"`
	Role gdoc.Role `json:"role"`
}

// documentChangedOut tells a client the document's title, language or
// publicity changed.
type documentChangedOut struct {
	Type     string      `json:"type"`
	Document documentOut `json:"document"`
	UserID   string      `json:"user_id"`
	Username string      `json:"username"`
}

type initOut struct {
	Type        string            `json:"type"`
	UserID      string            `json:"user_id"`
	Username    string            `json:"username"`
	ActiveUsers []string          `json:"active_users"`
	Content     *string           `json:"content,omitempty"`
	Rev         int64             `json:"rev"`
	Color       string            `json:"color"`
	ConnID      string            `json:"conn_id"`
	Users       []gdoc.ActiveUser `json:"users"`
	Document    documentOut       `json:"document"`
	Chat        []chatOut         `json:"chat"`
	Cursors     []cursorOut       `json:"cursors"`
	Comments    []*gdoc.Comment   `json:"comments"` // open threads (review.go)
	Ops         *[]opOut          `json:"ops,omitempty"`
	Reset       bool              `json:"reset,omitempty"`
	Role        gdoc.Role         `json:"role,omitempty"`
}

var pongFrame = []byte(`{"type":"pong"}`)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every frame is built from plain structs; failing here is a bug.
		panic(fmt.Sprintf("ws: encode %T: %v", v, err))
	}
	return b
}

func errorFrame(code, message, id string) []byte {
	return mustJSON(errorOut{Type: "error", Code: code, Message: message, ID: id})
}

func opFrame(m collab.OpMessage) opOut {
	raw := m.Op.Op
	if len(raw) == 0 {
		raw = mustJSON(m.Parsed)
	}
	return opOut{Type: "op", Rev: m.Op.Rev, Op: raw, ID: m.Op.OpID, UserID: m.Op.UserID, Username: m.Username}
}

func chatFrame(c gdoc.ChatMessage) chatOut {
	return chatOut{Type: "chat", ID: c.ID, UserID: c.UserID, Username: c.Username, Message: c.Message, Timestamp: timestamp(c.CreatedAt)}
}

func cursorFrame(c collab.Cursor) cursorOut {
	out := cursorOut{Type: "cursor", ConnID: c.ConnID, UserID: c.UserID, Username: c.Username}
	if c.Removed {
		out.Removed = true
		return out
	}
	out.Color = c.Color
	// A cursor given in the seed form carries no code-point selection.
	if c.Position == nil || c.Anchor != 0 || c.Head != 0 || c.Rev != 0 {
		rev, anchor, head := c.Rev, c.Anchor, c.Head
		out.Rev, out.Anchor, out.Head = &rev, &anchor, &head
	}
	out.Position, out.Selection = c.Position, c.Selection
	return out
}

func userJoinedFrame(u gdoc.ActiveUser) []byte {
	return mustJSON(userJoinedOut{Type: "user_joined", UserID: u.UserID, Username: u.Username, Color: u.Color})
}
