package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// usage is "midge bench --help"; %[1]s is the program name.
const usage = `Usage: %[1]s conn|pub|sub|pubsub|queue|storm|filters [options]

Modes:
  conn     open -c connections (each CONNECT, and SUBSCRIBE to -t if given),
           report the connect rate and handshake latency, hold them, close them
  pub      -c publishers publish --count messages in total to -t
  sub      -c subscribers subscribe to -t and time what midge bench pub sends
  pubsub   pub and sub in one process: -c publishers, -S subscribers, and an
           exact check of every delivery (lost, duplicated, out of order)
  queue    memory per queued message: -c persistent sessions subscribe to -t
           (default bench/queue) and leave, --count messages (default 20) are
           published to it, the broker's RSS is read before and after (--pid);
           then every session comes back and must receive all of them
  storm    reconnect storm: -c persistent sessions (default 1000), --count
           messages (default 1) queued for each while offline, --restart CMD
           (optional), then all reconnect at once (--concurrency, default -c):
           time until all are connected and all messages delivered
  filters  many filters: --filters distinct subscriptions (default 100000;
           exact, + and #) on -S connections (default 10) under -t (default
           bench/f), -c publishers send --count messages (default 100000) to
           random topics: publishes/s and broker CPU per publish

Target (loopback only unless --allow-remote):
  -h HOST             broker host (default localhost)
  -p PORT             broker port (default 1883, 8883 with TLS)
  -L URL              mqtt://, mqtts://, ws:// or wss://host:port[/path] instead of -h/-p
  --sub-L URL         pubsub: the subscribers' broker, when not the publishers' (another
                      node of a cluster); same schemes, TLS options, user and password
  --tls               use TLS with -h/-p (implied by --cafile, --cert, --insecure)
  --cafile FILE       CA certificates to trust (PEM)
  --cert FILE, --key FILE   client certificate and key (PEM)
  --insecure          do not verify the server's certificate
  -u USER, -P PASS    user name and password
  --ifaddr LIST       source addresses, a range (127.0.0.2-127.0.0.9) or a comma list
  --allow-remote      allow a target or source address outside 127.0.0.0/8 and ::1

Clients:
  -c N                clients: publishers (pub, pubsub), subscribers (sub) or
                      connections (conn) (default 1; conn 100)
  -S N                pubsub: subscribers (default 1)
  -n N                number of the first client, for %%i (default 0)
  -i TEMPLATE         client identifier (default midge-bench-<random>-%%r%%i, or
                      midge-bench-%%r%%i with --clean=false, so sessions can be resumed)
  -V VERSION          MQTT version: 3.1, 3.1.1 or 5 (also 31, 311, mqttv5, ...; default 3.1.1)
  -k SECONDS          keep alive (default 60; 0: none)
  --clean=BOOL        clean session / clean start (default true)
  -x SECONDS          MQTT 5 session expiry interval (default 0; 300 with --clean=false)
  --concurrency N     connections being set up at once (default 32)
  --connect-timeout D bound on one connection's set-up (default 10s)

Messages:
  -t TEMPLATE         topic (pub, pubsub; default bench/%%i), filter (sub; default
                      bench/#) or filter each conn client subscribes to (default none)
  --sub-topic TEMPLATE  pubsub: the subscribers' filter (default -t with each
                      level that holds a variable replaced by +)
  -q QOS              0, 1 or 2 (default 0)
  -s BYTES            payload size, at least 24 (default 64)
  -C, --count N       pub, pubsub: messages in total (default 100000);
                      sub: stop when each subscriber has received N (default 0: at -d or ^C)
  -R RATE             publish rate in msg/s over all publishers (default 0: as fast
                      as flow control allows)
  --client-rate RATE  publish rate in msg/s per publisher, instead of -R
  --inflight N        QoS 1/2: unacknowledged messages per publisher (default 64;
                      20 for QoS 2 before MQTT 5, Mosquitto's max_inflight_messages)
  --maxlag N          pubsub: publishers pause while the messages published and not
                      yet received per subscriber reach N (default 1000/-S, at least 50; 0: off)
  --sub-reconnect N   sub, pubsub: subscribers reconnect after every N messages
                      (with --clean=false they resume their sessions)

Run:
  -d DURATION         bound on the measured phase (default 60s); the connection set-up
                      is bounded by it too
  --drain DURATION    after the last publish, stop when nothing arrived for this long (default 2s)
  --hold DURATION     conn: keep the connections open this long before closing (default 1s)
  --pid PID           broker process: report its CPU time and memory from /proc
                      (default auto: the process listening on the target's port,
                      when it can be found; none: do not look)
  --filters N         filters: distinct subscriptions (default 100000)
  --restart CMD       storm: shell command that restarts the broker between the
                      sessions' set-up and the storm; a number on the last line
                      of its output is the new broker's pid
  --cpuprofile FILE   write a CPU profile of midge bench itself
  --json              print the summary as JSON
  --progress WHEN     live progress line on stderr: auto (when a terminal), always, never
  --engine NAME       auto (wire for mqtt/mqtts, client for ws/wss), wire or client
  --help              this help

Latency is measured from the send time stamped in each payload (the wall clock,
so pub and sub may run in different processes on one machine) to its arrival.

The exit status is 0 when the run completed, 1 when a client could not connect,
an error occurred during the run, or none of the messages expected arrived, and
2 for a usage error.
`

