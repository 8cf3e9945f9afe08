// Package ceiling computes what a client could achieve at best against a
// portal's two limits: it simulates the earliest schedule of a given number
// of calls that the portal would accept without a refusal, for a client
// with a given number of requests in flight, and returns when the last call
// ends. The benchmarks compare measured imports with it.
//
// The model is the portal's, as b24test implements it: a leaky bucket per
// credential (a request is accepted while the level plus one stays within
// the burst; the level drains at the rate), and per method an operating
// window of equal buckets aligned to the clock (a call is refused when the
// time charged within the window exceeds the budget; a call is charged
// when it ends, to the bucket it ends in). A request carries one or more
// calls, which run one after another; the schedule is greedy (each request
// starts as soon as both limits and a free slot allow, with as many calls
// as it may carry), which is the best schedule for limits that only ever
// delay a start.
package ceiling

import (
	"math"
	"sort"
	"time"
)

// Portal is the portal's limits and the server time of one call.
type Portal struct {
	Rate  float64 // requests per second the bucket drains
	Burst int     // requests the bucket holds
	// Budget of server time per method within Window, summed over Slots
	// equal buckets (zero Budget: no operating limit).
	Budget, Window time.Duration
	Slots          int
	Cost           time.Duration // server time of one call
}

// Run is the work and the client's shape.
type Run struct {
	Calls      int       // calls to run
	PerRequest int       // calls one request carries at most (1: plain calls)
	InFlight   int       // requests in flight at most
	Start      time.Time // the run's start: the portal's buckets are aligned to the clock
}

// Best returns the time from Start until the last call of the best
// schedule ends, and the requests that schedule sends.
func Best(p Portal, r Run) (time.Duration, int) {
	if r.Calls <= 0 {
		return 0, 0
	}
	per := max(r.PerRequest, 1)
	s := sim{p: p, charged: map[int64]float64{}}
	if p.Slots <= 0 {
		s.p.Slots = 10
	}
	s.slot = p.Window.Seconds() / float64(s.p.Slots)
	// Times are seconds from the bucket boundary at or before Start, so
	// they stay small enough for exact bucket arithmetic.
	start := 0.0
	if s.slot > 0 {
		ns := r.Start.UnixNano()
		slotNs := int64(s.slot * 1e9)
		start = float64(ns%slotNs) / 1e9
	}
	slots := make([]float64, max(r.InFlight, 1)) // when each slot is free
	for i := range slots {
		slots[i] = start
	}
	cost := p.Cost.Seconds()
	left, requests := r.Calls, 0
	last := start
	for left > 0 {
		sort.Float64s(slots)
		t := s.earliest(slots[0])
		s.send(t)
		requests++
		// Its calls run one after another while the method is not blocked.
		n := 0
		at := t
		for n < per && left > 0 {
			s.settle(at)
			if n > 0 && s.blocked(at) {
				break
			}
			end := at + cost
			s.pending = append(s.pending, charge{end, cost})
			at = end
			n++
			left--
		}
		slots[0] = at
		last = math.Max(last, at)
	}
	return time.Duration((last - start) * float64(time.Second)), requests
}

type charge struct{ at, seconds float64 }

type sim struct {
	p       Portal
	slot    float64
	level   float64 // bucket level at levelAt
	levelAt float64
	charged map[int64]float64 // bucket index -> seconds charged
	pending []charge          // calls still running, charged when they end
}

// earliest is the first moment at or after t when a request is accepted
// and its first call is not refused.
func (s *sim) earliest(t float64) float64 {
	// A slot that came free before the last send waited for the same
	// limits as that send.
	t = math.Max(t, s.levelAt)
	for {
		if s.p.Rate > 0 {
			lvl := math.Max(0, s.level-(t-s.levelAt)*s.p.Rate)
			if lvl+1 > float64(s.p.Burst)+1e-9 {
				t += (lvl + 1 - float64(s.p.Burst)) / s.p.Rate
				continue
			}
		}
		s.settle(t)
		if !s.blocked(t) {
			return t
		}
		// Blocked: nothing can change before the next bucket boundary but
		// more charges, which only block longer.
		next := (math.Floor(t/s.slot) + 1) * s.slot
		if next <= t {
			next += s.slot
		}
		t = next
	}
}

func (s *sim) send(t float64) {
	if s.p.Rate <= 0 {
		return
	}
	s.level = math.Max(0, s.level-(t-s.levelAt)*s.p.Rate) + 1
	s.levelAt = t
}

// settle charges the calls that have ended by t.
func (s *sim) settle(t float64) {
	if s.p.Budget <= 0 {
		s.pending = s.pending[:0]
		return
	}
	keep := s.pending[:0]
	for _, c := range s.pending {
		if c.at <= t {
			s.charged[int64(math.Floor(c.at/s.slot))] += c.seconds
		} else {
			keep = append(keep, c)
		}
	}
	s.pending = keep
}

// blocked reports whether the method's charged time within the window at t
// exceeds the budget.
func (s *sim) blocked(t float64) bool {
	if s.p.Budget <= 0 {
		return false
	}
	cur := int64(math.Floor(t / s.slot))
	used := 0.0
	for i := cur - int64(s.p.Slots) + 1; i <= cur; i++ { // the window's buckets
		used += s.charged[i]
	}
	return used > s.p.Budget.Seconds()
}
