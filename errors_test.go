package b24

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		code     any
		status   int
		sentinel error
	}{
		{"expired_token", 401, ErrTokenExpired},
		{"invalid_token", 401, ErrInvalidCredentials},
		{"NO_AUTH_FOUND", 401, ErrInvalidCredentials},
		{"INVALID_CREDENTIALS", 401, ErrInvalidCredentials},
		{"INVALID_CREDENTIALS", 403, ErrInvalidCredentials},
		{"ACCESS_DENIED", 400, ErrAccessDenied},
		{"ACCESS_DENIED", 401, ErrAccessDenied},
		{"ACCESS_DENIED", 403, ErrAccessDenied},
		{"insufficient_scope", 401, ErrAccessDenied},
		{"allowed_only_intranet_user", 403, ErrAccessDenied},
		{"ERROR_METHOD_NOT_FOUND", 404, ErrMethodNotFound},
		{"NOT_FOUND", 400, ErrNotFound},
		{"MAX_IMPORT_BATCH_SIZE_EXCEEDED", 400, ErrBatchTooLarge},
		{"ERROR_CORE", 500, ErrOutcomeUnknown},
		{"INTERNAL_SERVER_ERROR", 500, ErrOutcomeUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.sentinel.Error()+" "+http.StatusText(tc.status), func(t *testing.T) {
			p := newPortal(t, func(w http.ResponseWriter, r recorded) { apiError(w, tc.status, tc.code, "text") })
			c, _ := testClient(t, webhookFor(t, p))
			err := c.Call(t.Context(), "crm.item.add", map[string]any{"x": 1}, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.sentinel)
			assert.True(t, strings.HasPrefix(err.Error(), "b24: "), err.Error())
			assert.Contains(t, err.Error(), "crm.item.add")
			assert.NotContains(t, err.Error(), testSecret)
			assert.EqualValues(t, 1, p.calls.Load(), "definitive errors and unknown writes are not repeated")
		})
	}
	t.Run("ERROR_CORE with 400 is definitive", func(t *testing.T) {
		e := &APIError{StatusCode: 400, Code: "ERROR_CORE"}
		assert.False(t, errors.Is(e, ErrOutcomeUnknown))
	})
}

func TestIsReadMethod(t *testing.T) {
	for m, want := range map[string]bool{
		"crm.item.list": true, "crm.item.get": true, "crm.item.fields": true, "server.time": true,
		"profile": true, "crm.item.add": false, "crm.item.batchImport": false, "batch": false,
		"crm.item.import": false, "crm.item.update": false,
	} {
		assert.Equal(t, want, isReadMethod(m), m)
	}
}

