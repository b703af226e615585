//go:build unix

package broker

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// sdNotifier sends state changes to the service manager as sd_notify(3)
// does: one datagram to the unix socket named by NOTIFY_SOCKET, which
// systemd sets for Type=notify units. The zero value (no socket) sends
// nothing.
type sdNotifier struct {
	addr string // the socket, "" for none; a leading '@' is Linux's abstract namespace
}

// newSDNotifier reads NOTIFY_SOCKET through getenv.
func newSDNotifier(getenv func(string) string) sdNotifier {
	addr := getenv("NOTIFY_SOCKET")
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	return sdNotifier{addr: addr}
}

// notify sends state ("READY=1", "WATCHDOG=1", "STOPPING=1"...).
func (n sdNotifier) notify(state string) error {
	if n.addr == "" {
		return nil
	}
	c, err := net.Dial("unixgram", n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// watchdogInterval returns how often to send WATCHDOG=1 when the unit has
// WatchdogSec= (systemd then sets WATCHDOG_USEC): half the timeout, as
// sd_watchdog_enabled(3) advises. It is 0 when there is no watchdog, when
// the value is not a positive number, or when WATCHDOG_PID names another
// process (the variable was inherited).
func watchdogInterval(getenv func(string) string, pid int) time.Duration {
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 || getenv("NOTIFY_SOCKET") == "" {
		return 0
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0
	}
	return max(time.Duration(usec/2)*time.Microsecond, time.Millisecond)
}
