// Package httpapi serves G-Doc's REST API (with its OpenAPI description), the
// health probes, the docs page, the WebSocket endpoint and the web client.
package httpapi

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/comments"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/history"
)

// Config is what the handler needs.
type Config struct {
	Store  gdoc.Store
	Collab gdoc.Collab
	Auth   *auth.Service
	Logger *slog.Logger

	AppName string
	Version string
	// CORSOrigins are the origins allowed to call the API ("*" allows any).
	CORSOrigins []string
	// MaxBodyBytes bounds every request body (larger: 413).
	MaxBodyBytes int64
	// AuthRatePerMinute bounds login and register requests per client IP
	// (RemoteAddr; forwarding headers are not trusted); 0 disables.
	AuthRatePerMinute int
	// TrustedProxies are reverse proxies whose X-Real-IP (or, failing that,
	// X-Forwarded-For) header names the client for the auth rate limit.
	// Requests from anywhere else are limited by their TCP peer address, and
	// their headers are ignored (they could be spoofed).
	TrustedProxies []netip.Prefix
	// CheckpointEvery bounds the ops a history read replays (0: the
	// default, history.CheckpointEvery).
	CheckpointEvery int64
	// WebSocket serves GET /ws/{document_id}; nil answers 404. It is served
	// behind WebSocketLimits.
	WebSocket       http.Handler
	WebSocketLimits WebSocketLimits
	// MaxDocumentBytes bounds a document's text in UTF-8 bytes: a create or
	// PUT past it is answered 413 and changes nothing. 0: DefaultMaxDocumentBytes.
	MaxDocumentBytes int64
	// ReadTimeout bounds reading a document write's body (the server's
	// READ_TIMEOUT); other bodies are small and get huma's 5 s. 0: a minute.
	ReadTimeout time.Duration
	// WriteRatePerMinute bounds document creates, updates, deletes, restores and comment writes per
	// user (bursts of the same size); 0 disables.
	WriteRatePerMinute int
	// Assets is the built web client (web.Assets()), nil when not built.
	Assets fs.FS
	// Comments serves the comment routes; nil: one on Store and Collab
	// that tells no one of changes.
	Comments *comments.Service
}

// Server holds the API's dependencies; its methods are the handlers.
type Server struct {
	store    gdoc.Store
	collab   gdoc.Collab
	auth     *auth.Service
	logger   *slog.Logger
	maxBody  int64
	maxDoc   int64
	history  *history.Service
	comments *comments.Service
	// lastDocID is the largest id nextDocumentID's caller created: the
	// search for the next free id starts there.
	lastDocID atomic.Int64
}

