package b24test

import (
	"sync"
	"time"
)

// bucketSet is the portal's leaky bucket, one per credential: each request
// adds one, the level drains at rate per second, and a request that would
// lift it above burst is refused.
type bucketSet struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	m     map[string]*leaky
	peak  float64 // the highest level after an accepted request
}

// peakLevel returns the highest level any bucket reached.
func (b *bucketSet) peakLevel() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

type leaky struct {
	level float64
	last  time.Time
}

func newBucketSet(rate float64, burst int) *bucketSet {
	return &bucketSet{rate: rate, burst: float64(burst), m: make(map[string]*leaky)}
}

// allow adds one request for key unless that would overflow the bucket.
func (b *bucketSet) allow(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.m[key]
	if l == nil {
		l = &leaky{last: now}
		b.m[key] = l
	}
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.level = max(0, l.level-el*b.rate)
		l.last = now
	}
	if l.level+1 > b.burst+1e-9 {
		return false
	}
	l.level++
	b.peak = max(b.peak, l.level)
	return true
}

// opSlots is the number of buckets in the operating window, as on the portal.
const opSlots = 10

// opLimiter sums the server time each credential spends in each method over
// a rolling window of opSlots buckets.
type opLimiter struct {
	mu       sync.Mutex
	budget   time.Duration
	window   time.Duration
	slot     time.Duration
	minCount time.Duration
	m        map[string]*opRing
}

type opRing struct {
	idx  [opSlots]int64 // absolute slot number held in each position
	used [opSlots]time.Duration
}

func newOpLimiter(budget, window time.Duration) *opLimiter {
	slot := max(window/opSlots, 1)
	return &opLimiter{budget: budget, window: window, slot: slot, minCount: window / 6000, m: make(map[string]*opRing)}
}

// usage returns the time key spent within the window and when the oldest
// counted slot drops out (a window after the current slot began when
// nothing counts).
func (o *opLimiter) usage(key string, now time.Time) (used time.Duration, resetAt time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.usageLocked(key, now)
}

func (o *opLimiter) usageLocked(key string, now time.Time) (time.Duration, time.Time) {
	cur := now.UnixNano() / int64(o.slot)
	oldest := cur
	var used time.Duration
	if r := o.m[key]; r != nil {
		for i := range opSlots {
			if r.used[i] > 0 && r.idx[i] > cur-opSlots && r.idx[i] <= cur {
				used += r.used[i]
				oldest = min(oldest, r.idx[i])
			}
		}
	}
	return used, time.Unix(0, (oldest+opSlots)*int64(o.slot))
}

// blocked reports whether key has already spent more than the budget.
func (o *opLimiter) blocked(key string, now time.Time) (bool, time.Duration, time.Time) {
	used, reset := o.usage(key, now)
	return used > o.budget, used, reset
}

// charge records d for key unless it is below the counting threshold, and
// returns the new usage.
func (o *opLimiter) charge(key string, d time.Duration, now time.Time) (time.Duration, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d >= o.minCount && d > 0 {
		cur := now.UnixNano() / int64(o.slot)
		r := o.m[key]
		if r == nil {
			r = &opRing{}
			o.m[key] = r
		}
		pos := int(cur % opSlots)
		if r.idx[pos] != cur {
			r.idx[pos], r.used[pos] = cur, 0
		}
		r.used[pos] += d
	}
	return o.usageLocked(key, now)
}
