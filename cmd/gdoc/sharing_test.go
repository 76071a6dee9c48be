package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

// sharedDoc is a document object with the sharing fields (issue 9).
type sharedDoc struct {
	ID            string  `json:"id"`
	Title         string  `json:"title"`
	Content       string  `json:"content"`
	OwnerID       string  `json:"owner_id"`
	OwnerUsername string  `json:"owner_username"`
	IsPublic      bool    `json:"is_public"`
	Visibility    string  `json:"visibility"`
	LinkRole      string  `json:"link_role"`
	Role          *string `json:"role"`
	Shared        bool    `json:"shared"`
}

func roleOf(d sharedDoc) string {
	if d.Role == nil {
		return "<null>"
	}
	return *d.Role
}

// TestSharingREST walks every REST endpoint as a stranger, a viewer, an
// editor and the owner of a document, through the real server.
func TestSharingREST(t *testing.T) {
	s := start(t, nil)
	base := s.URL
	alice, bob, carol := testenv.Register(t, base, "alice"), testenv.Register(t, base, "bob"), testenv.Register(t, base, "carol")

	getDoc := func(t *testing.T, id, token string) (int, sharedDoc) {
		t.Helper()
		r := call(t, "GET", base+"/api/documents/"+id, token, "")
		var d sharedDoc
		if r.Status == 200 {
			r.Decode(t, &d)
		}
		return r.Status, d
	}
	expect := func(t *testing.T, what, method, path, token, body string, want int) {
		t.Helper()
		r := call(t, method, base+path, token, body)
		if r.Status != want {
			t.Errorf("%s: %s %s = %d %s, want %d", what, method, path, r.Status, r.Body, want)
		} else if want >= 400 {
			r.Detail(t)
		}
	}

	t.Run("SeedDefaults", func(t *testing.T) {
		r := call(t, "POST", base+"/api/documents", alice.Token, `{"title":"My Project","content":"// Start coding here"}`)
		var d sharedDoc
		r.Decode(t, &d)
		if r.Status != 201 || !d.IsPublic || d.Visibility != "public" || d.LinkRole != "editor" || roleOf(d) != "owner" || d.OwnerUsername != "alice" {
			t.Fatalf("seed create: %d %s", r.Status, r.Body)
		}
		if _, got := getDoc(t, d.ID, ""); got.Role != nil || got.Visibility != "public" {
			t.Fatalf("anonymous GET of a public document: role %s, visibility %q", roleOf(got), got.Visibility)
		}
		if _, got := getDoc(t, d.ID, bob.Token); roleOf(got) != "editor" {
			t.Fatalf("bob on a public document: role %s", roleOf(got))
		}
		expect(t, "contradicting fields", "POST", "/api/documents", alice.Token, `{"title":"x","is_public":true,"visibility":"private"}`, 422)
		expect(t, "bad visibility", "POST", "/api/documents", alice.Token, `{"title":"x","visibility":"secret"}`, 422)
		expect(t, "bad link role", "POST", "/api/documents", alice.Token, `{"title":"x","link_role":"owner"}`, 422)
	})

	r := call(t, "POST", base+"/api/documents", alice.Token, `{"title":"plan.md","content":"secret plan","visibility":"private"}`)
	var doc sharedDoc
	r.Decode(t, &doc)
	if r.Status != 201 || doc.IsPublic || doc.Visibility != "private" {
		t.Fatalf("create private: %d %s", r.Status, r.Body)
	}
	id := doc.ID
	p := "/api/documents/" + id
	unchanged := func(t *testing.T) {
		t.Helper()
		_, d := getDoc(t, id, alice.Token)
		if d.Content != "secret plan" || d.Title != "plan.md" || d.OwnerID != alice.ID {
			t.Fatalf("the document changed: %+v", d)
		}
	}

	t.Run("StrangerGetsNothing", func(t *testing.T) {
		for _, token := range []string{"", carol.Token} {
			for _, sub := range []string{"", "/chat", "/ops", "/users", "/members"} {
				expect(t, "stranger read", "GET", p+sub, token, "", 404)
			}
		}
		expect(t, "stranger rename", "PUT", p, carol.Token, `{"title":"mine"}`, 404)
		expect(t, "stranger edit", "PUT", p, carol.Token, `{"content":"gone"}`, 404)
		expect(t, "stranger publish", "PUT", p, carol.Token, `{"is_public":true}`, 404)
		expect(t, "stranger delete", "DELETE", p, carol.Token, "", 404)
		expect(t, "stranger adds self", "PUT", p+"/members/carol", carol.Token, `{"role":"editor"}`, 404)
		expect(t, "stranger removes", "DELETE", p+"/members/alice", carol.Token, "", 404)
		expect(t, "stranger takes over", "POST", p+"/owner", carol.Token, `{"username":"carol"}`, 404)
		// Not found reads like a missing document: no probing of ids.
		a := call(t, "GET", base+p, carol.Token, "").Detail(t)
		b := call(t, "GET", base+"/api/documents/no-such-doc", carol.Token, "").Detail(t)
		if a != b {
			t.Errorf("private %q vs missing %q: the answers differ", a, b)
		}
		var list []sharedDoc
		call(t, "GET", base+"/api/documents", carol.Token, "").Decode(t, &list)
		for _, d := range list {
			if d.ID == id {
				t.Errorf("carol's list shows the private document")
			}
		}
		unchanged(t)
	})

	t.Run("OwnerShares", func(t *testing.T) {
		expect(t, "unknown user", "PUT", p+"/members/nobody", alice.Token, `{"role":"viewer"}`, 404)
		expect(t, "owner's own role", "PUT", p+"/members/alice", alice.Token, `{"role":"viewer"}`, 422)
		expect(t, "bad role", "PUT", p+"/members/bob", alice.Token, `{"role":"owner"}`, 422)
		r := call(t, "PUT", base+p+"/members/BOB", alice.Token, `{"role":"viewer"}`)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"username":"bob"`) || !strings.Contains(string(r.Body), `"role":"viewer"`) {
			t.Fatalf("add bob as viewer: %d %s", r.Status, r.Body)
		}
		var members struct {
			Members []struct{ UserID, Username, Role string } `json:"members"`
		}
		call(t, "GET", base+p+"/members", bob.Token, "").Decode(t, &members)
		if len(members.Members) != 2 || members.Members[0].Username != "alice" || members.Members[0].Role != "owner" || members.Members[1].Role != "viewer" {
			t.Fatalf("members as bob: %+v", members)
		}
	})

	t.Run("ViewerReadsButCannotWrite", func(t *testing.T) {
		status, d := getDoc(t, id, bob.Token)
		if status != 200 || roleOf(d) != "viewer" || d.OwnerUsername != "alice" || d.Content != "secret plan" {
			t.Fatalf("viewer GET: %d %+v", status, d)
		}
		for _, sub := range []string{"/chat", "/ops", "/users"} {
			expect(t, "viewer read", "GET", p+sub, bob.Token, "", 200)
		}
		var list []sharedDoc
		call(t, "GET", base+"/api/documents", bob.Token, "").Decode(t, &list)
		found := false
		for _, d := range list {
			if d.ID == id {
				found = d.Shared && roleOf(d) == "viewer" && d.OwnerUsername == "alice"
			}
		}
		if !found {
			t.Errorf("bob's list lacks the shared document as viewer: %+v", list)
		}
		expect(t, "viewer edit", "PUT", p, bob.Token, `{"content":"changed"}`, 403)
		expect(t, "viewer rename", "PUT", p, bob.Token, `{"title":"x.md"}`, 403)
		expect(t, "viewer is_public same value", "PUT", p, bob.Token, `{"is_public":false}`, 403)
		expect(t, "viewer visibility", "PUT", p, bob.Token, `{"visibility":"public"}`, 403)
		expect(t, "viewer link role", "PUT", p, bob.Token, `{"link_role":"viewer"}`, 403)
		expect(t, "viewer delete", "DELETE", p, bob.Token, "", 403)
		expect(t, "viewer promotes self", "PUT", p+"/members/bob", bob.Token, `{"role":"editor"}`, 403)
		expect(t, "viewer adds carol", "PUT", p+"/members/carol", bob.Token, `{"role":"viewer"}`, 403)
		expect(t, "viewer removes owner", "DELETE", p+"/members/alice", bob.Token, "", 403)
		expect(t, "viewer takes over", "POST", p+"/owner", bob.Token, `{"username":"bob"}`, 403)
		unchanged(t)
	})

	t.Run("EditorEditsButCannotShare", func(t *testing.T) {
		expect(t, "make bob editor", "PUT", p+"/members/bob", alice.Token, `{"role":"editor"}`, 200)
		r := call(t, "PUT", base+p, bob.Token, `{"content":"our plan"}`)
		var d sharedDoc
		r.Decode(t, &d)
		if r.Status != 200 || d.Content != "our plan" || roleOf(d) != "editor" {
			t.Fatalf("editor edit: %d %s", r.Status, r.Body)
		}
		expect(t, "editor publish", "PUT", p, bob.Token, `{"is_public":false}`, 403)
		expect(t, "editor visibility", "PUT", p, bob.Token, `{"visibility":"link"}`, 403)
		expect(t, "editor adds carol", "PUT", p+"/members/carol", bob.Token, `{"role":"viewer"}`, 403)
		expect(t, "editor takes over", "POST", p+"/owner", bob.Token, `{"username":"bob"}`, 403)
		expect(t, "editor delete", "DELETE", p, bob.Token, "", 403)
		expect(t, "restore", "PUT", p, alice.Token, `{"content":"secret plan"}`, 200)
	})

	t.Run("LinkAccess", func(t *testing.T) {
		r := call(t, "PUT", base+p, alice.Token, `{"visibility":"link","link_role":"viewer"}`)
		var d sharedDoc
		r.Decode(t, &d)
		if r.Status != 200 || d.Visibility != "link" || d.LinkRole != "viewer" || d.IsPublic {
			t.Fatalf("make link: %d %s", r.Status, r.Body)
		}
		if status, d := getDoc(t, id, carol.Token); status != 200 || roleOf(d) != "viewer" {
			t.Fatalf("carol with the link: %d role %s", status, roleOf(d))
		}
		if status, d := getDoc(t, id, bob.Token); status != 200 || roleOf(d) != "editor" {
			t.Fatalf("bob (editor member) on a viewer link: %d role %s", status, roleOf(d))
		}
		expect(t, "anonymous with the link", "GET", p, "", "", 404)
		expect(t, "link viewer edits", "PUT", p, carol.Token, `{"content":"x"}`, 403)
		var list []sharedDoc
		call(t, "GET", base+"/api/documents", carol.Token, "").Decode(t, &list)
		for _, d := range list {
			if d.ID == id {
				t.Errorf("a link document is listed for carol")
			}
		}
		expect(t, "is_public true", "PUT", p, alice.Token, `{"is_public":true}`, 200)
		if status, d := getDoc(t, id, carol.Token); status != 200 || roleOf(d) != "viewer" || d.Visibility != "public" {
			t.Fatalf("carol on the public document: %d %+v", status, d)
		}
		expect(t, "is_public false", "PUT", p, alice.Token, `{"is_public":false}`, 200)
		if status, d := getDoc(t, id, alice.Token); status != 200 || d.Visibility != "private" {
			t.Fatalf("is_public false: %d %+v", status, d)
		}
		expect(t, "carol after private", "GET", p, carol.Token, "", 404)
		unchanged(t)
	})

	t.Run("LeaveAndRemove", func(t *testing.T) {
		expect(t, "add carol", "PUT", p+"/members/carol", alice.Token, `{"role":"viewer"}`, 200)
		expect(t, "carol leaves", "DELETE", p+"/members/carol", carol.Token, "", http.StatusNoContent)
		expect(t, "carol after leaving", "GET", p, carol.Token, "", 404)
		expect(t, "remove a non-member", "DELETE", p+"/members/carol", alice.Token, "", 404)
	})

	t.Run("TransferOwnership", func(t *testing.T) {
		expect(t, "to a non-member", "POST", p+"/owner", alice.Token, `{"username":"carol"}`, 422)
		expect(t, "to nobody", "POST", p+"/owner", alice.Token, `{"username":"nobody"}`, 404)
		r := call(t, "POST", base+p+"/owner", alice.Token, `{"username":"bob"}`)
		var d sharedDoc
		r.Decode(t, &d)
		if r.Status != 200 || d.OwnerID != bob.ID || d.OwnerUsername != "bob" || roleOf(d) != "editor" {
			t.Fatalf("transfer: %d %s", r.Status, r.Body)
		}
		expect(t, "old owner changes visibility", "PUT", p, alice.Token, `{"visibility":"public"}`, 403)
		expect(t, "old owner edits", "PUT", p, alice.Token, `{"content":"secret plan"}`, 200)
		expect(t, "new owner removes old", "DELETE", p+"/members/alice", bob.Token, "", 204)
		expect(t, "old owner after removal", "GET", p, alice.Token, "", 404)
		expect(t, "new owner deletes", "DELETE", p, bob.Token, "", 204)
	})
}

// TestJoinCreateLimitConfigured: JOIN_CREATE_LIMIT reaches the join path;
// past it a join of a fresh id is refused with a sentence, while existing
// documents still open.
func TestJoinCreateLimitConfigured(t *testing.T) {
	s := start(t, map[string]string{"JOIN_CREATE_LIMIT": "1"})
	alice := testenv.Register(t, s.URL, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := otclient.Dial(ctx, s.URL, "first-doc", alice.Token, -1)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	_, _, err = otclient.Dial(ctx, s.URL, "second-doc", alice.Token, -1)
	if err == nil || !strings.Contains(err.Error(), "rate_limited") {
		t.Fatalf("second fresh id in an hour: %v, want rate_limited", err)
	}
	if r := call(t, "GET", s.URL+"/api/documents/second-doc", alice.Token, ""); r.Status != 404 {
		t.Fatalf("the refused join created the document: %d", r.Status)
	}
	conn, _, err = otclient.Dial(ctx, s.URL, "first-doc", alice.Token, -1)
	if err != nil {
		t.Fatalf("reopening an existing document: %v", err)
	}
	conn.Close()
}
