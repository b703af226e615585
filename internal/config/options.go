package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/logging"
)

// handler applies one option line; rest is the text after the option name.
type handler func(p *parser, pos Position, name, rest string)

// KnownOptions returns the names of every option the parser knows: those it
// implements and those it refuses by name. plugin_opt_* and auth_opt_* are
// listed as such.
func KnownOptions() []string {
	var out []string
	for n := range optionHandlers() {
		out = append(out, n)
	}
	return append(out, "include_dir", "plugin_opt_*", "auth_opt_*")
}

// optionHandlers returns the handler of each option but include_dir and
// the plugin_opt_*/auth_opt_* family.
func optionHandlers() map[string]handler {
	cfg := func(p *parser) *broker.Config { return &p.res.Config }
	boolOpt := func(set func(p *parser, v bool)) handler {
		return func(p *parser, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok {
				set(p, v)
			}
		}
	}
	refused := func(why string) handler {
		return func(p *parser, pos Position, name, _ string) { p.refuse(pos, name, why) }
	}
	m := map[string]handler{
		// Security, global or per listener.
		"allow_anonymous": func(p *parser, pos Position, name, rest string) {
			if p.perListener {
				p.res.Warnings = append(p.res.Warnings, Warning{Pos: pos, Notice: true,
					Msg: "You are using the 'allow_anonymous' option with 'per_listener_settings true'. Please replace this with 'listener_allow_anonymous'."})
			}
			s, ok := p.scope(pos, name)
			if !ok {
				return
			}
			if v, ok := p.boolean(pos, name, rest); ok {
				s.anon = &v
			}
		},
		"allow_zero_length_clientid": func(p *parser, pos Position, name, rest string) {
			s, ok := p.scope(pos, name)
			if !ok {
				return
			}
			if v, ok := p.boolean(pos, name, rest); ok {
				s.zeroLen, s.zeroLenPos = &v, pos
			}
		},
		"auto_id_prefix": func(p *parser, pos Position, name, rest string) {
			p.deprecated(pos, name, "Please use 'listener_auto_id_prefix' instead.")
			s, ok := p.scope(pos, name)
			if !ok {
				return
			}
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, "auto_id_prefix "+p.scopeKey(s), name) {
				if len(v) > 50 {
					p.errorf(pos, "auto_id_prefix longer than 50 bytes")
					return
				}
				s.autoID, s.autoIDPos = v, pos
			}
		},
		"password_file": func(p *parser, pos Position, name, rest string) {
			s, ok := p.scope(pos, name)
			if !ok {
				return
			}
			if v, ok := p.str(pos, name, rest); ok {
				p.replaced(pos, "password_file "+p.scopeKey(s), name)
				s.passwordFile, s.passwordPos = v, pos
			}
		},
		"acl_file": func(p *parser, pos Position, name, rest string) {
			s, ok := p.scope(pos, name)
			if !ok {
				return
			}
			if v, ok := p.str(pos, name, rest); ok {
				p.replaced(pos, "acl_file "+p.scopeKey(s), name)
				s.aclFile, s.aclPos = v, pos
			}
		},
		"acl_check_subscribe": boolOpt(func(p *parser, v bool) { p.aclCheckSubscribe = v }),
		"per_listener_settings": func(p *parser, pos Position, name, rest string) {
			p.deprecated(pos, name, "Please see the documentation for how to achieve the same effect.")
			v, ok := p.boolean(pos, name, rest)
			if !ok || p.perListener {
				return // once true it stays true, as in Mosquitto
			}
			if v && p.secUsed.File != "" {
				p.errorf(pos, "per_listener_settings must be set before any other security option (%s)", p.secUsed)
				return
			}
			p.perListener = v
			p.res.PerListenerSettings = v
		},
		"psk_file": refused("TLS-PSK is not available in Go's TLS"),
		"clientid_prefixes": func(p *parser, pos Position, name, _ string) {
			p.deprecated(pos, name, "")
			p.refuse(pos, name, "it is deprecated in Mosquitto; use an ACL file")
		},

		// Plugins: the acl-file and password-file plugins of Mosquitto 2.1.
		"plugin":      (*parser).pluginLine,
		"auth_plugin": (*parser).pluginLine,
		"global_plugin": func(p *parser, pos Position, name, rest string) {
			p.pluginLine(pos, name, rest)
		},
		"plugin_load": (*parser).pluginLoad,
		"plugin_use":  (*parser).pluginUse,
		"auth_plugin_deny_special_chars": func(p *parser, pos Position, name, rest string) {
			if p.curPlugin == nil {
				p.errorf(pos, "%s must follow a plugin line", name)
				return
			}
			p.boolean(pos, name, rest) // the acl-file plugin refuses + and # in names anyway
		},

		// Limits and behaviour.
		"allow_duplicate_messages": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok {
				cfg(p).AllowDuplicateMessages = v
				p.deprecated(pos, name, "The behaviour will default to true.")
			}
		},
		"autosave_interval": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				v = max(v, 0)
				p.res.Persistence.AutosaveInterval = time.Duration(v) * time.Second
				p.res.Persistence.AutosaveChanges = v
			}
		},
		"autosave_on_changes": boolOpt(func(p *parser, v bool) { p.res.Persistence.AutosaveOnChanges = v }),
		"check_retain_source": boolOpt(func(p *parser, v bool) { p.res.CheckRetainSource = v }),
		"connection_messages": boolOpt(func(p *parser, v bool) { cfg(p).QuietConnections = !v }),
		"enable_control_api": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok {
				p.res.EnableControlAPI = v
			}
		},
		"global_max_clients": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				cfg(p).MaxSessions = max(v, 0) // -1 and 0: no limit, as in Mosquitto
			}
		},
		"global_max_connections": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				cfg(p).MaxConnections = max(v, 0)
			}
		},
		"max_inflight_bytes": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				cfg(p).MaxInflightBytes = max(v, 0)
			}
		},
		"max_inflight_messages": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v > 65535:
				p.errorf(pos, "max_inflight_messages must be at most 65535, not %d", v)
			case v <= 0 || v == 65535:
				cfg(p).MaxInflightMessages = broker.Unlimited
			default:
				cfg(p).MaxInflightMessages = v
			}
		},
		"max_keepalive": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 65535:
				p.errorf(pos, "invalid max_keepalive value %d: must be 0 to 65535", v)
			default:
				cfg(p).MaxKeepalive = v // 0: no limit (2.1), the broker's default
			}
		},
		"max_packet_size": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 20:
				p.errorf(pos, "invalid max_packet_size value %d: must be at least 20", v)
			default:
				cfg(p).MaxPacketSize = v
			}
		},
		"max_queued_bytes": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				cfg(p).MaxQueuedBytes = max(v, 0)
			}
		},
		"max_queued_messages": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				if v <= 0 {
					cfg(p).MaxQueuedMessages = broker.Unlimited
				} else {
					cfg(p).MaxQueuedMessages = v
				}
			}
		},
		"memory_limit": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok && v != 0 {
				p.refuse(pos, name, "a hard heap limit cannot be enforced by the Go runtime (see GOMEMLIMIT)")
			}
		},
		"message_size_limit": func(p *parser, pos Position, name, rest string) {
			p.res.Warnings = append(p.res.Warnings, Warning{Pos: pos, Notice: true,
				Msg: "Note: It is recommended to replace `message_size_limit` with `max_packet_size`."}) // 2.1's words
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 268435455:
				p.errorf(pos, "invalid message_size_limit value %d: must be 0 to 268435455", v)
			default:
				cfg(p).MessageSizeLimit = v
			}
		},
		"persistence":          boolOpt(func(p *parser, v bool) { p.res.Persistence.Enabled = v }),
		"retained_persistence": boolOpt(func(p *parser, v bool) { p.res.Persistence.Enabled = v }),
		"persistence_file": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
				p.res.Persistence.File = v
			}
		},
		"persistence_sync": func(p *parser, pos Position, name, rest string) {
			v, ok := p.str(pos, name, rest)
			if !ok {
				return
			}
			switch v {
			case "always":
				p.res.Persistence.Periodic = false
			case "periodic":
				p.res.Persistence.Periodic = true
			default:
				p.errorf(pos, "invalid persistence_sync value %q: use always or periodic", v)
			}
		},
		"persistence_sync_interval": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				if v < 1 {
					p.errorf(pos, "invalid persistence_sync_interval %d: must be at least 1 (seconds)", v)
					return
				}
				p.res.Persistence.SyncInterval = time.Duration(v) * time.Second
			}
		},
		"persistence_location": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
				p.res.Persistence.Location = v
			}
		},
		"persistent_client_expiration": func(p *parser, pos Position, name, rest string) {
			t, ok := p.token(pos, name, rest)
			if !ok {
				return
			}
			d, err := expiration(t)
			if err != "" {
				p.errorf(pos, "invalid persistent_client_expiration %q: %s", t, err)
				return
			}
			cfg(p).PersistentClientExpiration = d
		},
		"pid_file": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
				p.res.PIDFile = v
			}
		},
		"queue_qos0_messages":  boolOpt(func(p *parser, v bool) { cfg(p).QueueQoS0Messages = v }),
		"retain_available":     boolOpt(func(p *parser, v bool) { cfg(p).RetainUnavailable = !v }),
		"upgrade_outgoing_qos": boolOpt(func(p *parser, v bool) { cfg(p).UpgradeOutgoingQoS = v }),
		"retain_expiry_interval": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				if v < 1 {
					p.errorf(pos, "retain_expiry_interval must be at least 1")
					return
				}
				if v > 10000000 {
					p.warnf(pos, "retain_expiry_interval being capped at 19 years.") // Mosquitto's words
					v = 10000000
				}
				cfg(p).RetainExpiryInterval = time.Duration(v) * time.Minute
			}
		},
		"retry_interval": func(p *parser, pos Position, name, _ string) {
			p.warnf(pos, "The 'retry_interval' option is no longer available.") // Mosquitto 2.1's words
		},
		"set_tcp_nodelay": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok && !v {
				p.warnf(pos, "set_tcp_nodelay false has no effect: midge always disables Nagle's algorithm (Go's default)")
			}
		},
		"sys_interval": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 65535:
				p.errorf(pos, "invalid sys_interval value %d: must be 0 to 65535", v)
			case v == 0:
				cfg(p).SysInterval = broker.Unlimited // disabled
			default:
				cfg(p).SysInterval = time.Duration(v) * time.Second
			}
		},
		"user": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok {
				p.res.User = v
			}
		},
		"websockets_log_level": func(p *parser, pos Position, name, rest string) {
			if _, ok := p.integer(pos, name, rest); ok {
				p.warnf(pos, "websockets_log_level has no effect: midge logs WebSocket connections like MQTT ones")
			}
		},
		"websockets_headers_size": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 65535:
				p.errorf(pos, "invalid %s value %d: must be 0 to 65535", name, v)
			default:
				// A global option in Mosquitto, wherever it is written.
				p.wsHeadersSize = v
			}
		},
		"packet_buffer_size": packetBufferSize,

		// The dashboard and HTTP API (protocol http_api): midge's own.
		"http_api_admin": func(p *parser, pos Position, name, rest string) {
			n := 0
			for _, u := range strings.FieldsFunc(rest, blank) {
				if strings.HasPrefix(u, "#") {
					break
				}
				p.res.HTTPAPI.Admins = append(p.res.HTTPAPI.Admins, u)
				n++
			}
			if n == 0 {
				p.errorf(pos, "empty %s value", name)
			}
		},
		"http_api_history": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 1 || v > 10000:
				p.errorf(pos, "invalid http_api_history value %d: must be 1 to 10000", v)
			default:
				p.res.HTTPAPI.History = v
			}
		},

		// Logging.
		"log_dest":      (*parser).logDest,
		"log_type":      (*parser).logType,
		"log_timestamp": boolOpt(func(p *parser, v bool) { p.res.Log.NoTimestamp = !v }),
		"log_timestamp_format": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
				p.res.Log.TimestampFormat = v
			}
		},
		"log_facility": func(p *parser, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 7:
				p.errorf(pos, "invalid log_facility value %d: must be 0 to 7 (local0 to local7)", v)
			default:
				p.res.Log.SyslogFacility = "local" + strconv.Itoa(v)
			}
		},

		// Listeners.
		"listener": (*parser).listenerLine,
		"port": func(p *parser, pos Position, name, rest string) {
			p.deprecated(pos, name, "Please use 'listener' instead.")
			p.localOnly = false
			v, ok := p.integer(pos, name, rest)
			if !ok {
				return
			}
			if v < 1 || v > 65535 {
				p.errorf(pos, "invalid port value %d", v)
				return
			}
			l := p.defaultListener(pos, name)
			if prev, dup := p.seen["port"]; dup {
				p.warnf(pos, "default listener port given again (first at %s); the last one is used", prev)
			}
			p.seen["port"] = pos
			l.l.Port = v
			p.cur = l
		},
		"bind_address": func(p *parser, pos Position, name, rest string) {
			p.deprecated(pos, name, "")
			p.localOnly = false
			v, ok := p.str(pos, name, rest)
			if !ok || !p.once(pos, name, name) {
				return
			}
			l := p.defaultListener(pos, name)
			l.l.Host = v
			p.cur = l
		},
		"bind_interface": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, false)
			if !ok {
				return
			}
			if v, ok := p.str(pos, name, rest); ok {
				l.l.Interface = v
			}
		},
		"max_connections": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, false)
			if !ok {
				return
			}
			if v, ok := p.integer(pos, name, rest); ok {
				l.maxConnections = max(v, -1)
				if v < 0 {
					l.maxConnections = -1
				}
			}
		},
		"max_qos":     maxQoS,
		"maximum_qos": maxQoS,
		"max_topic_alias": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, false)
			if !ok {
				return
			}
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 65535:
				p.errorf(pos, "invalid max_topic_alias value %d: must be 0 to 65535", v)
			default:
				l.maxTopicAlias, l.aliasPos = v, pos
			}
		},
		"max_topic_alias_broker": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, true)
			if !ok {
				return
			}
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v < 0 || v > 65535:
				p.errorf(pos, "invalid max_topic_alias_broker value %d: must be 0 to 65535", v)
			default:
				l.aliasOut = v // per listener, as in Mosquitto 2.1
			}
		},
		"mount_point": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, true)
			if !ok {
				return
			}
			v, ok := p.str(pos, name, rest)
			if !ok {
				return
			}
			if strings.ContainsAny(v, "+#") {
				p.errorf(pos, "invalid mount_point %q: it must not contain a wildcard", v)
				return
			}
			p.replaced(pos, "mount_point "+l.l.Pos.String(), name)
			l.mountPoint = v
		},
		"listener_allow_anonymous": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, true)
			if !ok {
				return
			}
			if v, ok := p.boolean(pos, name, rest); ok {
				l.l.AllowAnonymous = &v
			}
		},
		"listener_auto_id_prefix": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, true)
			if !ok {
				return
			}
			v, ok := p.str(pos, name, rest)
			if !ok || !p.once(pos, "listener_auto_id_prefix "+l.l.Pos.String(), name) {
				return
			}
			if len(v) > 50 {
				p.errorf(pos, "listener_auto_id_prefix longer than 50 bytes")
				return
			}
			if l.sec == nil {
				l.sec = &scopeState{pos: pos}
			}
			l.sec.autoID, l.sec.autoIDPos = v, pos
		},
		"protocol": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, false)
			if !ok {
				return
			}
			v, ok := p.token(pos, name, rest)
			if !ok {
				return
			}
			switch v {
			case "mqtt", "websockets":
				l.l.Protocol = v
			case "http_api":
				if l == p.def {
					p.errorf(pos, "protocol http_api must follow a listener line")
					return
				}
				l.l.Protocol = v
			default:
				p.errorf(pos, "invalid protocol value %q: want mqtt, websockets or http_api", v)
			}
		},
		"socket_domain": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, false)
			if !ok {
				return
			}
			v, ok := p.token(pos, name, rest)
			if !ok {
				return
			}
			if v != "ipv4" && v != "ipv6" {
				p.errorf(pos, "invalid socket_domain value %q: want ipv4 or ipv6", v)
				return
			}
			l.l.Domain = v
		},
		"use_username_as_clientid": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, false)
			if !ok {
				return
			}
			if v, ok := p.boolean(pos, name, rest); ok {
				l.useUsername = v
			}
		},
		"accept_protocol_versions": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, true)
			if !ok {
				return
			}
			var vs []byte
			for _, f := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || blank(r) }) {
				if strings.HasPrefix(f, "#") {
					break
				}
				switch f {
				case "3", "4", "5":
					if v := f[0] - '0'; !slices.Contains(vs, v) {
						vs = append(vs, v)
					}
				default:
					p.errorf(pos, "invalid accept_protocol_versions value %q: must be 3 (MQTT 3.1), 4 (3.1.1) or 5, separated by commas", f)
					return
				}
			}
			if len(vs) == 0 {
				p.errorf(pos, "empty accept_protocol_versions value")
				return
			}
			l.versions = vs
		},
		"enable_proxy_protocol": func(p *parser, pos Position, name, rest string) {
			l, ok := p.listener(pos, name, true)
			if !ok {
				return
			}
			switch v, ok := p.integer(pos, name, rest); {
			case !ok:
			case v != 1 && v != 2:
				p.errorf(pos, "invalid enable_proxy_protocol value %d: must be 1 or 2", v)
			default:
				l.proxy, l.proxyPos = v, pos
			}
		},
		"proxy_protocol_v2_require_tls": func(p *parser, pos Position, name, rest string) {
			if l, ok := p.listener(pos, name, true); ok {
				if v, ok := p.boolean(pos, name, rest); ok {
					l.proxyRequireTLS, l.proxyTLSPos = v, pos
				}
			}
		},
		"mptcp": func(p *parser, pos Position, name, rest string) {
			if _, ok := p.listener(pos, name, true); !ok {
				return
			}
			if v, ok := p.boolean(pos, name, rest); ok && v {
				p.refuse(pos, name, "Multipath TCP listeners are not implemented yet")
			}
		},
		"http_dir": func(p *parser, pos Position, name, rest string) {
			if l, ok := p.listener(pos, name, true); ok {
				if v, ok := p.str(pos, name, rest); ok {
					l.l.HTTPDir = v
				}
			}
		},
		"websockets_origin": func(p *parser, pos Position, name, rest string) {
			if l, ok := p.listener(pos, name, true); ok {
				if v, ok := p.str(pos, name, rest); ok {
					l.l.WebsocketsOrigins = append(l.l.WebsocketsOrigins, v)
				}
			}
		},

		// TLS: built into a tls.Config per listener (see checkListenerSupport).
		"cafile":                          tlsString(func(t *TLS) *string { return &t.CAFile }),
		"capath":                          tlsString(func(t *TLS) *string { return &t.CAPath }),
		"certfile":                        tlsString(func(t *TLS) *string { return &t.CertFile }),
		"keyfile":                         tlsString(func(t *TLS) *string { return &t.KeyFile }),
		"ciphers":                         tlsString(func(t *TLS) *string { return &t.Ciphers }),
		"ciphers_tls1.3":                  tlsString(func(t *TLS) *string { return &t.CiphersTLS13 }),
		"crlfile":                         tlsString(func(t *TLS) *string { return &t.CRLFile }),
		"dhparamfile":                     tlsString(func(t *TLS) *string { return &t.DHParamFile }),
		"tls_version":                     tlsString(func(t *TLS) *string { return &t.Version }),
		"tls_keyform":                     tlsString(func(t *TLS) *string { return &t.Keyform }),
		"tls_engine":                      tlsString(func(t *TLS) *string { return &t.Engine }),
		"tls_engine_kpass_sha1":           tlsString(func(t *TLS) *string { return &t.EngineKpassSHA1 }),
		"psk_hint":                        tlsString(func(t *TLS) *string { return &t.PSKHint }),
		"require_certificate":             tlsBool(func(t *TLS) *bool { return &t.RequireCertificate }),
		"use_identity_as_username":        tlsBool(func(t *TLS) *bool { return &t.UseIdentityAsUsername }),
		"use_subject_as_username":         tlsBool(func(t *TLS) *bool { return &t.UseSubjectAsUsername }),
		"disable_client_cert_date_checks": tlsBool(func(t *TLS) *bool { return &t.DisableClientCertDateChecks }),
	}
	for n, h := range bridgeHandlers() {
		m[n] = h
	}
	for n, h := range clusterHandlers() {
		m[n] = h
	}
	return m
}

