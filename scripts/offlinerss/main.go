// Command offlinerss measures what persistent offline sessions cost a
// midge broker: it starts the broker (the binary given with -midge) with
// persistence on, creates -sessions persistent sessions that each subscribe
// and leave, publishes -messages QoS 1 messages that every session matches,
// and prints the broker's resident memory at each step, as read from
// /proc/PID/status. With -persistence=false it measures the in-memory
// broker for comparison. Everything runs on 127.0.0.1.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

func main() {
	bin := flag.String("midge", "midge", "the midge binary")
	sessions := flag.Int("sessions", 100000, "persistent sessions to create")
	messages := flag.Int("messages", 5, "QoS 1 messages queued for every session")
	size := flag.Int("size", 64, "payload bytes")
	persist := flag.Bool("persistence", true, "run the broker with persistence on")
	workers := flag.Int("workers", 64, "sessions created at once")
	settle := flag.Duration("settle", 0, "wait this long after queueing and measure again (Go collects an idle heap every 2 minutes)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "offlinerss")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nlog_type error\nuser root\npersistence %v\npersistence_location %s\n", port, *persist, dir)
	confPath := filepath.Join(dir, "midge.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(*bin, "broker", "-c", confPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log.Fatal("broker did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	report := func(what string) {
		fmt.Printf("%-44s RSS %7.1f MB (anonymous %7.1f MB, file-backed %7.1f MB)\n", what,
			float64(rss(pid))/1e6, float64(status(pid, "RssAnon:"))/1e6, float64(status(pid, "RssFile:"))/1e6)
	}
	report("started")

	start := time.Now()
	ids := make(chan int)
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				if err := session(addr, i); err != nil {
					log.Fatalf("session %d: %v", i, err)
				}
			}
		}()
	}
	for i := range *sessions {
		ids <- i
	}
	close(ids)
	wg.Wait()
	report(fmt.Sprintf("%d offline sessions (%.0fs)", *sessions, time.Since(start).Seconds()))
	base := status(pid, "RssAnon:")

	start = time.Now()
	if err := publish(addr, *messages, *size); err != nil {
		log.Fatal(err)
	}
	report(fmt.Sprintf("%d messages queued for each (%.0fs)", *messages, time.Since(start).Seconds()))
	after := status(pid, "RssAnon:")
	fmt.Printf("anonymous memory per session: %.0f bytes; per queued message: %.1f bytes\n",
		float64(base)/float64(*sessions), float64(after-base)/float64(*sessions**messages))
	if *settle > 0 {
		time.Sleep(*settle)
		report(fmt.Sprintf("after %v idle", *settle))
		fmt.Printf("anonymous memory per queued message after settling: %.1f bytes\n",
			float64(status(pid, "RssAnon:")-base)/float64(*sessions**messages))
	}
	if *persist {
		fi, _ := os.Stat(filepath.Join(dir, "midge.db"))
		if fi != nil {
			fmt.Printf("store file: %.1f MB\n", float64(fi.Size())/1e6)
		}
	}
}

// session creates persistent session i: connect without clean session,
// subscribe to the fleet's topic and its own, disconnect.
func session(addr string, i int) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	id := fmt.Sprintf("dev-%06d", i)
	b, _ := packet.Append(nil, &packet.Connect{ProtocolVersion: 4, ClientID: id, KeepAlive: 60}, 4)
	b, _ = packet.Append(b, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{
		{Filter: "fleet/all", QoS: 1}, {Filter: "fleet/" + id + "/cmd", QoS: 1}}}, 4)
	if _, err := nc.Write(b); err != nil {
		return err
	}
	r := packet.NewReader(nc, 64)
	r.Version = 4
	for range 2 {
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := r.ReadPacket(); err != nil {
			return err
		}
	}
	b, _ = packet.Append(nil, &packet.Disconnect{}, 4)
	nc.Write(b)
	return nil
}

// publish sends n QoS 1 messages to fleet/all and waits for each PUBACK.
func publish(addr string, n, size int) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	b, _ := packet.Append(nil, &packet.Connect{ProtocolVersion: 4, ClientID: "publisher", CleanStart: true, KeepAlive: 600}, 4)
	nc.Write(b)
	r := packet.NewReader(nc, 64)
	r.Version = 4
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := r.ReadPacket(); err != nil {
		return err
	}
	payload := make([]byte, size)
	for i := range n {
		b, _ = packet.Append(nil, &packet.Publish{Topic: "fleet/all", QoS: 1, PacketID: uint16(i + 1), Payload: payload}, 4)
		nc.Write(b)
		nc.SetReadDeadline(time.Now().Add(10 * time.Minute))
		if _, err := r.ReadPacket(); err != nil {
			return err
		}
	}
	return nil
}

// rss returns the resident set size of process pid in bytes.
func rss(pid int) int64 { return status(pid, "VmRSS:") }

// status returns a kB field of /proc/PID/status in bytes. RssAnon is the
// process's own memory; RssFile is mapped file pages (the store's mmap),
// page cache the kernel can drop.
func status(pid int, field string) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
