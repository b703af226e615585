package midge

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/version"
)

// midgeBinary returns a directory where cmd/midge, built once for the
// package's tests, is linked as midge and under the names of Mosquitto's
// tools.
func midgeBinary(t *testing.T) string {
	t.Helper()
	return testutil.MidgeLinks(t, "midge", "mosquitto_pub", "mosquitto_sub", "mosquitto_rr", "mosquitto_passwd")
}

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }

// runBinary runs bin with args and returns its standard output, standard
// error and exit status.
func runBinary(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return o.String(), e.String(), code
}

// TestClientToolsIntroduceThemselves checks, through the real binary, that
// "midge pub|sub|rr" name themselves and midge's version in --help and
// --version, while the same binary run as mosquitto_pub|sub|rr prints
// exactly what Debian's Mosquitto tools print (issue 12.14).
func TestClientToolsIntroduceThemselves(t *testing.T) {
	t.Parallel()
	dir := midgeBinary(t)
	midge := filepath.Join(dir, "midge")
	for _, tool := range []string{"pub", "sub", "rr"} {
		mosq := "mosquitto_" + tool
		prog := "midge " + tool
		t.Run(tool, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runBinary(t, midge, tool, "--help")
			lines := strings.Split(out, "\n")
			wantVersion := prog + " version " + version.Version + ", with the options of " + mosq + " 2.0.11."
			if code != 1 || errOut != "" || !strings.HasPrefix(lines[0], prog+" is ") || !strings.Contains(out, "\n"+wantVersion+"\n") ||
				!strings.Contains(out, "\nUsage: "+prog+" {[-h host]") || !strings.Contains(out, "\n       "+prog+" --help\n") {
				t.Errorf("midge %s --help = %d, stderr %q, stdout:\n%s", tool, code, errOut, out)
			}
			if strings.Contains(out, mosq+" version") || strings.Contains(out, "libmosquitto") || strings.Contains(out, "Usage: "+mosq) {
				t.Errorf("midge %s --help introduces itself as %s:\n%s", tool, mosq, out)
			}
			// The usage lines stay aligned under the first one.
			for _, l := range lines {
				if strings.HasPrefix(l, "   ") && strings.Contains(l, "[-d") && !strings.HasPrefix(l, strings.Repeat(" ", len("Usage: "+prog+" "))+"[") {
					t.Errorf("midge %s --help: usage line out of alignment: %q", tool, l)
				}
			}

			out, errOut, code = runBinary(t, midge, tool, "--version")
			if code != 1 || errOut != "" || out != wantVersion+"\n" {
				t.Errorf("midge %s --version = %d, %q, %q; want 1, %q", tool, code, out, errOut, wantVersion+"\n")
			}

			// Under Mosquitto's name, Mosquitto's text, byte for byte.
			for _, args := range [][]string{{"--help"}, {"--version"}} {
				wantOut, wantErr, wantCode := runBinary(t, "/usr/bin/"+mosq, args...)
				gotOut, gotErr, gotCode := runBinary(t, filepath.Join(dir, mosq), args...)
				if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
					t.Errorf("%s %s: midge's = %d, %q, %q; Debian's = %d, %q, %q", mosq, args[0], gotCode, gotOut, gotErr, wantCode, wantOut, wantErr)
				}
			}
		})
	}
}

// TestPasswdIntroducesItself checks through the real binary that "midge
// passwd" names itself, and mosquitto_passwd Mosquitto's tool.
func TestPasswdIntroducesItself(t *testing.T) {
	t.Parallel()
	dir := midgeBinary(t)
	out, _, code := runBinary(t, filepath.Join(dir, "midge"), "passwd")
	if code != 1 || !strings.HasPrefix(out, "midge passwd is a tool for managing password files") || strings.Contains(out, "mosquitto_passwd") {
		t.Errorf("midge passwd = %d:\n%s", code, out)
	}
	out, _, code = runBinary(t, filepath.Join(dir, "mosquitto_passwd"))
	if code != 1 || !strings.HasPrefix(out, "mosquitto_passwd is a tool for managing password files") || strings.Contains(out, "midge") {
		t.Errorf("mosquitto_passwd = %d:\n%s", code, out)
	}
}

// TestVersionCommand checks "midge version" and "midge --version" against
// the one declaration of the version.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	dir := midgeBinary(t)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		out, errOut, code := runBinary(t, filepath.Join(dir, "midge"), args...)
		if want := "midge version " + version.Version + "\n"; code != 0 || errOut != "" || out != want {
			t.Errorf("midge %s = %d, %q, %q; want 0, %q", args[0], code, out, errOut, want)
		}
	}
}
