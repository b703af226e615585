package systree

import (
	"testing"
	"time"
)

// $SYS is published at multiples of sys_interval in Unix time, as
// Mosquitto 2.1 does.
func TestSysWait(t *testing.T) {
	base := time.Unix(1_700_000_000, 0) // a multiple of 10 s
	for _, c := range []struct {
		now   time.Time
		every time.Duration
		want  time.Duration
	}{
		{base, 10 * time.Second, 10 * time.Second},
		{base.Add(3 * time.Second), 10 * time.Second, 7 * time.Second},
		{base.Add(9*time.Second + 999*time.Millisecond), 10 * time.Second, time.Millisecond},
		{base.Add(1500 * time.Millisecond), time.Second, 500 * time.Millisecond},
		{base.Add(5 * time.Second), 7 * time.Second, 7*time.Second - time.Duration(base.Add(5*time.Second).Unix()%7)*time.Second},
		{base, 0, time.Second},
	} {
		if got := Wait(c.now, c.every); got != c.want {
			t.Errorf("Wait(%v, %v) = %v, want %v", c.now.Unix(), c.every, got, c.want)
		}
		if c.every > 0 && c.now.Add(Wait(c.now, c.every)).UnixNano()%int64(c.every) != 0 {
			t.Errorf("Wait(%v, %v) does not end on a multiple", c.now.Unix(), c.every)
		}
	}
}