// options are the options of "midge bench".
type options struct {
	mode string // conn, pub, sub, pubsub, queue, storm, filters

	// Target.
	host, url   string
	subURL      string // --sub-L: the subscribers' broker (pubsub); "" for the target
	port        int
	allowRemote bool
	ifaddr      string
	useTLS      bool
	cafile      string
	certFile    string
	keyFile     string
	insecure    bool
	username    string
	password    string
	hasPassword bool

	// Clients.
	clients        int
	subs           int
	start          int
	idTemplate     string
	version        byte
	keepAlive      int // seconds
	clean          bool
	sessionExpiry  int64 // seconds; -1: default
	concurrency    int
	connectTimeout time.Duration

	// Messages.
	topic        string
	subTopic     string
	qos          int
	size         int
	count        int64
	rate         float64
	clientRate   float64
	inflight     int
	maxLag       int // -1: default
	subReconnect int

	// Run.
	duration time.Duration
	drain    time.Duration
	hold     time.Duration
	pid      int
	pidArg   string // --pid as given: a number, auto or none
	filters  int    // filters mode: subscriptions
	restart  string // storm mode: the restart command
	cpuProf  string
	json     bool
	progress string
	engine   string

	// Derived by check.
	target    target
	subTarget *target // --sub-L; nil: the subscribers use target
	srcAddrs  []net.IP
	tlsConf   *tls.Config
	subTLS    *tls.Config // subTarget's, with its host name
	idTmpl    template
	topTmpl   template // publish topic, sub filter or conn filter
	subTmpl   template // pubsub: the subscribers' filter
	runID     uint32
}

// target is where the broker listens.
type target struct {
	scheme string // tcp, tls, ws or wss
	addr   string // host:port
	host   string
	url    string // for the client engine: the URL it dials
}

// errHelp asks for the usage.
var errHelp = errors.New("help requested")