// packetBufferSize handles packet_buffer_size (Mosquitto 2.1), which 2.1
// made the same global option as websockets_headers_size: it bounds the
// HTTP request of a WebSocket upgrade. midge's MQTT read buffers grow as
// needed, so it has no other effect.
func packetBufferSize(p *parser, pos Position, name, rest string) {
	v, ok := p.integer(pos, name, rest)
	switch {
	case !ok:
	case v < 0 || v > 65535:
		p.errorf(pos, "invalid %s value %d: must be 0 to 65535", name, v)
	default:
		p.wsHeadersSize = v
	}
}

func maxQoS(p *parser, pos Position, name, rest string) {
	l, ok := p.listener(pos, name, false)
	if !ok {
		return
	}
	v, ok := p.integer(pos, name, rest)
	switch {
	case !ok:
	case v < 0 || v > 2:
		p.errorf(pos, "invalid %s value %d: must be 0, 1 or 2", name, v)
	default:
		l.maxQoS, l.maxQoSPos = v, pos
	}
}

func tlsString(field func(*TLS) *string) handler {
	return func(p *parser, pos Position, name, rest string) {
		l, ok := p.listener(pos, name, false)
		if !ok {
			return
		}
		if v, ok := p.str(pos, name, rest); ok {
			*field(&l.l.TLS) = v
			if l.l.TLS.Pos.File == "" {
				l.l.TLS.Pos = pos
			}
		}
	}
}

