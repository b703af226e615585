package config

import (
	"strings"
)

// This file is the configuration of dynamic security: the plugin
// mosquitto_dynamic_security.so (in any directory), loaded with plugin,
// global_plugin or plugin_load/plugin_use, which midge has built in
// (package dynsec). Its options are plugin_opt_config_file and
// plugin_opt_password_init_file, matched without regard to case as the
// plugin matches them.

// noteDynsec remembers a dynamic security plugin line.
func (p *parser) noteDynsec(pl *plugin) {
	if pl.kind == "dynamic_security" {
		p.dynsecs = append(p.dynsecs, pl)
	}
}

// dynsecOpt handles a plugin_opt_* line of the dynamic security plugin.
func (p *parser) dynsecOpt(pl *plugin, pos Position, name, key, rest string) {
	v, ok := p.str(pos, name, rest)
	if !ok {
		return
	}
	switch strings.ToLower(key) {
	case "config_file":
		pl.file, pl.filePos = v, pos
	case "password_init_file":
		pl.init = v
	default:
		p.warnf(pos, "%s: the dynamic security plugin has no such option (it takes plugin_opt_config_file and plugin_opt_password_init_file); ignored", name)
		return
	}
	if pl.scope != nil {
		setDynsec(pl, pl.scope)
	}
	for _, s := range pl.users {
		setDynsec(pl, s)
	}
}

// setDynsec gives scope s the plugin's files.
func setDynsec(pl *plugin, s *scopeState) {
	s.dynsecFile, s.dynsecInit, s.dynsecPos = pl.file, pl.init, pl.filePos
	if s.dynsecPos.File == "" {
		s.dynsecPos = pl.pos
	}
}

// checkDynsec warns of a dynamic security plugin without a file, as
// Mosquitto does, and refuses two different files: Mosquitto loads the
// plugin once.
func (p *parser) checkDynsec() {
	first := ""
	var firstPos Position
	for _, pl := range p.dynsecs {
		switch {
		case pl.file == "":
			p.warnf(pl.pos, "Dynamic security plugin has no plugin_opt_config_file defined. The plugin will not be activated.")
		case first == "":
			first, firstPos = pl.file, pl.filePos
		case pl.file != first:
			p.errorf(pl.filePos, "Dynamic security plugin can currently only be loaded once (with %s, at %s).", first, firstPos)
		}
	}
}
