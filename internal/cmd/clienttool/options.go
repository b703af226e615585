package clienttool

// The command line shared by pub, sub and rr: Mosquitto's client_shared.c
// (client_config_load and client_config_line_proc), with its messages and
// its order of checks, so that midge refuses what mosquitto_pub,
// mosquitto_sub and mosquitto_rr 2.0.11 refuse, in the same words.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// tool is one of Mosquitto's client tools.
type tool uint8

const (
	toolPub tool = iota + 1
	toolSub
	toolRR
)

// mosquittoName is the tool's name in Mosquitto: the options file name and
// what its messages call it.
func (t tool) mosquittoName() string {
	switch t {
	case toolPub:
		return "mosquitto_pub"
	case toolSub:
		return "mosquitto_sub"
	}
	return "mosquitto_rr"
}

// msgMode is where pub's and rr's message comes from.
type msgMode uint8

const (
	msgNone      msgMode = iota
	msgCmd               // -m
	msgStdinLine         // -l
	msgStdinFile         // -s
	msgFile              // -f
	msgNull              // -n
)

// portUndefined is the port before -p, -L or --unix set one.
const portUndefined = -1

// maxPayload is MQTT_MAX_PAYLOAD.
const maxPayload = 268435455

// Subscription options bits, as Mosquitto's MQTT_SUB_OPT_*.
const (
	subOptNoLocal           = 0x04
	subOptRetainAsPublished = 0x08
	subOptRetainNew         = 0x10
	subOptRetainNever       = 0x20
)

// clientConfig is everything the options file and the command line say: the
// counterpart of Mosquitto's struct mosq_config. Optional strings whose
// presence matters (Mosquitto tests the pointer) are *string.
type clientConfig struct {
	tool tool

	id, idPrefix  *string
	protocol      byte // 3, 4 or 5
	keepalive     int
	host          *string
	port          int // portUndefined, 0 for --unix
	unixSocket    bool
	websocket     bool // --ws, -L ws:// (2.1)
	qos           int
	retain        bool
	pubMode       msgMode
	message       []byte
	fileInput     string
	topic         *string  // pub, rr
	responseTopic *string  // rr -e
	topics        []string // sub -t
	filterOuts    []string // sub -T
	unsubTopics   []string // sub -U
	bindAddress   *string
	username      *string
	password      *string
	willTopic     *string
	willPayload   *string
	willQoS       int
	willRetain    bool
	cleanSession  bool
	debug         bool
	quiet         bool
	maxInflight   int
	msgCount      int
	noRetain      bool
	retainedOnly  bool
	removeRetain  bool
	format        *string
	verbose       bool
	eol           bool
	pretty        bool
	timeout       int
	exitAfterSub  bool
	sessionExpiry int64 // -1: not set
	subOpts       byte
	rrSubOpts     bool // --retain-handling: rr subscribes with subOpts (2.1; 2.0.11's rr sends none)
	randomFilter  int  // per 10000
	repeatCount   int
	repeatDelay   time.Duration
	nodelay       bool

	cafile, capath, certfile, keyfile *string
	ciphers, tlsVersion, tlsALPN      *string
	keyform, tlsEngine, tlsKpassSHA1  *string
	insecure, tlsUseOSCerts           bool
	psk, pskIdentity, proxy           *string

	haveTopicAlias bool
	props          [nPropCmds]propList // -D, by command
	optionsFile    *string             // -o (2.1)
}

// cmdError is a refusal of the command line, printed as Mosquitto prints
// it: text goes to stderr as it is (it carries its own newlines), then,
// depending on the case, the hint to run --help or the usage on stdout.
type cmdError struct {
	text  string
	hint  bool // "\nUse 'mosquitto_x --help' to see usage.\n" follows
	usage bool // the usage follows, on stdout
}

func (e *cmdError) Error() string { return strings.TrimSpace(e.text) }

// errHelp and errShowVersion are what --help and --version return.
var (
	errHelp        = errors.New("usage requested")
	errShowVersion = errors.New("version requested")
)

// hintf returns a refusal followed by the --help hint, the usual case.
func hintf(format string, args ...any) error {
	return &cmdError{text: fmt.Sprintf(format, args...), hint: true}
}

// newClientConfig returns Mosquitto's defaults (init_config).
func newClientConfig(t tool) *clientConfig {
	c := &clientConfig{
		tool:          t,
		port:          portUndefined,
		maxInflight:   20,
		keepalive:     60,
		cleanSession:  true,
		eol:           true,
		repeatCount:   1,
		randomFilter:  10000,
		protocol:      4,
		sessionExpiry: -1,
	}
	if t == toolRR {
		c.protocol = 5
		c.msgCount = 1
	}
	return c
}

// getenv looks up an environment variable; tests replace os.LookupEnv.
type getenv func(string) (string, bool)

