package web

import (
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/httpfiles"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed ui
var uiFiles embed.FS

// ErrOpenListener is returned by Handler for a listener without logins that
// is not local: anybody who can reach it could read every message, publish
// and disconnect clients.
var ErrOpenListener = errors.New("web: a listener without logins (no password file) must be bound to a loopback address")

// handler serves one listener.
type handler struct {
	s         *Server
	cfg       HandlerConfig
	open      bool   // no logins: everybody is an administrator
	openToken string // the CSRF token of an open listener
	sessions  *sessions
	throttle  *throttle // failed logins
	loginSem  chan struct{}

	mux *http.ServeMux
}

// Handler returns the HTTP handler of one listener: the dashboard at /, its
// JSON API under /api/v1/, /metrics in Prometheus' text format, /healthz,
// and the files of HTTPDir at other paths. It returns ErrOpenListener for a
// listener without logins (cfg.Passwords nil) that is not Local.
func (s *Server) Handler(cfg HandlerConfig) (http.Handler, error) {
	if cfg.Passwords == nil && !cfg.Local {
		return nil, ErrOpenListener
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 12 * time.Hour
	}
	h := &handler{
		s: s, cfg: cfg, open: cfg.Passwords == nil, openToken: newToken(),
		sessions: &sessions{m: make(map[[32]byte]*session), idle: cfg.SessionIdle, now: s.cfg.Now},
		throttle: newThrottle(s.cfg.Now),
		loginSem: make(chan struct{}, 2),
		mux:      http.NewServeMux(),
	}
	ui, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		return nil, err
	}
	m := h.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	metrics := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		p, retry := h.identify(r)
		if p == nil {
			if tooMany(w, retry) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="midge", charset="UTF-8"`)
			http.Error(w, "log in: Basic credentials of the password file", http.StatusUnauthorized)
			return
		}
		if !s.seesStats(h.readFilter(p)) {
			// The metrics are the broker's $SYS values.
			http.Error(w, "the ACL does not let "+p.user+" read $SYS", http.StatusForbidden)
			return
		}
		metrics.ServeHTTP(w, r)
	})
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, ui, "index.html")
	})
	static := http.StripPrefix("/ui/", http.FileServerFS(ui))
	m.Handle("GET /ui/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}))

	m.HandleFunc("GET /api/v1/me", h.me)
	m.HandleFunc("POST /api/v1/login", h.login)
	h.api("POST /api/v1/logout", false, h.logout)
	h.api("GET /api/v1/topics", false, h.topics)
	h.api("GET /api/v1/topic", false, h.topic)
	h.api("POST /api/v1/publish", false, h.publish)
	h.api("GET /api/v1/stats", false, h.stats)
	h.api("GET /api/v1/events", false, h.events)
	h.api("POST /api/v1/retained/delete", true, h.deleteRetained)
	h.api("GET /api/v1/clients", true, h.clients)
	h.api("POST /api/v1/disconnect", true, h.disconnect)
	h.api("POST /api/v1/acl", true, h.aclCheck)
	h.api("GET /api/v1/bridges", true, h.bridges)
	h.api("GET /api/v1/cluster", true, h.clusterAPI)
	h.api("GET /api/v1/cluster/clients", true, h.clusterClients)
	h.api("POST /api/v1/dynsec", true, h.dynsec)
	h.mosquittoAPI() // Mosquitto 2.1's /api/v1/version, listeners, systree
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	var files http.Handler = http.NotFoundHandler()
	if cfg.HTTPDir != "" {
		files = httpfiles.Handler(cfg.HTTPDir)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		files.ServeHTTP(w, r)
	})
	return h, nil
}

// ServeHTTP adds the security headers and, on a loopback listener without
// logins, refuses requests that do not name a loopback host.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/") || strings.HasPrefix(r.URL.Path, "/api/") {
		// The dashboard's own pages; http_dir's files get no policy of ours.
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Frame-Options", "DENY")
	}
	if h.open && h.cfg.LoopbackTCP && !loopbackHost(r.Host) {
		writeError(w, http.StatusForbidden, "this listener has no logins and answers only to localhost, 127.0.0.1 or [::1]")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// api registers an endpoint that needs a login (an administrator's if
// admin); requests other than GET must also pass checkAction.
func (h *handler) api(pattern string, admin bool, fn func(http.ResponseWriter, *http.Request, *principal)) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		p, retry := h.identify(r)
		if p == nil {
			if tooMany(w, retry) {
				return
			}
			writeError(w, http.StatusUnauthorized, "log in first")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if ok, why := checkAction(r, p); !ok {
				h.s.log.Warn(fmt.Sprintf("web: refused %s %q of %s: %s", r.Method, r.URL.Path, actor(p, r), why))
				writeError(w, http.StatusForbidden, why)
				return
			}
		}
		if admin && !p.admin {
			writeError(w, http.StatusForbidden, "only administrators (http_api_admin) may do this")
			return
		}
		fn(w, r, p)
	})
}

// actor names who makes r in log lines: `"alice" from 127.0.0.1:41234`.
// The details are in the message itself, not in attributes, so that they
// show at every log_type, not only debug. The name is quoted: it may hold
// anything a client sends, new lines too.
func actor(p *principal, r *http.Request) string {
	if p.open {
		return "a local user (no logins) from " + r.RemoteAddr
	}
	return fmt.Sprintf("%q from %s", p.user, r.RemoteAddr)
}

// tooMany answers 429 Too Many Requests with Retry-After (whole seconds,
// rounded up) if retry is not zero, and reports whether it did.
func tooMany(w http.ResponseWriter, retry time.Duration) bool {
	if retry <= 0 {
		return false
	}
	secs := int64((retry + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins: try again in %d s", secs))
	return true
}

// writeJSON writes v, compressed when large and the client takes gzip.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if len(b) > 8<<10 && r != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		w.WriteHeader(status)
		zw := gzip.NewWriter(w)
		zw.Write(b)
		zw.Close()
		return
	}
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, nil, status, map[string]string{"error": msg})
}

// readJSON decodes the request body, at most max bytes, into v.
func readJSON(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}
