package dynsec

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// Topic is the control endpoint dynamic security answers on; responses go
// to Topic + "/response".
const Topic = "$CONTROL/dynamic-security/v1"

// Broker is what dynamic security needs of the running broker: the
// connections of a client (getClient's "connections") and kicking the
// clients a change concerns. *broker.Server implements it.
type Broker interface {
	Sessions() []broker.SessionInfo
	DisconnectClients(match func(c *broker.Client) bool) int
}

// Options configure a Security.
type Options struct {
	// ConfigFile is the JSON file (plugin_opt_config_file). If it does not
	// exist, Open writes a default one as Mosquitto 2.1 does (see
	// WriteDefault).
	ConfigFile string
	// PasswordInitFile holds the admin password for a default file
	// (plugin_opt_password_init_file): its first line.
	PasswordInitFile string
	// PasswordEnv is the value of MOSQUITTO_DYNSEC_PASSWORD, the admin
	// password for a default file when there is no PasswordInitFile.
	PasswordEnv string
	// Logger receives the log of changes ("dynsec: ..."); nil: none.
	Logger *slog.Logger
	// Replicate, if set, makes every change go through it instead of
	// being applied here: a request that may change something is prepared
	// (its passwords hashed) and handed to Replicate, which must have
	// Security.Apply run on every replica of the state (this one
	// included) in one order and return this replica's answer, or fail
	// without applying it. A failure answers every command of the request
	// with the error. Requests that only read (get and list commands) are
	// answered here. See replicate.go.
	Replicate func(ctx context.Context, cmd []byte) ([]byte, error)
}

// Security is dynamic security: a link of the broker's authentication and
// authorization chains and the handler of $CONTROL/dynamic-security/v1. It
// is safe for concurrent use.
type Security struct {
	path      string
	log       *slog.Logger
	replicate func(ctx context.Context, cmd []byte) ([]byte, error) // Options.Replicate; read-only

	saveMu  sync.Mutex // serializes commands, saves included: one batch at a time
	saveErr error      // guarded by saveMu: the last save's error

	mu sync.RWMutex // guards st and brk; held for reading by every check
	st *state
	// brk is the broker, for kicks, connections and responses; nil until
	// Attach (and offline).
	brk Broker
}

// Open loads the configuration file of o, or creates the default one if it
// does not exist.
func Open(o Options) (*Security, error) {
	if o.ConfigFile == "" {
		return nil, fmt.Errorf("dynsec: no plugin_opt_config_file")
	}
	removeStale(o.ConfigFile)
	st, err := loadOrCreate(o)
	if err != nil {
		return nil, err
	}
	s := &Security{path: o.ConfigFile, log: o.Logger, st: st, replicate: o.Replicate}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s, nil
}

// Attach connects s to the broker: it registers the control endpoint and
// lets s kick clients and publish responses. It returns a function that
// detaches s.
func (s *Security) Attach(srv interface {
	Broker
	HandleControl(topic string, h broker.ControlHandler) error
}) (func(), error) {
	if err := srv.HandleControl(Topic, s.HandleControl); err != nil {
		return nil, fmt.Errorf("dynsec: %w", err)
	}
	s.mu.Lock()
	s.brk = srv
	s.mu.Unlock()
	return func() {
		srv.HandleControl(Topic, nil)
		s.mu.Lock()
		s.brk = nil
		s.mu.Unlock()
	}, nil
}

// Requester is who sends a batch of commands, for the log and the audit:
// the MQTT client, or a dashboard user.
type Requester struct {
	ClientID string
	Username string
}

// HandleControl answers a request published on Topic (it is a
// broker.ControlHandler): it runs the commands, saves the file if they
// changed anything, kicks the other clients whose rights changed, and
// returns the response, which the broker publishes on Topic/response. A
// requester whose own rights changed is kicked a moment later, as
// Mosquitto 2.1 kicks on its next tick, so that it first gets its
// acknowledgement and response; its rights are checked on every message
// meanwhile.
func (s *Security) HandleControl(ctx context.Context, c *broker.Client, payload []byte) []byte {
	who := Requester{ClientID: c.ID, Username: c.Username}
	if s.replicated(payload) {
		return s.propose(ctx, who, payload) // replicate.go: Apply kicks
	}
	resp, kick := s.execute(who, payload, false)
	s.mu.RLock()
	brk := s.brk
	s.mu.RUnlock()
	if brk == nil {
		return resp
	}
	if kick.concerns(c) {
		id := c.ID
		time.AfterFunc(kickDelay, func() {
			brk.DisconnectClients(func(c *broker.Client) bool { return c.ID == id && kick.concerns(c) })
		})
	}
	s.kick(brk, kick, c.ID)
	return resp
}

// kickDelay is how long after a request the clients it concerns are
// disconnected.
const kickDelay = 100 * time.Millisecond

// Execute runs a request (the JSON a client publishes on Topic) on behalf
// of who, saves the file if it changed, kicks the clients concerned, and
// returns the response JSON. The dashboard uses it after its own
// authorization check.
func (s *Security) Execute(who Requester, payload []byte) []byte {
	if s.replicated(payload) {
		return s.propose(context.Background(), who, payload) // replicate.go: Apply kicks
	}
	resp, kick := s.execute(who, payload, false)
	s.mu.RLock()
	brk := s.brk
	s.mu.RUnlock()
	if brk != nil {
		s.kick(brk, kick, "")
	}
	return resp
}

// kick disconnects the clients a change concerns, except the client
// except (if not "").
func (s *Security) kick(brk Broker, a affected, except string) {
	if len(a.users) == 0 && !a.anonymous {
		return
	}
	brk.DisconnectClients(func(c *broker.Client) bool { return (except == "" || c.ID != except) && a.concerns(c) })
}

// ApplyFile runs a request on the configuration file path without a
// broker (mosquitto_ctrl -f): it loads the file, runs the commands, saves
// the file if they changed it, and returns the response JSON.
func ApplyFile(path string, payload []byte) ([]byte, error) {
	st, err := load(path)
	if err != nil {
		return nil, err
	}
	s := &Security{path: path, st: st, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, _ := s.execute(Requester{}, payload, false)
	if s.saveErr != nil {
		return resp, s.saveErr
	}
	return resp, nil
}
