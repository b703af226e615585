package config

import (
	"errors"
	"fmt"
	"github.com/midge-mqtt/midge/internal/tlsconf"
	"net"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
)

// build turns the parsed state into p.res, recording every remaining error.
func (p *parser) build() {
	res := p.res
	cfg := &res.Config
	p.buildBridges()
	p.buildCluster()
	if p.logDestsSet {
		res.Log.Dests = p.logDests
	}
	if res.LogTypesSet {
		res.Log.Types = p.logTypes
	}
	mqttListeners := 0
	for _, ls := range p.listeners {
		if ls.l.Protocol != "http_api" {
			mqttListeners++
		}
	}
	res.LocalOnly = mqttListeners == 0
	if p.def != nil && p.localOnly {
		p.warnf(p.def.l.Pos, "this default listener listens on every interface; unlike Mosquitto, midge admits anonymous clients there only with allow_anonymous true")
	}
	p.checkDynsec()
	for name, pl := range p.plugins {
		if pl.kind != "" && !pl.used {
			p.warnf(pl.pos, "plugin %q is loaded but no listener uses it (plugin_use)", name)
		}
	}

	// The global scope.
	gs := p.makeScope("", p.global, res.LocalOnly)
	res.Scopes = append(res.Scopes, gs)
	cfg.AllowAnonymous = gs.AllowAnonymous
	cfg.Authenticators = gs.Security.Authenticators
	cfg.Authorizers = gs.Security.Authorizers
	cfg.SkipRetainSourceCheck = !res.CheckRetainSource
	if p.perListener {
		// Every listener has its own scope; the global one only serves a
		// listener added by the caller (-p).
		cfg.AllowAnonymous = res.LocalOnly
	}

	globalID := p.global.autoID
	if globalID == "" {
		globalID = "auto-"
	}
	if globalID != "auto-" {
		cfg.AutoIDPrefix = globalID
	}
	cfg.DenyZeroLengthClientID = p.global.zeroLen != nil && !*p.global.zeroLen
	for _, ls := range p.listeners {
		l := &ls.l
		if l.Protocol == "http_api" {
			p.buildHTTPListener(ls, gs)
			continue
		}
		bl := broker.Listener{
			Interface:             l.Interface,
			MaxConnections:        max(ls.maxConnections, 0),
			MountPoint:            ls.mountPoint,
			UseUsernameAsClientID: ls.useUsername,
		}
		var err string
		bl.Network, bl.Address, err = l.address()
		if err != "" {
			p.errorf(l.Pos, "%s", err)
		}
		p.checkListenerSupport(ls, &bl)

		// Security.
		key := listenerKey(*l)
		anon, pwFile := cfg.AllowAnonymous, gs.PasswordFile+gs.DynsecFile
		switch {
		case p.perListener:
			sc := p.makeScope(key, ls.sec, false)
			if l.AllowAnonymous != nil {
				sc.AllowAnonymous = *l.AllowAnonymous
				sc.Security.AllowAnonymous = sc.AllowAnonymous
			}
			l.Scope = sc
			res.Scopes = append(res.Scopes, sc)
			bl.Security = sc.Security
			anon, pwFile = sc.AllowAnonymous, sc.PasswordFile+sc.DynsecFile
		case ls.sec != nil && (ls.sec.passwordFile != "" || ls.sec.aclFile != "" || ls.sec.dynsecFile != ""):
			// plugin_use: this listener's plugin files, the global ones
			// for what it has none of.
			merged := p.withGlobalFiles(ls.sec)
			merged.anon = p.global.anon
			if l.AllowAnonymous != nil {
				merged.anon = l.AllowAnonymous
			}
			sc := p.makeScope(key, &merged, false)
			l.Scope = sc
			res.Scopes = append(res.Scopes, sc)
			bl.Security = sc.Security
			anon, pwFile = sc.AllowAnonymous, sc.PasswordFile+sc.DynsecFile
		case l.AllowAnonymous != nil:
			bl.Security = &broker.Security{AllowAnonymous: *l.AllowAnonymous, Authenticators: gs.Security.Authenticators, Authorizers: gs.Security.Authorizers}
			anon = *l.AllowAnonymous
		}
		if !anon && pwFile == "" && !l.TLS.UseIdentityAsUsername && !l.TLS.UseSubjectAsUsername {
			// As in Mosquitto, without an Authenticator allow_anonymous
			// decides for every client, user name or not.
			p.warnf(l.Pos, "listener %s has allow_anonymous false and no password_file (nor dynamic security): no client can connect", key)
		}

		// Options Mosquitto sets per listener.
		switch ls.maxQoS {
		case -1, 2:
		case 0:
			bl.MaxQoS = broker.QoS0Only
		default:
			bl.MaxQoS = ls.maxQoS
		}
		switch ls.maxTopicAlias {
		case -1:
		case 0:
			bl.MaxTopicAlias = broker.Unlimited // Mosquitto's 0: no topic aliases
		default:
			bl.MaxTopicAlias = ls.maxTopicAlias
		}
		switch ls.aliasOut {
		case -1:
		case 0:
			bl.MaxTopicAliasOut = broker.Unlimited // none
		default:
			bl.MaxTopicAliasOut = ls.aliasOut
		}
		bl.ProtocolVersions = ls.versions
		if p.perListener {
			// Each listener has its own auto_id_prefix and
			// allow_zero_length_clientid, defaulting to Mosquitto's.
			id, zero := "auto-", true
			if ls.sec != nil {
				if ls.sec.autoID != "" {
					id = ls.sec.autoID
				}
				if ls.sec.zeroLen != nil {
					zero = *ls.sec.zeroLen
				}
			}
			bl.AutoIDPrefix, bl.AllowZeroLengthClientID = id, &zero
		} else if ls.sec != nil {
			// listener_auto_id_prefix, listener_allow_zero_length_clientid.
			bl.AutoIDPrefix = ls.sec.autoID
			bl.AllowZeroLengthClientID = ls.sec.zeroLen
		}

		cfg.Listeners = append(cfg.Listeners, bl)
		res.Listeners = append(res.Listeners, *l)
	}
}

