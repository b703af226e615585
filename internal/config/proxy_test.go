package config_test

import (
	"strings"
	"testing"
)

func TestProxyProtocolOptions(t *testing.T) {
	t.Parallel()
	ws := mustParse(t, "listener 8080\nprotocol websockets\nenable_proxy_protocol 1\n")
	if l := ws.Config.Listeners[0]; !l.WebSocket || l.ProxyProtocol != 1 {
		t.Errorf("websockets with PROXY: %+v", l)
	}
	r := mustParse(t, "listener 1883\nenable_proxy_protocol 1\nlistener 1884\nenable_proxy_protocol 2\nproxy_protocol_v2_require_tls true\n"+
		"listener 8883\nenable_proxy_protocol 2\nrequire_certificate true\nuse_identity_as_username true\nlistener 1885\n")
	ls := r.Config.Listeners
	if len(ls) != 4 {
		t.Fatalf("listeners %+v", ls)
	}
	if ls[0].ProxyProtocol != 1 || ls[0].ProxyRequireTLS || ls[1].ProxyProtocol != 2 || !ls[1].ProxyRequireTLS {
		t.Errorf("PROXY options %+v %+v", ls[0], ls[1])
	}
	// TLS terminated by the proxy: no certificate of midge's own.
	if l := ls[2]; l.ProxyProtocol != 2 || l.TLS != nil || !l.ProxyRequireCertificate || !l.UseIdentityAsUsername {
		t.Errorf("proxy-terminated TLS %+v", l)
	}
	if ls[3].ProxyProtocol != 0 {
		t.Errorf("a listener without the option: %+v", ls[3])
	}
	for text, want := range map[string]string{
		"listener 1883\nenable_proxy_protocol 3\n":                                                                               "m.conf:2: invalid enable_proxy_protocol value 3",
		"listener 1883\nenable_proxy_protocol x\n":                                                                               "m.conf:2:",
		"listener 1883\nenable_proxy_protocol 1\nproxy_protocol_v2_require_tls true\n":                                           "m.conf:3: proxy_protocol_v2_require_tls needs enable_proxy_protocol 2",
		"listener 8080 127.0.0.1\nprotocol http_api\nenable_proxy_protocol 1\n":                                                  "m.conf:3: enable_proxy_protocol is not supported on a listener with protocol http_api",
		"listener 1883\nprotocol websockets\nenable_proxy_protocol 2\nuse_identity_as_username true\nrequire_certificate true\n": "needs protocol mqtt",
		"listener 1883\nenable_proxy_protocol 2\nuse_subject_as_username true\n":                                                 "use_subject_as_username cannot work behind a PROXY protocol proxy",
		"enable_proxy_protocol 2\n":                                                                                              "enable_proxy_protocol",
	} {
		_, err := parse(t, text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
