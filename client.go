package b24

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/b24kit/b24/internal/transport"
	"github.com/b24kit/b24/internal/wire"
)

// Version is the SDK version, sent in the User-Agent header.
const Version = "0.2.0"

// defaultMaxResponseBytes caps how much of a response body is read. A full
// batch of 50 list commands stays far below it.
const defaultMaxResponseBytes = 64 << 20

// Client calls one Bitrix24 portal. Every request of a client, retries
// included, passes through the same pipeline: the request-rate limiter, the
// per-method operating-time budget, then HTTP. A Client is safe for
// concurrent use by multiple goroutines; create one per portal and share it.
//
// API docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/index.html
type Client struct {
	creds     Credentials
	transport *transport.Transport
	tokens    *tokenEndpoint // how OAuth refreshes reach the token server
	limiter   Limiter
	budget    OperatingBudget
	log       *slog.Logger
	retry     RetryPolicy
	sleep     func(ctx context.Context, d time.Duration) error
	// rate (requests/s) and opRate (server seconds per second per method)
	// are the portal's ceilings as configured; imports use them to decide
	// whether packing calls into batch requests pays.
	rate, opRate float64
	grants       rateMeter // the pace the limiter really grants this client
	// opWindow is the operating window of WithOperatingLimit: no portal
	// block lasts longer (see boundReset).
	opWindow time.Duration
	now      func() time.Time
	// maxExec is how long the portal may go on executing a request after
	// it was sent (WithMaxExecutionTime).
	maxExec time.Duration

	// CRMItem imports and reads CRM items (crm.item.*).
	CRMItem *CRMItemService
}

// service is the shared base of the client's services.
type service struct{ client *Client }

// Option configures a [Client]. Options are applied in full before the client
// is built, so their order never matters; an invalid value makes [NewClient]
// return an error.
type Option func(*config) error

type config struct {
	httpClient *http.Client
	rate       float64
	burst      int
	limiter    Limiter
	opBudget   time.Duration
	opWindow   time.Duration
	budget     OperatingBudget
	logger     *slog.Logger
	allowHTTP  bool
	retry      RetryPolicy
	userAgent  string
	maxBody    int64
	maxExec    time.Duration
	sleep      func(ctx context.Context, d time.Duration) error // tests replace it
	now        func() time.Time                                 // tests replace it
}

// WithHTTPClient sets the HTTP client used for requests. The client is copied
// and its redirect policy replaced (credentials never follow a redirect), so
// the caller's value is not modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return invalidInput("WithHTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithRateLimit sets the portal's request-rate bucket: perSecond requests per
// second on average, at most burst at once. The default, 2 and 50, matches
// Bitrix24 cloud plans; Enterprise plans allow 5 and 250. The client keeps a
// small safety margin under burst (a tenth, at least one request) so that
// network jitter cannot push the portal's own bucket over its edge.
//
// API docs: https://apidocs.bitrix24.com/limits.html
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) error {
		if !(perSecond > 0) || perSecond > 1e9 {
			return invalidInput("WithRateLimit: rate must be positive, got %v", perSecond)
		}
		if burst < 1 {
			return invalidInput("WithRateLimit: burst must be at least 1, got %d", burst)
		}
		c.rate, c.burst = perSecond, burst
		return nil
	}
}

// WithOperatingLimit sets the per-method operating-time budget: at most budget
// seconds of server time per method within window. The default is 480 s per
// 10 minutes, the cloud's value. No operating block lasts longer than
// window: an operating_reset_at further ahead of the answer's own time is
// clamped to it (and logged), whatever budget the client uses.
//
// API docs: https://apidocs.bitrix24.com/limits.html
func WithOperatingLimit(budget, window time.Duration) Option {
	return func(c *config) error {
		if budget <= 0 || window <= 0 {
			return invalidInput("WithOperatingLimit: budget and window must be positive")
		}
		c.opBudget, c.opWindow = budget, window
		return nil
	}
}

// WithLimiter replaces the client's own request-rate limiter with l, so that
// several clients of the same portal (and source IP) share one bucket.
// [NewLimiter] builds an in-process one; the b24redis module shares one
// between processes.
func WithLimiter(l Limiter) Option {
	return func(c *config) error {
		if l == nil {
			return invalidInput("WithLimiter: nil limiter")
		}
		c.limiter = l
		return nil
	}
}

// WithOperatingBudget replaces the client's own operating-time budget with b,
// so that several clients (or processes) pool what they learn about each
// method's consumption. [NewOperatingBudget] builds an in-process one.
func WithOperatingBudget(b OperatingBudget) Option {
	return func(c *config) error {
		if b == nil {
			return invalidInput("WithOperatingBudget: nil budget")
		}
		c.budget = b
		return nil
	}
}

// WithLogger sets the logger. By default the client logs nothing. It logs one
// debug record per attempt (method, status, attempt, wait) and a warning per
// throttle or retry; never a token, secret, webhook path or body.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalidInput("WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithAllowHTTP permits http:// endpoints, for local fakes such as b24test.
// Without it every endpoint must be https.
func WithAllowHTTP() Option {
	return func(c *config) error {
		c.allowHTTP = true
		return nil
	}
}

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.AttemptTimeout < 0 {
			return invalidInput("WithRetry: negative values are not allowed")
		}
		c.retry = p
		return nil
	}
}

