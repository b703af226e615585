package explore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// needTools fails the test when a Debian tool is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: apt-get install -y mosquitto mosquitto-clients", tool)
		}
	}
}

// startMosquitto runs Debian's mosquitto (testutil.StartMosquitto) with
// the extra configuration lines, which may add listeners, until the test
// ends, and returns the port of the listener it opens itself. It waits for
// each of the ports ready too.
func startMosquitto(t *testing.T, extra []string, ready ...int) int {
	t.Helper()
	needTools(t, "mosquitto")
	if os.Geteuid() == 0 {
		// Started as root, mosquitto would drop its privileges to the
		// mosquitto user, who could not read the test's files.
		extra = append([]string{"user root"}, extra...)
	}
	_, port, err := net.SplitHostPort(testutil.StartMosquitto(t, extra...))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ready {
		testutil.WaitFor(t, fmt.Sprintf("mosquitto to listen on %d", p), func() bool {
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	n, _ := strconv.Atoi(port)
	return n
}

// explorer is a running explore (Run in a goroutine).
type explorer struct {
	base   string // http://127.0.0.1:PORT
	token  string
	http   *http.Client
	cancel context.CancelFunc
	done   chan int
	out    *testutil.LockedBuffer
	once   sync.Once
}

// runExplore runs explore with args and waits for its dashboard URL; the
// returned client has opened it (the token is in its cookie jar).
func runExplore(t *testing.T, args ...string) *explorer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errs := &testutil.LockedBuffer{}
	e := &explorer{cancel: cancel, done: make(chan int, 1), out: errs}
	go func() {
		e.done <- Run(ctx, "midge explore", append([]string{"--no-browser"}, args...), base.Streams{In: strings.NewReader(""), Out: pw, Err: errs})
		pw.Close()
	}()
	u := dashboardURL(pr)
	if u == "" {
		cancel()
		t.Fatalf("explore printed no URL; stderr:\n%s", errs.String())
	}
	t.Cleanup(func() { e.stop(t) })
	parsed, _ := url.Parse(u)
	e.token = parsed.Query().Get("token")
	e.base = "http://" + parsed.Host
	jar, _ := cookiejar.New(nil)
	e.http = &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := e.http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("opening %s: %s", u, resp.Status)
	}
	return e
}

// stop ends explore as Ctrl-C does and waits for it.
func (e *explorer) stop(t *testing.T) {
	e.once.Do(func() {
		e.cancel()
		select {
		case code := <-e.done:
			if code != 0 {
				t.Errorf("explore exited with %d; stderr:\n%s", code, e.out.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("explore did not stop")
		}
	})
}

// get fetches path and decodes its JSON into v, failing on a status other
// than 200.
func (e *explorer) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := e.http.Get(e.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
}

// post sends body as JSON with the headers the page sends.
func (e *explorer) post(t *testing.T, path string, body any, hdr map[string]string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", e.base)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// csrf returns the token the dashboard's API wants with an action.
func (e *explorer) csrf(t *testing.T) string {
	var me struct {
		CSRF string `json:"csrf"`
	}
	e.get(t, "/api/v1/me", &me)
	return me.CSRF
}

// server returns the server the dashboard says it shows.
func (e *explorer) server(t *testing.T) string {
	var me struct {
		Source struct{ Server string } `json:"source"`
	}
	e.get(t, "/api/v1/me", &me)
	return me.Source.Server
}

// topicHistory is GET /api/v1/topic's answer.
type topicHistory struct {
	Count   uint64 `json:"count"`
	History []struct {
		Payload string `json:"payload"`
		QoS     byte   `json:"qos"`
		Retain  bool   `json:"retain"`
	} `json:"history"`
}

// waitTopic waits until the dashboard's history of topic has a message
// with payload.
func (e *explorer) waitTopic(t *testing.T, topic, payload string) topicHistory {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := e.http.Get(e.base + "/api/v1/topic?name=" + url.QueryEscape(topic))
		if err != nil {
			t.Fatal(err)
		}
		var th topicHistory
		json.NewDecoder(resp.Body).Decode(&th)
		resp.Body.Close()
		for _, h := range th.History {
			if h.Payload == payload {
				return th
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard has no %q on %s: %+v", payload, topic, th)
		}
		time.Sleep(50 * time.Millisecond) // polling the API for a condition, with a deadline
	}
}

// mosquittoPub runs mosquitto_pub with args.
func mosquittoPub(t *testing.T, args ...string) {
	t.Helper()
	needTools(t, "mosquitto_pub")
	if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// mosquittoSub starts mosquitto_sub -C 1 -v -d on topic, waits until
// mosquitto has acknowledged the subscription, and returns a function that
// waits for the message line it prints ("topic payload").
func mosquittoSub(t *testing.T, port int, topic string) func() string {
	t.Helper()
	needTools(t, "mosquitto_sub", "stdbuf")
	cmd := exec.Command("stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", topic, "-C", "1", "-v", "-d", "-W", "20")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	subscribed, line := make(chan struct{}), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			l := sc.Text()
			if strings.Contains(l, "received SUBACK") {
				once.Do(func() { close(subscribed) })
			}
			if strings.HasPrefix(l, topic+" ") {
				line <- l
				return
			}
		}
		close(line)
	}()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("mosquitto_sub did not subscribe")
	}
	return func() string {
		select {
		case l := <-line:
			return l
		case <-time.After(20 * time.Second):
			return ""
		}
	}
}

// dashboardURL reads explore's standard output until its "Dashboard: "
// line and returns the address, or "" if the output ends or 30 seconds
// pass first. The rest of the output is read and dropped.
func dashboardURL(out io.Reader) string {
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Dashboard: "); ok {
				urlc <- u
			}
		}
		close(urlc)
	}()
	select {
	case u := <-urlc:
		return u
	case <-time.After(30 * time.Second):
		return ""
	}
}
