package b24

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The fixture of the package's internal tests: one scriptable fake portal
// (newPortal, with options for an OAuth token endpoint), the answers its
// handlers write, and a client for it that never sleeps.

// The canaries: no log line, error text or request to the wrong place may
// ever contain them.
const (
	testSecret       = "canarysecret4711" // the webhook secret
	testClientSecret = "canaryclientsecret0815"
	testRefresh      = "canaryrefresh-0" // the first refresh token of withOAuth
	testAccess       = "canaryaccess-0"  // the first access token of withOAuth
)

// recorded is one request seen by a portal.
type recorded struct {
	Path   string
	Method string // REST method from the path
	Body   map[string]any
	Raw    string
	// Request is the request itself, its body readable again, for handlers
	// that need the query, the headers or the context (to notice a client
	// that hung up). It is nil in the log [portal.requests] returns.
	Request *http.Request
}

// portal is a fake portal for the internal tests: a REST endpoint whose
// answers a handler writes and, with withOAuth or withTokenHandler, an
// OAuth token endpoint on a second server (the cloud's is another host,
// oauth.bitrix.info).
type portal struct {
	srv       *httptest.Server // the REST endpoint
	token     *httptest.Server // the token endpoint; nil without one
	handler   func(w http.ResponseWriter, r recorded)
	tokenH    func(w http.ResponseWriter, r recorded)
	calls     atomic.Int64 // requests to the REST endpoint
	refreshes atomic.Int64 // requests to the token endpoint

	mu   sync.Mutex // guards reqs and the OAuth state below
	reqs []recorded

	// The OAuth state of withOAuth: the only valid pair, rotated by every
	// refresh.
	oauth     bool
	access    string
	refresh   string
	gen       int
	gate      chan struct{} // if set, the token endpoint waits for it
	failGrant bool          // if set, every refresh is refused
}

// portalOption configures newPortal.
type portalOption func(*portal)

// withOAuth gives the portal a token endpoint that rotates the pair on
// every refresh (testAccess and testRefresh first; the client secret must
// be testClientSecret), and makes the REST endpoint refuse any access token
// but the current one with 401 expired_token before the handler sees the
// call.
func withOAuth() portalOption {
	return func(p *portal) {
		p.oauth = true
		p.access, p.refresh = testAccess, testRefresh
		p.tokenH = p.rotate
	}
}

// withTokenHandler gives the portal a token endpoint whose answers h
// writes.
func withTokenHandler(h func(w http.ResponseWriter, r recorded)) portalOption {
	return func(p *portal) { p.tokenH = h }
}

// newPortal starts a portal whose REST answers h writes, closed when the
// test ends. Every request's body is read before h runs, so the server
// notices (through r.Request.Context) when the client hangs up.
func newPortal(t *testing.T, h func(w http.ResponseWriter, r recorded), opts ...portalOption) *portal {
	t.Helper()
	p := &portal{handler: h}
	for _, o := range opts {
		o(p)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serveREST))
	t.Cleanup(p.srv.Close)
	if p.tokenH != nil {
		p.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.refreshes.Add(1)
			p.tokenH(w, record(r))
		}))
		t.Cleanup(p.token.Close)
	}
	return p
}

// record reads r's body and describes the request.
func record(r *http.Request) recorded {
	raw, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(raw)))
	rec := recorded{Path: r.URL.Path, Raw: string(raw), Request: r}
	_ = json.Unmarshal(raw, &rec.Body)
	rec.Method = strings.TrimSuffix(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], ".json")
	return rec
}

func (p *portal) serveREST(w http.ResponseWriter, r *http.Request) {
	rec := record(r)
	logged := rec
	logged.Request = nil
	p.mu.Lock()
	p.reqs = append(p.reqs, logged)
	valid := !p.oauth || rec.Body["auth"] == p.access
	p.mu.Unlock()
	p.calls.Add(1)
	if !valid {
		apiError(w, 401, "expired_token", "The access token provided has expired.")
		return
	}
	p.handler(w, rec)
}

// rotate is the token endpoint of withOAuth.
func (p *portal) rotate(w http.ResponseWriter, r recorded) {
	if p.gate != nil {
		<-p.gate
	}
	q := r.Request.URL.Query()
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
}

func (p *portal) webhookURL() string { return p.srv.URL + "/rest/1/" + testSecret + "/" }

// oauthConfig is an OAuth configuration for the portal's REST and token
// endpoints, starting from tok.
func (p *portal) oauthConfig(tok Token) OAuthConfig {
	return OAuthConfig{
		Endpoint: p.srv.URL + "/rest/", ClientID: "app.1", ClientSecret: testClientSecret,
		TokenURL: p.token.URL + "/oauth/token/", Token: tok,
	}
}

// expireAccess makes withOAuth's REST endpoint refuse the current access
// token.
func (p *portal) expireAccess() {
	p.mu.Lock()
	p.access = "revoked"
	p.mu.Unlock()
}

// requests returns the REST requests seen so far.
func (p *portal) requests() []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]recorded(nil), p.reqs...)
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError answers with the portal's error envelope.
func apiError(w http.ResponseWriter, status int, code any, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

// ok answers with a result envelope.
func ok(w http.ResponseWriter, result any) {
	writeJSON(w, 200, map[string]any{"result": result, "time": map[string]any{"start": 1, "finish": 1.01, "duration": 0.01, "processing": 0.005}})
}

// answerTrue is a handler answering every call with result true.
func answerTrue(w http.ResponseWriter, _ recorded) { ok(w, true) }

// noSleep is an instant sleep that still honours ctx, recording waits.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *noSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

// testClient builds a client for p with no real backoff sleeps and a
// limiter too generous to matter.
func testClient(t *testing.T, creds Credentials, opts ...Option) (*Client, *noSleep) {
	t.Helper()
	ns := &noSleep{}
	base := []Option{WithAllowHTTP(), WithRateLimit(1e6, 1000), func(c *config) error { c.sleep = ns.sleep; return nil }}
	c, err := NewClient(creds, append(base, opts...)...)
	require.NoError(t, err)
	return c, ns
}

// webhookFor is the webhook of p's REST endpoint, with testSecret.
func webhookFor(t *testing.T, p *portal) *Webhook {
	t.Helper()
	w, err := NewWebhook(p.webhookURL())
	require.NoError(t, err)
	return w
}
