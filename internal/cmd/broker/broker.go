package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/version"
	"github.com/midge-mqtt/midge/store"
)

// Exit statuses of "midge broker", as the mosquitto binary's: 3
// (MOSQ_ERR_INVAL) for a bad command line or configuration, 1 when the
// broker cannot start (listeners, pid file, user).
const (
	exitOK      = 0
	exitFailure = 1
	exitInvalid = 3
)

// maxPorts is how many -p options Mosquitto accepts (CMD_PORT_LIMIT).
const maxPorts = 10

// brokerOptions are the command-line options of "midge broker", the
// mosquitto binary's flags.
type brokerOptions struct {
	configFile string   // -c, --config-file
	ports      []int    // -p, --port (repeatable, loopback only)
	daemon     bool     // -d, --daemon
	verbose    bool     // -v, --verbose: log_type all
	quiet      bool     // -q, --quiet: log_type none (overrides -v)
	testConfig bool     // --test-config
	recover    bool     // --recover: move a damaged store aside (midge's own)
	help       bool     // -h, --help
	version    bool     // --version
	raw        []string // the arguments as given, for -d to start again
}

// errUsage is a command line the broker refuses; its text is printed before
// the usage.
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

// parseBrokerArgs parses the mosquitto binary's flags. Like mosquitto it
// takes no other arguments and does not combine flags ("-dv" is unknown).
func parseBrokerArgs(args []string) (brokerOptions, error) {
	o := brokerOptions{raw: args}
	// next moves i on to the argument of the option at i.
	next := func(i *int, what string) (string, error) {
		if *i+1 >= len(args) {
			return "", &errUsage{fmt.Sprintf("%s argument given, but no %s specified.", args[*i], what)}
		}
		*i++
		return args[*i], nil
	}
	// switches are the options that only set a flag.
	switches := map[string]*bool{
		"-d": &o.daemon, "--daemon": &o.daemon,
		"-h": &o.help, "--help": &o.help,
		"-q": &o.quiet, "--quiet": &o.quiet,
		"-v": &o.verbose, "--verbose": &o.verbose,
		"--version": &o.version, "--test-config": &o.testConfig, "--recover": &o.recover,
	}
	for i := 0; i < len(args); i++ {
		if flag, ok := switches[args[i]]; ok {
			*flag = true
			continue
		}
		switch a := args[i]; a {
		case "-c", "--config-file":
			v, err := next(&i, "config file")
			if err != nil {
				return o, err
			}
			o.configFile = v
		case "-p", "--port":
			v, err := next(&i, "port")
			if err != nil {
				return o, err
			}
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > 65535 {
				return o, fmt.Errorf("Invalid port specified (%s).", v)
			}
			if len(o.ports) == maxPorts {
				return o, fmt.Errorf("Only %d ports can be specified on the command line.", maxPorts)
			}
			o.ports = append(o.ports, n)
		case "--tls-keylog":
			return o, errors.New("TLS support not available so --tls-keylog is not available.")
		default:
			return o, &errUsage{fmt.Sprintf("Unknown option '%s'.", a)}
		}
	}
	return o, nil
}

// brokerUsage prints mosquitto's usage text, adapted.
func brokerUsage(w io.Writer, prog string) {
	fmt.Fprintf(w, `midge version %s (%s)

%s is an MQTT v5.0/v3.1.1/v3.1 broker, a drop-in for mosquitto.

Usage: %s [-c config_file] [-d] [-h] [-p port] [-q] [-v] [--test-config] [--recover]

 -c : specify the broker config file.
 -d : put the broker into the background after starting.
 -h : display this help.
 -p : start the broker listening on the specified port.
      Not recommended in conjunction with the -c option.
 -q : quiet mode - disable all logging types. This overrides
      any logging options given in the config file, and -v.
 -v : verbose mode - enable all logging types. This overrides
      any logging options given in the config file.
 --test-config : test config file and exit
 --recover : if the persistence store is damaged, move it aside
             (to FILE.corrupt-<time>) and start with an empty one.

See https://mosquitto.org/ for the configuration file format (mosquitto.conf(5)).

`, version.Version, prog, prog, prog)
}

