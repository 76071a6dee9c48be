package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlite"
)

// newStoreService returns a Service on a real SQLite store holding alice
// (password "securepass123").
func newStoreService(t *testing.T) (*Service, *gdoc.User) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gdoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hash, err := HashPassword(ctx, "securepass123")
	if err != nil {
		t.Fatal(err)
	}
	alice := &gdoc.User{Username: "alice", Email: "alice@example.com", PasswordHash: hash}
	if err := store.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	return newTestService(t, store), alice
}

func TestLogin(t *testing.T) {
	s, alice := newStoreService(t)
	ctx := context.Background()
	user, err := s.Login(ctx, "alice", "securepass123")
	if err != nil || user.ID != alice.ID {
		t.Fatalf("Login = %v, %v", user, err)
	}
	if user, err := s.Login(ctx, "ALICE", "securepass123"); err != nil || user.ID != alice.ID {
		t.Fatalf("case-insensitive username: %v, %v", user, err)
	}
	_, wrongPassword := s.Login(ctx, "alice", "securepass124")
	_, unknownUser := s.Login(ctx, "bob", "securepass123")
	if gdoc.ErrorCode(wrongPassword) != gdoc.EUNAUTHORIZED || gdoc.ErrorCode(unknownUser) != gdoc.EUNAUTHORIZED ||
		gdoc.ErrorMessage(wrongPassword) != gdoc.ErrorMessage(unknownUser) {
		t.Fatalf("wrong password %v vs unknown user %v", wrongPassword, unknownUser)
	}
}

func TestAuthenticateAndRevoke(t *testing.T) {
	s, alice := newStoreService(t)
	ctx := context.Background()
	token, _, err := s.Issue(alice)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := s.Issue(alice)
	if user, err := s.Authenticate(ctx, token); err != nil || user.ID != alice.ID || user.Username != "alice" {
		t.Fatalf("Authenticate = %v, %v", user, err)
	}
	if err := s.Revoke(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("revoked token: %v", err)
	}
	if err := s.Revoke(ctx, token); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := s.Authenticate(ctx, other); err != nil {
		t.Fatalf("another token of the same user was revoked too: %v", err)
	}
	ghost, _, _ := s.Issue(&gdoc.User{ID: "999"})
	if _, err := s.Authenticate(ctx, ghost); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("token of a user that does not exist: %v", err)
	}
}

func TestRotateRevokesTheOldToken(t *testing.T) {
	s, alice := newStoreService(t)
	ctx := context.Background()
	old, _, err := s.Issue(alice)
	if err != nil {
		t.Fatal(err)
	}
	user, fresh, exp, err := s.Rotate(ctx, old)
	if err != nil || user.ID != alice.ID || fresh == old || !exp.After(time.Now()) {
		t.Fatalf("Rotate = %v, %q, %v, %v", user, fresh, exp, err)
	}
	if _, err := s.Authenticate(ctx, old); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("the rotated token still authenticates: %v", err)
	}
	if _, _, _, err := s.Rotate(ctx, old); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("a rotated token was rotated again: %v", err)
	}
	if u, err := s.Authenticate(ctx, fresh); err != nil || u.ID != alice.ID {
		t.Fatalf("the fresh token: %v, %v", u, err)
	}
}

func TestRevokeAllRevokesEveryEarlierToken(t *testing.T) {
	s, alice := newStoreService(t)
	ctx := context.Background()
	first, _, _ := s.Issue(alice)
	second, _, _ := s.Issue(alice)
	if err := s.RevokeAll(ctx, first); err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"the token used": first, "another token": second} {
		if _, err := s.Authenticate(ctx, token); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
			t.Fatalf("%s still authenticates after RevokeAll: %v", name, err)
		}
	}
	// A login afterwards gets a token of the new epoch, which works.
	user, err := s.Login(ctx, "alice", "securepass123")
	if err != nil {
		t.Fatal(err)
	}
	after, _, _ := s.Issue(user)
	if _, err := s.Authenticate(ctx, after); err != nil {
		t.Fatalf("a token issued after RevokeAll: %v", err)
	}
	claims, _ := s.Parse(after)
	if claims.Epoch != 1 {
		t.Fatalf("new token's epoch = %d, want 1", claims.Epoch)
	}
}

// A token past its expiry is still accepted for the parser's leeway; its
// revocation must be remembered at least that long, even when another
// revocation purges expired rows in between.
func TestRevocationOutlivesTheLeeway(t *testing.T) {
	s, alice := newStoreService(t)
	ctx := context.Background()
	// Expired 10 s ago: within the 30 s leeway, so still accepted.
	s.now = func() time.Time { return time.Now().Add(-time.Hour - 10*time.Second) }
	token, _, err := s.Issue(alice)
	s.now = time.Now
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); err != nil {
		t.Fatalf("a token within the leeway is refused (test premise): %v", err)
	}
	if err := s.Revoke(ctx, token); err != nil {
		t.Fatal(err)
	}
	other, _, _ := s.Issue(alice)
	if err := s.Revoke(ctx, other); err != nil { // purges revocations it thinks expired
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("a revoked token within the leeway authenticates again: %v", err)
	}
}

// A token admission parsed already (WithParsed) is not parsed again, and
// still goes through every store check.
func TestAuthenticateWithParsed(t *testing.T) {
	s, alice := newStoreService(t)
	ctx := context.Background()
	token, _, err := s.Issue(alice)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := s.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	// The context's claims stand for the token text they were parsed from:
	// "not-a-jwt" would fail Parse, so success shows no second parse.
	fake := "not-a-jwt"
	if user, err := s.Authenticate(WithParsed(ctx, fake, claims), fake); err != nil || user.ID != alice.ID {
		t.Fatalf("Authenticate with parsed claims = %v, %v", user, err)
	}
	// Claims for another token text are ignored.
	if _, err := s.Authenticate(WithParsed(ctx, token, claims), fake); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("claims of another token: err = %v, want EUNAUTHORIZED", err)
	}
	// Expired claims are not taken.
	expired := *claims
	expired.ExpiresAt = time.Now().Add(-time.Second)
	if _, err := s.Authenticate(WithParsed(ctx, fake, &expired), fake); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("expired claims: err = %v, want EUNAUTHORIZED", err)
	}
	// Revocation is still checked in the store.
	if err := s.Revoke(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(WithParsed(ctx, token, claims), token); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
		t.Fatalf("revoked token with parsed claims: err = %v, want EUNAUTHORIZED", err)
	}
}
