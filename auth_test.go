package b24

import (
	"context"
	"errors"
	"fmt"
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

func TestNewOAuthValidates(t *testing.T) {
	good := OAuthConfig{Endpoint: "https://p.example.com/rest/", ClientID: "a", ClientSecret: "b", Token: Token{AccessToken: "x", RefreshToken: "y"}}
	_, err := NewOAuth(good)
	require.NoError(t, err)
	for name, mut := range map[string]func(*OAuthConfig){
		"no endpoint":     func(c *OAuthConfig) { c.Endpoint = "" },
		"relative":        func(c *OAuthConfig) { c.Endpoint = "/rest/" },
		"bad scheme":      func(c *OAuthConfig) { c.Endpoint = "ftp://p.example.com/rest/" },
		"no client id":    func(c *OAuthConfig) { c.ClientID = "" },
		"no secret":       func(c *OAuthConfig) { c.ClientSecret = "" },
		"no tokens":       func(c *OAuthConfig) { c.Token = Token{} },
		"bad token url":   func(c *OAuthConfig) { c.TokenURL = "::" },
		"userinfo in url": func(c *OAuthConfig) { c.Endpoint = "https://u:p@p.example.com/rest/" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mut(&cfg)
			_, err := NewOAuth(cfg)
			assert.ErrorIs(t, err, ErrInvalidInput)
		})
	}
	t.Run("http endpoint needs WithAllowHTTP", func(t *testing.T) {
		cfg := good
		cfg.TokenURL = "http://p.example.com/oauth/token/"
		o, err := NewOAuth(cfg)
		require.NoError(t, err)
		_, err = NewClient(o)
		assert.ErrorIs(t, err, ErrInvalidInput)
	})
	t.Run("token formatting hides secrets", func(t *testing.T) {
		tok := Token{AccessToken: testAccess, RefreshToken: testRefresh}
		for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok)} {
			assert.NotContains(t, s, testAccess)
			assert.NotContains(t, s, testRefresh)
		}
	})
}

func TestOAuthRefreshOnExpiredToken(t *testing.T) {
	p := newPortal(t, answerTrue, withOAuth())
	var saved []Token
	cfg := p.oauthConfig(Token{AccessToken: "stale", RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)})
	cfg.OnRefresh = func(_ context.Context, tok Token) error { saved = append(saved, tok); return nil }
	o, err := NewOAuth(cfg)
	require.NoError(t, err)
	c, _ := testClient(t, o)
	require.NoError(t, c.Call(t.Context(), "profile", nil, nil))
	assert.EqualValues(t, 1, p.refreshes.Load())
	assert.EqualValues(t, 2, p.calls.Load(), "refused once, then retried with the new token")
	require.Len(t, saved, 1)
	assert.Equal(t, "canaryaccess-1", saved[0].AccessToken)
	assert.Equal(t, "canaryrefresh-1", o.Token().RefreshToken)
}

func TestOAuthRefreshBeforeExpiry(t *testing.T) {
	p := newPortal(t, answerTrue, withOAuth())
	o, err := NewOAuth(p.oauthConfig(Token{AccessToken: testAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(30 * time.Second)}))
	require.NoError(t, err)
	c, _ := testClient(t, o)
	require.NoError(t, c.Call(t.Context(), "profile", nil, nil))
	assert.EqualValues(t, 1, p.refreshes.Load(), "a token within a minute of expiry is refreshed first")
	assert.EqualValues(t, 1, p.calls.Load(), "no call is wasted on a token about to die")
}

