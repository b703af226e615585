package midge

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/bench"
	"github.com/midge-mqtt/midge/internal/cmd/broker"
	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
	"github.com/midge-mqtt/midge/internal/cmd/cluster"
	"github.com/midge-mqtt/midge/internal/cmd/ctrl"
	"github.com/midge-mqtt/midge/internal/cmd/db"
	"github.com/midge-mqtt/midge/internal/cmd/explore"
	"github.com/midge-mqtt/midge/internal/cmd/passwd"
	"github.com/midge-mqtt/midge/internal/version"
)

// command is one midge subcommand.
type command struct {
	name    string   // as typed after "midge"
	argv0   []string // program names that select it when midge runs through a link
	summary string   // one line for "midge help"
	// run executes the command with its arguments (without the command name)
	// and returns the process exit status. prog is the name to use in messages.
	run func(ctx context.Context, prog string, args []string, st base.Streams) int
}

// commands lists every command midge has, in the order "midge help" shows them.
func commands() []command {
	return []command{
		{name: "broker", argv0: []string{"mosquitto"}, summary: "run the MQTT broker", run: broker.Run},
		{name: "passwd", argv0: []string{"mosquitto_passwd"}, summary: "manage a password file (mosquitto_passwd)", run: passwd.Run},
		{name: "pub", argv0: []string{"mosquitto_pub"}, summary: "publish messages", run: clienttool.Pub},
		{name: "sub", argv0: []string{"mosquitto_sub"}, summary: "subscribe and print what arrives", run: clienttool.Sub},
		{name: "rr", argv0: []string{"mosquitto_rr"}, summary: "send a request and print its response", run: clienttool.RR},
		{name: "ctrl", argv0: []string{"mosquitto_ctrl"}, summary: "administer a broker's dynamic security and more (mosquitto_ctrl)", run: ctrl.Run},
		{name: "db", argv0: []string{"mosquitto_db_dump"}, summary: "print a Mosquitto or midge persistence file (mosquitto_db_dump)", run: db.Run},
		{name: "explore", summary: "the dashboard as a client of any broker (like MQTT Explorer)", run: explore.Run},
		{name: "cluster", summary: "show a cluster node's view of its cluster (status)", run: cluster.Run},
		{name: "bench", summary: "load and latency benchmark of an MQTT broker (like emqtt-bench)", run: bench.Run},
		{name: "version", summary: "print midge's version", run: runVersion},
		{name: "help", summary: "list the commands", run: nil}, // handled in Main
	}
}

// Main runs the command selected by argv (as os.Args) and returns the exit
// status. When the program's own name is one of Mosquitto's (mosquitto,
// mosquitto_pub, ...) that tool runs with all of argv[1:]; otherwise the first
// argument names the command.
func Main(argv []string, st base.Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, argv, st)
}

func run(ctx context.Context, argv []string, st base.Streams) int {
	prog := "midge"
	if len(argv) > 0 {
		prog = filepath.Base(argv[0])
		prog = strings.TrimSuffix(prog, ".exe")
	}
	cmds := commands()
	for _, c := range cmds {
		for _, name := range c.argv0 {
			if prog == name {
				return c.run(ctx, prog, argv[1:], st)
			}
		}
	}
	if len(argv) < 2 {
		usage(st.Err, cmds)
		return 2
	}
	name, args := argv[1], argv[2:]
	switch name {
	case "help", "-h", "--help":
		usage(st.Out, cmds)
		return 0
	case "-v", "--version":
		name = "version"
	}
	for _, c := range cmds {
		if c.name == name && c.run != nil {
			return c.run(ctx, "midge "+name, args, st)
		}
	}
	fmt.Fprintf(st.Err, "midge: unknown command %q; run 'midge help' for the list\n", name)
	return 2
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintf(w, "midge %s: an MQTT 3.1, 3.1.1 and 5.0 broker and client tools\n\nUsage: midge <command> [arguments]\n\nCommands:\n", version.Version)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s", c.name, c.summary)
		if len(c.argv0) > 0 {
			fmt.Fprintf(w, " (also run as %s)", strings.Join(c.argv0, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nRun 'midge <command> --help' for a command's options.\n")
}

func runVersion(_ context.Context, _ string, _ []string, st base.Streams) int {
	fmt.Fprintf(st.Out, "midge version %s\n", version.Version)
	return 0
}