// WithUserAgent sets the User-Agent header ("b24-go/VERSION" by default).
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if strings.TrimSpace(ua) == "" || strings.ContainsAny(ua, "\r\n") {
			return invalidInput("WithUserAgent: empty or multi-line user agent")
		}
		c.userAgent = ua
		return nil
	}
}

// WithMaxResponseSize caps how many bytes of a response body are read
// (64 MiB by default); a larger answer fails with [ErrResponseTooLarge].
func WithMaxResponseSize(n int64) Option {
	return func(c *config) error {
		if n < 1024 {
			return invalidInput("WithMaxResponseSize: at least 1024 bytes")
		}
		c.maxBody = n
		return nil
	}
}

// DefaultMaxExecutionTime is how long a portal is taken to go on executing
// a request after it was sent, unless [WithMaxExecutionTime] says
// otherwise: the cloud cuts requests off after 60 s, plus a margin for
// the trip and for clocks.
const DefaultMaxExecutionTime = 75 * time.Second

// WithMaxExecutionTime sets how long the portal may go on executing a
// request after the client sent it (default [DefaultMaxExecutionTime]).
// When an import call's answer never came (a timeout, a dropped
// connection, a proxy's error page), the call may still be running on
// the portal; the rows of such a call are looked up by their dedup keys
// only once d has passed since it was sent, because a row the portal has
// not saved yet would be found missing and sent a second time. Without the
// cloud's 60 s cut-off (an on-premise portal, a slow proxy in between) set
// d to the portal's own limit (PHP's max_execution_time) plus a margin. A
// cancelled import does not wait: such rows end [ItemUnknown]. 0 suits
// fakes that finish a call before answering or dropping it (b24test).
func WithMaxExecutionTime(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > 24*time.Hour {
			return invalidInput("WithMaxExecutionTime: %v is outside 0..24h", d)
		}
		c.maxExec = d
		return nil
	}
}

// NewClient returns a client for the portal the credentials point at.
func NewClient(creds Credentials, opts ...Option) (*Client, error) {
	if creds == nil || isNilCreds(creds) {
		return nil, invalidInput("NewClient: nil credentials")
	}
	cfg := config{
		rate: 2, burst: 50,
		opBudget: 480 * time.Second, opWindow: 10 * time.Minute,
		userAgent: "b24-go/" + Version,
		maxBody:   defaultMaxResponseBytes,
		maxExec:   DefaultMaxExecutionTime,
		sleep:     sleepCtx,
		now:       time.Now,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	for _, u := range creds.urls() {
		if u.Scheme != "https" && !cfg.allowHTTP {
			return nil, invalidInput("NewClient: %s uses http; use https or WithAllowHTTP for local fakes", u.Host)
		}
	}
	c := &Client{
		creds:     creds,
		transport: transport.New(cfg.httpClient, cfg.userAgent, cfg.maxBody),
		limiter:   cfg.limiter,
		budget:    cfg.budget,
		log:       cfg.logger,
		retry:     cfg.retry.withDefaults(),
		sleep:     cfg.sleep,
		rate:      cfg.rate,
		opRate:    cfg.opBudget.Seconds() / cfg.opWindow.Seconds(),
		opWindow:  cfg.opWindow,
		now:       cfg.now,
		maxExec:   cfg.maxExec,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.tokens = &tokenEndpoint{transport: c.transport, retry: c.retry, sleep: c.sleep, log: c.log}
	if c.limiter == nil {
		c.limiter = NewLimiter(cfg.rate, cfg.burst)
	}
	if c.budget == nil {
		c.budget = newOperatingBudget(cfg.opBudget, cfg.opWindow, cfg.now)
	}
	c.CRMItem = &CRMItemService{client: c}
	return c, nil
}

// String names the client's portal and nothing else: fmt reaches into
// unexported fields for some verbs (%s, %d), which would print the
// credentials' secrets.
func (c *Client) String() string {
	if c == nil || c.creds == nil {
		return "<nil b24.Client>"
	}
	return "b24.Client{portal: " + c.creds.urls()[0].Host + "}"
}

// GoString hides the credentials from %#v as well.
func (c *Client) GoString() string { return c.String() }

func isNilCreds(c Credentials) bool {
	switch v := c.(type) {
	case *Webhook:
		return v == nil || v.base == nil
	case *OAuth:
		return v == nil || v.endpoint == nil
	}
	return false
}

// Call invokes a REST method with params (marshalled to a JSON object; nil
// sends none) and decodes the "result" member of the answer into result
// (ignored when nil). Requests refused before execution are retried per the
// [RetryPolicy]; a write whose outcome is unknown is not repeated and
// returns an error matching [ErrOutcomeUnknown].
//
// API docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/general-principles.html
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	if ctx == nil {
		return invalidInput("Call: nil context")
	}
	if result != nil {
		// Checked before sending: a write must not run and then fail to
		// report its answer.
		if rv := reflect.ValueOf(result); rv.Kind() != reflect.Pointer || rv.IsNil() {
			return invalidInput("Call: result must be nil or a non-nil pointer, got %T", result)
		}
	}
	req, err := newRequest(method, params)
	if err != nil {
		return err
	}
	env, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := wire.DecodeResult(env.Result, result); err != nil {
		return fmt.Errorf("b24: %s: decoding result: %w", method, err)
	}
	return nil
}

// trustedJSON is a request body the SDK built itself; it skips the
// validity check that user-supplied raw JSON gets.
type trustedJSON []byte
