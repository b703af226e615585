package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/mosqdb"
)

// mode is what dump prints.
type mode int

const (
	modePrint       mode = iota // every chunk or record
	modeStats                   // --stats: counts
	modeClientStats             // --client-stats: per client
	modeJSON                    // --json
)

// Run runs "midge db" with args (without "db"), or mosquitto_db_dump when
// prog is that name (args are then dump's), and returns the exit status:
// 0 when the file was printed, 1 for a usage error or a file it cannot
// read.
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
		sub := " dump"
		if prog == "mosquitto_db_dump" {
			sub = ""
		}
		fmt.Fprintf(st.Out, "Usage: %s%s [--stats | --client-stats | --json] <db filename>\n\n"+
			"Prints a Mosquitto persistence file (mosquitto.db) as mosquitto_db_dump does, or a midge store.\n", prog, sub)
		return 0
	}
	if prog != "mosquitto_db_dump" {
		if len(args) == 0 || args[0] != "dump" {
			fmt.Fprintf(st.Err, "Usage: %s dump [--stats | --client-stats | --json] <db filename>\n", prog)
			return 1
		}
		prog, args = prog+" dump", args[1:]
	}
	m, file, ok := parseArgs(args)
	if !ok {
		fmt.Fprintf(st.Err, "Usage: %s [--stats | --client-stats | --json] <db filename>\n", prog)
		return 1
	}
	if err := dump(ctx, file, m, st); err != nil {
		fmt.Fprintf(st.Err, "Error: %v\n", err)
		return 1
	}
	return 0
}

// parseArgs takes "FILE" or "OPTION FILE", as mosquitto_db_dump does.
func parseArgs(args []string) (mode, string, bool) {
	switch {
	case len(args) == 1 && args[0] != "" && args[0][0] != '-':
		return modePrint, args[0], true
	case len(args) == 2:
		switch args[0] {
		case "--stats":
			return modeStats, args[1], true
		case "--client-stats":
			return modeClientStats, args[1], true
		case "--json":
			return modeJSON, args[1], true
		}
	}
	return 0, "", false
}

// dump prints the file at path: Mosquitto's if it starts with its magic,
// else midge's store.
func dump(ctx context.Context, path string, m mode, st base.Streams) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unable to open %s: no such file", path)
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if !mosqdb.IsMosquittoFile(path) {
		return dumpMidge(ctx, path, m, st.Out)
	}
	f, err := mosqdb.ReadFile(path)
	if err != nil {
		return err
	}
	return dumpMosquitto(f, m, st.Out, st.Err)
}

func dumpMosquitto(f *mosqdb.File, m mode, out, warn io.Writer) error {
	switch m {
	case modeStats:
		return f.WriteStats(out)
	case modeClientStats:
		return f.WriteClientStats(out)
	case modeJSON:
		return f.WriteJSON(out)
	}
	return f.WriteText(out, warn)
}
