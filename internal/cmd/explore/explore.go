package explore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
)

// options are explore's own command line options; the rest are midge sub's.
type options struct {
	httpAddr    string        // --http: where the dashboard listens (loopback only)
	stateDir    string        // --state: the history files
	connections string        // --connections: the saved connections file
	connection  string        // --connection: use this saved connection
	save        string        // --save: save the command line's connection under this name
	noBrowser   bool          // --no-browser
	noHistory   bool          // --no-history: keep nothing on disk
	history     int           // --history: messages kept per topic
	maxAge      time.Duration // --max-age: older messages are removed
	connArgs    []string      // the options left for clienttool.ParseConnection
}

const usageText = `Usage: %[1]s [explore options] [connection options of midge sub]

Serves midge's dashboard as an MQTT client of any broker: topic tree, values,
history, diffs, charts and publishing, on http://127.0.0.1 (a per-run token
in the URL keeps other local users out).

Explore options:
  --http ADDR           listen on ADDR (default 127.0.0.1:0, loopback only)
  --connections FILE    saved connections (default ~/.config/midge/explore.json, mode 0600)
  --connection NAME     connect with the saved connection NAME
  --save NAME           save the connection options given under NAME
  --state DIR           history files (default ~/.local/state/midge/explore)
  --history N           messages kept per topic on disk (default 1000)
  --max-age DURATION    messages older than this are removed (default 168h)
  --no-history          keep no history on disk
  --no-browser          print the URL, do not open a browser

Connection options are midge sub's (run 'midge sub --help'): -h -p -u -P -i -V
-L --cafile --capath --cert --key --insecure --ws -o ... and -t to subscribe to
other filters than '#' and '$SYS/#'.
`

// parseOptions takes explore's own options out of args.
func parseOptions(args []string) (*options, error) {
	o := &options{httpAddr: "127.0.0.1:0", history: 1000, maxAge: 7 * 24 * time.Hour}
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs an argument", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "--help":
			return nil, clienttool.ErrHelp
		case "--http":
			o.httpAddr, err = val()
		case "--state":
			o.stateDir, err = val()
		case "--connections":
			o.connections, err = val()
		case "--connection":
			o.connection, err = val()
		case "--save":
			o.save, err = val()
		case "--no-browser":
			o.noBrowser = true
		case "--no-history":
			o.noHistory = true
		case "--history":
			var v string
			if v, err = val(); err == nil {
				o.history, err = strconv.Atoi(v)
				if err == nil && o.history < 1 {
					err = errors.New("--history must be at least 1")
				}
			}
		case "--max-age":
			var v string
			if v, err = val(); err == nil {
				o.maxAge, err = time.ParseDuration(v)
			}
		default:
			o.connArgs = append(o.connArgs, a)
		}
		if err != nil {
			return nil, err
		}
	}
	host, _, err := net.SplitHostPort(o.httpAddr)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w", o.httpAddr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--http %s: the dashboard acts as your MQTT client, so it listens on a loopback address only", o.httpAddr)
	}
	home, _ := os.UserHomeDir()
	if o.connections == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			dir = filepath.Join(home, ".config")
		}
		o.connections = filepath.Join(dir, "midge", "explore.json")
	}
	if o.stateDir == "" {
		if d := os.Getenv("XDG_STATE_HOME"); d != "" {
			o.stateDir = filepath.Join(d, "midge", "explore")
		} else {
			o.stateDir = filepath.Join(home, ".local", "state", "midge", "explore")
		}
	}
	return o, nil
}

// Run is the explore command.
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	o, err := parseOptions(args)
	if errors.Is(err, clienttool.ErrHelp) {
		fmt.Fprintf(st.Out, usageText, prog)
		return 0
	}
	if err != nil {
		fmt.Fprintf(st.Err, "Error: %v\nRun '%s --help' for the options.\n", err, prog)
		return 1
	}
	log := slog.New(slog.NewTextHandler(st.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(o, st, log)
	if err != nil {
		printError(st, err)
		return 1
	}
	defer a.close()
	if err := a.start(ctx); err != nil {
		printError(st, err)
		return 1
	}
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		fmt.Fprintf(st.Err, "Error: %v\n", err)
		return 1
	}
	url := "http://" + ln.Addr().String() + "/?token=" + a.token
	hs := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(st.Out, "midge explore: %s\nDashboard: %s\n", a.describe(), url)
	if !o.noBrowser {
		if err := openBrowser(url, o.stateDir); err != nil {
			fmt.Fprintf(st.Out, "(no browser opened: %v; open the URL above)\n", err)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		fmt.Fprintf(st.Err, "Error: %v\n", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return 0
}

// printError prints err as "Error: ...", once: the connection options'
// refusals carry mosquitto_sub's "Error: " already.
func printError(st base.Streams, err error) {
	msg := strings.TrimSpace(err.Error())
	if !strings.HasPrefix(msg, "Error") {
		msg = "Error: " + msg
	}
	fmt.Fprintln(st.Err, msg)
}