// parseArgs parses the arguments of "midge bench" (after the command
// name). It does not touch the network; check does.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	if len(args) == 0 {
		return nil, errors.New("a mode is required: conn, pub, sub, pubsub, queue, storm or filters")
	}
	switch args[0] {
	case "-help", "--help", "help":
		return nil, errHelp
	case "conn", "pub", "sub", "pubsub", "queue", "storm", "filters":
		o.mode = args[0]
	default:
		return nil, fmt.Errorf("unknown mode %q: want conn, pub, sub, pubsub, queue, storm or filters", args[0])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	fs.StringVar(&o.host, "h", "", "")
	fs.IntVar(&o.port, "p", 0, "")
	fs.StringVar(&o.url, "L", "", "")
	fs.StringVar(&o.subURL, "sub-L", "", "")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "")
	fs.StringVar(&o.ifaddr, "ifaddr", "", "")
	fs.BoolVar(&o.useTLS, "tls", false, "")
	fs.StringVar(&o.cafile, "cafile", "", "")
	fs.StringVar(&o.certFile, "cert", "", "")
	fs.StringVar(&o.keyFile, "key", "", "")
	fs.BoolVar(&o.insecure, "insecure", false, "")
	fs.StringVar(&o.username, "u", "", "")
	fs.Func("P", "", func(s string) error { o.password, o.hasPassword = s, true; return nil })

	fs.IntVar(&o.clients, "c", 0, "")
	fs.IntVar(&o.subs, "S", 1, "")
	fs.IntVar(&o.start, "n", 0, "")
	fs.StringVar(&o.idTemplate, "i", "", "")
	version := fs.String("V", "3.1.1", "")
	fs.IntVar(&o.keepAlive, "k", 60, "")
	fs.BoolVar(&o.clean, "clean", true, "")
	fs.Int64Var(&o.sessionExpiry, "x", -1, "")
	fs.IntVar(&o.concurrency, "concurrency", 32, "")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 10*time.Second, "")

	fs.StringVar(&o.topic, "t", "", "")
	fs.StringVar(&o.subTopic, "sub-topic", "", "")
	fs.IntVar(&o.qos, "q", 0, "")
	fs.IntVar(&o.size, "s", 64, "")
	o.count = -1
	fs.Int64Var(&o.count, "C", -1, "")
	fs.Int64Var(&o.count, "count", -1, "")
	fs.Float64Var(&o.rate, "R", 0, "")
	fs.Float64Var(&o.clientRate, "client-rate", 0, "")
	fs.IntVar(&o.inflight, "inflight", 0, "")
	fs.IntVar(&o.maxLag, "maxlag", -1, "")
	fs.IntVar(&o.subReconnect, "sub-reconnect", 0, "")

	fs.DurationVar(&o.duration, "d", 60*time.Second, "")
	fs.DurationVar(&o.drain, "drain", 2*time.Second, "")
	fs.DurationVar(&o.hold, "hold", time.Second, "")
	fs.StringVar(&o.pidArg, "pid", "auto", "")
	fs.IntVar(&o.filters, "filters", 100000, "")
	fs.StringVar(&o.restart, "restart", "", "")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.progress, "progress", "auto", "")
	fs.StringVar(&o.engine, "engine", "auto", "")

	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	v, err := parseVersion(*version)
	if err != nil {
		return nil, err
	}
	o.version = v
	if err := o.defaults(set); err != nil {
		return nil, err
	}
	if err := o.validate(set); err != nil {
		return nil, err
	}
	return o, nil
}

// parseVersion accepts the spellings of mosquitto_pub -V and plain numbers.
func parseVersion(s string) (byte, error) {
	switch strings.ToLower(s) {
	case "3.1", "31", "mqttv31", "3":
		return packet.Version31, nil
	case "3.1.1", "311", "mqttv311", "4":
		return packet.Version311, nil
	case "5", "5.0", "mqttv5":
		return packet.Version5, nil
	}
	return 0, fmt.Errorf("-V %q: want 3.1, 3.1.1 or 5", s)
}

// versionName is the usual name of a protocol level.
func versionName(v byte) string {
	switch v {
	case packet.Version31:
		return "3.1"
	case packet.Version311:
		return "3.1.1"
	case packet.Version5:
		return "5"
	}
	return strconv.Itoa(int(v))
}

