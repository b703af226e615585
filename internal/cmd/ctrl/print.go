package ctrl

// Printing the response to a command, as mosquitto_ctrl's payload
// callbacks print it.

import (
	"fmt"
	"io"
	"strings"

	"github.com/midge-mqtt/midge/internal/cjson"
	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// streams are the command's standard streams.
type streams = base.Streams

const invalidResponse = "Error: Invalid response from server.\n"

// firstResponse returns the first response of the payload, printing
// mosquitto_ctrl's message if there is none.
func firstResponse(payload []byte, st streams) (any, bool) {
	tree, err := cjson.Parse(payload, cjson.AllowTrailing)
	if err != nil {
		fmt.Fprintf(st.Err, "Error: Payload not JSON.\n")
		return nil, false
	}
	responses, ok := item(tree, "responses").([]any)
	if !ok || len(responses) == 0 {
		fmt.Fprintf(st.Err, "Error: Payload missing data.\n")
		return nil, false
	}
	return responses[0], true
}

// printDynsec prints a dynsec response: its error, or what a get or list
// command returned. Other commands print nothing when they succeed.
func printDynsec(r any, st streams) {
	// Mosquitto 2.0.11's form of an error; 2.1 ends the line with a full
	// stop.
	printResponse(r, st, "%s: Error: %s\n", []printer{
		{"listClients", listPrinter("clients", "username")},
		{"listGroups", listPrinter("groups", "groupname")},
		{"listRoles", listPrinter("roles", "rolename")},
		{"getClient", printClient},
		{"getGroup", printGroup},
		{"getRole", printRole},
		{"getDefaultACLAccess", printDefaultACLAccess},
		{"getAnonymousGroup", printAnonymousGroup},
	})
}

// printer is how the successful response to a command is printed.
type printer struct {
	command string // matched without regard to case
	print   func(r any, st streams)
}

// printResponse prints the error in response r (with errorFormat, given
// the command and the error) or passes r to the printer of its command, if
// any.
func printResponse(r any, st streams, errorFormat string, printers []printer) {
	command, ok := responseCommand(r, st, errorFormat)
	if !ok {
		return
	}
	for _, p := range printers {
		if strings.EqualFold(command, p.command) {
			p.print(r, st)
			return
		}
	}
}

// listPrinter returns the printer of a list command's response: printList
// of its array with key.
func listPrinter(array, key string) func(r any, st streams) {
	return func(r any, st streams) { printList(r, array, key, st) }
}

// heading returns a function that returns label the first time and as many
// spaces after: the heading of a list's first line and the indent of the
// others.
func heading(label string) func() string {
	first := true
	return func() string {
		if first {
			first = false
			return label
		}
		return strings.Repeat(" ", len(label))
	}
}

// responseCommand returns the command a response answers. It prints what
// is wrong instead, and returns false, if the response names no command or
// carries an error, which errorFormat prints (given the command and the
// error).
func responseCommand(r any, st streams, errorFormat string) (string, bool) {
	command, ok := getString(r, "command")
	if !ok {
		fmt.Fprintf(st.Err, "Error: Payload missing data.\n")
		return "", false
	}
	if e, ok := getString(r, "error"); ok {
		fmt.Fprintf(st.Err, errorFormat, command, e)
		return "", false
	}
	return command, true
}

// namedObject returns the response's "data".key object and its string
// member name, or prints that the response is invalid.
func namedObject(r any, key, name string, st streams) (any, string, bool) {
	v, ok := dataObject(r, key, st)
	if !ok {
		return nil, "", false
	}
	s, ok := getString(v, name)
	if !ok {
		io.WriteString(st.Err, invalidResponse)
		return nil, "", false
	}
	return v, s, true
}

// dataObject returns the response's "data".key object, or prints that the
// response is invalid.
func dataObject(r any, key string, st streams) (any, bool) {
	data := item(r, "data")
	if !isObject(data) {
		io.WriteString(st.Err, invalidResponse)
		return nil, false
	}
	v := item(data, key)
	if !isObject(v) {
		io.WriteString(st.Err, invalidResponse)
		return nil, false
	}
	return v, true
}

// dataArray returns the response's "data".key array, or prints that the
// response is invalid.
func dataArray(r any, key string, st streams) ([]any, bool) {
	data := item(r, "data")
	if !isObject(data) {
		io.WriteString(st.Err, invalidResponse)
		return nil, false
	}
	a, ok := item(data, key).([]any)
	if !ok {
		io.WriteString(st.Err, invalidResponse)
	}
	return a, ok
}

// printList prints one name a line: plain strings, or the key member of
// objects (verbose lists).
func printList(r any, array, key string, st streams) {
	data := item(r, "data")
	if data == nil {
		io.WriteString(st.Err, invalidResponse)
		return
	}
	list, ok := item(data, array).([]any)
	if !ok {
		io.WriteString(st.Err, invalidResponse)
		return
	}
	for _, e := range list {
		if isObject(e) {
			if s, ok := getString(e, key); ok {
				fmt.Fprintf(st.Out, "%s\n", s)
			}
		} else if s, ok := e.(string); ok {
			fmt.Fprintf(st.Out, "%s\n", s)
		}
	}
}

// printArray prints the elements of list under label, padded to width:
// the name member of each object, with the optional member in
// parentheses (null if absent), or strings as they are. A missing list
// prints the label alone.
func printArray(w io.Writer, list any, width int, label, name, optional, null string) {
	elems, ok := list.([]any)
	if !ok {
		fmt.Fprintf(w, "%s\n", label)
		return
	}
	for _, e := range elems {
		if isObject(e) {
			s, ok := getString(e, name)
			if !ok {
				continue
			}
			fmt.Fprintf(w, "%-*s %s", width, label, s)
			if optional != "" {
				if v := item(e, optional); v != nil {
					fmt.Fprintf(w, " (%s: %s)", optional, valueText(v))
				} else {
					fmt.Fprintf(w, " (%s: %s)", optional, null)
				}
			}
		} else if s, ok := e.(string); ok {
			fmt.Fprintf(w, "%-*s %s", width, label, s)
		}
		label = ""
		fmt.Fprintf(w, "\n")
	}
}

// printClient prints getClient's answer. A 2.1 server lists the client's
// connections, and mosquitto_ctrl 2.1 pads the labels to "Connections:";
// a 2.0 server does not, and 2.0's tool pads them to "Username:".
func printClient(r any, st streams) {
	c, username, ok := namedObject(r, "client", "username", st)
	if !ok {
		return
	}
	connections := item(c, "connections")
	width := len("Username:")
	if connections != nil {
		width = len("Connections:")
	}
	w := st.Out
	fmt.Fprintf(w, "%-*s %s\n", width, "Username:", username)
	if id, ok := getString(c, "clientid"); ok {
		fmt.Fprintf(w, "%-*s %s\n", width, "Clientid:", id)
	} else {
		fmt.Fprintf(w, "Clientid:\n")
	}
	if d, ok := item(c, "disabled").(bool); ok {
		fmt.Fprintf(w, "%-*s %t\n", width, "Disabled:", d)
	}
	printArray(w, item(c, "roles"), width, "Roles:", "rolename", "priority", "-1")
	printArray(w, item(c, "groups"), width, "Groups:", "groupname", "priority", "-1")
	if connections != nil {
		printArray(w, connections, width, "Connections:", "address", "", "")
	}
}

// printGroup prints getGroup's answer.
func printGroup(r any, st streams) {
	g, name, ok := namedObject(r, "group", "groupname", st)
	if !ok {
		return
	}
	width := len("Groupname:")
	fmt.Fprintf(st.Out, "Groupname: %s\n", name)
	printArray(st.Out, item(g, "roles"), width, "Roles:", "rolename", "priority", "-1")
	printArray(st.Out, item(g, "clients"), width, "Clients:", "username", "", "")
}

// printRole prints getRole's answer: its ACLs in the server's order.
func printRole(r any, st streams) {
	role, name, ok := namedObject(r, "role", "rolename", st)
	if !ok {
		return
	}
	w := st.Out
	fmt.Fprintf(w, "Rolename: %s\n", name)
	acls, _ := item(role, "acls").([]any)
	head := heading("ACLs:     ")
	for _, acl := range acls {
		t, ok := getString(acl, "acltype")
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%s%-20s", head(), t)
		if allow, ok := item(acl, "allow").(bool); ok {
			if allow {
				fmt.Fprintf(w, " : allow")
			} else {
				fmt.Fprintf(w, " : deny ")
			}
		}
		if topic, ok := getString(acl, "topic"); ok {
			fmt.Fprintf(w, " : %s", topic)
		}
		if p, ok := number(item(acl, "priority")); ok {
			fmt.Fprintf(w, " (priority: %d)", int(p))
		} else {
			fmt.Fprintf(w, " (priority: -1)")
		}
		fmt.Fprintf(w, "\n")
	}
}

// printAnonymousGroup prints getAnonymousGroup's answer: the group's name.
func printAnonymousGroup(r any, st streams) {
	_, name, ok := namedObject(r, "group", "groupname", st)
	if !ok {
		return
	}
	fmt.Fprintf(st.Out, "%s\n", name)
}

// printDefaultACLAccess prints getDefaultACLAccess's answer, a line per
// ACL type.
func printDefaultACLAccess(r any, st streams) {
	acls, ok := dataArray(r, "acls", st)
	if !ok {
		return
	}
	for _, acl := range acls {
		t, ok1 := getString(acl, "acltype")
		allow, ok2 := item(acl, "allow").(bool)
		if !ok1 || !ok2 {
			io.WriteString(st.Err, invalidResponse)
			return
		}
		access := "deny"
		if allow {
			access = "allow"
		}
		fmt.Fprintf(st.Out, "%-20s : %s\n", t, access)
	}
}
