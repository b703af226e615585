package clienttool

import (
	"math"
	"strings"
	"time"
)

// toolSet is a set of tools, bit 1<<tool for each.
type toolSet uint8

const (
	forPub   = toolSet(1 << toolPub)
	forSub   = toolSet(1 << toolSub)
	forRR    = toolSet(1 << toolRR)
	notSub   = forPub | forRR
	notPub   = forSub | forRR
	allTools = forPub | forSub | forRR
)

// option is how the command line reads one option
// (a case of client_config_line_proc). Its checks run in Mosquitto's
// order: the tool, then before, then a missing argument, then set.
type option struct {
	tools toolSet // the tools that know it; the others call it unknown
	// before is a check of what earlier options said, or nil.
	before func(c *clientConfig) error
	// arg is what the argument is called in "Error: FLAG argument given but
	// no ARG specified."; "" for an option without an argument.
	arg string
	// flag is the option's name in that message: the first of its names,
	// or its only one.
	flag string
	// missing is the whole refusal of a missing argument where Mosquitto
	// words it otherwise.
	missing string
	// set applies the option; v is its argument ("" for none).
	set func(c *clientConfig, v string) error
}

// oneMessage refuses a second source of pub's or rr's message.
func oneMessage(c *clientConfig) error {
	if c.pubMode != msgNone {
		return hintf("Error: Only one type of message can be sent at once.\n\n")
	}
	return nil
}

