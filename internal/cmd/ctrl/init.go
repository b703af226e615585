package ctrl

// "dynsec init": a new Dynamic Security configuration file with one
// administrator, written without a broker.

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/midge-mqtt/midge/dynsec"
)

// The password hash "dynsec init" writes: PBKDF2-SHA512 with Mosquitto
// 2.0's parameters, in 2.0's "password", "salt" and "iterations" members,
// which 2.0's plugin needs and 2.1's still reads. (2.1's tool writes
// "encoded_password" with 1000 iterations and a 64-byte salt, which 2.0's
// plugin cannot read.)
const (
	initIterations = 101
	initSaltLen    = 12
	initHashLen    = 64
)

// initACLs are the administrator role's ACLs: type and topic, all allowed.
var initACLs = [][2]string{
	{"publishClientSend", "$CONTROL/dynamic-security/#"},
	{"publishClientReceive", "$CONTROL/dynamic-security/#"},
	{"subscribePattern", "$CONTROL/dynamic-security/#"},
	{"publishClientReceive", "$SYS/#"},
	{"subscribePattern", "$SYS/#"},
	{"publishClientReceive", "#"},
	{"subscribePattern", "#"},
	{"unsubscribePattern", "#"},
}

// initConfig returns the configuration "dynsec init" writes, in
// mosquitto_ctrl's member order, with salt as the password's salt.
func initConfig(username, password string, salt []byte) (*object, error) {
	hash, err := pbkdf2.Key(sha512.New, password, salt, initIterations, initHashLen)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	client := (&object{}).add("username", username).add("textName", "Dynsec admin user").
		add("password", b64(hash)).add("salt", b64(salt)).add("iterations", initIterations).
		add("roles", []any{(&object{}).add("rolename", "admin")})
	var acls []any
	for _, a := range initACLs {
		acls = append(acls, (&object{}).add("acltype", a[0]).add("topic", a[1]).add("allow", true))
	}
	role := (&object{}).add("rolename", "admin").add("acls", acls)
	access := (&object{}).add("publishClientSend", false).add("publishClientReceive", true).
		add("subscribe", false).add("unsubscribe", true)
	return (&object{}).add("clients", []any{client}).add("roles", []any{role}).
		add("defaultACLAccess", access), nil
}

// dynsecInit is "dynsec init <file> <admin-username> [admin-password]". It
// asks for the password if not given, and never replaces a file.
func dynsecInit(args []string, p *prompter, st streams) int {
	if len(args) < 2 {
		fmt.Fprintf(st.Err, "dynsec init: Not enough arguments - filename, or admin-user missing.\n")
		return rcInval
	}
	if len(args) > 3 {
		fmt.Fprintf(st.Err, "dynsec init: Too many arguments.\n")
		return rcInval
	}
	file, user := args[0], args[1]
	var password string
	if len(args) == 3 {
		password = args[2]
	} else {
		pw, res := p.askPassword("New password for "+user+": ", "Reenter password for "+user+": ", false)
		if res != pwOK {
			return rcDone
		}
		password = pw
	}
	salt := make([]byte, initSaltLen)
	if _, err := rand.Read(salt); err != nil {
		fmt.Fprintf(st.Err, "dynsec init: Out of memory.\n")
		return rcNoMem
	}
	tree, err := initConfig(user, password, salt)
	if err != nil {
		fmt.Fprintf(st.Err, "dynsec init: Out of memory.\n")
		return rcNoMem
	}
	// The file holds password hashes: readable by its group at most, as
	// 2.1 creates it. O_EXCL: never replace an existing configuration.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(st.Err, "dynsec init: '%s' already exists. Remove the file or use a different location..\n", file)
		} else {
			fmt.Fprintf(st.Err, "dynsec init: Unable to open '%s' for writing.\n", file)
		}
		return rcDone
	}
	_, err = f.WriteString(pretty(tree))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		fmt.Fprintf(st.Err, "dynsec init: Unable to open '%s' for writing.\n", file)
		return rcDone
	}
	fmt.Fprintf(st.Out, `The client '%s' has been created in the file '%s'.
This client is configured to allow you to administer the dynamic security plugin only.
It does not have access to publish messages to normal topics.
You should create your application clients to do that, for example:
   mosquitto_ctrl <connect options> dynsec createClient <username>
   mosquitto_ctrl <connect options> dynsec createRole <rolename>
   mosquitto_ctrl <connect options> dynsec addRoleACL <rolename> publishClientSend my/topic [priority]
   mosquitto_ctrl <connect options> dynsec addClientRole <username> <rolename> [priority]
See https://mosquitto.org/documentation/dynamic-security/ for details of all commands.
`, user, file)
	return rcDone
}

// fileSetPassword is "-f <file> dynsec setClientPassword <username>
// <password> [-i iterations]" (2.1): the password changed in the
// configuration file, without a broker, by package dynsec. The hash is
// dynsec's (2.1's PBKDF2-SHA512); -i is checked but the iterations are
// dynsec's.
func fileSetPassword(args []string, file string, st streams) int {
	if len(args) < 2 {
		return rcInval
	}
	for i := 2; i < len(args); i++ {
		if args[i] != "-i" {
			fmt.Fprintf(st.Err, "Error: Unknown argument: %s\n", args[i])
			return rcInval
		}
		if i+1 == len(args) {
			fmt.Fprintf(st.Err, "Error: -i argument given, but no iterations provided.\n")
			return rcInval
		}
		i++
	}
	cmd := (&object{}).add("command", "setClientPassword").add("username", args[0]).add("password", args[1])
	resp, err := dynsec.ApplyFile(file, []byte(compact((&object{}).add("commands", []any{cmd}))))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(st.Err, "Error: Unable to open %s.\n", file)
		return rcInval
	case err != nil && resp == nil:
		fmt.Fprintf(st.Err, "Error: %s is not a valid dynamic-security config file.\n", file)
		return rcInval
	case err != nil:
		fmt.Fprintf(st.Err, "Error: Unable to write to %s.\n", file)
		return rcUnknown
	}
	if r, ok := firstResponse(resp, st); ok {
		if e, ok := getString(r, "error"); ok {
			if e == "Client not found" {
				fmt.Fprintf(st.Err, "Error: Client %s not found.\n", args[0])
			} else {
				fmt.Fprintf(st.Err, "Error: %s.\n", e)
			}
		}
	}
	return rcDone
}
