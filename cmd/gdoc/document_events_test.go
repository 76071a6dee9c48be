package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
	"github.com/gdoc/gdoc/internal/ws"
)

// readUntil reads conn until a message of type typ, failing on anything
// that ends the connection.
func readUntil(ctx context.Context, t *testing.T, conn *otclient.Conn, typ string) *otclient.Message {
	t.Helper()
	for {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// readClosed reads conn until the server closes it and returns the close
// frame.
func readClosed(ctx context.Context, t *testing.T, conn *otclient.Conn) websocket.CloseError {
	t.Helper()
	for {
		_, err := conn.Read(ctx)
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		} else if err != nil {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// TestDocumentChangesReachLiveClients: a title or language change made over
// REST reaches open editors as a "document" message; making the document
// private closes other users' connections (4403); deleting it closes
// everyone's.
// With two instances the same holds across them (through the bus).
func TestDocumentChangesReachLiveClients(t *testing.T) {
	check := func(t *testing.T, restURL, wsURL string) {
		alice := testenv.Register(t, restURL, "alice")
		bob := testenv.Register(t, restURL, "bob")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		docID := "meta-doc"
		aliceConn, _, err := otclient.Dial(ctx, wsURL, docID, alice.Token, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer aliceConn.CloseNow()
		bobConn, _, err := otclient.Dial(ctx, wsURL, docID, bob.Token, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer bobConn.CloseNow()

		if r := call(t, "PUT", restURL+"/api/documents/"+docID, bob.Token, `{"title":"main.py","language":"python"}`); r.Status != 200 {
			t.Fatalf("put title: %d %s", r.Status, r.Body)
		}
		for name, conn := range map[string]*otclient.Conn{"alice": aliceConn, "bob": bobConn} {
			m := readUntil(ctx, t, conn, "document")
			raw := string(m.Raw)
			if !strings.Contains(raw, `"title":"main.py"`) || !strings.Contains(raw, `"language":"python"`) ||
				!strings.Contains(raw, `"user_id":"`+bob.ID+`"`) {
				t.Errorf("%s got %s", name, raw)
			}
		}

		if r := call(t, "PUT", restURL+"/api/documents/"+docID, alice.Token, `{"is_public":false}`); r.Status != 200 {
			t.Fatalf("make private: %d %s", r.Status, r.Body)
		}
		if ce := readClosed(ctx, t, bobConn); ce.Code != ws.CloseForbidden || ce.Reason != "You no longer have access to this document." { // issue 9: losing access closes with 4403
			t.Errorf("bob's connection to a document made private: %v", ce)
		}
		if m := readUntil(ctx, t, aliceConn, "document"); !strings.Contains(string(m.Raw), `"is_public":false`) {
			t.Errorf("alice got %s", m.Raw)
		}

		if r := call(t, "DELETE", restURL+"/api/documents/"+docID, alice.Token, ""); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if ce := readClosed(ctx, t, aliceConn); ce.Code != ws.CloseNotFound || ce.Reason != "Document deleted" {
			t.Errorf("alice's connection to a deleted document: %v", ce)
		}
	}
	t.Run("OneInstance", func(t *testing.T) {
		s := start(t, nil)
		check(t, s.URL, s.URL)
	})
	t.Run("AcrossInstances", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": testenv.FreshSchema(t), "SECRET_KEY": strings.Repeat("m", 40), "REDIS_URL": testenv.RedisURL(t)}
		one, two := start(t, env), start(t, env)
		check(t, two.URL, one.URL)
	})
}
