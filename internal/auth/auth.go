// Package auth hashes passwords (argon2id), issues and checks access tokens
// (JWT HS256) and implements gdoc.Authenticator.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gdoc/gdoc/internal/gdoc"
)

var _ gdoc.Authenticator = (*Service)(nil)

// Store is what auth needs from storage.
type Store interface {
	gdoc.UserStore
	gdoc.TokenStore
}

const (
	tokenAudience = "gdoc"
	tokenIssuer   = "gdoc"
	// clockLeeway tolerates small clock differences between instances.
	clockLeeway = 30 * time.Second
)

// messageBadCredentials is the one answer to a failed login, whether the user
// is unknown or the password wrong, so logins do not reveal who has an account.
const messageBadCredentials = "Incorrect username or password."

// Service issues and checks access tokens and logs users in.
type Service struct {
	key    []byte
	ttl    time.Duration
	store  Store
	parser *jwt.Parser
	now    func() time.Time

	dummyOnce sync.Once
	dummyHash string
}

// New returns a Service signing tokens with key (at least 32 bytes) that live
// for ttl.
func New(key []byte, ttl time.Duration, store Store) (*Service, error) {
	if len(key) < 32 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The token signing key must be at least 32 bytes.")
	}
	if ttl <= 0 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The token lifetime must be positive.")
	}
	return &Service{
		key:   key,
		ttl:   ttl,
		store: store,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithAudience(tokenAudience),
			jwt.WithIssuer(tokenIssuer),
			jwt.WithLeeway(clockLeeway),
		),
		now: time.Now,
	}, nil
}

// Claims is what a valid token says.
type Claims struct {
	UserID    string
	TokenID   string // jti, the handle for revocation
	ExpiresAt time.Time
	// Epoch is the user's token epoch when the token was issued; raising the
	// user's epoch (RevokeAll) revokes it. Tokens issued before epochs
	// existed have none and read as 0.
	Epoch int64
}

// tokenClaims is the JWT body: the registered claims plus the epoch.
type tokenClaims struct {
	jwt.RegisteredClaims
	Epoch int64 `json:"tep,omitempty"`
}

// Issue returns a signed token for user, valid for the Service's ttl.
func (s *Service) Issue(user *gdoc.User) (token string, expiresAt time.Time, err error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("token id: %w", err)
	}
	now := s.now().Truncate(time.Second)
	expiresAt = now.Add(s.ttl)
	claims := tokenClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   user.ID,
		ID:        hex.EncodeToString(jti),
		Issuer:    tokenIssuer,
		Audience:  jwt.ClaimStrings{tokenAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expiresAt),
	}, Epoch: user.TokenEpoch}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, expiresAt, nil
}

// Parse checks token's signature, algorithm (HS256 only), audience, issuer
// and expiry, without consulting the store. EUNAUTHORIZED.
func (s *Service) Parse(token string) (*Claims, error) {
	if token == "" {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Not authenticated.")
	}
	var claims tokenClaims
	_, err := s.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil })
	if errors.Is(err, jwt.ErrTokenExpired) {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "The token has expired; log in again.")
	} else if err != nil {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Invalid token.")
	}
	if claims.Subject == "" || claims.ID == "" || claims.ExpiresAt == nil || claims.Epoch < 0 {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Invalid token.")
	}
	return &Claims{UserID: claims.Subject, TokenID: claims.ID, ExpiresAt: claims.ExpiresAt.Time, Epoch: claims.Epoch}, nil
}

// Authenticate returns the user token was issued to. EUNAUTHORIZED for a
// missing, malformed, expired or revoked token, or a user that no longer
// exists; store errors (EUNAVAILABLE) pass through.
func (s *Service) Authenticate(ctx context.Context, token string) (*gdoc.User, error) {
	user, _, err := s.authenticate(ctx, token)
	return user, err
}

// parsedKey carries a token Parse accepted (WithParsed).
type parsedKey struct{}

type parsed struct {
	token  string
	claims *Claims
}

// WithParsed returns ctx noting that Parse accepted token with claims, so
// that Authenticate on ctx does not verify the same token's signature a
// second time (a WebSocket handshake parses it for admission first). The
// store checks (revocation, the user and its token epoch) still run, and
// the expiry is checked again.
func WithParsed(ctx context.Context, token string, claims *Claims) context.Context {
	return context.WithValue(ctx, parsedKey{}, parsed{token: token, claims: claims})
}

