package b24

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// maxRefreshesInARow bounds the token refreshes one call makes without an
// attempt getting past authentication.
const maxRefreshesInARow = 2

// verdict is what the pipeline does after one attempt.
type verdict int

const (
	verdictDone     verdict = iota // success: return the envelope
	verdictFatal                   // return the error as it is
	verdictRetry                   // refused before execution: safe to repeat
	verdictUnknown                 // may have executed: repeat only reads
	verdictRefresh                 // expired token: refresh, then repeat once
	verdictThrottle                // operating limit: the budget already waits
)

// do runs one call through the pipeline (limiter, operating budget, HTTP,
// classification, retries) and returns the decoded envelope.
func (c *Client) do(ctx context.Context, method string, params any) (*envelope, error) {
	return c.doFlight(ctx, ctx, method, params, callOpts{})
}

// callOpts adjusts one call through the pipeline.
type callOpts struct {
	// budgetMethod is the method whose operating budget the call draws on
	// (default: the method itself). A batch of import commands draws on
	// crm.item.batchImport's, since the portal charges the inner commands.
	budgetMethod string
	// timeOf picks the time block to report to the budget (default: the
	// answer's own).
	timeOf func(*envelope) *ResponseTime
	// blockedOf reports an operating-time refusal inside a successful
	// answer (a command of a batch).
	blockedOf func(*envelope) bool
	// noRefresh: an expired_token answer is final (set by the retry loop).
	noRefresh bool
}

// doFlight is do with two contexts: ctx governs every wait and whether a
// new attempt starts; flight governs an HTTP exchange already under way.
// The import engine passes a flight context that outlives a cancelled ctx
// by one attempt, so a call that reached the portal finishes and its rows
// are accounted for instead of ending unknown.
func (c *Client) doFlight(ctx, flight context.Context, method string, params any, opts callOpts) (*envelope, error) {
	if err := checkMethod(method); err != nil {
		return nil, err
	}
	body, err := marshalParams(params)
	if err != nil {
		return nil, err
	}
	read := isReadMethod(method)
	refreshes := 0 // in a row, without an attempt getting past authentication
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("b24: %s: %w", method, err)
		}
		o := opts
		// A fresh token refused twice in a row is not a matter of expiry
		// (revoked app, clock trouble): stop asking for more.
		o.noRefresh = refreshes >= maxRefreshesInARow
		env, v, err := c.attempt(ctx, flight, method, body, attempt, o)
		switch v {
		case verdictDone:
			return env, nil
		case verdictFatal:
			return nil, err
		case verdictUnknown:
			if !read {
				return nil, err
			}
		case verdictRefresh:
			refreshes++
			attempt-- // a refresh is not a failed attempt
			continue
		}
		// This attempt got past authentication: a token that expires later
		// in a long retry sequence may be refreshed again.
		refreshes = 0
		if attempt >= c.retry.MaxAttempts {
			return nil, fmt.Errorf("b24: %s: giving up after %d attempts: %w", method, attempt, err)
		}
		wait := c.retry.backoff(attempt)
		if v == verdictThrottle {
			wait = 0 // the operating budget holds the next attempt until the reset
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "b24: retrying",
			slog.String("method", method), slog.Int("attempt", attempt),
			slog.String("reason", errorCode(err)), slog.Duration("wait", wait))
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("b24: %s: %w (last error: %v)", method, serr, err)
		}
	}
}

// attempt performs one try: wait for the limiter and the budget, sign,
// send, classify.
func (c *Client) attempt(ctx, flight context.Context, method string, body []byte, attempt int, opts callOpts) (*envelope, verdict, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, verdictFatal, fmt.Errorf("b24: %s: waiting for the rate limiter: %w", method, err)
	}
	budgetMethod := method
	if opts.budgetMethod != "" {
		budgetMethod = opts.budgetMethod
	}
	release, err := c.budget.Acquire(ctx, budgetMethod)
	if err != nil {
		return nil, verdictFatal, fmt.Errorf("b24: %s: waiting for the operating budget: %w", method, err)
	}
	var (
		respTime *ResponseTime
		blocked  bool
	)
	var released bool
	done := func() {
		if !released {
			released = true
			release(respTime, blocked)
		}
	}
	defer done()

	reqURL, token, err := c.creds.authorize(ctx, c, method)
	if err != nil {
		if ctx.Err() != nil {
			return nil, verdictFatal, fmt.Errorf("b24: %s: %w", method, ctx.Err())
		}
		return nil, verdictFatal, err
	}
	if err := ctx.Err(); err != nil {
		return nil, verdictFatal, fmt.Errorf("b24: %s: %w", method, err)
	}
	payload := body
	if token != "" {
		payload = withAuth(body, token)
	}
	actx, cancel := context.WithTimeout(flight, c.retry.AttemptTimeout)
	defer cancel()
	start := time.Now()
	resp, wrote, err := c.send(actx, reqURL, payload)
	elapsed := time.Since(start)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "b24: attempt failed",
			slog.String("method", method), slog.Int("attempt", attempt),
			slog.Bool("sent", wrote), slog.Duration("elapsed", elapsed))
		v, err := c.classifyTransport(ctx, flight, method, wrote, err)
		return nil, v, err
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "b24: attempt",
		slog.String("method", method), slog.Int("attempt", attempt),
		slog.Int("status", resp.status), slog.Duration("elapsed", elapsed))

	if resp.status >= 300 && resp.status < 400 {
		return nil, verdictFatal, &PortalMovedError{Method: method, StatusCode: resp.status, Location: movedLocation(resp.location)}
	}
	env, ok := decodeEnvelope(resp.body)
	respTime = env.Time
	if ok && opts.timeOf != nil {
		respTime = opts.timeOf(env)
	}
	if ok && opts.blockedOf != nil && opts.blockedOf(env) {
		blocked = true
	}
	if !ok {
		// Not a JSON answer: a proxy page, a truncated body.
		apiErr := &APIError{StatusCode: resp.status, Code: "INVALID_RESPONSE", Method: method,
			Description: "the answer is not a JSON object"}
		if resp.status >= 500 || resp.status < 300 {
			return nil, verdictUnknown, &OutcomeUnknownError{Method: method, Err: apiErr}
		}
		return nil, verdictFatal, apiErr
	}
	if env.Error == "" && resp.status < 300 {
		return env, verdictDone, nil
	}
	apiErr := &APIError{StatusCode: resp.status, Code: truncate(string(env.Error), 100), Method: method,
		Description: truncate(redactSecrets(string(env.ErrorDescription), c.creds.secrets()...), 2000)}
	if apiErr.Code == "" {
		apiErr.Code = fmt.Sprintf("HTTP_%d", resp.status)
	}
	if strings.EqualFold(apiErr.Code, CodeOperationTimeLimit) {
		blocked = true
	}
	// Release the method's budget before a possible token refresh: the
	// refused call used no server time and must not hold a slot meanwhile.
	done()
	v, err := c.classifyAPIError(ctx, apiErr, token, &blocked, opts.noRefresh)
	return nil, v, err
}

