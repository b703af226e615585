//go:build unix

package broker

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// dropPrivileges switches to the configured user (default "mosquitto", or
// "nobody" if that does not exist) and its groups when running as root, as
// Mosquitto does; the PUID and PGID environment variables of Mosquitto 2.1
// (container images) override the user and its group by number. It is
// called after the listeners and the pid file are open, so privileged ports
// and root-owned directories work.
func dropPrivileges(name string, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := resolveDropUser(name, os.Getenv, log)
	if u == nil || err != nil {
		return err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("Unable to drop privileges to '%s': non-numeric user or group id.", u.Username)
	}
	groups := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && g != gid {
				groups = append(groups, g)
			}
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("Error setting groups whilst dropping privileges: %v.", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("Error setting gid whilst dropping privileges: %v.", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("Error setting uid whilst dropping privileges: %v.", err)
	}
	if u.Username == "" {
		log.Info(fmt.Sprintf("Info: running as uid %d, gid %d.", uid, gid))
	} else {
		log.Info(fmt.Sprintf("Info: running as user: %s.", u.Username))
	}
	return nil
}

// brokerSignals are the signals the running broker acts on besides SIGINT
// and SIGTERM (which cancel the context, see Main).
type brokerSignals struct {
	reload  chan os.Signal // SIGHUP
	persist chan os.Signal // SIGUSR1
	tree    chan os.Signal // SIGUSR2
	rotate  chan os.Signal // SIGRTMIN where the system has it (Linux)
}

func (b *brokerRun) signalChannels() (brokerSignals, func()) {
	s := brokerSignals{reload: make(chan os.Signal, 1), persist: make(chan os.Signal, 1), tree: make(chan os.Signal, 1),
		rotate: make(chan os.Signal, 1)}
	if !b.hooks.signals {
		return s, func() {}
	}
	signal.Notify(s.reload, syscall.SIGHUP)
	signal.Notify(s.persist, syscall.SIGUSR1)
	signal.Notify(s.tree, syscall.SIGUSR2)
	if sigRTMIN != 0 {
		signal.Notify(s.rotate, sigRTMIN)
	}
	if err := ignoreGlibcRTMIN(); err != nil {
		b.log.Warn("Warning: cannot ignore signal 34 (glibc's SIGRTMIN): " + err.Error())
	}
	return s, func() { signal.Stop(s.reload); signal.Stop(s.persist); signal.Stop(s.tree); signal.Stop(s.rotate) }
}

// daemonize starts the broker again in the background (-d): without -d, in a
// new session, with its standard streams on /dev/null. It waits until the
// child serves (or fails, whose start-up errors it prints) and returns the
// exit status for the foreground process.
func daemonize(_ string, o brokerOptions, st base.Streams) int {
	exe, err := os.Executable()
	if err != nil {
		logErr(st.Err, "Error in fork: "+err.Error())
		return exitFailure
	}
	prefix := os.Args[1 : len(os.Args)-len(o.raw)]
	args := append([]string{}, prefix...)
	for _, a := range o.raw {
		if a != "-d" && a != "--daemon" {
			args = append(args, a)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		logErr(st.Err, "Error in fork: "+err.Error())
		return exitFailure
	}
	cmd := exec.Command(exe)
	cmd.Args = append([]string{os.Args[0]}, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		logErr(st.Err, "Error in fork: "+err.Error())
		return exitFailure
	}
	w.Close()
	out, _ := io.ReadAll(r)
	r.Close()
	if n := len(out); n > 0 && out[n-1] == 0 {
		st.Err.Write(out[:n-1])
		cmd.Process.Release()
		return exitOK
	}
	st.Err.Write(out)
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			return ee.ExitCode()
		}
	}
	return exitFailure
}

// daemonPipe returns the pipe to the foreground process of a daemonized
// broker, nil if this process is not one.
func daemonPipe() *os.File {
	fd, err := strconv.Atoi(os.Getenv(daemonEnv))
	if err != nil || fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), "daemon-ready")
}
