package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/version"
)

// This file is Mosquitto 2.1's HTTP API (src/http_api.c), beside midge's
// own: GET /api/v1/version, /api/v1/listeners and /api/v1/systree, with
// HTTP Basic credentials checked by the listener's authentication chain and
// a read ACL check on the URL path, with client id "http-api", as 2.1 does.

// Listener describes a listener for GET /api/v1/listeners, as Mosquitto
// 2.1 does: Port, or Path for a unix socket; Protocol "mqtt", "websockets"
// or "httpapi"; TLS when it has a certificate and key; MTLS when it
// requires client certificates; AllowAnonymous as it applies there.
type Listener struct {
	Port           *int   `json:"port,omitempty"`
	Path           string `json:"path,omitempty"`
	Protocol       string `json:"protocol"`
	TLS            bool   `json:"tls"`
	MTLS           bool   `json:"mtls"`
	AllowAnonymous bool   `json:"allow_anonymous"`
}

// mosquittoClientID is the client id 2.1 authenticates and authorizes HTTP
// API requests as.
const mosquittoClientID = "http-api"

// mosquittoAPI registers Mosquitto's endpoints on h's mux.
func (h *handler) mosquittoAPI() {
	h.mux.HandleFunc("/api/v1/version", h.mosquitto(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, version.Version)
	}))
	h.mux.HandleFunc("/api/v1/listeners", h.mosquitto(func(w http.ResponseWriter, r *http.Request) {
		var ls []Listener
		if h.cfg.Listeners != nil {
			ls = h.cfg.Listeners()
		}
		if ls == nil {
			ls = []Listener{}
		}
		writeIndented(w, map[string][]Listener{"listeners": ls})
	}))
	h.mux.HandleFunc("/api/v1/systree", h.mosquitto(func(w http.ResponseWriter, r *http.Request) {
		writeIndented(w, systreeObject(h.s.broker.SysValues()))
	}))
}

// mosquitto wraps one of Mosquitto's endpoints: GET only (405 "Invalid
// HTTP Method"), the access check (401 "Not authorised" with the realm
// "Mosquitto API"), and Access-Control-Allow-Origin: * on the answer.
func (h *handler) mosquitto(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			plain(w, http.StatusMethodNotAllowed, "Invalid HTTP Method\n")
			return
		}
		ok, retry := h.mosquittoAccess(r)
		if !ok {
			if tooMany(w, retry) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="Mosquitto API"`)
			plain(w, http.StatusUnauthorized, "Not authorised\n")
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fn(w, r)
	}
}

func plain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, text)
}

// writeIndented writes v as indented JSON, as Mosquitto's cJSON_Print does.
func writeIndented(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		plain(w, http.StatusInternalServerError, "Internal server error.\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// mosquittoAccess decides whether r may use Mosquitto's API: on a listener
// without logins, yes (as midge's own API); otherwise its Basic
// credentials (none: an anonymous client) must pass the listener's
// authentication chain and the client must be allowed to read the URL path
// as a topic. Failed logins are throttled as the dashboard's are.
func (h *handler) mosquittoAccess(r *http.Request) (bool, time.Duration) {
	if h.open {
		return true, 0
	}
	sec := h.cfg.Security
	user, password, hasUser := r.BasicAuth()
	if sec == nil {
		// No chain given: the password file, without an ACL.
		if !hasUser {
			return false, 0
		}
		_, ok, retry := h.checkPassword(r, user, password)
		return ok, retry
	}
	addr, uk := addrKey(r), userKey(user)
	if d := h.throttle.wait(addr, uk); d > 0 {
		return false, d
	}
	h.loginSem <- struct{}{}
	defer func() { <-h.loginSem }()
	c := &broker.Client{ID: mosquittoClientID, Username: user, HasUsername: hasUser, Remote: remoteAddr(r), Version: 0}
	ok, err := sec.Authenticate(r.Context(), c, []byte(password), hasUser)
	if err != nil {
		h.s.log.Error(fmt.Sprintf("web: authenticating %q from %s for the HTTP API: %v", user, r.RemoteAddr, err))
		return false, 0
	}
	if !ok {
		if hasUser {
			if d := h.throttle.fail(addr, uk); d > 0 {
				h.s.log.Warn(fmt.Sprintf("web: too many failed logins as %q or from %s: the next try must wait %s", user, r.RemoteAddr, d))
			}
		}
		return false, 0
	}
	h.throttle.forget(uk)
	return sec.Authorize(r.Context(), c, r.URL.Path, broker.Read), 0
}

// remoteAddr returns r's peer address as a net.Addr.
func remoteAddr(r *http.Request) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		return a
	}
	return &net.UnixAddr{Net: "unix", Name: r.RemoteAddr}
}

// systreeTopics are the $SYS topics 2.1's /api/v1/systree reports: its
// metrics table without the aliases (clients/active, clients/inactive,
// store/messages/count) and the load averages, plus the uptime.
var systreeTopics = []string{
	"$SYS/broker/clients/total",
	"$SYS/broker/clients/maximum",
	"$SYS/broker/clients/disconnected",
	"$SYS/broker/clients/connected",
	"$SYS/broker/clients/expired",
	"$SYS/broker/messages/stored",
	"$SYS/broker/store/messages/bytes",
	"$SYS/broker/subscriptions/count",
	"$SYS/broker/shared_subscriptions/count",
	"$SYS/broker/retained messages/count",
	"$SYS/broker/heap/current",
	"$SYS/broker/heap/maximum",
	"$SYS/broker/messages/received",
	"$SYS/broker/messages/sent",
	"$SYS/broker/bytes/received",
	"$SYS/broker/bytes/sent",
	"$SYS/broker/publish/bytes/received",
	"$SYS/broker/publish/bytes/sent",
	"$SYS/broker/packet/out/count",
	"$SYS/broker/packet/out/bytes",
	"$SYS/broker/connections/socket/count",
	"$SYS/broker/publish/messages/dropped",
	"$SYS/broker/publish/messages/received",
	"$SYS/broker/publish/messages/sent",
	"$SYS/broker/uptime",
}

// systreeObject returns 2.1's /api/v1/systree object from the broker's $SYS
// values, in 2.1's order: every value an integer (the uptime in seconds).
func systreeObject(values map[string]string) orderedInts {
	out := make(orderedInts, 0, len(systreeTopics))
	for _, name := range systreeTopics {
		v := strings.TrimSuffix(values[name], " seconds")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			n = 0
		}
		out = append(out, namedInt{name, n})
	}
	return out
}

type namedInt struct {
	name string
	v    int64
}

// orderedInts is a JSON object of integers whose keys keep their order.
type orderedInts []namedInt

// MarshalJSON writes the object.
func (o orderedInts) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(kv.name)
		if err != nil {
			return nil, err
		}
		b = append(append(b, k...), ':')
		b = strconv.AppendInt(b, kv.v, 10)
	}
	return append(b, '}'), nil
}
