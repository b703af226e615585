package ctrl

// The broker module (Mosquitto 2.1's apps/mosquitto_ctrl/broker.c):
// listPlugins and listListeners on $CONTROL/broker/v1, which a broker
// serves with enable_control_api true.

import (
	"fmt"
	"io"
	"strings"
)

// brokerUsage is "mosquitto_ctrl broker help", Mosquitto 2.1's text.
const brokerUsage = `
Broker Control module
=======================
List plugins    :          listPlugins
List listeners  :          listListeners
`

// brokerCommand builds the request for "broker <args>".
func brokerCommand(args []string, st streams) (*request, int) {
	name := args[0]
	var command string
	switch {
	case strings.EqualFold(name, "help"):
		io.WriteString(st.Out, brokerUsage)
		return nil, rcDone
	case strings.EqualFold(name, "listPlugins"):
		command = "listPlugins"
	case strings.EqualFold(name, "listListeners"):
		command = "listListeners"
	default:
		fmt.Fprintf(st.Err, "Command '%s' not recognised.\n", name)
		return nil, rcUnknown
	}
	tree := (&object{}).add("commands", []any{(&object{}).add("command", command)})
	return &request{topic: brokerTopic, payload: compact(tree), print: printBroker}, rcSend
}

// printBroker prints a broker module response.
func printBroker(r any, st streams) {
	command, ok := responseCommand(r, st, "%s: Error: %s.\n")
	if !ok {
		return
	}
	switch {
	case strings.EqualFold(command, "listPlugins"):
		printPlugins(r, st)
	case strings.EqualFold(command, "listListeners"):
		printListeners(r, st)
	}
}

// printListeners prints each listener: port, protocol, socket path, bind
// address (those it has) and whether it uses TLS, then a blank line.
func printListeners(r any, st streams) {
	listeners, ok := dataArray(r, "listeners", st)
	if !ok {
		return
	}
	w := st.Out
	for i, l := range listeners {
		fmt.Fprintf(w, "Listener %d:\n", i+1)
		if p, ok := number(item(l, "port")); ok {
			fmt.Fprintf(w, "  Port:              %d\n", int(p))
		}
		for _, f := range [][2]string{{"protocol", "Protocol:"}, {"socket-path", "Socket path:"}, {"bind-address", "Bind address:"}} {
			if s, ok := getString(l, f[0]); ok {
				fmt.Fprintf(w, "  %-19s%s\n", f[1], s)
			}
		}
		tls, _ := item(l, "tls").(bool)
		fmt.Fprintf(w, "  TLS:               %t\n\n", tls)
	}
}

// printPlugins prints each plugin's name, version and control endpoints.
func printPlugins(r any, st streams) {
	plugins, ok := dataArray(r, "plugins", st)
	if !ok {
		return
	}
	w := st.Out
	for _, p := range plugins {
		name, ok := getString(p, "name")
		if !ok {
			io.WriteString(st.Err, invalidResponse)
			return
		}
		fmt.Fprintf(w, "Plugin:            %s\n", name)
		if v, ok := getString(p, "version"); ok {
			fmt.Fprintf(w, "Version:           %s\n", v)
		}
		eps, _ := item(p, "control-endpoints").([]any)
		head := heading("Control endpoints: ")
		for _, ep := range eps {
			if s, ok := ep.(string); ok {
				fmt.Fprintf(w, "%s%s\n", head(), s)
			}
		}
	}
}
