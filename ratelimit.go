package b24

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces requests to a portal. Wait blocks until one request may be
// sent or ctx is done. Implementations must be safe for concurrent use;
// share one between all clients of a portal (and source IP), because the
// portal counts requests per portal, not per client.
type Limiter interface {
	Wait(ctx context.Context) error
}

// tokenBucket is the in-process [Limiter], a token bucket from x/time/rate.
type tokenBucket struct{ lim *rate.Limiter }

// NewLimiter returns an in-process limiter for a portal whose leaky bucket
// drains perSecond requests per second and refuses requests above burst.
// It keeps a tenth of burst (at least one request) in reserve, so requests
// that arrive at the portal closer together than they were sent (network
// jitter) cannot overflow the portal's bucket. Non-positive values fall back
// to the cloud defaults, 2 per second and 50.
func NewLimiter(perSecond float64, burst int) Limiter {
	if !(perSecond > 0) {
		perSecond = 2
	}
	if burst < 1 {
		burst = 50
	}
	return &tokenBucket{lim: rate.NewLimiter(rate.Limit(perSecond), safeBurst(burst))}
}

// safeBurst is burst less the jitter reserve.
func safeBurst(burst int) int {
	reserve := max(burst/10, 1)
	if burst-reserve < 1 {
		return 1
	}
	return burst - reserve
}

func (b *tokenBucket) Wait(ctx context.Context) error {
	if err := b.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The wait would outlast ctx's deadline: report it as the deadline.
		return fmt.Errorf("b24: rate limiter: %w", context.DeadlineExceeded)
	}
	return nil
}

// OperatingBudget paces each method against the portal's operating-time
// limit (seconds of server time per method in a rolling window). Acquire
// blocks until method may be called and returns a release function that the
// caller must call once with the answer's time block (nil when the answer
// had none) and whether the portal refused the call with
// OPERATION_TIME_LIMIT. Implementations must be safe for concurrent use.
type OperatingBudget interface {
	Acquire(ctx context.Context, method string) (release func(t *ResponseTime, blocked bool), err error)
}

// NewOperatingBudget returns an in-process [OperatingBudget] for a portal
// that allows budget seconds per method within window.
func NewOperatingBudget(budget, window time.Duration) OperatingBudget {
	return newOperatingBudget(budget, window, time.Now)
}

// operatingBudget tracks, per method, the portal's latest reading of
// consumed time plus the calls in flight, and holds calls back when
// starting another could cross the limit.
//
// A call is admitted while the reading plus one cost per call in flight
// plus its own cost fits in the budget. The portal refuses a call only when
// the time already consumed exceeds the budget, so a call that crosses it
// would still run, but a packed request is many calls to the portal: the
// commands after the crossing one would be refused. Only a call that can
// never fit (it costs the whole budget) goes alone while the reading is
// under the budget. Readings within one
// reset period (same operating_reset_at) can only grow, because nothing
// dropped out of the window in between: the largest one counts, whatever
// order the answers arrive in.
type operatingBudget struct {
	budget, window float64 // seconds
	now            func() time.Time

	mu      sync.Mutex
	methods map[string]*methodState
}

type methodState struct {
	operating float64   // consumed seconds per the latest reading period
	period    time.Time // operating_reset_at of that reading; zero if not reported
	readAt    float64   // portal's finish time of that reading (unix s), when period is zero
	recheck   time.Time // no reset time reported: when to look again
	probing   bool      // the period ended: one call at a time until a newer reading
	inflight  int       // calls in flight, counted in weight units
	calls     int       // requests in flight
	cost      float64   // server time of one unit, seconds: up at once, down slowly
	blocked   time.Time // refused by the portal until then
	changed   chan struct{}
}

func newOperatingBudget(budget, window time.Duration, now func() time.Time) *operatingBudget {
	return &operatingBudget{
		budget: budget.Seconds(), window: window.Seconds(), now: now,
		methods: map[string]*methodState{},
	}
}

func (b *operatingBudget) state(method string) *methodState {
	m := b.methods[method]
	if m == nil {
		m = &methodState{changed: make(chan struct{})}
		b.methods[method] = m
	}
	return m
}

// Acquire implements [OperatingBudget].
func (b *operatingBudget) Acquire(ctx context.Context, method string) (func(*ResponseTime, bool), error) {
	for {
		b.mu.Lock()
		m := b.state(method)
		w := callWeight(ctx)
		wait, until := b.admit(m, w)
		if !wait {
			m.inflight += w
			m.calls++
			b.mu.Unlock()
			return b.releaser(method, w), nil
		}
		changed := m.changed
		b.mu.Unlock()
		if err := waitUntil(ctx, b.now, until, changed); err != nil {
			return nil, err
		}
	}
}

