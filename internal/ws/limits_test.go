package ws_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ws"
)

var update = flag.Bool("update", false, "rewrite testdata/limits.json from the server's constants")

// limitsFile is testdata/limits.json: the wire limits (gdoc) and close
// codes (ws) as the web client's test reads them to check
// web/src/protocol.ts against the server.
type limitsFile struct {
	MaxMessageBytes     int `json:"max_message_bytes"`
	MaxOpIDBytes        int `json:"max_op_id_bytes"`
	MaxClientIDBytes    int `json:"max_client_id_bytes"`
	MaxCursorFieldBytes int `json:"max_cursor_field_bytes"`
	MaxChatChars        int `json:"max_chat_chars"`
	ChatHistoryLimit    int `json:"chat_history_limit"`
	// The defaults of MAX_DOCUMENT_BYTES and MAX_OP_BYTES (settings the
	// client does not learn, so it assumes the defaults).
	MaxDocumentBytes int        `json:"max_document_bytes"`
	MaxOpBytes       int        `json:"max_op_bytes"`
	CloseCodes       closeCodes `json:"close_codes"`
}

type closeCodes struct {
	Unauthenticated websocket.StatusCode `json:"unauthenticated"`
	Forbidden       websocket.StatusCode `json:"forbidden"`
	NotFound        websocket.StatusCode `json:"not_found"`
	BadRevision     websocket.StatusCode `json:"bad_revision"`
	TooLarge        websocket.StatusCode `json:"too_large"`
	SlowConsumer    websocket.StatusCode `json:"slow_consumer"`
	GoingAway       websocket.StatusCode `json:"going_away"`
	InternalError   websocket.StatusCode `json:"internal_error"`
}

// TestLimitsFile fails when testdata/limits.json no longer says what the
// server's constants say; `go test ./internal/ws -run TestLimitsFile
// -update` rewrites it.
func TestLimitsFile(t *testing.T) {
	want, err := json.Marshal(limitsFile{
		MaxMessageBytes:     gdoc.MaxMessageBytes,
		MaxOpIDBytes:        gdoc.MaxOpIDBytes,
		MaxClientIDBytes:    gdoc.MaxClientIDBytes,
		MaxCursorFieldBytes: gdoc.MaxCursorFieldBytes,
		MaxChatChars:        gdoc.MaxChatChars,
		ChatHistoryLimit:    gdoc.ChatHistoryLimit,
		MaxDocumentBytes:    gdoc.DefaultMaxDocumentBytes,
		MaxOpBytes:          gdoc.DefaultMaxOpBytes,
		CloseCodes: closeCodes{
			Unauthenticated: ws.CloseUnauthenticated,
			Forbidden:       ws.CloseForbidden,
			NotFound:        ws.CloseNotFound,
			BadRevision:     ws.CloseBadRevision,
			TooLarge:        ws.CloseTooLarge,
			SlowConsumer:    ws.CloseSlowConsumer,
			GoingAway:       ws.CloseGoingAway,
			InternalError:   ws.CloseInternalError,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	path := filepath.Join("..", "..", "testdata", "limits.json")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./internal/ws -run TestLimitsFile -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (rewrite it with: go test ./internal/ws -run TestLimitsFile -update)\n have %s want %s", path, got, want)
	}
}

// TestWireLimitsAtTheBoundary: ws enforces gdoc's limits exactly: an op id
// of MaxOpIDBytes, a client_msg_id of MaxClientIDBytes and a cursor field
// of MaxCursorFieldBytes pass; one byte more is refused.
func TestWireLimitsAtTheBoundary(t *testing.T) {
	s := newServer(t, nil)
	a := s.ot("limits", "alice")

	a.send(`{"type":"op","rev":0,"op":["x"],"id":"` + strings.Repeat("i", gdoc.MaxOpIDBytes+1) + `"}`)
	if e := a.next("error"); e.Code != "invalid_message" {
		t.Fatalf("op id of %d bytes: %s", gdoc.MaxOpIDBytes+1, e.raw)
	}
	longID := strings.Repeat("i", gdoc.MaxOpIDBytes)
	a.send(`{"type":"op","rev":0,"op":["x"],"id":"` + longID + `"}`)
	if ack := a.next("ack"); ack.id() != longID {
		t.Fatalf("op id of %d bytes: %s", gdoc.MaxOpIDBytes, ack.raw)
	}

	a.send(`{"type":"chat","message":"hi","client_msg_id":"` + strings.Repeat("c", gdoc.MaxClientIDBytes+1) + `"}`)
	if e := a.next("error"); e.Code != "invalid_message" {
		t.Fatalf("client_msg_id of %d bytes: %s", gdoc.MaxClientIDBytes+1, e.raw)
	}
	msgID := strings.Repeat("c", gdoc.MaxClientIDBytes)
	a.send(`{"type":"chat","message":"hi","client_msg_id":"` + msgID + `"}`)
	if ack := a.next("chat_ack"); ack.ClientMsgID != msgID {
		t.Fatalf("client_msg_id of %d bytes: %s", gdoc.MaxClientIDBytes, ack.raw)
	}

	// A JSON string of n bytes in all: the quotes count.
	field := func(n int) string { return `"` + strings.Repeat("p", n-2) + `"` }
	a.send(`{"type":"cursor","position":` + field(gdoc.MaxCursorFieldBytes+1) + `}`)
	if e := a.next("error"); e.Code != "invalid_message" {
		t.Fatalf("cursor field of %d bytes: %s", gdoc.MaxCursorFieldBytes+1, e.raw)
	}
	b := s.ot("limits", "bob")
	a.send(`{"type":"cursor","position":` + field(gdoc.MaxCursorFieldBytes) + `}`)
	if c := b.next("cursor"); len(c.Position) != gdoc.MaxCursorFieldBytes {
		t.Fatalf("cursor field of %d bytes reached bob as %d bytes: %.80s", gdoc.MaxCursorFieldBytes, len(c.Position), c.raw)
	}
}