// Run is "midge broker" / "mosquitto": it parses args, then runs the
// broker until ctx is done or SIGINT/SIGTERM, and returns the exit status.
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	o, err := parseBrokerArgs(args)
	if err != nil {
		logErr(st.Err, "Error: "+err.Error())
		var ue *errUsage
		if errors.As(err, &ue) {
			brokerUsage(st.Out, prog)
		}
		return exitInvalid
	}
	switch {
	case o.help:
		brokerUsage(st.Out, prog)
		return exitInvalid // as mosquitto -h
	case o.version:
		fmt.Fprintf(st.Out, "midge version %s\n", version.Version)
		return exitOK
	}
	if path := os.Getenv("MIDGE_CPUPROFILE"); path != "" {
		// For performance work (docs/performance.md): a CPU profile of the
		// whole run, written when the broker exits.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	return runBrokerOptions(ctx, prog, o, st, brokerHooks{dropPrivileges: true, signals: true})
}

// brokerHooks let tests run the broker in-process without touching the test
// process's identity or signal handlers.
type brokerHooks struct {
	dropPrivileges bool               // switch user when root (user option)
	signals        bool               // handle SIGHUP, SIGUSR1, SIGUSR2
	started        func(b *brokerRun) // called once the broker serves
	listen         func(network, address string) (net.Listener, error)
	getenv         func(string) string // the environment (NOTIFY_SOCKET, WATCHDOG_USEC); nil for os.Getenv
}

// logErr writes a line as Mosquitto writes errors before its log is set up:
// to stderr, with a Unix timestamp.
func logErr(w io.Writer, msg string) {
	fmt.Fprintf(w, "%d: %s\n", time.Now().Unix(), msg)
}

// loadConfig reads the configuration of o: the -c file, or the defaults.
func loadConfig(o brokerOptions) (*config.Result, error) {
	if o.configFile == "" {
		return config.Parse(strings.NewReader(""), "")
	}
	return config.Load(o.configFile)
}

// configErrors returns the problems a configuration error joins (each
// "file:line: what is wrong"), or err alone.
func configErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// printConfigErrors writes each problem of err on its own line.
func printConfigErrors(w io.Writer, err error) {
	for _, e := range configErrors(err) {
		logErr(w, "Error: "+e.Error())
	}
}

// warningLine is the text of a configuration warning: "Warning: FILE:LINE:
// ..." or, for a deprecation notice, "FILE:LINE: The '...' option is now
// deprecated ...".
func warningLine(w config.Warning) string {
	if w.Notice || w.Verbatim {
		return w.String()
	}
	return "Warning: " + w.String()
}

// logWarnings logs the warnings of a configuration, the deprecation
// notices at notice level as Mosquitto 2.1 does, and what it says of a
// password file's lines at the levels Mosquitto 2.0 does.
func logWarnings(log *slog.Logger, ws []config.Warning) {
	for _, w := range ws {
		switch {
		case w.Error:
			log.Error(warningLine(w))
		case w.Notice:
			log.Log(context.Background(), logging.LevelNotice, warningLine(w))
		default:
			log.Warn(warningLine(w))
		}
	}
}

// logOptions returns the logging options of res with -v and -q applied.
func logOptions(res *config.Result, o brokerOptions) logging.Options {
	lo := res.Log
	switch {
	case o.quiet:
		lo.Types = logging.None
	case o.verbose:
		lo.Types = logging.All
	}
	return lo
}

