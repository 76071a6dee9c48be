package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, ErrorBody{Detail: detail})
}

// statusRecorder remembers the status and size of a response. It passes
// Hijack, Flush and Unwrap through so WebSockets and streaming work.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Flush() {
	http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// logMiddleware logs one line per request. It logs the path without its
// query string: WebSocket URLs carry ?token=, which must never reach logs.
func logMiddleware(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", rec.bytes),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// ContentSecurityPolicy is sent with every answer. Scripts come only from
// the server's own files (no inline script, no eval); Monaco starts its
// workers from the server's files or blob: URLs; styles may be inline because
// Monaco and Swagger UI set element styles and add <style> elements at run
// time; images may be data: URIs (Swagger UI's icons, the favicon); nothing
// may frame the app. docs/security.md explains each part.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeadersMiddleware sets the security headers on every answer:
// pages, API responses, errors and the WebSocket handshake alike.
func securityHeadersMiddleware(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// recoverMiddleware turns a panic into a logged 500 {"detail"}.
func recoverMiddleware(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", v)
				writeDetail(w, http.StatusInternalServerError, "Internal error.")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// corsMiddleware lets the listed origins call the API from a browser. The
// API authenticates with the Authorization header, never cookies, so
// credentials are not allowed.
func corsMiddleware(origins []string, next http.Handler) http.Handler {
	anyOrigin := slices.Contains(origins, "*")
	allowed := func(origin string) bool { return anyOrigin || slices.Contains(origins, origin) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !allowed(origin) {
			if preflight {
				writeDetail(w, http.StatusForbidden, "This origin is not allowed (CORS_ORIGINS).")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if preflight {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ipRateLimiter allows each client IP perMinute requests per minute, in
// bursts of up to perMinute.
type ipRateLimiter struct {
	perMinute int
	trusted   []netip.Prefix
	mu        sync.Mutex
	clients   map[string]*clientLimit
	lastSweep time.Time
}

type clientLimit struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

const (
	rateLimitIdle     = 10 * time.Minute
	rateLimitMaxIPs   = 10000
	rateLimitSweepGap = time.Minute
)

func newIPRateLimiter(perMinute int, trusted []netip.Prefix) *ipRateLimiter {
	return &ipRateLimiter{perMinute: perMinute, trusted: trusted, clients: map[string]*clientLimit{}}
}

// clientIP is the address a request is limited by: the TCP peer, unless
// the peer is a trusted proxy, then the client it names in X-Real-IP, or
// the nearest untrusted address in X-Forwarded-For.
func (l *ipRateLimiter) clientIP(remoteAddr string, header func(string) string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if !l.isTrusted(host) {
		return host
	}
	if real, err := netip.ParseAddr(strings.TrimSpace(header("X-Real-IP"))); err == nil {
		return real.Unmap().String()
	}
	hops := strings.Split(header("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !l.isTrusted(hop.String()) {
			return hop.Unmap().String()
		}
	}
	return host
}

func (l *ipRateLimiter) isTrusted(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range l.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// allow reports whether ip may make a request now.
func (l *ipRateLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) >= rateLimitMaxIPs && now.Sub(l.lastSweep) > rateLimitSweepGap {
		// Forget idle clients so the map stays bounded; a client idle this
		// long has its whole burst back anyway.
		for k, c := range l.clients {
			if now.Sub(c.lastSeen) > rateLimitIdle {
				delete(l.clients, k)
			}
		}
		l.lastSweep = now
	}
	c, ok := l.clients[ip]
	if !ok {
		c = &clientLimit{limiter: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.clients[ip] = c
	}
	c.lastSeen = now
	return c.limiter.AllowN(now, 1)
}

func (l *ipRateLimiter) middleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if l.perMinute <= 0 {
			next(ctx)
			return
		}
		if !l.allow(l.clientIP(ctx.RemoteAddr(), ctx.Header), time.Now()) {
			ctx.SetHeader("Retry-After", strconv.Itoa(max(1, 60/l.perMinute)))
			writeErr(api, ctx, &ErrorBody{Detail: "Too many attempts; wait a minute and try again.", status: http.StatusTooManyRequests})
			return
		}
		next(ctx)
	}
}

// userRateLimiter allows each authenticated user perMinute requests per
// minute, in bursts of up to perMinute (REST writes). Anonymous requests
// pass: the operations it guards refuse them.
type userRateLimiter struct{ keyed *ipRateLimiter }

func newUserRateLimiter(perMinute int) *userRateLimiter {
	return &userRateLimiter{keyed: newIPRateLimiter(perMinute, nil)}
}

func (l *userRateLimiter) middleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		user := userFrom(ctx.Context())
		if l.keyed.perMinute <= 0 || user == nil {
			next(ctx)
			return
		}
		if !l.keyed.allow(user.ID, time.Now()) {
			ctx.SetHeader("Retry-After", strconv.Itoa(max(1, 60/l.keyed.perMinute)))
			writeErr(api, ctx, &ErrorBody{Detail: fmt.Sprintf("Too many document changes (limit %d a minute); wait a moment and try again.", l.keyed.perMinute), status: http.StatusTooManyRequests})
			return
		}
		next(ctx)
	}
}
