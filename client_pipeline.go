package b24

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/b24kit/b24/internal/transport"
	"github.com/b24kit/b24/internal/wire"
)

// maxRefreshesInARow bounds the token refreshes one call makes without an
// attempt getting past authentication.
const maxRefreshesInARow = 2

// request is one call through the pipeline, with everything that governs
// how it is paced and sent. Nothing about a request travels in its context.
type request struct {
	method string
	body   []byte
	read   bool // repeating it cannot change the portal
	// flight governs an HTTP exchange already under way (nil: the call's
	// ctx). The import engine passes one that outlives a cancelled ctx by
	// one attempt, so a call that reached the portal finishes and its rows
	// are accounted for instead of ending unknown.
	flight context.Context
	// budgetMethod is the method whose operating budget the request draws
	// on, weight how many of its calls the request counts as: a batch of n
	// import commands draws n on crm.item.batchImport's, since the portal
	// charges the inner commands.
	budgetMethod string
	weight       int
	// timeOf picks the time block reported to the budget (nil: the
	// answer's own); blockedOf reports an operating-time refusal inside a
	// successful answer (a command of a batch).
	timeOf    func(*wire.Envelope) *ResponseTime
	blockedOf func(*wire.Envelope) bool
	// observe is told about the request's waits (the limiter, the budget,
	// backoff), so an import can say what it is waiting for; nil: nobody
	// listens.
	observe waitObserver
	// onSend, when set, is called right before each attempt is written,
	// after every wait; an error keeps the attempt from being sent and
	// ends the request (see WithOnSend).
	onSend func() error
	// attempts, when positive, caps the attempts below the retry policy's.
	attempts int
	// sent is when the last attempt was handed to the transport (zero:
	// never), for the import engine to tell how long it may still run.
	sent time.Time
}

// newRequest checks the method name and encodes params.
func newRequest(method string, params any) (*request, error) {
	if err := checkMethod(method); err != nil {
		return nil, err
	}
	body, err := marshalParams(params)
	if err != nil {
		return nil, err
	}
	return &request{method: method, body: body, read: isReadMethod(method), budgetMethod: method, weight: 1}, nil
}

// do runs req through the pipeline and returns the decoded envelope. Each
// attempt waits for the rate limiter and the method's operating budget,
// authorises, and sends once. After a failure the loop refreshes an
// expired OAuth token, or resends when [mayResend] allows it, with backoff,
// up to the retry policy's attempts; any other failure is returned as it is.
func (c *Client) do(ctx context.Context, req *request) (*wire.Envelope, error) {
	flight := req.flight
	if flight == nil {
		flight = ctx
	}
	refreshes := 0 // in a row, without an attempt getting past authentication
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("b24: %s: %w", req.method, err)
		}
		release, err := c.admit(ctx, req)
		if err != nil {
			return nil, err // a wait ends early only with ctx or a broken shared limiter
		}
		env, token, err := c.exchange(ctx, flight, req, attempt, release)
		if err == nil {
			return env, nil
		}
		// A fresh token refused twice in a row is not a matter of expiry
		// (revoked app, clock trouble): stop asking for more.
		if token != "" && errors.Is(err, ErrTokenExpired) && refreshes < maxRefreshesInARow {
			if rerr := c.creds.tokenRejected(ctx, c.tokens, token); rerr != nil {
				return nil, rerr
			}
			refreshes++
			attempt-- // a refresh is not a failed attempt
			continue
		}
		if !mayResend(err, req.read) || ctx.Err() != nil || flight.Err() != nil {
			return nil, err
		}
		// This attempt got past authentication: a token that expires later
		// in a long retry sequence may be refreshed again.
		refreshes = 0
		if attempt >= c.retry.MaxAttempts || req.attempts > 0 && attempt >= req.attempts {
			return nil, &gaveUpError{method: req.method, attempts: attempt, last: err}
		}
		wait := c.retry.backoff(attempt)
		if errors.Is(err, ErrOperationTimeLimit) {
			wait = 0 // the operating budget holds the next attempt until the reset
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "b24: retrying",
			slog.String("method", req.method), slog.Int("attempt", attempt),
			slog.String("reason", errorCode(err)), slog.Duration("wait", wait))
		var waitToken uint64
		if req.observe != nil && wait > 0 {
			reason, cause := waitCause(err)
			now := time.Now()
			waitToken = req.observe.beginWait(Wait{Reason: reason, Method: req.method, Since: now, Until: now.Add(wait),
				Attempt: attempt, MaxAttempts: c.retry.MaxAttempts, Cause: cause})
		}
		serr := c.sleep(ctx, wait)
		if waitToken != 0 {
			req.observe.endWait(waitToken)
		}
		if serr != nil {
			return nil, fmt.Errorf("b24: %s: %w (last error: %v)", req.method, serr, err)
		}
	}
}

