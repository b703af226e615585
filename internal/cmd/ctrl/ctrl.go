package ctrl

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/version"
)

// mosquittoVersion is the release of mosquitto_ctrl whose text midge
// prints under that name.
const mosquittoVersion = "2.0.11"

// Run is the ctrl command: args are the command line without the program
// name, prog the name to show ("mosquitto_ctrl" or "midge ctrl"). It
// returns the exit status, as mosquitto_ctrl's.
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	return run(ctx, prog, args, st, os.LookupEnv)
}

func run(ctx context.Context, prog string, args []string, st base.Streams, env getenv) int {
	if len(args) == 0 {
		io.WriteString(st.Out, usage(prog))
		return 1
	}
	// The options file first (Mosquitto 2.0.11's order, so the command
	// line wins; -o is 2.1's), then the command line. mosquitto_ctrl goes
	// on after a refused option, with the arguments it had not yet taken
	// counted from the first: the "module" is then the first argument, and
	// the host stays unset.
	cfg := newConfig()
	if cfg.loadOptionsFile(optionsFileFlag(args), env, st.Err) {
		n, ok := cfg.parseOptions(args, st.Err)
		if ok {
			args = args[n:]
			cfg.check(st.Err)
		} else {
			args = args[:len(args)-n]
		}
	}
	if len(args) < 2 {
		io.WriteString(st.Out, usage(prog))
		return 1
	}
	p := newPrompter(st)
	var req *request
	var rc int
	switch module := args[0]; {
	case strings.EqualFold(module, "dynsec"):
		req, rc = dynsecCommand(args[1:], cfg, p, st)
	case strings.EqualFold(module, "broker"):
		req, rc = brokerCommand(args[1:], st)
	default:
		fmt.Fprintf(st.Err, "Error: Module '%s' not supported.\n", module)
		return rcNotSupported
	}
	switch rc {
	case rcDone:
		return 0
	case rcSend:
		return requestResponse(ctx, cfg, req, p, st)
	case rcUnknown:
		return rc
	}
	fmt.Fprintf(st.Err, "Error: %s\n", strerror(rc))
	return rc
}

// strerror is mosquitto_strerror for the codes a module returns.
func strerror(rc int) string {
	switch rc {
	case rcNoMem:
		return "Out of memory."
	case rcInval:
		return "Invalid function arguments provided."
	case rcNotSupported:
		return "This feature is not supported."
	}
	return "Unknown error."
}

// usage is the text printed without a module: Mosquitto 2.0.11's under
// its name; run as "midge ctrl" it names midge and lists the broker
// module too.
func usage(prog string) string {
	name, ver, modules := "mosquitto_ctrl",
		fmt.Sprintf("mosquitto_ctrl version %s running on libmosquitto %s.", mosquittoVersion, mosquittoVersion),
		"dynsec"
	if prog != "mosquitto_ctrl" {
		name = prog
		ver = fmt.Sprintf("%s version %s, with the options of mosquitto_ctrl %s.", prog, version.Version, mosquittoVersion)
		modules = "dynsec, broker"
	}
	return name + ` is a tool for administering certain Mosquitto features.
` + ver + `

General usage: ` + name + ` <module> <module-command> <command-options>
For module specific help use: ` + name + ` <module> help

Modules available: ` + modules + `

For more information see:
    https://mosquitto.org/man/mosquitto_ctrl-1.html

`
}
