package dynsec_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/midge-mqtt/midge/dynsec"
)

// ApplyFile changes a configuration file without a broker, as
// "mosquitto_ctrl -f FILE dynsec ..." does.
func ExampleApplyFile() {
	dir, _ := os.MkdirTemp("", "dynsec-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dynamic-security.json")
	os.WriteFile(path, nil, 0o600) // an empty file is an empty configuration
	resp, err := dynsec.ApplyFile(path, []byte(`{"commands":[
		{"command":"createRole","rolename":"sensors"},
		{"command":"addRoleACL","rolename":"sensors","acltype":"publishClientSend","topic":"sensors/%c/#","allow":true},
		{"command":"createRole","rolename":"sensors"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(resp))
	// Output:
	// {"responses":[{"command":"createRole"},{"command":"addRoleACL"},{"command":"createRole","error":"Role already exists"}]}
}
