//go:build unix

package broker

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Issue 14, item 13: a password file with lines Mosquitto cannot use. Debian's
// mosquitto and midge (the binary, under Mosquitto's name) are started on
// the same file: both start, log the same messages about its lines (at
// start-up and after a SIGHUP that changes the file) and give the same
// CONNACKs to the same credentials: a line without a user name or hash is
// skipped, a plain-text, empty or undecodable hash is removed, a bad
// duplicate removes only itself, of two valid ones the last wins, and an
// empty password (or none) never matches, not even the hash of "".
func TestCompatPasswordFileLines(t *testing.T) {
	t.Parallel()
	dir := worldDir(t)
	made := filepath.Join(dir, "made")
	for i, u := range [][2]string{{"good", "secret"}, {"first", "one"}, {"second", "two"}, {"emptypw", ""}} {
		setPassword(t, made, u[0], u[1], i == 0)
	}
	hash := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(testutil.ReadFile(t, made)), "\n") {
		u, h, _ := strings.Cut(l, ":")
		hash[u] = h
	}
	salt := strings.Split(hash["good"], "$")[3]
	pw := filepath.Join(dir, "pwfile")
	write := func(lines ...string) {
		t.Helper()
		testutil.WriteFile(t, dir, "pwfile", strings.Join(lines, "\n")) // the last line has no line ending
	}
	write(
		"# a comment",
		"no colon at all",
		":"+hash["good"], // the hash is taken for the user name: no hash
		"::",             // nothing but colons and the line ending
		"plain:secret",
		"empty:",
		"blank:  \t",
		"badsalt:$7$101$!!!!$abc",
		"nosum:$7$101$"+salt,
		"shortsum:$7$101$"+salt+"$abcd",
		"iter:$7$0$"+salt+"$abcd",
		"sha:$6$"+salt,
		"good:"+hash["good"],
		"dupbad:"+hash["good"],
		"dupbad:plain", // removed alone: the line before stays
		"dup:"+hash["first"],
		"dup:"+hash["second"], // the last valid line wins
		"emptypw:"+hash["emptypw"],
		" :"+hash["good"], // the empty user name
		"lastuser:",       // no line ending: nothing after the ':'
	)

	conf := []string{"allow_anonymous false", "password_file " + pw}
	mlog, glog := filepath.Join(dir, "mosquitto.log"), filepath.Join(dir, "midge.log")
	pidFile := filepath.Join(dir, "mosquitto.pid")
	maddr := testutil.StartMosquitto(t, append(conf, "log_dest file "+mlog, "pid_file "+pidFile)...)
	port := freePort(t)
	gconf := testutil.WriteFile(t, dir, "midge.conf",
		strings.Join(append([]string{"listener " + port + " 127.0.0.1", "log_dest file " + glog}, conf...), "\n")+"\n")
	cmd := startBinary(t, "-c", gconf)
	waitLog(t, glog, "running")
	gaddr := "127.0.0.1:" + port

	// The lines both log about the password file, without timestamps.
	// Mosquitto logs the line "::" with its line ending, which midge's
	// logger (like every other message's) drops: the empty line that
	// follows in Mosquitto's log is left out.
	pwLines := func(logf string) []string {
		var out []string
		for _, l := range strings.Split(readOrEmpty(logf), "\n") {
			_, msg, _ := strings.Cut(l, ": ")
			if strings.Contains(msg, "password file") || strings.Contains(msg, "removing entry") || msg == "Reloading config." {
				out = append(out, msg)
			}
		}
		return out
	}
	want := []string{
		"Warning: Invalid line in password file '" + pw + "': :" + hash["good"],
		"Warning: Invalid line in password file '" + pw + "': ::",
		"Warning: Invalid line in password file '" + pw + "': lastuser",
		"Error: Invalid password hash type for user plain, removing entry.",
		"Error: Invalid password hash for user empty, removing entry.",
		"Error: Invalid password hash for user blank, removing entry.",
		"Error: Unable to decode password salt for user badsalt, removing entry.",
		"Error: Invalid password hash for user nosum, removing entry.",
		"Error: Unable to decode password for user shortsum, removing entry.",
		"Error: Invalid hash iterations for user iter, removing entry.",
		"Error: Invalid password hash for user sha, removing entry.",
		"Error: Invalid password hash type for user dupbad, removing entry.",
	}
	compareLogs := func(want []string) {
		t.Helper()
		testutil.WaitFor(t, "Mosquitto's messages", func() bool { return len(pwLines(mlog)) >= len(want) })
		testutil.WaitFor(t, "midge's messages", func() bool { return len(pwLines(glog)) >= len(want) })
		if m := pwLines(mlog); !slices.Equal(m, want) {
			t.Fatalf("Mosquitto logs:\n%s\nthe test expects:\n%s", strings.Join(m, "\n"), strings.Join(want, "\n"))
		}
		if g := pwLines(glog); !slices.Equal(g, want) {
			t.Errorf("midge logs:\n%s\nMosquitto logs:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
	}
	compareLogs(want)

	// The same credentials, the same CONNACKs.
	type cred struct {
		user, pass       string
		hasUser, hasPass bool
	}
	creds := []cred{
		{"good", "secret", true, true},
		{"good", "", true, true},
		{"good", "", true, false},
		{"good", "wrong", true, true},
		{"emptypw", "", true, true},
		{"emptypw", "", true, false},
		{"dup", "one", true, true},
		{"dup", "two", true, true},
		{"dupbad", "secret", true, true},
		{"plain", "secret", true, true},
		{"", "secret", true, true},
		{"nobody", "secret", true, true},
	}
	connacks := func(addr string) testutil.Transcript {
		var tr testutil.Transcript
		for _, v := range []byte{packet.Version311, packet.Version5} {
			for i, c := range creds {
				cp := &packet.Connect{ProtocolVersion: v, ClientID: "c" + strconv.Itoa(i), CleanStart: true, KeepAlive: 60,
					HasUsername: c.hasUser, Username: c.user, HasPassword: c.hasPass, Password: []byte(c.pass)}
				got := testutil.Run(t, addr, []testutil.Step{{Send: testutil.Pkt(t, v, cp), Read: 1}})
				tr = append(tr, fmt.Sprintf("v%d %q/%q(%v): %s", v, c.user, c.pass, c.hasPass, got))
			}
		}
		return tr
	}
	check := func(accepted ...string) {
		t.Helper()
		mosq, midge := connacks(maddr), connacks(gaddr)
		if mosq.String() != midge.String() {
			t.Errorf("midge's CONNACKs differ from Mosquitto's\nmosquitto:\n%s\nmidge:\n%s", mosq, midge)
		}
		for _, line := range mosq {
			h := line[strings.LastIndex(line, " ")+1:] // the CONNACK: 20 LEN FLAGS CODE
			ok := len(h) >= 8 && h[6:8] == "00"
			if ok != slices.ContainsFunc(accepted, func(a string) bool { return strings.Contains(line, a) }) {
				t.Errorf("Mosquitto: %s (accepted: %q)", line, accepted)
			}
		}
	}
	check(`"good"/"secret"`, `"dup"/"two"`, `"dupbad"/"secret"`)

	// A SIGHUP after the file changed: the same messages again, for the new
	// lines, and the new users.
	write(
		"plain:"+hash["first"],
		"dup:"+hash["second"],
		"dup:"+hash["first"],
		"dupbad:nothash",
		"empty:",
		"",
	)
	pid, err := strconv.Atoi(strings.TrimSpace(testutil.ReadFile(t, pidFile)))
	if err != nil {
		t.Fatalf("mosquitto's pid_file: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	compareLogs(append(want,
		"Reloading config.",
		"Error: Invalid password hash type for user dupbad, removing entry.",
		"Error: Invalid password hash for user empty, removing entry.",
	))
	check(`"dup"/"one"`)
}
