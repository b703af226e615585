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

// The kinds of option value. Each parses the value after the option name
// and hands it to set; an error (the value's, or the scope's) is recorded
// against the line and set is not called.

// boolOpt is a true/false option.
func boolOpt(set func(p *parser, v bool)) handler {
	return func(p *parser, pos Position, name, rest string) {
		if v, ok := p.boolean(pos, name, rest); ok {
			set(p, v)
		}
	}
}

// intOpt is an integer option of any value.
func intOpt(set func(p *parser, v int)) handler {
	return func(p *parser, pos Position, name, rest string) {
		if v, ok := p.integer(pos, name, rest); ok {
			set(p, v)
		}
	}
}

// rangeOpt is an integer option from lo to hi.
func rangeOpt(lo, hi int, set func(p *parser, pos Position, v int)) handler {
	return func(p *parser, pos Position, name, rest string) {
		if v, ok := p.inRange(pos, name, rest, lo, hi); ok {
			set(p, pos, v)
		}
	}
}

// onceStr is a string option Mosquitto refuses to see twice.
func onceStr(set func(p *parser, v string)) handler {
	return func(p *parser, pos Position, name, rest string) {
		if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
			set(p, v)
		}
	}
}

// scoped is a security option: global, or of the current listener under
// per_listener_settings true.
func scoped(h func(p *parser, s *scopeState, pos Position, name, rest string)) handler {
	return func(p *parser, pos Position, name, rest string) {
		if s, ok := p.scope(pos, name); ok {
			h(p, s, pos, name, rest)
		}
	}
}

// scopedFile is a security option naming a file, which 2.1 lets a later
// line replace.
func scopedFile(set func(s *scopeState, v string, pos Position)) handler {
	return scoped(func(p *parser, s *scopeState, pos Position, name, rest string) {
		if v, ok := p.str(pos, name, rest); ok {
			p.replaced(pos, name+" "+p.scopeKey(s), name)
			set(s, v, pos)
		}
	})
}

// onListener is an option of the current listener (of the default one,
// which it creates, unless need says it must follow a listener line).
func onListener(need bool, h func(p *parser, l *lstate, pos Position, name, rest string)) handler {
	return func(p *parser, pos Position, name, rest string) {
		if l, ok := p.listener(pos, name, need); ok {
			h(p, l, pos, name, rest)
		}
	}
}

// listenerBool is a true/false option of the current listener.
func listenerBool(need bool, set func(l *lstate, v bool, pos Position)) handler {
	return onListener(need, func(p *parser, l *lstate, pos Position, name, rest string) {
		if v, ok := p.boolean(pos, name, rest); ok {
			set(l, v, pos)
		}
	})
}

// listenerStr is a string option of the current listener.
func listenerStr(need bool, set func(l *lstate, v string, pos Position)) handler {
	return onListener(need, func(p *parser, l *lstate, pos Position, name, rest string) {
		if v, ok := p.str(pos, name, rest); ok {
			set(l, v, pos)
		}
	})
}

// listenerRange is an integer option of the current listener, from lo to hi.
func listenerRange(need bool, lo, hi int, set func(l *lstate, v int, pos Position)) handler {
	return onListener(need, func(p *parser, l *lstate, pos Position, name, rest string) {
		if v, ok := p.inRange(pos, name, rest, lo, hi); ok {
			set(l, v, pos)
		}
	})
}

// inRange parses an integer from lo to hi.
func (p *parser) inRange(pos Position, name, rest string, lo, hi int) (int, bool) {
	v, ok := p.integer(pos, name, rest)
	if ok && (v < lo || v > hi) {
		p.errorf(pos, "invalid %s value %d: must be %d to %d", name, v, lo, hi)
		return 0, false
	}
	return v, ok
}

