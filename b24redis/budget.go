package b24redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/internal/budget"
	"github.com/redis/go-redis/v9"
)

// The operating budget keeps, per portal and method, a hash with the
// portal's latest reading and a sorted set of leases, one per call in
// flight, scored by the Redis time at which the lease lapses. Both scripts
// read Redis's clock; the portal's own timestamps are only compared with
// each other (to keep the newest reading) or with Redis's clock for the
// portal-announced reset, as the in-process budget compares them with the
// local clock.
//
// Hash fields: op (seconds used in the window, newest reading), at (the
// portal's finish time of that reading), reset (when the oldest part of
// the window drops out), cost (moving average of one call's server time),
// blocked (refused by the portal until then), probing ("1": after a reset,
// one call at a time until a fresh reading).

// acquireScript decides whether a request that counts as ARGV[5] calls of
// the method may start (a packed batch request of n commands weighs n).
// Reply: {1, 0} admitted (the lease is recorded); {0, ms} ask again after
// ms; {0, -1} ask again when a call in flight reports (the caller polls).
// A lease's member is "id|weight", so the calls in flight are the sum of
// the weights.
//
// KEYS[1] state, KEYS[2] leases; ARGV[1] budget (s), ARGV[2] window (s),
// ARGV[3] lease id, ARGV[4] lease ttl (s), ARGV[5] weight.
var acquireScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local budget, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local w = math.max(tonumber(ARGV[5]) or 1, 1)
local keep = math.ceil(math.max(2 * window, ttl) * 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local inflight = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  inflight = inflight + (tonumber(string.match(m, '|(%d+)$')) or 1)
end
local s = redis.call('HMGET', KEYS[1], 'op', 'cost', 'reset', 'blocked', 'probing')
local op = tonumber(s[1]) or 0
local cost = tonumber(s[2]) or 0
local reset = tonumber(s[3]) or 0
local blocked = tonumber(s[4]) or 0
local probing = s[5] == '1'
local function admit()
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[3] .. '|' .. w)
  redis.call('PEXPIRE', KEYS[2], math.ceil(ttl * 1000) + 1000)
  return {1, 0}
end
local function ms(d) return math.max(1, math.ceil(d * 1000)) end
if now < blocked then return {0, ms(blocked - now)} end
-- Until one answer has told the cost of a call, calls go one at a time.
if cost == 0 and inflight > 0 then return {0, -1} end
-- A single call may cross the budget (the portal still runs it); a packed
-- request may not, since its later commands would be refused, unless it
-- could never fit at all.
local alone = inflight == 0 and (w == 1 or w * cost >= budget)
local fits = op + (inflight + w) * cost <= budget or (alone and op < budget)
if fits and not probing then return admit() end
if reset > 0 and now >= reset then
  probing, reset = true, 0
  redis.call('HSET', KEYS[1], 'probing', '1', 'reset', '0')
  redis.call('PEXPIRE', KEYS[1], keep)
end
if probing then
  if inflight > 0 then return {0, -1} end
  return admit()
