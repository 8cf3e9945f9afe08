package b24

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests against portals (or proxies in front of them) that misbehave: huge,
// truncated, non-JSON and ill-typed answers, redirects to other hosts,
// trickling connections, a flaky token server. Each must end in a clear
// b24: error, with bounded memory and time, and never a panic.

// assertClean checks what every hostile answer must give: a b24: error
// that carries no secret.
func assertClean(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		assert.True(t, strings.HasPrefix(s, "b24: ") || strings.HasPrefix(s, "&"), "error text %q", s)
		assert.NotContains(t, s, testSecret)
		assert.NotContains(t, s, testClientSecret)
	}
	assert.Less(t, len(err.Error()), 4096, "error text stays short")
}

func TestHostileHugeResponseIsCapped(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	var sent atomic.Int64
	p := newPortal(t, func(w http.ResponseWriter, _ recorded) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result":"`))
		// 256 MiB unless the client hangs up first.
		for range 4096 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	c, _ := testClient(t, webhookFor(t, p), WithMaxResponseSize(1<<20))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := c.Call(t.Context(), "crm.item.list", nil, nil)
	runtime.ReadMemStats(&after)
	assertClean(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(48<<20), "reading is capped, not buffered whole")
	assert.Less(t, sent.Load(), int64(200<<20), "the client hung up instead of draining the answer")
}

func TestHostileHugeTokenAnswerIsCapped(t *testing.T) {
	p := newPortal(t, answerTrue, withTokenHandler(func(w http.ResponseWriter, _ recorded) {
		_, _ = w.Write([]byte(`{"access_token":"`))
		for range 64 {
			if _, err := w.Write([]byte(strings.Repeat("a", 64<<10))); err != nil {
				return
			}
		}
	}))
	o, err := NewOAuth(p.oauthConfig(Token{RefreshToken: testRefresh}))
	require.NoError(t, err)
	c, _ := testClient(t, o)
	err = c.Call(t.Context(), "profile", nil, nil)
	assertClean(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.Zero(t, p.calls.Load(), "no REST call without a token")
}

func TestHostileNonJSONAnswers(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		unknown bool // the write may have executed
	}{
		{"truncated object", 200, `{"result":{"items":[{"item":{"id":1`, true},
		{"truncated after result", 200, `{"result":true,"time":{"start":1`, true},
		{"empty 200", 200, ``, true},
		{"proxy 502 page", 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", true},
		{"proxy 504 page", 504, "<html><body><h1>504 Gateway Time-out</h1></body></html>", true},
		{"proxy 403 page", 403, "<html><body>Forbidden by WAF</body></html>", false},
		{"json array", 200, `[1,2,3]`, true},
		{"json number", 200, `12345`, true},
		{"json string", 200, `"ok"`, true},
		{"json null", 200, `null`, true},
		{"binary garbage", 200, "\x00\xff\xfe{\x01", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t, func(w http.ResponseWriter, _ recorded) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			c, _ := testClient(t, webhookFor(t, p))
			var out map[string]any
			err := c.Call(t.Context(), "crm.item.add", map[string]any{"fields": map[string]any{"title": "x"}}, &out)
			assertClean(t, err)
			assert.Equal(t, tc.unknown, errors.Is(err, ErrOutcomeUnknown), "%v", err)
			assert.EqualValues(t, 1, p.calls.Load(), "a write is never repeated blindly")
			assert.NotContains(t, err.Error(), "<html", "proxy pages are not pasted into errors")

			// A read may be asked again, but only a bounded number of times.
			p.calls.Store(0)
			c2, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{MaxAttempts: 3}))
			err = c2.Call(t.Context(), "crm.item.list", nil, &out)
			assertClean(t, err)
			assert.LessOrEqual(t, p.calls.Load(), int64(3))
		})
	}
}

