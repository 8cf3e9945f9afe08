package main

import (
	"testing"
	"time"
)

func TestSettleDelay(t *testing.T) {
	now := time.Unix(10_000, 0)
	cases := []struct {
		name      string
		lastWrite time.Time
		wait      time.Duration
		want      time.Duration
	}{
		{"fresh journal waits the rest", now.Add(-10 * time.Second), 75 * time.Second, 65 * time.Second},
		{"old journal does not wait", now.Add(-2 * time.Minute), 75 * time.Second, 0},
		{"waiting disabled", now, 0, 0},
		{"no journal", time.Time{}, 75 * time.Second, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := settleDelay(tc.lastWrite, now, tc.wait); got != tc.want {
				t.Fatalf("settleDelay = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEnvDuration(t *testing.T) {
	if d := envDuration("0", time.Minute); d != 0 {
		t.Fatalf("0 gave %v", d)
	}
	if d := envDuration("bogus", time.Minute); d != time.Minute {
		t.Fatalf("bogus gave %v", d)
	}
	if d := envDuration("-5s", time.Minute); d != time.Minute {
		t.Fatalf("negative gave %v", d)
	}
}
