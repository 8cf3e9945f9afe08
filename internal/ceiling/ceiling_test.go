package ceiling

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var epoch = time.Unix(1_000_000_000, 0) // on a bucket boundary of every grid below

func TestRequestBound(t *testing.T) {
	p := Portal{Rate: 1, Burst: 2, Cost: 10 * time.Millisecond}
	d, reqs := Best(p, Run{Calls: 10, PerRequest: 1, InFlight: 8, Start: epoch})
	// Two at once, then one a second: the tenth starts at 8 s.
	assert.Equal(t, 10, reqs)
	assert.InDelta(t, 8.01, d.Seconds(), 1e-6)

	d, reqs = Best(p, Run{Calls: 500, PerRequest: 50, InFlight: 2, Start: epoch})
	assert.Equal(t, 10, reqs, "packed: 50 calls a request")
	assert.InDelta(t, 8.5, d.Seconds(), 1e-6, "the last request's 50 calls run one after another")
}

func TestConcurrencyBound(t *testing.T) {
	p := Portal{Cost: time.Second}
	d, reqs := Best(p, Run{Calls: 10, PerRequest: 1, InFlight: 3, Start: epoch})
	assert.Equal(t, 10, reqs)
	assert.InDelta(t, 4, d.Seconds(), 1e-6, "ceil(10/3) rounds of a second")
}

func TestOperatingBound(t *testing.T) {
	p := Portal{Budget: 10 * time.Second, Window: 100 * time.Second, Slots: 10, Cost: time.Second}
	d, _ := Best(p, Run{Calls: 15, PerRequest: 1, InFlight: 1, Start: epoch})
	// Calls end at 1..11 s; at 11 s the window holds 11 s > 10 s: blocked
	// until the first bucket (9 s) drops out at 100 s; four more follow.
	assert.InDelta(t, 104, d.Seconds(), 1e-6)

	// Packed: the request stops at the refused call; the next one waits.
	d, reqs := Best(p, Run{Calls: 15, PerRequest: 50, InFlight: 1, Start: epoch})
	assert.InDelta(t, 104, d.Seconds(), 1e-6)
	assert.Equal(t, 2, reqs)
}

func TestBucketPhase(t *testing.T) {
	p := Portal{Budget: 10 * time.Second, Window: 100 * time.Second, Slots: 10, Cost: time.Second}
	// Starting 5 s into a bucket: calls end at 6..16; the bucket [0,10)
	// holds 4 s and drops out at 100 s, after which 4 s are free again.
	d, _ := Best(p, Run{Calls: 15, PerRequest: 1, InFlight: 1, Start: epoch.Add(5 * time.Second)})
	assert.InDelta(t, 99, d.Seconds(), 1e-6)
}

// The cloud's limits scaled by 40, as the benchmark uses them, at a start
// time far from the epoch: the schedule ends, after the first bucket of
// the window drops out.
func TestCloudScaleTerminates(t *testing.T) {
	p := Portal{Rate: 80, Burst: 50, Budget: 12 * time.Second, Window: 15 * time.Second, Slots: 10, Cost: 20 * time.Millisecond}
	for _, c := range []int{1, 8} {
		d, reqs := Best(p, Run{Calls: 723, PerRequest: 1, InFlight: c, Start: time.Unix(1_796_157_876, 964_170_200)})
		assert.Equal(t, 723, reqs)
		assert.Greater(t, d, 13*time.Second, "the budget of 600 calls runs out: wait for the window")
		assert.Less(t, d, 20*time.Second)
	}
}
