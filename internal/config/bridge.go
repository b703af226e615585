package config

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/packet"
)

// Bridge is a "connection" block as read.
type Bridge struct {
	Pos    Position // the connection line
	Config bridge.Config
}

// bstate is a bridge being read.
type bstate struct {
	pos         Position
	cfg         bridge.Config
	lcsSet      bool                  // local_cleansession given
	topics      map[bridge.Topic]bool // to skip duplicate topic lines
	addressSeen bool
	tlsPos      Position // first TLS option
}

// bridgeHandlers returns the handlers of "connection" and of the options
// of a bridge block.
func bridgeHandlers() map[string]handler {
	// in wraps a bridge option: it needs a connection line before it.
	in := func(h func(p *parser, b *bstate, pos Position, name, rest string)) handler {
		return func(p *parser, pos Position, name, rest string) {
			if p.bridge == nil {
				p.errorf(pos, "The '%s' option requires a bridge to be defined first.", name)
				return
			}
			h(p, p.bridge, pos, name, rest)
		}
	}
	boolean := func(set func(c *bridge.Config, v bool)) handler {
		return in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok {
				set(&b.cfg, v)
			}
		})
	}
	str := func(set func(c *bridge.Config, v string)) handler {
		return in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok {
				set(&b.cfg, v)
			}
		})
	}
	tlsStr := func(set func(t *bridge.TLS, v string)) handler {
		return in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok {
				set(b.tls(pos), v)
			}
		})
	}
	tlsBool := func(set func(t *bridge.TLS, v bool)) handler {
		return in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.boolean(pos, name, rest); ok {
				set(b.tls(pos), v)
			}
		})
	}
	// ranged parses an integer in [lo, hi].
	ranged := func(lo, hi int, set func(c *bridge.Config, v int)) handler {
		return in(func(p *parser, b *bstate, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			if !ok {
				return
			}
			if v < lo || v > hi {
				p.errorf(pos, "invalid %s value %d: must be %d to %d", name, v, lo, hi)
				return
			}
			set(&b.cfg, v)
		})
	}
	remoteID := str(func(c *bridge.Config, v string) { c.RemoteClientID = v })
	remoteUser := str(func(c *bridge.Config, v string) { c.RemoteUsername = v })
	remotePass := str(func(c *bridge.Config, v string) { c.RemotePassword = []byte(v) })
	psk := func(p *parser, pos Position, name, rest string) {
		p.refuse(pos, name, "Go's TLS has no pre-shared keys (TLS-PSK); use certificates (bridge_cafile, bridge_certfile, bridge_keyfile)")
	}
	// The options that take one of a few words.
	protocolVersion := oneOf(
		map[string]byte{"mqttv31": packet.Version31, "mqttv311": packet.Version311, "mqttv50": packet.Version5},
		func(p *parser, pos Position, _, v string) {
			p.errorf(pos, "Invalid bridge_protocol_version value (%s).", v)
		},
		func(b *bstate, _ Position, v byte) { b.cfg.ProtocolVersion = v })
	reloadType := oneOf(map[string]bool{"lazy": false, "immediate": true}, wantWords("lazy or immediate"),
		func(b *bstate, _ Position, v bool) { b.cfg.ReloadImmediate = v })
	startType := oneOf(map[string]bridge.StartType{"automatic": bridge.Automatic, "lazy": bridge.Lazy, "once": bridge.Once},
		func(p *parser, pos Position, name, v string) {
			if v == "manual" {
				p.errorf(pos, "Manual start_type not supported.")
				return
			}
			wantWords("automatic, lazy or once")(p, pos, name, v)
		},
		func(b *bstate, _ Position, v bridge.StartType) { b.cfg.StartType = v })
	tlsVersion := oneOf(map[string]string{"tlsv1.2": "tlsv1.2", "tlsv1.3": "tlsv1.3"}, wantWords("tlsv1.2 or tlsv1.3"),
		func(b *bstate, pos Position, v string) { b.tls(pos).Version = v })
	return map[string]handler{
		"connection":              connectionLine,
		"address":                 in(addressLine),
		"addresses":               in(addressLine),
		"round_robin":             boolean(func(c *bridge.Config, v bool) { c.RoundRobin = v }),
		"topic":                   in(topicLine),
		"bridge_protocol_version": in(protocolVersion),
		"cleansession":            boolean(func(c *bridge.Config, v bool) { c.CleanSession = v }),
		"local_cleansession":      in(localCleanLine),
		"bridge_session_expiry_interval": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			t, ok := p.token(pos, name, rest)
			if !ok {
				return
			}
			v, err := strconv.ParseUint(t, 10, 32)
			if err != nil {
				p.errorf(pos, "invalid %s value %q: must be 0 to %d", name, t, uint32(math.MaxUint32))
				return
			}
			b.cfg.SessionExpiry = uint32(v)
		}),
		"bridge_receive_maximum": ranged(1, 65535, func(c *bridge.Config, v int) { c.ReceiveMaximum = v }),
		"bridge_max_topic_alias": ranged(0, 65535, func(c *bridge.Config, v int) { c.MaxTopicAlias = v }),
		"bridge_max_packet_size": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				b.cfg.MaxPacketSize = max(v, 0)
			}
		}),
		"bridge_outgoing_retain":     boolean(func(c *bridge.Config, v bool) { c.OutgoingRetain = v }),
		"bridge_attempt_unsubscribe": boolean(func(c *bridge.Config, v bool) { c.AttemptUnsubscribe = v }),
		"bridge_bind_address": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok {
				if net.ParseIP(v) == nil {
					p.errorf(pos, "invalid %s value %q: not an IP address", name, v)
					return
				}
				b.cfg.BindAddress = v
			}
		}),
		"bridge_reload_type": in(reloadType),
		"bridge_tcp_keepalive": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			f := strings.Fields(rest)
			var v [3]int
			for i := range v {
				n := 0
				if i < len(f) {
					n, _ = strconv.Atoi(f[i])
				}
				if n <= 0 {
					p.errorf(pos, "invalid %s: want three non-zero values: idle interval counter", name)
					return
				}
				v[i] = n
			}
			b.cfg.TCPKeepAlive = v
		}),
		"bridge_tcp_user_timeout": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok {
				if v < 0 {
					p.errorf(pos, "invalid %s value %d: must be 0 or more milliseconds", name, v)
					return
				}
				b.cfg.TCPUserTimeout = time.Duration(v) * time.Millisecond
			}
		}),
		"bridge_mptcp": boolean(func(c *bridge.Config, v bool) { c.MPTCP = v }),
		"keepalive_interval": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			v, ok := p.integer(pos, name, rest)
			switch {
			case !ok:
			case v > 65535:
				p.errorf(pos, "invalid %s value %d: must be at most 65535", name, v)
			case v < 5:
				p.warnf(pos, "%s %d raised to 5 seconds", name, v)
				b.cfg.KeepAlive = 5 * time.Second
			default:
				b.cfg.KeepAlive = time.Duration(v) * time.Second
			}
		}),
		"idle_timeout":             ranged(1, math.MaxInt32, func(c *bridge.Config, v int) { c.IdleTimeout = time.Duration(v) * time.Second }),
		"threshold":                ranged(1, math.MaxInt32, func(c *bridge.Config, v int) { c.Threshold = v }),
		"start_type":               in(startType),
		"restart_timeout":          in(restartLine),
		"local_clientid":           str(func(c *bridge.Config, v string) { c.LocalClientID = v }),
		"remote_clientid":          remoteID,
		"clientid":                 remoteID,
		"remote_username":          remoteUser,
		"username":                 remoteUser,
		"remote_password":          remotePass,
		"password":                 remotePass,
		"local_username":           str(func(c *bridge.Config, v string) { c.LocalUsername = v }),
		"local_password":           str(func(c *bridge.Config, v string) { c.LocalPassword = []byte(v) }),
		"try_private":              boolean(func(c *bridge.Config, v bool) { c.TryPrivate = v }),
		"notifications":            boolean(func(c *bridge.Config, v bool) { c.Notifications = v }),
		"notifications_local_only": boolean(func(c *bridge.Config, v bool) { c.NotificationsLocalOnly = v }),
		"notification_topic": in(func(p *parser, b *bstate, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok {
				if !packet.ValidTopicName(v) {
					p.errorf(pos, "invalid %s %q: not a valid topic name", name, v)
					return
				}
				b.cfg.NotificationTopic = v
			}
		}),
		"bridge_cafile":           tlsStr(func(t *bridge.TLS, v string) { t.CAFile = v }),
		"bridge_capath":           tlsStr(func(t *bridge.TLS, v string) { t.CAPath = v }),
		"bridge_tls_use_os_certs": tlsBool(func(t *bridge.TLS, v bool) { t.UseOSCerts = v }),
		"bridge_certfile":         tlsStr(func(t *bridge.TLS, v string) { t.CertFile = v }),
		"bridge_keyfile":          tlsStr(func(t *bridge.TLS, v string) { t.KeyFile = v }),
		"bridge_insecure":         tlsBool(func(t *bridge.TLS, v bool) { t.Insecure = v }),
		"bridge_alpn":             tlsStr(func(t *bridge.TLS, v string) { t.ALPN = v }),
		"bridge_ciphers":          tlsStr(func(t *bridge.TLS, v string) { t.Ciphers = v }),
		"bridge_ciphers_tls1.3":   tlsStr(func(t *bridge.TLS, v string) { t.CiphersTLS13 = v }),
		"bridge_require_ocsp":     tlsBool(func(t *bridge.TLS, v bool) { t.RequireOCSP = v }),
		"bridge_tls_version":      in(tlsVersion),
		"bridge_identity":         psk,
		"bridge_psk":              psk,
	}
}

