package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// Passwords checks the logins of a listener: the broker's password file
// (*auth.PasswordFile implements it), or its authentication chain when
// dynamic security is configured.
type Passwords interface {
	// Check reports whether password is username's.
	Check(username, password string) bool
	// Fingerprint returns a digest of username's entry, which changes
	// when the password does, and whether the user is in the file. A
	// login session lasts only as long as its user's fingerprint stays
	// what it was at the login: changing the password or removing the
	// user (and reloading the file) ends it.
	Fingerprint(username string) (fp [32]byte, ok bool)
}

// HandlerConfig is the security of one listener.
type HandlerConfig struct {
	// Passwords returns the password file (or chain) in use (it may change
	// on reload); nil, or a nil result, means no file. If Passwords is nil
	// the listener runs without logins and everybody is an administrator: Handler
	// refuses that unless Local.
	Passwords func() Passwords
	// Admins returns the users who may act on the broker (http_api_admin).
	Admins func() []string
	// Security is the listener's security, whose Authorizers limit what
	// users who are not administrators see and publish, exactly as they
	// limit an MQTT client with the same user name and an empty client id.
	// If nil, or without Authorizers, they see everything but can change
	// nothing but by publishing.
	Security *broker.Security
	// Local says the listener can only be reached from this machine: bound
	// to a loopback address or a unix socket.
	Local bool
	// LoopbackTCP says it is a TCP listener on a loopback address: without
	// logins, requests must then name a loopback host (against DNS
	// rebinding).
	LoopbackTCP bool
	// TLS says the listener serves HTTPS: cookies get the Secure flag.
	TLS bool
	// HTTPDir, if set, is a directory whose files are served at paths that
	// are not the dashboard's (http_dir).
	HTTPDir string
	// SessionIdle ends a login session unused this long (default 12h).
	SessionIdle time.Duration
	// DynamicSecurity runs a request of dynamic security's command API
	// ({"commands":[...]}, as published on $CONTROL/dynamic-security/v1)
	// on behalf of the dashboard user, and returns the response; nil if
	// dynamic security is not configured. The Users page uses it.
	DynamicSecurity func(user string, request []byte) []byte
	// Listeners returns the broker's listeners for Mosquitto's
	// /api/v1/listeners; nil: none.
	Listeners func() []Listener
}

// principal is who makes a request.
type principal struct {
	user  string
	admin bool
	open  bool   // no logins configured
	basic bool   // HTTP Basic credentials: reading only
	csrf  string // the token actions must carry
	token string // the session cookie, for logout
}

// session is a login.
type session struct {
	user     string
	cred     [32]byte // the Fingerprint of user's entry at the login
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions are a listener's logins, by the SHA-256 of their cookie.
type sessions struct {
	mu   sync.Mutex // guards m
	m    map[[32]byte]*session
	idle time.Duration
	now  func() time.Time
}

// maxSessions bounds the logins kept; the least recently used go first.
const maxSessions = 10000

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) create(user string, cred [32]byte) (token string, s *session) {
	token = newToken()
	now := ss.now()
	s = &session{user: user, cred: cred, csrf: newToken(), created: now, lastSeen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		var oldest [32]byte
		var at time.Time
		for k, v := range ss.m {
			if at.IsZero() || v.lastSeen.Before(at) {
				oldest, at = k, v.lastSeen
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[sha256.Sum256([]byte(token))] = s
	return token, s
}

// get returns the session of token, or nil; refresh marks it used now.
func (ss *sessions) get(token string, refresh bool) *session {
	if token == "" {
		return nil
	}
	k := sha256.Sum256([]byte(token))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[k]
	if s == nil {
		return nil
	}
	if now.Sub(s.lastSeen) > ss.idle {
		delete(ss.m, k)
		return nil
	}
	if refresh {
		s.lastSeen = now
	}
	return s
}

func (ss *sessions) delete(token string) {
	ss.mu.Lock()
	delete(ss.m, sha256.Sum256([]byte(token)))
	ss.mu.Unlock()
}

// cookieName returns the session cookie's name: with TLS the __Host- prefix
// makes browsers insist on Secure, Path=/ and no Domain.
func (h *handler) cookieName() string {
	if h.cfg.TLS {
		return "__Host-midge_session"
	}
	return "midge_session"
}

func (h *handler) setCookie(w http.ResponseWriter, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.cfg.TLS, SameSite: http.SameSiteStrictMode})
}

// passwords returns the password file in use, nil if none.
func (h *handler) passwords() Passwords {
	if h.cfg.Passwords == nil {
		return nil
	}
	return h.cfg.Passwords()
}

func (h *handler) isAdmin(user string) bool {
	return h.cfg.Admins != nil && slices.Contains(h.cfg.Admins(), user)
}

// session returns the session of token if it is still valid, else nil:
// not idle too long, and its user's entry in the password file in use is
// the one it logged in with (the file is read again on SIGHUP, so a new
// password or a removed user ends the user's sessions, whatever changed
// the file). refresh marks it used now.
func (h *handler) session(token string, refresh bool) *session {
	s := h.sessions.get(token, refresh)
	if s == nil {
		return nil
	}
	var cred [32]byte
	ok := false
	if pw := h.passwords(); pw != nil {
		cred, ok = pw.Fingerprint(s.user)
	}
	if !ok || subtle.ConstantTimeCompare(cred[:], s.cred[:]) != 1 {
		h.sessions.delete(token)
		return nil
	}
	return s
}

// identify returns who makes r, or nil if nobody logged in. retry is
// non-zero when r carries Basic credentials that were not checked because
// of too many failed logins: how long to wait.
func (h *handler) identify(r *http.Request) (p *principal, retry time.Duration) {
	if h.open {
		return &principal{admin: true, open: true, csrf: h.openToken}, 0
	}
	if c, err := r.Cookie(h.cookieName()); err == nil {
		if s := h.session(c.Value, true); s != nil {
			return &principal{user: s.user, admin: h.isAdmin(s.user), csrf: s.csrf, token: c.Value}, 0
		}
	}
	if u, pass, ok := r.BasicAuth(); ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		_, ok, retry := h.checkPassword(r, u, pass)
		if ok {
			return &principal{user: u, admin: h.isAdmin(u), basic: true}, 0
		}
		return nil, retry
	}
	return nil, 0
}

