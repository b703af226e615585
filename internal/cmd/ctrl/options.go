package ctrl

// mosquitto_ctrl's command line (apps/mosquitto_ctrl/options.c): the
// connection options before the module name, and the options file.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
)

// config is what the options say (struct mosq_config).
type config struct {
	conn        clienttool.Conn
	hostSet     bool // -h, -L or --unix gave the host
	qos         int
	debug       bool
	quiet       bool
	verbose     bool
	dataFile    *string // -f (2.1)
	optionsFile *string // -o
}

// getenv looks up an environment variable; tests replace os.LookupEnv.
type getenv func(string) (string, bool)

func newConfig() *config {
	return &config{qos: 1, conn: clienttool.Conn{Port: clienttool.PortUndefined, Protocol: 5}}
}

// parseOptions reads the options before the module, as
// client_config_line_proc does, printing its messages to errw. It returns
// how many leading arguments it consumed, and false if it stopped at an
// error (or at --help or --version, which mosquitto_ctrl treats alike).
func (c *config) parseOptions(args []string, errw io.Writer) (int, bool) {
	i := 0
	// value returns the option's argument, or prints what mosquitto_ctrl
	// prints when it is missing.
	value := func(what string) (string, bool) {
		if i+1 >= len(args) {
			fmt.Fprintf(errw, "Error: %s argument given but no %s specified.\n\n", args[i], what)
			return "", false
		}
		return args[i+1], true
	}
	// arg moves on to the option's argument and hands it to set.
	arg := func(what string, set func(v string) bool) bool {
		v, ok := value(what)
		if !ok {
			return false
		}
		i++
		return set(v)
	}
	str := func(dst **string, what string) bool {
		return arg(what, func(v string) bool { *dst = &v; return true })
	}
	// number reads an integer argument (as atoi does) into dst; one outside
	// lo..hi is refused with refusal, given the number.
	number := func(dst *int, what string, lo, hi int, refusal string) bool {
		v, ok := value(what)
		if !ok {
			return false
		}
		*dst = clienttool.Atoi(v)
		if *dst < lo || *dst > hi {
			fmt.Fprintf(errw, refusal, *dst)
			return false
		}
		i++
		return true
	}
	// strOpts are the options whose argument is kept as it is.
	strOpts := map[string]struct {
		dst  **string
		what string
	}{
		"-A":                      {&c.conn.Bind, "address"},
		"--cafile":                {&c.conn.CAFile, "file"},
		"--capath":                {&c.conn.CAPath, "directory"},
		"--cert":                  {&c.conn.CertFile, "file"},
		"--ciphers":               {&c.conn.Ciphers, "ciphers"},
		"-f":                      {&c.dataFile, "data file"},
		"-i":                      {&c.conn.ID, "id"},
		"--id":                    {&c.conn.ID, "id"},
		"--key":                   {&c.conn.KeyFile, "file"},
		"--keyform":               {&c.conn.Keyform, "keyform"},
		"-o":                      {&c.optionsFile, "options file"},
		"-P":                      {&c.conn.Password, "password"},
		"--pw":                    {&c.conn.Password, "password"},
		"--proxy":                 {&c.conn.Proxy, "proxy url"},
		"--psk":                   {&c.conn.PSK, "key"},
		"--psk-identity":          {&c.conn.PSKIdentity, "identity"},
		"--tls-alpn":              {&c.conn.TLSALPN, "protocol"},
		"--tls-engine":            {&c.conn.TLSEngine, "engine_id"},
		"--tls-engine-kpass-sha1": {&c.conn.TLSKpassSHA1, "kpass sha1"},
		"--tls-version":           {&c.conn.TLSVersion, "version"},
		"-u":                      {&c.conn.Username, "username"},
		"--username":              {&c.conn.Username, "username"},
	}
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		ok := true
		if o, found := strOpts[args[i]]; found {
			ok = str(o.dst, o.what)
		} else {
			switch a := args[i]; a {
			case "-d", "--debug":
				c.debug = true
			case "--help", "--version":
				return i, false
			case "-h", "--host":
				ok = arg("host", func(v string) bool { c.conn.Host, c.hostSet = v, true; return true })
			case "--insecure":
				c.conn.Insecure = true
			case "-L", "--url":
				ok = arg("URL", func(v string) bool { return c.parseURL(v, errw) })
			case "-p", "--port":
				ok = number(&c.conn.Port, "port", 0, 65535, "Error: Invalid port given: %d\n")
			case "-q", "--qos":
				ok = number(&c.qos, "QoS", 0, 2, "Error: Invalid QoS given: %d\n")
			case "--quiet":
				c.quiet = true
			case "--tls-use-os-certs":
				c.conn.TLSUseOSCerts = true
			case "--unix":
				ok = arg("socket path", func(v string) bool { c.conn.Host, c.hostSet, c.conn.Port = v, true, 0; return true })
			case "-V", "--protocol-version":
				if i+1 >= len(args) {
					fmt.Fprintf(errw, "Error: --protocol-version argument given but no version specified.\n\n")
					return i, false
				}
				switch args[i+1] {
				case "mqttv31", "31":
					c.conn.Protocol = 3
				case "mqttv311", "311":
					c.conn.Protocol = 4
				case "mqttv5", "5":
					c.conn.Protocol = 5
				default:
					fmt.Fprintf(errw, "Error: Invalid protocol version argument given.\n\n")
					return i, false
				}
				i++
			case "-v", "--verbose":
				c.verbose = true
			default:
				fmt.Fprintf(errw, "Error: Unknown option '%s'.\n", a)
				return i, false
			}
		}
		if !ok {
			return i, false
		}
		i++
	}
	return i, true
}

