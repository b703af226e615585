//go:build !unix

package broker

import (
	"log/slog"
	"os"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// dropPrivileges does nothing where there are no Unix users: run midge as the
// user it should run as (as with Mosquitto on Windows).
func dropPrivileges(string, *slog.Logger) error { return nil }

// brokerSignals are the signals the broker acts on; Windows has none of
// SIGHUP, SIGUSR1 and SIGUSR2, so the channels never fire.
type brokerSignals struct {
	reload, persist, tree chan os.Signal
}

func (b *brokerRun) signalChannels() (brokerSignals, func()) { return brokerSignals{}, func() {} }

// notifySystemd does nothing: there is no systemd.
func notifySystemd(string) {}

// daemonize cannot fork on Windows; like Mosquitto, midge warns and runs in
// the foreground.
func daemonize(prog string, o brokerOptions, st base.Streams) int {
	logErr(st.Err, "Warning: Can't start in daemon mode in Windows.")
	return -1
}

// daemonPipe returns nil: there is no daemon mode.
func daemonPipe() *os.File { return nil }
