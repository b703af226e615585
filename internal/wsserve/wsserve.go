package wsserve

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/internal/httpfiles"
)

// Protocols are the subprotocols MQTT over WebSockets uses: "mqtt"
// [MQTT-6.0.0-3], and "mqttv3.1" for MQTT 3.1 clients.
var Protocols = []string{"mqtt", "mqttv3.1"}

// Options configure a WebSocket listener's handler.
type Options struct {
	HTTPDir     string   // files served to requests that do not upgrade; none if ""
	HeadersSize int      // largest request line and headers, in bytes; 4096 if <= 0
	Origins     []string // Origin patterns accepted; any if empty
	Log         *slog.Logger

	// Admit is called for an upgrade request that offers MQTT, before the
	// upgrade; if it returns false the request is refused with 503.
	Admit func() bool
	// Release is called when an admitted request fails to upgrade.
	Release func()
	// Serve serves an upgraded connection on the request's goroutine and
	// returns when it ends; ctx is cancelled then.
	Serve func(ctx context.Context, nc net.Conn, r *http.Request)
}

func (o *Options) headersSize() int {
	if o.HeadersSize <= 0 {
		return 4096
	}
	return o.HeadersSize
}

// NewServer returns the HTTP server of a WebSocket listener, whose
// requests' contexts derive from ctx. readHeaderTimeout bounds the wait for
// a request's headers.
func NewServer(ctx context.Context, o Options, readHeaderTimeout time.Duration) *http.Server {
	var files http.Handler = http.NotFoundHandler()
	if o.HTTPDir != "" {
		files = httpfiles.Handler(o.HTTPDir) // no listings, as Mosquitto's
	}
	limit := o.headersSize()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if n := headerBytes(r); n > limit {
			o.Log.Info(fmt.Sprintf("Refused HTTP request from %s: its headers of %d bytes exceed websockets_headers_size %d.", r.RemoteAddr, n, limit))
			http.Error(w, "request headers too large", http.StatusRequestHeaderFieldsTooLarge)
			return
		}
		if !isUpgrade(r) {
			files.ServeHTTP(w, r)
			return
		}
		o.accept(ctx, w, r)
	})
	return &http.Server{
		Handler: mux,
		// The handler enforces limit exactly (and logs); Go's own bound,
		// checked before any handler runs, only stops a flood.
		MaxHeaderBytes:    max(16*limit, 64<<10),
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
}

// headerBytes returns the size of r's request line and headers as they
// arrived, near enough: each header line is counted as "Key: value\r\n".
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if r.Host != "" && r.Header.Get("Host") == "" {
		n += len("Host: ") + len(r.Host) + 2 // Go moves Host out of Header
	}
	return n + 2
}

// isUpgrade reports whether r asks to become a WebSocket.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// accept upgrades r and serves the MQTT connection on it until it ends. A
// request offering subprotocols none of which is MQTT's is refused; one
// offering none is accepted, as Mosquitto accepts it.
func (o *Options) accept(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if offered := r.Header.Values("Sec-WebSocket-Protocol"); len(offered) > 0 && !offersMQTT(offered) {
		o.Log.Info(fmt.Sprintf("Refused WebSocket connection from %s: subprotocol %q is not mqtt.", r.RemoteAddr, strings.Join(offered, ", ")))
		http.Error(w, "the WebSocket subprotocol must be mqtt", http.StatusBadRequest)
		return
	}
	if !o.Admit() {
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	opts := &websocket.AcceptOptions{
		Subprotocols:    Protocols,
		CompressionMode: websocket.CompressionDisabled,
	}
	if len(o.Origins) == 0 {
		opts.InsecureSkipVerify = true // any Origin, as Mosquitto without websockets_origin
	} else {
		opts.OriginPatterns = o.Origins
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		o.Release()
		o.Log.Info(fmt.Sprintf("Refused WebSocket connection from %s: %v.", r.RemoteAddr, err))
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.Serve(ctx, websocket.NetConn(cctx, ws, websocket.MessageBinary), r)
}

// offersMQTT reports whether a Sec-WebSocket-Protocol list names an MQTT
// subprotocol.
func offersMQTT(values []string) bool {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			for _, want := range Protocols {
				if strings.EqualFold(p, want) {
					return true
				}
			}
		}
	}
	return false
}