func TestHostileWrongTypesInImportAnswer(t *testing.T) {
	bodies := map[string]string{
		"items is a string":        `{"result":{"items":"nope"}}`,
		"items are numbers":        `{"result":{"items":[1,2]}}`,
		"id is text":               `{"result":{"items":[{"item":{"id":"abc"}},{"item":{"id":"abc"}}]}}`,
		"id is negative":           `{"result":{"items":[{"item":{"id":-5}},{"item":{"id":-6}}]}}`,
		"id is a float":            `{"result":{"items":[{"item":{"id":1.5}},{"item":{"id":2.5}}]}}`,
		"id is huge":               `{"result":{"items":[{"item":{"id":1e300}},{"item":{"id":99999999999999999999}}]}}`,
		"item is an array":         `{"result":{"items":[{"item":[]},{"item":[1]}]}}`,
		"result is an empty array": `{"result":[]}`,
		"result is a string":       `{"result":"done"}`,
		"items keyed out of range": `{"result":{"items":{"7":{"item":{"id":3}},"-1":{"item":{"id":4}}}}}`,
		"error is an object":       `{"result":{"items":[{"error":{"code":1}},{"error":[]}]}}`,
		"items missing":            `{"result":{}}`,
		"deeply nested":            `{"result":{"items":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			p := newPortal(t, func(w http.ResponseWriter, r recorded) {
				if strings.Contains(r.Path, "crm.item.list") {
					ok(w, map[string]any{"items": []any{}})
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, body)
			})
			c, _ := testClient(t, webhookFor(t, p))
			items := []Item{{Title: "a"}, {Title: "b"}, {Title: "c", OriginatorID: "x", OriginID: "1"}}
			res, err := c.CRMItem.BatchImport(t.Context(), EntityDeal, items)
			require.NotNil(t, res)
			require.Len(t, res.Items, len(items))
			assertClean(t, err)
			var ie *ImportError
			assert.ErrorAs(t, err, &ie)
			for i, r := range res.Items {
				assert.Equal(t, i, r.Index)
				assert.NotEqual(t, ItemImported, r.Status, "row %d cannot be imported by a garbled answer (id %d)", i, r.ID)
				assert.Error(t, r.Err, "row %d says why", i)
			}
		})
	}
}

func TestHostileRedirectsKeepCredentialsHome(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var leaked atomic.Int64
			other := newPortal(t, func(w http.ResponseWriter, r recorded) {
				if strings.Contains(r.Raw+r.Request.URL.String(), "canary") {
					leaked.Add(1)
				}
				ok(w, true)
			})
			p := newPortal(t, func(w http.ResponseWriter, r recorded) {
				w.Header().Set("Location", other.srv.URL+r.Request.URL.RequestURI())
				w.WriteHeader(status)
			})
			// Webhook: the secret is in the path.
			c, _ := testClient(t, webhookFor(t, p))
			err := c.Call(t.Context(), "crm.item.add", map[string]any{"x": 1}, nil)
			assertClean(t, err)
			var moved *PortalMovedError
			require.ErrorAs(t, err, &moved)
			assert.Equal(t, other.srv.URL, moved.Location)

			// OAuth: the token is in the body; the token URL redirects too.
			o, err := NewOAuth(OAuthConfig{Endpoint: p.srv.URL + "/rest/", ClientID: "app", ClientSecret: testClientSecret,
				TokenURL: p.srv.URL + "/oauth/token/", Token: Token{AccessToken: testAccess, RefreshToken: testRefresh}})
			require.NoError(t, err)
			oc, _ := testClient(t, o)
			err = oc.Call(t.Context(), "profile", nil, nil)
			assertClean(t, err)
			assert.ErrorIs(t, err, ErrPortalMoved)
			o2, err := NewOAuth(OAuthConfig{Endpoint: other.srv.URL + "/rest/", ClientID: "app", ClientSecret: testClientSecret,
				TokenURL: p.srv.URL + "/oauth/token/", Token: Token{RefreshToken: testRefresh}})
			require.NoError(t, err)
			oc2, _ := testClient(t, o2)
			err = oc2.Call(t.Context(), "profile", nil, nil)
			assertClean(t, err)
			assert.NotContains(t, err.Error(), testRefresh)

			assert.Zero(t, other.calls.Load(), "nothing follows a redirect")
			assert.Zero(t, leaked.Load())
		})
	}
}

// trickle answers with headers and then one byte every 20 ms, for ever
// (until the client hangs up).
func trickle(w http.ResponseWriter, r recorded) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	_, _ = w.Write([]byte(`{"result":`))
	_ = rc.Flush()
	stop := time.After(10 * time.Second) // never outlive the test by much
	for {
		select {
		case <-r.Request.Context().Done():
			return
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

func TestHostileSlowlorisIsBounded(t *testing.T) {
	t.Run("attempt timeout, trickling body", func(t *testing.T) {
		p := newPortal(t, trickle)
		c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{AttemptTimeout: 200 * time.Millisecond, MaxAttempts: 3}))
		err := c.Call(t.Context(), "crm.item.add", map[string]any{"x": 1}, nil)
		assertClean(t, err)
		assert.ErrorIs(t, err, ErrOutcomeUnknown, "the portal may have run it")
		assert.EqualValues(t, 1, p.calls.Load(), "the write is not repeated")
		err = c.Call(t.Context(), "crm.item.list", nil, nil)
		assertClean(t, err)
		assert.EqualValues(t, 4, p.calls.Load(), "a read is retried up to MaxAttempts, then given up")
	})
	t.Run("attempt timeout, headers never come", func(t *testing.T) {
		p := newPortal(t, func(w http.ResponseWriter, r recorded) {
			select {
			case <-r.Request.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{AttemptTimeout: 200 * time.Millisecond}))
		err := c.Call(t.Context(), "crm.item.add", nil, nil)
		assertClean(t, err)
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
	})
	t.Run("caller's context", func(t *testing.T) {
		p := newPortal(t, trickle)
		c, _ := testClient(t, webhookFor(t, p))
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		err := c.Call(ctx, "crm.item.add", nil, nil)
		assertClean(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, ErrOutcomeUnknown, "sent, then abandoned: unknown")
	})
	t.Run("import through a trickling portal", func(t *testing.T) {
		p := newPortal(t, trickle)
		c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{AttemptTimeout: 200 * time.Millisecond, MaxAttempts: 2}))
		items := []Item{{Title: "a"}, {Title: "b", OriginatorID: "x", OriginID: "1"}}
		res, err := c.CRMItem.BatchImport(t.Context(), EntityDeal, items)
		assertClean(t, err)
		require.Len(t, res.Items, 2)
		for _, r := range res.Items {
			assert.Contains(t, []ItemStatus{ItemUnknown, ItemNotSent}, r.Status)
		}
		assert.Equal(t, ItemUnknown, res.Items[0].Status, "sent without a key: unknown")
	})
}

// TestHostileCancelledImportEndsBounded: an import cancelled while its
// call trickles through a portal that trickles its lookups too ends after
// the call's attempt timeout and one attempt per lookup, not after
// MaxAttempts of them; its rows end unknown. A call that may still be
// running is not looked up at all.
func TestHostileCancelledImportEndsBounded(t *testing.T) {
	for name, tc := range map[string]struct {
		maxExec time.Duration
		lists   int64
	}{
		"call cannot be running any more": {0, 1},
		"call may still be running":       {DefaultMaxExecutionTime, 0},
	} {
		t.Run(name, func(t *testing.T) {
			var lists atomic.Int64
			arrived := make(chan struct{}, 1)
			p := newPortal(t, func(w http.ResponseWriter, r recorded) {
				switch r.Method {
				case "crm.item.list":
					lists.Add(1)
				case "crm.item.batchImport":
					select {
					case arrived <- struct{}{}:
					default:
					}
				}
				trickle(w, r)
			})
			c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{AttemptTimeout: 200 * time.Millisecond, MaxAttempts: 8}),
				WithMaxExecutionTime(tc.maxExec))
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-arrived
				cancel()
			}()
			items := make([]Item, 20)
			for i := range items {
				items[i] = Item{Title: fmt.Sprint("deal ", i), OriginatorID: "crm", OriginID: fmt.Sprint(i)}
			}
			// ExistingCreate: the subject is the settling of the call, not the
			// lookup before it (which the trickle would stall the same way).
			res, err := c.CRMItem.BatchImport(ctx, EntityDeal, items, WithConcurrency(1), WithExisting(ExistingCreate))
			assertClean(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			for _, r := range res.Items {
				assert.Equal(t, ItemUnknown, r.Status, "row %d: %v", r.Index, r.Err)
			}
			assert.Equal(t, tc.lists, lists.Load(), "lookups after the cancel")
		})
	}
}

// TestOAuthRefreshRetriesTransientFailures: one failure of the token server
// (a proxy's 503, a dropped connection) must not fail the call, while a
// definitive answer (invalid_grant) is not repeated.
func TestOAuthRefreshRetriesTransientFailures(t *testing.T) {
	cases := []struct {
		name     string
		first    func(w http.ResponseWriter)
		wantOK   bool
		wantReqs int64
	}{
		{"503 page", func(w http.ResponseWriter) {
			w.WriteHeader(503)
			_, _ = io.WriteString(w, "<html>503 Service Unavailable</html>")
		}, true, 2},
		{"429", func(w http.ResponseWriter) { apiError(w, 429, "too_many_requests", "slow down") }, true, 2},
		{"dropped connection", func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		}, true, 2},
		{"invalid_grant", func(w http.ResponseWriter) { apiError(w, 400, "invalid_grant", "Invalid grant") }, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			p := newPortal(t, answerTrue, withTokenHandler(func(w http.ResponseWriter, _ recorded) {
				if n.Add(1) == 1 {
					tc.first(w)
					return
				}
				writeJSON(w, 200, map[string]any{"access_token": "canaryaccess-9", "refresh_token": "canaryrefresh-9", "expires_in": 3600})
			}))
			o, err := NewOAuth(p.oauthConfig(Token{RefreshToken: testRefresh}))
			require.NoError(t, err)
			c, _ := testClient(t, o)
			err = c.Call(t.Context(), "profile", nil, nil)
			if tc.wantOK {
				require.NoError(t, err)
				assert.Equal(t, "canaryaccess-9", o.Token().AccessToken)
			} else {
				assertClean(t, err)
				assert.ErrorIs(t, err, ErrInvalidGrant)
			}
			assert.Equal(t, tc.wantReqs, n.Load())
		})
	}
	t.Run("a token server that stays down is given up", func(t *testing.T) {
		p := newPortal(t, answerTrue, withTokenHandler(func(w http.ResponseWriter, _ recorded) { w.WriteHeader(503) }))
		o, err := NewOAuth(p.oauthConfig(Token{RefreshToken: testRefresh}))
		require.NoError(t, err)
		c, _ := testClient(t, o)
		err = c.Call(t.Context(), "profile", nil, nil)
		assertClean(t, err)
		var te *TokenError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, 503, te.StatusCode)
		assert.EqualValues(t, maxTokenAttempts, p.refreshes.Load())
		assert.Zero(t, p.calls.Load(), "no REST call without a token")
	})
}

// TestHostileOversizedImportAnswerIsUnknown: an import call whose answer is
// too large to read was executed by the portal; its rows must not be
// reported "not sent" (a caller would send them again and duplicate them).
func TestHostileOversizedImportAnswerIsUnknown(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		if strings.Contains(r.Path, "crm.item.list") {
			ok(w, map[string]any{"items": []any{}})
			return
		}
		ok(w, map[string]any{"items": []any{map[string]any{"item": map[string]any{"id": 1}}}, "pad": strings.Repeat("x", 8192)})
	})
	c, _ := testClient(t, webhookFor(t, p), WithMaxResponseSize(4096))
	res, err := c.CRMItem.BatchImport(t.Context(), EntityDeal, []Item{{Title: "a"}})
	assertClean(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.Equal(t, ItemUnknown, res.Items[0].Status, "the portal ran the call: the row's fate is unknown")
}

// TestRefreshAgainLaterInRetries: a call that refreshed its token, then
// retried through a refusal, may refresh again when the token expires
// later in the same retry sequence; but a token refused right after its
// refresh ends the call (no refresh loop).
func TestRefreshAgainLaterInRetries(t *testing.T) {
	run := func(t *testing.T, answers ...func(w http.ResponseWriter)) (int64, error) {
		var tokens atomic.Int64
		var calls atomic.Int64
		p := newPortal(t, func(w http.ResponseWriter, _ recorded) {
			n := int(calls.Add(1))
			if n > len(answers) {
				ok(w, true)
				return
			}
			answers[n-1](w)
		}, withTokenHandler(func(w http.ResponseWriter, _ recorded) {
			n := tokens.Add(1)
			writeJSON(w, 200, map[string]any{"access_token": fmt.Sprintf("canaryaccess-r%d", n),
				"refresh_token": fmt.Sprintf("canaryrefresh-r%d", n), "expires_in": 3600})
		}))
		o, err := NewOAuth(p.oauthConfig(Token{AccessToken: testAccess, RefreshToken: testRefresh}))
		require.NoError(t, err)
		c, _ := testClient(t, o)
		err = c.Call(t.Context(), "crm.item.add", map[string]any{"x": 1}, nil)
		return tokens.Load(), err
	}
	expired := func(w http.ResponseWriter) {
		apiError(w, 401, "expired_token", "The access token provided has expired.")
	}
	limited := func(w http.ResponseWriter) { apiError(w, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests") }

	t.Run("second expiry after a refusal", func(t *testing.T) {
		refreshes, err := run(t, expired, limited, limited, expired, limited)
		require.NoError(t, err)
		assert.EqualValues(t, 2, refreshes)
	})
	t.Run("a fresh token refused once more is refreshed once more", func(t *testing.T) {
		refreshes, err := run(t, expired, expired)
		require.NoError(t, err)
		assert.EqualValues(t, 2, refreshes)
	})
	t.Run("refused right after the refresh", func(t *testing.T) {
		refreshes, err := run(t, expired, expired, expired)
		assertClean(t, err)
		assert.ErrorIs(t, err, ErrTokenExpired)
		// The pipeline refreshes before it decides not to retry, so the
		// second refusal costs one more (harmless) rotation; no loop.
		assert.LessOrEqual(t, refreshes, int64(2))
	})
}

// TestHostileGarbledBatchAnswers: packed calls travel in one batch request;
// a batch answer that is garbled, partial or ill-typed must leave the rows
// of every command it does not clearly answer unimported, never panic, and
// never turn a bogus id into an "imported" row.
func TestHostileGarbledBatchAnswers(t *testing.T) {
	bodies := map[string]string{
		"result is a string":      `{"result":"ok"}`,
		"sections are lists":      `{"result":{"result":[],"result_error":[],"result_time":[]}}`,
		"results for other ids":   `{"result":{"result":{"x9":{"items":[{"item":{"id":1}}]}}}}`,
		"command result garbled":  `{"result":{"result":{"c0":{"items":"x"},"c1":[1,2]}}}`,
		"bogus ids":               `{"result":{"result":{"c0":{"items":[{"item":{"id":-1}},{"item":{"id":"x"}}]},"c1":{"items":[{"item":{}}]}}}}`,
		"error entries garbled":   `{"result":{"result_error":{"c0":"boom","c1":{"error":{"x":1}}}}}`,
		"result_time wrong types": `{"result":{"result":{},"result_time":{"c0":"slow","c1":{"operating":"NaN"}}},"time":{"operating":-1}}`,
		"batch error envelope":    `{"error":"ERROR_BATCH_LENGTH_EXCEEDED","error_description":"Max batch length exceeded"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			var batches atomic.Int64
			p := newPortal(t, func(w http.ResponseWriter, r recorded) {
				switch {
				case strings.Contains(r.Path, "crm.item.list"):
					ok(w, map[string]any{"items": []any{}})
				case strings.Contains(r.Path, "/batch"):
					batches.Add(1)
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, body)
				default:
					apiError(w, 500, "ERROR_CORE", "unpacked calls fail too")
				}
			})
			c, _ := testClient(t, webhookFor(t, p), WithRetry(RetryPolicy{MaxAttempts: 2}))
			items := make([]Item, 60)
			for i := range items {
				items[i] = Item{Title: fmt.Sprint("t", i)}
				if i%2 == 0 {
					items[i].OriginatorID, items[i].OriginID = "x", fmt.Sprint(i)
				}
			}
			var res *BatchImportResult
			var err error
			require.NotPanics(t, func() { res, err = c.CRMItem.BatchImport(t.Context(), EntityDeal, items, WithPacking(3)) })
			require.Len(t, res.Items, len(items))
			assertClean(t, err)
			for i, r := range res.Items {
				assert.Equal(t, i, r.Index)
				assert.NotEqual(t, ItemImported, r.Status, "row %d imported with id %d from a garbled answer", i, r.ID)
				assert.Error(t, r.Err, "row %d", i)
			}
			assert.Positive(t, batches.Load(), "the calls were packed")
		})
	}
}
