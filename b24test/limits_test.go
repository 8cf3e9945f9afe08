package b24test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parallel sends n batchImport calls of one item at once and counts the
// answers by status.
func parallel(t *testing.T, srv *Server, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"entityTypeId":2,"data":[{"title":"p%d"}]}`, i)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.WebhookURL()+"crm.item.batchImport", strings.NewReader(body))
			if !assert.NoError(t, err) {
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return statuses
}

func TestLeakyBucket(t *testing.T) {
	t.Run("50 parallel against burst 10", func(t *testing.T) {
		srv := newTestServer(t, WithRateLimit(0.001, 10))
		got := parallel(t, srv, 50)
		assert.Equal(t, map[int]int{200: 10, 503: 40}, got)
		assert.Equal(t, 40, srv.Stats().RateLimited)
		assert.Len(t, srv.Items(2), 10, "refused requests executed nothing")
		a := call(t, srv, "server.time", "")
		assert.Equal(t, "QUERY_LIMIT_EXCEEDED", a.Error)
		assert.Equal(t, "Too many requests", a.ErrorDescription)
	})
	t.Run("default bucket: exactly 50 pass", func(t *testing.T) {
		srv := NewServer(WithoutOperatingLimit()) // default 2/s, burst 50
		t.Cleanup(srv.Close)
		got := parallel(t, srv, 50)
		assert.Equal(t, map[int]int{200: 50}, got)
		// The bucket is full; draining 2/s cannot make room for 30 more at once.
		got = parallel(t, srv, 30)
		assert.Greater(t, got[503], 25)
	})
	t.Run("per credential", func(t *testing.T) {
		srv := newTestServer(t, WithRateLimit(0.001, 1))
		assert.Equal(t, http.StatusOK, call(t, srv, "server.time", "").Status)
		assert.Equal(t, http.StatusServiceUnavailable, call(t, srv, "server.time", "").Status)
		tok := srv.OAuthConfig().Token.AccessToken
		a := do(t, http.MethodPost, srv.URL+"/rest/server.time", "application/json", `{"auth":"`+tok+`"}`)
		assert.Equal(t, http.StatusOK, a.Status, "the OAuth app has its own bucket")
	})
}

func TestBucketDrains(t *testing.T) {
	b := newBucketSet(2, 3)
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		assert.True(t, b.allow("k", t0), "request %d", i)
	}
	assert.False(t, b.allow("k", t0))
	assert.False(t, b.allow("k", t0.Add(400*time.Millisecond)), "0.8 drained is not a whole request")
	assert.True(t, b.allow("k", t0.Add(500*time.Millisecond)), "one request drained after 0.5 s at 2/s")
	assert.False(t, b.allow("k", t0.Add(500*time.Millisecond)))
	assert.True(t, b.allow("other", t0), "keys are independent")
	for i := range 3 {
		assert.True(t, b.allow("k", t0.Add(time.Hour)), "empty after a long pause, request %d", i)
	}
}

func TestOpLimiterWindow(t *testing.T) {
	o := newOpLimiter(100*time.Millisecond, time.Second) // slots of 100 ms, threshold 166 µs
	t0 := time.Unix(2000, 0)
	used, _ := o.charge("m", 100*time.Microsecond, t0)
	assert.Zero(t, used, "calls under window/6000 are not counted")
	o.charge("m", 60*time.Millisecond, t0)
	blocked, _, _ := o.blocked("m", t0)
	assert.False(t, blocked)
	used, reset := o.charge("m", 60*time.Millisecond, t0.Add(250*time.Millisecond))
	assert.Equal(t, 120*time.Millisecond, used)
	assert.Equal(t, t0.Add(time.Second), reset, "the oldest slot drops out one window after it began")
	blocked, _, _ = o.blocked("m", t0.Add(300*time.Millisecond))
	assert.True(t, blocked)
	blocked, _, _ = o.blocked("other", t0.Add(300*time.Millisecond))
	assert.False(t, blocked, "methods are limited separately")
	blocked, used, _ = o.blocked("m", t0.Add(time.Second))
	assert.False(t, blocked, "the first slot dropped out")
	assert.Equal(t, 60*time.Millisecond, used)
	blocked, used, _ = o.blocked("m", t0.Add(1300*time.Millisecond))
	assert.False(t, blocked)
	assert.Zero(t, used)
}

func TestOperatingLimitBlocksThenReleases(t *testing.T) {
	srv := newTestServer(t, WithOperatingLimit(20*time.Millisecond, time.Second), WithLatency(30*time.Millisecond, 0, 0))
	body := `{"entityTypeId":2,"data":[{"title":"x"}]}`

	first := call(t, srv, "crm.item.batchImport", body)
	require.Equal(t, http.StatusOK, first.Status)
	assert.GreaterOrEqual(t, first.Time["operating"], 0.03, "the simulated latency counts as operating time")
	assert.GreaterOrEqual(t, first.Time["processing"], 0.03)
	assert.Contains(t, first.Time, "operating_reset_at")

	blocked := call(t, srv, "crm.item.batchImport", body)
	assert.Equal(t, http.StatusTooManyRequests, blocked.Status)
	assert.Equal(t, "OPERATION_TIME_LIMIT", blocked.Error)
	assert.Nil(t, blocked.Time, "an error answer has no time block, as on the portal")
	assert.Len(t, srv.Items(2), 1, "the refused call executed nothing")
	assert.Equal(t, http.StatusOK, call(t, srv, "server.time", "").Status, "other methods keep working")

	require.Eventually(t, func() bool {
		return call(t, srv, "crm.item.batchImport", body).Status == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the method is released once the window moves on")
	assert.Len(t, srv.Items(2), 2)
	assert.Positive(t, srv.Stats().OperatingLimited)
}

func TestWithoutLimits(t *testing.T) {
	body := `{"entityTypeId":2,"data":[{"title":"x"}]}`
	// Limits that refuse the second call for pace and for time, each.
	strict := []Option{WithRateLimit(0.001, 1), WithOperatingLimit(time.Millisecond, time.Second), WithLatency(5*time.Millisecond, 0, 0)}

	t.Run("both limits off", func(t *testing.T) {
		srv := newTestServer(t, append(strict, WithoutLimits())...)
		for i := range 5 {
			a := call(t, srv, "crm.item.batchImport", body)
			require.Equal(t, http.StatusOK, a.Status, "call %d: %v %s", i, a.Error, a.ErrorDescription)
			assert.NotContains(t, a.Time, "operating", "no operating fields without the operating limit")
			assert.NotContains(t, a.Time, "operating_reset_at")
		}
		assert.Zero(t, srv.Stats().RateLimited)
		assert.Zero(t, srv.Stats().OperatingLimited)
		assert.Len(t, srv.Items(2), 5)
	})
	t.Run("a later rate limit is on again", func(t *testing.T) {
		srv := newTestServer(t, WithoutLimits(), WithRateLimit(0.001, 1))
		first := call(t, srv, "crm.item.batchImport", body)
		require.Equal(t, http.StatusOK, first.Status)
		assert.NotContains(t, first.Time, "operating", "the operating limit stays off")
		a := call(t, srv, "crm.item.batchImport", body)
		assert.Equal(t, http.StatusServiceUnavailable, a.Status)
		assert.Equal(t, "QUERY_LIMIT_EXCEEDED", a.Error)
	})
	t.Run("a later operating limit is on again", func(t *testing.T) {
		srv := newTestServer(t, WithoutLimits(), WithOperatingLimit(time.Millisecond, time.Second), WithLatency(5*time.Millisecond, 0, 0))
		first := call(t, srv, "crm.item.batchImport", body)
		require.Equal(t, http.StatusOK, first.Status)
		assert.Contains(t, first.Time, "operating")
		a := call(t, srv, "crm.item.batchImport", body)
		assert.Equal(t, http.StatusTooManyRequests, a.Status)
		assert.Equal(t, "OPERATION_TIME_LIMIT", a.Error)
	})
}

func TestRequestTimeoutCutsOff(t *testing.T) {
	srv := newTestServer(t, WithLatency(0, 20*time.Millisecond, 0), WithRequestTimeout(50*time.Millisecond))
	a := call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[{"title":"1"},{"title":"2"},{"title":"3"},{"title":"4"}]}`)
	assert.Equal(t, http.StatusGatewayTimeout, a.Status)
	assert.Len(t, srv.Items(2), 2, "the items processed within the cut-off stay")
	assert.Equal(t, 1, srv.Stats().TimedOut)
	a = call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[{"title":"5"},{"title":"6"}]}`)
	assert.Equal(t, http.StatusOK, a.Status)
}

func TestClientGoneDuringLatency(t *testing.T) {
	srv := newTestServer(t, WithLatency(time.Hour, 0, 0), WithRequestTimeout(2*time.Hour))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.WebhookURL()+"crm.item.batchImport",
		strings.NewReader(`{"entityTypeId":2,"data":[{"title":"x"}]}`))
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	srv.Close() // returns: the handler's wait ended with the connection
	assert.Len(t, srv.Items(2), 1, "the call executed although nobody heard the answer")
	recs := srv.Requests()
	require.Len(t, recs, 1)
	assert.Zero(t, recs[0].Status)
}

func TestJitterIsSeeded(t *testing.T) {
	draw := func(seed int64) []time.Duration {
		srv := newServer(WithSeed(seed))
		out := make([]time.Duration, 5)
		for i := range out {
			out[i] = srv.jitter(time.Second)
		}
		return out
	}
	assert.Equal(t, draw(7), draw(7))
	assert.NotEqual(t, draw(7), draw(8))
}
