//go:build unix

package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/logging"
)

// A broker started as root opens its listeners, its pid file and its log
// file as root and then drops privileges (dropPrivileges). On SIGHUP it
// re-reads the configuration files, the password and ACL files and the TLS
// certificates, and reopens the log file, as the unprivileged user. A file
// only root may read (what "sudo midge passwd -c" creates: root's, 0600)
// then fails to reload, long after start-up, when nobody is watching.
// prepareForUser, called just before dropping privileges, makes what it
// can work and warns about the rest while someone is watching.

// reloadFile is a file the broker re-reads on SIGHUP.
type reloadFile struct {
	what string // the option that names it, as in the configuration
	path string
}

// dropTarget resolves the user dropPrivileges switches to, as it does. It
// returns nil when nothing will be dropped (not root, user root, unknown
// user: the latter is dropPrivileges' error to report).
func dropTarget(name string) *user.User {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := resolveDropUser(name, os.Getenv, nil)
	if err != nil {
		return nil
	}
	return u
}

// absentLogFile returns the log file of lo if it does not exist yet (the
// broker is about to create it), else "".
func absentLogFile(lo logging.Options) string {
	if lo.Dests&logging.File == 0 || lo.File == "" {
		return ""
	}
	if _, err := os.Lstat(lo.File); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return lo.File
}

// prepareForUser gets the broker ready to run as the user of the user
// option: the log file it has just created as root (newLog, from
// absentLogFile; "" for none) is given to that user, so that SIGHUP can
// reopen it, and every file it will re-read or reopen on SIGHUP but that user
// cannot read (or write) is named in a warning with the command that fixes it.
// A log file that existed before keeps its owner: it may be anything,
// /var/log/syslog as well.
func prepareForUser(name, configFile string, res *config.Result, newLog string, log *slog.Logger) {
	u := dropTarget(name)
	if u == nil {
		return
	}
	id, err := userIDs(u)
	if err != nil {
		return // dropPrivileges reports it
	}
	if res.Log.Dests&logging.File != 0 && res.Log.File != "" {
		giveLogFile(res.Log.File, res.Log.File == newLog, u, id, log)
	}
	warnDynsec(res, u, id, log)
	for _, f := range reloadFiles(configFile, res) {
		if err := id.access(f.path, 4); err != nil {
			log.Warn(fmt.Sprintf("Warning: %s %s cannot be read by user %s, which the broker runs as after start-up (%v): "+
				"a reload (SIGHUP, systemctl reload) will fail to re-read it. Let the user read it, e.g. "+
				"chgrp %s %s && chmod g+r %s.", f.what, f.path, u.Username, err, groupName(id.gid), f.path, f.path))
		}
	}
}

// warnDynsec warns when the user cannot read or write the dynamic security
// file, or write its directory: the broker opens the file as the user, and
// saves every change by writing a new file in that directory and renaming it
// over the old one, so an administrator's change would fail long after
// start-up. A file that does not exist yet is created there.
func warnDynsec(res *config.Result, u *user.User, id unixIDs, log *slog.Logger) {
	seen := map[string]bool{}
	for _, sc := range res.Scopes {
		path := sc.DynsecFile
		if path == "" || seen[path] {
			continue
		}
		seen[path] = true
		dir := filepath.Dir(path)
		checks := []struct {
			path string
			want fs.FileMode
			verb string
		}{{path, 4, "read"}, {path, 2, "write"}, {dir, 2, "write in the directory of"}}
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			checks = checks[2:] // it will be created
		}
		for _, c := range checks {
			if err := id.access(c.path, c.want); err != nil {
				log.Warn(fmt.Sprintf("Warning: user %s, which the broker runs as after start-up, cannot %s the dynamic security file %s (%s: %v): "+
					"dynamic security will fail to load it or to save changes. Give them to the user: chown %s %s %s.",
					u.Username, c.verb, path, c.path, err, u.Username, dir, path))
				break
			}
		}
	}
}

