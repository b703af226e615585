package config

import (
	"fmt"
	"slices"
)

// Reload applies next, a configuration just loaded again (SIGHUP), to cur,
// the one the broker runs with: the password and ACL files of each scope of
// next replace those of the scope of cur with the same Name, atomically, so
// connected clients stay connected and new checks use the new files. Log
// settings are copied into cur for the caller to apply.
//
// cur.Config takes next's options, for the caller to hand to
// broker.Server.Reload, except the listeners and the security settings.
//
// It returns notes on the changes that need a restart because the broker
// cannot apply them while running (listeners, as in Mosquitto, and the
// options listed in docs/mosquitto-compat.md).
func Reload(cur, next *Result) []string {
	var notes []string
	dynsecNoted := false
	byName := make(map[string]*Scope, len(next.Scopes))
	for _, sc := range next.Scopes {
		byName[sc.Name] = sc
	}
	for _, sc := range cur.Scopes {
		n := byName[sc.Name]
		if n == nil {
			notes = append(notes, fmt.Sprintf("listener %s is gone from the configuration; it keeps running until a restart", sc.Name))
			continue
		}
		delete(byName, sc.Name)
		sc.PasswordFile, sc.PasswordPos = n.PasswordFile, n.PasswordPos
		sc.ACLFile, sc.ACLPos = n.ACLFile, n.ACLPos
		sc.CheckSubscribe = n.CheckSubscribe
		sc.setFiles(n.Passwords(), n.Rules())
		if !dynsecNoted && (sc.DynsecFile != n.DynsecFile || sc.DynsecPasswordInitFile != n.DynsecPasswordInitFile) {
			// The plugin is initialised once, as Mosquitto's: its options,
			// and the file itself, are not reread on reload.
			dynsecNoted = true
			notes = append(notes, dynsecNote(sc, n))
		}
		if sc.AllowAnonymous != n.AllowAnonymous {
			notes = append(notes, fmt.Sprintf("allow_anonymous changed%s: restart midge to apply it", scopeName(sc)))
		}
	}
	for name := range byName {
		notes = append(notes, fmt.Sprintf("new listener %s: restart midge to open it (Mosquitto cannot add listeners on reload either)", name))
	}
	if len(cur.Listeners) != len(next.Listeners) {
		notes = append(notes, "the listeners changed: restart midge to apply it (Mosquitto cannot add or remove listeners on reload either)")
	} else {
		for i := range cur.Listeners {
			a, b := cur.Listeners[i], next.Listeners[i]
			if listenerKey(a) != listenerKey(b) || !sameListener(cur, next, i) {
				notes = append(notes, fmt.Sprintf("listener %s changed: restart midge to apply it", listenerKey(b)))
			}
		}
	}
	if !slices.EqualFunc(cur.HTTPListeners, next.HTTPListeners, sameHTTPListener) {
		notes = append(notes, "the http_api listeners changed: restart midge to apply it")
	}
	changed := func(name string, differ bool) {
		if differ {
			notes = append(notes, name+" changed: restart midge to apply it")
		}
	}
	// The broker's other options take effect at once (broker.Server.Reload):
	// cur.Config takes next's, but for what belongs to the running
	// listeners and scopes.
	kept := cur.Config
	cur.Config = next.Config
	cur.Config.Listeners = kept.Listeners
	cur.Config.AllowAnonymous, cur.Config.Authenticators, cur.Config.Authorizers = kept.AllowAnonymous, kept.Authenticators, kept.Authorizers
	cur.Config.Store, cur.Config.PersistenceInterval = kept.Store, kept.PersistenceInterval
	cur.Config.Logger, cur.Config.Now = kept.Logger, kept.Now
	changed("per_listener_settings", cur.PerListenerSettings != next.PerListenerSettings)
	changed("persistence options", cur.Persistence != next.Persistence)
	cur.CheckRetainSource = next.CheckRetainSource
	if next.PIDFile != cur.PIDFile || next.User != cur.User {
		notes = append(notes, "pid_file and user are not reloaded (as in Mosquitto)")
	}
	changed("http_api_history", cur.HTTPAPI.History != next.HTTPAPI.History)
	cur.HTTPAPI.Admins = slices.Clone(next.HTTPAPI.Admins)
	cur.Log, cur.LogTypesSet = next.Log, next.LogTypesSet
	cur.Files = slices.Clone(next.Files)
	cur.Warnings = next.Warnings
	return notes
}