// tls returns the bridge's TLS options, created at pos if needed.
func (b *bstate) tls(pos Position) *bridge.TLS {
	if b.cfg.TLS == nil {
		b.cfg.TLS = &bridge.TLS{}
		b.tlsPos = pos
	}
	return b.cfg.TLS
}

// connectionLine starts a bridge block.
func connectionLine(p *parser, pos Position, name, rest string) {
	v, ok := p.token(pos, name, rest)
	if !ok {
		p.errorf(pos, "Empty 'connection' value in configuration.")
		return
	}
	for _, b := range p.bridges {
		if b.cfg.Name == v {
			p.errorf(pos, "Duplicate bridge name '%s'.", v)
			return
		}
	}
	b := &bstate{pos: pos, cfg: bridge.Defaults(v), topics: map[bridge.Topic]bool{}}
	p.bridges = append(p.bridges, b)
	p.bridge = b
}

// addressLine is address/addresses: host[:port] words, up to a '#'.
func addressLine(p *parser, b *bstate, pos Position, name, rest string) {
	if b.addressSeen {
		p.errorf(pos, "'address' only allowed once in bridge configuration.")
		return
	}
	b.addressSeen = true
	for _, w := range strings.Fields(rest) {
		if strings.HasPrefix(w, "#") {
			break
		}
		host, port := w, "1883"
		if i := strings.LastIndexByte(w, ':'); i >= 0 {
			host, port = w[:i], w[i+1:]
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65535 {
				p.errorf(pos, "Invalid port value (%s).", port)
				return
			}
		}
		if host == "" {
			p.errorf(pos, "Invalid bridge address %q.", w)
			return
		}
		b.cfg.Addresses = append(b.cfg.Addresses, net.JoinHostPort(strings.Trim(host, "[]"), port))
	}
	if len(b.cfg.Addresses) == 0 {
		p.errorf(pos, "Empty '%s' value in configuration.", name)
	}
}

