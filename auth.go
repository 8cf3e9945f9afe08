package b24

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/b24kit/b24/internal/transport"
	"github.com/b24kit/b24/internal/wire"
)

// Credentials authorise the client's calls to one portal. [*Webhook] and
// [*OAuth] implement it; the interface is sealed so the client can rely on
// how each kind signs a request and refreshes.
type Credentials interface {
	// authorize returns the URL to POST method to and, for OAuth, the access
	// token to send with it.
	authorize(ctx context.Context, te *tokenEndpoint, method string) (reqURL, token string, err error)
	// tokenRejected tells the credentials the portal refused token as
	// expired; it refreshes (once, shared by all callers) or returns an error.
	tokenRejected(ctx context.Context, te *tokenEndpoint, token string) error
	// urls lists the endpoints the credentials talk to, for the https check.
	urls() []*url.URL
	// secrets lists the values that must never appear in an error or log.
	secrets() []string
}

// tokenEndpoint is how a refresh reaches the OAuth token server: through
// the client's transport, with its retry policy for transient failures and
// its logger. The client that needs the refresh supplies it.
type tokenEndpoint struct {
	transport *transport.Transport
	retry     RetryPolicy
	sleep     func(ctx context.Context, d time.Duration) error
	log       *slog.Logger
}

// maxTokenAttempts bounds the tries of one token refresh.
const maxTokenAttempts = 4

// get performs the GET of a refresh. A transient failure (transport error,
// 429 or 5xx) is retried with the client's backoff: one hiccup of the token
// server must not stop an import. A refresh the server did process but
// whose answer was lost cannot be repeated (the old refresh token is
// spent); the retry then gets invalid_grant, which is final either way.
func (te *tokenEndpoint) get(ctx context.Context, tokenURL string) (int, []byte, error) {
	attempts := min(te.retry.MaxAttempts, maxTokenAttempts)
	for attempt := 1; ; attempt++ {
		resp, err := te.transport.Get(ctx, tokenURL)
		transient := err != nil || resp.Status == http.StatusTooManyRequests || resp.Status >= 500
		if !transient || attempt >= attempts || ctx.Err() != nil {
			return resp.Status, resp.Body, err
		}
		wait := te.retry.backoff(attempt)
		te.log.LogAttrs(ctx, slog.LevelWarn, "b24: retrying token refresh",
			slog.Int("attempt", attempt), slog.Int("status", resp.Status), slog.Duration("wait", wait))
		if serr := te.sleep(ctx, wait); serr != nil {
			return resp.Status, resp.Body, err
		}
	}
}

// Webhook is an incoming-webhook credential: a URL of the form
// https://HOST/rest/USER/SECRET/ that carries its secret in the path. Its
// String method redacts the secret. A Webhook is immutable and safe for
// concurrent use.
type Webhook struct {
	base   *url.URL // https://HOST/[prefix/]rest/USER/SECRET/
	userID string
}

// methodRe accepts REST method names such as "crm.item.batchImport".
var methodRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)

var (
	webhookUserRe   = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)
	webhookSecretRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// NewWebhook parses and validates an incoming-webhook URL such as
