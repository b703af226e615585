package config

import (
	"errors"
	"github.com/midge-mqtt/midge/internal/tlsconf"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/logging"
)

// ErrNotSupported is matched (errors.Is) by the errors for options midge
// refuses because it does not implement them.
var ErrNotSupported = errors.New("config: option not supported by midge")

// Position is a line of a configuration file.
type Position struct {
	File string // as given to Load or found by include_dir
	Line int    // 1-based; 0 when the position is the file itself
}

// String returns "FILE:LINE", or "FILE" when Line is 0.
func (p Position) String() string {
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Error is one problem found in a configuration file. Its message is
// "FILE:LINE: what is wrong".
type Error struct {
	Pos Position
	Msg string
	Err error // the underlying error (ErrNotSupported, an auth.SyntaxError...), or nil
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Warning is something in a configuration file that is accepted but worth
// telling the user: a deprecated option, an option that has no effect in
// midge, text ignored at the end of a line.
type Warning struct {
	Pos Position
	Msg string
	// Notice marks Mosquitto 2.1's deprecation notices ("The 'port' option
	// is now deprecated and will be removed in version 3.0. ..."), which
	// Mosquitto logs at notice level without "Warning:".
	Notice bool
	// Verbatim marks a message Mosquitto logs as it is, without a position:
	// String returns Msg alone. The lines of a password file that are left
	// out are told this way, in Mosquitto's words ("Warning: Invalid line in
	// password file ..." at notice level, "Error: ... removing entry." with
	// Error set).
	Verbatim bool
	// Error marks a message Mosquitto logs at error level.
	Error bool
}

// String returns "FILE:LINE: message", or the message alone if Verbatim.
func (w Warning) String() string {
	if w.Verbatim {
		return w.Msg
	}
	return w.Pos.String() + ": " + w.Msg
}

// Result is a loaded configuration. Config is ready for broker.New (except
// Logger and Now, which the caller sets); the other fields are the settings
// Mosquitto applies around the broker. Listeners[i] describes
// Config.Listeners[i].
type Result struct {
	// Config is the broker configuration. Its Authenticators and Authorizers
	// (and each listener's Security) are the Slots of a Scope, which Reload
	// fills with the files loaded again.
	Config broker.Config
	// Listeners are the listeners' settings as written, in the order of
	// Config.Listeners.
	Listeners []Listener
	// LocalOnly is set when the file configures no MQTT listener: the broker
	// then listens on the loopback addresses only, port 1883 (or the -p
	// ports), and admits anonymous clients.
	LocalOnly bool

	// HTTPListeners are the listeners with protocol http_api, which serve
	// the dashboard, the JSON API and /metrics (package web). They are not in
	// Config.Listeners. Each has its Scope set: its own with
	// per_listener_settings true, else the global one, whose password file
	// says who may log in. One without a password file must be bound to a
	// loopback address, or Load refuses it.
	HTTPListeners []Listener
	// HTTPAPI holds the settings of the http_api listeners.
	HTTPAPI HTTPAPI

	// Cluster holds the cluster_* options; Cluster.Name is "" without them.
	Cluster Cluster

	// Bridges are the connection blocks, checked, with their client
	// identifiers resolved, in order.
	Bridges []Bridge
	// EnableControlAPI is enable_control_api (Mosquitto 2.1): serve
	// listPlugins and listListeners on $CONTROL/broker/v1.
	EnableControlAPI bool
	// Plugins are the Mosquitto plugins the configuration loads that midge
	// serves itself, by their 2.1 names ("password-file", "acl-file"),
	// once each, in order of appearance.
	Plugins []string

	// PIDFile is the pid_file to write, "" for none.
	PIDFile string
	// User is the user to switch to when started as root (user); "" means
	// Mosquitto's default, "mosquitto" (or "nobody" if it does not exist).
	User string
	// Log holds log_dest, log_type, log_timestamp, log_timestamp_format and
	// log_facility. LogTypesSet says whether log_type appeared (-v and -q
	// override it).
	Log         logging.Options
	LogTypesSet bool
	// Persistence holds the persistence options, for the store.
	Persistence Persistence
	// CheckRetainSource is check_retain_source (default true).
	CheckRetainSource bool
	// PerListenerSettings is per_listener_settings.
	PerListenerSettings bool

	// Scopes are the security scopes: the global one first, then one per
	// listener that has its own (per_listener_settings true). Reload swaps
	// their files.
	Scopes []*Scope

	// Files are the configuration files read, the main one first, for
	// reloading.
	Files []string
	// Warnings are accepted oddities to log at start-up.
	Warnings []Warning
}

// Persistence is the persistence configuration, for the store.
//
// midge writes its store as things happen, so autosave_interval and
// autosave_on_changes are accepted and change nothing. persistence_sync
// (midge's own) says whether an acknowledgement waits for the disk.
type Persistence struct {
	Enabled  bool   // persistence
	Location string // persistence_location, "" for the working directory
	// File is persistence_file, default "midge.db": not Mosquitto's
	// mosquitto.db, which may sit in the same directory in another format
	// (midge broker imports it once; see internal/mosqdb).
	File string
	// Periodic is persistence_sync periodic: commits every SyncInterval
	// instead of before each acknowledgement (persistence_sync always, the
	// default). Faster; a crash loses up to SyncInterval of messages.
	Periodic     bool
	SyncInterval time.Duration // persistence_sync_interval, default 1 second
	// AutosaveInterval is autosave_interval (Mosquitto's default 30
	// minutes); kept for --test-config, unused.
	AutosaveInterval time.Duration
	// AutosaveOnChanges (autosave_on_changes) makes AutosaveChanges the
	// number of changes between saves instead of AutosaveInterval.
	AutosaveOnChanges bool
	AutosaveChanges   int
}

// Path returns the database path: Location joined with File.
func (p Persistence) Path() string {
	if p.Location == "" {
		return p.File
	}
	return filepath.Join(p.Location, p.File)
}

// HTTPAPI holds midge's own options for the http_api listeners.
type HTTPAPI struct {
	// Admins are the users of the password file who may act through the
	// dashboard and API (publish anywhere, delete retained messages,
	// disconnect clients, see clients and test the ACL): http_api_admin
	// NAME..., which may be repeated.
	Admins []string
	// History is how many messages of each topic the dashboard keeps
	// (http_api_history, default 50).
	History int
}

// Listener is a listener as configured.
type Listener struct {
	Pos     Position // the listener line, or the first option that created the default listener
	Default bool     // the default listener (port, bind_address, or options before any listener)
	Port    int
	Host    string // bind address, "" for all
	Socket  string // unix socket path (listener 0 PATH)
	// Interface is bind_interface: the network interface to bind to.
	Interface string
	Domain    string // socket_domain: "", "ipv4" or "ipv6"
	Protocol  string // "mqtt" (the default), "websockets" or "http_api"
	// AllowAnonymous is listener_allow_anonymous, nil if unset.
	AllowAnonymous *bool
	// TLS holds the TLS options; TLSServer is the TLS configuration built
	// from them (nil for a plain listener), reloadable with ReloadTLS.
	TLS       TLS
	TLSServer *tlsconf.Server
	// HTTPDir and WebsocketsOrigins are the websockets options; HTTPDir
	// also serves files on an http_api listener.
	HTTPDir           string
	WebsocketsOrigins []string
	// Scope is the listener's own security scope with
	// per_listener_settings true, else nil.
	Scope *Scope
}

// TLS holds a listener's certificate options as written. midge does not
// serve TLS yet: a listener with any of them is refused at load time.
type TLS struct {
	CAFile, CAPath, CertFile, KeyFile string
	Ciphers, CiphersTLS13             string
	CRLFile, DHParamFile              string
	Version                           string // tls_version
	Keyform, Engine, EngineKpassSHA1  string
	PSKHint                           string
	RequireCertificate                bool
	UseIdentityAsUsername             bool
	UseSubjectAsUsername              bool
	DisableClientCertDateChecks       bool
	Pos                               Position // the first TLS option
}

// Set reports whether any TLS option was given.
func (t *TLS) Set() bool { return t.Pos.File != "" }

// Scope is the security configuration of the broker (per_listener_settings
// false) or of one listener: anonymous access, password and ACL files.
type Scope struct {
	Name           string // "" for the global scope, else the listener's address
	AllowAnonymous bool
	PasswordFile   string   // path, "" for none
	PasswordPos    Position // where it was set
	ACLFile        string
	ACLPos         Position
	CheckSubscribe bool // acl_check_subscribe
	// DynsecFile is dynamic security's JSON file (the plugin
	// mosquitto_dynamic_security.so with plugin_opt_config_file), "" for
	// none; DynsecPasswordInitFile its plugin_opt_password_init_file.
	DynsecFile             string
	DynsecPasswordInitFile string
	DynsecPos              Position

	// Password holds the *auth.PasswordFile in use, ACL the *auth.ACL (an
	// auth.SubscribeChecker with CheckSubscribe); an empty Slot is no file.
	// They are the links of Security's chains; Reload swaps their files.
	Password *broker.Slot
	ACL      *broker.Slot
	// Dynsec is the link of dynamic security: empty after parsing; the
	// broker command opens DynsecFile into it (package dynsec). It comes
	// first in both chains. Reload does not change it (Mosquitto does not
	// reload plugins either).
	Dynsec *broker.Slot
	// Security is the scope as the broker applies it: AllowAnonymous and
	// the chains of Password and ACL.
	Security *broker.Security
}

// Passwords returns the password file in use, nil if none.
func (sc *Scope) Passwords() *auth.PasswordFile {
	pf, _ := sc.Password.Load().(*auth.PasswordFile)
	return pf
}

// Rules returns the ACL file in use, nil if none.
func (sc *Scope) Rules() *auth.ACL {
	switch a := sc.ACL.Load().(type) {
	case *auth.ACL:
		return a
	case auth.SubscribeChecker:
		return a.ACL
	}
	return nil
}

// setFiles puts pf and acl into the scope's slots (nil: none; a nil
// pointer must not be stored, as it would be a link).
func (sc *Scope) setFiles(pf *auth.PasswordFile, acl *auth.ACL) {
	if pf == nil {
		sc.Password.Store(nil)
	} else {
		sc.Password.Store(pf)
	}
	switch {
	case acl == nil:
		sc.ACL.Store(nil)
	case sc.CheckSubscribe:
		sc.ACL.Store(auth.SubscribeChecker{ACL: acl})
	default:
		sc.ACL.Store(acl)
	}
}

// Load reads the configuration file at path and everything it includes.
func Load(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Pos: Position{File: path}, Msg: "Unable to open config file: " + errText(err), Err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &Error{Pos: Position{File: path}, Msg: "Config file is a directory."}
	}
	return parse(f, path, true)
}

// Parse reads a configuration from r; name is used in errors and is the
// main file's name. include_dir lines are followed on the file system.
func Parse(r io.Reader, name string) (*Result, error) { return parse(r, name, false) }

// errText returns err's text without the operation and path that os errors
// repeat.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