// defaults fills in what depends on the mode and on other options.
func (o *options) defaults(set map[string]bool) error {
	if !set["c"] {
		o.clients = 1
		switch o.mode {
		case "conn":
			o.clients = 100
		case "queue", "storm":
			o.clients = 1000
		}
	}
	switch o.mode {
	case "queue", "storm":
		// Sessions that outlive their connections.
		if set["clean"] && o.clean {
			return fmt.Errorf("%s mode needs persistent sessions: --clean=false", o.mode)
		}
		o.clean = false
		if !set["q"] {
			o.qos = 1
		}
		if o.mode == "storm" && !set["concurrency"] {
			o.concurrency = o.clients
		}
	case "filters":
		if !set["q"] {
			o.qos = 1
		}
		if !set["S"] {
			o.subs = 10
		}
		if !set["maxlag"] {
			o.maxLag = 1000
		}
	}
	if !set["t"] {
		switch o.mode {
		case "pub", "pubsub":
			o.topic = "bench/%i"
		case "sub":
			o.topic = "bench/#"
		case "queue", "storm":
			o.topic = "bench/" + o.mode
		case "filters":
			o.topic = "bench/f"
		}
	}
	if o.count < 0 {
		switch o.mode {
		case "pub", "pubsub", "filters":
			o.count = 100000
		case "queue":
			o.count = 20
		case "storm":
			o.count = 1
		default:
			o.count = 0
		}
	}
	if o.inflight == 0 {
		o.inflight = 64
		if o.qos == 2 && o.version < packet.Version5 {
			o.inflight = 20
		}
	}
	if o.maxLag < 0 {
		o.maxLag = max(50, 1000/max(o.subs, 1))
	}
	if o.sessionExpiry < 0 {
		o.sessionExpiry = 0
		if !o.clean && o.version == packet.Version5 {
			o.sessionExpiry = 300
		}
	}
	if o.idTemplate == "" {
		if o.clean || o.mode == "queue" || o.mode == "storm" {
			var b [3]byte
			rand.Read(b[:])
			o.idTemplate = fmt.Sprintf("midge-bench-%x-%%r%%i", b)
		} else {
			o.idTemplate = "midge-bench-%r%i"
		}
	}
	var b [4]byte
	rand.Read(b[:])
	o.runID = binary.LittleEndian.Uint32(b[:])
	return nil
}

