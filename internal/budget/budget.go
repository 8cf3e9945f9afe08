// Package budget holds the pacing rules the in-process limits and b24redis
// share: the operating-time budget's algorithm (Local), the burst reserve
// of the request-rate limiters, how a time block is read as spent server
// time, and the cancellable waits every one of them uses.
package budget

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/b24kit/b24/internal/wire"
)

// SafeBurst is burst less the jitter reserve: a tenth of the burst, at
// least one request, so that requests arriving at the portal closer
// together than they were sent cannot overflow its bucket.
func SafeBurst(burst int) int {
	reserve := max(burst/10, 1)
	if burst-reserve < 1 {
		return 1
	}
	return burst - reserve
}

// Spent reads a time block as the server seconds a call used (processing,
// else the duration) and the portal time it ended at (finish, else start).
func Spent(t *wire.ResponseTime) (seconds, stamp float64) {
	seconds = t.Processing
	if seconds <= 0 {
		seconds = t.Duration
	}
	stamp = t.Finish
	if stamp == 0 {
		stamp = t.Start
	}
	return seconds, stamp
}

// Sleep waits for d, until wake is closed (nil: never) or ctx is done.
func Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-wake:
	}
	return nil
}

// Local is the in-process operating budget. It tracks, per method, the
// portal's latest reading of consumed time plus the calls in flight, and
// holds calls back when starting another could cross the limit. It is safe
// for concurrent use.
//
// A call is admitted while the reading plus one cost per call in flight
// plus its own cost fits in the budget. The portal refuses a call only when
// the time already consumed exceeds the budget, so a call that crosses it
// would still run, but a packed request is many calls to the portal: the
// commands after the crossing one would be refused. Only a call that can
// never fit (it costs the whole budget) goes alone while the reading is
// under the budget.
//
// Readings within one reset period (same operating_reset_at) can only
// grow, because nothing dropped out of the window in between: the largest
// one counts, whatever order the answers arrive in. Between readings the
// budget keeps a ledger of its own calls (portal start and finish times,
// server time), so when a tenth of the window drops out it knows how much
// of its own spending went with it and sends exactly what fits, rather
// than a blind probe that a packed request could overrun. Only when the
// reading holds time the ledger cannot explain (another client, calls from
// before this process) does one call go alone to fetch a fresh reading.
type Local struct {
	budget, window float64 // seconds
	now            func() time.Time

	mu      sync.Mutex
	methods map[string]*methodState
	// skew is how far this host's clock is ahead of the portal's, plus the
	// shortest trip of an answer (local arrival less the portal's finish
	// time, the least seen within a window): portal times plus skew are
	// local times at which the portal's moment has surely passed.
	skew   float64
	skewAt time.Time // when skew was last lowered or reset; zero: unknown
}

type methodState struct {
	operating float64   // consumed seconds per the latest reading
	period    time.Time // operating_reset_at of that reading; zero if not reported
	readStamp float64   // portal's finish time of that reading (unix s); 0: none yet
	readLocal time.Time // when that reading arrived
	probing   bool      // one call at a time until a newer reading
	inflight  int       // calls in flight, counted in weight units
	calls     int       // requests in flight
	cost      float64   // server time of one unit, seconds: up at once, down slowly
	blocked   time.Time // refused by the portal until then
	ledger    []spend   // this budget's own finished calls, oldest first
	changed   chan struct{}
}

// spend is one finished call in the ledger, in the portal's clock.
type spend struct{ start, finish, seconds float64 }

// maxLedger bounds the ledger; losing old entries only makes the budget
// more careful.
const maxLedger = 4096

// windowSlots is how many buckets the portal sums over its window.
const windowSlots = 10

// New returns a budget for a portal that allows budget seconds of server
// time per method within window. now is its clock (nil: time.Now).
func New(budget, window time.Duration, now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{
		budget: budget.Seconds(), window: window.Seconds(), now: now,
		methods: map[string]*methodState{},
	}
}

func (b *Local) state(method string) *methodState {
	m := b.methods[method]
	if m == nil {
		m = &methodState{changed: make(chan struct{})}
		b.methods[method] = m
	}
	return m
}

// Acquire blocks until a request that counts as n calls of method may
// start (a packed batch request of n commands weighs n), or ctx is done.
// The returned function must be called once with the answer's time block
// (nil when it had none) and whether the portal refused the call with
// OPERATION_TIME_LIMIT.
func (b *Local) Acquire(ctx context.Context, method string, n int) (func(*wire.ResponseTime, bool), error) {
	return b.AcquireWatched(ctx, method, n, nil)
}

