package dynsec_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCommandErrors sends every command through TCP with arguments that
// succeed and with each error Mosquitto answers, and compares the
// responses.
func TestCommandErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range commandCases {
		got := e.do(t, c.req)
		if !jsonEqual(t, got, c.want) {
			t.Errorf("%s\n got %s\nwant %s", c.req, got, c.want)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("want %s: %v", b, err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

type commandCase struct{ req, want string }

// c makes a case of one command and its one response.
func c(cmd, resp string) commandCase {
	return commandCase{`{"commands":[` + cmd + `]}`, `{"responses":[` + resp + `]}`}
}

var commandCases = []commandCase{
	{`not json`, `{"responses":[{"command":"Unknown command","error":"Payload not valid JSON"}]}`},
	{`{}`, `{"responses":[{"command":"Unknown command","error":"Invalid/missing commands"}]}`},
	{`{"commands":[]}`, `{"responses":[]}`},
	{`{"commands":[1,{"command":"getDetails"}]}`, `{"responses":[{"command":"Unknown command","error":"Command not an object"}]}`},
	{`{"commands":[{"x":1}]}`, `{"responses":[{"command":"Unknown command","error":"Missing command"}]}`},
	{`{"commands":[{"command":"getDetails","correlationData":5}]}`, `{"responses":[{"command":"getDetails","error":"Invalid correlationData data type."}]}`},
	{`{"commands":[{"command":"nope","correlationData":"1"},{"command":"getAnonymousGroup"}]}`,
		`{"responses":[{"command":"nope","error":"Unknown command","correlationData":"1"},{"command":"getAnonymousGroup","data":{"group":{"groupname":"unauthenticated"}}}]}`},
	c(`{"command":"getDefaultACLAccess"}`, `{"command":"getDefaultACLAccess","data":{"acls":[{"acltype":"publishClientSend","allow":false},{"acltype":"publishClientReceive","allow":true},{"acltype":"subscribe","allow":false},{"acltype":"unsubscribe","allow":true}]}}`),
	c(`{"command":"setDefaultACLAccess"}`, `{"command":"setDefaultACLAccess","error":"Missing/invalid actions array"}`),
	c(`{"command":"SETDEFAULTACLACCESS","acls":[{"acltype":"publishClientReceive","allow":false},{"acltype":"bogus","allow":true}]}`, `{"command":"setDefaultACLAccess"}`),
	c(`{"command":"createRole","rolename":"r1","textName":"Role one","acls":[{"acltype":"publishClientSend","topic":"a/#","allow":true}]}`, `{"command":"createRole"}`),
	c(`{"command":"createRole","rolename":"r1"}`, `{"command":"createRole","error":"Role already exists"}`),
	c(`{"command":"createRole","rolename":""}`, `{"command":"createRole","error":"Empty rolename"}`),
	c(`{"command":"createRole"}`, `{"command":"createRole","error":"Invalid/missing rolename"}`),
	c(`{"command":"createClient","username":"u1","password":"p","clientid":"cid","textname":"Name","textdescription":"Description","rolename":"","correlationData":"2"}`, `{"command":"createClient","correlationData":"2"}`),
	c(`{"command":"createClient","username":"u1"}`, `{"command":"createClient","error":"Client already exists"}`),
	c(`{"command":"createClient","username":""}`, `{"command":"createClient","error":"Empty username"}`),
	c(`{"command":"createClient"}`, `{"command":"createClient","error":"Invalid/missing username"}`),
	c(`{"command":"createClient","username":"u2","password":3}`, `{"command":"createClient","error":"Invalid/missing password"}`),
	c(`{"command":"createClient","username":"u2","clientid":3}`, `{"command":"createClient","error":"Invalid/missing client id"}`),
	c(`{"command":"createClient","username":"u2","textname":3}`, `{"command":"createClient","error":"Invalid/missing textname"}`),
	c(`{"command":"createClient","username":"u2","textdescription":3}`, `{"command":"createClient","error":"Invalid/missing textdescription"}`),
	c(`{"command":"createClient","username":"u2","roles":[{"rolename":"nope"}]}`, `{"command":"createClient","error":"Role not found"}`),
	c(`{"command":"createClient","username":"u2","roles":[{}]}`, `{"command":"createClient","error":"'roles' not an array or missing/invalid rolename"}`),
	c(`{"command":"createClient","username":"u2","groups":[{"groupname":"nope"}]}`, `{"command":"createClient","error":"Group not found"}`),
	c(`{"command":"getClient","username":"u1","correlationData":"42"}`, `{"command":"getClient","data":{"client":{"username":"u1","clientid":"cid","textname":"Name","textdescription":"Description","roles":[],"groups":[],"connections":[]}},"correlationData":"42"}`),
	c(`{"command":"getClient","username":"nope"}`, `{"command":"getClient","error":"Client not found"}`),
	c(`{"command":"listClients"}`, `{"command":"listClients","data":{"totalCount":2,"clients":["admin","u1"]}}`),
	c(`{"command":"listClients","count":1,"offset":1}`, `{"command":"listClients","data":{"totalCount":2,"clients":["u1"]}}`),
	c(`{"command":"addClientRole","username":"u1","rolename":"r1","priority":5}`, `{"command":"addClientRole"}`),
	c(`{"command":"addClientRole","username":"nope","rolename":"r1"}`, `{"command":"addClientRole","error":"Client not found"}`),
	c(`{"command":"addClientRole","username":"u1","rolename":"nope"}`, `{"command":"addClientRole","error":"Role not found"}`),
	c(`{"command":"removeClientRole","username":"u1","rolename":"nope"}`, `{"command":"removeClientRole","error":"Role not found"}`),
	c(`{"command":"setClientId","username":"u1","clientid":3}`, `{"command":"setClientId","error":"Invalid/missing client ID"}`),
	c(`{"command":"setClientId","username":"u1"}`, `{"command":"setClientId"}`),
	c(`{"command":"setClientPassword","username":"u1","password":""}`, `{"command":"setClientPassword","error":"Empty password is not allowed"}`),
	c(`{"command":"setClientPassword","username":"u1"}`, `{"command":"setClientPassword","error":"Invalid/missing password"}`),
	c(`{"command":"setClientPassword","username":"nope","password":"x"}`, `{"command":"setClientPassword","error":"Client not found"}`),
	c(`{"command":"setClientPassword","username":"u1","password":"secret"}`, `{"command":"setClientPassword"}`),
	c(`{"command":"disableClient","username":"nope"}`, `{"command":"disableClient","error":"Client not found"}`),
	c(`{"command":"enableClient","username":"nope"}`, `{"command":"enableClient","error":"Client not found"}`),
	c(`{"command":"createGroup","groupname":"g1","roles":[{"rolename":"r1","priority":2}]}`, `{"command":"createGroup"}`),
	c(`{"command":"createGroup","groupname":"g1"}`, `{"command":"createGroup","error":"Group already exists"}`),
	c(`{"command":"createGroup","groupname":""}`, `{"command":"createGroup","error":"Empty groupname"}`),
	c(`{"command":"addGroupClient","groupname":"g1","username":"u1","priority":3}`, `{"command":"addGroupClient"}`),
	c(`{"command":"addGroupClient","groupname":"g1","username":"u1"}`, `{"command":"addGroupClient","error":"Client is already in this group"}`),
	c(`{"command":"addGroupClient","groupname":"nope","username":"u1"}`, `{"command":"addGroupClient","error":"Group not found"}`),
	c(`{"command":"addGroupRole","groupname":"g1","rolename":"r1"}`, `{"command":"addGroupRole","error":"Group is already in this role"}`),
	c(`{"command":"getGroup","groupname":"g1"}`, `{"command":"getGroup","data":{"group":{"groupname":"g1","roles":[{"rolename":"r1","priority":2}],"clients":[{"username":"u1"}]}}}`),
	c(`{"command":"getGroup","groupname":"nope"}`, `{"command":"getGroup","error":"Group not found"}`),
	c(`{"command":"getClient","username":"u1"}`, `{"command":"getClient","data":{"client":{"username":"u1","textname":"Name","textdescription":"Description","roles":[{"rolename":"r1","priority":5}],"groups":[{"groupname":"g1","priority":3}],"connections":[]}}}`),
	c(`{"command":"listGroups"}`, `{"command":"listGroups","data":{"totalCount":2,"groups":["g1","unauthenticated"]}}`),
	c(`{"command":"deleteGroup","groupname":"unauthenticated"}`, `{"command":"deleteGroup","error":"Deleting the anonymous group is forbidden"}`),
	c(`{"command":"deleteGroup","groupname":"nope"}`, `{"command":"deleteGroup","error":"Group not found"}`),
	c(`{"command":"setAnonymousGroup","groupname":"nope"}`, `{"command":"setAnonymousGroup","error":"Group not found"}`),
	c(`{"command":"addRoleACL","rolename":"r1","acltype":"subscribeLiteral","topic":"a/b","allow":true}`, `{"command":"addRoleACL"}`),
	c(`{"command":"addRoleACL","rolename":"r1","acltype":"subscribeLiteral","topic":"a/b"}`, `{"command":"addRoleACL","error":"ACL with this topic already exists"}`),
	c(`{"command":"addRoleACL","rolename":"nope","acltype":"subscribeLiteral","topic":"a/b"}`, `{"command":"addRoleACL","error":"Role not found"}`),
	c(`{"command":"addRoleACL","rolename":"r1","topic":"a/b"}`, `{"command":"addRoleACL","error":"Invalid/missing acltype"}`),
	c(`{"command":"addRoleACL","rolename":"r1","acltype":"bogus","topic":"a/b"}`, `{"command":"addRoleACL","error":"Unknown acltype"}`),
	c(`{"command":"addRoleACL","rolename":"r1","acltype":"subscribeLiteral"}`, `{"command":"addRoleACL","error":"Invalid/missing topic"}`),
	c(`{"command":"addRoleACL","rolename":"r1","acltype":"subscribeLiteral","topic":"a/#/b"}`, `{"command":"addRoleACL","error":"Invalid ACL topic"}`),
	c(`{"command":"removeRoleACL","rolename":"r1","acltype":"subscribeLiteral","topic":"x"}`, `{"command":"removeRoleACL","error":"ACL not found"}`),
	c(`{"command":"getRole","rolename":"r1"}`, `{"command":"getRole","data":{"role":{"rolename":"r1","textname":"Role one","allowwildcardsubs":true,"acls":[{"acltype":"publishClientSend","topic":"a/#","priority":0,"allow":true},{"acltype":"subscribeLiteral","topic":"a/b","priority":0,"allow":true}]}}}`),
	c(`{"command":"getRole","rolename":"nope"}`, `{"command":"getRole","error":"Role not found"}`),
	c(`{"command":"modifyRole","rolename":"nope"}`, `{"command":"modifyRole","error":"Role does not exist"}`),
	c(`{"command":"modifyRole","rolename":"r1","allowwildcardsubs":false,"textdescription":"d"}`, `{"command":"modifyRole"}`),
	c(`{"command":"modifyClient","username":"nope"}`, `{"command":"modifyClient","error":"Client not found"}`),
	c(`{"command":"modifyClient","username":"u1","groups":[{"groupname":"nope"}]}`, `{"command":"modifyClient","error":"'groups' contains an object with a 'groupname' that does not exist"}`),
	c(`{"command":"modifyClient","username":"u1","textname":"N2","groups":[]}`, `{"command":"modifyClient"}`),
	c(`{"command":"modifyGroup","groupname":"nope"}`, `{"command":"modifyGroup","error":"Group not found"}`),
	c(`{"command":"modifyGroup","groupname":"g1","clients":[{"username":"u1","priority":1}]}`, `{"command":"modifyGroup"}`),
	c(`{"command":"removeGroupClient","groupname":"g1","username":"u1"}`, `{"command":"removeGroupClient"}`),
	c(`{"command":"removeGroupRole","groupname":"g1","rolename":"r1"}`, `{"command":"removeGroupRole"}`),
	c(`{"command":"listRoles","count":2}`, `{"command":"listRoles","data":{"totalCount":8,"roles":["broker-admin","client"]}}`),
	c(`{"command":"deleteRole","rolename":"r1"}`, `{"command":"deleteRole"}`),
	c(`{"command":"deleteRole","rolename":"r1"}`, `{"command":"deleteRole","error":"Role not found"}`),
	c(`{"command":"deleteClient","username":"u1"}`, `{"command":"deleteClient"}`),
	c(`{"command":"deleteClient","username":"u1"}`, `{"command":"deleteClient","error":"Client not found"}`),
	c(`{"command":"deleteGroup","groupname":"g1"}`, `{"command":"deleteGroup"}`),
	c(`{"command":"getDetails"}`, `{"command":"getDetails","data":{"clientCount":1,"groupCount":1,"roleCount":7,"changeIndex":CHANGE}}`),
}

func init() {
	// The change index: one per successful changing command above.
	n := 0
	for _, c := range commandCases {
		if strings.Contains(c.req, `"command":"get`) || strings.Contains(c.req, `"command":"list`) ||
			strings.Contains(c.want, `"error"`) || !strings.HasPrefix(c.req, `{"commands":[{`) {
			continue
		}
		n++
	}
	last := &commandCases[len(commandCases)-1]
	last.want = strings.Replace(last.want, "CHANGE", itoa(n), 1)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
