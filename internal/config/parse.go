package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/internal/logging"
)

// parser holds the state of reading one configuration (a main file and the
// files it includes).
type parser struct {
	res      *Result
	errs     []error
	mainName string
	onDisk   bool // the main file was opened by Load (include_dir is relative to the process)

	localOnly   bool // no listener, port or bind_address seen
	perListener bool
	secUsed     Position // first security option, for per_listener_settings
	global      *scopeState
	listeners   []*lstate // in order; the default listener is among them once created
	def         *lstate   // the default listener, nil until needed
	cur         *lstate   // the listener options apply to in the current file, nil for none

	seen map[string]Position // single-valued string options, by key

	logDests    logging.Dest
	logDestsSet bool
	logTypes    logging.Type
	logFilePos  Position

	curPlugin *plugin
	dynsecs   []*plugin          // dynamic security plugins, to warn of one without config_file
	plugins   map[string]*plugin // plugin_load NAME
	inBridge  bool               // inside a refused "connection" block

	aclCheckSubscribe bool
	wsHeadersSize     int // websockets_headers_size, global; 0 for the default

	handlers map[string]handler
}

// scopeState is the security options of a scope as read.
type scopeState struct {
	pos          Position // first option
	anon         *bool
	zeroLen      *bool
	zeroLenPos   Position
	autoID       string
	autoIDPos    Position
	passwordFile string
	passwordPos  Position
	aclFile      string
	aclPos       Position
	dynsecFile   string // dynamic security's plugin_opt_config_file
	dynsecInit   string // its plugin_opt_password_init_file
	dynsecPos    Position
}

// lstate is a listener as read.
type lstate struct {
	l              Listener
	sec            *scopeState // per_listener_settings, or plugin_use
	maxConnections int         // -1 for no limit
	maxQoS         int         // -1 unset
	maxQoSPos      Position
	maxTopicAlias  int // -1 unset
	aliasOut       int // max_topic_alias_broker, -1 unset
	aliasPos       Position
	mountPoint     string
	useUsername    bool
	versions       []byte // accept_protocol_versions; nil for all
	// enable_proxy_protocol (0 unset) and proxy_protocol_v2_require_tls.
	proxy           int
	proxyPos        Position
	proxyRequireTLS bool
	proxyTLSPos     Position
}

// plugin is a plugin/global_plugin/plugin_load line midge understands: the
// acl-file and password-file plugins of Mosquitto 2.1.
type plugin struct {
	kind    string // "password_file", "acl_file" or "dynamic_security", "" for a refused plugin
	name    string // plugin_load NAME
	pos     Position
	scope   *scopeState // where its file goes; nil for plugin_load until plugin_use
	file    string
	filePos Position
	init    string // dynamic security's password_init_file
	used    bool
	users   []*scopeState // plugin_use listeners waiting for the file
}

func parse(r io.Reader, name string, onDisk bool) (*Result, error) {
	p := &parser{
		res: &Result{
			Log:               logging.Defaults(),
			CheckRetainSource: true,
			Persistence:       Persistence{File: "midge.db", SyncInterval: time.Second, AutosaveInterval: 1800 * time.Second},
			HTTPAPI:           HTTPAPI{History: 50},
		},
		mainName:  name,
		onDisk:    onDisk,
		localOnly: true,
		global:    &scopeState{},
		seen:      make(map[string]Position),
		plugins:   make(map[string]*plugin),
		logTypes:  logging.None,
		handlers:  optionHandlers(),
	}
	p.res.Files = append(p.res.Files, name)
	if err := p.readFile(r, name, 0); err != nil {
		p.errs = append(p.errs, err)
	}
	p.build()
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.res, nil
}

// errorf records an error at pos.
func (p *parser) errorf(pos Position, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// refuse records that option name is not supported, and why.
func (p *parser) refuse(pos Position, name, why string) {
	msg := "option " + name + " is not supported by midge"
	if why != "" {
		msg += ": " + why
	}
	p.errs = append(p.errs, &Error{Pos: pos, Msg: msg, Err: ErrNotSupported})
}

// warnf records a warning at pos.
func (p *parser) warnf(pos Position, format string, args ...any) {
	p.res.Warnings = append(p.res.Warnings, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// deprecated records Mosquitto 2.1's notice for an option it deprecates,
// in its words; advice may be empty.
func (p *parser) deprecated(pos Position, name, advice string) {
	msg := "The '" + name + "' option is now deprecated and will be removed in version 3.0."
	if advice != "" {
		msg += " " + advice
	}
	p.res.Warnings = append(p.res.Warnings, Warning{Pos: pos, Msg: msg, Notice: true})
}

// maxConfigFile bounds one configuration file.
const maxConfigFile = 64 << 20

// readFile reads one configuration file. level is 0 for the main file and 1
// for files found by include_dir. The current listener does not carry over
// from one file to the next, as in Mosquitto.
func (p *parser) readFile(r io.Reader, name string, level int) error {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigFile+1))
	if err != nil {
		return &Error{Pos: Position{File: name}, Msg: "reading: " + errText(err), Err: err}
	}
	if len(data) > maxConfigFile {
		return &Error{Pos: Position{File: name}, Msg: fmt.Sprintf("larger than %d bytes", maxConfigFile)}
	}
	p.cur = nil
	p.curPlugin = nil
	p.inBridge = false
	text := string(data)
	for n := 1; text != ""; n++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		p.line(Position{File: name, Line: n}, line, n == 1, level)
	}
	return nil
}