// clientOptions returns the options of the client tools by name, but -D
// (--property) and -o, which parseLine reads itself.
func clientOptions() map[string]*option {
	m := map[string]*option{}
	add := func(o *option, names ...string) {
		if o.tools == 0 {
			o.tools = allTools
		}
		o.flag = names[0]
		for _, n := range names {
			m[n] = o
		}
	}
	// flag is an option without an argument.
	flag := func(tools toolSet, set func(c *clientConfig)) *option {
		return &option{tools: tools, set: func(c *clientConfig, _ string) error { set(c); return nil }}
	}
	// str is an option whose argument is kept as it is.
	str := func(arg string, set func(c *clientConfig, v *string)) *option {
		return &option{arg: arg, set: func(c *clientConfig, v string) error { set(c, &v); return nil }}
	}
	// with is an option whose argument set checks.
	with := func(tools toolSet, arg string, set func(c *clientConfig, v string) error) *option {
		return &option{tools: tools, arg: arg, set: set}
	}
	// message is a source of pub's and rr's message.
	message := func(o *option) *option {
		o.before = oneMessage
		return o
	}
	idOrPrefix := func(other func(c *clientConfig) *string) func(c *clientConfig) error {
		return func(c *clientConfig) error {
			if other(c) != nil {
				return hintf("Error: -i and -I argument cannot be used together.\n\n")
			}
			return nil
		}
	}

	// Connection and session.
	add(str("address", func(c *clientConfig, v *string) { c.bindAddress = v }), "-A")
	add(flag(0, func(c *clientConfig) { c.cleanSession = false }), "-c", "--disable-clean-session")
	add(flag(0, func(c *clientConfig) { c.debug = true }), "-d", "--debug")
	add(str("host", func(c *clientConfig, v *string) { c.host = v }), "-h", "--host")
	i := str("id", func(c *clientConfig, v *string) { c.id = v })
	i.before = idOrPrefix(func(c *clientConfig) *string { return c.idPrefix })
	add(i, "-i", "--id")
	ip := str("id prefix", func(c *clientConfig, v *string) { c.idPrefix = v })
	ip.before = idOrPrefix(func(c *clientConfig) *string { return c.id })
	add(ip, "-I", "--id-prefix")
	add(with(0, "keepalive", func(c *clientConfig, v string) error {
		c.keepalive = cAtoi(v)
		if c.keepalive < 5 || c.keepalive > math.MaxUint16 {
			return hintf("Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n")
		}
		return nil
	}), "-k", "--keepalive")
	add(with(0, "URL", (*clientConfig).parseURL), "-L", "--url")
	maxInflight := with(0, "max_inflight", func(c *clientConfig, v string) error {
		m := cAtoi(v)
		if m < 1 {
			return hintf("Error: Maximum inflight messages must be greater than 0.\n\n")
		}
		c.maxInflight = m
		return nil
	})
	maxInflight.missing = "Error: -M argument given but max_inflight not specified.\n\n"
	add(maxInflight, "-M")
	add(flag(0, func(c *clientConfig) { c.nodelay = true }), "--nodelay")
	add(with(0, "port", func(c *clientConfig, v string) error {
		c.port = cAtoi(v)
		if c.port < 0 || c.port > 65535 {
			return hintf("Error: Invalid port given: %d\n", c.port)
		}
		return nil
	}), "-p", "--port")
	add(str("password", func(c *clientConfig, v *string) { c.password = v }), "-P", "--pw")
	add(with(0, "proxy url", func(c *clientConfig, v string) error {
		if !strings.HasPrefix(v, "socks5h://") {
			return hintf("Error: Unsupported proxy protocol: %s\n", v)
		}
		c.proxy = &v
		return nil
	}), "--proxy")
	add(with(0, "QoS", func(c *clientConfig, v string) error {
		c.qos = cAtoi(v)
		if c.qos < 0 || c.qos > 2 {
			return hintf("Error: Invalid QoS given: %d\n", c.qos)
		}
		return nil
	}), "-q", "--qos")
	add(flag(0, func(c *clientConfig) { c.quiet = true }), "--quiet")
	add(str("username", func(c *clientConfig, v *string) { c.username = v }), "-u", "--username")
	add(with(0, "socket path", func(c *clientConfig, v string) error {
		c.host, c.port, c.unixSocket = &v, 0, true
		return nil
	}), "--unix")
	add(with(0, "version", func(c *clientConfig, v string) error {
		switch v {
		case "mqttv31", "31":
			c.protocol = 3
		case "mqttv311", "311":
			c.protocol = 4
		case "mqttv5", "5":
			c.protocol = 5
		default:
			return hintf("Error: Invalid protocol version argument given.\n\n")
		}
		return nil
	}), "--protocol-version", "-V")
	add(str("will payload", func(c *clientConfig, v *string) { c.willPayload = v }), "--will-payload")
	add(with(0, "will QoS", func(c *clientConfig, v string) error {
		c.willQoS = cAtoi(v)
		if c.willQoS < 0 || c.willQoS > 2 {
			return hintf("Error: Invalid will QoS %d.\n\n", c.willQoS)
		}
		return nil
	}), "--will-qos")
	add(flag(0, func(c *clientConfig) { c.willRetain = true }), "--will-retain")
	add(with(0, "will topic", func(c *clientConfig, v string) error {
		if !validUTF8(v) {
			return hintf("Error: Malformed UTF-8 in --will-topic argument.\n\n")
		}
		if !pubTopicOK(v) {
			return hintf("Error: Invalid will topic '%s', does it contain '+' or '#'?\n", v)
		}
		c.willTopic = &v
		return nil
	}), "--will-topic")
	add(flag(0, func(c *clientConfig) { c.websocket = true }), "--ws") // 2.1
	add(with(0, "session expiry interval", func(c *clientConfig, v string) error {
		if v == "∞" {
			c.sessionExpiry = math.MaxUint32
			return nil
		}
		n, ok := cStrtol0(v)
		if !ok {
			return hintf("Error: session-expiry-interval not a number.\n\n")
		}
		if n > math.MaxUint32 || n < -1 {
			return hintf("Error: session-expiry-interval out of range.\n\n")
		}
		if n == -1 {
			n = math.MaxUint32
		}
		c.sessionExpiry = n
		return nil
	}), "-x")
	add(&option{tools: allTools, set: func(*clientConfig, string) error { return errHelp }}, "--help")
	add(&option{tools: allTools, set: func(*clientConfig, string) error { return errShowVersion }}, "--version")

	// TLS.
	add(str("file", func(c *clientConfig, v *string) { c.cafile = v }), "--cafile")
	add(str("directory", func(c *clientConfig, v *string) { c.capath = v }), "--capath")
	add(str("file", func(c *clientConfig, v *string) { c.certfile = v }), "--cert")
	add(str("ciphers", func(c *clientConfig, v *string) { c.ciphers = v }), "--ciphers")
	add(flag(0, func(c *clientConfig) { c.insecure = true }), "--insecure")
	add(str("file", func(c *clientConfig, v *string) { c.keyfile = v }), "--key")
	add(str("keyform", func(c *clientConfig, v *string) { c.keyform = v }), "--keyform")
	add(str("key", func(c *clientConfig, v *string) { c.psk = v }), "--psk")
	add(str("identity", func(c *clientConfig, v *string) { c.pskIdentity = v }), "--psk-identity")
	add(str("protocol", func(c *clientConfig, v *string) { c.tlsALPN = v }), "--tls-alpn")
	add(str("engine_id", func(c *clientConfig, v *string) { c.tlsEngine = v }), "--tls-engine")
	add(str("kpass sha1", func(c *clientConfig, v *string) { c.tlsKpassSHA1 = v }), "--tls-engine-kpass-sha1")
	add(flag(0, func(c *clientConfig) { c.tlsUseOSCerts = true }), "--tls-use-os-certs")
	add(str("version", func(c *clientConfig, v *string) { c.tlsVersion = v }), "--tls-version")

	// Topics and what is published.
	add(with(0, "topic", func(c *clientConfig, v string) error {
		kind := topicSub
		if c.tool != toolSub {
			kind = topicPub
		}
		return c.addTopic(kind, v, "-t")
	}), "-t", "--topic")
	add(with(forRR, "response topic", func(c *clientConfig, v string) error {
		return c.addTopic(topicResponse, v, "-e")
	}), "-e")
	add(message(with(notSub, "file", func(c *clientConfig, v string) error {
		c.pubMode, c.fileInput = msgFile, v
		return nil
	})), "-f", "--file")
	add(message(flag(forPub, func(c *clientConfig) { c.pubMode = msgStdinLine })), "-l", "--stdin-line")
	add(message(with(notSub, "message", func(c *clientConfig, v string) error {
		if len(v) > maxPayload {
			return hintf("Error: Message length must be less than %d bytes.\n\n", maxPayload)
		}
		c.message, c.pubMode = []byte(v), msgCmd
		return nil
	})), "-m", "--message")
	add(message(flag(notSub, func(c *clientConfig) { c.pubMode = msgNull })), "-n", "--null-message")
	add(message(flag(notSub, func(c *clientConfig) { c.pubMode = msgStdinFile })), "-s", "--stdin-file")
	add(flag(forPub, func(c *clientConfig) { c.retain = true }), "-r", "--retain")
	add(with(forPub, "count", func(c *clientConfig, v string) error {
		c.repeatCount = cAtoi(v)
		if c.repeatCount < 1 {
			return hintf("Error: --repeat argument must be >0.\n\n")
		}
		return nil
	}), "--repeat")
	add(with(forPub, "time", func(c *clientConfig, v string) error {
		f := float32(cAtof(v))
		if f < 0 {
			return hintf("Error: --repeat-delay argument must be >=0.0.\n\n")
		}
		us := int32(clampFloat32ToInt32(f * 1.0e6))
		c.repeatDelay = time.Duration(us/1000000)*time.Second + time.Duration(us%1000000)*time.Microsecond
		return nil
	}), "--repeat-delay")

	// What sub and rr receive and print.
	add(with(forSub, "count", func(c *clientConfig, v string) error {
		c.msgCount = cAtoi(v)
		if c.msgCount < 1 {
			return hintf("Error: Invalid message count \"%d\".\n\n", c.msgCount)
		}
		return nil
	}), "-C")
	add(flag(forSub, func(c *clientConfig) { c.exitAfterSub = true }), "-E")
	add(with(notPub, "format", func(c *clientConfig, v string) error {
		c.format = &v
		return checkFormat(v)
	}), "-F")
	add(flag(notPub, func(c *clientConfig) { c.eol = false }), "-N")
	add(flag(notPub, func(c *clientConfig) { c.pretty = true }), "--pretty")
	add(flag(notPub, func(c *clientConfig) {
		c.noRetain = true
		c.subOpts |= subOptRetainNever
	}), "-R")
	add(with(forSub, "chance", func(c *clientConfig, v string) error {
		// Mosquitto 2.0.11 checks ten times the percentage against
		// 1..10000 and then prints a tenth of what it promises; midge
		// refuses what it refuses and prints the percentage asked for.
		chance := cAtof(v)
		if v := int(10.0 * chance); v > 10000 || v < 1 {
			return hintf("Error: --random-filter chance must be between 0.1-100.0\n\n")
		}
		c.randomFilter = int(100.0 * chance)
		return nil
	}), "--random-filter")
	add(flag(forSub, func(c *clientConfig) { c.removeRetain = true }), "--remove-retained")
	add(flag(notPub, func(c *clientConfig) { c.subOpts |= subOptRetainAsPublished }), "--retain-as-published")
	add(with(notPub, "option", func(c *clientConfig, v string) error { // 2.1
		var rh byte
		switch v {
		case "always":
		case "new":
			rh = subOptRetainNew
		case "never":
			rh = subOptRetainNever
		default:
			return hintf("Error: Unknown value '%s' for --retain-handling.\n\n", v)
		}
		c.subOpts = c.subOpts&^(subOptRetainNew|subOptRetainNever) | rh
		c.rrSubOpts = true
		return nil
	}), "--retain-handling")
	add(flag(forSub, func(c *clientConfig) { c.retainedOnly = true }), "--retained-only")
	add(with(forSub, "topic filter", func(c *clientConfig, v string) error {
		if err := checkFilter(v, "-T", "filter topic"); err != nil {
			return err
		}
		c.filterOuts = append(c.filterOuts, v)
		return nil
	}), "-T", "--filter-out")
	add(with(forSub, "unsubscribe topic", func(c *clientConfig, v string) error {
		if err := checkFilter(v, "-U", "unsubscribe topic"); err != nil {
			return err
		}
		c.unsubTopics = append(c.unsubTopics, v)
		return nil
	}), "-U", "--unsubscribe")
	add(flag(notPub, func(c *clientConfig) { c.verbose = true }), "-v", "--verbose")
	add(with(notPub, "timeout", func(c *clientConfig, v string) error {
		w := cAtoi(v)
		if w < 1 {
			return hintf("Error: Invalid timeout \"%d\".\n\n", w)
		}
		c.timeout = w
		return nil
	}), "-W")
	return m
}

// checkFilter checks the topic filter argument of sub's -T or -U, refused
// as mosquitto_sub refuses it: invalid names it in the wildcard error.
func checkFilter(f, flag, invalid string) error {
	if !validUTF8(f) {
		return hintf("Error: Malformed UTF-8 in %s argument.\n\n", flag)
	}
	if !subTopicOK(f) {
		return hintf("Error: Invalid %s '%s', are all '+' and '#' wildcards correct?\n", invalid, f)
	}
	return nil
}