// words splits a topic line: words separated by blanks, where a word that
// starts with a double quote runs to the next one ("" is the empty word).
func words(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, s[1:1+end])
			s = s[2+end:]
			continue
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}

// topicLine is "topic pattern [[[out|in|both] qos] local-prefix remote-prefix]".
func topicLine(p *parser, b *bstate, pos Position, name, rest string) {
	w, err := words(rest)
	if err != nil || len(w) == 0 {
		p.errorf(pos, "Empty 'topic' value in configuration.")
		return
	}
	if len(w) > 5 {
		p.warnf(pos, "topic: text after the remote prefix ignored: %q", strings.Join(w[5:], " "))
	}
	dir, qos := bridge.Out, 0
	if len(w) > 1 {
		switch strings.ToLower(w[1]) {
		case "out":
		case "in":
			dir = bridge.In
		case "both":
			dir = bridge.Both
		default:
			p.errorf(pos, "Invalid bridge topic direction '%s'.", w[1])
			return
		}
	}
	if len(w) > 2 {
		n, err := strconv.Atoi(w[2])
		if err != nil || n < 0 || n > 2 {
			p.errorf(pos, "Invalid bridge QoS level '%s'.", w[2])
			return
		}
		qos = n
	}
	lp, rp := "", ""
	if len(w) > 3 {
		lp = w[3]
	}
	if len(w) > 4 {
		rp = w[4]
	}
	t, err := bridge.NewTopic(w[0], dir, byte(qos), lp, rp)
	if err != nil {
		p.errorf(pos, "%s", strings.TrimPrefix(err.Error(), "bridge: invalid topic: "))
		return
	}
	if b.topics[t] {
		p.warnf(pos, "duplicate bridge topic line skipped")
		return
	}
	b.topics[t] = true
	b.cfg.Topics = append(b.cfg.Topics, t)
}