// admit waits for the operating budget of the method the request draws
// on, then for the rate limiter, and returns the budget's release. The
// rate token is taken last, right before sending: a token taken before a
// long budget wait would be spent long after it was granted, on top of the
// burst the limiter has refilled meanwhile, and the portal's bucket (which
// counts arrivals) would overflow.
func (c *Client) admit(ctx context.Context, req *request) (func(*ResponseTime, bool), error) {
	release, err := c.acquireBudget(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("b24: %s: waiting for the operating budget: %w", req.method, err)
	}
	asked := time.Now()
	var token uint64
	if req.observe != nil {
		token = req.observe.beginWait(Wait{Reason: WaitRateLimit, Method: req.method, Since: asked})
	}
	err = c.limiter.Wait(ctx)
	if token != 0 {
		req.observe.endWait(token)
	}
	if err != nil {
		release(nil, false)
		return nil, fmt.Errorf("b24: %s: waiting for the rate limiter: %w", req.method, err)
	}
	c.grants.observe(asked, time.Now())
	return release, nil
}

// acquireBudget waits for the method's operating budget and, when someone
// watches the request, tells req.observe that it waits and until when (if
// the budget knows).
func (c *Client) acquireBudget(ctx context.Context, req *request) (func(*ResponseTime, bool), error) {
	obs := req.observe
	if obs == nil {
		return c.budget.Acquire(ctx, req.budgetMethod, req.weight)
	}
	since := time.Now()
	var (
		token   uint64
		release func(*ResponseTime, bool)
		err     error
	)
	if wb, ok := c.budget.(watchedBudget); ok {
		release, err = wb.AcquireWatched(ctx, req.budgetMethod, req.weight, func(until time.Time) {
			if token != 0 {
				obs.endWait(token)
			}
			token = obs.beginWait(Wait{Reason: WaitOperatingLimit, Method: req.budgetMethod, Since: since, Until: until})
		})
	} else {
		token = obs.beginWait(Wait{Reason: WaitOperatingLimit, Method: req.budgetMethod, Since: since})
		release, err = c.budget.Acquire(ctx, req.budgetMethod, req.weight)
	}
	if token != 0 {
		obs.endWait(token)
	}
	return release, err
}

// exchange authorises and sends req once, decodes the answer and reports
// its time block to the budget through release. token is the access token
// sent (OAuth), for a refresh.
func (c *Client) exchange(ctx, flight context.Context, req *request, attempt int, release func(*ResponseTime, bool)) (env *wire.Envelope, token string, err error) {
	var (
		respTime *ResponseTime
		blocked  bool
	)
	// Released before a token refresh: the refused call used no server
	// time and must not hold a slot meanwhile.
	defer func() { release(respTime, blocked) }()

	reqURL, token, err := c.creds.authorize(ctx, c.tokens, req.method)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("b24: %s: %w", req.method, ctx.Err())
		}
		return nil, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("b24: %s: %w", req.method, err)
	}
	payload := req.body
	if token != "" {
		payload = withAuth(req.body, token)
	}
	if req.onSend != nil {
		if err := req.onSend(); err != nil {
			return nil, "", &sendHookError{err: err}
		}
	}
	actx, cancel := context.WithTimeout(flight, c.retry.AttemptTimeout)
	defer cancel()
	start := time.Now()
	req.sent = start
	resp, wrote, err := c.transport.Post(actx, reqURL, payload)
	elapsed := time.Since(start)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "b24: attempt failed",
			slog.String("method", req.method), slog.Int("attempt", attempt),
			slog.Bool("sent", wrote), slog.Duration("elapsed", elapsed))
		return nil, token, transportFailure(ctx, flight, req.method, wrote, err)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "b24: attempt",
		slog.String("method", req.method), slog.Int("attempt", attempt),
		slog.Int("status", resp.Status), slog.Duration("elapsed", elapsed))
	env, respTime, blocked, err = c.readAnswer(ctx, req, resp)
	return env, token, err
}

