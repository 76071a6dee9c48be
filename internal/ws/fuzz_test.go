package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/ws"
)

// Seeds for both dialects: every documented message, and near misses.
var fuzzFrames = []string{
	`{"type":"ping"}`, `{"type":"op","rev":0,"op":["x"],"id":"f:1"}`, `{"type":"op","rev":0,"op":[1,{"d":1}],"id":"f:2"}`,
	`{"type":"update","data":{"content":"whole text 😀"}}`, `{"type":"cursor","anchor":0,"head":1}`,
	`{"type":"cursor","position":{"line":1,"column":2},"selection":null}`, `{"type":"chat","message":"hi","client_msg_id":"m1"}`,
	`{"type":"op","rev":-1,"op":["x"],"id":"f:3"}`, `{"type":"op","rev":99,"op":["x"],"id":"f:4"}`, `{"type":"op","op":"x"}`,
	`{"type":"update","data":{"content":"\ud800"}}`, `{"type":"chat","message":12}`, `{"type":""}`, `{}`, `[]`, `null`, `{`,
	`{"type":"op","rev":0,"op":["a\u0000b"],"id":"f:5"}`, `{"type":"nope"}`, "\xff\xfe", ``,
}

// fuzzDialect sends each input as one text message on a fresh connection of
// dialect ("ot" or "seed"), then a ping. The server must answer the ping
// (the message was handled or refused with an error message) or close the
// connection with a documented status, never 1011 (internal error) and
// never by crashing; and the document must stay readable.
func fuzzDialect(f *testing.F, dialect string) {
	for _, frame := range fuzzFrames {
		f.Add([]byte(frame))
	}
	s := newServer(f, nil)
	token := s.token("fuzzer")
	doc := "fuzz-" + dialect
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		url, opts := s.URL+"/ws/"+doc, &websocket.DialOptions{}
		if dialect == "ot" {
			opts.Subprotocols = []string{"gdoc.v1", "bearer." + token}
		} else {
			url += "?token=" + token
		}
		conn, _, err := websocket.Dial(ctx, url, opts)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.CloseNow()
		conn.SetReadLimit(64 << 20)
		if _, first, err := conn.Read(ctx); err != nil || !strings.Contains(string(first), `"init"`) {
			t.Fatalf("first message %s, %v", first, err)
		}
		if err := conn.Write(ctx, websocket.MessageText, data); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			return // the server closed the connection after the input; the read below would say why
		}
		for {
			_, msg, err := conn.Read(ctx)
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				switch ce.Code {
				case ws.CloseTooLarge, websocket.StatusUnsupportedData, websocket.StatusInvalidFramePayloadData:
				default:
					t.Fatalf("%q closed the connection with %d %q", data, ce.Code, ce.Reason)
				}
				break
			} else if err != nil {
				t.Fatalf("%q: connection ended without a close frame: %v", data, err)
			}
			var m struct{ Type, Code string }
			if json.Unmarshal(msg, &m) != nil {
				t.Fatalf("the server sent non-JSON %q", msg)
			}
			if m.Type == "error" && m.Code == "internal" {
				t.Fatalf("%q: internal error: %s", data, msg)
			}
			if m.Type == "pong" {
				break
			}
		}
		if _, err := s.Collab.Current(ctx, doc); err != nil {
			t.Fatalf("after %q the document cannot be read: %v", data, err)
		}
	})
}

// FuzzOTDialect fuzzes the gdoc.v1 dialect's message decoding and handling.
func FuzzOTDialect(f *testing.F) { fuzzDialect(f, "ot") }

// FuzzSeedDialect fuzzes the seed dialect's (whole-content update) decoding
// and handling.
func FuzzSeedDialect(f *testing.F) { fuzzDialect(f, "seed") }