// AcquireWatched is Acquire that also tells watch, before each wait, until
// when the call is held back (zero: until a call in flight ends). watch
// may be nil; it must return quickly.
func (b *Local) AcquireWatched(ctx context.Context, method string, n int, watch func(until time.Time)) (func(*wire.ResponseTime, bool), error) {
	w := max(n, 1)
	for {
		b.mu.Lock()
		m := b.state(method)
		wait, until := b.admit(m, w)
		if !wait {
			m.inflight += w
			m.calls++
			b.mu.Unlock()
			return b.releaser(method, w), nil
		}
		changed := m.changed
		b.mu.Unlock()
		if watch != nil {
			watch(until)
		}
		if err := WaitUntil(ctx, b.now, until, changed); err != nil {
			return nil, err
		}
	}
}

// resetSlack is added to the portal's bucket boundaries before relying on
// them, for clock differences between the portal and this host.
const resetSlack = 50 * time.Millisecond

// admit decides under b.mu whether a call of weight w may start now; if not
// it returns the time to re-check (it is also woken when a call ends).
func (b *Local) admit(m *methodState, w int) (wait bool, until time.Time) {
	now := b.now()
	if now.Before(m.blocked) {
		return true, m.blocked
	}
	if m.probing {
		return m.calls > 0, time.Time{}
	}
	need := float64(m.inflight+w) * m.cost
	alone := m.calls == 0 && float64(w)*m.cost >= b.budget
	if m.operating+need <= b.budget || alone && m.operating < b.budget {
		return false, time.Time{} // fits even if nothing dropped out
	}
	est, unknown, obsolete := b.estimate(m, now)
	if obsolete {
		// Every bucket of the reading dropped out: one call fetches the
		// state of a window this client knows nothing about.
		m.probing = true
		return m.calls > 0, time.Time{}
	}
	if est+need <= b.budget || alone && est < b.budget {
		return false, time.Time{}
	}
	due := !m.period.IsZero() && !now.Before(b.local(m.period).Add(resetSlack)) ||
		m.period.IsZero() && !now.Before(m.readLocal.Add(b.slot()))
	if due && unknown > max(2*m.cost, b.budget/50) {
		// Part of the reading is not this client's doing and some of the
		// window has dropped out since: one call fetches a fresh reading.
		m.probing = true
		return m.calls > 0, time.Time{}
	}
	return true, b.nextDrop(m, now)
}

// slot is the length of one of the portal's buckets.
func (b *Local) slot() time.Duration {
	return time.Duration(b.window / windowSlots * float64(time.Second))
}

// blockSlack is how long after the portal's reset time a refused method
// waits: a second at the cloud's one-minute buckets, for clocks that
// disagree, and a tenth of a bucket when buckets are shorter (tests).
func (b *Local) blockSlack() time.Duration {
	return min(time.Second, b.slot()/10)
}

// grid returns the floor function of the portal's bucket boundaries (unix
// seconds), aligned to the reported reset time when there is one.
func (b *Local) grid(m *methodState) func(float64) float64 {
	s := b.window / windowSlots
	phase := 0.0
	if !m.period.IsZero() {
		p := unixSeconds(m.period)
		phase = p - math.Floor(p/s)*s
		if phase > s-1e-6 {
			phase = 0
		}
	}
	return func(x float64) float64 { return phase + math.Floor((x-phase)/s)*s }
}

// estimate returns the consumed time now: the reading less this client's
// own calls in the buckets that dropped out since; the part of the reading
// the ledger does not explain; and whether the whole reading is obsolete.
func (b *Local) estimate(m *methodState, now time.Time) (est, unknown float64, obsolete bool) {
	if m.readStamp == 0 {
		return m.operating, 0, false
	}
	floor := b.grid(m)
	span := (windowSlots - 1) * b.window / windowSlots
	first := floor(m.readStamp) - span // the reading's oldest bucket
	// Buckets starting before cut have dropped out by now.
	cut := floor(b.portalNow(now)-resetSlack.Seconds()) - span
	if cut > floor(m.readStamp) {
		return 0, 0, true
	}
	var own, gone float64
	for _, c := range m.ledger {
		if c.start < first || c.finish > m.readStamp {
			continue // not (surely) in the reading
		}
		own += c.seconds
		if c.finish < cut {
			gone += c.seconds
		}
	}
	return max(m.operating-gone, 0), max(m.operating-own, 0), false
}

