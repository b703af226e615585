package explore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
	"github.com/midge-mqtt/midge/web"
)

// cookiePrefix starts the name of the cookie that carries the per-run token
// once the URL has been opened. Cookies are shared by every port of a host,
// so each run names its own (a random suffix): two explores in one browser
// do not log each other out.
const cookiePrefix = "midge_explore_"

// app is one run of explore: the HTTP front (token check, the explore API)
// and the current connection, which the page may switch.
type app struct {
	o      *options
	st     base.Streams
	log    *slog.Logger
	token  string
	cookie string // the token cookie's name

	mu    sync.Mutex // guards cur and conns
	cur   *current
	conns *connectionsFile

	switchMu sync.Mutex // serializes connection switches
}

// current is the connection the dashboard shows.
type current struct {
	name    string
	args    []string // the connection options, to connect again
	src     *source
	store   *store // nil with --no-history
	web     *web.Server
	handler http.Handler
}

func newApp(o *options, st base.Streams, log *slog.Logger) (*app, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	conns, err := loadConnections(o.connections, func(s string) { fmt.Fprintln(st.Err, s) })
	if err != nil {
		return nil, err
	}
	return &app{o: o, st: st, log: log, token: hex.EncodeToString(b[:18]), cookie: cookiePrefix + hex.EncodeToString(b[18:]), conns: conns}, nil
}

// start makes the first connection: the saved one named by --connection,
// else the command line's (saved with --save).
func (a *app) start(ctx context.Context) error {
	name, args := a.o.save, a.o.connArgs
	if a.o.connection != "" {
		sc, ok := a.conns.find(a.o.connection)
		if !ok {
			return fmt.Errorf("%w %q in %s", errNoConnection, a.o.connection, a.o.connections)
		}
		name, args = sc.Name, append(append([]string(nil), sc.Args...), args...)
	}
	if _, err := clienttool.ParseConnection(args); err != nil {
		return err
	}
	if a.o.save != "" {
		a.mu.Lock()
		a.conns.put(savedConnection{Name: a.o.save, Args: args})
		err := a.conns.save(a.o.connections)
		a.mu.Unlock()
		if err != nil {
			return fmt.Errorf("saving the connection: %w", err)
		}
	}
	cur, err := a.connect(ctx, name, args)
	if err != nil {
		return err
	}
	a.setCurrent(cur)
	return nil
}

// setCurrent makes cur the current connection.
func (a *app) setCurrent(cur *current) {
	a.mu.Lock()
	a.cur = cur
	a.mu.Unlock()
}

// connect opens the history and connects as args say.
func (a *app) connect(ctx context.Context, name string, args []string) (*current, error) {
	conn, err := clienttool.ParseConnection(args)
	if err != nil {
		return nil, err
	}
	var st *store
	if !a.o.noHistory {
		if err := os.MkdirAll(a.o.stateDir, 0o700); err != nil {
			return nil, err
		}
		path := filepath.Join(a.o.stateDir, historyFile(name, conn.Server, conn.Options.Username))
		st, err = openStore(path, historyLimits{count: a.o.history, age: a.o.maxAge, maxPayload: 64 << 10, maxTopics: 100_000}, a.log)
		if err != nil {
			return nil, fmt.Errorf("history %s: %w", path, err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	src, err := dial(dctx, name, conn, st, a.log)
	if err != nil {
		if st != nil {
			st.close()
		}
		return nil, err
	}
	ws, err := web.New(web.Config{Source: src, History: min(a.o.history, 200), Logger: a.log})
	if err == nil {
		var h http.Handler
		if h, err = ws.Handler(web.HandlerConfig{Local: true, LoopbackTCP: true}); err == nil {
			return &current{name: name, args: args, src: src, store: st, web: ws, handler: h}, nil
		}
		ws.Close()
	}
	src.close()
	if st != nil {
		st.close()
	}
	return nil, err
}

func (c *current) close() {
	c.web.Close()
	c.src.close()
	if c.store != nil {
		c.store.close()
	}
}

// close ends the current connection.
func (a *app) close() {
	a.mu.Lock()
	cur := a.cur
	a.cur = nil
	a.mu.Unlock()
	if cur != nil {
		cur.close()
	}
}

// describe says what explore is connected to.
func (a *app) describe() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == nil {
		return "not connected"
	}
	s := "connected to " + a.cur.src.conn.Server
	if a.cur.name != "" {
		s += " (" + a.cur.name + ")"
	}
	return s
}

// switchTo replaces the current connection by the saved one named name.
func (a *app) switchTo(ctx context.Context, name string) error {
	a.switchMu.Lock()
	defer a.switchMu.Unlock()
	a.mu.Lock()
	sc, ok := a.conns.find(name)
	old := a.cur
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w %q", errNoConnection, name)
	}
	if old != nil && old.name == name {
		return nil
	}
	// The history file of the old connection is closed first: both may be
	// the same file (bbolt allows one user).
	if old != nil {
		a.mu.Lock()
		a.cur = nil
		a.mu.Unlock()
		old.close()
	}
	cur, err := a.connect(ctx, sc.Name, sc.Args)
	if err != nil && old != nil {
		// Back to the connection the page had, so that it keeps working.
		if back, berr := a.connect(ctx, old.name, old.args); berr == nil {
			a.setCurrent(back)
		} else {
			a.log.Error("explore: reconnecting to " + old.src.conn.Server + ": " + berr.Error())
		}
	}
	if err != nil {
		return err
	}
	a.setCurrent(cur)
	return nil
}

// ServeHTTP checks the per-run token, serves the explore API and hands the
// rest to the current connection's dashboard.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := r.URL.Query().Get("token"); t != "" {
		if !a.validToken(t) {
			http.Error(w, "wrong token: open the URL midge explore printed", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.SetCookie(w, &http.Cookie{Name: a.cookie, Value: a.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q := r.URL.Query()
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return
	}
	c, err := r.Cookie(a.cookie)
	if err != nil || !a.validToken(c.Value) {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "midge explore: open the URL with the token that midge explore printed", http.StatusUnauthorized)
		return
	}
	if a.serveAPI(w, r) {
		return
	}
	a.mu.Lock()
	cur := a.cur
	a.mu.Unlock()
	if cur == nil {
		http.Error(w, "switching connections: reload in a moment", http.StatusServiceUnavailable)
		return
	}
	cur.handler.ServeHTTP(w, r)
}

func (a *app) validToken(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(a.token)) == 1
}