// TestFailureClasses is the one table of what every failure the portal (or
// the network in front of it) produces means: its class, whether the
// request loop may send the request again, and the sentinel it matches.
// Each case is produced for real: a loopback portal answers as the portal
// does, and the error is what Call returns after a single attempt.
func TestFailureClasses(t *testing.T) {
	const write, read = "crm.item.batchImport", "crm.item.list"
	answer := func(status int, code any, desc string) func(http.ResponseWriter, recorded) {
		return func(w http.ResponseWriter, _ recorded) { apiError(w, status, code, desc) }
	}
	raw := func(status int, body string) func(http.ResponseWriter, recorded) {
		return func(w http.ResponseWriter, _ recorded) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	// dropAfterWrite reads the request, then closes the connection without
	// an answer: the portal may have executed it.
	dropAfterWrite := func(w http.ResponseWriter, _ recorded) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	// hang never answers: it holds the connection until the client, past
	// its attempt timeout, closes it.
	hang := func(w http.ResponseWriter, _ recorded) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.Read(make([]byte, 1))
	}
	for _, tc := range []struct {
		name     string
		method   string
		handler  func(http.ResponseWriter, recorded) // nil: nothing listens
		class    failureClass                        // of the attempt's own failure
		resend   bool                                // whether the loop sends it again
		sentinel error
	}{
		{"QUERY_LIMIT_EXCEEDED 503", write, answer(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), classRefused, true, ErrQueryLimit},
		{"OPERATION_TIME_LIMIT 429", write, answer(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."), classRefused, true, ErrOperationTimeLimit},
		{"expired_token 401 (a webhook cannot refresh)", write, answer(401, "expired_token", "The access token provided has expired."), classStop, false, ErrTokenExpired},
		{"invalid_token 401", write, answer(401, "invalid_token", "The access token provided is invalid."), classStop, false, ErrInvalidCredentials},
		{"INVALID_CREDENTIALS 401", write, answer(401, "INVALID_CREDENTIALS", "Invalid request credentials"), classStop, false, ErrInvalidCredentials},
		{"NO_AUTH_FOUND 401", read, answer(401, "NO_AUTH_FOUND", "Wrong authorization data"), classStop, false, ErrInvalidCredentials},
		{"5xx with an error body, write", write, answer(500, "INTERNAL_SERVER_ERROR", "Internal server error"), classUnknown, false, ErrOutcomeUnknown},
		{"5xx with an error body, read", read, answer(500, "INTERNAL_SERVER_ERROR", "Internal server error"), classUnknown, true, ErrOutcomeUnknown},
		{"5xx without a body, write", write, raw(502, ""), classUnknown, false, ErrOutcomeUnknown},
		{"5xx with a proxy page, read", read, raw(504, "<html>Gateway Time-out</html>"), classUnknown, true, ErrOutcomeUnknown},
		{"ERROR_CORE 500 after a partial save", write, answer(500, "ERROR_CORE", "SQL error"), classUnknown, false, ErrOutcomeUnknown},
		{"ERROR_CORE 400 of a write (rows before it saved)", write, answer(400, "ERROR_CORE", "Argument error"), classUnknown, false, nil},
		{"ERROR_ARGUMENT 400 of a read", read, answer(400, "ERROR_ARGUMENT", "Invalid filter"), classRejected, false, nil},
		{"100: the binder refused the parameters", write, answer(400, 100, "Could not find value for parameter {data}"), classRejected, false, nil},
		{"ACCESS_DENIED 400 (crm)", write, answer(400, "ACCESS_DENIED", "Access denied."), classStop, false, ErrAccessDenied},
		{"ACCESS_DENIED 401 (plan)", write, answer(401, "ACCESS_DENIED", "REST is available only on commercial plans"), classStop, false, ErrAccessDenied},
		{"ACCESS_DENIED 403", write, answer(403, "ACCESS_DENIED", "Access denied!"), classStop, false, ErrAccessDenied},
		{"insufficient_scope 401", read, answer(401, "insufficient_scope", "The request requires higher privileges"), classStop, false, ErrAccessDenied},
		{"NOT_FOUND 400 (unknown entity type)", write, answer(400, "NOT_FOUND", "Smart process not found"), classStop, false, ErrNotFound},
		{"ERROR_METHOD_NOT_FOUND 404", read, answer(404, "ERROR_METHOD_NOT_FOUND", "Method not found!"), classStop, false, ErrMethodNotFound},
		{"PORTAL_DELETED 403", write, answer(403, "PORTAL_DELETED", "Portal was deleted"), classStop, false, ErrAccessDenied},
		{"MAX_IMPORT_BATCH_SIZE_EXCEEDED 400", write, answer(400, "MAX_IMPORT_BATCH_SIZE_EXCEEDED", "You can only import 20 items at a time"), classStop, false, ErrBatchTooLarge},
		{"302: the portal moved", write, func(w http.ResponseWriter, _ recorded) {
			w.Header().Set("Location", "https://new.bitrix24.com/rest/1/x/")
			w.WriteHeader(http.StatusFound)
		}, classStop, false, ErrPortalMoved},
		{"dial refused", write, nil, classRefused, true, nil}, // given up on: classStop (see below)
		{"EOF after the write", write, dropAfterWrite, classUnknown, false, ErrOutcomeUnknown},
		{"EOF after the write of a read", read, dropAfterWrite, classUnknown, true, ErrOutcomeUnknown},
		{"timeout after the write", write, hang, classUnknown, false, ErrOutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := closedPortURL(t)
			if tc.handler != nil {
				url = newPortal(t, tc.handler).webhookURL()
			}
			hook, err := NewWebhook(url)
			require.NoError(t, err)
			c, _ := testClient(t, hook, WithRetry(RetryPolicy{MaxAttempts: 1, AttemptTimeout: 300 * time.Millisecond}))
			err = c.Call(t.Context(), tc.method, map[string]any{"entityTypeId": 2}, nil)
			require.Error(t, err)
			var gaveUp *gaveUpError // a failure the loop resends: after one attempt it gave up
			if errors.As(err, &gaveUp) {
				assert.True(t, tc.resend, "only what may be resent is given up on: %v", err)
				err = gaveUp.last
			}
			assert.Equal(t, tc.class, classOf(err), "class of %v", err)
			assert.Equal(t, tc.resend, mayResend(err, isReadMethod(tc.method)), "may resend %v", err)
			if tc.sentinel != nil {
				assert.ErrorIs(t, err, tc.sentinel)
			}
		})
	}
}

// TestFailureClassesAfterTheRetries covers what a caller sees once the loop
// has given up, and the errors no portal answer produces.
func TestFailureClassesAfterTheRetries(t *testing.T) {
	apiRefused := &APIError{StatusCode: 503, Code: "QUERY_LIMIT_EXCEEDED", Method: "crm.item.batchImport"}
	dial := &notDeliveredError{method: "crm.item.batchImport", err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	for _, tc := range []struct {
		name  string
		err   error
		class failureClass
	}{
		{"still refused by the limits: rows not sent, the import goes on", &gaveUpError{"crm.item.batchImport", 8, apiRefused}, classRefused},
		{"never delivered: the portal cannot be reached", &gaveUpError{"crm.item.batchImport", 8, dial}, classStop},
		{"cancelled before sending", fmt.Errorf("b24: crm.item.batchImport: %w", context.Canceled), classRefused},
		{"cancelled after sending", &OutcomeUnknownError{Method: "crm.item.batchImport", Err: context.Canceled}, classUnknown},
		{"response over the cap", &OutcomeUnknownError{Method: "crm.item.list", Err: ErrResponseTooLarge}, classUnknown},
		{"invalid_grant from the token server", &TokenError{StatusCode: 400, Code: "invalid_grant"}, classStop},
		{"a shared limiter that broke", errors.New("redis: connection pool timeout"), classStop},
		{"bad input", invalidInput("method name %q is not a REST method", "x y"), classStop},
		{"a batch command skipped by halt=1", &notRunError{method: "crm.item.batchImport"}, classRefused},
		{"per-item refusal before the save", &ItemError{Code: "CRM_FIELD_ERROR_REQUIRED"}, classRejected},
		{"per-item error that may follow the save", &ItemError{Code: "CRM_ACTIVITY_ERROR"}, classUnknown},
		{"client-side validation", &ItemError{Code: CodeFieldTypo}, classRejected},
		{"an import stopped", stopped(dial), classStop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.class, classOf(tc.err))
		})
	}
	assert.False(t, mayResend(&OutcomeUnknownError{Method: "crm.item.list", Err: ErrResponseTooLarge}, true),
		"a read over the size cap is not asked again: the answer would be as large")
	stop := stopped(dial)
	assert.ErrorIs(t, stop, ErrImportStopped)
	assert.Same(t, stop, stopped(stop), "a stop is wrapped once")
	var nd *notDeliveredError
	assert.ErrorAs(t, stop, &nd, "the cause stays reachable")
}