// giveLogFile chowns the log file to the user when the broker has just
// created it (created), and warns when the user cannot write it.
func giveLogFile(path string, created bool, u *user.User, id unixIDs, log *slog.Logger) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	if owner, _ := ownerOf(fi); created && owner == 0 {
		if err := os.Chown(path, id.uid, id.gid); err != nil {
			log.Warn(fmt.Sprintf("Warning: Unable to give log file %s to user %s: %v.", path, u.Username, err))
		}
	}
	if err := id.access(path, 2); err != nil {
		log.Warn(fmt.Sprintf("Warning: log file %s cannot be written by user %s, which the broker runs as after start-up (%v): "+
			"a reload (SIGHUP, systemctl reload) will fail to reopen it. Give it to the user: chown %s %s.",
			path, u.Username, err, u.Username, path))
	}
}

// reloadFiles lists the files a reload reads again: the configuration
// files, the password and ACL files, and the TLS files of every listener.
func reloadFiles(configFile string, res *config.Result) []reloadFile {
	var out []reloadFile
	add := func(what, path string) {
		if path == "" {
			return
		}
		for _, f := range out {
			if f.path == path {
				return
			}
		}
		out = append(out, reloadFile{what, path})
	}
	if configFile != "" {
		add("configuration file", configFile)
	}
	for _, f := range res.Files {
		add("configuration file", f)
	}
	for _, sc := range res.Scopes {
		add("password_file", sc.PasswordFile)
		add("acl_file", sc.ACLFile)
	}
	for _, ls := range [][]config.Listener{res.Listeners, res.HTTPListeners} {
		for _, l := range ls {
			if l.TLSServer == nil {
				continue
			}
			add("certfile", l.TLS.CertFile)
			add("keyfile", l.TLS.KeyFile)
			add("cafile", l.TLS.CAFile)
			add("crlfile", l.TLS.CRLFile)
		}
	}
	return out
}

// unixIDs are the numeric identities of a user: what the kernel checks.
type unixIDs struct {
	uid, gid int
	groups   []int // gid and the supplementary groups
}

func userIDs(u *user.User) (unixIDs, error) {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return unixIDs{}, fmt.Errorf("non-numeric user or group id")
	}
	id := unixIDs{uid: uid, gid: gid, groups: []int{gid}}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && !slices.Contains(id.groups, g) {
				id.groups = append(id.groups, g)
			}
		}
	}
	return id, nil
}

// access reports, from the permission bits, why the user cannot open path
// for want (4 read, 2 write), or nil if it can: every directory on the way
// must be searchable and the file readable or writable. ACLs are not
// consulted.
func (id unixIDs) access(path string, want fs.FileMode) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	dirs := []string{}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for _, d := range slices.Backward(dirs) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !id.may(fi, 1) {
			return fmt.Errorf("directory %s is not searchable by it", d)
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !id.may(fi, want) {
		verb := "readable"
		if want == 2 {
			verb = "writable"
		}
		uid, gid := ownerOf(fi)
		return fmt.Errorf("owner %s, group %s, mode %04o: not %s by it", userName(uid), groupName(gid), fi.Mode().Perm(), verb)
	}
	return nil
}

// may applies the owner, group or other permission bits of fi for bit
// (4 read, 2 write, 1 search/execute), as the kernel does for a user that
// is not root.
func (id unixIDs) may(fi fs.FileInfo, bit fs.FileMode) bool {
	uid, gid := ownerOf(fi)
	perm := fi.Mode().Perm()
	switch {
	case uid == id.uid:
		return perm&(bit<<6) != 0
	case slices.Contains(id.groups, gid):
		return perm&(bit<<3) != 0
	}
	return perm&bit != 0
}

// ownerOf returns the owner and group of a file, or -1, -1 if unknown.
func ownerOf(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
