package auth

import (
	"context"
	"path/filepath"
	"testing"

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