func runBrokerOptions(ctx context.Context, prog string, o brokerOptions, st base.Streams, hooks brokerHooks) int {
	res, err := loadConfig(o)
	if o.testConfig {
		switch {
		case o.configFile == "":
			logErr(st.Err, "Please provide a configuration file to test.")
			return exitInvalid
		case err != nil:
			printConfigErrors(st.Err, err)
			return exitInvalid
		}
		for _, w := range res.Warnings {
			logErr(st.Err, warningLine(w))
		}
		logErr(st.Err, "Configuration file is OK.")
		return exitOK
	}
	if err != nil {
		printConfigErrors(st.Err, err)
		return exitInvalid
	}
	if o.daemon && os.Getenv(daemonEnv) == "" {
		if code := daemonize(prog, o, st); code >= 0 {
			return code
		}
	}
	ready := daemonReady(st)

	getenv := hooks.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	b := &brokerRun{opts: o, res: res, prog: prog, hooks: hooks, stdout: st.Out, sd: newSDNotifier(getenv)}
	if code, ok := b.start(ctx, ready.stderr()); !ok {
		ready.fail()
		return code
	}
	defer b.stop()
	ready.done()
	if hooks.started != nil {
		hooks.started(b)
	}
	b.sd.notify("READY=1")
	defer b.sd.notify("STOPPING=1")
	return b.wait(ctx, watchdogInterval(getenv, os.Getpid()))
}

// brokerRun is a running broker with the process settings around it.
type brokerRun struct {
	opts  brokerOptions
	prog  string
	hooks brokerHooks

	mu  sync.Mutex // guards res (Reload updates it)
	res *config.Result

	handler *logging.Handler
	log     *slog.Logger
	srv     atomic.Pointer[broker.Server]
	lns     []openListener
	errc    chan error
	pidFile string
	stdout  io.Writer    // log_dest stdout and SIGUSR2's output
	store   broker.Store // the persistence store, nil without persistence
	storeAt string       // its path
	web     webRun       // the http_api listeners (broker_web.go)
	bridges bridgeRun    // the bridges (bridges.go)
	cluster *clusterRun  // the cluster node (cluster.go), nil without cluster options
	sd      sdNotifier   // systemd's notify socket, if started by a Type=notify unit

	// dynsecNode is the cluster node dynamic security replicates its
	// changes through (cluster_dynsec.go); nil when not running.
	dynsecNode dynsecNode
}

// openListener is a listening socket and its settings.
type openListener struct {
	ln  net.Listener
	cfg broker.Listener
}

// start sets up logging, opens the listeners, writes the pid file, drops
// privileges and starts serving. It returns the exit status and false on
// failure. errOut receives start-up errors before logging is set up.
func (b *brokerRun) start(ctx context.Context, errOut io.Writer) (int, bool) {
	res := b.res
	env := logging.Env{Stdout: b.streamsOut(), Stderr: errOut, Publish: b.publishLog}
	newLog := absentLogFile(logOptions(res, b.opts)) // created below, as root: privileges.go
	h, err := logging.New(logOptions(res, b.opts), env)
	if err != nil {
		// Mosquitto falls back to errors on stderr and carries on.
		fallback := logging.Options{Types: logging.Error, Dests: logging.Stderr}
		h, _ = logging.New(fallback, env)
		b.handler, b.log = h, slog.New(h)
		b.log.Error("Error: " + err.Error())
	} else {
		b.handler, b.log = h, slog.New(h)
	}
	b.log.Info(fmt.Sprintf("midge version %s starting", version.Version))
	if b.opts.configFile != "" {
		b.log.Info(fmt.Sprintf("Config loaded from %s.", b.opts.configFile))
	} else {
		b.log.Info("Using default config.")
	}
	logWarnings(b.log, res.Warnings)

	cfg := res.Config
	cfg.Logger = b.log
	if err := b.openListeners(&cfg); err != nil {
		b.log.Error("Error: " + err.Error())
		b.log.Error("Error: Unable to start any listening sockets, exiting.")
		b.handler.Close()
		return exitFailure, false
	}
	if err := b.openWebListeners(); err != nil {
		b.log.Error("Error: " + err.Error())
		b.closeListeners()
		b.handler.Close()
		return exitFailure, false
	}
	if res.PIDFile != "" {
		if err := os.WriteFile(res.PIDFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			b.log.Error("Error: Unable to write pid file: " + err.Error())
			b.closeListeners()
			b.handler.Close()
			return exitFailure, false
		}
		b.pidFile = res.PIDFile
	}
	if b.hooks.dropPrivileges {
		prepareForUser(res.User, b.opts.configFile, res, newLog, b.log) // privileges.go
		if err := dropPrivileges(res.User, b.log); err != nil {
			b.log.Error("Error: " + err.Error())
			b.closeListeners()
			b.removePID()
			b.handler.Close()
			return exitFailure, false
		}
	}
	if err := b.openDynsec(); err != nil { // dynsec.go
		b.log.Error("Error: " + err.Error())
		b.closeListeners()
		b.removePID()
		b.handler.Close()
		return exitFailure, false
	}
	if err := b.startCluster(ctx); err != nil { // cluster.go
		b.log.Error("Error: " + err.Error())
		b.closeListeners()
		b.removePID()
		b.handler.Close()
		return exitFailure, false
	}
	b.setClusterHooks(&cfg)
	srv, err := b.openStore(ctx, cfg)
	if err == nil {
		err = b.attachDynsec(srv)
	}
	if err != nil {
		b.log.Error("Error: " + err.Error())
		b.stopCluster()
		b.closeListeners()
		b.removePID()
		b.handler.Close()
		return exitFailure, false
	}
	b.srv.Store(srv)
	b.attachCluster(srv) // cluster.go
	// The bridges' local sessions subscribe before any client is served.
	b.bridges.start(srv, res.Bridges, b.log)
	if len(res.Bridges) > 0 {
		b.bridges.startSys(sysInterval(res.Config.SysInterval))
	}
	if res.EnableControlAPI {
		b.setControlAPI(srv, true)
	}
	b.errc = make(chan error, len(b.lns)+len(b.web.lns))
	for _, ol := range b.lns {
		go func() { b.errc <- srv.Serve(ctx, ol.ln, ol.cfg) }()
	}
	b.startWeb(srv)
	b.log.Info(fmt.Sprintf("midge version %s running", version.Version))
	return exitOK, true
}

