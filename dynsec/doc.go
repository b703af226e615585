// Package dynsec is midge's built-in dynamic security: Mosquitto's
// dynamic security plugin (mosquitto_dynamic_security.so) as a link of the
// broker's authentication and authorization chains, administered through
// the control endpoint $CONTROL/dynamic-security/v1 with Mosquitto 2.1's
// commands and JSON, and kept in Mosquitto's JSON file (read in the 2.0 and
// 2.1 formats, written in 2.1's).
//
// # Authentication
//
// A client that connects with a user name and a password that dynamic
// security knows is admitted if the password matches, the client is not
// disabled and its client id is the configured one (if any). Clients it
// does not know, and clients without a user name or password, are left to
// the next link (a password file, allow_anonymous).
//
// # Authorization
//
// The roles of a client are checked in order: its own roles (by link
// priority, highest first, then by name), then for each of its groups (by
// priority, then name) the group's roles. A client without a user name
// uses the roles of the anonymous group. Within a role the ACLs of the
// access's type are checked by priority, highest first; the first that
// matches decides. A subscription is checked against subscribeLiteral
// (exact text) and subscribePattern (the ACL's filter must cover the
// requested one), and is denied outright by a role with allowwildcardsubs
// false if it has a wildcard. A level %c or %u of an ACL topic stands for
// the client id or user name (as in Mosquitto 2.1, only a whole level: a
// client id or user name with '/', '+' or '#' never matches one). When
// nothing matches, the default access decides: a
// default "allow" allows (except a $CONTROL topic, which a default never
// grants: the decision is left to the next link), a default "deny" leaves
// the decision to the next link. A client with a user name dynamic
// security does not know is left to the next link entirely.
//
// # Commands
//
// Security.HandleControl answers the requests of $CONTROL/dynamic-security/v1
// (the request itself subject to the authorization chain, as any PUBLISH
// is); Security.Execute runs a request for the dashboard; ApplyFile runs
// one on a file without a broker. Every change increments the change index,
// is logged with who made it, and is saved atomically (a temporary file,
// synced, renamed over the old one, the directory synced) once per batch;
// the clients a change concerns are disconnected afterwards (MQTT 5:
// reason code 0x98).
//
// # Replication
//
// With Options.Replicate (midge broker sets it in a cluster), a request
// that may change something is not applied where it arrives: it is
// prepared (passwords hashed, with their random salts, once) and handed
// to the hook, which has Security.Apply run on every replica in one
// order; each replica saves its file and kicks its own clients, and the
// response is the arriving replica's Apply's. Snapshot and Restore carry
// the whole state between replicas. Reads are answered locally.
package dynsec