// checkListenerSupport builds a listener's TLS and WebSocket settings into
// bl, and refuses what Go's TLS cannot do.
func (p *parser) checkListenerSupport(ls *lstate, bl *broker.Listener) {
	l := &ls.l
	t := &l.TLS
	p.checkProxy(ls, bl)
	switch {
	case ls.proxy == 2 && t.Set() && t.CertFile == "" && t.KeyFile == "" && t.CAFile == "" && t.CAPath == "":
		// The proxy terminates TLS and says what it saw (PROXY v2).
		if t.UseSubjectAsUsername {
			p.errorf(t.Pos, "use_subject_as_username cannot work behind a PROXY protocol proxy: it sends the certificate's Common Name only (use use_identity_as_username)")
		}
		bl.ProxyRequireCertificate = t.RequireCertificate
		bl.UseIdentityAsUsername = t.UseIdentityAsUsername
		if t.UseIdentityAsUsername && !t.RequireCertificate {
			p.warnf(t.Pos, "use_identity_as_username needs require_certificate true; without it a client without a certificate is refused")
		}
	case t.Engine != "" || t.EngineKpassSHA1 != "" || t.Keyform == "engine":
		p.refuse(t.Pos, "tls_engine", "OpenSSL engines do not exist in Go's TLS")
	case t.PSKHint != "":
		p.refuse(t.Pos, "psk_hint", "TLS-PSK is not available in Go's TLS")
	case t.Set():
		if t.DHParamFile != "" {
			p.warnf(t.Pos, "dhparamfile has no effect: Go's TLS uses only elliptic-curve key exchange")
		}
		if t.CiphersTLS13 != "" {
			p.warnf(t.Pos, "ciphers_tls1.3 has no effect: Go's TLS always offers all three TLS 1.3 suites")
		}
		srv, err := tlsconf.New(tlsconf.Settings{
			CAFile: t.CAFile, CAPath: t.CAPath, CertFile: t.CertFile, KeyFile: t.KeyFile, CRLFile: t.CRLFile,
			Version: t.Version, Ciphers: t.Ciphers, RequireCertificate: t.RequireCertificate,
			DisableClientCertDateChecks: t.DisableClientCertDateChecks,
		})
		if err != nil {
			p.errorf(t.Pos, "%v", err)
			break
		}
		l.TLSServer = srv
		bl.TLS = srv.Config()
		if (t.UseIdentityAsUsername || t.UseSubjectAsUsername) && !t.RequireCertificate {
			p.warnf(t.Pos, "use_identity_as_username and use_subject_as_username need require_certificate true; without it no client has a certificate to name it")
		}
		bl.UseIdentityAsUsername = t.UseIdentityAsUsername
		bl.UseSubjectAsUsername = t.UseSubjectAsUsername
	}
	if l.Protocol == "websockets" {
		bl.WebSocket = true
		bl.HTTPDir = l.HTTPDir
		bl.WebSocketOrigins = l.WebsocketsOrigins
		bl.WebSocketHeadersSize = p.wsHeadersSize
	} else if l.Protocol == "http_api" && len(l.WebsocketsOrigins) > 0 {
		p.errorf(l.Pos, "websockets_origin needs protocol websockets")
	} else if l.Protocol != "http_api" && (l.HTTPDir != "" || len(l.WebsocketsOrigins) > 0) {
		p.errorf(l.Pos, "http_dir and websockets_origin need protocol websockets")
	}
}