// closedPortURL is a webhook URL on a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr + "/rest/1/" + testSecret + "/"
}

// TestMayStillRun: a request may still be executing on the portal only
// when no answer of the portal's own came back (a dropped connection, a
// timeout, a proxy's page); any answer of its own comes after the call
// ended. Each failure is produced through a loopback portal.
func TestMayStillRun(t *testing.T) {
	drop := func(w http.ResponseWriter, _ recorded) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	}
	hang := func(w http.ResponseWriter, r recorded) { <-r.Request.Context().Done() }
	for _, tc := range []struct {
		name    string
		handler func(http.ResponseWriter, recorded)
		running bool
	}{
		{"connection dropped after the write", drop, true},
		{"attempt timeout", hang, true},
		{"a proxy's 504 page", func(w http.ResponseWriter, _ recorded) {
			w.WriteHeader(504)
			_, _ = w.Write([]byte("<html>Gateway Time-out</html>"))
		}, true},
		{"the portal's own 500", func(w http.ResponseWriter, _ recorded) { apiError(w, 500, "ERROR_CORE", "SQL error") }, false},
		{"the portal's own 429", func(w http.ResponseWriter, _ recorded) { apiError(w, 429, "OPERATION_TIME_LIMIT", "blocked") }, false},
		{"an answer over the size cap", func(w http.ResponseWriter, _ recorded) {
			ok(w, strings.Repeat("x", 4096))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t, tc.handler)
			c, _ := testClient(t, webhookFor(t, p), WithMaxResponseSize(1024),
				WithRetry(RetryPolicy{MaxAttempts: 1, AttemptTimeout: 200 * time.Millisecond}))
			err := c.Call(t.Context(), "crm.item.batchImport", map[string]any{"entityTypeId": 2}, nil)
			require.Error(t, err)
			var gaveUp *gaveUpError
			if errors.As(err, &gaveUp) {
				err = gaveUp.last
			}
			assert.Equal(t, tc.running, mayStillRun(err), "%v", err)
		})
	}
	hook := &sendHookError{err: errors.New("disk full")}
	assert.Equal(t, classStop, classOf(hook), "a failed send hook stops the import")
	assert.False(t, mayStillRun(hook))
}