// oneOf reads a bridge option whose value is one of the words of values:
// set gets the value the word stands for, and another word goes to bad,
// which reports it. A missing value is reported by the parser's token.
func oneOf[T any](values map[string]T, bad func(p *parser, pos Position, name, word string),
	set func(b *bstate, pos Position, v T)) func(p *parser, b *bstate, pos Position, name, rest string) {
	return func(p *parser, b *bstate, pos Position, name, rest string) {
		word, _ := p.token(pos, name, rest)
		if word == "" {
			return
		}
		if v, ok := values[word]; ok {
			set(b, pos, v)
		} else {
			bad(p, pos, name, word)
		}
	}
}

// wantWords returns a bad function for oneOf that names the words an
// option takes.
func wantWords(words string) func(p *parser, pos Position, name, word string) {
	return func(p *parser, pos Position, name, word string) {
		p.errorf(pos, "invalid %s value %q: want %s", name, word, words)
	}
}

func localCleanLine(p *parser, b *bstate, pos Position, name, rest string) {
	if v, ok := p.boolean(pos, name, rest); ok {
		b.cfg.LocalCleanSession, b.lcsSet = v, true
	}
}

// restartLine is "restart_timeout constant" or "restart_timeout base cap [stable]".
func restartLine(p *parser, b *bstate, pos Position, name, rest string) {
	f := strings.Fields(rest)
	if i := slicesIndexComment(f); i >= 0 {
		f = f[:i]
	}
	nums := make([]int, len(f))
	for i, s := range f {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			p.errorf(pos, "invalid %s value %q", name, s)
			return
		}
		nums[i] = n
	}
	switch len(nums) {
	case 1:
		n := nums[0]
		if n < 1 || n > 3600 {
			n = min(max(n, 1), 3600)
			p.warnf(pos, "%s %d clamped to %d seconds", name, nums[0], n)
		}
		b.cfg.Restart = bridge.Backoff{Constant: time.Duration(n) * time.Second}
	case 2, 3:
		base, capv := nums[0], nums[1]
		if base < 1 || capv < base || capv > 7200 {
			p.errorf(pos, "invalid %s: base %d and cap %d must be 1 <= base <= cap <= 7200", name, base, capv)
			return
		}
		b.cfg.Restart = bridge.Backoff{Base: time.Duration(base) * time.Second, Cap: time.Duration(capv) * time.Second}
		if len(nums) == 3 {
			b.cfg.Restart.Stable = time.Duration(nums[2]) * time.Second
		}
	default:
		p.errorf(pos, "invalid %s: want 'constant' or 'base cap [stable]' seconds", name)
	}
}

func slicesIndexComment(f []string) int {
	for i, s := range f {
		if strings.HasPrefix(s, "#") {
			return i
		}
	}
	return -1
}

// buildBridges checks the bridges read and puts them in the Result, as
// Mosquitto's config__check does.
func (p *parser) buildBridges() {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	seen := map[string]Position{}
	for _, b := range p.bridges {
		c := b.cfg
		if !b.lcsSet {
			c.LocalCleanSession = c.CleanSession
		}
		c.ResolveIDs(host)
		if err := c.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				p.errorf(b.pos, "bridge %s: %s", c.Name, line)
			}
			continue
		}
		if c.TLS != nil {
			if !c.TLS.Enabled() {
				p.errorf(b.tlsPos, "bridge %s: TLS options need bridge_cafile, bridge_capath or bridge_tls_use_os_certs", c.Name)
				continue
			}
			if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
				p.errorf(b.tlsPos, "bridge %s: bridge_certfile and bridge_keyfile go together", c.Name)
				continue
			}
		}
		if prev, dup := seen[c.LocalClientID]; dup {
			p.errorf(b.pos, "Bridge local_clientid '%s' is not unique. Try changing or setting the local_clientid value for one of the bridges (the other is at %s).", c.LocalClientID, prev)
			continue
		}
		seen[c.LocalClientID] = b.pos
		p.res.Bridges = append(p.res.Bridges, Bridge{Pos: b.pos, Config: c})
	}
}