// buildHTTPListener adds an http_api listener to res.HTTPListeners with its
// TLS configuration and security scope. It refuses one that would serve
// everybody without a login: no password file and an address other than
// loopback.
func (p *parser) buildHTTPListener(ls *lstate, global *Scope) {
	l := &ls.l
	if _, _, err := l.address(); err != "" {
		p.errorf(l.Pos, "%s", err)
	}
	var bl broker.Listener
	p.checkListenerSupport(ls, &bl)
	if ls.maxConnections >= 0 || ls.mountPoint != "" || ls.useUsername || ls.maxQoS >= 0 || ls.maxTopicAlias >= 0 {
		p.warnf(l.Pos, "max_connections, mount_point, use_username_as_clientid, max_qos and max_topic_alias have no effect on an http_api listener")
	}
	sc := global
	switch {
	case p.perListener:
		sc = p.makeScope(listenerKey(*l), ls.sec, false)
		p.res.Scopes = append(p.res.Scopes, sc)
	case ls.sec != nil && (ls.sec.passwordFile != "" || ls.sec.aclFile != "" || ls.sec.dynsecFile != ""):
		// plugin_use, as for an MQTT listener.
		merged := p.withGlobalFiles(ls.sec)
		sc = p.makeScope(listenerKey(*l), &merged, false)
		p.res.Scopes = append(p.res.Scopes, sc)
	}
	l.Scope = sc
	if sc.PasswordFile == "" && sc.DynsecFile == "" && !l.loopback() {
		p.errorf(l.Pos, "listener %s (protocol http_api) has no password_file (nor dynamic security), so anyone who can reach it could read every message, publish and disconnect clients without logging in: "+
			"set password_file or dynamic security (their users log in to the dashboard), or bind the listener to a loopback address (listener %d 127.0.0.1)", listenerKey(*l), l.Port)
	}
	p.res.HTTPListeners = append(p.res.HTTPListeners, *l)
}

// loopback reports whether the listener is reachable from this machine
// only: bound to a loopback address or "localhost", or a unix socket.
func (l *Listener) loopback() bool {
	if l.Socket != "" || l.Host == "localhost" {
		return true
	}
	ip := net.ParseIP(l.Host)
	return ip != nil && ip.IsLoopback()
}

// tlsOptionAt names the TLS option that made a listener a TLS listener.
func tlsOptionAt(t *TLS) string {
	switch {
	case t.CertFile != "":
		return "certfile"
	case t.KeyFile != "":
		return "keyfile"
	case t.CAFile != "":
		return "cafile"
	case t.CAPath != "":
		return "capath"
	}
	return "TLS"
}

// NetworkAddress returns the network ("tcp", "tcp4", "tcp6" or "unix") and
// the address to listen on.
func (l *Listener) NetworkAddress() (network, address string) {
	network, address, _ = l.address()
	return network, address
}

// address returns the network and address to listen on.
func (l *Listener) address() (network, address, problem string) {
	if l.Socket != "" {
		return "unix", l.Socket, ""
	}
	network = "tcp"
	switch l.Domain {
	case "ipv4":
		network = "tcp4"
	case "ipv6":
		network = "tcp6"
	}
	if ip := net.ParseIP(l.Host); ip != nil {
		v4 := ip.To4() != nil
		switch {
		case v4 && l.Domain == "ipv6", !v4 && l.Domain == "ipv4":
			return "", "", fmt.Sprintf("socket_domain %s does not match the bind address %s", l.Domain, l.Host)
		case v4:
			network = "tcp4"
		default:
			network = "tcp6"
		}
	}
	return network, net.JoinHostPort(l.Host, strconv.Itoa(l.Port)), ""
}

