package b24

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testClientSecret = "canaryclientsecret0815"
	testRefresh      = "canaryrefresh-0"
	testAccess       = "canaryaccess-0"
)

// oauthPortal is a REST endpoint plus token endpoint with rotating pairs.
type oauthPortal struct {
	rest, token *httptest.Server
	mu          sync.Mutex
	access      string // the only valid access token
	refresh     string // the only valid refresh token
	gen         int
	refreshes   atomic.Int64
	calls       atomic.Int64
	gate        chan struct{} // if set, the token endpoint waits for it
	failGrant   bool
}

func newOAuthPortal(t *testing.T) *oauthPortal {
	t.Helper()
	p := &oauthPortal{access: testAccess, refresh: testRefresh}
	p.rest = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		var body struct {
			Auth string `json:"auth"`
		}
		buf := new(bytes.Buffer)
		_, _ = buf.ReadFrom(r.Body)
		_ = json.Unmarshal(buf.Bytes(), &body)
		p.mu.Lock()
		valid := body.Auth == p.access
		p.mu.Unlock()
		if !valid {
			apiError(w, 401, "expired_token", "The access token provided has expired.")
			return
		}
		ok(w, map[string]any{"ID": "1"})
	}))
	p.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.refreshes.Add(1)
		if p.gate != nil {
			<-p.gate
		}
		q := r.URL.Query()
		if q.Get("client_secret") != testClientSecret {
			apiError(w, 401, "invalid_client", "Invalid client secret")
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.failGrant || q.Get("grant_type") != "refresh_token" || q.Get("refresh_token") != p.refresh {
			apiError(w, 400, "invalid_grant", "Invalid grant "+q.Get("refresh_token"))
			return
		}
		p.gen++
		p.access = fmt.Sprintf("canaryaccess-%d", p.gen)
		p.refresh = fmt.Sprintf("canaryrefresh-%d", p.gen)
		writeJSON(w, 200, map[string]any{
			"access_token": p.access, "refresh_token": p.refresh, "expires_in": 3600,
			"expires": time.Now().Add(time.Hour).Unix(), "domain": "oauth.bitrix.info",
		})
	}))
	t.Cleanup(p.rest.Close)
	t.Cleanup(p.token.Close)
	return p
}

func (p *oauthPortal) config(tok Token) OAuthConfig {
	return OAuthConfig{
		Endpoint: p.rest.URL + "/rest/", ClientID: "app.1", ClientSecret: testClientSecret,
		TokenURL: p.token.URL + "/oauth/token/", Token: tok,
	}
}

func (p *oauthPortal) expireAccess() {
	p.mu.Lock()
	p.access = "revoked"
	p.mu.Unlock()
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
	p := newOAuthPortal(t)
	var saved []Token
	cfg := p.config(Token{AccessToken: "stale", RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)})
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
	p := newOAuthPortal(t)
	o, err := NewOAuth(p.config(Token{AccessToken: testAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(30 * time.Second)}))
	require.NoError(t, err)
	c, _ := testClient(t, o)
	require.NoError(t, c.Call(t.Context(), "profile", nil, nil))
	assert.EqualValues(t, 1, p.refreshes.Load(), "a token within a minute of expiry is refreshed first")
	assert.EqualValues(t, 1, p.calls.Load(), "no call is wasted on a token about to die")
}

func TestOAuthSingleFlightRefresh(t *testing.T) {
	p := newOAuthPortal(t)
	p.gate = make(chan struct{})
	o, err := NewOAuth(p.config(Token{AccessToken: testAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}))
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
	p := newOAuthPortal(t)
	p.gate = make(chan struct{})
	defer close(p.gate)
	o, err := NewOAuth(p.config(Token{AccessToken: "stale", RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}))
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
		p := newOAuthPortal(t)
		p.failGrant = true
		o, err := NewOAuth(p.config(Token{AccessToken: "stale", RefreshToken: testRefresh}))
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
		p := newOAuthPortal(t)
		cfg := p.config(Token{AccessToken: "stale", RefreshToken: testRefresh})
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
		p := newOAuthPortal(t)
		fail := true
		var saved []string
		cfg := p.config(Token{AccessToken: "stale", RefreshToken: testRefresh})
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
	p := newOAuthPortal(t)
	start := Token{AccessToken: testAccess, RefreshToken: testRefresh, Expiry: time.Now().Add(time.Hour)}
	store := &memStore{tok: start}
	var clients []*Client
	for range 3 {
		cfg := p.config(start)
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
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string

	p := newOAuthPortal(t)
	o, err := NewOAuth(p.config(Token{AccessToken: "stale", RefreshToken: testRefresh}))
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

	mu.Lock()
	captured := buf.String() + strings.Join(errs, "\n")
	mu.Unlock()
	require.NotEmpty(t, buf.String(), "the debug logger must have recorded the attempts")
	require.NotEmpty(t, errs)
	for _, secret := range []string{testSecret, testClientSecret, testRefresh, "canaryrefresh-1", "canaryaccess-1", testAccess} {
		assert.NotContains(t, captured, secret)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