// validate checks the options against each other and parses the templates.
func (o *options) validate(set map[string]bool) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.clients < 1 {
		bad("-c must be at least 1")
	}
	if o.subs < 1 {
		bad("-S must be at least 1")
	}
	if set["S"] && o.mode != "pubsub" && o.mode != "filters" {
		bad("-S is for pubsub and filters; the other modes take -c")
	}
	if o.start < 0 {
		bad("-n must not be negative")
	}
	if o.qos < 0 || o.qos > 2 {
		bad("-q must be 0, 1 or 2")
	}
	if o.size < stampSize || o.size > 256<<20 {
		bad("-s must be between %d (the stamp: time, publisher, sequence) and 268435456", stampSize)
	}
	switch {
	case o.mode == "pub" || o.mode == "pubsub" || o.mode == "queue" || o.mode == "filters":
		if o.count < 1 {
			bad("--count must be at least 1: every load is bounded in messages and in time")
		}
	case o.mode == "sub" || o.mode == "storm":
		if o.count < 0 {
			bad("--count must not be negative")
		}
	case set["C"] || set["count"]:
		bad("--count is for pub, sub and pubsub")
	}
	if o.duration <= 0 {
		bad("-d must be positive: every load is bounded in time")
	}
	if o.drain <= 0 {
		bad("--drain must be positive")
	}
	if o.hold < 0 {
		bad("--hold must not be negative")
	}
	if o.rate < 0 || o.clientRate < 0 {
		bad("rates must not be negative")
	}
	if o.rate > 0 && o.clientRate > 0 {
		bad("use either -R or --client-rate")
	}
	if o.inflight < 1 || o.inflight > 65535 {
		bad("--inflight must be between 1 and 65535")
	}
	if o.maxLag < 0 {
		bad("--maxlag must not be negative")
	}
	if o.subReconnect < 0 || o.subReconnect > 0 && o.mode != "sub" && o.mode != "pubsub" {
		bad("--sub-reconnect is a positive count, for sub and pubsub")
	}
	if o.keepAlive < 0 || o.keepAlive > 65535 {
		bad("-k must be between 0 and 65535")
	}
	if o.sessionExpiry > 0xffffffff {
		bad("-x must be at most 4294967295")
	}
	if o.sessionExpiry > 0 && o.version != packet.Version5 {
		bad("-x needs MQTT 5 (-V 5)")
	}
	if o.concurrency < 1 {
		bad("--concurrency must be at least 1")
	}
	if o.connectTimeout <= 0 {
		bad("--connect-timeout must be positive")
	}
	if o.hasPassword && o.username == "" && o.version != packet.Version5 {
		bad("-P needs -u before MQTT 5")
	}
	if set["filters"] && o.mode != "filters" {
		bad("--filters is for filters mode")
	}
	if o.filters < 1 || o.filters > maxFilters {
		bad("--filters must be between 1 and %d", maxFilters)
	}
	if o.restart != "" && o.mode != "storm" {
		bad("--restart is for storm mode")
	}
	switch o.pidArg {
	case "auto", "none":
	default:
		if n, err := strconv.Atoi(o.pidArg); err != nil || n < 1 {
			bad("--pid must be a process number, auto or none")
		} else {
			o.pid = n
		}
	}
	if o.mode == "queue" || o.mode == "storm" || o.mode == "filters" {
		if o.engine == "client" || strings.HasPrefix(o.target.scheme, "ws") {
			bad("%s mode runs on the wire engine: MQTT over TCP or TLS", o.mode)
		}
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		bad("--progress must be auto, always or never")
	}
	switch o.engine {
	case "auto", "wire", "client":
	default:
		bad("--engine must be auto, wire or client")
	}
	if (o.certFile == "") != (o.keyFile == "") {
		bad("--cert and --key go together")
	}
	if o.url != "" && (set["h"] || set["p"]) {
		bad("use either -L or -h/-p")
	}
	var err error
	if o.idTmpl, err = parseTemplate(o.idTemplate, "ir"); err != nil {
		bad("-i: %v", err)
	}
	if o.topTmpl, err = parseTemplate(o.topic, "icr"); err != nil {
		bad("-t: %v", err)
	}
	if o.mode == "pubsub" {
		st := o.subTopic
		if st == "" {
			if st, err = wildcardFilter(o.topic); err != nil {
				bad("-t: %v", err)
			}
		}
		if o.subTmpl, err = parseTemplate(st, "icr"); err != nil {
			bad("--sub-topic: %v", err)
		}
	} else if o.subTopic != "" {
		bad("--sub-topic is for pubsub")
	}
	if err := o.parseTarget(); err != nil {
		errs = append(errs, err)
	}
	if set["sub-L"] {
		if o.mode != "pubsub" {
			bad("--sub-L is for pubsub (sub mode takes -L)")
		} else if err := o.parseSubTarget(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.ifaddr != "" {
		if o.srcAddrs, err = parseAddrList(o.ifaddr); err != nil {
			bad("--ifaddr: %v", err)
		}
		if len(o.srcAddrs) > 0 && strings.HasPrefix(o.target.scheme, "ws") {
			bad("--ifaddr is not supported with WebSocket")
		}
	}
	ws := strings.HasPrefix(o.target.scheme, "ws") ||
		o.subTarget != nil && strings.HasPrefix(o.subTarget.scheme, "ws")
	if o.engine == "wire" && ws {
		bad("--engine wire speaks MQTT over TCP and TLS only; WebSocket needs --engine client")
	}
	if o.engine == "auto" {
		o.engine = "wire"
		if ws {
			o.engine = "client"
		}
	}
	return errors.Join(errs...)
}

// parseTarget works out the broker's address from -L or -h/-p and the TLS
// options.
func (o *options) parseTarget() error {
	tlsWanted := o.useTLS || o.cafile != "" || o.certFile != "" || o.insecure
	t := &o.target
	if o.url == "" {
		t.host = o.host
		if t.host == "" {
			t.host = "localhost"
		}
		t.scheme = "tcp"
		port := 1883
		if tlsWanted {
			t.scheme, port = "tls", 8883
		}
		if o.port != 0 {
			port = o.port
		}
		if port < 1 || port > 65535 {
			return fmt.Errorf("-p %d: not a port", port)
		}
		t.addr = net.JoinHostPort(t.host, strconv.Itoa(port))
		scheme := map[string]string{"tcp": "mqtt", "tls": "mqtts"}[t.scheme]
		t.url = scheme + "://" + t.addr
		return nil
	}
	u, err := parseTargetURL(t, "-L", o.url, tlsWanted)
	if err != nil {
		return err
	}
	if u.User != nil {
		if o.username == "" {
			o.username = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && !o.hasPassword {
			o.password, o.hasPassword = p, true
		}
	}
	return nil
}

// parseSubTarget works out the subscribers' broker from --sub-L. It shares
// the TLS options and the credentials with -L or -h/-p; its user
// information, if any, must be the same as theirs.
func (o *options) parseSubTarget() error {
	tlsWanted := o.useTLS || o.cafile != "" || o.certFile != "" || o.insecure
	t := &target{}
	u, err := parseTargetURL(t, "--sub-L", o.subURL, tlsWanted)
	if err != nil {
		return err
	}
	if u.User != nil {
		p, ok := u.User.Password()
		if u.User.Username() != o.username || ok && (!o.hasPassword || p != o.password) {
			return errors.New("--sub-L: the subscribers use the publishers' user and password (-u/-P or -L's); leave them out of --sub-L")
		}
	}
	o.subTarget = t
	return nil
}

// parseTargetURL parses raw, the value of option name (-L or --sub-L),
// into t, and returns the URL for its user information.
func parseTargetURL(t *target, name, raw string, tlsWanted bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	port := ""
	switch strings.ToLower(u.Scheme) {
	case "mqtt", "tcp":
		t.scheme, port = "tcp", "1883"
		if tlsWanted {
			t.scheme, port = "tls", "8883"
		}
	case "mqtts", "ssl", "tls":
		t.scheme, port = "tls", "8883"
	case "ws":
		t.scheme, port = "ws", "80"
	case "wss":
		t.scheme, port = "wss", "443"
	default:
		return nil, fmt.Errorf("%s %q: the scheme must be mqtt, mqtts, ws or wss", name, raw)
	}
	if t.scheme == "ws" && tlsWanted {
		return nil, fmt.Errorf("%s ws:// is plain WebSocket; use wss:// for TLS", name)
	}
	t.host = u.Hostname()
	if t.host == "" {
		return nil, fmt.Errorf("%s %q: no host", name, raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	t.addr = net.JoinHostPort(t.host, port)
	scheme := map[string]string{"tcp": "mqtt", "tls": "mqtts", "ws": "ws", "wss": "wss"}[t.scheme]
	t.url = scheme + "://" + t.addr + u.EscapedPath()
	if u.RawQuery != "" {
		t.url += "?" + u.RawQuery
	}
	return u, nil
}

// parseAddrList parses "a.b.c.d-a.b.c.e" ranges (IPv4, last byte varying)
// and comma lists of addresses.
func parseAddrList(s string) ([]net.IP, error) {
	var out []net.IP
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			ip := net.ParseIP(part)
			if ip == nil {
				return nil, fmt.Errorf("%q is not an IP address", part)
			}
			out = append(out, ip)
			continue
		}
		a, b := net.ParseIP(lo).To4(), net.ParseIP(hi).To4()
		if a == nil || b == nil || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] || a[3] > b[3] {
			return nil, fmt.Errorf("range %q: want a.b.c.x-a.b.c.y with x <= y", part)
		}
		for x := int(a[3]); x <= int(b[3]); x++ {
			out = append(out, net.IPv4(a[0], a[1], a[2], byte(x)))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no addresses")
	}
	return out, nil
}

// checkNetwork resolves the target and refuses addresses outside loopback
// unless --allow-remote, and loads the TLS files.
func (o *options) checkNetwork(ctx context.Context) error {
	if !o.allowRemote {
		hosts := []string{o.target.host}
		if o.subTarget != nil {
			hosts = append(hosts, o.subTarget.host)
		}
		for _, h := range hosts {
			ips, err := net.DefaultResolver.LookupIPAddr(ctx, h)
			if err != nil {
				return fmt.Errorf("resolving %s: %w", h, err)
			}
			for _, ip := range ips {
				if !ip.IP.IsLoopback() {
					return fmt.Errorf("refusing %s (%s): not a loopback address; --allow-remote permits it", h, ip.IP)
				}
			}
		}
		for _, ip := range o.srcAddrs {
			if !ip.IsLoopback() {
				return fmt.Errorf("refusing source address %s: not loopback; --allow-remote permits it", ip)
			}
		}
	}
	tlsOn := func(t *target) bool { return t.scheme == "tls" || t.scheme == "wss" }
	if tlsOn(&o.target) || o.subTarget != nil && tlsOn(o.subTarget) {
		c := &tls.Config{ServerName: o.target.host, InsecureSkipVerify: o.insecure}
		if o.cafile != "" {
			pem, err := os.ReadFile(o.cafile)
			if err != nil {
				return fmt.Errorf("--cafile: %w", err)
			}
			c.RootCAs = x509.NewCertPool()
			if !c.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--cafile %s: no PEM certificates", o.cafile)
			}
		}
		if o.certFile != "" {
			cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
			if err != nil {
				return fmt.Errorf("--cert/--key: %w", err)
			}
			c.Certificates = []tls.Certificate{cert}
		}
		o.tlsConf = c
		if o.subTarget != nil {
			o.subTLS = c.Clone()
			o.subTLS.ServerName = o.subTarget.host
		}
	}
	return nil
}

// Run is "midge bench".
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	o, err := parseArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprintf(st.Out, usage, prog)
		return 0
	}
	if err != nil {
		fmt.Fprintf(st.Err, "%s: %v\nRun '%s --help' for the options.\n", prog, err, prog)
		return 2
	}
	if err := o.checkNetwork(ctx); err != nil {
		fmt.Fprintf(st.Err, "%s: %v\n", prog, err)
		return 2
	}
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(st.Err, "%s: --cpuprofile: %v\n", prog, err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	rep, err := runOptions(ctx, o, st)
	// Every message lost measures nothing: a broker that routes nothing
	// (a wrong -t, an ACL that denies it) must not pass as a fast one.
	if rc := rep.received(); err == nil && rc != nil && rc.Expected > 0 && rc.Received == 0 {
		err = fmt.Errorf("none of the %d messages expected arrived", rc.Expected)
	}
	if rep != nil {
		if werr := rep.write(st.Out, o.json); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(st.Err, "%s: %v\n", prog, err)
		return 1
	}
	return 0
}

// runOptions runs one benchmark and returns its report (also when it
// failed part way, if there is something to report).
func runOptions(ctx context.Context, o *options, st base.Streams) (*report, error) {
	if err := checkFDLimit(o); err != nil {
		return nil, err
	}
	if o.pidArg == "auto" {
		o.pid = findListener(o.target.addr)
	}
	switch o.mode {
	case "conn":
		return runConnBench(ctx, o, st)
	case "queue":
		return runQueueBench(ctx, o, st)
	case "storm":
		return runStormBench(ctx, o, st)
	case "filters":
		return runFiltersBench(ctx, o, st)
	}
	return runMsgBench(ctx, o, st)
}
