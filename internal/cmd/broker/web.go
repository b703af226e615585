package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/web"
)

// This file runs the http_api listeners (package web) beside the broker.

// webRun is the dashboard of a running broker.
type webRun struct {
	lns []webListener
	srv *web.Server // nil until the broker runs
}

// webListener is an open http_api listener.
type webListener struct {
	cfg  config.Listener
	ln   net.Listener
	http *http.Server
}

// openWebListeners opens the http_api listeners, before privileges are
// dropped. A listener without logins (a password file or dynamic
// security) that is not reachable from this machine only is refused
// (config refuses it too; this checks the address actually bound).
func (b *brokerRun) openWebListeners() error {
	for _, l := range b.res.HTTPListeners {
		network, address := l.NetworkAddress()
		var ln net.Listener
		var err error
		if b.hooks.listen != nil {
			ln, err = b.hooks.listen(network, address)
		} else {
			ln, err = broker.Listen(context.Background(), broker.Listener{Network: network, Address: address, Interface: l.Interface})
		}
		if err != nil {
			b.closeWebListeners()
			return fmt.Errorf("http_api listener %s: %w", address, err)
		}
		if l.Scope.PasswordFile == "" && l.Scope.DynsecFile == "" && !localAddr(ln.Addr()) {
			ln.Close()
			b.closeWebListeners()
			return fmt.Errorf("http_api listener %s has no password_file and is not bound to a loopback address: %w", ln.Addr(), web.ErrOpenListener)
		}
		if l.TLSServer != nil {
			ln = tls.NewListener(ln, l.TLSServer.Config())
		}
		b.log.Info(fmt.Sprintf("Opening http_api listen socket on %s (%s).", ln.Addr(), webScheme(l)))
		b.web.lns = append(b.web.lns, webListener{cfg: l, ln: ln})
	}
	return nil
}

func webScheme(l config.Listener) string {
	if l.TLSServer != nil {
		return "https"
	}
	return "http"
}

// localAddr reports whether a is reachable from this machine only.
func localAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// startWeb serves the http_api listeners for srv. Serving errors go to
// b.errc, like the MQTT listeners'.
func (b *brokerRun) startWeb(srv *broker.Server) {
	if len(b.web.lns) == 0 {
		return
	}
	ws, err := web.New(web.Config{Broker: srv, History: b.res.HTTPAPI.History, Logger: b.log, Bridges: b.bridges.statuses,
		Cluster: b.clusterStatus(), ClusterClients: b.clusterClients()})
	if err != nil {
		b.log.Error("Error: http_api: " + err.Error())
		b.closeWebListeners()
		return
	}
	b.web.srv = ws
	for i := range b.web.lns {
		wl := &b.web.lns[i]
		h, err := ws.Handler(b.webHandlerConfig(wl))
		if err != nil {
			b.log.Error(fmt.Sprintf("Error: http_api listener %s: %v", wl.ln.Addr(), err))
			wl.ln.Close()
			continue
		}
		wl.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(b.log.Handler(), slog.LevelDebug)}
		go func() {
			if err := wl.http.Serve(wl.ln); !errors.Is(err, http.ErrServerClosed) {
				b.errc <- fmt.Errorf("http_api listener %s: %w", wl.ln.Addr(), err)
			}
		}()
	}
}

// webHandlerConfig returns the security of an http_api listener: its
// scope's password file and Security (whose ACL link SIGHUP reloads), and
// http_api_admin. With dynamic security, logins are checked by the scope's
// authentication chain (chainLogins).
func (b *brokerRun) webHandlerConfig(wl *webListener) web.HandlerConfig {
	sc := wl.cfg.Scope
	_, tcp := wl.ln.Addr().(*net.TCPAddr)
	hc := web.HandlerConfig{
		Admins: func() []string {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.res.HTTPAPI.Admins
		},
		Security:    sc.Security,
		Listeners:   b.mosquittoListeners,
		Local:       localAddr(wl.ln.Addr()),
		LoopbackTCP: tcp && localAddr(wl.ln.Addr()),
		TLS:         wl.cfg.TLSServer != nil,
		HTTPDir:     wl.cfg.HTTPDir,
	}
	var pf func() web.Passwords
	if sc.PasswordFile != "" {
		pf = func() web.Passwords {
			if f := sc.Passwords(); f != nil {
				return f
			}
			return nil
		}
	}
	hc.Passwords = pf
	if ds := b.dynsecOf(); ds != nil { // dynsec.go
		hc.DynamicSecurity = func(user string, req []byte) []byte {
			return ds.Execute(dynsec.Requester{ClientID: "dashboard", Username: user}, req)
		}
		if sc.DynsecFile != "" {
			// The listener's chain has dynamic security: logins go through
			// it (dynamic security, then the file).
			logins := chainLogins{sec: sc.Security, ds: ds, pf: pf}
			hc.Passwords = func() web.Passwords { return logins }
		}
	}
	return hc
}

// stopWeb ends the dashboard: its live streams first, so that the HTTP
// servers' Shutdown need not wait for them.
func (b *brokerRun) stopWeb() {
	if b.web.srv != nil {
		b.web.srv.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, wl := range b.web.lns {
		if wl.http != nil {
			wl.http.Shutdown(ctx)
		}
	}
	b.closeWebListeners()
}

func (b *brokerRun) closeWebListeners() {
	for _, wl := range b.web.lns {
		wl.ln.Close()
	}
	b.web.lns = nil
}

// mosquittoListeners describes the listeners for Mosquitto's
// /api/v1/listeners: the MQTT ones, then the http_api ones.
func (b *brokerRun) mosquittoListeners() []web.Listener {
	b.mu.Lock()
	defer b.mu.Unlock()
	res := b.res
	var out []web.Listener
	describe := func(l config.Listener, protocol string, anonymous bool) web.Listener {
		wl := web.Listener{Protocol: protocol, AllowAnonymous: anonymous,
			TLS: l.TLS.CertFile != "" && l.TLS.KeyFile != "", MTLS: l.TLS.RequireCertificate}
		if l.Socket != "" {
			wl.Path = l.Socket
		} else {
			port := l.Port
			wl.Port = &port
		}
		return wl
	}
	if res.LocalOnly {
		port := 1883
		out = append(out, web.Listener{Port: &port, Protocol: "mqtt", AllowAnonymous: true})
	}
	for i, l := range res.Listeners {
		anon := res.Config.AllowAnonymous
		if i < len(res.Config.Listeners) && res.Config.Listeners[i].Security != nil {
			anon = res.Config.Listeners[i].Security.AllowAnonymous
		}
		protocol := "mqtt"
		if l.Protocol == "websockets" {
			protocol = "websockets"
		}
		out = append(out, describe(l, protocol, anon))
	}
	for _, l := range res.HTTPListeners {
		anon := res.Config.AllowAnonymous
		if l.Scope != nil {
			anon = l.Scope.AllowAnonymous
		}
		out = append(out, describe(l, "httpapi", anon))
	}
	return out
}
