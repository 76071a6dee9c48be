package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gdoc/gdoc/internal/ws"
)

// WebSocketLimits bounds WebSocket admission on one instance; a zero field
// disables that bound. The defaults (cmd/gdoc) let a team behind one NAT
// address work: 1,000 open connections and 600 handshakes a minute per
// address, 50 open connections and 300 handshakes a minute per user.
type WebSocketLimits struct {
	MaxConnsPerIP           int
	MaxConnsPerUser         int
	HandshakesPerIPPerMin   int
	HandshakesPerUserPerMin int
}

// wsAdmission counts open WebSocket connections and handshakes per client
// address and per user, in front of the WebSocket handler, and refuses a
// handshake over a bound with 429 and a sentence before it is upgraded. The
// user is read from the token without a database round trip (its signature
// is checked, once: the request carries the claims, auth.WithParsed); the
// handler authenticates it fully. A handshake without a
// valid token counts only for its address.
type wsAdmission struct {
	limits    WebSocketLimits
	addr      *ipRateLimiter // client address (TRUSTED_PROXIES) and its handshake budget
	userRate  *ipRateLimiter // handshake budget per user id
	userOf    func(r *http.Request, token string) (*http.Request, string, bool)
	next      http.Handler
	mu        sync.Mutex
	openIP    map[string]int
	openUser  map[string]int
	retryWait time.Duration
}

func newWSAdmission(limits WebSocketLimits, trusted []netip.Prefix, userOf func(*http.Request, string) (*http.Request, string, bool), next http.Handler) *wsAdmission {
	return &wsAdmission{
		limits:    limits,
		addr:      newIPRateLimiter(limits.HandshakesPerIPPerMin, trusted),
		userRate:  newIPRateLimiter(limits.HandshakesPerUserPerMin, nil),
		userOf:    userOf,
		next:      next,
		openIP:    map[string]int{},
		openUser:  map[string]int{},
		retryWait: 10 * time.Second,
	}
}

// wsToken is the token a handshake carries: ?token= (seed dialect) or a
// "bearer.<JWT>" subprotocol, as internal/ws reads it.
func wsToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(line, ",") {
			p = strings.TrimSpace(p)
			if len(p) > len("bearer.") && strings.EqualFold(p[:len("bearer.")], "bearer.") {
				return p[len("bearer."):]
			}
		}
	}
	return ""
}

func (a *wsAdmission) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	ip := a.addr.clientIP(r.RemoteAddr, r.Header.Get)
	user := ""
	if token := wsToken(r); token != "" {
		r, user, _ = a.userOf(r, token)
	}
	if a.limits.HandshakesPerIPPerMin > 0 && !a.addr.allow(ip, now) {
		a.refuse(w, fmt.Sprintf("Too many connection attempts from your network address (limit %d a minute); wait a moment and try again.", a.limits.HandshakesPerIPPerMin))
		return
	}
	if user != "" && a.limits.HandshakesPerUserPerMin > 0 && !a.userRate.allow(user, now) {
		a.refuse(w, fmt.Sprintf("Too many connection attempts for your account (limit %d a minute); wait a moment and try again.", a.limits.HandshakesPerUserPerMin))
		return
	}
	if msg := a.open(ip, user); msg != "" {
		a.refuse(w, msg)
		return
	}
	// The WebSocket handler returns while the connection stays open; it
	// then releases the count itself when the connection ends.
	r, end := ws.WithConnectionEnd(r, func() { a.close(ip, user) })
	defer func() {
		if !end.Kept() {
			a.close(ip, user)
		}
	}()
	a.next.ServeHTTP(w, r)
}

// open counts one more connection for ip and user, or says why not.
func (a *wsAdmission) open(ip, user string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.limits.MaxConnsPerIP; n > 0 && a.openIP[ip] >= n {
		return fmt.Sprintf("Too many open connections from your network address (limit %d); close some editor tabs and try again.", n)
	}
	if n := a.limits.MaxConnsPerUser; n > 0 && user != "" && a.openUser[user] >= n {
		return fmt.Sprintf("You have too many open connections (limit %d); close some editor tabs and try again.", n)
	}
	a.openIP[ip]++
	if user != "" {
		a.openUser[user]++
	}
	return ""
}

func (a *wsAdmission) close(ip, user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.openIP[ip]--; a.openIP[ip] <= 0 {
		delete(a.openIP, ip)
	}
	if user != "" {
		if a.openUser[user]--; a.openUser[user] <= 0 {
			delete(a.openUser, user)
		}
	}
}

func (a *wsAdmission) refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(a.retryWait/time.Second)))
	writeDetail(w, http.StatusTooManyRequests, msg)
}
