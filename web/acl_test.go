package web_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestStatsFollowACL is the regression test for non-administrators reading
// $SYS values through /api/v1/stats, the live stream and /metrics although
// their ACL denies $SYS: bob may read home/# only, so he gets no $SYS
// value, no graph samples and no metrics; alice, an administrator, gets
// them all.
func TestStatsFollowACL(t *testing.T) {
	t.Parallel()
	e := start(t, true)
	type stats struct {
		Series []map[string]any
		Sys    map[string]string
	}
	var st stats
	a := e.login("alice")
	testutil.WaitFor(t, "a stats sample", func() bool {
		st = stats{}
		a.do("GET", "/api/v1/stats", nil, &st)
		return len(st.Series) > 0
	})
	if st.Sys["$SYS/broker/uptime"] == "" {
		t.Errorf("administrator's stats lack $SYS values: %+v", st.Sys)
	}
	b := e.login("bob")
	st = stats{}
	if code := b.do("GET", "/api/v1/stats", nil, &st); code != 200 || len(st.Sys) != 0 || len(st.Series) != 0 {
		t.Errorf("bob's stats: %d, %d $SYS values %v, %d samples; want none", code, len(st.Sys), st.Sys, len(st.Series))
	}
	for _, u := range []struct {
		name string
		want int
	}{{"alice", 200}, {"bob", http.StatusForbidden}} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/metrics", nil)
		req.SetBasicAuth(u.name, u.name+"-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != u.want {
			t.Errorf("/metrics for %s: %d, want %d", u.name, resp.StatusCode, u.want)
		}
	}

	// The live stream: alice gets "stats" events, bob none (the samples
	// come every 20ms; wait for alice's, then for several of bob's periods).
	events := func(u string) (stats bool) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/events", nil)
		req.SetBasicAuth(u, u+"-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		deadline := time.AfterFunc(time.Second, func() { resp.Body.Close() })
		defer deadline.Stop()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: stats") {
				return true
			}
		}
		return false
	}
	if !events("alice") {
		t.Error("alice's live stream has no stats events")
	}
	if events("bob") {
		t.Error("bob's live stream has stats events")
	}
}
