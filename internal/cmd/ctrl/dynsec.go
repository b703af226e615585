package ctrl

// The dynsec module (apps/mosquitto_ctrl/dynsec*.c): the command line of
// each command turned into its JSON command for
// $CONTROL/dynamic-security/v1.

import (
	"fmt"
	"io"
	"strings"

	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
)

// Return codes of a module's command line, as libmosquitto's error
// numbers: mosquitto_ctrl exits with them.
const (
	rcDone         = -1 // nothing to send (help, init, a refused password): exit 0
	rcSend         = 0
	rcNoMem        = 1
	rcInval        = 3  // "Error: Invalid function arguments provided."
	rcTLS          = 8  // MOSQ_ERR_TLS
	rcNotSupported = 10 // an unknown module
	rcUnknown      = 13 // the message is printed already
	rcErrno        = 14 // MOSQ_ERR_ERRNO
	rcLookup       = 15 // MOSQ_ERR_EAI
)

const (
	dynsecTopic = "$CONTROL/dynamic-security/v1"
	brokerTopic = "$CONTROL/broker/v1"
)

// request is what a module's command sends, and how to print the answer.
type request struct {
	topic   string
	payload string
	print   func(response any, st streams)
}

// aclTypes are the ACL types of addRoleACL and removeRoleACL.
var aclTypes = []string{"publishClientSend", "publishClientReceive", "subscribeLiteral",
	"subscribePattern", "unsubscribeLiteral", "unsubscribePattern"}

// oneOf reports whether s is one of names, ignoring case (strcasecmp).
func oneOf(s string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return true
		}
	}
	return false
}