// listenerKey identifies a listener across reloads, as Mosquitto matches
// them: by port and bind address, or by socket path.
func listenerKey(l Listener) string {
	if l.Socket != "" {
		return "unix:" + l.Socket
	}
	return net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
}

// makeScope builds a Scope from s (nil: all defaults), loading its files.
func (p *parser) makeScope(name string, s *scopeState, anonDefault bool) *Scope {
	sc := &Scope{Name: name, AllowAnonymous: anonDefault, CheckSubscribe: p.aclCheckSubscribe}
	if s != nil {
		if s.anon != nil {
			sc.AllowAnonymous = *s.anon
		}
		sc.PasswordFile, sc.PasswordPos = s.passwordFile, s.passwordPos
		sc.ACLFile, sc.ACLPos = s.aclFile, s.aclPos
		sc.DynsecFile, sc.DynsecPasswordInitFile, sc.DynsecPos = s.dynsecFile, s.dynsecInit, s.dynsecPos
	}
	if sc.DynsecFile == "" && p.global != nil {
		// global_plugin: every listener, with per_listener_settings too.
		sc.DynsecFile, sc.DynsecPasswordInitFile, sc.DynsecPos = p.global.dynsecFile, p.global.dynsecInit, p.global.dynsecPos
	}
	pf, acl, errs := sc.load()
	p.errs = append(p.errs, errs...)
	if pf != nil {
		for _, sk := range pf.Skipped() {
			p.res.Warnings = append(p.res.Warnings, Warning{Pos: Position{File: sc.PasswordFile, Line: sk.Line},
				Msg: sk.Msg, Verbatim: true, Notice: !sk.Error, Error: sk.Error})
		}
	}
	sc.Password, sc.ACL, sc.Dynsec = &broker.Slot{}, &broker.Slot{}, &broker.Slot{}
	sc.setFiles(pf, acl)
	// Plugins come first, as Mosquitto registers a plugin's checks before
	// those of password_file and acl_file.
	sc.Security = &broker.Security{AllowAnonymous: sc.AllowAnonymous,
		Authenticators: []broker.Authenticator{sc.Dynsec, sc.Password}, Authorizers: []broker.Authorizer{sc.Dynsec, sc.ACL}}
	return sc
}

// load reads the scope's password and ACL files.
func (sc *Scope) load() (*auth.PasswordFile, *auth.ACL, []error) {
	var (
		pf   *auth.PasswordFile
		acl  *auth.ACL
		errs []error
		err  error
	)
	if sc.PasswordFile != "" {
		if pf, err = auth.LoadPasswordFile(sc.PasswordFile); err != nil {
			errs = append(errs, fileError(sc.PasswordPos, "password_file", sc.PasswordFile, err))
		}
	}
	if sc.ACLFile != "" {
		if acl, err = auth.LoadACLFile(sc.ACLFile); err != nil {
			errs = append(errs, fileError(sc.ACLPos, "acl_file", sc.ACLFile, err))
		}
	}
	return pf, acl, errs
}

// fileError describes a password or ACL file that cannot be used.
func fileError(pos Position, option, path string, err error) error {
	var se *auth.SyntaxError
	if errors.As(err, &se) {
		return &Error{Pos: Position{File: se.File, Line: se.Line}, Msg: se.Msg + " (" + option + " at " + pos.String() + ")", Err: err}
	}
	msg := fmt.Sprintf("%s %s: %s", option, path, errText(err))
	if strings.Contains(path, " #") {
		msg += " ('#' starts a comment only at the beginning of a line)"
	}
	return &Error{Pos: pos, Msg: msg, Err: err}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// withGlobalFiles returns a copy of a listener's plugin_use settings sec
// that takes the global password, ACL and dynamic security files for those
// it names none of.
func (p *parser) withGlobalFiles(sec *scopeState) scopeState {
	merged := *sec
	if merged.passwordFile == "" {
		merged.passwordFile, merged.passwordPos = p.global.passwordFile, p.global.passwordPos
	}
	if merged.aclFile == "" {
		merged.aclFile, merged.aclPos = p.global.aclFile, p.global.aclPos
	}
	if merged.dynsecFile == "" {
		merged.dynsecFile, merged.dynsecInit, merged.dynsecPos = p.global.dynsecFile, p.global.dynsecInit, p.global.dynsecPos
	}
	return merged
}