// optionHandlers returns the handler of each option but include_dir and
// the plugin_opt_*/auth_opt_* family.
func optionHandlers() map[string]handler {
	cfg := func(p *parser) *broker.Config { return &p.res.Config }
	refused := func(why string) handler {
		return func(p *parser, pos Position, name, _ string) { p.refuse(pos, name, why) }
	}
	// packet_buffer_size (Mosquitto 2.1) is the same global option as
	// websockets_headers_size, wherever it is written: it bounds the HTTP
	// request of a WebSocket upgrade. midge's MQTT read buffers grow as
	// needed, so it has no other effect.
	maxQoS := onListener(false, func(p *parser, l *lstate, pos Position, name, rest string) {
		switch v, ok := p.integer(pos, name, rest); {
		case !ok:
		case v < 0 || v > 2:
			p.errorf(pos, "invalid %s value %d: must be 0, 1 or 2", name, v)
		default:
			l.maxQoS, l.maxQoSPos = v, pos
		}
	})
	wsHeadersSize := rangeOpt(0, 65535, func(p *parser, _ Position, v int) { p.wsHeadersSize = v })
	anonymous := scoped(func(p *parser, s *scopeState, pos Position, name, rest string) {
		if v, ok := p.boolean(pos, name, rest); ok {
			s.anon = &v
		}
	})
	autoIDPrefix := scoped(func(p *parser, s *scopeState, pos Position, name, rest string) {
		if v, ok := p.str(pos, name, rest); ok && p.once(pos, "auto_id_prefix "+p.scopeKey(s), name) {
			if len(v) > 50 {
				p.errorf(pos, "auto_id_prefix longer than 50 bytes")
				return
			}
			s.autoID, s.autoIDPos = v, pos
		}
	})
	m := map[string]handler{
		// Security, global or per listener.
		"allow_anonymous": func(p *parser, pos Position, name, rest string) {
			if p.perListener {
				p.res.Warnings = append(p.res.Warnings, Warning{Pos: pos, Notice: true,
					Msg: "You are using the 'allow_anonymous' option with 'per_listener_settings true'. Please replace this with 'listener_allow_anonymous'."})
			}
			anonymous(p, pos, name, rest)
		},
		"allow_zero_length_clientid": scoped(func(p *parser, s *scopeState, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok {
				s.zeroLen, s.zeroLenPos = &v, pos
			}
		}),
		"auto_id_prefix": func(p *parser, pos Position, name, rest string) {
			p.deprecated(pos, name, "Please use 'listener_auto_id_prefix' instead.")
			autoIDPrefix(p, pos, name, rest)
		},
		"password_file":       scopedFile(func(s *scopeState, v string, pos Position) { s.passwordFile, s.passwordPos = v, pos }),
		"acl_file":            scopedFile(func(s *scopeState, v string, pos Position) { s.aclFile, s.aclPos = v, pos }),
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
		"plugin":        (*parser).pluginLine,
		"auth_plugin":   (*parser).pluginLine,
		"global_plugin": (*parser).pluginLine,
		"plugin_load":   (*parser).pluginLoad,
		"plugin_use":    (*parser).pluginUse,
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
		"autosave_interval": intOpt(func(p *parser, v int) {
			v = max(v, 0)
			p.res.Persistence.AutosaveInterval = time.Duration(v) * time.Second
			p.res.Persistence.AutosaveChanges = v
		}),
		"autosave_on_changes": boolOpt(func(p *parser, v bool) { p.res.Persistence.AutosaveOnChanges = v }),
		"check_retain_source": boolOpt(func(p *parser, v bool) { p.res.CheckRetainSource = v }),
		"connection_messages": boolOpt(func(p *parser, v bool) { cfg(p).QuietConnections = !v }),
		"enable_control_api":  boolOpt(func(p *parser, v bool) { p.res.EnableControlAPI = v }),
		// -1 and 0: no limit, as in Mosquitto.
		"global_max_clients":     intOpt(func(p *parser, v int) { cfg(p).MaxSessions = max(v, 0) }),
		"global_max_connections": intOpt(func(p *parser, v int) { cfg(p).MaxConnections = max(v, 0) }),
		"max_inflight_bytes":     intOpt(func(p *parser, v int) { cfg(p).MaxInflightBytes = max(v, 0) }),
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
		// 0: no limit (2.1), the broker's default.
		"max_keepalive": rangeOpt(0, 65535, func(p *parser, _ Position, v int) { cfg(p).MaxKeepalive = v }),
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
		"max_queued_bytes": intOpt(func(p *parser, v int) { cfg(p).MaxQueuedBytes = max(v, 0) }),
		"max_queued_messages": intOpt(func(p *parser, v int) {
			if v <= 0 {
				v = broker.Unlimited
			}
			cfg(p).MaxQueuedMessages = v
		}),
		"memory_limit": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok && v != 0 {
				p.refuse(pos, name, "a hard heap limit cannot be enforced by the Go runtime (see GOMEMLIMIT)")
			}
		},
		"message_size_limit": func(p *parser, pos Position, name, rest string) {
			p.res.Warnings = append(p.res.Warnings, Warning{Pos: pos, Notice: true,
				Msg: "Note: It is recommended to replace `message_size_limit` with `max_packet_size`."}) // 2.1's words
			if v, ok := p.inRange(pos, name, rest, 0, 268435455); ok {
				cfg(p).MessageSizeLimit = v
			}
		},
		"persistence":          boolOpt(func(p *parser, v bool) { p.res.Persistence.Enabled = v }),
		"retained_persistence": boolOpt(func(p *parser, v bool) { p.res.Persistence.Enabled = v }),
		"persistence_file":     onceStr(func(p *parser, v string) { p.res.Persistence.File = v }),
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
		"persistence_location": onceStr(func(p *parser, v string) { p.res.Persistence.Location = v }),
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
		"pid_file":             onceStr(func(p *parser, v string) { p.res.PIDFile = v }),
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
		"sys_interval": rangeOpt(0, 65535, func(p *parser, _ Position, v int) {
			cfg(p).SysInterval = time.Duration(v) * time.Second
			if v == 0 {
				cfg(p).SysInterval = broker.Unlimited // disabled
			}
		}),
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
		"websockets_headers_size": wsHeadersSize,
		"packet_buffer_size":      wsHeadersSize,

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
		"http_api_history": rangeOpt(1, 10000, func(p *parser, _ Position, v int) { p.res.HTTPAPI.History = v }),

		// Logging.
		"log_dest":             (*parser).logDest,
		"log_type":             (*parser).logType,
		"log_timestamp":        boolOpt(func(p *parser, v bool) { p.res.Log.NoTimestamp = !v }),
		"log_timestamp_format": onceStr(func(p *parser, v string) { p.res.Log.TimestampFormat = v }),
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
		"bind_interface": listenerStr(false, func(l *lstate, v string, _ Position) { l.l.Interface = v }),
		"max_connections": onListener(false, func(p *parser, l *lstate, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				l.maxConnections = max(v, -1)
			}
		}),
		"max_qos":         maxQoS,
		"maximum_qos":     maxQoS,
		"max_topic_alias": listenerRange(false, 0, 65535, func(l *lstate, v int, pos Position) { l.maxTopicAlias, l.aliasPos = v, pos }),
		// Per listener, as in Mosquitto 2.1.
		"max_topic_alias_broker": listenerRange(true, 0, 65535, func(l *lstate, v int, _ Position) { l.aliasOut = v }),
		"mount_point": onListener(true, func(p *parser, l *lstate, pos Position, name, rest string) {
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
		}),
		"listener_allow_anonymous": listenerBool(true, func(l *lstate, v bool, _ Position) { l.l.AllowAnonymous = &v }),
		"listener_auto_id_prefix": onListener(true, func(p *parser, l *lstate, pos Position, name, rest string) {
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
		}),
		"protocol": onListener(false, func(p *parser, l *lstate, pos Position, name, rest string) {
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
		}),
		"socket_domain": onListener(false, func(p *parser, l *lstate, pos Position, name, rest string) {
			v, ok := p.token(pos, name, rest)
			if !ok {
				return
			}
			if v != "ipv4" && v != "ipv6" {
				p.errorf(pos, "invalid socket_domain value %q: want ipv4 or ipv6", v)
				return
			}
			l.l.Domain = v
		}),
		"use_username_as_clientid": listenerBool(false, func(l *lstate, v bool, _ Position) { l.useUsername = v }),
		"accept_protocol_versions": onListener(true, func(p *parser, l *lstate, pos Position, name, rest string) {
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
		}),
		"enable_proxy_protocol": onListener(true, func(p *parser, l *lstate, pos Position, name, rest string) {
			switch v, ok := p.integer(pos, name, rest); {
			case !ok:
			case v != 1 && v != 2:
				p.errorf(pos, "invalid enable_proxy_protocol value %d: must be 1 or 2", v)
			default:
				l.proxy, l.proxyPos = v, pos
			}
		}),
		"proxy_protocol_v2_require_tls": listenerBool(true, func(l *lstate, v bool, pos Position) { l.proxyRequireTLS, l.proxyTLSPos = v, pos }),
		"mptcp": onListener(true, func(p *parser, _ *lstate, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok && v {
				p.refuse(pos, name, "Multipath TCP listeners are not implemented yet")
			}
		}),
		"http_dir":          listenerStr(true, func(l *lstate, v string, _ Position) { l.l.HTTPDir = v }),
		"websockets_origin": listenerStr(true, func(l *lstate, v string, _ Position) { l.l.WebsocketsOrigins = append(l.l.WebsocketsOrigins, v) }),

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

// tlsString and tlsBool are the TLS options of a listener; the first one
// (the first true one of tlsBool) gives its TLS settings' position.
func tlsString(field func(*TLS) *string) handler {
	return listenerStr(false, func(l *lstate, v string, pos Position) {
		*field(&l.l.TLS) = v
		if l.l.TLS.Pos.File == "" {
			l.l.TLS.Pos = pos
		}
	})
}

func tlsBool(field func(*TLS) *bool) handler {
	return listenerBool(false, func(l *lstate, v bool, pos Position) {
		*field(&l.l.TLS) = v
		if v && l.l.TLS.Pos.File == "" {
			l.l.TLS.Pos = pos
		}
	})
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
