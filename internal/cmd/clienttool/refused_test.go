package clienttool

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestRefusedLikeMosquitto runs command lines Mosquitto's tools refuse (and
// a few they accept but cannot connect with) through Debian's tools and
// midge's, and compares what they print and their exit statuses. Nothing
// listens on the port they are given (mqClosedPort).
func TestRefusedLikeMosquitto(t *testing.T) {
	t.Parallel()
	port := mqClosedPort(t)
	dir := t.TempDir()
	cafile := testutil.WriteFile(t, dir, "ca.pem", "not a certificate\n")
	tools := map[string]tool{"pub": toolPub, "sub": toolSub, "rr": toolRR}
	all := []string{"pub", "sub", "rr"}
	type tc struct {
		tools []string
		args  []string
		stdin string
	}
	var cases []tc
	add := func(ts []string, args ...string) { cases = append(cases, tc{tools: ts, args: args}) }
	// Every option that takes an argument, without it.
	for _, o := range []string{"-A", "--cafile", "--capath", "--cert", "--ciphers", "-C", "-e", "-f", "-F",
		"-h", "-i", "-I", "-k", "--key", "--keyform", "-L", "-m", "-M", "-p", "-P", "--proxy", "--psk",
		"--psk-identity", "-q", "--random-filter", "--repeat", "--repeat-delay", "-t", "-T", "--tls-alpn",
		"--tls-engine", "--tls-engine-kpass-sha1", "--tls-version", "-U", "-u", "--unix", "-V", "-W",
		"--will-payload", "--will-qos", "--will-topic", "-x", "-D", "--property", "--id", "--topic",
		"--qos", "--host", "--port", "--username", "--pw", "--url", "--message", "--file", "--keepalive",
		"--id-prefix", "--filter-out", "--unsubscribe", "--protocol-version"} {
		add(all, o)
		add(all, "-t", "a/b", o)
	}
	// Options of one tool given to another, and unknown ones.
	for _, o := range []string{"-v", "-C", "-E", "-F", "-N", "-R", "-T", "-U", "-W", "--pretty", "--retained-only",
		"--remove-retained", "--random-filter", "--retain-as-published", "-m", "-f", "-l", "-n", "-s", "-r",
		"--repeat", "--repeat-delay", "-e", "-Z", "--nonsense", "-", "", "-S", "-w", "--verbose", "--retain",
		"--null-message", "--stdin-line", "--stdin-file", "--debug", "--quiet", "--nodelay", "--insecure",
		"--disable-clean-session", "--will-retain", "--tls-use-os-certs", "-c", "-d"} {
		add(all, "-t", "a/b", o, "x")
	}
	for _, v := range [][]string{
		{"-k", "4"}, {"-k", "65536"}, {"-k", "abc"}, {"-k", " 10x"}, {"-k", "-1"},
		{"-p", "-1"}, {"-p", "65536"}, {"-p", "4294967296"}, {"-p", "x"},
		{"-q", "3"}, {"-q", "-1"}, {"-q", "1x"}, {"-q", "9999999999"},
		{"-C", "0"}, {"-C", "-5"}, {"-W", "0"}, {"-W", "x"}, {"-M", "0"},
		{"-x", "A"}, {"-x", "-2"}, {"-x", "4294967296"}, {"-x", ""}, {"-x", "1 "},
		{"-V", "4"}, {"-V", "mqttv50"}, {"-V", ""},
		{"--will-qos", "3"}, {"--will-qos", "-1"}, {"--repeat", "0"}, {"--repeat-delay", "-1"},
		{"--random-filter", "0"}, {"--random-filter", "101"}, {"--random-filter", "0.01"},
		{"-L", "invalid://x/y"}, {"-L", "mqtt://localhost"}, {"-L", "mqtts://localhost"}, {"-L", "MQTT://u:p@h:1/#"},
		{"-L", "mqtt://h/+"}, {"-t", "#"}, {"-t", "a/+/b"}, {"-t", "a/#/b"}, {"-t", "a+"}, {"-t", "\xff"},
		{"-t", "a\tb"}, {"-t", "a\u007fb"}, {"-t", "a\ufffeb"}, {"-t", strings.Repeat("a/", 201)},
		{"-T", "++"}, {"-T", "a#"}, {"-U", "a/+b"}, {"-U", "\xc0\x80"}, {"--will-topic", "+"}, {"--will-topic", "\x01"},
		{"-e", "#"}, {"-e", "a\xff"},
		{"-F", "%"}, {"-F", "%Z"}, {"-F", "@"}, {"-F", "\\"}, {"-F", "\\Z"}, {"-F", "%-"}, {"-F", "%0"},
		{"-F", "%."}, {"-F", "%10"}, {"-F", "%.5"}, {"-F", "%e"}, {"-F", "%i"}, {"-F", "%k"}, {"-F", "%y"},
		{"-F", "%0-5p"}, {"-F", "%-05"}, {"-F", "%10.x"}, {"-F", "abc%"}, {"-F", "%d"}, {"-F", "%f"},
		{"-i", "a", "-I", "b"}, {"-I", "b", "-i", "a"}, {"-m", "a", "-f", "b"}, {"-m", "a", "-l"},
		{"-n", "-s"}, {"-l", "-m", "x"}, {"-s", "-n"}, {"-f", "x", "-m", "y"},
		{"--will-payload", "p"}, {"--will-retain"}, {"--cert", "c"}, {"--key", "k"}, {"--keyform", "pem"},
		{"--tls-engine-kpass-sha1", "x"}, {"--psk", "00", "--cafile", "x"}, {"--psk", "00"},
		{"-c"}, {"-c", "-V", "5"}, {"-c", "-I", "p"}, {"-c", "-V", "5", "-I", "p"}, {"-x", "∞", "-V", "5"},
		{"-x", "-1", "-V", "5"}, {"-R", "--retained-only"}, {"--retained-only", "-R"},
		{"-D"}, {"-D", "publish"}, {"-D", "publish", "content-type"}, {"-D", "bogus", "content-type", "x"},
		{"-D", "publish", "bogus", "x"}, {"-D", "connect", "content-type", "x"}, {"-D", "publish", "subscription-identifier", "1"},
		{"-D", "auth", "authentication-method", "x"}, {"-D", "puback", "reason-string", "x"}, {"-D", "connack", "maximum-qos", "1"},
		{"-D", "subscribe", "topic-alias", "1"}, {"-D", "connect", "receive-maximum", "-1"}, {"-D", "connect", "receive-maximum", "65536"},
		{"-D", "connect", "request-problem-information", "256"}, {"-D", "connect", "session-expiry-interval", "4294967296"},
		{"-D", "subscribe", "subscription-identifier", "268435456"}, {"-D", "subscribe", "subscription-identifier", "-1"},
		{"-D", "publish", "user-property", "a"}, {"-D", "publish", "content-type", "\xff"}, {"-D", "publish", "user-property", "a\x01", "b"},
		{"-D", "connect", "receive-maximum", "0"}, {"-D", "publish", "topic-alias", "0"}, {"-D", "connect", "maximum-packet-size", "0"},
		{"-D", "connect", "request-problem-information", "2"}, {"-D", "publish", "response-topic", "a/#"},
		{"-D", "publish", "content-type", "a", "-D", "publish", "content-type", "b"},
		{"-D", "connect", "session-expiry-interval", "5", "-x", "10"},
		{"-D", "will", "will-delay-interval", "5", "-D", "will", "will-delay-interval", "6"},
		{"-D", "disconnect", "reason-string", "x", "-D", "disconnect", "reason-string", "y"},
		{"-D", "unsubscribe", "user-property", "a", "b", "-D", "subscribe", "user-property", "c", "d", "-V", "311"},
		{"-D", "PUBLISH", "Content-Type", "x", "-D", "Will", "payload-format-indicator", "3"},
		{"-D", "publish", "correlation-data", strings.Repeat("x", 65536)},
		{"-D", "publish", "message-expiry-interval", "abc"},
		{"--help"}, {"--version"}, {"-h", "x", "--help"},
	} {
		add(all, append([]string{"-t", "a/b"}, v...)...)
	}
	// Command lines each tool accepts, but that stop before connecting or
	// fail to connect.
	base := map[string][]string{"pub": {"-t", "a/b", "-m", "x"}, "sub": {"-t", "a/b"}, "rr": {"-t", "a/b", "-m", "x", "-e", "r"}}
	for _, v := range [][]string{
		{}, {"-i", ""}, {"-P", "pw"}, {"-P", "pw", "-V", "311"}, {"-u", "u", "-P", "pw", "-V", "31"},
		{"--will-topic", "w", "-D", "will", "user-property", "a", "b", "-V", "311"},
		{"--tls-version", "tlsv9"}, {"--cafile", filepath.Join(dir, "missing.pem")}, {"--cafile", cafile},
		{"--cafile", cafile, "--cert", filepath.Join(dir, "missing.pem"), "--key", cafile},
		{"-D", "connect", "user-property", "a", "b", "-V", "311"}, {"-c", "-V", "5", "-x", "100"},
		{"-q", "2", "-V", "31"}, {"-A", "127.0.0.1"}, {"-D", "publish", "response-topic", "r2"},
		{"--quiet"}, {"--quiet", "-i", ""}, {"-V", "5", "-i", "x", "-c"}, {"-I", "pre"},
	} {
		for _, name := range all {
			cases = append(cases, tc{tools: []string{name}, args: append(append([]string{}, base[name]...), v...)})
		}
	}
	for _, v := range [][]string{
		{"-t", "a/b", "-e", "r"}, {"-e", "r", "-m", "x"}, {"-m", "x"}, {"-t", "a/b"}, {}, {"-U", "a/b"},
		{"-L", "mqtt://127.0.0.1:" + port + "/a/b", "-m", "x", "-e", "r"},
	} {
		add(all, v...)
	}
	// mosquitto_rr 2.0.11 ignores -f and -s (it sends an empty request);
	// midge's rr reads them, so only pub is compared here.
	for _, v := range [][]string{
		{"-f", filepath.Join(dir, "nonexistent")}, {"-f", dir}, {"-s"}, {"-s", "--quiet"}, {"-f", "/dev/null", "-d"},
	} {
		add([]string{"pub"}, append([]string{"-t", "a/b"}, v...)...)
	}
	for _, c := range cases {
		for _, name := range c.tools {
			args := append([]string{"-h", "127.0.0.1", "-p", port}, c.args...)
			t.Run(name+"/"+strings.Join(c.args, "_"), func(t *testing.T) {
				t.Parallel()
				home := mqHome(t)
				want := mqStartDebian(t, "mosquitto_"+name, home, "", []byte(c.stdin), args...)
				got := mqStartMidge(t, tools[name], home, "", []byte(c.stdin), args...)
				mqCompare(t, want, got, nil)
			})
		}
	}
}