func tlsBool(field func(*TLS) *bool) handler {
	return func(p *parser, pos Position, name, rest string) {
		l, ok := p.listener(pos, name, false)
		if !ok {
			return
		}
		if v, ok := p.boolean(pos, name, rest); ok {
			*field(&l.l.TLS) = v
			if v && l.l.TLS.Pos.File == "" {
				l.l.TLS.Pos = pos
			}
		}
	}
}

// expiration parses persistent_client_expiration: a number followed by s
// (Mosquitto 2.1), h, d, w, m (30 days) or y (365 days).
func expiration(t string) (time.Duration, string) {
	if len(t) < 2 {
		return 0, "want a number followed by s, h, d, w, m or y"
	}
	var unit time.Duration
	switch t[len(t)-1] {
	case 's':
		unit = time.Second
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	case 'm':
		unit = 30 * 24 * time.Hour
	case 'y':
		unit = 365 * 24 * time.Hour
	default:
		return 0, "want a number followed by s, h, d, w, m or y"
	}
	n, err := strconv.Atoi(t[:len(t)-1])
	if err != nil || n <= 0 {
		return 0, "the number must be a positive integer"
	}
	if n > int(1<<62/unit) {
		return 0, "too long"
	}
	return time.Duration(n) * unit, ""
}

