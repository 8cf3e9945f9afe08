package b24redis

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/internal/budget"
	"github.com/redis/go-redis/v9"
)

// gcraScript admits one request under the generic cell rate algorithm,
// which is the portal's leaky bucket seen from the sender: the key holds
// the theoretical arrival time (TAT, Redis server time in microseconds) at
// which the bucket would be empty again. A request fits while the bucket
// holds fewer than burst requests, that is while TAT-now <= (burst-1)
// intervals. The reply is 0 when the request was admitted (and counted),
// otherwise the microseconds to wait before asking again.
//
// KEYS[1] bucket; ARGV[1] interval between requests (µs); ARGV[2] burst.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local wait = tat + interval - burst * interval - now
if wait > 0 then return math.ceil(wait) end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 0
`)

// Limiter is a request-rate limiter shared by every process that uses the
// same Redis and portal. It implements [b24.Limiter]; plug it into each
// client with [b24.WithLimiter]. A Limiter is safe for concurrent use.
type Limiter struct {
	rdb      redis.UniversalClient
	key      []string
	interval int64 // µs between requests
	burst    int
	cfg      config
	local    b24.Limiter // nil without WithFallback
	fb       *fallback
}

// NewLimiter returns a limiter for portal (its host name, for example
// "example.bitrix24.com") on rdb. Every process that sends requests to the
// portal with the same credentials (and from the same address) must use a
// limiter with the same portal, key prefix and [WithRateLimit] values.
//
// The bucket lives in one Redis key, "PREFIX" + "rate:{portal}", updated by
// a Lua script that reads Redis's own clock, so the processes' clocks do
// not matter. Like [b24.NewLimiter] it keeps a tenth of the burst (at least
// one request) in reserve, so that requests that reach the portal closer
// together than they were sent cannot overflow the portal's bucket.
func NewLimiter(rdb redis.UniversalClient, portal string, opts ...Option) (*Limiter, error) {
	if rdb == nil {
		return nil, invalid("NewLimiter: nil redis client")
	}
	if err := checkPortal(portal); err != nil {
		return nil, err
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	l := &Limiter{
		rdb:      rdb,
		key:      []string{cfg.prefix + "rate:{" + portal + "}"},
		interval: max(int64(math.Round(1e6/cfg.rate)), 1),
		burst:    budget.SafeBurst(cfg.burst),
		cfg:      cfg,
	}
	if cfg.fallback > 0 {
		n := cfg.fallback
		l.local = b24.NewLimiter(cfg.rate/float64(n), max(cfg.burst/n, 1))
		l.fb = &fallback{what: "rate limiter", recheck: cfg.recheck, log: cfg.logger}
	}
	return l, nil
}

func checkPortal(portal string) error {
	if strings.TrimSpace(portal) == "" {
		return invalid("portal is empty")
	}
	if strings.ContainsAny(portal, "{}") {
		return invalid("portal must not contain braces")
	}
	return nil
}

// Wait blocks until one request may be sent or ctx is done. When Redis is
// unreachable it returns an error matching [ErrUnavailable], or, with
// [WithFallback], waits on the in-process limiter instead.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var probe bool
		if l.fb != nil {
			var local bool
			if local, probe = l.fb.local(); local {
				return l.local.Wait(ctx)
			}
		}
		rctx, cancel := redisCtx(ctx, probe)
		wait, err := l.try(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !l.fb.switchable(err, probe) {
				return err
			}
			l.fb.failed(err)
			continue
		}
		if l.fb != nil {
			l.fb.succeeded()
		}
		if wait <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The slot would come after ctx's deadline: fail now, as the
			// core's limiter does, instead of holding the caller.
			return fmt.Errorf("b24: redis limiter: %w", context.DeadlineExceeded)
		}
		if err := budget.Sleep(ctx, wait, nil); err != nil {
			return err
		}
	}
}

// try runs the script once: zero means admitted, otherwise how long to wait.
func (l *Limiter) try(ctx context.Context) (time.Duration, error) {
	us, err := gcraScript.Run(ctx, l.rdb, l.key, l.interval, l.burst).Int64()
	if err != nil {
		return 0, wrapErr("limiter", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

var _ b24.Limiter = (*Limiter)(nil)