// openStore opens the persistence store, if persistence is on, and returns
// a server that has restored its state from it. With --recover a damaged
// store is moved aside and an empty one started; without, the damage is
// reported and nothing is changed.
func (b *brokerRun) openStore(ctx context.Context, cfg broker.Config) (*broker.Server, error) {
	p := b.res.Persistence
	if !p.Enabled {
		return broker.New(cfg), nil
	}
	path, source := storePaths(p)
	if runtime.GOMAXPROCS(0) == 1 {
		// On one CPU (a Raspberry Pi Zero, or a broker pinned to a
		// core), Go runs one goroutine at a time, and a commit waiting
		// for the disk held it until the runtime noticed: every fsync
		// stalled every client. A second P lets the others run while
		// one thread waits in the kernel; with one CPU they still take
		// turns on it. (QoS 1 fan-in to a persistent subscriber, pinned:
		// 77k -> 137k msg/s.)
		runtime.GOMAXPROCS(2)
	}
	for attempt := 0; ; attempt++ {
		st, err := store.OpenBolt(path, store.BoltOptions{CreatedBy: "midge " + version.Version, Logger: b.log})
		var srv *broker.Server
		if err == nil {
			if ierr := b.importMosquitto(ctx, st, path, source); ierr != nil {
				st.Close()
				return nil, ierr
			}
			cfg.Store = st
			if p.Periodic {
				cfg.PersistenceInterval = p.SyncInterval
			}
			srv = broker.New(cfg)
			if err = srv.Start(ctx); err != nil {
				srv.Shutdown(ctx)
				st.Close()
			}
		}
		if err == nil {
			b.store, b.storeAt = st, path
			b.log.Info(fmt.Sprintf("Persistence store %s opened.", path))
			return srv, nil
		}
		if !errors.Is(err, store.ErrCorrupt) || !b.opts.recover || attempt > 0 {
			return nil, err
		}
		moved, merr := store.MoveAside(path)
		if merr != nil {
			return nil, fmt.Errorf("%w; moving it aside failed: %v", err, merr)
		}
		b.log.Warn(fmt.Sprintf("Warning: %v; moved it to %s and starting with an empty store.", err, moved))
	}
}