end
if inflight > 0 then return {0, -1} end
if reset > 0 then return {0, ms(reset + 0.05 - now)} end
redis.call('HSET', KEYS[1], 'reset', string.format('%.6f', now + window / 10))
redis.call('PEXPIRE', KEYS[1], keep)
return {0, ms(window / 10)}
`)

// releaseScript ends a lease and folds the call's answer into the state.
//
// KEYS[1] state, KEYS[2] leases; ARGV[1] lease id, ARGV[2] budget (s),
// ARGV[3] window (s), ARGV[4] "1" if the portal refused the call with
// OPERATION_TIME_LIMIT, ARGV[5] "1" if the answer had a time block,
// ARGV[6] server time the call took (s), ARGV[7] "1" if the block had
// operating, ARGV[8] operating (s), ARGV[9] the reading's portal time,
// ARGV[10] operating_reset_at (unix s, 0 when absent), ARGV[11] the
// request's weight (the server time is learnt per call).
var releaseScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local budget, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local keep = math.ceil(2 * window * 1000)
local w = math.max(tonumber(ARGV[11]) or 1, 1)
redis.call('ZREM', KEYS[2], ARGV[1] .. '|' .. w)
local s = redis.call('HMGET', KEYS[1], 'cost', 'reset', 'at', 'op')
local cost = tonumber(s[1]) or 0
local reset = tonumber(s[2]) or 0
local at = tonumber(s[3]) or 0
local op = tonumber(s[4]) or 0
local tr = tonumber(ARGV[10]) or 0
local function f(x) return string.format('%.6f', x) end
if ARGV[4] == '1' then
  local untl = now + window / 10
  if ARGV[5] == '1' and tr > 0 then untl = tr + 1
  elseif reset > now then untl = reset + 1 end
  redis.call('HSET', KEYS[1], 'blocked', f(untl), 'op', f(budget), 'probing', '1')
  op = budget
end
local spent = 0
if ARGV[5] == '1' then spent = (tonumber(ARGV[6]) or 0) / w end
if spent > 0 then
  if cost == 0 then cost = spent else cost = 0.7 * cost + 0.3 * spent end
  redis.call('HSET', KEYS[1], 'cost', f(cost))
elseif cost == 0 then
  -- An answer without timings: the cost is unknown but small; stop
  -- sending one call at a time.
  redis.call('HSET', KEYS[1], 'cost', '0.000001')
end
if ARGV[5] == '1' then
  local stamp = tonumber(ARGV[9]) or 0
  local reading = tonumber(ARGV[8]) or 0
  if ARGV[7] == '1' then
    if tr > 0 and math.abs(tr - reset) < 0.001 then
      -- Same window position: usage only grows until the reset, so the
      -- largest reading is the newest, whatever order the answers came in.
      if reading > op then redis.call('HSET', KEYS[1], 'op', f(reading)) end
      if stamp > at then redis.call('HSET', KEYS[1], 'at', f(stamp)) end
      redis.call('HSET', KEYS[1], 'probing', '0')
    elseif stamp >= at then
      redis.call('HSET', KEYS[1], 'at', f(stamp), 'op', f(reading), 'probing', '0')
      if tr > 0 then redis.call('HSET', KEYS[1], 'reset', f(tr)) end
    end
  end
end
redis.call('PEXPIRE', KEYS[1], keep)
return 1
`)

// releaseTimeout bounds the script that ends a lease; release has no ctx.
const releaseTimeout = 5 * time.Second

// OperatingBudget is a per-method operating-time budget shared by every
// process that uses the same Redis and portal: each process's readings of
// the portal's time block (operating, operating_reset_at) and its calls in
// flight are pooled, so that one replica's heavy calls hold the others back
// before the portal locks the method. It implements [b24.OperatingBudget];
// plug it into each client with [b24.WithOperatingBudget]. It is safe for
// concurrent use.
//
// It follows the same rules as the core's in-process budget: a call starts
// when the newest reading plus the expected cost of the calls in flight and
// of this one fits the budget (or nothing is in flight and the reading is
// under it); otherwise it waits for the reported reset, and then one probe
// call goes first. A call in flight holds a lease that lapses after
// [WithLeaseTTL], so a crashed process does not hold slots for ever.
//
// Two refinements matter once many calls run at once: until an answer has
// told what a call costs, calls of a method go one at a time; and readings
// that report the same reset time are combined by keeping the largest,
// because the portal's count only grows until then while answers from
// several processes arrive in any order.
type OperatingBudget struct {
	rdb     redis.UniversalClient
	prefix  string
	budget  float64 // seconds
	window  float64 // seconds
	lease   float64 // seconds
	poll    time.Duration
	logger  *slog.Logger
	local   b24.OperatingBudget // nil without WithFallback
	fb      *fallback
	idBase  string
	idSeq   atomic.Uint64
	mu      sync.Mutex
	changed map[string]chan struct{} // per state key, closed on every local release
}

