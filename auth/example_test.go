package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packet"
)

// Example builds a broker that checks a Mosquitto password file and ACL
// file, the links of its security chains, and replaces the ACL file while
// it runs, as SIGHUP does.
func Example() {
	dir, err := os.MkdirTemp("", "midge-auth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The files as mosquitto_passwd and an editor write them.
	hash, err := auth.HashPassword("s3cret", auth.SHA512PBKDF2, 1000)
	if err != nil {
		log.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "passwd"), []byte("alice:"+hash+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "acl"), []byte("user alice\ntopic readwrite home/#\n"), 0o600)

	pf, err := auth.LoadPasswordFile(filepath.Join(dir, "passwd"))
	if err != nil {
		log.Fatal(err)
	}
	acl, err := auth.LoadACLFile(filepath.Join(dir, "acl"))
	if err != nil {
		log.Fatal(err)
	}
	// A Slot lets the file be replaced while the broker runs.
	rules := broker.NewSlot(acl)
	srv := broker.New(broker.Config{
		AllowAnonymous: false,
		Authenticators: []broker.Authenticator{pf},
		Authorizers:    []broker.Authorizer{rules},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(context.Background(), ln, broker.Listener{})
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(id, user, password string) (*client.Client, error) {
		c, _, err := client.Dial(ctx, client.Options{Address: ln.Addr().String(), ProtocolVersion: packet.Version5,
			ClientID: id, CleanStart: true, Username: user, Password: []byte(password)})
		return c, err
	}
	refused := func(err error) string {
		var ce *client.ConnectError
		if errors.As(err, &ce) {
			return "refused: " + strings.ToLower(ce.Code.String())
		}
		return fmt.Sprint(err)
	}
	publish := func(c *client.Client, topic string) string {
		err := c.Publish(ctx, &client.Message{Topic: topic, QoS: 1, Payload: []byte("on")})
		var re *client.ReasonError
		if errors.As(err, &re) {
			return topic + ": " + strings.ToLower(re.Code.String())
		}
		if err != nil {
			return topic + ": " + err.Error()
		}
		return topic + ": published"
	}

	_, err = dial("anonymous", "", "")
	fmt.Println("no user name:", refused(err))
	_, err = dial("mallory", "alice", "guess")
	fmt.Println("wrong password:", refused(err))
	alice, err := dial("alice-phone", "alice", "s3cret")
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	fmt.Println(publish(alice, "home/lamp"))
	fmt.Println(publish(alice, "office/lamp"))

	// SIGHUP: a new ACL file replaces the old one for every client at once.
	more, err := auth.ParseACL(strings.NewReader("user alice\ntopic readwrite home/#\ntopic write office/#\n"), "acl")
	if err != nil {
		log.Fatal(err)
	}
	rules.Store(more)
	fmt.Println(publish(alice, "office/lamp"))
	// Output:
	// no user name: refused: not authorized
	// wrong password: refused: not authorized
	// home/lamp: published
	// office/lamp: not authorized
	// office/lamp: published
}
