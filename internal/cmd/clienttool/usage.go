package clienttool

// How pub, sub and rr introduce themselves in --help and --version. Run
// under Mosquitto's names (a link called mosquitto_pub, ...) they print
// Mosquitto 2.0.11's text verbatim, as scripts may look for it; run as
// "midge pub", "midge sub" or "midge rr" they name themselves and midge's
// version, and say whose options they take.

import (
	"fmt"
	"strings"

	"github.com/midge-mqtt/midge/internal/version"
)

// mosquittoVersion is the Mosquitto release whose tools midge reproduces;
// --version and --help name it under Mosquitto's names.
const mosquittoVersion = "2.0.11"

// underMosquittoName reports whether the tool runs under its Mosquitto name
// (prog is "mosquitto_pub" for pub, ...) rather than as "midge pub".
func underMosquittoName(t tool, prog string) bool { return prog == t.mosquittoName() }

// versionLine is what --version prints.
func versionLine(t tool, prog string) string {
	if underMosquittoName(t, prog) {
		return fmt.Sprintf("%s version %s running on libmosquitto %s.\n", prog, mosquittoVersion, mosquittoVersion)
	}
	return midgeVersionLine(t, prog)
}

// midgeVersionLine is the line by which the tool run as prog ("midge pub")
// introduces itself: midge's version, and the Mosquitto tool whose options
// it takes.
func midgeVersionLine(t tool, prog string) string {
	return fmt.Sprintf("%s version %s, with the options of %s %s.\n", prog, version.Version, t.mosquittoName(), mosquittoVersion)
}

// usageText is the tool's --help text, for the tool run as prog.
func usageText(t tool, prog string) string {
	var text string
	switch t {
	case toolPub:
		text = fmt.Sprintf(pubUsage(), mosquittoVersion)
	case toolSub:
		text = fmt.Sprintf(subUsage(), mosquittoVersion)
	default:
		text = fmt.Sprintf(rrUsage(), mosquittoVersion)
	}
	if underMosquittoName(t, prog) {
		return text
	}
	return midgeUsage(t, prog, text)
}

// midgeUsage turns Mosquitto's --help text of t into midge's: the tool
// names itself prog in the opening line, the version line and the usage
// lines (whose continuation lines are re-indented to match), and the
// version line is midge's. The option descriptions stay Mosquitto's.
func midgeUsage(t tool, prog, text string) string {
	name := t.mosquittoName()
	usage := "Usage: " + name + " "
	shift := len(name) - len(prog) // columns the continuation lines move left
	lines := strings.SplitAfter(text, "\n")
	inUsage := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, name+" version "):
			lines[i] = midgeVersionLine(t, prog)
		case strings.HasPrefix(l, name+" is "):
			lines[i] = prog + strings.TrimPrefix(l, name)
		case strings.HasPrefix(l, usage):
			lines[i] = "Usage: " + prog + " " + strings.TrimPrefix(l, usage)
			inUsage = true
		case inUsage && strings.HasPrefix(l, "       "+name+" "):
			lines[i] = "       " + prog + strings.TrimPrefix(l, "       "+name)
		case inUsage && strings.HasPrefix(l, strings.Repeat(" ", len(usage))):
			if shift > 0 {
				lines[i] = l[shift:]
			} else {
				lines[i] = strings.Repeat(" ", -shift) + l
			}
		case inUsage && strings.TrimSpace(l) == "":
			inUsage = false
		}
	}
	return strings.Join(lines, "")
}
