package b24test

import (
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// config is what the options set; NewServer applies them all first.
type config struct {
	rateOn       bool
	rate         float64
	burst        int
	opOn         bool
	opBudget     time.Duration
	opWindow     time.Duration
	latencyBase  time.Duration
	latencyItem  time.Duration
	latencyJit   time.Duration
	reqTimeout   time.Duration
	smart        []int
	tokenTTL     time.Duration
	seed         int64
	noRequestLog bool
	secret       string
	compact      bool
	nonAdmin     bool
	categories   map[int][]Category  // WithCategories; nil: the defaults
	statuses     map[string][]Status // WithStatuses
	userFields   map[int][]UserField // WithUserFields
	users        []User              // WithUsers; nil: the default user
}

func defaultConfig() config {
	return config{
		rateOn:     true,
		rate:       2,
		burst:      50,
		opOn:       true,
		opBudget:   480 * time.Second,
		opWindow:   10 * time.Minute,
		reqTimeout: 60 * time.Second,
		tokenTTL:   time.Hour,
		seed:       1,
	}
}

// Option configures a [Server]. Invalid values (zero or negative rates,
// budgets, windows) are ignored and the default kept.
type Option func(*config)

// WithRateLimit sets the portal's leaky bucket, kept per credential: every
// request adds one, the level drains by perSecond, and a request that would
// lift it above burst is refused with 503 QUERY_LIMIT_EXCEEDED without being
// executed. The default is 2 per second, burst 50 (cloud plans below
// Enterprise).
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) {
		if perSecond > 0 && burst > 0 {
			c.rateOn, c.rate, c.burst = true, perSecond, burst
		}
	}
}

// WithoutRateLimit turns the leaky bucket off.
func WithoutRateLimit() Option { return func(c *config) { c.rateOn = false } }

// WithOperatingLimit sets the per-method operating-time limit: the server
// time spent in each method (per credential) is summed in ten buckets of
// window/10, and once the sum within window exceeds budget further calls of
// that method are refused with 429 OPERATION_TIME_LIMIT until old buckets
// drop out. Calls shorter than window/6000 (0.1 s at the cloud's ten
// minutes) are not counted. The default is 480 s per 10 minutes; tests scale
// both down, for example 50 ms per 200 ms.
func WithOperatingLimit(budget, window time.Duration) Option {
	return func(c *config) {
		if budget > 0 && window > 0 {
			c.opOn, c.opBudget, c.opWindow = true, budget, window
		}
	}
}

// WithoutOperatingLimit turns the operating-time limit off; responses then
// carry no operating fields in their time block, like a self-hosted portal.
func WithoutOperatingLimit() Option { return func(c *config) { c.opOn = false } }

// WithoutLimits turns both of the portal's limits off: the leaky bucket
// ([WithoutRateLimit]) and the operating-time limit
// ([WithoutOperatingLimit]). Nothing is refused for pace, time blocks carry
// no operating fields, and [Server.Client] paces nothing either, so it
// suits tests about outcomes rather than pacing. Options apply in order: a
// [WithRateLimit] or [WithOperatingLimit] given after it turns that limit
// on again.
func WithoutLimits() Option {
	return func(c *config) { c.rateOn, c.opOn = false, false }
}

// WithLatency simulates processing time: every call takes base, plus perItem
// for each item it imports or adds, plus a random part below jitter (drawn
// from the seeded source). The time counts as the call's operating time. The
// default is no latency.
func WithLatency(base, perItem, jitter time.Duration) Option {
	return func(c *config) {
		c.latencyBase, c.latencyItem, c.latencyJit = max(base, 0), max(perItem, 0), max(jitter, 0)
	}
}

// WithRequestTimeout sets the cut-off after which the portal abandons a
// request (60 s in the cloud). A call whose simulated processing would run
// longer executes only what fits (a batch import keeps the items processed
// in time) and then answers 504 with a non-JSON body, as a front-end proxy
// would.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.reqTimeout = d
		}
	}
}

// WithSmartProcess registers a smart-process entity type id (for example
// 1030), so that crm.item methods accept it. Lead, deal, contact, company,
// quote and smart invoice always exist.
func WithSmartProcess(entityTypeID b24.EntityTypeID) Option {
	return func(c *config) {
		if entityTypeID > 0 {
			c.smart = append(c.smart, int(entityTypeID))
		}
	}
}

// WithTokenTTL sets the lifetime of OAuth access tokens (1 hour by default).
func WithTokenTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.tokenTTL = d
		}
	}
}

// WithSeed seeds the random source behind latency jitter and probabilistic
// faults, so runs repeat. The default seed is 1.
func WithSeed(seed int64) Option { return func(c *config) { c.seed = seed } }

// WithoutRequestLog stops recording [Server.Requests], for long benchmarks;
// [Server.Stats] still counts.
func WithoutRequestLog() Option { return func(c *config) { c.noRequestLog = true } }

// WithWebhookSecret fixes the webhook secret (random by default), for a
// stable [Server.WebhookURL]. Only letters and digits are kept.
func WithWebhookSecret(secret string) Option {
	return func(c *config) {
		clean := strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
				return r
			}
			return -1
		}, secret)
		if clean != "" {
			c.secret = clean
		}
	}
}

// WithCompactStore keeps only id, title, originatorId, originId and xmlId of
// each stored item (and its creation time), not every field, so that
// benchmarks importing millions of items do not measure the fake's memory.
// [Server.Items] then returns just those fields.
func WithCompactStore() Option { return func(c *config) { c.compact = true } }

// WithoutAdmin makes the webhook and OAuth user an ordinary user instead of
// a portal administrator: import then refuses history fields (createdTime,
// createdBy, ...) per item with CRM_FIELD_ERROR_VALUE_NOT_VALID.
func WithoutAdmin() Option { return func(c *config) { c.nonAdmin = true } }
