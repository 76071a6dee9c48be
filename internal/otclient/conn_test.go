package otclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// handshake is what a server saw of a client's WebSocket handshake.
type handshake struct {
	path, query, subprotocol string
}

// echoServer accepts one WebSocket per request, reports its handshake,
// sends init and then the messages of replies.
func echoServer(t *testing.T, replies ...string) (string, <-chan handshake) {
	seen := make(chan handshake, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		seen <- handshake{r.URL.Path, r.URL.RawQuery, ws.Subprotocol()}
		for _, m := range append([]string{`{"type":"init","rev":3,"content":"abc","active_users":["2","7"]}`}, replies...) {
			if err := ws.Write(r.Context(), websocket.MessageText, []byte(m)); err != nil {
				return
			}
		}
		var v any
		_ = wsjson.Read(r.Context(), ws, &v) // until the client closes
	}))
	t.Cleanup(srv.Close)
	return srv.URL, seen
}

func TestDialDialects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("OT", func(t *testing.T) {
		base, seen := echoServer(t, `{"type":"chat_ack","client_msg_id":"m1","id":5}`)
		conn, init, err := Dial(ctx, base, "a b", "tok", 3)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if h := <-seen; h.path != "/ws/a b" || h.query != "since=3" || h.subprotocol != Subprotocol {
			t.Fatalf("handshake %+v, want /ws/a b?since=3 with %s", h, Subprotocol)
		}
		if init.Rev != 3 || *init.Content != "abc" || len(init.ActiveUsers) != 2 || init.ActiveUsers[1] != "7" {
			t.Fatalf("init %+v", init)
		}
		if m, err := conn.Read(ctx); err != nil || m.ClientMsgID != "m1" || m.ID != "5" {
			t.Fatalf("chat_ack %+v, %v", m, err)
		}
	})
	t.Run("Seed", func(t *testing.T) {
		base, seen := echoServer(t, `{"type":"update","user_id":"1","data":{"content":"x😀"}}`)
		conn, _, err := DialSeed(ctx, base, "doc", "t&k")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if h := <-seen; h.path != "/ws/doc" || h.query != "token=t%26k" || h.subprotocol != "" {
			t.Fatalf("handshake %+v, want /ws/doc?token=t%%26k without a subprotocol", h)
		}
		if m, err := conn.Read(ctx); err != nil || m.Data == nil || m.Data.Content != "x😀" || m.UserID != "1" {
			t.Fatalf("update %+v, %v", m, err)
		}
	})
}
