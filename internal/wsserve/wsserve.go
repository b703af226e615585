package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/internal/httpfiles"
)

// webSocketProtocols are the subprotocols MQTT over WebSockets uses: "mqtt"
// [MQTT-6.0.0-3], and "mqttv3.1" for MQTT 3.1 clients.
var webSocketProtocols = []string{"mqtt", "mqttv3.1"}

// serveWebSocket serves MQTT over WebSockets on l: an HTTP server whose
// requests that upgrade with an MQTT subprotocol become connections, in
// binary frames that may split or join packets [MQTT-6.0.0-1],
// [MQTT-6.0.0-2]; other requests get the files of HTTPDir, if set, as
// Mosquitto serves them. It returns when the listener closes.
func (srv *Server) serveWebSocket(ctx context.Context, l *listener) error {
	mux := http.NewServeMux()
	var files http.Handler = http.NotFoundHandler()
	if l.cfg.HTTPDir != "" {
		files = httpfiles.Handler(l.cfg.HTTPDir) // no listings, as Mosquitto's
	}
	limit := l.cfg.WebSocketHeadersSize
	if limit <= 0 {
		limit = 4096
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if n := headerBytes(r); n > limit {
			srv.log.Info(fmt.Sprintf("Refused HTTP request from %s: its headers of %d bytes exceed websockets_headers_size %d.", r.RemoteAddr, n, limit))
			http.Error(w, "request headers too large", http.StatusRequestHeaderFieldsTooLarge)
			return
		}
		if !isUpgrade(r) {
			files.ServeHTTP(w, r)
			return
		}
		srv.acceptWebSocket(ctx, l, w, r)
	})
	hs := &http.Server{
		Handler: mux,
		// The handler enforces limit exactly (and logs); Go's own bound,
		// checked before any handler runs, only stops a flood.
		MaxHeaderBytes:    max(16*limit, 64<<10),
		ReadHeaderTimeout: srv.opt().connectTimeout,
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	srv.mu.Lock()
	l.http = hs
	srv.mu.Unlock()
	err := hs.Serve(l.ln)
	srv.mu.Lock()
	closed := srv.closed
	srv.mu.Unlock()
	if closed || errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return fmt.Errorf("broker: websockets on %s: %w", l.name, err)
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

// acceptWebSocket upgrades r and serves the MQTT connection on it until it
// ends. A request offering subprotocols none of which is MQTT's is refused;
// one offering none is accepted, as Mosquitto accepts it.
func (srv *Server) acceptWebSocket(ctx context.Context, l *listener, w http.ResponseWriter, r *http.Request) {
	if offered := r.Header.Values("Sec-WebSocket-Protocol"); len(offered) > 0 && !offersMQTT(offered) {
		srv.log.Info(fmt.Sprintf("Refused WebSocket connection from %s: subprotocol %q is not mqtt.", r.RemoteAddr, strings.Join(offered, ", ")))
		http.Error(w, "the WebSocket subprotocol must be mqtt", http.StatusBadRequest)
		return
	}
	srv.stats.socketsAccepted.Add(1)
	if !srv.admit(l) {
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	opts := &websocket.AcceptOptions{
		Subprotocols:    webSocketProtocols,
		CompressionMode: websocket.CompressionDisabled,
	}
	if len(l.cfg.WebSocketOrigins) == 0 {
		opts.InsecureSkipVerify = true // any Origin, as Mosquitto without websockets_origin
	} else {
		opts.OriginPatterns = l.cfg.WebSocketOrigins
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		srv.release(l)
		srv.log.Info(fmt.Sprintf("Refused WebSocket connection from %s: %v.", r.RemoteAddr, err))
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nc := websocket.NetConn(cctx, ws, websocket.MessageBinary)
	c := newConn(ctx, srv, nc, l)
	c.tlsState = r.TLS
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		srv.release(l)
		c.close()
		return
	}
	srv.conns[c] = struct{}{}
	srv.wg.Add(1)
	srv.mu.Unlock()
	c.serve() // the request's goroutine carries the connection
}

// offersMQTT reports whether a Sec-WebSocket-Protocol list names an MQTT
// subprotocol.
func offersMQTT(values []string) bool {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			for _, want := range webSocketProtocols {
				if strings.EqualFold(p, want) {
					return true
				}
			}
		}
	}
	return false
}