// parseURL takes -L's mqtt://[user[:password]@]host[:port]/ (the path is
// required and ignored).
func (c *config) parseURL(url string, errw io.Writer) bool {
	switch {
	case len(url) >= 7 && strings.EqualFold(url[:7], "mqtt://"):
		url = url[7:]
		c.conn.Port = 1883
	case len(url) >= 8 && strings.EqualFold(url[:8], "mqtts://"):
		url = url[8:]
		c.conn.Port = 8883
		c.conn.TLSUseOSCerts = true
	default:
		// 2.1 capitalises the message: "Unsupported URL scheme."
		fmt.Fprintf(errw, "Error: unsupported URL scheme.\n\n")
		return false
	}
	slash := strings.IndexByte(url, '/')
	if slash < 0 {
		fmt.Fprintf(errw, "Error: Invalid URL for -L argument specified - topic missing.\n")
		return false
	}
	url = url[:slash]
	if at := strings.IndexByte(url, '@'); at >= 0 {
		cred := url[:at]
		if colon := strings.IndexByte(cred, ':'); colon >= 0 {
			pw := cred[colon+1:]
			c.conn.Password = &pw
			cred = cred[:colon]
		}
		// 2.1 refuses an empty user name ("Error: Empty username in
		// URL."); 2.0.11 sends it.
		c.conn.Username = &cred
		url = url[at+1:]
	}
	if colon := strings.IndexByte(url, ':'); colon >= 0 {
		port := url[colon+1:]
		url = url[:colon]
		// 2.1 refuses an empty port ("Error: Empty port in URL."); to
		// 2.0.11 it is port 0, a Unix socket named after the host.
		c.conn.Port = clienttool.Atoi(port)
	}
	c.conn.Host, c.hostSet = url, true
	return true
}

// defaultOptionsFile is $XDG_CONFIG_HOME/mosquitto_ctrl, else
// $HOME/.config/mosquitto_ctrl, else none.
func defaultOptionsFile(env getenv) string {
	if x, ok := env("XDG_CONFIG_HOME"); ok {
		return x + "/mosquitto_ctrl"
	}
	if h, ok := env("HOME"); ok {
		return filepath.Join(h, ".config", "mosquitto_ctrl")
	}
	return ""
}

// flagOptions are the options that take no argument.
var flagOptions = map[string]bool{"-d": true, "--debug": true, "--help": true, "--insecure": true, "--quiet": true,
	"--tls-use-os-certs": true, "-v": true, "--verbose": true, "--version": true}

// optionsFileFlag returns the file the leading options name with -o (2.1),
// if any: it must be known before the options file is read.
func optionsFileFlag(args []string) *string {
	var file *string
	for i := 0; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		if flagOptions[args[i]] {
			continue
		}
		if args[i] == "-o" && i+1 < len(args) {
			file = &args[i+1]
		}
		i++
	}
	return file
}

// loadOptionsFile reads the options file, if it can be opened: file, or
// else the default one. A line is an option and its argument separated by
// spaces; lines starting with '#' are comments. It returns false after the
// first option refused.
func (c *config) loadOptionsFile(file *string, env getenv, errw io.Writer) bool {
	path := defaultOptionsFile(env)
	if file != nil {
		path = *file
	}
	if path == "" {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := readLine(r, 1023)
		if line == "" && err != nil {
			return true
		}
		if line[0] == '#' {
			continue
		}
		line = strings.TrimRight(line, "\r\n")
		var words []string
		for _, w := range strings.Split(line, " ") {
			if w != "" && len(words) < 2 {
				words = append(words, w)
			}
		}
		if len(words) == 0 {
			continue
		}
		if _, ok := c.parseOptions(words, errw); !ok {
			return false
		}
	}
}

// readLine reads what fgets reads into a buffer of max+1 bytes: up to and
// including a newline, or max bytes.
func readLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for len(b) < max {
		c, err := r.ReadByte()
		if err != nil {
			return string(b), err
		}
		b = append(b, c)
		if c == '\n' {
			break
		}
	}
	return string(b), nil
}

// check makes ctrl_config_parse's last checks, printing what it prints.
// If one fails, the host stays unset: mosquitto_ctrl goes on regardless,
// and then cannot connect.
func (c *config) check(errw io.Writer) {
	switch {
	case (c.conn.CertFile != nil) != (c.conn.KeyFile != nil):
		fmt.Fprintf(errw, "Error: Both certfile and keyfile must be provided if one of them is set.\n")
	case c.conn.Keyform != nil && c.conn.KeyFile == nil:
		fmt.Fprintf(errw, "Error: If keyform is set, keyfile must be also specified.\n")
	case c.conn.TLSKpassSHA1 != nil && (c.conn.Keyform == nil || c.conn.TLSEngine == nil):
		fmt.Fprintf(errw, "Error: when using tls-engine-kpass-sha1, both tls-engine and keyform must also be provided.\n")
	case (c.conn.CAFile != nil || c.conn.CAPath != nil) && c.conn.PSK != nil:
		fmt.Fprintf(errw, "Error: Only one of --psk or --cafile/--capath may be used at once.\n")
	case c.conn.PSK != nil && c.conn.PSKIdentity == nil:
		fmt.Fprintf(errw, "Error: --psk-identity required if --psk used.\n")
	default:
		if !c.hostSet {
			c.conn.Host, c.hostSet = "localhost", true
		}
	}
}
