package b24redis

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Option configures [NewLimiter], [NewOperatingBudget] and [NewTokenStore].
// Options are applied in full before anything is built, so their order
// never matters; an invalid value makes the constructor return an error.
// An option that does not concern a constructor is ignored by it.
type Option func(*config) error

type config struct {
	prefix    string
	rate      float64
	burst     int
	opBudget  time.Duration
	opWindow  time.Duration
	fallback  int // processes sharing the portal while Redis is down; 0: no fallback
	recheck   time.Duration
	logger    *slog.Logger
	lockTTL   time.Duration
	leaseTTL  time.Duration
	lockRetry time.Duration // longest pause between two attempts to take the lock
}

func defaultConfig() config {
	return config{
		prefix:    "b24:",
		rate:      2,
		burst:     50,
		opBudget:  480 * time.Second,
		opWindow:  10 * time.Minute,
		recheck:   2 * time.Second,
		lockTTL:   15 * time.Second,
		leaseTTL:  2 * time.Minute,
		lockRetry: 250 * time.Millisecond,
	}
}

func buildConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("b24: redis: "+format, args...)
}

// WithKeyPrefix sets the prefix of every key the limiter and the budget
// create ("b24:" by default), to keep several applications apart in one
// Redis database.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) error {
		if strings.ContainsAny(prefix, "{}") {
			return invalid("WithKeyPrefix: the prefix must not contain braces")
		}
		c.prefix = prefix
		return nil
	}
}

// WithRateLimit sets the portal's leaky bucket for [NewLimiter]: perSecond
// requests per second, at most burst at once. The default, 2 and 50, is the
// cloud's; Enterprise plans allow 5 and 250. Like the core's limiter the
// shared one keeps a tenth of burst (at least one request) in reserve.
// Every process sharing a portal must use the same values.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) error {
		if !(perSecond > 0) || perSecond > 1e6 {
			return invalid("WithRateLimit: rate must be positive and at most 1e6, got %v", perSecond)
		}
		if burst < 1 {
			return invalid("WithRateLimit: burst must be at least 1, got %d", burst)
		}
		c.rate, c.burst = perSecond, burst
		return nil
	}
}

// WithOperatingLimit sets the per-method operating-time budget for
// [NewOperatingBudget]: budget seconds of server time per method within
// window. The default is the cloud's 480 s per 10 minutes.
func WithOperatingLimit(budget, window time.Duration) Option {
	return func(c *config) error {
		if budget <= 0 || window <= 0 {
			return invalid("WithOperatingLimit: budget and window must be positive")
		}
		c.opBudget, c.opWindow = budget, window
		return nil
	}
}

// WithFallback makes the limiter and the budget fall back to in-process
// limits while Redis is unreachable, instead of failing with
// [ErrUnavailable]. processes is how many processes share the portal: each
// one's fallback gets that share of the rate, burst and operating budget,
// so that together they stay within the portal's limits. Switching to the
// fallback and back is logged (see [WithLogger]); Redis is tried again
// every two seconds (see [WithFallbackRecheck]).
func WithFallback(processes int) Option {
	return func(c *config) error {
		if processes < 1 {
			return invalid("WithFallback: processes must be at least 1, got %d", processes)
		}
		c.fallback = processes
		return nil
	}
}

// WithFallbackRecheck sets how often, while the fallback is in use, one
// call tries Redis again (2 s by default).
func WithFallbackRecheck(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("WithFallbackRecheck: must be positive, got %v", d)
		}
		c.recheck = d
		return nil
	}
}

// WithLogger sets the logger for warnings (fallback engaged, a release or
// unlock that could not reach Redis). By default nothing is logged. Tokens
// are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalid("WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithLockTTL sets how long the token store's refresh lock outlives its
// holder: 15 s by default. A live holder renews the lock every third of
// it, so a slow refresh keeps it; a process that dies releases it after
// at most this long, and another process takes over. Keep it well under
// the b24 client's 30 s refresh limit, which is also how long other
// processes wait for the lock before their call fails.
func WithLockTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 30*time.Millisecond {
			return invalid("WithLockTTL: at least 30ms, got %v", d)
		}
		c.lockTTL = d
		return nil
	}
}

// WithLeaseTTL sets how long the operating budget counts a call in flight
// when its process never reports back (it crashed): 2 minutes by default,
// longer than the client's 75 s attempt timeout.
func WithLeaseTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return invalid("WithLeaseTTL: at least 1ms, got %v", d)
		}
		c.leaseTTL = d
		return nil
	}
}
