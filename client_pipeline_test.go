package b24

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/testutil"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvelopeQuirks(t *testing.T) {
	t.Run("empty PHP array where an object is expected", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) { ok(w, []any{}) })
		c, _ := testClient(t, webhookFor(t, p))
		var out map[string]any
		require.NoError(t, c.Call(t.Context(), "profile", nil, &out))
		assert.Empty(t, out)
		var st struct{ A int }
		require.NoError(t, c.Call(t.Context(), "profile", nil, &st))
	})
	t.Run("numeric error code", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) {
			apiError(w, 400, 100, "Could not find value for parameter {data}")
		})
		c, _ := testClient(t, webhookFor(t, p))
		err := c.Call(t.Context(), "crm.item.batchImport", nil, nil)
		var api *APIError
		require.ErrorAs(t, err, &api)
		assert.Equal(t, "100", api.Code)
		assert.Equal(t, 400, api.StatusCode)
		assert.Equal(t, "crm.item.batchImport", api.Method)
	})
	t.Run("not json", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) {
			w.WriteHeader(502)
			_, _ = w.Write([]byte("<html>Bad Gateway</html>"))
		})
		c, _ := testClient(t, webhookFor(t, p))
		err := c.Call(t.Context(), "crm.item.add", nil, nil)
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
		assert.EqualValues(t, 1, p.calls.Load(), "a write with unknown outcome is not repeated")
	})
}

func TestRetries(t *testing.T) {
	t.Run("query limit is retried until it passes", func(t *testing.T) {
		n := 0
		p := newPortal(t, func(w http.ResponseWriter, r recorded) {
			if n++; n <= 2 {
				apiError(w, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
				return
			}
			ok(w, true)
		})
		c, ns := testClient(t, webhookFor(t, p))
		require.NoError(t, c.Call(t.Context(), "crm.item.batchImport", map[string]any{}, nil))
		assert.EqualValues(t, 3, p.calls.Load())
		require.Len(t, ns.waits, 2)
		assert.Greater(t, ns.waits[1], time.Duration(0))
	})
	t.Run("retries are bounded", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) { apiError(w, 503, "QUERY_LIMIT_EXCEEDED", "") })
		c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{MaxAttempts: 4}))
		err := c.Call(t.Context(), "crm.item.add", nil, nil)
		assert.ErrorIs(t, err, ErrQueryLimit)
		assert.EqualValues(t, 4, p.calls.Load())
	})
	t.Run("5xx on a read is retried", func(t *testing.T) {
		n := 0
		p := newPortal(t, func(w http.ResponseWriter, r recorded) {
			if n++; n == 1 {
				apiError(w, 500, "INTERNAL_SERVER_ERROR", "")
				return
			}
			ok(w, []any{})
		})
		c, _ := testClient(t, webhookFor(t, p))
		require.NoError(t, c.Call(t.Context(), "crm.item.list", nil, nil))
		assert.EqualValues(t, 2, p.calls.Load())
	})
	t.Run("dropped connection on a write is outcome unknown", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		c, _ := testClient(t, webhookFor(t, p))
		err := c.Call(t.Context(), "crm.item.batchImport", map[string]any{}, nil)
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
		assert.EqualValues(t, 1, p.calls.Load())
		assert.NotContains(t, err.Error(), testSecret)
	})
	t.Run("unreachable portal is retried: nothing was sent", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		w, err := NewWebhook(url + "/rest/1/" + testSecret + "/")
		require.NoError(t, err)
		c, ns := testClient(t, w, WithRetry(RetryPolicy{MaxAttempts: 3}))
		err = c.Call(t.Context(), "crm.item.add", nil, nil)
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrOutcomeUnknown)
		assert.Len(t, ns.waits, 2, "two backoffs between three attempts")
		assert.NotContains(t, err.Error(), testSecret)
	})
	t.Run("cancelled context stops the retries", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) { apiError(w, 503, "QUERY_LIMIT_EXCEEDED", "") })
		c, _ := testClient(t, webhookFor(t, p))
		ctx, cancel := context.WithCancel(t.Context())
		c.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
		err := c.Call(ctx, "crm.item.add", nil, nil)
		assert.ErrorIs(t, err, context.Canceled)
		assert.EqualValues(t, 1, p.calls.Load())
	})
}

func TestRedirectIsNotFollowed(t *testing.T) {
	other := newPortal(t, func(w http.ResponseWriter, r recorded) { ok(w, true) })
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		w.Header().Set("Location", other.srv.URL+"/rest/1/"+testSecret+"/profile.json")
		w.WriteHeader(http.StatusFound)
	})
	c, _ := testClient(t, webhookFor(t, p))
	err := c.Call(t.Context(), "profile", nil, nil)
	var moved *PortalMovedError
	require.ErrorAs(t, err, &moved)
	assert.ErrorIs(t, err, ErrPortalMoved)
	assert.Equal(t, other.srv.URL, moved.Location)
	assert.Contains(t, err.Error(), other.srv.URL)
	assert.NotContains(t, err.Error(), testSecret)
	assert.Zero(t, other.calls.Load(), "credentials must not follow a redirect")
}

func TestResponseSizeCap(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		ok(w, strings.Repeat("x", 8192))
	})
	c, _ := testClient(t, webhookFor(t, p), WithMaxResponseSize(4096))
	err := c.Call(t.Context(), "profile", nil, nil)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
}

// settableClock is a clock for the client's budget that tests move.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestOperatingResetIsClampedToTheWindow: a 429 whose operating_reset_at
// lies 10 h ahead holds the method for at most the portal's window (the
// configured one), and the clamp is logged.
func TestOperatingResetIsClampedToTheWindow(t *testing.T) {
	clk := &settableClock{t: time.Now()}
	stamp := float64(clk.now().UnixNano()) / 1e9
	p := newPortal(t, func(w http.ResponseWriter, _ recorded) {
		writeJSON(w, 429, map[string]any{"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit.",
			"time": map[string]any{"start": stamp - 0.01, "finish": stamp, "operating": 500, "operating_reset_at": stamp + 10*3600}})
	})
	var logs testutil.SyncBuffer
	c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{MaxAttempts: 1}),
		WithOperatingLimit(480*time.Second, 10*time.Minute),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		func(c *config) error { c.now = clk.now; return nil })
	err := c.Call(t.Context(), "crm.item.add", map[string]any{}, nil)
	require.ErrorIs(t, err, ErrOperationTimeLimit)
	assert.Contains(t, logs.String(), "operating_reset_at")

	done, cancel := context.WithCancel(t.Context())
	cancel() // Acquire fails at once if it would have to wait
	clk.advance(10*time.Minute + 2*time.Second)
	release, err := c.budget.Acquire(done, "crm.item.add", 1)
	require.NoError(t, err, "the method is free again a window after the refusal")
	release(nil, false)
}