// invisible reports whether r is a character that shows as nothing (or as a
// box) and gets pasted from web pages and word processors before an option:
// a byte order mark, U+FFFC, zero-width spaces and joiners, no-break spaces.
func invisible(r rune) bool {
	switch r {
	case '\uFEFF', '\uFFFC', '\u200B', '\u200C', '\u200D', '\u2060', '\u00A0', '\u202F':
		return true
	}
	return false
}

func blank(r rune) bool { return r == ' ' || r == '\t' }

// line handles one line of a file.
func (p *parser) line(pos Position, raw string, first bool, level int) {
	line := strings.TrimRight(raw, "\r\n")
	if first {
		line = strings.TrimPrefix(line, "\uFEFF")
	}
	// Mosquitto takes a line that starts with '#' as a comment, and a line
	// that starts with blanks as an option with an empty name (an error).
	// midge also skips blanks (and invisible characters) before a comment
	// or an option.
	trimmed := strings.TrimLeftFunc(line, func(r rune) bool { return blank(r) || invisible(r) })
	if trimmed == "" || trimmed[0] == '#' {
		return
	}
	if lead := line[:len(line)-len(trimmed)]; strings.IndexFunc(lead, invisible) >= 0 {
		r, _ := utf8.DecodeRuneInString(lead[strings.IndexFunc(lead, invisible):])
		p.warnf(pos, "invisible character %U before the option ignored", r)
	}
	name, rest := trimmed, ""
	if i := strings.IndexFunc(trimmed, blank); i >= 0 {
		name, rest = trimmed[:i], trimmed[i+1:]
	}
	if p.inBridge {
		if _, ok := bridgeOptions[name]; ok {
			return // the connection line was refused already
		}
		p.inBridge = false
	}
	if h, ok := p.handlers[name]; ok {
		h(p, pos, name, rest)
		return
	}
	switch {
	case strings.HasPrefix(name, "plugin_opt_"), strings.HasPrefix(name, "auth_opt_"):
		p.pluginOpt(pos, name, rest)
	case name == "include_dir":
		p.includeDir(pos, rest, level)
	default:
		if _, ok := bridgeOptions[name]; ok {
			p.refuse(pos, name, "bridges are not implemented yet")
			return
		}
		p.errorf(pos, "unknown option %q", name)
	}
}

// token returns the first word of rest, the value of a single-valued
// option. Words after it are ignored, as Mosquitto ignores them; a warning
// says so unless they are a comment.
func (p *parser) token(pos Position, name, rest string) (string, bool) {
	f := strings.FieldsFunc(rest, blank)
	if len(f) == 0 {
		p.errorf(pos, "empty %s value", name)
		return "", false
	}
	if len(f) > 1 && !strings.HasPrefix(f[1], "#") {
		p.warnf(pos, "%s: text after the value ignored: %q", name, strings.Join(f[1:], " "))
	}
	return f[0], true
}

// boolean parses a true/false/1/0 value.
func (p *parser) boolean(pos Position, name, rest string) (bool, bool) {
	t, ok := p.token(pos, name, rest)
	if !ok {
		return false, false
	}
	switch t {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	p.errorf(pos, "invalid %s value %q: want true or false", name, t)
	return false, false
}

// integer parses a decimal integer. Mosquitto 2.0 reads it with atoi
// ("12abc" is 12, "abc" is 0); midge refuses what is not a number, as 2.1
// does.
func (p *parser) integer(pos Position, name, rest string) (int, bool) {
	t, ok := p.token(pos, name, rest)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			p.errorf(pos, "%s value %s out of range", name, t)
		} else {
			p.errorf(pos, "%s value %q is not a number", name, t)
		}
		return 0, false
	}
	return n, true
}

// str returns the rest of the line with blanks trimmed, the value of a
// string option (paths may contain spaces; a '#' in it is part of it).
func (p *parser) str(pos Position, name, rest string) (string, bool) {
	v := strings.TrimFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' || r == '\v' || r == '\f' || r == '\r' })
	switch {
	case v == "":
		p.errorf(pos, "empty %s value", name)
		return "", false
	case len(v) > 65535:
		p.errorf(pos, "%s value longer than 65535 bytes", name)
		return "", false
	case !utf8.ValidString(v):
		p.errorf(pos, "%s value is not valid UTF-8", name)
		return "", false
	}
	return v, true
}

// once records a single-valued string option and reports whether it is the
// first time; Mosquitto refuses a second one.
func (p *parser) once(pos Position, key, name string) bool {
	if prev, dup := p.seen[key]; dup {
		p.errorf(pos, "duplicate %s value (first at %s)", name, prev)
		return false
	}
	p.seen[key] = pos
	return true
}