// nextDrop is when the next bucket that may hold time drops out.
func (b *Local) nextDrop(m *methodState, now time.Time) time.Time {
	floor := b.grid(m)
	next := floor(b.portalNow(now)-resetSlack.Seconds()) + b.window/windowSlots
	at := b.local(time.Unix(0, int64(next*1e9))).Add(resetSlack)
	if p := b.local(m.period); p.After(at) {
		at = p.Add(resetSlack) // nothing older holds time
	}
	return at
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// observeSkew folds one answer's finish time into skew.
func (b *Local) observeSkew(t *wire.ResponseTime) {
	if t.Finish <= 0 {
		return
	}
	now := b.now()
	d := unixSeconds(now) - t.Finish
	stale := now.Sub(b.skewAt) > time.Duration(b.window*float64(time.Second))
	if b.skewAt.IsZero() || d < b.skew || stale {
		b.skew, b.skewAt = d, now
	}
}

// portalNow is the portal's clock now, at the earliest it can be.
func (b *Local) portalNow(now time.Time) float64 { return unixSeconds(now) - b.skew }

// local converts a portal time to the local time by which it has surely
// passed.
func (b *Local) local(p time.Time) time.Time {
	if p.IsZero() {
		return p
	}
	return p.Add(time.Duration(b.skew * float64(time.Second)))
}

func (b *Local) releaser(method string, w int) func(*wire.ResponseTime, bool) {
	var once sync.Once
	return func(t *wire.ResponseTime, blocked bool) {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			m := b.state(method)
			m.inflight -= w
			m.calls--
			if t != nil {
				// First, so that a refusal that is the portal's first answer
				// converts its reset time with the skew it shows.
				b.observeSkew(t)
			}
			if blocked {
				m.blocked = b.blockedUntil(m, t)
				m.operating = max(m.operating, b.budget)
			}
			if t != nil {
				b.observe(m, t, blocked, w)
			}
			if blocked {
				m.probing = true // after the block, one call tests the water
			}
			close(m.changed)
			m.changed = make(chan struct{})
		})
	}
}

// blockedUntil is when a method the portal refused with
// OPERATION_TIME_LIMIT may be tried again: the reset its refusal reported,
// else the reset of the method's own last reading, else the end of the
// portal's current bucket (the earliest moment any time can drop out). A
// refused command of a packed request reports none: the batch envelope's
// time is the batch wrapper's own, not the method's, and must not be
// passed here (see batchTime in the b24 package).
func (b *Local) blockedUntil(m *methodState, t *wire.ResponseTime) time.Time {
	now := b.now()
	if t != nil && !t.OperatingResetAt.IsZero() && b.local(t.OperatingResetAt).After(now) {
		return b.local(t.OperatingResetAt).Add(b.blockSlack())
	}
	if !m.period.IsZero() && b.local(m.period).After(now) {
		return b.local(m.period).Add(b.blockSlack())
	}
	floor := b.grid(m)
	next := floor(b.portalNow(now)) + b.window/windowSlots
	return b.local(time.Unix(0, int64(next*1e9))).Add(b.blockSlack())
}

// BlockedUntil reports until when method is held after a refusal by the
// portal (zero: not held). It is for tests and diagnostics.
func (b *Local) BlockedUntil(method string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.methods[method]; m != nil && b.now().Before(m.blocked) {
		return m.blocked
	}
	return time.Time{}
}

// observe folds one answer's time block, for a call of weight w, into the
// method's state. A refused call's time block carries a reading but no
// cost. The cost estimate follows a dearer call at once and a cheaper one
// slowly: underestimating it lets too many calls start, which the portal
// refuses; overestimating it only leaves a little budget unused.
func (b *Local) observe(m *methodState, t *wire.ResponseTime, refused bool, w int) {
	spent, stamp := Spent(t)
	if spent > 0 && !refused {
		unit := spent / float64(max(w, 1))
		if unit >= m.cost {
			m.cost = unit
		} else {
			m.cost = 0.9*m.cost + 0.1*unit
		}
		if stamp > 0 {
			// A packed request's commands ran one after another, ending at
			// stamp: the first may have started spent before.
			start := stamp - spent
			if t.Start > 0 {
				start = min(start, t.Start)
			}
			if len(m.ledger) >= maxLedger {
				m.ledger = append(m.ledger[:0], m.ledger[len(m.ledger)/2:]...)
			}
			m.ledger = append(m.ledger, spend{start, stamp, spent})
			keep := stamp - 2*b.window
			i := 0
			for i < len(m.ledger) && m.ledger[i].finish < keep {
				i++
			}
			m.ledger = m.ledger[i:]
		}
	}
	if !t.HasOperating {
		return
	}
	if reset := t.OperatingResetAt; !reset.IsZero() {
		switch {
		case reset.Before(m.period):
			return // taken before the window last moved on
		case reset.Equal(m.period):
			// Same period: nothing dropped out in between, so the larger
			// reading is the later one. It does not end a probe: the probe
			// waits for the next period.
			m.operating = max(m.operating, t.Operating)
			m.readStamp = max(m.readStamp, stamp)
			return
		}
		m.period, m.operating, m.probing = reset, t.Operating, false
		m.readStamp, m.readLocal = stamp, b.now()
		return
	}
	if stamp < m.readStamp {
		return // an older answer overtaken by a newer one
	}
	m.operating, m.readStamp, m.readLocal = t.Operating, stamp, b.now()
	m.probing = false
}

// WaitUntil blocks until the deadline passes (zero: no deadline), changed
// is closed, or ctx is done.
func WaitUntil(ctx context.Context, now func() time.Time, deadline time.Time, changed <-chan struct{}) error {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		d := deadline.Sub(now())
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer:
	case <-changed:
	}
	return nil
}