// NewHandler returns the whole HTTP surface of G-Doc. Every route is listed
// here.
func NewHandler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.AppName == "" {
		cfg.AppName = "G-Doc"
	}
	if cfg.Version == "" {
		cfg.Version = "1.0.0"
	}
	if cfg.Comments == nil {
		cfg.Comments = comments.New(cfg.Store, cfg.Collab, nil)
	}
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = gdoc.DefaultMaxDocumentBytes
	}
	s := &Server{store: cfg.Store, collab: cfg.Collab, auth: cfg.Auth, logger: cfg.Logger, maxBody: cfg.MaxBodyBytes, maxDoc: cfg.MaxDocumentBytes,
		history: history.New(cfg.Store, cfg.CheckpointEvery), comments: cfg.Comments}
	// A document write's body holds the text JSON-escaped: room for a
	// document at the cap even when escaping doubles it. Reading it may
	// take ReadTimeout rather than huma's 5 s, which a large document on a
	// slow link would exceed.
	docBody := max(cfg.MaxBodyBytes, 2*cfg.MaxDocumentBytes+64<<10) + 1
	docBodyReadTimeout := cfg.ReadTimeout
	if docBodyReadTimeout <= 0 {
		docBodyReadTimeout = time.Minute
	}

	mux := http.NewServeMux()
	api := humago.NewWithPrefix(mux, "/api", apiConfig(cfg.AppName, cfg.Version))
	api.UseMiddleware(s.authenticateMiddleware(api))
	limitAuth := newIPRateLimiter(cfg.AuthRatePerMinute, cfg.TrustedProxies).middleware(api)
	limitWrites := newUserRateLimiter(cfg.WriteRatePerMinute).middleware(api)

	register(s, api, huma.Operation{OperationID: "register", Method: http.MethodPost, Path: "/auth/register", DefaultStatus: http.StatusCreated,
		Summary: "Create an account and log in", Tags: []string{"auth"}, Middlewares: huma.Middlewares{limitAuth},
		Errors: []int{409, 422, 429}}, s.register)
	register(s, api, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/auth/login",
		Summary: "Log in with username and password", Tags: []string{"auth"}, Middlewares: huma.Middlewares{limitAuth},
		Errors: []int{401, 422, 429}}, s.login)
	register(s, api, authed(huma.Operation{OperationID: "refresh", Method: http.MethodPost, Path: "/auth/refresh",
		Summary: "Exchange a valid token for a fresh one; the old one is revoked", Tags: []string{"auth"}}), s.refresh)
	register(s, api, authed(huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/auth/logout", DefaultStatus: http.StatusNoContent,
		Summary: "Revoke the token used for this request (?all=true: every token of the user issued until now)", Tags: []string{"auth"}}), s.logout)
	register(s, api, authed(huma.Operation{OperationID: "me", Method: http.MethodGet, Path: "/auth/me",
		Summary: "The authenticated user", Tags: []string{"auth"}}), s.me)

	register(s, api, authed(huma.Operation{OperationID: "create-document", Method: http.MethodPost, Path: "/documents", DefaultStatus: http.StatusCreated,
		Summary: "Create a document", Tags: []string{"documents"}, Errors: []int{413, 422, 429},
		Middlewares: huma.Middlewares{limitWrites}, MaxBodyBytes: docBody, BodyReadTimeout: docBodyReadTimeout}), s.createDocument)
	register(s, api, optionalAuth(huma.Operation{OperationID: "list-documents", Method: http.MethodGet, Path: "/documents",
		Summary: "Public documents, plus the caller's own and those shared with them when authenticated", Tags: []string{"documents"}}), s.listDocuments)
	register(s, api, optionalAuth(huma.Operation{OperationID: "get-document", Method: http.MethodGet, Path: "/documents/{id}",
		Summary: "A document with its current content and revision", Tags: []string{"documents"}, Errors: []int{403, 404}}), s.getDocument)
	register(s, api, authed(huma.Operation{OperationID: "update-document", Method: http.MethodPut, Path: "/documents/{id}",
		Summary: "Change a document; a content change reaches live editors as an ordinary edit", Tags: []string{"documents"},
		Errors: []int{403, 404, 413, 422, 429}, Middlewares: huma.Middlewares{limitWrites}, MaxBodyBytes: docBody,
		BodyReadTimeout: docBodyReadTimeout}), s.updateDocument)
	register(s, api, authed(huma.Operation{OperationID: "delete-document", Method: http.MethodDelete, Path: "/documents/{id}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete a document (owner only)", Tags: []string{"documents"}, Errors: []int{403, 404, 429},
		Middlewares: huma.Middlewares{limitWrites}}), s.deleteDocument)
	register(s, api, optionalAuth(huma.Operation{OperationID: "document-users", Method: http.MethodGet, Path: "/documents/{id}/users",
		Summary: "Users connected to the document now, on every instance", Tags: []string{"documents"}, Errors: []int{403, 404}}), s.documentUsers)
	register(s, api, optionalAuth(huma.Operation{OperationID: "document-chat", Method: http.MethodGet, Path: "/documents/{id}/chat",
		Summary: "A page of the document's chat history, chronological", Tags: []string{"documents"}, Errors: []int{403, 404, 422}}), s.documentChat)
	register(s, api, optionalAuth(huma.Operation{OperationID: "document-ops", Method: http.MethodGet, Path: "/documents/{id}/ops",
		Summary: "Committed operations with from < rev <= to", Tags: []string{"documents"}, Errors: []int{403, 404, 422}}), s.documentOps)
	register(s, api, optionalAuth(huma.Operation{OperationID: "document-history", Method: http.MethodGet, Path: "/documents/{id}/history",
		Summary: "The document's editing sessions, newest first, paged", Tags: []string{"history"}, Errors: []int{403, 404, 422}}), s.documentHistory)
	register(s, api, optionalAuth(huma.Operation{OperationID: "document-revision", Method: http.MethodGet, Path: "/documents/{id}/revisions/{rev}",
		Summary: "The text as it was at a revision", Tags: []string{"history"}, Errors: []int{403, 404, 422}}), s.documentRevision)
	register(s, api, authed(huma.Operation{OperationID: "restore-document", Method: http.MethodPost, Path: "/documents/{id}/restore",
		Summary: "Bring back the text of a revision as one ordinary edit (editors only)", Tags: []string{"history"}, Errors: []int{403, 404, 422, 429},
		Middlewares: huma.Middlewares{limitWrites}}), s.restoreDocument)
	register(s, api, optionalAuth(huma.Operation{OperationID: "document-blame", Method: http.MethodGet, Path: "/documents/{id}/blame",
		Summary: "Who last changed each line of the text at a revision", Tags: []string{"history"}, Errors: []int{403, 404, 422}}), s.documentBlame)
	register(s, api, optionalAuth(huma.Operation{OperationID: "download-document", Method: http.MethodGet, Path: "/documents/{id}/download",
		Summary: "The text (at a revision) as a file", Tags: []string{"history"}, Errors: []int{403, 404, 422}}), s.downloadDocument)

	register(s, api, optionalAuth(huma.Operation{OperationID: "document-members", Method: http.MethodGet, Path: "/documents/{id}/members",
		Summary: "The document's owner and members, owner first", Tags: []string{"sharing"}, Errors: []int{404}}), s.listMembers)
	register(s, api, authed(huma.Operation{OperationID: "set-document-member", Method: http.MethodPut, Path: "/documents/{id}/members/{username}",
		Summary: "Add a member or change a member's role (owner only)", Tags: []string{"sharing"}, Errors: []int{403, 404, 422}}), s.setMember)
	register(s, api, authed(huma.Operation{OperationID: "remove-document-member", Method: http.MethodDelete, Path: "/documents/{id}/members/{username}", DefaultStatus: http.StatusNoContent,
		Summary: "Remove a member (the owner, or the member themselves)", Tags: []string{"sharing"}, Errors: []int{403, 404}}), s.removeMember)
	register(s, api, authed(huma.Operation{OperationID: "transfer-document-owner", Method: http.MethodPost, Path: "/documents/{id}/owner",
		Summary: "Transfer the ownership to a member; the old owner becomes an editor (owner only)", Tags: []string{"sharing"}, Errors: []int{403, 404, 422}}), s.transferOwner)
	register(s, api, optionalAuth(huma.Operation{OperationID: "list-comments", Method: http.MethodGet, Path: "/documents/{id}/comments",
		Summary: "Every comment thread and reply, anchors at the current revision", Tags: []string{"comments"}, Errors: []int{404}}), s.listComments)
	register(s, api, authed(huma.Operation{OperationID: "create-comment", Method: http.MethodPost, Path: "/documents/{id}/comments", DefaultStatus: http.StatusCreated,
		Summary: "Start a thread on a range of the text, or reply in one (viewers too)", Tags: []string{"comments"}, Errors: []int{404, 413, 422, 429},
		Middlewares: huma.Middlewares{limitWrites}}), s.createComment)
	register(s, api, authed(huma.Operation{OperationID: "update-comment", Method: http.MethodPatch, Path: "/documents/{id}/comments/{cid}",
		Summary: "Edit your comment, or resolve or reopen a thread", Tags: []string{"comments"}, Errors: []int{403, 404, 413, 422, 429},
		Middlewares: huma.Middlewares{limitWrites}}), s.updateComment)
	register(s, api, authed(huma.Operation{OperationID: "delete-comment", Method: http.MethodDelete, Path: "/documents/{id}/comments/{cid}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete a comment (its author or the document's owner), a thread with its replies", Tags: []string{"comments"}, Errors: []int{403, 404, 429},
		Middlewares: huma.Middlewares{limitWrites}}), s.deleteComment)

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /docs", docsHandler(cfg.Assets, api.OpenAPI()))
	if cfg.WebSocket != nil {
		userOf := func(r *http.Request, token string) (*http.Request, string, bool) {
			if s.auth == nil {
				return r, "", false
			}
			claims, err := s.auth.Parse(token)
			if err != nil {
				return r, "", false
			}
			// The handler's Authenticate then skips a second signature check.
			return r.WithContext(auth.WithParsed(r.Context(), token, claims)), claims.UserID, true
		}
		mux.Handle("GET /ws/{document_id}", newWSAdmission(cfg.WebSocketLimits, cfg.TrustedProxies, userOf, cfg.WebSocket))
	}
	mux.Handle("/", fallbackHandler(mux, cfg.Assets))

	var h http.Handler = mux
	h = corsMiddleware(cfg.CORSOrigins, h)
	h = recoverMiddleware(cfg.Logger, h)
	h = securityHeadersMiddleware(ContentSecurityPolicy, h)
	h = logMiddleware(cfg.Logger, h)
	return h
}

