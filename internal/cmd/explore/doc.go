// Package explore is the explore command: midge's dashboard as an MQTT
// client of any broker (Mosquitto, EMQX, a cloud broker, another midge), in
// place of MQTT Explorer.
//
// midge explore takes the connection options of midge sub, connects,
// subscribes to "#" and "$SYS/#" (or the -t filters), and serves the web
// package's dashboard on a loopback port with a Source that is that client:
// the same pages and API as the broker's own dashboard, showing what the
// client receives (its QoS, retain flags and MQTT 5 properties), and
// publishing through it.
//
// Saved connections live in a JSON file only the user can read
// (~/.config/midge/explore.json), each an argument list of midge sub; the
// page lists them and switches between them. The messages received are kept
// in a bbolt file per connection (~/.local/state/midge/explore), bounded by
// count per topic and by age, so that the history survives a restart; a
// topic's history can be exported as CSV or JSON.
//
// The dashboard listens on 127.0.0.1 only, and every request must carry
// the per-run secret token of the URL explore prints (and opens in the
// browser): the first request with ?token= sets it as a cookie of its own name
// (HttpOnly, SameSite=Strict), so other local users, who cannot read the
// URL, cannot drive the client.
package explore
