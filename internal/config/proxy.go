package config

import "github.com/midge-mqtt/midge/broker"

// checkProxy builds a listener's PROXY protocol options (enable_proxy_protocol,
// proxy_protocol_v2_require_tls) into bl.
func (p *parser) checkProxy(ls *lstate, bl *broker.Listener) {
	if ls.proxyRequireTLS && ls.proxy != 2 {
		p.errorf(ls.proxyTLSPos, "proxy_protocol_v2_require_tls needs enable_proxy_protocol 2")
	}
	if ls.proxy == 0 {
		return
	}
	switch t := &ls.l.TLS; {
	case ls.l.Protocol == "http_api":
		p.errorf(ls.proxyPos, "enable_proxy_protocol is not supported on a listener with protocol http_api")
		return
	case ls.l.Protocol == "websockets" && t.UseIdentityAsUsername && t.CertFile == "":
		// The header's TLS information reaches MQTT listeners only.
		p.errorf(ls.proxyPos, "use_identity_as_username with enable_proxy_protocol and no certfile needs protocol mqtt")
		return
	}
	bl.ProxyProtocol = ls.proxy
	bl.ProxyRequireTLS = ls.proxyRequireTLS
}
