package b24

import (
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientRejectsBadInput(t *testing.T) {
	w, err := NewWebhook("https://p.example.com/rest/1/s3cret/")
	require.NoError(t, err)
	httpHook, err := NewWebhook("http://p.example.com/rest/1/s3cret/")
	require.NoError(t, err)
	var nilHook *Webhook
	cases := []struct {
		name  string
		creds Credentials
		opts  []Option
	}{
		{"nil credentials", nil, nil},
		{"typed nil credentials", nilHook, nil},
		{"http without WithAllowHTTP", httpHook, nil},
		{"zero rate", w, []Option{WithRateLimit(0, 10)}},
		{"NaN rate", w, []Option{WithRateLimit(math.NaN(), 10)}},
		{"negative burst", w, []Option{WithRateLimit(2, -1)}},
		{"zero operating budget", w, []Option{WithOperatingLimit(0, time.Minute)}},
		{"nil http client", w, []Option{WithHTTPClient(nil)}},
		{"nil logger", w, []Option{WithLogger(nil)}},
		{"nil limiter", w, []Option{WithLimiter(nil)}},
		{"negative retry", w, []Option{WithRetry(RetryPolicy{MaxAttempts: -1})}},
		{"empty user agent", w, []Option{WithUserAgent(" ")}},
		{"tiny response cap", w, []Option{WithMaxResponseSize(10)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.creds, tc.opts...)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrInvalidInput)
		})
	}
	t.Run("option order does not matter", func(t *testing.T) {
		a, err := NewClient(httpHook, WithRateLimit(3, 7), WithAllowHTTP())
		require.NoError(t, err)
		b, err := NewClient(httpHook, WithAllowHTTP(), WithRateLimit(3, 7))
		require.NoError(t, err)
		assert.Equal(t, a.limiter.(*tokenBucket).lim.Burst(), b.limiter.(*tokenBucket).lim.Burst())
	})
}

func TestCallRejectsBadInputWithoutSending(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) { ok(w, true) })
	c, _ := testClient(t, webhookFor(t, p))
	cases := []struct {
		name   string
		method string
		params any
	}{
		{"empty method", "", nil},
		{"method with space", "crm.item list", nil},
		{"method with slash", "crm/item.list", nil},
		{"method with query", "crm.item.list?x=1", nil},
		{"leading dot", ".crm", nil},
		{"NaN param", "crm.item.list", map[string]any{"x": math.NaN()}},
		{"channel param", "crm.item.list", map[string]any{"x": make(chan int)}},
		{"non-object params", "crm.item.list", []int{1, 2}},
		{"invalid raw json", "crm.item.list", []byte("{nope")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Call(t.Context(), tc.method, tc.params, nil)
			assert.ErrorIs(t, err, ErrInvalidInput)
		})
	}
	assert.Zero(t, p.calls.Load(), "no request may be sent for bad input")
}

func TestCallSendsJSONAndDecodesResult(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		ok(w, map[string]any{"item": map[string]any{"id": "15", "title": "A"}})
	})
	c, _ := testClient(t, webhookFor(t, p))
	var out struct {
		Item struct {
			ID    wire.FlexInt `json:"id"`
			Title string       `json:"title"`
		} `json:"item"`
	}
	params := map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "A"}}
	require.NoError(t, c.Call(t.Context(), "crm.item.add", params, &out))
	assert.EqualValues(t, 15, out.Item.ID)
	reqs := p.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/rest/1/"+testSecret+"/crm.item.add.json", reqs[0].Path)

	golden := filepath.Join("testdata", "call_request.golden.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(golden, []byte(reqs[0].Raw+"\n"), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), reqs[0].Raw)
}