// sameListener reports whether listener i differs between cur and next only
// by its Security pointers, which are rebuilt on every load.
func sameListener(cur, next *Result, i int) bool {
	a, b := cur.Config.Listeners[i], next.Config.Listeners[i]
	ta, tb := cur.Listeners[i].TLS, next.Listeners[i].TLS
	ta.Pos, tb.Pos = Position{}, Position{}
	// The TLS files' contents reload by themselves (ReloadTLS); their
	// names and the other options need a restart.
	return (a.Security == nil) == (b.Security == nil) && a.Name == b.Name && a.Network == b.Network &&
		a.Address == b.Address && a.MaxConnections == b.MaxConnections && a.MountPoint == b.MountPoint &&
		a.UseUsernameAsClientID == b.UseUsernameAsClientID && a.UseIdentityAsUsername == b.UseIdentityAsUsername &&
		a.UseSubjectAsUsername == b.UseSubjectAsUsername && a.WebSocket == b.WebSocket && a.HTTPDir == b.HTTPDir &&
		slices.Equal(a.WebSocketOrigins, b.WebSocketOrigins) && a.WebSocketHeadersSize == b.WebSocketHeadersSize &&
		(a.TLS == nil) == (b.TLS == nil) && ta == tb && a.MaxQoS == b.MaxQoS && a.MaxTopicAlias == b.MaxTopicAlias &&
		a.MaxTopicAliasOut == b.MaxTopicAliasOut &&
		a.AutoIDPrefix == b.AutoIDPrefix && equalPtr(a.AllowZeroLengthClientID, b.AllowZeroLengthClientID) &&
		slices.Equal(a.ProtocolVersions, b.ProtocolVersions)
}

// equalPtr reports whether a and b are both nil or point to equal values.
func equalPtr[T comparable](a, b *T) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// sameHTTPListener reports whether two http_api listeners are the same but
// for their Scope and TLSServer pointers, which are rebuilt on every load.
func sameHTTPListener(a, b Listener) bool {
	a.TLS.Pos, b.TLS.Pos = Position{}, Position{}
	return listenerKey(a) == listenerKey(b) && a.Interface == b.Interface && a.Domain == b.Domain &&
		a.HTTPDir == b.HTTPDir && a.TLS == b.TLS
}

// ReloadTLS reads the certificates, keys and revocation lists of cur's TLS
// listeners again (SIGHUP); connections keep the ones they started with. It
// returns one error per listener whose files are broken, which keeps its
// old ones.
func ReloadTLS(cur *Result) []error {
	var errs []error
	for _, ls := range [][]Listener{cur.Listeners, cur.HTTPListeners} {
		for i := range ls {
			if s := ls[i].TLSServer; s != nil {
				if err := s.Reload(); err != nil {
					errs = append(errs, fmt.Errorf("%s: listener %s: %w", ls[i].TLS.Pos, listenerKey(ls[i]), err))
				}
			}
		}
	}
	return errs
}

// dynsecNote says how the dynamic security plugin's options changed from
// cur to next, and that they need a restart.
func dynsecNote(cur, next *Scope) string {
	var what string
	switch {
	case cur.DynsecFile == "":
		what = "a dynamic security plugin was added (" + next.DynsecPos.String() + ")"
	case next.DynsecFile == "":
		what = "the dynamic security plugin was removed"
	case cur.DynsecFile != next.DynsecFile:
		what = fmt.Sprintf("plugin_opt_config_file changed from %s to %s", cur.DynsecFile, next.DynsecFile)
	default:
		what = "plugin_opt_password_init_file changed"
	}
	if cur.DynsecFile == "" {
		return what + ": restart midge to apply it (plugins are loaded at start-up only, as in Mosquitto)"
	}
	return what + ": restart midge to apply it (plugins are loaded at start-up only, as in Mosquitto); dynamic security keeps using " + cur.DynsecFile
}

func scopeName(sc *Scope) string {
	if sc.Name == "" {
		return ""
	}
	return " for listener " + sc.Name
}