// readAnswer decodes one HTTP answer into the envelope, the time block to
// report to the budget, whether the portal blocked the method, and the
// error the answer carries.
func (c *Client) readAnswer(ctx context.Context, req *request, resp transport.Response) (*wire.Envelope, *ResponseTime, bool, error) {
	if resp.Status >= 300 && resp.Status < 400 {
		return nil, nil, false, &PortalMovedError{Method: req.method, StatusCode: resp.Status, Location: transport.MovedLocation(resp.Location)}
	}
	env, ok := wire.DecodeEnvelope(resp.Body)
	if !ok {
		// Not a JSON answer: a proxy page, a truncated body.
		apiErr := &APIError{StatusCode: resp.Status, Code: "INVALID_RESPONSE", Method: req.method,
			Description: "the answer is not a JSON object"}
		if resp.Status >= 500 || resp.Status < 300 {
			// A proxy's page or a cut answer: the portal may still be at it.
			return nil, nil, false, &OutcomeUnknownError{Method: req.method, Err: apiErr, unanswered: true}
		}
		return nil, nil, false, apiErr
	}
	respTime := env.Time
	if req.timeOf != nil {
		respTime = req.timeOf(env)
	}
	respTime = c.boundReset(ctx, req.method, respTime)
	blocked := req.blockedOf != nil && req.blockedOf(env)
	if env.Error == "" && resp.Status < 300 {
		return env, respTime, blocked, nil
	}
	secrets := c.creds.secrets()
	apiErr := &APIError{StatusCode: resp.Status, Code: portalText(string(env.Error), maxCodeLen, secrets), Method: req.method,
		Description: portalText(string(env.ErrorDescription), maxDescriptionLen, secrets)}
	if apiErr.Code == "" {
		apiErr.Code = fmt.Sprintf("HTTP_%d", resp.Status)
	}
	switch {
	case errors.Is(apiErr, ErrQueryLimit):
		c.log.LogAttrs(ctx, slog.LevelWarn, "b24: portal refused: query limit", slog.String("method", req.method))
	case errors.Is(apiErr, ErrOperationTimeLimit):
		blocked = true
		c.log.LogAttrs(ctx, slog.LevelWarn, "b24: portal refused: operation time limit", slog.String("method", req.method))
	}
	return nil, respTime, blocked, apiErr
}

// transportFailure turns a failed exchange into an error of the right
// class: a request that never reached the portal is refused before
// execution; one that was written may have run.
func transportFailure(ctx, flight context.Context, method string, wrote bool, err error) error {
	for _, cx := range []context.Context{flight, ctx} {
		if cx.Err() == nil {
			continue
		}
		if wrote {
			return &OutcomeUnknownError{Method: method, Err: cx.Err(), unanswered: true}
		}
		return fmt.Errorf("b24: %s: %w", method, cx.Err())
	}
	if errors.Is(err, ErrResponseTooLarge) {
		// The portal answered, so it ran the call; reading the answer again
		// would not help, and a write must be reconciled, not reported unsent.
		return &OutcomeUnknownError{Method: method, Err: err}
	}
	if !wrote || transport.IsDialError(err) {
		return &notDeliveredError{method: method, err: err}
	}
	return &OutcomeUnknownError{Method: method, Err: err, unanswered: true}
}

func checkMethod(method string) error {
	if len(method) == 0 || len(method) > 200 || !methodRe.MatchString(method) {
		return invalidInput("method name %q is not a REST method", wire.Truncate(method, 60))
	}
	return nil
}

// marshalParams encodes params as a JSON object.
func marshalParams(params any) ([]byte, error) {
	if params == nil {
		return []byte("{}"), nil
	}
	if t, ok := params.(trustedJSON); ok {
		return t, nil
	}
	if raw, ok := params.(json.RawMessage); ok {
		params = []byte(raw)
	}
	var body []byte
	if b, ok := params.([]byte); ok {
		if !json.Valid(b) {
			return nil, invalidInput("params are not valid json")
		}
		body = b
	} else {
		var err error
		if body, err = json.Marshal(params); err != nil {
			return nil, invalidInput("params cannot be encoded as json: %v", err)
		}
	}
	body = bytes.TrimSpace(body)
	if bytes.Equal(body, []byte("null")) {
		return []byte("{}"), nil
	}
	if len(body) == 0 || body[0] != '{' {
		return nil, invalidInput("params must encode to a json object")
	}
	return body, nil
}

// withAuth adds "auth": token to a JSON object body.
func withAuth(body []byte, token string) []byte {
	tok, _ := json.Marshal(token)
	out := make([]byte, 0, len(body)+len(tok)+10)
	out = append(out, `{"auth":`...)
	out = append(out, tok...)
	rest := bytes.TrimSpace(body[1:])
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}