// streamsOut is the writer for log_dest stdout.
func (b *brokerRun) streamsOut() io.Writer {
	if os.Getenv(daemonEnv) != "" {
		return io.Discard
	}
	return b.stdout
}

// publishLog is the logging hook for log_dest topic.
func (b *brokerRun) publishLog(topic string, line []byte) {
	if srv := b.srv.Load(); srv != nil {
		srv.PublishLog(topic, line)
	}
}

// openListeners opens the configured listeners, or the local-only ones
// (127.0.0.1 and ::1, port 1883 or the -p ports), logging as Mosquitto does,
// and fills cfg.Listeners accordingly.
func (b *brokerRun) openListeners(cfg *broker.Config) error {
	listen := func(l broker.Listener) (net.Listener, error) {
		if b.hooks.listen != nil {
			return b.hooks.listen(l.Network, l.Address)
		}
		return broker.Listen(context.Background(), l)
	}
	type want struct {
		cfg      broker.Listener
		optional bool // may fail (no IPv6)
	}
	var wants []want
	res := b.res
	if res.LocalOnly {
		b.log.Info("Starting in local only mode. Connections will only be possible from clients running on this machine.")
		b.log.Info("Create a configuration file which defines a listener to allow remote access.")
		b.log.Info("For more details see https://mosquitto.org/documentation/authentication-methods/")
		ports := b.opts.ports
		if len(ports) == 0 {
			ports = []int{1883}
		}
		for _, p := range ports {
			ps := strconv.Itoa(p)
			wants = append(wants,
				want{cfg: broker.Listener{Network: "tcp4", Address: net.JoinHostPort("127.0.0.1", ps)}},
				want{cfg: broker.Listener{Network: "tcp6", Address: net.JoinHostPort("::1", ps)}, optional: true})
		}
	} else {
		if len(b.opts.ports) > 0 {
			b.log.Warn("Warning: -p is ignored because the configuration file defines listeners.")
		}
		for _, l := range res.Config.Listeners {
			wants = append(wants, want{cfg: l})
		}
	}
	var opened []broker.Listener
	for _, w := range wants {
		ln, err := listen(w.cfg)
		if err != nil {
			if w.optional {
				b.log.Warn(fmt.Sprintf("Warning: %s", err))
				continue
			}
			b.closeListeners()
			return err
		}
		for _, line := range openingLines(w.cfg, ln.Addr()) {
			b.log.Info(line)
		}
		b.lns = append(b.lns, openListener{ln: ln, cfg: w.cfg})
		opened = append(opened, w.cfg)
	}
	cfg.Listeners = opened
	return nil
}

// openingLines are Mosquitto's "Opening ... listen socket" lines for a
// listener: a dual-stack socket is reported as the two sockets Mosquitto
// opens.
func openingLines(l broker.Listener, a net.Addr) []string {
	if l.Network == "unix" {
		return []string{fmt.Sprintf("Opening unix listen socket on path %s.", l.Address)}
	}
	port := ""
	if ta, ok := a.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	host, _, _ := net.SplitHostPort(l.Address)
	switch {
	case l.Network == "tcp4":
		return []string{"Opening ipv4 listen socket on port " + port + "."}
	case l.Network == "tcp6":
		return []string{"Opening ipv6 listen socket on port " + port + "."}
	case host == "":
		return []string{"Opening ipv4 listen socket on port " + port + ".", "Opening ipv6 listen socket on port " + port + "."}
	}
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.To4() == nil {
		return []string{"Opening ipv6 listen socket on port " + port + "."}
	}
	return []string{"Opening ipv4 listen socket on port " + port + "."}
}

func (b *brokerRun) closeListeners() {
	for _, ol := range b.lns {
		ol.ln.Close()
	}
	b.lns = nil
	b.closeWebListeners()
}

func (b *brokerRun) removePID() {
	if b.pidFile != "" {
		if err := os.Remove(b.pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.log.Warn("Warning: Unable to remove pid file: " + err.Error())
		}
		b.pidFile = ""
	}
}