// parse is Parse, or the claims ctx carries for token (WithParsed).
func (s *Service) parse(ctx context.Context, token string) (*Claims, error) {
	if p, ok := ctx.Value(parsedKey{}).(parsed); ok && p.token == token && p.claims != nil && time.Now().Before(p.claims.ExpiresAt) {
		return p.claims, nil
	}
	return s.Parse(token)
}

func (s *Service) authenticate(ctx context.Context, token string) (*gdoc.User, *Claims, error) {
	claims, err := s.parse(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	user, revoked, err := s.store.UserForToken(ctx, claims.UserID, claims.TokenID)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		return nil, nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "The token's user no longer exists.")
	} else if err != nil {
		return nil, nil, err
	} else if revoked {
		return nil, nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "The token has been revoked; log in again.")
	}
	if claims.Epoch < user.TokenEpoch {
		return nil, nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "The token has been revoked (logged out everywhere); log in again.")
	}
	return user, claims, nil
}

// Revoke makes token unusable from now on (logout). The token must be valid.
// The revocation is kept until the token's expiry plus the verification
// leeway: until then the parser would still accept the token.
func (s *Service) Revoke(ctx context.Context, token string) error {
	_, claims, err := s.authenticate(ctx, token)
	if err != nil {
		return err
	}
	return s.store.RevokeToken(ctx, claims.TokenID, claims.ExpiresAt.Add(revocationKeep))
}

// revocationKeep is how long after a token's expiry its revocation is
// remembered: the leeway the parser grants, plus a second for the
// truncation of exp to whole seconds.
const revocationKeep = clockLeeway + time.Second

// Rotate exchanges a valid token for a fresh one and revokes the old one
// (refresh), so a token that leaked is not renewed by its thief as well.
func (s *Service) Rotate(ctx context.Context, token string) (*gdoc.User, string, time.Time, error) {
	user, claims, err := s.authenticate(ctx, token)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	if err := s.store.RevokeToken(ctx, claims.TokenID, claims.ExpiresAt.Add(revocationKeep)); err != nil {
		return nil, "", time.Time{}, err
	}
	fresh, exp, err := s.Issue(user)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	return user, fresh, exp, nil
}

// RevokeAll revokes every token of token's user issued until now (log out
// everywhere) by raising the user's token epoch. The token must be valid.
func (s *Service) RevokeAll(ctx context.Context, token string) error {
	user, claims, err := s.authenticate(ctx, token)
	if err != nil {
		return err
	}
	if _, err := s.store.RaiseTokenEpoch(ctx, user.ID); err != nil {
		return err
	}
	// The epoch already refuses it; the row makes the refusal independent
	// of the epoch (an account restored from a backup, say).
	return s.store.RevokeToken(ctx, claims.TokenID, claims.ExpiresAt.Add(revocationKeep))
}

// Login returns the user with username and password. A wrong username and a
// wrong password give the same EUNAUTHORIZED error after the same work (an
// unknown user's password is checked against a dummy hash).
func (s *Service) Login(ctx context.Context, username, password string) (*gdoc.User, error) {
	user, err := s.store.UserByUsername(ctx, username)
	if gdoc.ErrorCode(err) == gdoc.ENOTFOUND {
		if _, err := VerifyPassword(ctx, s.dummy(ctx), password); err != nil {
			return nil, err
		}
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, messageBadCredentials)
	} else if err != nil {
		return nil, err
	}
	ok, err := VerifyPassword(ctx, user.PasswordHash, password)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, messageBadCredentials)
	}
	return user, nil
}

// dummy returns a hash of a random password, made once.
func (s *Service) dummy(ctx context.Context) string {
	s.dummyOnce.Do(func() {
		pw := make([]byte, 16)
		rand.Read(pw)
		s.dummyHash, _ = HashPassword(ctx, hex.EncodeToString(pw))
	})
	if s.dummyHash == "" {
		// HashPassword failed (context canceled): a fixed well-formed hash
		// still costs the same.
		return "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	}
	return s.dummyHash
}
