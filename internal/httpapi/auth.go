package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/gdoc"
)

type contextKey int

const (
	userKey contextKey = iota
	tokenKey
)

// authenticateMiddleware resolves an Authorization: Bearer header into the
// user, for every operation. A request without the header goes on
// anonymously (operations that need a user refuse it); a bad token is
// refused here with 401.
func (s *Server) authenticateMiddleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		header := ctx.Header("Authorization")
		if header == "" {
			next(ctx)
			return
		}
		scheme, token, ok := strings.Cut(header, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			ctx.SetHeader("WWW-Authenticate", "Bearer")
			writeErr(api, ctx, &ErrorBody{Detail: "The Authorization header must be \"Bearer <token>\".", status: http.StatusUnauthorized})
			return
		}
		user, err := s.auth.Authenticate(ctx.Context(), token)
		if err != nil {
			writeErr(api, ctx, s.statusError(ctx.Context(), err))
			return
		}
		ctx = huma.WithValue(ctx, userKey, user)
		ctx = huma.WithValue(ctx, tokenKey, token)
		next(ctx)
	}
}

// writeErr writes an error made by statusError (or an *ErrorBody) from a
// middleware, with its headers.
func writeErr(api huma.API, ctx huma.Context, err error) {
	var se huma.StatusError
	if !errors.As(err, &se) {
		se = &ErrorBody{Detail: "Internal error.", status: http.StatusInternalServerError}
	}
	var he huma.HeadersError
	if errors.As(err, &he) {
		for name, values := range he.GetHeaders() {
			for _, v := range values {
				ctx.AppendHeader(name, v)
			}
		}
	}
	ctx.SetHeader("Content-Type", "application/json")
	ctx.SetStatus(se.GetStatus())
	api.Marshal(ctx.BodyWriter(), "application/json", se)
}

// userFrom returns the authenticated user, or nil.
func userFrom(ctx context.Context) *gdoc.User {
	u, _ := ctx.Value(userKey).(*gdoc.User)
	return u
}

// requireUser returns the authenticated user or EUNAUTHORIZED.
func requireUser(ctx context.Context) (*gdoc.User, error) {
	if u := userFrom(ctx); u != nil {
		return u, nil
	}
	return nil, gdoc.Errorf(gdoc.EUNAUTHORIZED, "Not authenticated.")
}

// UserBody is a user as clients see it.
type UserBody struct {
	ID       string `json:"id" example:"1"`
	Username string `json:"username" example:"alice"`
	Email    string `json:"email" example:"alice@example.com"`
}

func userBody(u *gdoc.User) UserBody {
	return UserBody{ID: u.ID, Username: u.Username, Email: u.Email}
}

// TokenBody is the answer to register, login and refresh (the seed's shape).
type TokenBody struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type" example:"bearer"`
	ExpiresAt   time.Time `json:"expires_at" doc:"When the token stops being accepted."`
	User        UserBody  `json:"user"`
}

type tokenOutput struct{ Body TokenBody }

type userOutput struct{ Body UserBody }

type registerInput struct {
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Username string   `json:"username" minLength:"3" maxLength:"32" pattern:"^[A-Za-z0-9_.-]+$" patternDescription:"letters, digits, '_', '.' or '-'" example:"alice"`
		Email    string   `json:"email" maxLength:"254" example:"alice@example.com"`
		Password string   `json:"password" minLength:"8" maxLength:"1024" example:"securepass123"`
	}
}

type loginInput struct {
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Username string   `json:"username" maxLength:"254" example:"alice"`
		Password string   `json:"password" maxLength:"1024" example:"securepass123"`
	}
}

func (s *Server) issue(user *gdoc.User) (*tokenOutput, error) {
	token, exp, err := s.auth.Issue(user)
	if err != nil {
		return nil, err
	}
	return &tokenOutput{Body: TokenBody{AccessToken: token, TokenType: "bearer", ExpiresAt: exp, User: userBody(user)}}, nil
}

// messageTaken answers a registration whose username or email is in use.
const messageTaken = "That username or email is already registered."

func (s *Server) register(ctx context.Context, in *registerInput) (*tokenOutput, error) {
	email, err := validEmail(in.Body.Email)
	if err != nil {
		return nil, err
	}
	if len(in.Body.Password) > 1024 {
		return nil, gdoc.Errorf(gdoc.EINVALID, "The password must be at most 1024 bytes.")
	}
	hash, err := auth.HashPassword(ctx, in.Body.Password)
	if err != nil {
		return nil, err
	}
	user := &gdoc.User{Username: in.Body.Username, Email: email, PasswordHash: hash}
	if err := s.store.CreateUser(ctx, user); gdoc.ErrorCode(err) == gdoc.ECONFLICT {
		// One answer for a taken username and a taken email, so that
		// registration does not tell who has an account.
		return nil, gdoc.Errorf(gdoc.ECONFLICT, messageTaken)
	} else if err != nil {
		return nil, err
	}
	return s.issue(user)
}

// validEmail accepts one bare address (no display name) whose domain has a dot.
func validEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", gdoc.Errorf(gdoc.EINVALID, "email: %q is not a valid email address.", email)
	}
	_, domain, _ := strings.Cut(email, "@")
	if !strings.Contains(strings.Trim(domain, "."), ".") || !utf8.ValidString(email) {
		return "", gdoc.Errorf(gdoc.EINVALID, "email: %q is not a valid email address.", email)
	}
	return email, nil
}

func (s *Server) login(ctx context.Context, in *loginInput) (*tokenOutput, error) {
	user, err := s.auth.Login(ctx, in.Body.Username, in.Body.Password)
	if err != nil {
		return nil, err
	}
	return s.issue(user)
}

// refresh rotates: the answer carries a fresh token and the one used for
// the request is revoked.
func (s *Server) refresh(ctx context.Context, _ *struct{}) (*tokenOutput, error) {
	if _, err := requireUser(ctx); err != nil {
		return nil, err
	}
	token, _ := ctx.Value(tokenKey).(string)
	user, fresh, exp, err := s.auth.Rotate(ctx, token)
	if err != nil {
		return nil, err
	}
	return &tokenOutput{Body: TokenBody{AccessToken: fresh, TokenType: "bearer", ExpiresAt: exp, User: userBody(user)}}, nil
}

type logoutInput struct {
	All bool `query:"all" doc:"Revoke every token of the user issued until now (log out everywhere), not only this one."`
}

func (s *Server) logout(ctx context.Context, in *logoutInput) (*struct{}, error) {
	if _, err := requireUser(ctx); err != nil {
		return nil, err
	}
	token, _ := ctx.Value(tokenKey).(string)
	revoke := s.auth.Revoke
	if in.All {
		revoke = s.auth.RevokeAll
	}
	if err := revoke(ctx, token); err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Server) me(ctx context.Context, _ *struct{}) (*userOutput, error) {
	user, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: userBody(user)}, nil
}
