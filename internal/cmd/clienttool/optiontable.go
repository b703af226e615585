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
	// number is an option whose argument is read as C's atoi reads it and
	// must be from lo to hi; refusal is the error otherwise (with the
	// number, where it says %d).
	number := func(tools toolSet, arg string, lo, hi int, field func(c *clientConfig) *int, refusal string) *option {
		return with(tools, arg, func(c *clientConfig, v string) error {
			n := cAtoi(v)
			switch {
			case n >= lo && n <= hi:
				*field(c) = n
				return nil
			case strings.Contains(refusal, "%d"):
				return hintf(refusal, n)
			}
			return hintf("%s", refusal)
		})
	}
	// filter is sub's -T or -U: a topic filter, refused as mosquitto_sub
	// refuses it, an invalid one by the name invalid.
	filter := func(arg, invalid string, field func(c *clientConfig) *[]string) *option {
		var o *option
		o = with(forSub, arg, func(c *clientConfig, v string) error {
			if !validUTF8(v) {
				return hintf("Error: Malformed UTF-8 in %s argument.\n\n", o.flag)
			}
			if !subTopicOK(v) {
				return hintf("Error: Invalid %s '%s', are all '+' and '#' wildcards correct?\n", invalid, v)
			}
			*field(c) = append(*field(c), v)
			return nil
		})
		return o
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
	add(number(0, "keepalive", 5, math.MaxUint16, func(c *clientConfig) *int { return &c.keepalive },
		"Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n"), "-k", "--keepalive")
	add(with(0, "URL", (*clientConfig).parseURL), "-L", "--url")
	maxInflight := number(0, "max_inflight", 1, math.MaxInt, func(c *clientConfig) *int { return &c.maxInflight },
		"Error: Maximum inflight messages must be greater than 0.\n\n")
	maxInflight.missing = "Error: -M argument given but max_inflight not specified.\n\n"
	add(maxInflight, "-M")
	add(flag(0, func(c *clientConfig) { c.nodelay = true }), "--nodelay")
	add(number(0, "port", 0, 65535, func(c *clientConfig) *int { return &c.port },
		"Error: Invalid port given: %d\n"), "-p", "--port")
	add(str("password", func(c *clientConfig, v *string) { c.password = v }), "-P", "--pw")
	add(with(0, "proxy url", func(c *clientConfig, v string) error {
		if !strings.HasPrefix(v, "socks5h://") {
			return hintf("Error: Unsupported proxy protocol: %s\n", v)
		}
		c.proxy = &v
		return nil
	}), "--proxy")
	add(number(0, "QoS", 0, 2, func(c *clientConfig) *int { return &c.qos },
		"Error: Invalid QoS given: %d\n"), "-q", "--qos")
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
	add(number(0, "will QoS", 0, 2, func(c *clientConfig) *int { return &c.willQoS },
		"Error: Invalid will QoS %d.\n\n"), "--will-qos")
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
	add(number(forPub, "count", 1, math.MaxInt, func(c *clientConfig) *int { return &c.repeatCount },
		"Error: --repeat argument must be >0.\n\n"), "--repeat")
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
	add(number(forSub, "count", 1, math.MaxInt, func(c *clientConfig) *int { return &c.msgCount },
		"Error: Invalid message count \"%d\".\n\n"), "-C")
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
	add(filter("topic filter", "filter topic", func(c *clientConfig) *[]string { return &c.filterOuts }), "-T", "--filter-out")
	add(filter("unsubscribe topic", "unsubscribe topic", func(c *clientConfig) *[]string { return &c.unsubTopics }), "-U", "--unsubscribe")
	add(flag(notPub, func(c *clientConfig) { c.verbose = true }), "-v", "--verbose")
	add(number(notPub, "timeout", 1, math.MaxInt, func(c *clientConfig) *int { return &c.timeout },
		"Error: Invalid timeout \"%d\".\n\n"), "-W")
	return m
}
