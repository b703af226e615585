// Package web is midge's dashboard and HTTP API: what an http_api listener
// (mosquitto.conf "listener 8080" and "protocol http_api") serves.
//
// A Server watches everything the broker routes (broker.Server.Observe)
// through a bounded queue that drops, and counts, what it has no room for,
// so that the dashboard never slows delivery down. One goroutine aggregates
// the messages into a table of topics, each with its message count and its
// last messages (Config.History, http_api_history), within fixed bounds on
// topics and memory, samples the broker's statistics for graphs, and sends
// the topics changed since the last time to every open page every
// BatchInterval (Server-Sent Events).
//
// What a Server shows and acts on is a Source: the broker it runs in
// (Config.Broker), or, for midge explore, an MQTT client of another broker
// (Config.Source), which may seed the topics with its stored history
// (HistorySource) and describe itself to the pages (Describer, the "source"
// of GET /api/v1/me). The pages and the API are the same for both.
//
// Server.Handler serves one listener:
//
//	/                   the dashboard (embedded: go build makes it)
//	/api/v1/...         the JSON API the dashboard uses (docs/web.md)
//	/metrics            Prometheus text format
//	/healthz            "ok"
//	other paths         the files of http_dir, if set
//
// # Security
//
// With a password file, every API call needs a login: POST /api/v1/login
// sets a session cookie (HttpOnly, SameSite=Strict, Secure with TLS), and
// every call that changes something must carry the session's CSRF token in
// the X-CSRF-Token header and come from the dashboard's own origin. The
// users named in HandlerConfig.Admins (http_api_admin) may act on the
// broker; other users see, and publish to, what the ACL lets them read and
// write. A listener without a password file has no logins and gives
// everybody every right, so Handler refuses it unless it is reachable from
// the local machine only, and then answers only to requests for a loopback
// host name (against DNS rebinding). Passwords and tokens are never logged.
package web
