package config

import (
	"path/filepath"
	"strings"
)

// pluginKind returns "password_file" or "acl_file" for Mosquitto 2.1's
// password-file and acl-file plugins, and "dynamic_security" for the
// dynamic security plugin (built in: package dynsec), by file name in any
// directory.
func pluginKind(path string) string {
	base := filepath.Base(strings.ReplaceAll(path, `\`, "/"))
	base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".so"), ".dll"), ".dylib")
	base = strings.TrimPrefix(base, "lib")
	switch base {
	case "mosquitto_password_file":
		return "password_file"
	case "mosquitto_acl_file":
		return "acl_file"
	case "mosquitto_dynamic_security":
		return "dynamic_security"
	}
	return ""
}

// pluginLine handles plugin, auth_plugin and global_plugin.
func (p *parser) pluginLine(pos Position, name, rest string) {
	path, ok := p.str(pos, name, rest)
	if !ok {
		return
	}
	pl := &plugin{kind: pluginKind(path), pos: pos}
	p.curPlugin = pl
	p.noteDynsec(pl)
	if pl.kind == "" {
		p.refusePlugin(pos, name, path)
		return
	}
	p.servePlugin(pl.kind)
	if name == "global_plugin" {
		pl.scope = p.global
		if p.global.pos.File == "" {
			p.global.pos = pos
		}
		return
	}
	s, ok := p.scope(pos, name)
	if !ok {
		pl.kind = "" // reported; skip its options
		return
	}
	pl.scope = s
}

// servePlugin records, once, the Mosquitto 2.1 name of a plugin midge
// serves itself ("password-file", "acl-file", "dynamic-security"), for
// listPlugins.
func (p *parser) servePlugin(kind string) {
	name := strings.ReplaceAll(kind, "_", "-")
	for _, n := range p.res.Plugins {
		if n == name {
			return
		}
	}
	p.res.Plugins = append(p.res.Plugins, name)
}

func (p *parser) refusePlugin(pos Position, name, path string) {
	why := "midge cannot load C plugins; it has the acl-file, password-file and dynamic security plugins built in (mosquitto_acl_file.so, mosquitto_password_file.so, mosquitto_dynamic_security.so)"
	p.refuse(pos, name+" "+path, why)
}

// pluginLoad handles "plugin_load NAME PATH" (Mosquitto 2.1).
func (p *parser) pluginLoad(pos Position, name, rest string) {
	f := strings.FieldsFunc(rest, blank)
	if len(f) < 2 {
		p.errorf(pos, "plugin_load needs a name and a path")
		return
	}
	if prev, dup := p.plugins[f[0]]; dup {
		p.errorf(pos, "duplicate plugin name %q (first at %s)", f[0], prev.pos)
		return
	}
	path := strings.TrimFunc(strings.TrimPrefix(strings.TrimLeftFunc(rest, blank), f[0]), blank)
	pl := &plugin{kind: pluginKind(path), name: f[0], pos: pos}
	p.plugins[f[0]] = pl
	p.curPlugin = pl
	p.noteDynsec(pl)
	if pl.kind == "" {
		p.refusePlugin(pos, name, path)
	} else {
		p.servePlugin(pl.kind)
	}
}

// pluginUse handles "plugin_use NAME" in a listener (Mosquitto 2.1): the
// named plugin's file applies to this listener.
func (p *parser) pluginUse(pos Position, name, rest string) {
	l, ok := p.listener(pos, name, true)
	if !ok {
		return
	}
	n, ok := p.str(pos, name, rest)
	if !ok {
		return
	}
	pl, found := p.plugins[n]
	if !found {
		p.errorf(pos, "plugin %q not previously loaded with plugin_load", n)
		return
	}
	pl.used = true
	p.curPlugin = pl
	if pl.kind == "" {
		return
	}
	if l.sec == nil {
		l.sec = &scopeState{pos: pos}
	}
	if pl.scope == nil {
		pl.scope = l.sec
	}
	if pl.file != "" {
		p.setPluginFile(pl, l.sec, pl.file, pl.filePos)
	} else {
		// Options given later apply to every listener using it.
		pl.users = append(pl.users, l.sec)
	}
}

// pluginOpt handles plugin_opt_* and auth_opt_* lines.
func (p *parser) pluginOpt(pos Position, name, rest string) {
	pl := p.curPlugin
	if pl == nil {
		p.errorf(pos, "%s must follow a plugin line", name)
		return
	}
	if pl.kind == "" {
		return // the plugin was refused already
	}
	key := strings.TrimPrefix(strings.TrimPrefix(name, "plugin_opt_"), "auth_opt_")
	if pl.kind == "dynamic_security" {
		p.dynsecOpt(pl, pos, name, key, rest)
		return
	}
	if key != pl.kind {
		p.errorf(pos, "unknown option %s for the %s plugin (it takes plugin_opt_%s)", name, strings.ReplaceAll(pl.kind, "_", "-"), pl.kind)
		return
	}
	v, ok := p.str(pos, name, rest)
	if !ok {
		return
	}
	pl.file, pl.filePos = v, pos
	if pl.scope != nil {
		p.setPluginFile(pl, pl.scope, v, pos)
	}
	for _, s := range pl.users {
		p.setPluginFile(pl, s, v, pos)
	}
}

func (p *parser) setPluginFile(pl *plugin, s *scopeState, file string, pos Position) {
	switch pl.kind {
	case "password_file":
		p.replaced(pos, "password_file "+p.scopeKey(s), "password file")
		s.passwordFile, s.passwordPos = file, pos
	case "acl_file":
		p.replaced(pos, "acl_file "+p.scopeKey(s), "ACL file")
		s.aclFile, s.aclPos = file, pos
	case "dynamic_security":
		setDynsec(pl, s)
	}
}
