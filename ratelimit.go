package b24

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/b24kit/b24/internal/budget"
	"github.com/b24kit/b24/internal/wire"
	"golang.org/x/time/rate"
)

// Limiter paces requests to a portal. Wait blocks until one request may be
// sent or ctx is done. Implementations must be safe for concurrent use;
// share one between all clients of a portal (and source IP), because the
// portal counts requests per portal, not per client.
//
// The client measures the pace at which Wait lets its requests go when
// they have to wait, and imports size their packed requests by that pace
// rather than by the configured rate: a limiter shared by three processes
// grants each about a third of the portal's rate, and each packs as if
// the rate were a third. A Limiter needs nothing extra for that.
//
// API docs: https://apidocs.bitrix24.com/limits.html
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
	return &tokenBucket{lim: rate.NewLimiter(rate.Limit(perSecond), budget.SafeBurst(burst))}
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
// limit (seconds of server time per method in a rolling window).
//
// Acquire blocks until a request that counts as n calls of method may be
// sent, or ctx is done, like [rate.Limiter.WaitN]: a plain call is n = 1, a
// batch request packing n crm.item.batchImport commands is n, because the
// portal charges each command to the method. It returns a release function
// that the caller must call once with the answer's time block (nil when the
// answer had none) and whether the portal refused the call with
// OPERATION_TIME_LIMIT. Implementations must be safe for concurrent use.
//
// API docs: https://apidocs.bitrix24.com/limits.html
type OperatingBudget interface {
	Acquire(ctx context.Context, method string, n int) (release func(t *ResponseTime, blocked bool), err error)
}

// ResponseTime is the "time" block of a portal answer, as an
// [OperatingBudget] receives it: Start, Finish (unix seconds), Duration,
// Processing, and where the portal enforces the operating-time limit
// Operating (seconds used in the window), OperatingResetAt and HasOperating.
type ResponseTime = wire.ResponseTime

// NewOperatingBudget returns an in-process [OperatingBudget] for a portal
// that allows budget seconds per method within window.
func NewOperatingBudget(budget, window time.Duration) OperatingBudget {
	return newOperatingBudget(budget, window, time.Now)
}

func newOperatingBudget(perWindow, window time.Duration, now func() time.Time) *budget.Local {
	return budget.New(perWindow, window, now)
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
func sleepCtx(ctx context.Context, d time.Duration) error { return budget.Sleep(ctx, d, nil) }

// rateMeter measures the pace at which the limiter grants this client's
// requests while they have to wait for it. A limiter shared with other
// clients or processes (b24redis) grants each of them a share of the
// portal's rate; the import engine sizes its packs by that share, which no
// configured value tells.
type rateMeter struct {
	mu       sync.Mutex
	last     time.Time // the latest grant
	interval float64   // moving average of seconds between held grants; 0: none seen
}

// minHeld is the shortest limiter wait that counts as held: below it the
// limiter did not pace the request.
const minHeld = time.Millisecond

// observe records one grant: asked is when the request asked, granted when
// the limiter let it go. Only a grant the limiter held back tells its pace:
// it came as soon as the limiter allowed, one interval after the grant
// before it.
func (m *rateMeter) observe(asked, granted time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.last
	m.last = granted
	if prev.IsZero() || granted.Sub(asked) < minHeld || !granted.After(prev) {
		return
	}
	iv := granted.Sub(prev).Seconds()
	if m.interval == 0 {
		m.interval = iv
	} else {
		m.interval = 0.8*m.interval + 0.2*iv
	}
}

// rate is the measured requests per second (0: not measured yet).
func (m *rateMeter) rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.interval <= 0 {
		return 0
	}
	return 1 / m.interval
}

// requestRate is the request rate this client gets: the limiter's measured
// pace once it has held a request back, else the configured rate.
func (c *Client) requestRate() float64 {
	if r := c.grants.rate(); r > 0 {
		return r
	}
	return c.rate
}