// listenerLine handles "listener PORT [ADDRESS|SOCKET]".
func (p *parser) listenerLine(pos Position, name, rest string) {
	p.localOnly = false
	f := strings.FieldsFunc(rest, blank)
	if len(f) == 0 {
		p.errorf(pos, "empty listener value")
		return
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port < 0 || port > 65535 {
		p.errorf(pos, "invalid listener port %q", f[0])
		return
	}
	host := ""
	if len(f) > 1 && !strings.HasPrefix(f[1], "#") {
		host = f[1]
		if len(f) > 2 && !strings.HasPrefix(f[2], "#") {
			p.warnf(pos, "listener: text after the address ignored: %q", strings.Join(f[2:], " "))
		}
	}
	l := Listener{Pos: pos, Port: port}
	if port == 0 {
		if host == "" {
			p.errorf(pos, "a listener with port 0 must give a unix socket path")
			return
		}
		l.Socket = host
	} else {
		l.Host = host
	}
	for _, o := range p.listeners {
		if !o.l.Default && o.l.Port == l.Port && o.l.Host == l.Host && o.l.Socket == l.Socket {
			p.errorf(pos, "listener %s is already defined at %s", strings.TrimSpace(f[0]+" "+host), o.l.Pos)
			return
		}
	}
	ls := newListener(l)
	p.listeners = append(p.listeners, ls)
	p.cur = ls
	p.curPlugin = nil
}

// logDest handles "log_dest stdout|stderr|syslog|topic|file PATH|none".
// Mosquitto collects every log_dest line; "none" clears those before it.
func (p *parser) logDest(pos Position, name, rest string) {
	f := strings.FieldsFunc(rest, blank)
	if len(f) == 0 {
		p.errorf(pos, "empty log_dest value")
		return
	}
	t := f[0]
	if t != "file" && len(f) > 1 && !strings.HasPrefix(f[1], "#") {
		p.warnf(pos, "log_dest: text after the value ignored: %q", strings.Join(f[1:], " "))
	}
	d, ok := logging.ParseDest(t)
	if !ok {
		if t == "dlt" || t == "android" {
			p.refuse(pos, name+" "+t, "there is no "+t+" logging in midge")
		} else {
			p.errorf(pos, "invalid log_dest value %q: want stdout, stderr, file, syslog, topic or none", t)
		}
		return
	}
	p.logDestsSet = true
	switch {
	case t == "none":
		p.logDests = 0
	case d == logging.File:
		if p.logFilePos.File != "" {
			p.errorf(pos, "duplicate \"log_dest file\" value (first at %s)", p.logFilePos)
			return
		}
		path := strings.TrimFunc(strings.TrimPrefix(strings.TrimLeftFunc(rest, blank), "file"), blank)
		if path == "" {
			p.errorf(pos, "empty \"log_dest file\" value")
			return
		}
		p.logFilePos = pos
		p.res.Log.File = path
		p.logDests |= d
	default:
		p.logDests |= d
	}
}

// logType handles "log_type TYPE"; Mosquitto collects every log_type line.
func (p *parser) logType(pos Position, name, rest string) {
	t, ok := p.token(pos, name, rest)
	if !ok {
		return
	}
	ty, ok := logging.ParseType(t)
	if !ok {
		p.errorf(pos, "invalid log_type value %q", t)
		return
	}
	p.res.LogTypesSet = true
	switch t {
	case "none", "all":
		p.logTypes = ty
	default:
		p.logTypes |= ty
	}
}