// dynsecCommand builds the request for "dynsec <args>". args[0] is the
// command. It returns rcSend with the request, or another return code.
func dynsecCommand(args []string, cfg *config, p *prompter, st streams) (*request, int) {
	name, args := args[0], args[1:]
	switch {
	case strings.EqualFold(name, "help"):
		io.WriteString(st.Out, dynsecUsage)
		return nil, rcDone
	case strings.EqualFold(name, "init"):
		return nil, dynsecInit(args, p, st)
	case cfg.dataFile != nil && strings.EqualFold(name, "setClientPassword"):
		return nil, fileSetPassword(args, *cfg.dataFile, st)
	}
	cmd := &object{}
	rc := rcSend
	// exact adds "command" and then each name with the argument at the same
	// position, for the commands taking exactly those arguments.
	exact := func(command string, names ...string) {
		if len(args) != len(names) {
			rc = rcInval
			return
		}
		cmd.add("command", command)
		for i, n := range names {
			cmd.add(n, args[i])
		}
	}
	// withPriority is exact for commands taking an optional priority last.
	withPriority := func(command string, first, second string) {
		if len(args) != 2 && len(args) != 3 {
			rc = rcInval
			return
		}
		priority := -1
		if len(args) == 3 {
			priority = clienttool.Atoi(args[2])
		}
		cmd.add("command", command).add(first, args[0]).add(second, args[1])
		if priority != -1 {
			cmd.add("priority", priority)
		}
	}
	list := func(command string) {
		count, offset := -1, -1
		switch len(args) {
		case 0:
		case 1:
			count = clienttool.Atoi(args[0])
		case 2:
			count, offset = clienttool.Atoi(args[0]), clienttool.Atoi(args[1])
		default:
			rc = rcInval
			return
		}
		cmd.add("command", command)
		if count > 0 {
			cmd.add("count", count)
		}
		if offset > 0 {
			cmd.add("offset", offset)
		}
	}
	switch command, names, ok := exactCommand(name); {
	case ok:
		exact(command, names...)
	case strings.EqualFold(name, "setDefaultACLAccess"):
		if len(args) != 2 || !oneOf(args[0], "publishClientSend", "publishClientReceive", "subscribe", "unsubscribe") {
			return nil, rcInval
		}
		allow, ok := allowOrDeny(args[1])
		if !ok {
			fmt.Fprintf(st.Err, "Error: access must be \"allow\" or \"deny\".\n")
			return nil, rcInval
		}
		acl := (&object{}).add("acltype", args[0]).add("allow", allow)
		cmd.add("command", "setDefaultACLAccess").add("acls", []any{acl})
	case strings.EqualFold(name, "getDefaultACLAccess"):
		cmd.add("command", "getDefaultACLAccess")
	case strings.EqualFold(name, "createClient"):
		return createClient(args, p, st)
	case strings.EqualFold(name, "listClients"):
		list("listClients")
	case strings.EqualFold(name, "setClientId"):
		if len(args) == 1 {
			exact("setClientId", "username")
		} else {
			exact("setClientId", "username", "clientid")
		}
	case strings.EqualFold(name, "setClientPassword"):
		if len(args) == 1 {
			pw, res := p.askPassword("New password for "+args[0]+": ", "Reenter password for "+args[0]+": ", false)
			if res != pwOK {
				return nil, rcDone
			}
			args = append(args, pw)
		}
		exact("setClientPassword", "username", "password")
	case oneOf(name, "addClientRole", "removeClientRole"):
		withPriority(name, "username", "rolename")
	case oneOf(name, "enableClient", "disableClient"):
		exact(name, "username")
	case strings.EqualFold(name, "listGroups"):
		list("listGroups")
	case oneOf(name, "addGroupRole", "removeGroupRole"):
		withPriority(name, "groupname", "rolename")
	case oneOf(name, "addGroupClient", "removeGroupClient"):
		if len(args) != 2 && len(args) != 3 {
			return nil, rcInval
		}
		// The username goes first in the JSON.
		cmd.add("command", name).add("username", args[1]).add("groupname", args[0])
		if len(args) == 3 {
			if pr := clienttool.Atoi(args[2]); pr != -1 {
				cmd.add("priority", pr)
			}
		}
	case strings.EqualFold(name, "getAnonymousGroup"):
		cmd.add("command", "getAnonymousGroup")
	case strings.EqualFold(name, "listRoles"):
		list("listRoles")
	case strings.EqualFold(name, "addRoleACL"):
		if len(args) != 4 && len(args) != 5 || !oneOf(args[1], aclTypes...) {
			return nil, rcInval
		}
		allow, ok := allowOrDeny(args[3])
		if !ok {
			return nil, rcInval
		}
		cmd.add("command", "addRoleACL").add("rolename", args[0]).add("acltype", args[1]).
			add("topic", args[2]).add("allow", allow)
		if len(args) == 5 {
			if pr := clienttool.Atoi(args[4]); pr != -1 {
				cmd.add("priority", pr)
			}
		}
	case strings.EqualFold(name, "removeRoleACL"):
		if len(args) != 3 || !oneOf(args[1], aclTypes...) {
			return nil, rcInval
		}
		exact("removeRoleACL", "rolename", "acltype", "topic")
	default:
		fmt.Fprintf(st.Err, "Command '%s' not recognised.\n", name)
		return nil, rcUnknown
	}
	if rc != rcSend {
		return nil, rc
	}
	return dynsecRequest(cmd), rcSend
}

// exactCommand returns the command name (as Mosquitto spells it) and the
// names of the arguments of a command that takes exactly those arguments,
// and whether name is one.
func exactCommand(name string) (string, []string, bool) {
	for _, c := range []struct {
		command string
		args    []string
	}{
		{"deleteClient", []string{"username"}},
		{"getClient", []string{"username"}},
		{"createGroup", []string{"groupname"}},
		{"deleteGroup", []string{"groupname"}},
		{"getGroup", []string{"groupname"}},
		{"setAnonymousGroup", []string{"groupname"}},
		{"createRole", []string{"rolename"}},
		{"deleteRole", []string{"rolename"}},
		{"getRole", []string{"rolename"}},
	} {
		if strings.EqualFold(name, c.command) {
			return c.command, c.args, true
		}
	}
	return "", nil, false
}

// dynsecRequest wraps one command in the request envelope.
func dynsecRequest(cmd *object) *request {
	tree := (&object{}).add("commands", []any{cmd})
	return &request{topic: dynsecTopic, payload: compact(tree), print: printDynsec}
}

