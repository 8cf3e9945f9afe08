package b24_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/b24kit/b24/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The secrets test runs the client through its scenarios (webhook and OAuth
// imports under faults, refreshes, a dead refresh token, a moved portal)
// with a debug logger, captures everything a user could print or log, and
// scans it for the canaries: the webhook secret, the client secret and
// every access and refresh token issued during the run. It also records
// every request on the wire, to prove the client secret and refresh tokens
// go to the token URL only.

const canaryWebhookSecret = "canaryWebhookSecret7d3f"

// capture collects text from logs, errors and formatted values.
type capture struct {
	testutil.SyncBuffer
}

func (c *capture) add(format string, args ...any) {
	_, _ = fmt.Fprintf(c, format+"\n", args...)
}

// addAll records v in every verb a user might use.
func (c *capture) addAll(v any) {
	c.add("%v | %+v | %#v | %s", v, v, v, v)
}

// logger is a debug logger writing text and JSON records into c.
func (c *capture) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}
	return slog.New(fanout{slog.NewTextHandler(c, opts), slog.NewJSONHandler(c, opts)})
}

// fanout sends every record to several handlers.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool { return f[0].Enabled(ctx, l) }
func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		_ = h.Handle(ctx, r.Clone())
	}
	return nil
}
func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (f fanout) WithGroup(n string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(n)
	}
	return out
}

// wireRecord is one request as it left the client.
type wireRecord struct {
	path string
	text string // URL, headers and body
}

// wiretap records every request the client sends.
type wiretap struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []wireRecord
}

func (w *wiretap) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	var hdr bytes.Buffer
	_ = r.Header.Write(&hdr)
	w.mu.Lock()
	w.reqs = append(w.reqs, wireRecord{path: r.URL.Path, text: r.URL.String() + "\n" + hdr.String() + "\n" + string(body)})
	w.mu.Unlock()
	return w.base.RoundTrip(r)
}

func (w *wiretap) records() []wireRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wireRecord(nil), w.reqs...)
}

// guard runs f and records a panic instead of crashing, so the scan sees
// its text too.
func guard(cp *capture, f func()) {
	defer func() {
		if p := recover(); p != nil {
			cp.add("PANIC: %v", p)
		}
	}()
	f()
}

func keyedDeals(prefix string, n int) []b24.Item {
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprintf("%s-%d", prefix, i), OriginatorID: "sec", OriginID: fmt.Sprintf("%s-%d", prefix, i)}
	}
	return items
}

