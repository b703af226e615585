package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/config"
)

// Run runs "midge cluster" with args and returns the exit status: 0, 1
// when the node could not be asked, 2 for a usage error.
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(st.Out, prog)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "status":
		return status(ctx, prog+" status", args[1:], st)
	}
	fmt.Fprintf(st.Err, "%s: unknown command %q\n", prog, args[0])
	usage(st.Err, prog)
	return 2
}

func usage(w io.Writer, prog string) {
	fmt.Fprintf(w, `Usage: %s status [-c config_file | -a host:port] [-json] [-timeout duration]

Commands:
  status   print a node's view of its cluster: its raft state, the leader,
           every member and its state

Options:
  -c FILE      the node's configuration: asks the node at its cluster_listen
               address (the loopback address if it listens on all of them)
  -a HOST:PORT the node's cluster_listen address
  -json        print the status as JSON
  -timeout D   how long to wait for the node (default 10s)
`, prog)
}

// statusOptions are the options of "midge cluster status".
type statusOptions struct {
	configFile string
	addr       string
	json       bool
	timeout    time.Duration
}

func parseStatus(prog string, args []string, errOut io.Writer) (statusOptions, error) {
	var o statusOptions
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.configFile, "c", "", "the node's configuration file")
	fs.StringVar(&o.addr, "a", "", "the node's cluster_listen address")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the node")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case (o.configFile == "") == (o.addr == ""):
		return o, errors.New("give the node's configuration file (-c) or its cluster address (-a)")
	case o.timeout <= 0:
		return o, errors.New("-timeout must be positive")
	}
	return o, nil
}

func status(ctx context.Context, prog string, args []string, st base.Streams) int {
	o, err := parseStatus(prog, args, st.Err)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(st.Err, "%s: %v\n", prog, err)
		return 2
	}
	addr := o.addr
	var tc *tls.Config
	if o.configFile != "" {
		res, err := config.Load(o.configFile)
		if err != nil {
			fmt.Fprintf(st.Err, "%s: %v\n", prog, err)
			return 1
		}
		if res.Cluster.Name == "" {
			fmt.Fprintf(st.Err, "%s: %s has no cluster options\n", prog, o.configFile)
			return 1
		}
		addr = dialable(res.Cluster.Listen)
		if c := res.Cluster; c.CAFile != "" {
			// The node's own certificate: the cluster port admits the
			// cluster's nodes only.
			if tc, err = cluster.TLSConfig(c.CAFile, c.CertFile, c.KeyFile); err != nil {
				fmt.Fprintf(st.Err, "%s: %s: %v\n", prog, c.TLSPos, err)
				return 1
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var s cluster.Status
	if tc != nil {
		s, err = cluster.FetchStatusTLS(ctx, tc, addr)
	} else {
		s, err = cluster.FetchStatus(ctx, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, addr)
	}
	if err != nil {
		fmt.Fprintf(st.Err, "%s: %v\n", prog, err)
		return 1
	}
	if o.json {
		e := json.NewEncoder(st.Out)
		e.SetIndent("", "  ")
		e.Encode(s)
		return 0
	}
	printStatus(st.Out, s)
	return 0
}

// dialable returns the address to dial for a listen address: the loopback
// address for an unspecified host.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch ip := net.ParseIP(host); {
	case host == "", ip != nil && ip.To4() != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// printStatus prints s for people.
func printStatus(w io.Writer, s cluster.Status) {
	fmt.Fprintf(w, "cluster:  %s\n", s.Cluster)
	fmt.Fprintf(w, "node:     %s (%s) at %s, gossip %s\n", s.NodeID, s.State, s.Address, s.Gossip)
	leader := "none known"
	if s.Leader != "" {
		leader = s.Leader + " at " + s.LeaderAddress
	}
	fmt.Fprintf(w, "leader:   %s\n", leader)
	fmt.Fprintf(w, "raft:     term %d, last index %d, commit index %d, applied index %d\n", s.Term, s.LastIndex, s.CommitIndex, s.AppliedIndex)
	fmt.Fprintf(w, "state:    %d client ids owned, %d retained messages\n", s.Owners, s.Retained)
	fmt.Fprintf(w, "members:  %d\n", len(s.Members))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tSTATE\tVOTER\tLEADER\tCLIENTS\tADDRESS\tGOSSIP")
	for _, m := range s.Members {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.State, yes(m.Voter), yes(m.Leader), m.Clients, dash(m.Address), dash(m.Gossip))
	}
	tw.Flush()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
