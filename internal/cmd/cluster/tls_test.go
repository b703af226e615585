package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// withTLS appends cluster_cafile, cluster_certfile and cluster_keyfile,
// with a certificate of pki, to p's configuration.
func (p *proc) withTLS(pki *testutil.PKI) {
	p.t.Helper()
	c := pki.Server(p.id)
	p.appendConf(fmt.Sprintf("cluster_cafile %s\ncluster_certfile %s\ncluster_keyfile %s\n", pki.CAFile, c.CertFile, c.KeyFile))
	tc, err := cluster.TLSConfig(pki.CAFile, c.CertFile, c.KeyFile)
	if err != nil {
		p.t.Fatal(err)
	}
	p.tls = tc
}

func (p *proc) appendConf(s string) {
	p.t.Helper()
	f, err := os.OpenFile(p.conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

// TestTLSProcesses starts three midge brokers with mutual TLS on the
// cluster port: they form a cluster, "midge cluster status -c" talks TLS,
// plain HTTP is refused, and a fourth broker whose certificate another CA
// issued joins the gossip but never becomes a voter nor learns a leader.
func TestTLSProcesses(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "cluster")
	var ps []*proc
	for i := range 3 {
		var join []string
		if i > 0 {
			join = []string{ps[0].gossip}
		}
		p := newProc(t, "tls", fmt.Sprintf("n%d", i+1), 3, join)
		p.withTLS(pki)
		p.start()
		ps = append(ps, p)
	}
	var leader string
	waitFor(t, "three TLS nodes with one leader", func() (ok bool) { leader, ok = formed(ps...); return ok })
	out, errOut, rc := runStatus("-c", ps[2].conf)
	if rc != 0 || errOut != "" || !strings.Contains(out, "leader:   "+leader+" at ") || strings.Count(out, "alive") != 3 {
		t.Errorf("midge cluster status -c over TLS = %d, %q:\n%s", rc, errOut, out)
	}
	if _, errOut, rc := runStatus("-a", ps[0].cluster, "-timeout", "5s"); rc != 1 || errOut == "" {
		t.Errorf("plain midge cluster status -a on a TLS node = %d, %q", rc, errOut)
	}

	bad := newProc(t, "tls", "intruder", 3, []string{ps[0].gossip})
	bad.withTLS(testutil.NewPKI(t, "other"))
	bad.start()
	waitFor(t, "the intruder refused by the leader", func() bool {
		return strings.Contains(ps[0].out.String()+ps[1].out.String()+ps[2].out.String(), "not adding a member as voter")
	})
	waitFor(t, "the intruder's handshakes refused", func() bool {
		return strings.Contains(ps[0].out.String()+ps[1].out.String()+ps[2].out.String(), "cluster: connection refused")
	})
	for _, p := range ps {
		s, _ := p.status()
		if m, ok := member(s, "intruder"); ok && m.Voter {
			t.Errorf("the intruder is a voter on %s", p.id)
		}
	}
	if s, ok := bad.status(); !ok || s.Leader != "" || s.AppliedIndex != 0 {
		t.Errorf("the intruder's status: %+v, %v; want no leader, nothing applied", s, ok)
	}
}

// TestTLSOptionErrors checks that a broker with half the TLS options, or
// an unreadable certificate, does not start, and says where the problem is.
func TestTLSOptionErrors(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "cluster")
	p := newProc(t, "tls", "n1", 1, nil)
	p.appendConf("cluster_cafile " + pki.CAFile + "\n")
	b, err := exec.Command(testutil.MidgeBinary(t), "broker", "-c", p.conf).CombinedOutput()
	if want := "midge.conf:14: cluster TLS needs cluster_cafile, cluster_certfile and cluster_keyfile together: cluster_certfile and cluster_keyfile missing"; err == nil || !strings.Contains(string(b), want) {
		t.Errorf("half the TLS options: %v\n%s\nwant %q", err, b, want)
	}
	p.appendConf("cluster_certfile " + pki.Dir + "/missing.crt\ncluster_keyfile " + pki.Dir + "/missing.key\n")
	b, err = exec.Command(testutil.MidgeBinary(t), "broker", "-c", p.conf).CombinedOutput()
	if want := "midge.conf:14: cluster: certificate and key: open "; err == nil || !strings.Contains(string(b), want) {
		t.Errorf("a missing certificate: %v\n%s\nwant %q", err, b, want)
	}
}

// TestGossipKeyProcesses starts two midge brokers with the same
// cluster_gossip_key, and a third without it that never joins them.
func TestGossipKeyProcesses(t *testing.T) {
	t.Parallel()
	const key = "cluster_gossip_key 3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvu8=\n"
	a := newProc(t, "key", "a", 2, nil)
	a.appendConf(key)
	a.start()
	b := newProc(t, "key", "b", 2, []string{a.gossip})
	b.appendConf(key)
	b.start()
	waitFor(t, "two keyed nodes with one leader", func() bool { _, ok := formed(a, b); return ok })
	x := newProc(t, "key", "x", 2, []string{a.gossip, b.gossip})
	x.start()
	waitFor(t, "x's join refused", func() bool { return strings.Contains(x.out.String(), "no seed answers yet") })
	for _, p := range []*proc{a, b} {
		s, _ := p.status()
		if _, ok := member(s, "x"); ok {
			t.Errorf("%s lists x, which has no gossip key", p.id)
		}
	}
	if s, ok := x.status(); !ok || len(s.Members) != 1 || s.Leader != "" {
		t.Errorf("x's status: %+v, %v; want itself only, no leader", s, ok)
	}
}