func TestOAuthSingleFlightRefresh(t *testing.T) {
	p := newPortal(t, answerTrue, withOAuth())
	p.gate = make(chan struct{})
	o, err := NewOAuth(p.oauthConfig(Token{AccessToken: testAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	c, _ := testClient(t, o)
	p.expireAccess()

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Call(t.Context(), "profile", nil, nil)
		}()
	}
	// Let the refresh finish once every caller has been refused.
	require.Eventually(t, func() bool { return p.calls.Load() >= n }, 10*time.Second, time.Millisecond)
	close(p.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 1, p.refreshes.Load(), "exactly one refresh for 50 callers")
}

func TestOAuthWaiterRespectsOwnContext(t *testing.T) {
	p := newPortal(t, answerTrue, withOAuth())
	p.gate = make(chan struct{})
	defer close(p.gate)
	o, err := NewOAuth(p.oauthConfig(Token{AccessToken: "stale", RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	c, _ := testClient(t, o)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Call(ctx, "profile", nil, nil) }()
	require.Eventually(t, func() bool { return p.refreshes.Load() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestOAuthRefreshFailures(t *testing.T) {
	t.Run("invalid_grant is typed and not retried", func(t *testing.T) {
		p := newPortal(t, answerTrue, withOAuth())
		p.failGrant = true
		o, err := NewOAuth(p.oauthConfig(Token{AccessToken: "stale", RefreshToken: testRefresh}))
		require.NoError(t, err)
		c, _ := testClient(t, o)
		err = c.Call(t.Context(), "profile", nil, nil)
		assert.ErrorIs(t, err, ErrInvalidGrant)
		assert.NotErrorIs(t, err, ErrInvalidClient)
		var te *TokenError
		require.ErrorAs(t, err, &te)
		assert.EqualValues(t, 1, p.refreshes.Load())
		assert.NotContains(t, err.Error(), testRefresh, "the refresh token echoed by the server is redacted")
	})
	t.Run("invalid_client is typed", func(t *testing.T) {
		p := newPortal(t, answerTrue, withOAuth())
		cfg := p.oauthConfig(Token{AccessToken: "stale", RefreshToken: testRefresh})
		cfg.ClientSecret = "wrong-secret"
		o, err := NewOAuth(cfg)
		require.NoError(t, err)
		c, _ := testClient(t, o)
		err = c.Call(t.Context(), "profile", nil, nil)
		assert.ErrorIs(t, err, ErrInvalidClient)
		assert.NotErrorIs(t, err, ErrInvalidGrant)
		assert.NotContains(t, err.Error(), "wrong-secret")
	})
	t.Run("OnRefresh failure stops the call and the pair is offered again", func(t *testing.T) {
		p := newPortal(t, answerTrue, withOAuth())
		fail := true
		var saved []string
		cfg := p.oauthConfig(Token{AccessToken: "stale", RefreshToken: testRefresh})
		cfg.OnRefresh = func(_ context.Context, tok Token) error {
			if fail {
				return errors.New("disk full")
			}
			saved = append(saved, tok.RefreshToken)
			return nil
		}
		o, err := NewOAuth(cfg)
		require.NoError(t, err)
		c, _ := testClient(t, o)
		err = c.Call(t.Context(), "profile", nil, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "disk full")
		callsAfterFailure := p.calls.Load()
		assert.EqualValues(t, 1, callsAfterFailure, "the call is not sent with an unsaved pair")
		fail = false
		require.NoError(t, c.Call(t.Context(), "profile", nil, nil))
		assert.Equal(t, []string{"canaryrefresh-1"}, saved, "the kept pair is saved before use, not refreshed again")
		assert.EqualValues(t, 1, p.refreshes.Load())
	})
}

// memStore is an in-memory TokenStore shared by several OAuth values, as
// separate processes would share Redis.
type memStore struct {
	mu    sync.Mutex
	lock  sync.Mutex
	tok   Token
	saves int
}

func (s *memStore) Load(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, nil
}

func (s *memStore) Save(_ context.Context, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok, s.saves = t, s.saves+1
	return nil
}

func (s *memStore) Lock(context.Context) (func(), error) {
	s.lock.Lock()
	return s.lock.Unlock, nil
}

func TestOAuthSharedStoreRefreshesOnce(t *testing.T) {
	p := newPortal(t, answerTrue, withOAuth())
	start := Token{AccessToken: testAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}
	store := &memStore{tok: start}
	var clients []*Client
	for range 3 {
		cfg := p.oauthConfig(start)
		cfg.Store = store
		o, err := NewOAuth(cfg)
		require.NoError(t, err)
		c, _ := testClient(t, o)
		clients = append(clients, c)
	}
	p.expireAccess()
	var wg sync.WaitGroup
	for _, c := range clients {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, c.Call(t.Context(), "profile", nil, nil))
			}()
		}
	}
	wg.Wait()
	assert.EqualValues(t, 1, p.refreshes.Load(), "one refresh for three 'processes'")
	assert.Equal(t, 1, store.saves)
}

// TestNoSecretInLogsOrErrors runs the client's scenarios with a debug
// logger and scans everything captured for the canary secrets.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string

	p := newPortal(t, answerTrue, withOAuth())
	o, err := NewOAuth(p.oauthConfig(Token{AccessToken: "stale", RefreshToken: testRefresh}))
	require.NoError(t, err)
	c, _ := testClient(t, o, WithLogger(logger))
	require.NoError(t, c.Call(t.Context(), "profile", nil, nil))
	p.failGrant = true
	p.expireAccess()
	if err := c.Call(t.Context(), "profile", nil, nil); err != nil {
		errs = append(errs, err.Error())
	}

	n := 0
	hook := newPortal(t, func(w http.ResponseWriter, r recorded) {
		switch n++; n {
		case 1:
			apiError(w, 503, "QUERY_LIMIT_EXCEEDED", "")
		case 2:
			w.Header().Set("Location", "https://moved.example.com/rest/1/"+testSecret+"/profile")
			w.WriteHeader(302)
		case 3:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			apiError(w, 401, "INVALID_CREDENTIALS", "bad "+testSecret)
		}
	})
	wc, _ := testClient(t, webhookFor(t, hook), WithLogger(logger))
	for range 4 {
		if err := wc.Call(t.Context(), "crm.item.add", map[string]any{"k": "v"}, nil); err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	dead, err := NewWebhook(closed.URL + "/rest/1/" + testSecret + "/")
	require.NoError(t, err)
	dc, _ := testClient(t, dead, WithLogger(logger), WithRetry(RetryPolicy{MaxAttempts: 2}))
	if err := dc.Call(t.Context(), "profile", nil, nil); err != nil {
		errs = append(errs, err.Error())
	}

	captured := buf.String() + strings.Join(errs, "\n")
	require.NotEmpty(t, buf.String(), "the debug logger must have recorded the attempts")
	require.NotEmpty(t, errs)
	for _, secret := range []string{testSecret, testClientSecret, testRefresh, "canaryrefresh-1", "canaryaccess-1", testAccess} {
		assert.NotContains(t, captured, secret)
	}
}