// wait serves until ctx is done or a listener fails, handling signals, and
// returns the exit status. Every watchdog interval (0 for none) it tells
// systemd the broker is alive: from this loop, so that a stuck signal
// handler (a reload that hangs) lets the watchdog fire.
func (b *brokerRun) wait(ctx context.Context, watchdog time.Duration) int {
	sigs, stopSignals := b.signalChannels()
	defer stopSignals()
	var tick <-chan time.Time
	if watchdog > 0 {
		t := time.NewTicker(watchdog)
		defer t.Stop()
		tick = t.C
		b.sd.notify("WATCHDOG=1")
	}
	for {
		select {
		case <-tick:
			if err := b.sd.notify("WATCHDOG=1"); err != nil {
				b.log.Warn("Warning: systemd watchdog notification: " + err.Error())
			}
		case <-sigs.rotate:
			// Mosquitto 2.1 reopens its log file on SIGRTMIN, for log
			// rotation without a configuration reload.
			if err := b.handler.Reopen(); err != nil {
				b.log.Error("Error: reopening the log file: " + err.Error())
			}
		case <-ctx.Done():
			return exitOK
		case err := <-b.errc:
			if errors.Is(err, broker.ErrServerClosed) {
				return exitOK
			}
			b.log.Error("Error: " + err.Error())
			return exitFailure
		case <-sigs.reload:
			b.reload()
		case <-sigs.persist:
			b.syncStore()
		case <-sigs.tree:
			if srv := b.srv.Load(); srv != nil {
				srv.WriteSubscriptions(b.stdout)
			}
		}
	}
}

// stop shuts the broker down and cleans up.
func (b *brokerRun) stop() {
	b.log.Info(fmt.Sprintf("midge version %s terminating", version.Version))
	b.stopWeb()
	b.bridges.stop()
	if srv := b.srv.Load(); srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Shutdown(sctx); err != nil {
			b.log.Error("Error: shutdown: " + err.Error())
		}
		cancel()
	}
	b.stopCluster()
	if b.store != nil {
		if err := b.store.Close(); err != nil {
			b.log.Error("Error: closing the persistence store: " + err.Error())
		}
	}
	b.closeListeners()
	b.removePID()
	b.handler.Close()
}

// syncStore makes everything committed durable now (SIGUSR1). With
// persistence_sync always everything acknowledged already is; this matters
// for periodic mode.
func (b *brokerRun) syncStore() {
	if b.store == nil {
		b.log.Info("Received SIGUSR1: persistence is off, nothing to save.")
		return
	}
	b.log.Info(fmt.Sprintf("Saving in-memory database to %s.", b.storeAt))
	srv := b.srv.Load()
	if srv == nil {
		return
	}
	if err := srv.Flush(context.Background()); err != nil {
		b.log.Error("Error: saving the persistence store: " + err.Error())
	}
}

// reload re-reads the configuration (SIGHUP). A configuration with errors is
// reported and the running one kept; Mosquitto 2.1 exits instead.
func (b *brokerRun) reload() {
	b.log.Info("Reloading config.")
	if b.opts.configFile == "" {
		return
	}
	next, err := config.Load(b.opts.configFile)
	if err != nil {
		for _, e := range configErrors(err) {
			b.log.Error("Error: " + e.Error())
		}
		b.log.Error("Error: configuration not reloaded; the running configuration is kept.")
		return
	}
	b.mu.Lock()
	notes := config.Reload(b.res, next)
	tlsErrs := config.ReloadTLS(b.res)
	lo := logOptions(b.res, b.opts)
	cfg := b.res.Config
	b.mu.Unlock()
	if srv := b.srv.Load(); srv != nil {
		srv.Reload(cfg)
		b.setControlAPI(srv, next.EnableControlAPI)
	}
	b.bridges.reload(next.Bridges)
	for _, err := range tlsErrs {
		b.log.Error("Error: " + err.Error() + "; the certificates in use are kept.")
	}
	if err := b.handler.Reconfigure(lo); err != nil {
		b.log.Error("Error: " + err.Error())
	}
	logWarnings(b.log, next.Warnings)
	for _, n := range notes {
		b.log.Warn("Warning: " + n)
	}
}
