package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Response is an HTTP response read to its end.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Call sends a request with body as JSON (when not empty), token as a
// bearer token (when not empty) and header as name, value pairs, and
// reads the response. A transport error fails the test.
func Call(t testing.TB, method, url, token, body string, header ...string) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{res.StatusCode, res.Header, b}
}

// Detail returns the "detail" of an error body, failing the test when the
// body is not {"detail": ...}.
func (r Response) Detail(t testing.TB) string {
	t.Helper()
	var e struct {
		Detail *string `json:"detail"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Detail == nil {
		t.Fatalf("status %d: body %q is not {\"detail\": ...}", r.Status, r.Body)
	}
	return *e.Detail
}

// Decode unmarshals the body into v, failing the test when it cannot.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("status %d: %v: %s", r.Status, err, r.Body)
	}
}

// User is an account registered through the API.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Token    string `json:"-"`
}

// Register creates the user name (email name@example.com) through the
// server at baseURL, failing the test unless the answer is 201 with a
// token.
func Register(t testing.TB, baseURL, name string) User {
	t.Helper()
	r := Call(t, "POST", baseURL+"/api/auth/register", "",
		`{"username":"`+name+`","email":"`+name+`@example.com","password":"securepass123"}`)
	var body struct {
		AccessToken string `json:"access_token"`
		User        User   `json:"user"`
	}
	if r.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, r.Status, r.Body)
	}
	if r.Decode(t, &body); body.AccessToken == "" {
		t.Fatalf("register %s: no access_token in %s", name, r.Body)
	}
	body.User.Token = body.AccessToken
	return body.User
}
