package b24

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewWebhook(t *testing.T) {
	valid := []struct{ in, base string }{
		{"https://portal.example.com/rest/1/abc123/", "https://portal.example.com/rest/1/abc123/"},
		{"https://portal.example.com/rest/1/abc123", "https://portal.example.com/rest/1/abc123/"},
		{"https://portal.example.com/rest/1/abc123/profile.json", "https://portal.example.com/rest/1/abc123/"},
		{"https://portal.example.com/rest/1/abc123/crm.item.add", "https://portal.example.com/rest/1/abc123/"},
		{"  https://portal.example.com:8443/rest/12/Ab_9/  ", "https://portal.example.com:8443/rest/12/Ab_9/"},
		{"https://portal.example.com/sub/rest/7/x1?foo=bar", "https://portal.example.com/sub/rest/7/x1/"},
		{"http://127.0.0.1:8080/rest/1/s/", "http://127.0.0.1:8080/rest/1/s/"},
	}
	for _, tc := range valid {
		t.Run("valid "+tc.in, func(t *testing.T) {
			w, err := NewWebhook(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.base, w.base.String())
			segs := strings.Split(w.base.Path, "/")
			assert.NotContains(t, w.String(), "/"+segs[len(segs)-2]+"/", "String must hide the secret")
			assert.True(t, strings.HasSuffix(w.String(), "/***/"), w.String())
		})
	}
	invalid := []string{
		"", "   ", "portal.example.com/rest/1/abc/", "/rest/1/abc/", "ftp://portal.example.com/rest/1/abc/",
		"https:///rest/1/abc/", "https://portal.example.com/", "https://portal.example.com/rest/1/",
		"https://portal.example.com/rest//abc/", "https://user:pw@portal.example.com/rest/1/abc/",
		"https://portal.example.com/rest/1/ab%20c/", "https://portal.example.com/rest/1/abc/crm.item.add/extra",
		"https://portal.example.com/rest/1/abc/bad method", "://bad",
	}
	for _, in := range invalid {
		t.Run("invalid "+in, func(t *testing.T) {
			_, err := NewWebhook(in)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.True(t, strings.HasPrefix(err.Error(), "b24: "), err.Error())
			if strings.Contains(in, "abc") {
				assert.NotContains(t, err.Error(), "abc")
			}
		})
	}
}

func TestWebhookStringRedactsSecret(t *testing.T) {
	w, err := NewWebhook("https://p.example.com/rest/1/" + testSecret + "/")
	require.NoError(t, err)
	assert.Equal(t, "https://p.example.com/rest/1/***/", w.String())
}

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
	t.Run("time block with strings and operating fields", func(t *testing.T) {
		env, okk := wire.DecodeEnvelope([]byte(`{"result":1,"time":{"start":"1778747192.91","finish":1778747193,"processing":0.5,"operating":3.3,"operating_reset_at":1778747792}}`))
		require.True(t, okk)
		require.NotNil(t, env.Time)
		assert.InDelta(t, 1778747192.91, env.Time.Start, 1e-6)
		assert.True(t, env.Time.HasOperating)
		assert.Equal(t, int64(1778747792), env.Time.OperatingResetAt.Unix())
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

func TestIsReadMethod(t *testing.T) {
	for m, want := range map[string]bool{
		"crm.item.list": true, "crm.item.get": true, "crm.item.fields": true, "server.time": true,
		"profile": true, "crm.item.add": false, "crm.item.batchImport": false, "batch": false,
		"crm.item.import": false, "crm.item.update": false,
	} {
		assert.Equal(t, want, isReadMethod(m), m)
	}
}
