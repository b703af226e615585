//go:build !unix

package broker

import (
	"log/slog"
	"os"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// dropPrivileges does nothing where there are no Unix users: run midge as the
// user it should run as (as with Mosquitto on Windows).
func dropPrivileges(string, *slog.Logger) error { return nil }

// brokerSignals are the signals the broker acts on; Windows has none of
// SIGHUP, SIGUSR1 and SIGUSR2, so the channels never fire.
type brokerSignals struct {
	reload, persist, tree, rotate chan os.Signal
}

func (b *brokerRun) signalChannels() (brokerSignals, func()) { return brokerSignals{}, func() {} }

// sdNotifier does nothing: there is no systemd.
type sdNotifier struct{}

func newSDNotifier(func(string) string) sdNotifier { return sdNotifier{} }
func (sdNotifier) notify(string) error             { return nil }

// watchdogInterval is 0: there is no systemd watchdog.
func watchdogInterval(func(string) string, int) time.Duration { return 0 }

// daemonize cannot fork on Windows; like Mosquitto, midge warns and runs in
// the foreground.
func daemonize(prog string, o brokerOptions, st base.Streams) int {
	logErr(st.Err, "Warning: Can't start in daemon mode in Windows.")
	return -1
}

// daemonPipe returns nil: there is no daemon mode.
func daemonPipe() *os.File { return nil }