func apiConfig(title, version string) huma.Config {
	c := huma.DefaultConfig(title, version)
	c.Info.Description = "G-Doc's REST API. Errors are {\"detail\": \"<sentence>\"}. Real-time editing uses the WebSocket /ws/{document_id} described in docs/protocol.md."
	c.OpenAPIPath = "/openapi"
	c.DocsPath = ""     // /docs is served offline from the web assets
	c.SchemasPath = ""  // no per-schema endpoints
	c.CreateHooks = nil // no $schema field or Link header in responses
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
	}
	return c
}

func authed(op huma.Operation) huma.Operation {
	op.Security = []map[string][]string{{"bearer": {}}}
	op.Errors = append(op.Errors, http.StatusUnauthorized)
	return op
}

func optionalAuth(op huma.Operation) huma.Operation {
	op.Security = []map[string][]string{{}, {"bearer": {}}}
	return op
}

// register adds an operation whose handler returns domain errors; they are
// turned into {"detail"} responses by statusError.
func register[I, O any](s *Server, api huma.API, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	// huma refuses a body of exactly MaxBodyBytes; +1 makes the limit inclusive.
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = s.maxBody + 1
	}
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := handler(ctx, in)
		if err != nil {
			return nil, s.statusError(ctx, err)
		}
		return out, nil
	})
}