// classifyAPIError decides by error code (the status is unreliable).
func (c *Client) classifyAPIError(ctx context.Context, e *APIError, token string, blocked *bool, noRefresh bool) (verdict, error) {
	switch {
	case strings.EqualFold(e.Code, CodeQueryLimitExceeded):
		c.log.LogAttrs(ctx, slog.LevelWarn, "b24: portal refused: query limit", slog.String("method", e.Method))
		return verdictRetry, e
	case strings.EqualFold(e.Code, CodeOperationTimeLimit):
		*blocked = true
		c.log.LogAttrs(ctx, slog.LevelWarn, "b24: portal refused: operation time limit", slog.String("method", e.Method))
		return verdictThrottle, e
	case strings.EqualFold(e.Code, CodeExpiredToken):
		if token == "" || noRefresh {
			return verdictFatal, e
		}
		if err := c.creds.tokenRejected(ctx, c, token); err != nil {
			return verdictFatal, err
		}
		return verdictRefresh, e
	case e.outcomeUnknown():
		return verdictUnknown, &OutcomeUnknownError{Method: e.Method, Err: e}
	}
	return verdictFatal, e
}

// classifyTransport sorts a transport failure into "never reached the
// portal" (safe to repeat) and "may have executed".
func (c *Client) classifyTransport(ctx, flight context.Context, method string, wrote bool, err error) (verdict, error) {
	for _, cx := range []context.Context{flight, ctx} {
		if cx.Err() == nil {
			continue
		}
		if wrote {
			return verdictFatal, &OutcomeUnknownError{Method: method, Err: cx.Err()}
		}
		return verdictFatal, fmt.Errorf("b24: %s: %w", method, cx.Err())
	}
	if errors.Is(err, ErrResponseTooLarge) {
		// The portal answered, so it ran the call; reading the answer again
		// would not help, and a write must be reconciled, not reported unsent.
		return verdictFatal, &OutcomeUnknownError{Method: method, Err: err}
	}
	if !wrote || isDialError(err) {
		return verdictRetry, fmt.Errorf("b24: %s: request not delivered: %w", method, err)
	}
	return verdictUnknown, &OutcomeUnknownError{Method: method, Err: err}
}

// isDialError reports errors that happen before a connection exists.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// traceWrite attaches a trace that records whether the request was fully
// written to a connection.
func traceWrite(ctx context.Context) (context.Context, *atomic.Bool) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	}
	return httptrace.WithClientTrace(ctx, trace), &wrote
}

// readSuffixes are last segments of methods that only read.
var readSuffixes = []string{"get", "list", "fields", "getlist", "getfields", "search"}

// readMethods are whole method names that only read.
var readMethods = map[string]bool{
	"server.time": true, "profile": true, "scope": true, "methods": true,
	"method.get": true, "app.info": true, "user.current": true, "feature.get": true,
}

// isReadMethod reports whether repeating method cannot change the portal,
// so an answer lost in transit may be asked for again.
func isReadMethod(method string) bool {
	m := strings.ToLower(method)
	if readMethods[m] {
		return true
	}
	last := m[strings.LastIndexByte(m, '.')+1:]
	for _, s := range readSuffixes {
		if last == s {
			return true
		}
	}
	return false
}

// errorCode returns a short, secret-free reason for logs.
func errorCode(err error) string {
	var api *APIError
	if errors.As(err, &api) {
		return api.Code
	}
	var unk *OutcomeUnknownError
	if errors.As(err, &unk) {
		return "outcome_unknown"
	}
	return "transport"
}