// NewOperatingBudget returns a budget for portal (its host name) on rdb.
// Every process calling the portal with the same credentials must use the
// same portal, key prefix and [WithOperatingLimit] values. The keys are
// "PREFIX" + "op:{portal}:METHOD" and the same with ":leases".
func NewOperatingBudget(rdb redis.UniversalClient, portal string, opts ...Option) (*OperatingBudget, error) {
	if rdb == nil {
		return nil, invalid("NewOperatingBudget: nil redis client")
	}
	if err := checkPortal(portal); err != nil {
		return nil, err
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	b := &OperatingBudget{
		rdb:     rdb,
		prefix:  cfg.prefix + "op:{" + portal + "}:",
		budget:  cfg.opBudget.Seconds(),
		window:  cfg.opWindow.Seconds(),
		lease:   cfg.leaseTTL.Seconds(),
		poll:    min(max(cfg.opWindow/1000, 5*time.Millisecond), 100*time.Millisecond),
		logger:  cfg.logger,
		idBase:  hex.EncodeToString(id[:]) + ":",
		changed: map[string]chan struct{}{},
	}
	if cfg.fallback > 0 {
		b.local = b24.NewOperatingBudget(cfg.opBudget/time.Duration(cfg.fallback), cfg.opWindow)
		b.fb = &fallback{what: "operating budget", recheck: cfg.recheck, log: cfg.logger}
	}
	return b, nil
}

func (b *OperatingBudget) keys(method string) []string {
	// The portal matches method names case-insensitively.
	k := b.prefix + strings.ToLower(method)
	return []string{k, k + ":leases"}
}

// wake returns the channel closed by the next local release of the
// method whose state key is key.
func (b *OperatingBudget) wake(key string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.changed[key]
	if ch == nil {
		ch = make(chan struct{})
		b.changed[key] = ch
	}
	return ch
}

func (b *OperatingBudget) notify(key string) {
	b.mu.Lock()
	if ch := b.changed[key]; ch != nil {
		close(ch)
		delete(b.changed, key)
	}
	b.mu.Unlock()
}

// Acquire blocks until a request that counts as n calls of method may be
// sent, or ctx is done, and returns the function that reports its
// outcome; see [b24.OperatingBudget]. A packed batch request of n commands
// weighs n: it is admitted only when all of them fit, and its server time
// is learnt per command.
// When Redis is unreachable it returns an error matching [ErrUnavailable],
// or, with [WithFallback], uses the in-process budget instead.
func (b *OperatingBudget) Acquire(ctx context.Context, method string, n int) (func(*b24.ResponseTime, bool), error) {
	keys := b.keys(method)
	n = max(n, 1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var probe bool
		if b.fb != nil {
			var local bool
			if local, probe = b.fb.local(); local {
				return b.local.Acquire(ctx, method, n)
			}
		}
		wake := b.wake(keys[0])
		id := b.idBase + strconv.FormatUint(b.idSeq.Add(1), 36)
		rctx, cancel := redisCtx(ctx, probe)
		res, err := acquireScript.Run(rctx, b.rdb, keys, b.budget, b.window, id, b.lease, n).Int64Slice()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = wrapErr("operating budget", err)
			if !b.fb.switchable(err, probe) {
				return nil, err
			}
			b.fb.failed(err)
			continue
		}
		if len(res) != 2 {
			return nil, &opError{op: "operating budget", err: errors.New("unexpected script reply")}
		}
		if b.fb != nil {
			b.fb.succeeded()
		}
		if res[0] == 1 {
			return b.releaser(method, keys, id, n), nil
		}
		wait := b.poll
		if res[1] > 0 {
			wait = time.Duration(res[1]) * time.Millisecond
		}
		if err := budget.Sleep(ctx, wait, wake); err != nil {
			return nil, err
		}
	}
}

func (b *OperatingBudget) releaser(method string, keys []string, id string, n int) func(*b24.ResponseTime, bool) {
	var once sync.Once
	return func(t *b24.ResponseTime, blocked bool) {
		once.Do(func() {
			args := []any{id, b.budget, b.window, flag(blocked), "0", 0, "0", 0, 0, 0, n}
			if t != nil {
				spent, stamp := budget.Spent(t)
				var reset float64
				if !t.OperatingResetAt.IsZero() {
					reset = float64(t.OperatingResetAt.UnixMicro()) / 1e6
				}
				args[4], args[5], args[6], args[7], args[8], args[9] = "1", spent, flag(t.HasOperating), t.Operating, stamp, reset
			}
			ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			if err := releaseScript.Run(ctx, b.rdb, keys, args...).Err(); err != nil {
				// The lease lapses by itself; the reading is lost.
				b.logger.LogAttrs(ctx, slog.LevelWarn, "b24: redis operating budget: release failed",
					slog.String("method", method), slog.String("error", wrapErr("operating budget", err).Error()))
			}
			b.notify(keys[0])
		})
	}
}

func flag(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

var _ b24.OperatingBudget = (*OperatingBudget)(nil)