// createClient is "createClient <username> [-c|-i clientid] [-p password]
// [--no-password]": without -p (or --no-password, 2.1) it asks for the
// password, and an empty one creates a client that cannot log in.
func createClient(args []string, p *prompter, st streams) (*request, int) {
	if len(args) == 0 {
		return nil, rcInval
	}
	username := args[0]
	var clientid, password *string
	ask := true
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-c", "-i":
			if i+1 == len(args) {
				fmt.Fprintf(st.Err, "Error: %s argument given, but no clientid provided.\n", args[i])
				return nil, rcInval
			}
			clientid = &args[i+1]
			i++
		case "-p":
			if i+1 == len(args) {
				fmt.Fprintf(st.Err, "Error: -p argument given, but no password provided.\n")
				return nil, rcInval
			}
			password = &args[i+1]
			ask = false
			i++
		case "--no-password":
			if password != nil {
				fmt.Fprintf(st.Err, "Error: -p and --no-password are mutually exclusive.\n")
				return nil, rcInval
			}
			ask = false
		}
	}
	if ask {
		fmt.Fprintf(st.Out, "Enter new password for %s. Press return for no password (user will be unable to login).\n", username)
		pw, res := p.askPassword("New password for "+username+": ", "Reenter password for "+username+": ", true)
		switch res {
		case pwOK:
			password = &pw
		case pwMismatch:
			fmt.Fprintf(st.Err, "Error: Passwords do not match.\n")
			return nil, rcDone
		default:
			fmt.Fprintln(st.Out)
		}
	}
	cmd := (&object{}).add("command", "createClient").add("username", username)
	if clientid != nil {
		cmd.add("clientid", *clientid)
	}
	if password != nil {
		cmd.add("password", *password)
	}
	return dynsecRequest(cmd), rcSend
}

// dynsecUsage is "mosquitto_ctrl dynsec help": Mosquitto 2.0.11's text
// verbatim (2.1 adds the -f line and --no-password; midge takes them).
const dynsecUsage = `
Dynamic Security module
=======================

Initialisation
--------------
Create a new configuration file with an admin user:
    mosquitto_ctrl dynsec init <new-config-file> <admin-username> [admin-password]

General
-------
Get ACL default access:          getDefaultACLAccess
Set ACL default access:          setDefaultACLAccess <acltype> allow|deny
Get group for anonymous clients: getAnonymousGroup
Set group for anonymous clients: setAnonymousGroup   <groupname>

Clients
-------
Create a new client:         createClient      <username> [-c clientid] [-p password]
Delete a client:             deleteClient      <username>
Set a client password:       setClientPassword <username> [password]
Set a client id:             setClientId       <username> [clientid]
Add a role to a client:      addClientRole     <username> <rolename> [priority]
    Higher priority (larger numerical value) roles are evaluated first.
Remove role from a client:   removeClientRole  <username> <rolename>
Get client information:      getClient         <username>
List all clients:            listClients       [count [offset]]
Enable client:               enableClient      <username>
Disable client:              disableClient     <username>

Groups
------
Create a new group:          createGroup       <groupname>
Delete a group:              deleteGroup       <groupname>
Add a role to a group:       addGroupRole      <groupname> <rolename> [priority]
    Higher priority (larger numerical value) roles are evaluated first.
Remove role from a group:    removeGroupRole   <groupname> <rolename>
Add client to a group:       addGroupClient    <groupname> <username> [priority]
    Priority sets the group priority for the given client only.
    Higher priority (larger numerical value) groups are evaluated first.
Remove client from a group:  removeGroupClient <groupname> <username>
Get group information:       getGroup          <groupname>
List all groups:             listGroups        [count [offset]]

Roles
------
Create a new role:           createRole        <rolename>
Delete a role:               deleteRole        <rolename>
Add an ACL to a role:        addRoleACL        <rolename> <aclspec> [priority]
    Higher priority (larger numerical value) ACLs are evaluated first.
Remove ACL from a role:      removeRoleACL     <rolename> <aclspec>
Get role information:        getRole           <rolename>
List all roles:              listRoles         [count [offset]]

aclspec:                     <acltype> <topicFilter> allow|deny
acltype:                     publishClientSend|publishClientReceive
                              |subscribeLiteral|subscribePattern
                              |unsubscribeLiteral|unsubscribePattern

For more information see:
    https://mosquitto.org/documentation/dynamic-security/

`

// allowOrDeny reads an access argument, "allow" or "deny" in any case.
func allowOrDeny(s string) (allow, ok bool) {
	switch {
	case strings.EqualFold(s, "allow"):
		return true, true
	case strings.EqualFold(s, "deny"):
		return false, true
	}
	return false, false
}
