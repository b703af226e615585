package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// brokerOptions are the command-line options of "midge broker" (the
// mosquitto binary's flags).
type brokerOptions struct {
	ports   []int // -p, repeatable
	verbose bool  // -v
}

func parseBrokerArgs(prog string, args []string, st Streams) (brokerOptions, error) {
	var o brokerOptions
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(st.Err)
	fs.Func("p", "listen on `port` (repeatable)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port %q", s)
		}
		o.ports = append(o.ports, n)
		return nil
	})
	fs.BoolVar(&o.verbose, "v", false, "verbose: log every message type")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

func runBroker(ctx context.Context, prog string, args []string, st Streams) int {
	o, err := parseBrokerArgs(prog, args, st)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(st.Err, "Error:", err)
		return 1
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(st.Err, &slog.HandlerOptions{Level: level}))
	var cfg broker.Config
	cfg.Logger = log
	for _, p := range o.ports {
		// Mosquitto: -p without a config file listens on every address
		// only in local mode... it binds the port on all interfaces but,
		// since 2.0, only with allow_anonymous false. Listening on loopback
		// keeps the local-only promise.
		cfg.Listeners = append(cfg.Listeners,
			broker.Listener{Network: "tcp4", Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))})
	}
	if len(o.ports) > 0 {
		cfg.AllowAnonymous = true
	}
	srv := broker.New(cfg)
	log.Info(fmt.Sprintf("midge version %s starting", broker.Version))
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	select {
	case err := <-errc:
		log.Error(err.Error())
		return 1
	case <-ctx.Done():
	}
	log.Info(fmt.Sprintf("midge version %s terminating", broker.Version))
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown: " + err.Error())
		return 1
	}
	return 0
}