// HTTPStatus maps a domain error code to an HTTP status.
func HTTPStatus(code string) int {
	switch code {
	case gdoc.EINVALID:
		return http.StatusUnprocessableEntity
	case gdoc.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case gdoc.EFORBIDDEN:
		return http.StatusForbidden
	case gdoc.ENOTFOUND:
		return http.StatusNotFound
	case gdoc.ECONFLICT, gdoc.ERELOAD:
		return http.StatusConflict
	case gdoc.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case gdoc.ERATELIMITED:
		return http.StatusTooManyRequests
	case gdoc.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// statusError is the one place a domain error becomes an HTTP error; only
// EINTERNAL is logged, as a server fault.
func (s *Server) statusError(ctx context.Context, err error) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	code := gdoc.ErrorCode(err)
	if code == gdoc.EINTERNAL || errors.Is(err, context.DeadlineExceeded) {
		s.logger.ErrorContext(ctx, "request failed", "err", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &ErrorBody{Detail: "The request was canceled or timed out.", status: http.StatusServiceUnavailable}
	}
	body := &ErrorBody{Detail: gdoc.ErrorMessage(err), status: HTTPStatus(code)}
	if code == gdoc.EUNAUTHORIZED {
		return huma.ErrorWithHeaders(body, http.Header{"WWW-Authenticate": {"Bearer"}})
	}
	return body
}

// ErrorBody is every error response: {"detail": "<sentence>"}.
type ErrorBody struct {
	Detail string `json:"detail" doc:"What went wrong, as a sentence." example:"Document not found."`
	status int
}

func (e *ErrorBody) Error() string  { return e.Detail }
func (e *ErrorBody) GetStatus() int { return e.status }

// ContentType keeps errors application/json (huma defaults to problem+json).
func (e *ErrorBody) ContentType(string) string { return "application/json" }

func init() {
	// huma builds its own errors (validation, malformed JSON, body too
	// large) through NewError: give them the {"detail"} shape too.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return &ErrorBody{Detail: humaDetail(status, msg, errs), status: status}
	}
}

// humaDetail turns huma's error parts into one readable sentence naming the
// offending fields.
func humaDetail(status int, msg string, errs []error) string {
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return "The request body is too large."
	case status == http.StatusBadRequest && len(errs) > 0:
		var d *huma.ErrorDetail
		if errors.As(errs[0], &d) && d.Location == "body" {
			return "The request body is not valid JSON."
		}
	case status == http.StatusUnsupportedMediaType:
		return "The request body must be JSON (Content-Type: application/json)."
	}
	var parts []string
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d *huma.ErrorDetail
		if errors.As(err, &d) {
			field := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(d.Location, "body."), "query."), "path.")
			if field == "body" || field == "" {
				parts = append(parts, d.Message)
			} else {
				parts = append(parts, field+": "+d.Message)
			}
		} else {
			parts = append(parts, err.Error())
		}
	}
	if len(parts) > 0 {
		return "Invalid request: " + strings.Join(parts, "; ") + "."
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if msg == "" {
		return "Error."
	}
	return strings.ToUpper(msg[:1]) + strings.TrimSuffix(msg[1:], ".") + "."
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": "The database is unreachable."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