func TestSecretsNeverLeak(t *testing.T) {
	cp := &capture{}
	logger := cp.logger()
	retry := b24.WithRetry(b24.RetryPolicy{MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	canaries := []string{canaryWebhookSecret}
	var canMu sync.Mutex
	addCanary := func(s ...string) {
		canMu.Lock()
		canaries = append(canaries, s...)
		canMu.Unlock()
	}

	// Webhook import through every fault, then a moved portal.
	hookSrv := fakePortal(t, b24test.WithWebhookSecret(canaryWebhookSecret))
	require.Contains(t, hookSrv.WebhookURL(), canaryWebhookSecret)
	hookTap := &wiretap{base: http.DefaultTransport}
	hc := hookSrv.Client(b24.WithLogger(logger), retry, b24.WithHTTPClient(&http.Client{Transport: hookTap}))
	for _, f := range []b24test.Fault{
		{Method: "crm.item.batchImport", Kind: b24test.FaultDropAfterExecute, Times: 2},
		{Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 4, Times: 1},
		{Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Times: 1},
		{Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Times: 2},
	} {
		hookSrv.InjectFault(f)
	}
	guard(cp, func() {
		wh, err := b24.NewWebhook(hookSrv.WebhookURL())
		require.NoError(t, err)
		cp.addAll(wh)
		cp.addAll(hc)
		logger.Info("user logs the credential", "creds", wh, "client", hc)
		res, err := hc.CRMItem.BatchImport(t.Context(), b24.EntityDeal, keyedDeals("w", 60))
		cp.addAll(res)
		cp.addAll(err)
		res, err = hc.CRMItem.BatchImport(t.Context(), b24.EntityDeal, soakItems(30, false))
		cp.addAll(res)
		cp.addAll(err)
		for _, r := range res.Items {
			cp.addAll(r)
			cp.addAll(r.Err)
		}
		hookSrv.InjectFault(b24test.Fault{Kind: b24test.FaultMove, Location: "https://moved.example.com", Times: 1})
		err = hc.Call(t.Context(), "crm.item.add", map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "x"}}, nil)
		require.ErrorIs(t, err, b24.ErrPortalMoved)
		cp.addAll(err)
		bad, err := b24.NewWebhook(strings.Replace(hookSrv.WebhookURL(), "/rest/1/", "/rest/1 /", 1))
		cp.addAll(bad)
		cp.addAll(err)
		_, err = b24.NewWebhook(hookSrv.WebhookURL() + "a/b/c")
		cp.addAll(err)
		_, err = b24.NewClient(wh)
		cp.addAll(err)
	})

	// OAuth import with tokens refreshed along the way, then a dead
	// refresh token.
	oSrv := fakePortal(t)
	cfg := oSrv.OAuthConfig()
	addCanary(cfg.ClientSecret, cfg.Token.AccessToken, cfg.Token.RefreshToken)
	cfg.OnRefresh = func(_ context.Context, tok b24.Token) error {
		addCanary(tok.AccessToken, tok.RefreshToken)
		return nil
	}
	oa, err := b24.NewOAuth(cfg)
	require.NoError(t, err)
	tap := &wiretap{base: http.DefaultTransport}
	oc, err := b24.NewClient(oa, append(oSrv.ClientOptions(), b24.WithLogger(logger), retry, b24.WithHTTPClient(&http.Client{Transport: tap}))...)
	require.NoError(t, err)
	guard(cp, func() {
		cp.addAll(oa)
		cp.addAll(oc)
		cp.addAll(cfg.Token)
		logger.Debug("user logs the credential", "oauth", oa, "token", oa.Token())
		oSrv.InjectFault(b24test.Fault{Kind: b24test.FaultDropAfterExecute, Method: "crm.item.batchImport", Times: 1})
		for round := range 3 {
			oSrv.ExpireTokens()
			res, err := oc.CRMItem.BatchImport(t.Context(), b24.EntityDeal, keyedDeals(fmt.Sprintf("o%d", round), 25))
			cp.addAll(res)
			cp.addAll(err)
			require.NoError(t, err)
		}
		oSrv.FailNext("expired_token", 2) // refused twice in a row: the refreshed token too
		cp.addAll(oc.Call(t.Context(), "crm.item.add", map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "y"}}, nil))
		oSrv.RevokeRefreshTokens()
		oSrv.ExpireTokens()
		res, err := oc.CRMItem.BatchImport(t.Context(), b24.EntityDeal, keyedDeals("dead", 5))
		require.ErrorIs(t, err, b24.ErrInvalidGrant)
		cp.addAll(res)
		cp.addAll(err)
		err = oc.Call(t.Context(), "profile", nil, nil)
		cp.addAll(err)
		// A client secret that the token server refuses.
		wrong := cfg
		wrong.ClientSecret = "canaryWrongClientSecret"
		addCanary(wrong.ClientSecret)
		wrong.Token = oSrv.OAuthConfig().Token
		addCanary(wrong.Token.AccessToken, wrong.Token.RefreshToken)
		wo, err := b24.NewOAuth(wrong)
		require.NoError(t, err)
		wc, err := b24.NewClient(wo, append(oSrv.ClientOptions(), b24.WithLogger(logger), retry)...)
		require.NoError(t, err)
		oSrv.ExpireTokens()
		err = wc.Call(t.Context(), "profile", nil, nil)
		require.ErrorIs(t, err, b24.ErrInvalidClient)
		cp.addAll(err)
		cp.addAll(wo)
	})

	captured := cp.String()
	require.Contains(t, captured, "level=DEBUG", "the debug logger recorded the attempts")
	require.Contains(t, captured, "invalid_grant")
	canMu.Lock()
	require.Greater(t, len(canaries), 8, "refreshes happened and their tokens are canaries")
	for _, c := range canaries {
		require.GreaterOrEqual(t, len(c), 16)
		if strings.Contains(captured, c) {
			i := strings.Index(captured, c)
			t.Errorf("canary %.8s… leaked: …%s…", c, captured[max(0, i-200):min(len(captured), i+len(c)+40)])
		}
	}
	canMu.Unlock()

	// On the wire: the client secret and refresh tokens go to the token
	// URL only, access tokens to the REST endpoint only, and the webhook
	// secret never leaves its own path.
	tokenReqs := 0
	for _, r := range tap.records() {
		toToken := strings.HasPrefix(r.path, "/oauth/token")
		if toToken {
			tokenReqs++
			assert.Contains(t, r.text, cfg.ClientSecret)
		} else {
			assert.True(t, strings.HasPrefix(r.path, "/rest/"), r.path)
			assert.NotContains(t, r.text, cfg.ClientSecret, "client secret sent to %s", r.path)
			assert.NotContains(t, r.text, "refresh_token", "refresh grant sent to %s", r.path)
			canMu.Lock()
			for _, c := range canaries {
				if strings.Contains(r.text, c) && !strings.Contains(r.text, `"auth":"`+c+`"`) {
					t.Errorf("a secret other than the access token went to %s", r.path)
				}
			}
			canMu.Unlock()
		}
	}
	assert.GreaterOrEqual(t, tokenReqs, 3)
	for _, r := range hookTap.records() {
		assert.True(t, strings.HasPrefix(r.path, "/rest/1/"+canaryWebhookSecret+"/"), r.path)
		assert.Equal(t, 1, strings.Count(r.text, canaryWebhookSecret), "the secret travels in the path only")
	}
}

