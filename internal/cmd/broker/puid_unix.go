//go:build unix

package broker

import (
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
)

// resolveDropUser returns the identity a broker started as root switches
// to, nil for none (it stays root). name is the user option: "" means
// "mosquitto", or "nobody" if there is no such user; "root" means staying
// root, with a warning. Mosquitto 2.1's environment variables PUID and PGID
// (set in container images) take precedence: PUID is the numeric user id,
// used even without a passwd entry (its primary group is then PGID, or the
// same number); PGID is the numeric group id, which also replaces the
// primary group of the user option's user. log may be nil (no warnings).
func resolveDropUser(name string, getenv func(string) string, log *slog.Logger) (*user.User, error) {
	warn := func(msg string) {
		if log != nil {
			log.Warn(msg)
		}
	}
	puid, pgid := getenv("PUID"), getenv("PGID")
	if pgid != "" {
		if _, err := strconv.ParseUint(pgid, 10, 31); err != nil {
			return nil, fmt.Errorf("Invalid PGID '%s': it must be a numeric group id.", pgid)
		}
	}
	var u *user.User
	switch {
	case puid != "":
		n, err := strconv.ParseUint(puid, 10, 31)
		if err != nil {
			return nil, fmt.Errorf("Invalid PUID '%s': it must be a numeric user id.", puid)
		}
		if n == 0 {
			warn("Warning: midge should not be run as root/administrator.")
			return nil, nil
		}
		if found, err := user.LookupId(puid); err == nil {
			u = found
		} else {
			// No passwd entry (a container's free uid): no name, no
			// supplementary groups.
			u = &user.User{Uid: puid, Gid: puid}
		}
	case name == "root":
		warn("Warning: midge should not be run as root/administrator.")
		return nil, nil
	default:
		if name == "" {
			name = "mosquitto"
		}
		found, err := user.Lookup(name)
		if err != nil {
			if name != "mosquitto" {
				return nil, fmt.Errorf("Unable to drop privileges to '%s' because this user does not exist.", name)
			}
			warn("Warning: Unable to drop privileges to 'mosquitto' because this user does not exist. Trying 'nobody' instead.")
			if found, err = user.Lookup("nobody"); err != nil {
				return nil, fmt.Errorf("Unable to drop privileges to 'nobody'.")
			}
		}
		u = found
	}
	if pgid != "" {
		c := *u
		c.Gid = pgid
		u = &c
	}
	return u, nil
}
