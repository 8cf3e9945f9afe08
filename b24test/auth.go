package b24test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenPair is one issued OAuth pair.
type tokenPair struct {
	access, refresh string
	expiry          time.Time
}

// tokenStore keeps the OAuth tokens the fake authorization server issued.
type tokenStore struct {
	mu      sync.Mutex
	ttl     time.Duration
	access  map[string]time.Time // access token -> expiry
	refresh map[string]bool      // live refresh tokens
}

func (t *tokenStore) init(ttl time.Duration) {
	t.ttl = ttl
	t.access = make(map[string]time.Time)
	t.refresh = make(map[string]bool)
}

// issue creates a new pair.
func (t *tokenStore) issue(now time.Time) tokenPair {
	p := tokenPair{access: randomHex(24), refresh: randomHex(24), expiry: now.Add(t.ttl)}
	t.mu.Lock()
	t.access[p.access] = p.expiry
	t.refresh[p.refresh] = true
	t.mu.Unlock()
	return p
}

// rotate spends refresh and issues a new pair; ok is false when refresh is
// unknown or already spent.
func (t *tokenStore) rotate(refresh string, now time.Time) (tokenPair, bool) {
	t.mu.Lock()
	live := t.refresh[refresh]
	delete(t.refresh, refresh)
	t.mu.Unlock()
	if !live {
		return tokenPair{}, false
	}
	return t.issue(now), true
}

// check classifies an access token: "" when valid, else the error code.
func (t *tokenStore) check(access string, now time.Time) string {
	t.mu.Lock()
	exp, ok := t.access[access]
	t.mu.Unlock()
	switch {
	case !ok:
		return "invalid_token"
	case !now.Before(exp):
		return "expired_token"
	}
	return ""
}

// ExpireTokens makes every access token issued so far expire now, so the
// next call with one of them gets 401 expired_token.
func (s *Server) ExpireTokens() {
	now := time.Now()
	s.auth.mu.Lock()
	for k := range s.auth.access {
		s.auth.access[k] = now
	}
	s.auth.mu.Unlock()
}

// RevokeRefreshTokens kills every refresh token issued so far; refreshing
// with one of them gets 400 invalid_grant.
func (s *Server) RevokeRefreshTokens() {
	s.auth.mu.Lock()
	clear(s.auth.refresh)
	s.auth.mu.Unlock()
}

// authResult says who is calling.
type authResult struct {
	kind string // "webhook", "oauth", "none"
	key  string // credential key for the limits
	err  *apiErr
}

// authenticate checks the credentials of a REST call. For OAuth the token
// is taken from the auth or access_token parameter, or a Bearer header, and
// removed from the parameters.
func (s *Server) authenticate(r *http.Request, user, secret string, webhook bool, params map[string]any, now time.Time) authResult {
	if webhook {
		if user != "1" || secret != s.secret {
			return authResult{kind: "webhook", err: &apiErr{http.StatusUnauthorized, "INVALID_CREDENTIALS", "Invalid request credentials"}}
		}
		return authResult{kind: "webhook", key: "webhook:1"}
	}
	token := ""
	for _, name := range []string{"auth", "access_token"} {
		if k, v, ok := lookupParam(params, name); ok {
			if str, isStr := v.(string); isStr && token == "" {
				token = str
			}
			delete(params, k)
		}
	}
	if token == "" {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			token = strings.TrimSpace(h[7:])
		}
	}
	if token == "" {
		return authResult{kind: "none", err: &apiErr{http.StatusUnauthorized, "NO_AUTH_FOUND", "Wrong authorization data"}}
	}
	switch s.auth.check(token, now) {
	case "invalid_token":
		return authResult{kind: "oauth", err: &apiErr{http.StatusUnauthorized, "invalid_token", "Unable to get application by token"}}
	case "expired_token":
		return authResult{kind: "oauth", err: &apiErr{http.StatusUnauthorized, "expired_token", "The access token provided has expired."}}
	}
	return authResult{kind: "oauth", key: "app:" + s.clientID}
}

// serveToken is the OAuth authorization server's token endpoint; only the
// refresh_token grant is supported (there is no user to authorize a code).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range form {
				if _, ok := q[k]; !ok {
					q[k] = v
				}
			}
		}
	}
	now := time.Now()
	status, code := http.StatusOK, ""
	defer func() { s.rec.add(RequestRecord{Method: "oauth.token", Auth: "none", Status: status, Code: code}) }()
	fail := func(st int, c, desc string) {
		status, code = st, c
		writeJSON(w, st, map[string]string{"error": c, "error_description": desc})
	}
	switch {
	case q.Get("grant_type") == "":
		fail(http.StatusBadRequest, "invalid_request", "grant_type is missing")
		return
	case q.Get("grant_type") != "refresh_token":
		fail(http.StatusBadRequest, "unsupported_grant_type", "only refresh_token is supported by this fake")
		return
	case q.Get("client_id") != s.clientID || q.Get("client_secret") != s.clientSecret:
		fail(http.StatusUnauthorized, "invalid_client", "Invalid client credentials")
		return
	}
	pair, ok := s.auth.rotate(q.Get("refresh_token"), now)
	if !ok {
		fail(http.StatusBadRequest, "invalid_grant", "Invalid grant")
		return
	}
	s.rec.count(func(st *Stats) { st.Refreshes++ })
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  pair.access,
		"refresh_token": pair.refresh,
		"expires":       pair.expiry.Unix(),
		"expires_in":    int64(s.cfg.tokenTTL / time.Second),
		"scope":         "crm",
		// The fake is its own authorization server: clients that take the
		// next refresh's address from server_endpoint (the JS SDK) come back.
		"domain":          strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://"),
		"server_endpoint": s.URL + "/rest/",
		"client_endpoint": s.URL + "/rest/",
		"member_id":       "b24test",
		"status":          "L",
		"user_id":         1,
	})
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"WRONG_ENCODING","error_description":"response could not be encoded"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
