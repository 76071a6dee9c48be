package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/testenv"
)

type commentBody struct {
	ID       int64  `json:"id"`
	ParentID *int64 `json:"parent_id"`
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Body     string `json:"body"`
	Resolved bool   `json:"resolved"`
	Detached bool   `json:"detached"`
	Quote    string `json:"quote"`
	Anchor   struct {
		Rev  int64 `json:"rev"`
		From int   `json:"from"`
		To   int   `json:"to"`
	} `json:"anchor"`
}

// listComments GETs the document's comments and checks every one carries
// the fields of the contract.
func listComments(t *testing.T, docURL, token string) []commentBody {
	t.Helper()
	r := call(t, "GET", docURL+"/comments", token, "")
	if r.Status != 200 {
		t.Fatalf("list comments: %d %s", r.Status, r.Body)
	}
	var raw struct {
		Comments []map[string]json.RawMessage `json:"comments"`
	}
	r.Decode(t, &raw)
	for _, c := range raw.Comments {
		for _, k := range []string{"id", "parent_id", "user_id", "username", "body", "created_at", "updated_at", "resolved", "detached", "anchor"} {
			if _, ok := c[k]; !ok {
				t.Fatalf("a comment lacks %q: %s", k, r.Body)
			}
		}
	}
	var body struct{ Comments []commentBody }
	r.Decode(t, &body)
	return body.Comments
}