// "https://example.bitrix24.com/rest/1/abcdef123/". The trailing slash is
// optional and a method pasted after the secret ("…/abcdef123/profile.json")
// is dropped. Errors match [ErrInvalidInput] and never repeat the secret.
//
// API docs: https://apidocs.bitrix24.com/local-integrations/local-webhooks.html
func NewWebhook(webhookURL string) (*Webhook, error) {
	raw := strings.TrimSpace(webhookURL)
	if raw == "" {
		return nil, invalidInput("webhook url is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalidInput("webhook url does not parse")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, invalidInput("webhook url must start with https://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, invalidInput("webhook url has no host")
	}
	if u.User != nil {
		return nil, invalidInput("webhook url must not contain user info")
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	rest := -1
	for i, s := range segs {
		if s == "rest" {
			rest = i
			break
		}
	}
	if rest < 0 || len(segs) < rest+3 {
		return nil, invalidInput("webhook url must look like https://HOST/rest/USER/SECRET/")
	}
	user, secret := segs[rest+1], segs[rest+2]
	if !webhookUserRe.MatchString(user) {
		return nil, invalidInput("webhook url has an invalid user id")
	}
	if !webhookSecretRe.MatchString(secret) {
		return nil, invalidInput("webhook url has an invalid secret")
	}
	switch extra := segs[rest+3:]; {
	case len(extra) > 1:
		return nil, invalidInput("webhook url has unexpected path segments after the secret")
	case len(extra) == 1 && !methodRe.MatchString(strings.TrimSuffix(strings.TrimSuffix(extra[0], ".json"), ".xml")):
		return nil, invalidInput("webhook url has an unexpected path segment after the secret")
	}
	base := &url.URL{
		Scheme: u.Scheme,
		Host:   u.Host,
		Path:   "/" + strings.Join(segs[:rest+3], "/") + "/",
	}
	return &Webhook{base: base, userID: user}, nil
}

// String returns the webhook URL with its secret replaced by "***".
func (w *Webhook) String() string {
	if w == nil || w.base == nil {
		return "<nil webhook>"
	}
	return redactURL(w.base)
}

// Host returns the portal's host name (and port, if any).
func (w *Webhook) Host() string { return w.base.Host }

func (w *Webhook) authorize(_ context.Context, _ *tokenEndpoint, method string) (string, string, error) {
	return w.base.String() + method + ".json", "", nil
}

func (w *Webhook) tokenRejected(context.Context, *tokenEndpoint, string) error {
	// A webhook has no token to refresh; the portal's answer stands.
	return nil
}

func (w *Webhook) urls() []*url.URL { return []*url.URL{w.base} }

func (w *Webhook) secrets() []string {
	segs := strings.Split(strings.Trim(w.base.Path, "/"), "/")
	return []string{segs[len(segs)-1]}
}

// DefaultTokenURL is Bitrix24's OAuth server, used when OAuthConfig.TokenURL
// is empty.
const DefaultTokenURL = "https://oauth.bitrix.info/oauth/token/"

// refreshMargin is how long before expiry a token counts as expired. Access
// tokens live an hour; a minute avoids sending one that dies in flight.
const refreshMargin = time.Minute

// refreshTimeout bounds one refresh request, which runs detached from the
// caller that started it so that other waiters are not failed by its cancel.
const refreshTimeout = 30 * time.Second

// OAuthConfig configures an [OAuth] credential.
type OAuthConfig struct {
	Endpoint     string // portal REST endpoint: the client_endpoint, e.g. "https://HOST/rest/"
	ClientID     string
	ClientSecret string
	TokenURL     string // default DefaultTokenURL
	Token        Token  // the current pair
	// OnRefresh receives every rotated pair before it is used. Persist it:
	// the previous refresh token is dead from that moment on. If OnRefresh
	// fails, the call that needed the refresh fails too, the new pair is
	// kept in memory only, and OnRefresh is offered it again before its
	// next use.
	OnRefresh func(ctx context.Context, t Token) error
	// Store, if set, shares the token pair between processes (see
	// [TokenStore]); the b24redis module provides one.
	Store TokenStore
}

// Token is an OAuth access/refresh token pair.
type Token struct {
	AccessToken, RefreshToken string
	Expiry                    time.Time // zero: unknown, treated as valid until the portal says otherwise
}

// String hides the tokens, so a Token can be logged by mistake safely.
func (t Token) String() string {
	return fmt.Sprintf("b24.Token{expiry: %s}", t.Expiry.Format(time.RFC3339))
}

// GoString hides the tokens from %#v as well.
func (t Token) GoString() string { return t.String() }

// LogValue keeps the tokens out of log/slog records, whose JSON handler
// would otherwise print the exported fields.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// TokenStore shares one OAuth token pair between processes. Bitrix24 rotates
// the refresh token on every refresh and the old one dies at once, so only
// one process may refresh at a time and the others must adopt its result.
//
// With a store, a refresh runs as: Lock; Load; if the loaded access token
// differs from the one the portal refused, adopt it; otherwise refresh
// with the loaded refresh token, Save the new pair, call OnRefresh; unlock.
type TokenStore interface {
	// Load returns the newest pair saved by any process.
	Load(ctx context.Context) (Token, error)
	// Save persists a freshly rotated pair. It is called while the lock is held.
	Save(ctx context.Context, t Token) error
	// Lock acquires the exclusive right to refresh (with an expiry, so a
	// crashed holder does not strand the pair). unlock releases it.
	Lock(ctx context.Context) (unlock func(), err error)
}

// OAuth is an OAuth 2.0 application credential. It refreshes the access
// token through TokenURL when it is within a minute of expiry or the portal
// answers expired_token; concurrent callers share a single refresh. An OAuth
// is safe for concurrent use and may be shared by several clients of the
// same portal.
//
// API docs: https://apidocs.bitrix24.com/settings/oauth/index.html, https://apidocs.bitrix24.com/settings/oauth/auto-renewal.html
type OAuth struct {
	endpoint *url.URL
	tokenURL *url.URL
	clientID string
	secret   string
	onSave   func(ctx context.Context, t Token) error
	store    TokenStore
	now      func() time.Time

	mu       sync.Mutex
	tok      Token
	unsaved  bool // tok came from a refresh whose saving (store or OnRefresh) failed
	inflight *refreshFlight
}

// refreshFlight is one refresh shared by every caller that needs it.
type refreshFlight struct {
	done chan struct{}
	tok  Token
	err  error
}

// NewOAuth validates cfg and returns the credential.
func NewOAuth(cfg OAuthConfig) (*OAuth, error) {
	ep, err := parseHTTPURL(cfg.Endpoint, "oauth endpoint")
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(ep.Path, "/") {
		ep.Path += "/"
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	tu, err := parseHTTPURL(tokenURL, "oauth token url")
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, invalidInput("oauth client id and client secret are required")
	}
	if cfg.Token.AccessToken == "" && cfg.Token.RefreshToken == "" {
		return nil, invalidInput("oauth token pair is empty")
	}
	return &OAuth{
		endpoint: ep, tokenURL: tu,
		clientID: cfg.ClientID, secret: cfg.ClientSecret,
		onSave: cfg.OnRefresh, store: cfg.Store,
		now: time.Now, tok: cfg.Token,
	}, nil
}

func parseHTTPURL(raw, what string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || raw == "" {
		return nil, invalidInput("%s is missing or does not parse", what)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, invalidInput("%s must start with https://", what)
	}
	if u.Host == "" || u.User != nil {
		return nil, invalidInput("%s must be an absolute url with a host and no user info", what)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// Token returns the current pair (for example to persist it at shutdown).
func (o *OAuth) Token() Token {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tok
}

// String describes the credential without its secrets: the client secret
// and the tokens never appear in %v, %+v or %#v, so an OAuth logged by
// mistake leaks nothing.
func (o *OAuth) String() string {
	if o == nil || o.endpoint == nil {
		return "<nil oauth>"
	}
	return "b24.OAuth{endpoint: " + o.endpoint.String() + ", client: " + o.clientID + "}"
}

// GoString hides the secrets from %#v as well.
func (o *OAuth) GoString() string { return o.String() }

// LogValue keeps the secrets out of log/slog records.
func (o *OAuth) LogValue() slog.Value { return slog.StringValue(o.String()) }

func (o *OAuth) urls() []*url.URL { return []*url.URL{o.endpoint, o.tokenURL} }

func (o *OAuth) secrets() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return []string{o.secret, o.tok.AccessToken, o.tok.RefreshToken}
}

func (o *OAuth) authorize(ctx context.Context, te *tokenEndpoint, method string) (string, string, error) {
	o.mu.Lock()
	tok, unsaved := o.tok, o.unsaved
	o.mu.Unlock()
	if unsaved {
		if err := o.retrySave(ctx, tok); err != nil {
			return "", "", err
		}
	}
	if tok.AccessToken == "" || (!tok.Expiry.IsZero() && o.now().Add(refreshMargin).After(tok.Expiry)) {
		var err error
		if tok, err = o.refresh(ctx, te, tok.AccessToken); err != nil {
			return "", "", err
		}
	}
	return o.endpoint.String() + method, tok.AccessToken, nil
}

func (o *OAuth) tokenRejected(ctx context.Context, te *tokenEndpoint, token string) error {
	_, err := o.refresh(ctx, te, token)
	return err
}

// retrySave persists a pair whose saving failed (to the store, then to
// OnRefresh) before it is used: it is the only live pair, and processes
// sharing the store would otherwise load a dead refresh token.
func (o *OAuth) retrySave(ctx context.Context, tok Token) error {
	if err := o.persist(ctx, tok); err != nil {
		return err
	}
	o.mu.Lock()
	if o.tok.AccessToken == tok.AccessToken {
		o.unsaved = false
	}
	o.mu.Unlock()
	return nil
}

// refresh replaces the pair whose access token is stale, once for all
// concurrent callers. A caller whose ctx ends stops waiting; the refresh
// itself goes on for the others.
func (o *OAuth) refresh(ctx context.Context, te *tokenEndpoint, stale string) (Token, error) {
	o.mu.Lock()
	if o.tok.AccessToken != stale && o.tok.AccessToken != "" && !o.unsaved {
		tok := o.tok // someone refreshed since the caller read the token
		o.mu.Unlock()
		return tok, nil
	}
	f := o.inflight
	if f == nil {
		f = &refreshFlight{done: make(chan struct{})}
		o.inflight = f
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		go func() {
			defer cancel()
			f.tok, f.err = o.runRefresh(rctx, te, stale)
			o.mu.Lock()
			o.inflight = nil
			o.mu.Unlock()
			close(f.done)
		}()
	}
	o.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// runRefresh performs one refresh, through the shared store when there is one.
func (o *OAuth) runRefresh(ctx context.Context, te *tokenEndpoint, stale string) (Token, error) {
	if o.store == nil {
		o.mu.Lock()
		cur := o.tok
		o.mu.Unlock()
		return o.rotate(ctx, te, cur.RefreshToken)
	}
	unlock, err := o.store.Lock(ctx)
	if err != nil {
		return Token{}, fmt.Errorf("b24: token store lock: %w", err)
	}
	defer unlock()
	cur, err := o.store.Load(ctx)
	if err != nil {
		return Token{}, fmt.Errorf("b24: token store load: %w", err)
	}
	fresh := cur.Expiry.IsZero() || o.now().Add(refreshMargin).Before(cur.Expiry)
	if cur.AccessToken != "" && cur.AccessToken != stale && fresh {
		o.mu.Lock()
		o.tok, o.unsaved = cur, false
		o.mu.Unlock()
		return cur, nil // another process refreshed already
	}
	if cur.RefreshToken == "" {
		o.mu.Lock()
		cur = o.tok
		o.mu.Unlock()
	}
	return o.rotate(ctx, te, cur.RefreshToken)
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	RefreshToken     string          `json:"refresh_token"`
	Expires          wire.FlexInt    `json:"expires"`
	ExpiresIn        wire.FlexInt    `json:"expires_in"`
	Error            wire.FlexString `json:"error"`
	ErrorDescription string          `json:"error_description"`
	ClientEndpoint   string          `json:"client_endpoint"`
}

// rotate exchanges refreshToken for a new pair, persists it (store, then
// OnRefresh) and installs it.
func (o *OAuth) rotate(ctx context.Context, te *tokenEndpoint, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, &TokenError{Code: "invalid_grant", Description: "no refresh token available"}
	}
	q := url.Values{}
	q.Set("grant_type", "refresh_token")
	q.Set("client_id", o.clientID)
	q.Set("client_secret", o.secret)
	q.Set("refresh_token", refreshToken)
	u := *o.tokenURL
	u.RawQuery = q.Encode()
	status, body, err := te.get(ctx, u.String())
	if err != nil {
		return Token{}, fmt.Errorf("b24: token refresh: %w", err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if tr.Error != "" || status >= 400 {
		secrets := []string{o.secret, refreshToken}
		code := portalText(string(tr.Error), maxCodeLen, secrets)
		if code == "" {
			code = "http_error"
		}
		return Token{}, &TokenError{StatusCode: status, Code: code, Description: portalText(tr.ErrorDescription, maxDescriptionLen, secrets)}
	}
	if jsonErr != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
		return Token{}, &TokenError{StatusCode: status, Code: "invalid_response", Description: "token endpoint answered without a token pair"}
	}
	tok := Token{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken}
	switch {
	case tr.Expires > 0:
		tok.Expiry = time.Unix(int64(tr.Expires), 0)
	case tr.ExpiresIn > 0:
		tok.Expiry = o.now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	saveErr := o.persist(ctx, tok)
	o.mu.Lock()
	o.tok, o.unsaved = tok, saveErr != nil
	o.mu.Unlock()
	if saveErr != nil {
		return Token{}, saveErr
	}
	return tok, nil
}

// persist saves a rotated pair to the store and hands it to OnRefresh.
func (o *OAuth) persist(ctx context.Context, tok Token) error {
	if o.store != nil {
		if err := o.store.Save(ctx, tok); err != nil {
			return fmt.Errorf("b24: token store save failed (the rotated pair is kept in memory): %w", err)
		}
	}
	if o.onSave != nil {
		if err := o.onSave(ctx, tok); err != nil {
			return fmt.Errorf("b24: saving the rotated oauth token failed (it is kept in memory): %w", err)
		}
	}
	return nil
}

// redactURL renders u with the webhook secret (the path segment after the
// user id under /rest/) and any query replaced.
func redactURL(u *url.URL) string {
	c := *u
	segs := strings.Split(c.Path, "/")
	for i, s := range segs {
		if s == "rest" && i+2 < len(segs) && segs[i+2] != "" {
			segs[i+2] = "***"
			break
		}
	}
	c.Path = strings.Join(segs, "/")
	c.RawPath = ""
	if c.RawQuery != "" {
		c.RawQuery = "***"
	}
	return strings.Replace(c.String(), "%2A%2A%2A", "***", -1)
}
