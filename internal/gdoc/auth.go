package gdoc

import "context"

// Authenticator turns an access token into the user it was issued to.
type Authenticator interface {
	// Authenticate returns EUNAUTHORIZED for a missing, malformed, expired
	// or revoked token, and for a token whose user no longer exists.
	Authenticate(ctx context.Context, token string) (*User, error)
}