// echoSecret answers as a portal that puts the credential it was called
// with into its error texts: the top-level code and description, every
// item's error and error_description, and every command error of a batch.
func echoSecret(secret string) answerEdit {
	return func(method string, status int, body []byte) (int, []byte) {
		leak := "LEAK_" + secret
		switch method {
		case "crm.item.batchImport":
			var env map[string]any
			if json.Unmarshal(body, &env) != nil {
				return status, body
			}
			res, _ := env["result"].(map[string]any)
			items, _ := res["items"].([]any)
			for i := range items {
				items[i] = map[string]any{"error": leak, "error_description": "auth " + secret + " was refused"}
			}
			out, _ := json.Marshal(env)
			return status, out
		case "batch":
			var env map[string]any
			if json.Unmarshal(body, &env) != nil {
				return status, body
			}
			res, _ := env["result"].(map[string]any)
			cmds, _ := res["result"].(map[string]any)
			errs := map[string]any{}
			for id := range cmds {
				errs[id] = map[string]any{"error": leak, "error_description": "auth " + secret + " was refused"}
			}
			res["result"], res["result_error"] = []any{}, errs
			out, _ := json.Marshal(env)
			return status, out
		}
		out, _ := json.Marshal(map[string]any{"error": leak, "error_description": "auth " + secret + " was refused"})
		return 400, out
	}
}

// TestSecretsEchoedByThePortalAreRedacted: whatever text of the portal
// carries the webhook secret (an error code, an item's error or
// description, a batch command's error), the secret reaches no error,
// result or log.
func TestSecretsEchoedByThePortalAreRedacted(t *testing.T) {
	var c capture
	srv := fakePortal(t, b24test.WithWebhookSecret(proxySecret))
	client := tamperedClient(t, srv, echoSecret(proxySecret), b24.WithLogger(c.logger()))
	for _, packing := range []int{1, 2} {
		res, err := client.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(60, false), b24.WithPacking(packing), b24.WithConcurrency(1))
		require.Error(t, err)
		c.addAll(err)
		for _, r := range res.Items {
			require.NotEqual(t, b24.ItemImported, r.Status)
			c.addAll(r.Err)
			var ie *b24.ItemError
			if errors.As(r.Err, &ie) {
				c.add("%s %s", ie.Code, ie.Description)
			}
			var ae *b24.APIError
			if errors.As(r.Err, &ae) {
				c.add("%s %s", ae.Code, ae.Description)
			}
		}
	}
	err := client.Call(t.Context(), "crm.item.list", nil, nil)
	require.Error(t, err)
	c.addAll(err)
	var ae *b24.APIError
	require.ErrorAs(t, err, &ae)
	c.add("%s %s", ae.Code, ae.Description)

	out := c.String()
	assert.Contains(t, out, "LEAK_***", "the texts are kept, the secret is not")
	assert.Zero(t, strings.Count(out, proxySecret), "the secret appears in what a user sees")
}