// replaced warns when an option that Mosquitto 2.0 allows once and 2.1
// replaces is given again; midge takes the last, as 2.1 does.
func (p *parser) replaced(pos Position, key, name string) {
	if prev, dup := p.seen[key]; dup {
		p.warnf(pos, "%s given again: replaces the one at %s (Mosquitto 2.0 refuses this)", name, prev)
	}
	p.seen[key] = pos
}

// listener returns the listener the current line configures: the current
// one, or the default listener, which it creates. ok is false (and an error
// recorded) if the option needs a listener line before it.
func (p *parser) listener(pos Position, name string, needListener bool) (*lstate, bool) {
	if p.cur != nil && !(needListener && p.cur == p.def) {
		return p.cur, true
	}
	if needListener {
		p.errorf(pos, "%s must follow a listener line", name)
		return nil, false
	}
	return p.defaultListener(pos, name), true
}

// defaultListener returns the default listener, creating it.
func (p *parser) defaultListener(pos Position, why string) *lstate {
	if p.def == nil {
		p.def = newListener(Listener{Pos: pos, Default: true, Port: 1883})
		p.listeners = append(p.listeners, p.def)
		if why != "port" && why != "bind_address" {
			p.warnf(pos, "%s before any listener line creates a default listener on port 1883 (as Mosquitto does); put it after a listener line", why)
		}
	}
	return p.def
}

func newListener(l Listener) *lstate {
	if l.Protocol == "" {
		l.Protocol = "mqtt"
	}
	return &lstate{l: l, maxConnections: -1, maxQoS: -1, maxTopicAlias: -1, aliasOut: -1}
}

// scope returns the security scope the current line configures.
func (p *parser) scope(pos Position, name string) (*scopeState, bool) {
	if p.secUsed.File == "" {
		p.secUsed = pos
	}
	if !p.perListener {
		if p.global.pos.File == "" {
			p.global.pos = pos
		}
		return p.global, true
	}
	if p.cur == nil {
		p.errorf(pos, "%s with per_listener_settings true must follow a listener line", name)
		return nil, false
	}
	l := p.cur
	if l.sec == nil {
		l.sec = &scopeState{pos: pos}
	}
	return l.sec, true
}

// scopeKey names a scope in p.seen keys.
func (p *parser) scopeKey(s *scopeState) string {
	if s == p.global {
		return "global"
	}
	return s.pos.String()
}

// includeDir reads the .conf files of a directory, in Mosquitto's order.
func (p *parser) includeDir(pos Position, rest string, level int) {
	dir, ok := p.str(pos, "include_dir", rest)
	if !ok {
		return
	}
	if level > 0 {
		p.errorf(pos, "include_dir is only valid in the main configuration file")
		return
	}
	files, err := dirFiles(dir)
	if err != nil {
		p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf("unable to open include_dir %q: %s", dir, errText(err)), Err: err})
		return
	}
	mainAbs, _ := filepath.Abs(p.mainName)
	saved := p.cur
	for _, f := range files {
		if abs, _ := filepath.Abs(f); p.onDisk && abs == mainAbs {
			p.errorf(pos, "include_dir %q contains the main configuration file", dir)
			continue
		}
		p.res.Files = append(p.res.Files, f)
		fh, err := os.Open(f)
		if err != nil {
			p.errs = append(p.errs, &Error{Pos: Position{File: f}, Msg: "unable to open config file: " + errText(err), Err: err})
			continue
		}
		if st, err := fh.Stat(); err == nil && st.IsDir() {
			fh.Close()
			p.errorf(Position{File: f}, "config file is a directory")
			continue
		}
		if err := p.readFile(fh, f, level+1); err != nil {
			p.errs = append(p.errs, err)
		}
		fh.Close()
	}
	// Back in the main file: options after include_dir apply to the listener
	// they applied to before it.
	p.cur = saved
	p.curPlugin = nil
}

// dirFiles returns the files of dir whose names end in ".conf", in the order
// Mosquitto reads them: letter by letter, case-insensitively, an upper-case
// letter before the same letter in lower case (00.conf, A.conf, a.conf,
// B.conf, b.conf).
func dirFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if len(n) > len(".conf") && strings.HasSuffix(n, ".conf") {
			names = append(names, n)
		}
	}
	sortMosquitto(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out, nil
}

// sortMosquitto sorts names with Mosquitto's scmp_p comparison.
func sortMosquitto(names []string) {
	less := func(a, b string) bool { return scmp(a, b) < 0 }
	// insertion sort keeps this dependency-free and the lists are short
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && less(names[j], names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

// scmp is Mosquitto's include_dir comparison (src/conf.c scmp_p): byte by
// byte, first by toupper, then by the byte itself.
func scmp(a, b string) int {
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		ua, ub := upper(a[i]), upper(b[i])
		if ua != ub {
			return int(ua) - int(ub)
		}
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	switch {
	case len(a) == len(b):
		return 0
	case i == len(a):
		return -int(b[i])
	}
	return int(a[i])
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