// parseClientArgs reads the options file and then args (the command line
// without the program name) as client_config_load does, including the
// checks it makes once everything is read. It returns errHelp for --help,
// errShowVersion for --version, a *cmdError for what Mosquitto refuses, or an
// error reading the options file.
func parseClientArgs(t tool, args []string, env getenv) (*clientConfig, error) {
	c := newClientConfig(t)
	// -o names the options file to read instead of the default one (2.1).
	for i := 0; i < len(args); i++ {
		if args[i] != "-o" {
			continue
		}
		if c.optionsFile != nil {
			return nil, hintf("Error: Duplicate -o argument given.\n\n")
		}
		if i == len(args)-1 {
			return nil, hintf("Error: -o argument given but no options file specified.\n\n")
		}
		c.optionsFile = &args[i+1]
	}
	path := ""
	if c.optionsFile != nil {
		path = *c.optionsFile
	} else if dir, ok := env("XDG_CONFIG_HOME"); ok {
		path = dir + "/" + t.mosquittoName()
	} else if home, ok := env("HOME"); ok {
		path = home + "/.config/" + t.mosquittoName()
	}
	opts := clientOptions()
	if path != "" {
		if err := c.readOptionsFile(path, opts); err != nil {
			return nil, err
		}
	}
	if err := c.parseLine(args, opts); err != nil {
		return nil, err
	}
	return c, c.check()
}

// readOptionsFile applies the options file at path, if it can be opened,
// as Mosquitto does: line by line (fgets with a 1024-byte buffer), '#'
// starts a comment line, and each line is split at its first space into an
// option and the rest of the line as its one argument.
func (c *clientConfig) readOptionsFile(path string, opts map[string]*option) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // Mosquitto ignores a file it cannot open
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := readFgets(r, 1023)
		if line == "" && err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // a read error ends the file for Mosquitto too
		}
		if line[0] == '#' {
			continue
		}
		line = strings.TrimRight(line, "\r\n")
		args := strtokLine(line)
		if len(args) == 0 {
			continue
		}
		if err := c.parseLine(args, opts); err != nil {
			return err
		}
	}
}

// readFgets reads like fgets(buf, max+1, f): up to and including a newline,
// or max bytes, whichever comes first.
func readFgets(r *bufio.Reader, max int) (string, error) {
	var b strings.Builder
	for b.Len() < max {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
		if c == '\n' {
			break
		}
	}
	return b.String(), nil
}

// strtokLine splits an options file line as Mosquitto does with
// strtok(line, " ") and strtok(NULL, ""): the first space-delimited token,
// and everything after the space that ends it as the second argument.
func strtokLine(line string) []string {
	s := strings.TrimLeft(line, " ")
	if s == "" {
		return nil
	}
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return []string{s}
	}
	first, rest := s[:i], s[i+1:]
	if rest == "" {
		return []string{first}
	}
	return []string{first, rest}
}

// parseLine applies options (client_config_line_proc) as opts reads them.
func (c *clientConfig) parseLine(args []string, opts map[string]*option) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-D", "--property":
			i++
			if err := c.parseProperty(args, &i); err != nil {
				return err
			}
			c.protocol = 5
			continue
		case "-o":
			// Read before everything else; a missing file name was refused then.
			i++
			continue
		}
		o := opts[a]
		if o == nil || o.tools&(1<<c.tool) == 0 {
			return unknownOption(a)
		}
		if o.before != nil {
			if err := o.before(c); err != nil {
				return err
			}
		}
		v := ""
		if o.arg != "" {
			if i == len(args)-1 {
				if o.missing != "" {
					return hintf("%s", o.missing)
				}
				return hintf("Error: %s argument given but no %s specified.\n\n", o.flag, o.arg)
			}
			i++
			v = args[i]
		}
		if err := o.set(c, v); err != nil {
			return err
		}
	}
	return nil
}

func unknownOption(a string) error { return hintf("Error: Unknown option '%s'.\n", a) }

// topicKind says what a topic argument is for (cfg_add_topic's type).
type topicKind uint8

const (
	topicPub topicKind = iota
	topicSub
	topicResponse
)

// addTopic checks and records a topic argument (cfg_add_topic).
func (c *clientConfig) addTopic(kind topicKind, topic, arg string) error {
	if !validUTF8(topic) {
		return hintf("Error: Malformed UTF-8 in %s argument.\n\n", arg)
	}
	switch kind {
	case topicPub:
		if !pubTopicOK(topic) {
			return &cmdError{text: fmt.Sprintf("Error: Invalid publish topic '%s', does it contain '+' or '#'?\n", topic), hint: true}
		}
		c.topic = &topic
	case topicResponse:
		if !pubTopicOK(topic) {
			return &cmdError{text: fmt.Sprintf("Error: Invalid response topic '%s', does it contain '+' or '#'?\n", topic), hint: true}
		}
		c.responseTopic = &topic
	default:
		if !subTopicOK(topic) {
			return &cmdError{text: fmt.Sprintf("Error: Invalid subscription topic '%s', are all '+' and '#' wildcards correct?\n", topic), hint: true}
		}
		c.topics = append(c.topics, topic)
	}
	return nil
}