// weightKey carries a call's weight in its context.
type weightKey struct{}

// withCallWeight marks the calls made with ctx as n calls of the method to
// the portal each: a batch request packing n commands. The in-process
// budget then admits the request only when all n fit, and learns the cost
// of one command from it. Other OperatingBudget implementations may ignore
// it.
func withCallWeight(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, weightKey{}, max(n, 1))
}

// callWeight is the weight set by withCallWeight, else 1.
func callWeight(ctx context.Context) int {
	if n, ok := ctx.Value(weightKey{}).(int); ok && n > 0 {
		return n
	}
	return 1
}

// resetSlack is added to the portal's reset time before a probe, for clock
// differences between the portal and this host.
const resetSlack = 50 * time.Millisecond

// admit decides under b.mu whether a call may start now; if not it returns
// the time to re-check (zero: when something changes).
func (b *operatingBudget) admit(m *methodState, w int) (wait bool, until time.Time) {
	now := b.now()
	if now.Before(m.blocked) {
		return true, m.blocked
	}
	if m.probing {
		// The oldest part of the window dropped out; how much it held is
		// unknown, so one call at a time brings back a fresh reading.
		return m.calls > 0, time.Time{}
	}
	predicted := m.operating + float64(m.inflight+w)*m.cost
	if predicted <= b.budget || m.calls == 0 && m.operating < b.budget && float64(w)*m.cost >= b.budget {
		return false, time.Time{}
	}
	if !m.period.IsZero() && !now.Before(m.period.Add(resetSlack)) {
		m.probing = true
		return m.calls > 0, time.Time{}
	}
	if m.calls > 0 {
		return true, time.Time{} // a reading is on its way
	}
	if !m.period.IsZero() {
		return true, m.period.Add(resetSlack)
	}
	// No reset time reported: look again after a tenth of the window.
	if m.recheck.IsZero() {
		m.recheck = now.Add(time.Duration(b.window / 10 * float64(time.Second)))
	}
	if !now.Before(m.recheck) {
		m.recheck = time.Time{}
		m.probing = true
		return false, time.Time{}
	}
	return true, m.recheck
}

func (b *operatingBudget) releaser(method string, w int) func(*ResponseTime, bool) {
	var once sync.Once
	return func(t *ResponseTime, blocked bool) {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			m := b.state(method)
			m.inflight -= w
			m.calls--
			if blocked {
				until := b.now().Add(time.Duration(b.window / 10 * float64(time.Second)))
				if t != nil && !t.OperatingResetAt.IsZero() {
					until = t.OperatingResetAt.Add(time.Second)
				} else if !m.period.IsZero() && m.period.After(b.now()) {
					until = m.period.Add(time.Second)
				}
				m.blocked = until
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

// observe folds one answer's time block, for a call of weight w, into the
// method's state. A refused call's time block carries a reading but no
// cost. The cost estimate follows a dearer call at once and a cheaper one
// slowly: underestimating it lets too many calls start, which the portal
// refuses; overestimating it only leaves a little budget unused.
func (b *operatingBudget) observe(m *methodState, t *ResponseTime, refused bool, w int) {
	spent := t.Processing
	if spent <= 0 {
		spent = t.Duration
	}
	if spent > 0 && !refused {
		unit := spent / float64(max(w, 1))
		if unit >= m.cost {
			m.cost = unit
		} else {
			m.cost = 0.9*m.cost + 0.1*unit
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
			return
		}
		m.period, m.operating, m.probing = reset, t.Operating, false
		m.recheck = time.Time{}
		return
	}
	stamp := t.Finish
	if stamp == 0 {
		stamp = t.Start
	}
	if stamp < m.readAt {
		return // an older answer overtaken by a newer one
	}
	m.readAt = stamp
	m.operating = t.Operating
	m.probing = false
	m.recheck = time.Time{}
}

// waitUntil blocks until the deadline passes (zero: no deadline), changed
// is closed, or ctx is done.
func waitUntil(ctx context.Context, now func() time.Time, deadline time.Time, changed <-chan struct{}) error {
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

// RetryPolicy bounds the retries of requests that the portal refused before
// executing them (and of reads whose outcome is unknown). Zero fields take
// the defaults.
type RetryPolicy struct {
	MaxAttempts    int           // attempts per call, first included; default 8
	BaseDelay      time.Duration // first backoff; default 500ms, doubling per attempt
	MaxDelay       time.Duration // backoff cap; default 30s
	AttemptTimeout time.Duration // one attempt's limit; default 75s (the portal cuts at 60s)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 8
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = 75 * time.Second
	}
	return p
}

// backoff returns the wait after the given failed attempt (1-based):
// exponential with "equal jitter", so waits never collapse to zero.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