// coveredText is the text of the document under c's anchor, once the
// instance at docURL has caught up with the anchor's revision (another
// instance's commits reach it through the bus and the op log: bounded wait).
func coveredText(t *testing.T, docURL string, c commentBody) string {
	t.Helper()
	var d document
	deadline := time.Now().Add(10 * time.Second)
	for {
		call(t, "GET", docURL, "", "").Decode(t, &d)
		if d.Rev >= c.Anchor.Rev || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.Rev != c.Anchor.Rev {
		t.Fatalf("anchor at revision %d, document at %d", c.Anchor.Rev, d.Rev)
	}
	return string([]rune(d.Content)[c.Anchor.From:c.Anchor.To])
}

// TestCommentsOverREST: a thread on a range follows the code through edits
// (over the live edit path), through a restart, and detaches when its code
// is deleted; replies, resolve, delete; a stranger to a private document
// gets 404 for everything.
func TestCommentsOverREST(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := start(t, map[string]string{"DATA_DIR": dataDir})
	alice := testenv.Register(t, s.URL, "alice")
	bob := testenv.Register(t, s.URL, "bob")
	carol := testenv.Register(t, s.URL, "carol")
	r := call(t, "POST", s.URL+"/api/documents", alice.Token, `{"title":"review.go","content":"func a() {}\nfunc b() {}\n"}`)
	var doc document
	r.Decode(t, &doc)
	docURL := s.URL + "/api/documents/" + doc.ID

	r = call(t, "POST", docURL+"/comments", bob.Token, `{"anchor":{"rev":0,"from":12,"to":23},"body":"@alice b needs a test"}`)
	var th commentBody
	r.Decode(t, &th)
	if r.Status != 201 || th.ParentID != nil || th.UserID != bob.ID || th.Username != "bob" || th.Quote != "func b() {}" || th.Resolved || th.Detached {
		t.Fatalf("create thread: %d %s", r.Status, r.Body)
	}
	r = call(t, "POST", docURL+"/comments", alice.Token, `{"parent_id":`+strconv.FormatInt(th.ID, 10)+`,"body":"on it"}`)
	var reply commentBody
	r.Decode(t, &reply)
	if r.Status != 201 || reply.ParentID == nil || *reply.ParentID != th.ID || reply.Anchor != th.Anchor {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}

	// Edits through the same path as live typing move the anchor.
	if r := call(t, "PUT", docURL, alice.Token, `{"content":"// reviewed\nfunc a() {}\nfunc b() {\n\treturn\n}\n"}`); r.Status != 200 {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	list := listComments(t, docURL, "")
	if len(list) != 2 || coveredText(t, docURL, list[0]) != "func b() {\n\treturn\n}" || list[1].Anchor != list[0].Anchor {
		t.Fatalf("after the edit: %+v covers %q", list, coveredText(t, docURL, list[0]))
	}

	// Bad input: a clear error, nothing stored.
	for _, body := range []string{
		`{"anchor":{"rev":0,"from":5,"to":5},"body":"empty range"}`,
		`{"anchor":{"rev":99,"from":0,"to":1},"body":"future"}`,
		`{"anchor":{"rev":0,"from":0,"to":1}}`,
		`{"body":"no anchor, no parent"}`,
		`{"parent_id":999999,"body":"no such thread"}`,
	} {
		if r := call(t, "POST", docURL+"/comments", bob.Token, body); r.Status != 422 && r.Status != 404 {
			t.Fatalf("POST %s: %d %s", body, r.Status, r.Body)
		} else if r.Detail(t) == "" {
			t.Fatalf("POST %s: no detail: %s", body, r.Body)
		}
	}
	if r := call(t, "POST", docURL+"/comments", "", `{"anchor":{"rev":0,"from":0,"to":1},"body":"anonymous"}`); r.Status != 401 {
		t.Fatalf("anonymous comment: %d", r.Status)
	}

	// Resolve (an editor), edit (the author only), delete (author or owner).
	cid := docURL + "/comments/" + strconv.FormatInt(th.ID, 10)
	if r := call(t, "PATCH", cid, carol.Token, `{"resolved":true}`); r.Status != 200 || !strings.Contains(string(r.Body), `"resolved":true`) {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	if r := call(t, "PATCH", cid, alice.Token, `{"body":"not mine"}`); r.Status != 403 {
		t.Fatalf("edit another's comment: %d %s", r.Status, r.Body)
	}
	if r := call(t, "PATCH", cid, bob.Token, `{"body":"@alice b needs two tests"}`); r.Status != 200 || !strings.Contains(string(r.Body), "two tests") {
		t.Fatalf("edit own comment: %d %s", r.Status, r.Body)
	}
	if r := call(t, "DELETE", docURL+"/comments/"+strconv.FormatInt(reply.ID, 10), carol.Token, ""); r.Status != 403 {
		t.Fatalf("carol deletes alice's reply: %d", r.Status)
	}
	list = listComments(t, docURL, carol.Token)
	if len(list) != 2 || !list[0].Resolved || !list[1].Resolved {
		t.Fatalf("resolved threads stay listed: %+v", list)
	}

	// Through a restart the anchor stays on the same code, and keeps moving.
	s.shutdown(t)
	s = start(t, map[string]string{"DATA_DIR": dataDir})
	docURL = s.URL + "/api/documents/" + doc.ID
	cid = docURL + "/comments/" + strconv.FormatInt(th.ID, 10)
	if r := call(t, "PUT", docURL, alice.Token, `{"content":"package x\n\n// reviewed\nfunc a() {}\nfunc b() {\n\treturn\n}\n"}`); r.Status != 200 {
		t.Fatalf("edit after restart: %d %s", r.Status, r.Body)
	}
	list = listComments(t, docURL, bob.Token)
	if len(list) != 2 || coveredText(t, docURL, list[0]) != "func b() {\n\treturn\n}" {
		t.Fatalf("after a restart: %+v", list)
	}

	// Deleting the code detaches the thread; it is kept with its text.
	if r := call(t, "PUT", docURL, alice.Token, `{"content":"package x\n\n// reviewed\nfunc a() {}\n"}`); r.Status != 200 {
		t.Fatalf("delete b: %d %s", r.Status, r.Body)
	}
	list = listComments(t, docURL, bob.Token)
	if len(list) != 2 || !list[0].Detached || list[0].Quote != "func b() {}" || list[0].Anchor.From != list[0].Anchor.To {
		t.Fatalf("after deleting b: %+v", list)
	}

	// Private: a stranger gets 404 for everything, the owner still sees all.
	if r := call(t, "PUT", docURL, alice.Token, `{"is_public":false}`); r.Status != 200 {
		t.Fatalf("make private: %d", r.Status)
	}
	for _, req := range [][3]string{
		{"GET", docURL + "/comments", ""},
		{"POST", docURL + "/comments", `{"anchor":{"rev":0,"from":0,"to":1},"body":"let me in"}`},
		{"PATCH", cid, `{"body":"mine still"}`},
		{"PATCH", cid, `{"resolved":false}`},
		{"DELETE", cid, ""},
	} {
		for _, token := range []string{bob.Token, carol.Token} {
			if r := call(t, req[0], req[1], token, req[2]); r.Status != 404 {
				t.Fatalf("stranger %s %s: %d %s", req[0], req[1], r.Status, r.Body)
			}
		}
	}
	if r := call(t, "GET", docURL+"/comments", "", ""); r.Status != 404 {
		t.Fatalf("anonymous on a private document: %d", r.Status)
	}
	if got := listComments(t, docURL, alice.Token); len(got) != 2 {
		t.Fatalf("the owner's view: %+v", got)
	}
	if r := call(t, "DELETE", cid, alice.Token, ""); r.Status != 204 {
		t.Fatalf("owner deletes the thread: %d %s", r.Status, r.Body)
	}
	if got := listComments(t, docURL, alice.Token); len(got) != 0 {
		t.Fatalf("the thread's replies went with it: %+v", got)
	}
	if r := call(t, "GET", s.URL+"/api/documents/missing/comments", alice.Token, ""); r.Status != 404 {
		t.Fatalf("missing document: %d", r.Status)
	}
	openapi := string(call(t, "GET", s.URL+"/api/openapi.json", "", "").Body)
	for _, id := range []string{"list-comments", "create-comment", "update-comment", "delete-comment"} {
		if !strings.Contains(openapi, `"operationId":"`+id+`"`) {
			t.Fatalf("OpenAPI lacks %s", id)
		}
	}
}

// TestCommentWritesRateLimited: comment writes count as REST writes of the
// user (REST_WRITE_RATE_LIMIT); a refused one stores nothing.
func TestCommentWritesRateLimited(t *testing.T) {
	s := start(t, map[string]string{"REST_WRITE_RATE_LIMIT": "3"})
	alice := testenv.Register(t, s.URL, "alice")
	r := call(t, "POST", s.URL+"/api/documents", alice.Token, `{"title":"t.go","content":"package t\n"}`)
	var doc document
	r.Decode(t, &doc)
	docURL := s.URL + "/api/documents/" + doc.ID
	for i := 0; i < 2; i++ {
		if r := call(t, "POST", docURL+"/comments", alice.Token, `{"anchor":{"rev":0,"from":0,"to":7},"body":"hm"}`); r.Status != 201 {
			t.Fatalf("comment %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := call(t, "POST", docURL+"/comments", alice.Token, `{"anchor":{"rev":0,"from":0,"to":7},"body":"one too many"}`); r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth write: %d %s", r.Status, r.Body)
	}
	if got := listComments(t, docURL, alice.Token); len(got) != 2 {
		t.Fatalf("the refused comment was stored: %+v", got)
	}
}

// TestCommentsForAViewer: on a private document shared with a viewer, the
// viewer comments and replies and resolves her own thread, but not the
// owner's; a stranger gets 404 for everything (the rule of docs/protocol.md).
func TestCommentsForAViewer(t *testing.T) {
	s := start(t, nil)
	alice := testenv.Register(t, s.URL, "alice")
	vera := testenv.Register(t, s.URL, "vera")
	carol := testenv.Register(t, s.URL, "carol")
	r := call(t, "POST", s.URL+"/api/documents", alice.Token, `{"title":"p.go","content":"package p\n\nfunc f() {}\n","visibility":"private"}`)
	var doc document
	r.Decode(t, &doc)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	docURL := s.URL + "/api/documents/" + doc.ID
	if r := call(t, "PUT", docURL+"/members/vera", alice.Token, `{"role":"viewer"}`); r.Status != 200 {
		t.Fatalf("share with vera: %d %s", r.Status, r.Body)
	}
	post := func(token, body string) (int, commentBody) {
		r := call(t, "POST", docURL+"/comments", token, body)
		var c commentBody
		if r.Status == 201 {
			r.Decode(t, &c)
		}
		return r.Status, c
	}
	status, owners := post(alice.Token, `{"anchor":{"rev":0,"from":11,"to":22},"body":"@vera look"}`)
	if status != 201 {
		t.Fatalf("owner's thread: %d", status)
	}
	status, reply := post(vera.Token, `{"parent_id":`+strconv.FormatInt(owners.ID, 10)+`,"body":"looks fine"}`)
	if status != 201 || reply.Username != "vera" {
		t.Fatalf("viewer's reply: %d %+v", status, reply)
	}
	status, hers := post(vera.Token, `{"anchor":{"rev":0,"from":0,"to":9},"body":"and this?"}`)
	if status != 201 {
		t.Fatalf("viewer's thread: %d", status)
	}
	patch := func(token string, id int64, body string) int {
		return call(t, "PATCH", docURL+"/comments/"+strconv.FormatInt(id, 10), token, body).Status
	}
	if got := patch(vera.Token, owners.ID, `{"resolved":true}`); got != 403 {
		t.Fatalf("viewer resolves the owner's thread: %d, want 403", got)
	}
	if got := patch(vera.Token, hers.ID, `{"resolved":true}`); got != 200 {
		t.Fatalf("viewer resolves her own thread: %d", got)
	}
	if got := patch(alice.Token, owners.ID, `{"resolved":true}`); got != 200 {
		t.Fatalf("owner resolves: %d", got)
	}
	if got := call(t, "DELETE", docURL+"/comments/"+strconv.FormatInt(reply.ID, 10), alice.Token, "").Status; got != 204 {
		t.Fatalf("owner deletes the viewer's reply: %d", got)
	}
	for _, req := range [][3]string{
		{"GET", docURL + "/comments", ""},
		{"POST", docURL + "/comments", `{"anchor":{"rev":0,"from":0,"to":1},"body":"hi"}`},
		{"PATCH", docURL + "/comments/" + strconv.FormatInt(hers.ID, 10), `{"resolved":false}`},
		{"DELETE", docURL + "/comments/" + strconv.FormatInt(hers.ID, 10), ""},
	} {
		if r := call(t, req[0], req[1], carol.Token, req[2]); r.Status != 404 {
			t.Fatalf("stranger %s %s: %d %s", req[0], req[1], r.Status, r.Body)
		}
	}
	if got := listComments(t, docURL, vera.Token); len(got) != 2 || !got[0].Resolved || !got[1].Resolved {
		t.Fatalf("vera's view: %+v", got)
	}
}