// checkPassword checks a login as user from r's address, at most two at a
// time: a password hash (PBKDF2, Argon2id) costs CPU time and memory on
// purpose. On success it returns the Fingerprint of the user's entry in the
// same file. After too many failed logins from the address or as the user
// (throttle) it checks nothing and returns how long to wait.
func (h *handler) checkPassword(r *http.Request, user, password string) (cred [32]byte, ok bool, retry time.Duration) {
	addr, uk := addrKey(r), userKey(user)
	if d := h.throttle.wait(addr, uk); d > 0 {
		h.s.log.Debug(fmt.Sprintf("web: login as %q from %s refused for %s: too many failed logins", user, r.RemoteAddr, d.Round(time.Second)))
		return cred, false, d
	}
	h.loginSem <- struct{}{}
	defer func() { <-h.loginSem }()
	// Others may have failed while this one waited its turn.
	if d := h.throttle.wait(addr, uk); d > 0 {
		return cred, false, d
	}
	pw := h.passwords()
	if pw == nil {
		return cred, false, 0
	}
	if pw.Check(user, password) {
		h.throttle.forget(uk)
		cred, ok = pw.Fingerprint(user)
		return cred, ok, 0
	}
	// Names not in the file count too: else their going on being
	// refused with 401 where a user's get 429 would tell who exists.
	if d := h.throttle.fail(addr, uk); d > 0 {
		h.s.log.Warn(fmt.Sprintf("web: too many failed logins as %q or from %s: the next try must wait %s", user, r.RemoteAddr, d))
	}
	return cred, false, 0
}

// sameOrigin reports whether a request that changes something comes from
// the dashboard's own pages: its Origin, if any, is this server, and the
// browser does not call it cross-site. Requests from programs (no Origin,
// no Sec-Fetch-Site) pass; they still need the CSRF token.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if u.Scheme != scheme {
			return false
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// csrfHeader is the request header that carries the CSRF token: a header
// a page of another site cannot set without the server's consent (CORS),
// which midge never gives.
const csrfHeader = "X-CSRF-Token"

// checkAction reports whether p may make r, a request that changes
// something: same origin, and the token of p's session.
func checkAction(r *http.Request, p *principal) (ok bool, why string) {
	if !sameOrigin(r) {
		return false, "cross-origin request refused"
	}
	if p.basic {
		return false, "actions need a login session (POST /api/v1/login), not Basic credentials"
	}
	t := r.Header.Get(csrfHeader)
	if t == "" || subtle.ConstantTimeCompare([]byte(t), []byte(p.csrf)) != 1 {
		return false, "missing or wrong " + csrfHeader + " header"
	}
	return true, ""
}

// loopbackHost reports whether the Host header names this machine: a
// loopback address or localhost. A listener without logins checks it so
// that a web page whose name resolves to 127.0.0.1 (DNS rebinding) cannot
// use it.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