// parseURL applies -L mqtt(s)://[username[:password]@]host[:port]/topic.
// ws:// and wss:// are 2.1's.
func (c *clientConfig) parseURL(url string) error {
	lower := strings.ToLower(url)
	switch {
	case strings.HasPrefix(lower, "mqtt://"):
		url = url[7:]
		c.port = 1883
	case strings.HasPrefix(lower, "mqtts://"):
		url = url[8:]
		c.port = 8883
		c.tlsUseOSCerts = true
	case strings.HasPrefix(lower, "ws://"):
		url = url[5:]
		c.port = 1883
		c.websocket = true
	case strings.HasPrefix(lower, "wss://"):
		url = url[6:]
		c.port = 8883
		c.tlsUseOSCerts = true
		c.websocket = true
	default:
		return hintf("Error: unsupported URL scheme.\n\n")
	}
	slash := strings.IndexByte(url, '/')
	if slash < 0 {
		return hintf("Error: Invalid URL for -L argument specified - topic missing.\n")
	}
	topic := url[slash+1:]
	url = url[:slash]
	kind := topicSub
	if c.tool != toolSub {
		kind = topicPub
	}
	if err := c.addTopic(kind, topic, "-L topic"); err != nil {
		return err
	}
	if at := strings.IndexByte(url, '@'); at >= 0 {
		cred := url[:at]
		url = url[at+1:]
		if colon := strings.IndexByte(cred, ':'); colon >= 0 {
			pw := cred[colon+1:]
			c.password = &pw
			cred = cred[:colon]
		}
		c.username = &cred
	}
	host := url
	if colon := strings.IndexByte(url, ':'); colon >= 0 {
		host = url[:colon]
		c.port = cAtoi(url[colon+1:])
	}
	c.host = &host
	return nil
}

// check makes the checks client_config_load makes once all options are
// read, and adds the session expiry property.
func (c *clientConfig) check() error {
	if c.willPayload != nil && c.willTopic == nil {
		return hintf("Error: Will payload given, but no will topic given.\n")
	}
	if c.willRetain && c.willTopic == nil {
		return hintf("Error: Will retain given, but no will topic given.\n")
	}
	if (c.certfile != nil) != (c.keyfile != nil) {
		return hintf("Error: Both certfile and keyfile must be provided if one of them is set.\n")
	}
	if c.keyform != nil && c.keyfile == nil {
		return hintf("Error: If keyform is set, keyfile must be also specified.\n")
	}
	if c.tlsKpassSHA1 != nil && (c.keyform == nil || c.tlsEngine == nil) {
		return hintf("Error: when using tls-engine-kpass-sha1, both tls-engine and keyform must also be provided.\n")
	}
	if (c.cafile != nil || c.capath != nil) && c.psk != nil {
		return hintf("Error: Only one of --psk or --cafile/--capath may be used at once.\n")
	}
	if c.psk != nil && c.pskIdentity == nil {
		return hintf("Error: --psk-identity required if --psk used.\n")
	}
	if c.protocol == 5 {
		if !c.cleanSession && c.sessionExpiry == -1 {
			c.sessionExpiry = math.MaxUint32
		}
		if c.sessionExpiry > 0 {
			if c.sessionExpiry == math.MaxUint32 && (c.idPrefix != nil || c.id == nil) {
				return hintf("Error: You must provide a client id if you are using an infinite session expiry interval.\n")
			}
			c.props[propConnect] = append(c.props[propConnect], propValue{id: propSessionExpiry, num: uint32(c.sessionExpiry)})
		}
	} else if !c.cleanSession && (c.idPrefix != nil || c.id == nil) {
		return hintf("Error: You must provide a client id if you are using the -c option.\n")
	}
	if c.tool == toolSub && len(c.topics) == 0 {
		return hintf("Error: You must specify a topic to subscribe to.\n")
	}
	if c.host == nil {
		h := "localhost"
		c.host = &h
	}
	for cmd := range c.props {
		if err := checkAllProperties(propCmd(cmd), c.props[cmd]); err != nil {
			return &cmdError{text: fmt.Sprintf("Error in %s properties: %s\n", propCmdTitle[cmd], err), hint: true}
		}
	}
	return nil
}

// quietf prints to w unless --quiet (Mosquitto's err_printf).
func (c *clientConfig) quietf(w io.Writer, format string, args ...any) {
	if !c.quiet {
		fmt.Fprintf(w, format, args...)
	}
}
