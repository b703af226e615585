package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// findListener returns the process listening on the TCP port of addr (a
// loopback address: the broker under test), as /proc shows it, or 0 when
// it cannot be found (not Linux, or a process of another user).
func findListener(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	want := fmt.Sprintf(":%04X", p)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fl := strings.Fields(sc.Text())
			if len(fl) > 9 && fl[3] == "0A" && strings.HasSuffix(fl[1], want) {
				inodes["socket:["+fl[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, pe := range procs {
		pid, err := strconv.Atoi(pe.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + pe.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + fd.Name()); err == nil && inodes[l] {
				return pid
			}
		}
	}
	return 0
}

// checkFDLimit makes sure midge bench may open the descriptors its
// connections need, raising its soft limit when it can.
func checkFDLimit(o *options) error {
	need := o.clients + 16
	switch o.mode {
	case "pubsub", "filters":
		need += o.subs
	case "queue": // sessions come and go, --concurrency at a time
		need = min(o.clients, o.concurrency) + 17
	case "storm": // all connected at the end
		need++
	}
	have := raiseFDLimit(uint64(need))
	if have >= 0 && have < int64(need) {
		return fmt.Errorf("%d connections need about %d open files, and the limit is %d (ulimit -n; the hard limit bounds it)", need-16, need, have)
	}
	return nil
}
