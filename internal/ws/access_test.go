package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ws"
)

// roleIn reads the role field of a server message.
func roleIn(m msg) string {
	var v struct {
		Role string `json:"role"`
	}
	_ = json.Unmarshal([]byte(m.raw), &v)
	return v.Role
}

// share makes docID (created by joining as owner) private, with members.
func (s *server) share(t *testing.T, docID string, members map[string]gdoc.Role) {
	t.Helper()
	ctx := context.Background()
	vis := gdoc.VisibilityPrivate
	if _, err := s.Store.SetDocumentAccess(ctx, docID, &vis, nil); err != nil {
		t.Fatal(err)
	}
	for name, role := range members {
		s.token(name) // creates the user
		if _, err := s.Store.SetMember(ctx, docID, s.user(name).ID, role); err != nil {
			t.Fatal(err)
		}
	}
	s.Collab.AccessChanged(ctx, docID)
}

// dialAs opens docID as username in dialect ("ot" or "seed").
func (s *server) dialAs(dialect, docID, username string) *client {
	if dialect == "seed" {
		return s.seed(docID, username)
	}
	return s.ot(docID, username)
}

func TestSharingOverWebSocket(t *testing.T) {
	for _, dialect := range []string{"ot", "seed"} {
		t.Run(dialect, func(t *testing.T) {
			s := newServer(t, nil)
			doc := "shared-" + dialect
			owner := s.ot(doc, "alice")
			if roleIn(owner.init) != "owner" {
				t.Fatalf("owner's init role %q: %s", roleIn(owner.init), owner.init.raw)
			}
			owner.send(map[string]any{"type": "op", "id": "a:1", "rev": 0, "op": []any{"hello"}})
			owner.until("ack", func(m msg) bool { return m.Type == "ack" })
			s.share(t, doc, map[string]gdoc.Role{"bob": gdoc.RoleViewer})

			t.Run("StrangerGetsNothing", func(t *testing.T) {
				o := dialOpts{noInit: true}
				if dialect == "seed" {
					o.token = s.token("carol")
				} else {
					o.subprotocols = []string{"gdoc.v1", "bearer." + s.token("carol")}
				}
				c, _, err := s.dial(doc, o)
				if err != nil {
					t.Fatal(err)
				}
				select {
				case m, ok := <-c.in:
					if ok {
						t.Fatalf("a stranger received %s", m.raw)
					}
				case <-c.done:
				}
				if code, _ := c.closeStatus(); code != ws.CloseForbidden {
					t.Fatalf("stranger closed with %d, want 4403", code)
				}
			})

			viewer := s.dialAs(dialect, doc, "bob")
			if roleIn(viewer.init) != "viewer" {
				t.Fatalf("viewer's init role %q: %s", roleIn(viewer.init), viewer.init.raw)
			}
			t.Run("ViewerCannotEdit", func(t *testing.T) {
				if dialect == "seed" {
					viewer.send(map[string]any{"type": "update", "data": map[string]any{"content": "taken over"}})
				} else {
					viewer.send(map[string]any{"type": "op", "id": "b:1", "rev": 1, "op": []any{"taken over"}})
				}
				e := viewer.until("error", func(m msg) bool { return m.Type == "error" })
				if e.Code != "forbidden" {
					t.Fatalf("viewer's edit: %s, want error forbidden", e.raw)
				}
				viewer.roundTrip() // still open
				viewer.send(map[string]any{"type": "chat", "message": "I can still chat", "client_msg_id": "c1"})
				owner.until("chat", func(m msg) bool { return m.Type == "chat" && m.text() == "I can still chat" })
				if text, _ := s.current(doc); text != "hello" {
					t.Fatalf("text %q after the viewer's edit", text)
				}
			})

			t.Run("PromotedLive", func(t *testing.T) {
				if _, err := s.Store.SetMember(context.Background(), doc, s.user("bob").ID, gdoc.RoleEditor); err != nil {
					t.Fatal(err)
				}
				s.Collab.AccessChanged(context.Background(), doc)
				a := viewer.until("access", func(m msg) bool { return m.Type == "access" })
				if roleIn(a) != "editor" {
					t.Fatalf("access message %s", a.raw)
				}
				if dialect == "seed" {
					viewer.send(map[string]any{"type": "update", "data": map[string]any{"content": "hello bob"}})
				} else {
					viewer.send(map[string]any{"type": "op", "id": "b:2", "rev": 1, "op": []any{5, " bob"}})
					viewer.until("ack", func(m msg) bool { return m.Type == "ack" })
				}
				owner.until("op", func(m msg) bool { return m.Type == "op" })
				if text, _ := s.current(doc); text != "hello bob" {
					t.Fatalf("text %q after the editor's edit", text)
				}
			})

			t.Run("RemovedCloses4403", func(t *testing.T) {
				if err := s.Store.RemoveMember(context.Background(), doc, s.user("bob").ID); err != nil {
					t.Fatal(err)
				}
				s.Collab.AccessChanged(context.Background(), doc)
				if code, reason := viewer.closeStatus(); code != ws.CloseForbidden {
					t.Fatalf("removed member closed with %d %q, want 4403", code, reason)
				}
				owner.roundTrip()
			})
		})
	}
}

func TestDeletedDocumentStaysDeleted(t *testing.T) {
	s := newServer(t, nil)
	tab := s.ot("doomed-doc", "alice")
	tab.send(map[string]any{"type": "op", "id": "a:1", "rev": 0, "op": []any{"x"}})
	tab.until("ack", func(m msg) bool { return m.Type == "ack" })
	if err := s.Store.DeleteDocument(context.Background(), "doomed-doc"); err != nil {
		t.Fatal(err)
	}
	s.Collab.Forget("doomed-doc")
	tab.closeStatus()

	for i, o := range []dialOpts{
		{subprotocols: []string{"gdoc.v1", "bearer." + s.token("alice")}, query: "since=1"}, // the stale tab reconnecting
		{subprotocols: []string{"gdoc.v1", "bearer." + s.token("bob")}},                     // someone joining the id
		{token: s.token("bob")}, // the seed dialect
	} {
		o.noInit = true
		c, _, err := s.dial("doomed-doc", o)
		if err != nil {
			t.Fatal(err)
		}
		m := c.receive(fmt.Sprintf("refusal %d", i), nil)
		if m.Type != "error" || m.Code != "not_found" {
			t.Fatalf("join %d of a deleted id: %s, want error not_found", i, m.raw)
		}
		c.closeStatus()
		if _, err := s.Store.Document(context.Background(), "doomed-doc"); gdoc.ErrorCode(err) != gdoc.ENOTFOUND {
			t.Fatalf("join %d re-created the deleted document: %v", i, err)
		}
	}
}
