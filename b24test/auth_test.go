package b24test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoutes(t *testing.T) {
	srv := newTestServer(t)
	t.Run("webhook with and without .json", func(t *testing.T) {
		for _, path := range []string{"server.time", "server.time.json", "SERVER.TIME.JSON"} {
			a := do(t, http.MethodPost, srv.WebhookURL()+path, "application/json", "{}")
			var s string
			a.decode(t, &s)
			_, err := time.Parse(phpDateC, s)
			assert.NoError(t, err, path)
		}
	})
	t.Run("profile", func(t *testing.T) {
		var p map[string]any
		call(t, srv, "profile", "").decode(t, &p)
		assert.Equal(t, "1", p["ID"])
		assert.Equal(t, true, p["ADMIN"])
	})
	t.Run("unknown method", func(t *testing.T) {
		a := call(t, srv, "crm.deal.add", "{}")
		assert.Equal(t, http.StatusNotFound, a.Status)
		assert.Equal(t, "ERROR_METHOD_NOT_FOUND", a.Error)
	})
	t.Run("wrong webhook secret", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.URL+"/rest/1/wrong/server.time", "application/json", "{}")
		assert.Equal(t, http.StatusUnauthorized, a.Status)
		assert.Equal(t, "INVALID_CREDENTIALS", a.Error)
	})
	t.Run("wrong webhook user", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.URL+"/rest/2/"+srv.secret+"/server.time", "application/json", "{}")
		assert.Equal(t, "INVALID_CREDENTIALS", a.Error)
	})
	t.Run("oauth without token", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.URL+"/rest/server.time", "application/json", "{}")
		assert.Equal(t, http.StatusUnauthorized, a.Status)
		assert.Equal(t, "NO_AUTH_FOUND", a.Error)
	})
	t.Run("oauth unknown token", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.URL+"/rest/server.time", "application/json", `{"auth":"nope"}`)
		assert.Equal(t, http.StatusUnauthorized, a.Status)
		assert.Equal(t, "invalid_token", a.Error)
	})
	t.Run("outside /rest/", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/other")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
	t.Run("bare /rest/", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.URL+"/rest/", "application/json", "{}")
		assert.Equal(t, "ERROR_METHOD_NOT_FOUND", a.Error)
	})
	t.Run("request log", func(t *testing.T) {
		var last RequestRecord
		for _, r := range srv.Requests() {
			if r.Method == "SERVER.TIME" {
				last = r
			}
		}
		assert.Equal(t, RequestRecord{Method: "SERVER.TIME", Auth: "webhook", Status: 200}, last)
		assert.Positive(t, srv.Stats().AuthFailures)
	})
}

func TestOAuthTokenPlaces(t *testing.T) {
	srv := newTestServer(t)
	cfg := srv.OAuthConfig()
	tok := cfg.Token.AccessToken
	assert.Equal(t, srv.URL+"/rest/", cfg.Endpoint)
	assert.Equal(t, srv.URL+"/oauth/token/", cfg.TokenURL)
	assert.NotEmpty(t, cfg.ClientID)
	assert.NotEmpty(t, cfg.ClientSecret)
	assert.WithinDuration(t, time.Now().Add(time.Hour), cfg.Token.Expiry, time.Minute)

	cases := map[string]answer{
		"json body":    do(t, http.MethodPost, cfg.Endpoint+"server.time", "application/json", `{"auth":"`+tok+`"}`),
		"form body":    do(t, http.MethodPost, cfg.Endpoint+"server.time", "application/x-www-form-urlencoded", "auth="+tok),
		"query":        do(t, http.MethodGet, cfg.Endpoint+"server.time?auth="+tok, "", ""),
		"bearer":       do(t, http.MethodPost, cfg.Endpoint+"server.time.json", "application/json", "{}", "Authorization", "Bearer "+tok),
		"access_token": do(t, http.MethodPost, cfg.Endpoint+"server.time", "application/json", `{"access_token":"`+tok+`"}`),
	}
	for name, a := range cases {
		assert.Equal(t, http.StatusOK, a.Status, name)
	}
	recs := srv.Requests()
	require.NotEmpty(t, recs)
	assert.Equal(t, "oauth", recs[0].Auth)
}

// refresh calls the token endpoint.
func refresh(t *testing.T, srv *Server, clientID, secret, refreshToken string) (int, map[string]any) {
	t.Helper()
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {secret}, "refresh_token": {refreshToken}}
	resp, err := http.Get(srv.URL + "/oauth/token/?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return resp.StatusCode, m
}

func TestTokenRotation(t *testing.T) {
	srv := newTestServer(t, WithTokenTTL(time.Hour))
	cfg := srv.OAuthConfig()

	status, m := refresh(t, srv, cfg.ClientID, cfg.ClientSecret, cfg.Token.RefreshToken)
	require.Equal(t, http.StatusOK, status, "%v", m)
	newAccess, _ := m["access_token"].(string)
	newRefresh, _ := m["refresh_token"].(string)
	assert.NotEqual(t, cfg.Token.AccessToken, newAccess)
	assert.NotEqual(t, cfg.Token.RefreshToken, newRefresh)
	assert.Equal(t, srv.URL+"/rest/", m["client_endpoint"])
	assert.EqualValues(t, 3600, m["expires_in"])
	assert.InDelta(t, float64(time.Now().Add(time.Hour).Unix()), m["expires"], 60)

	t.Run("stale refresh token refused", func(t *testing.T) {
		status, m := refresh(t, srv, cfg.ClientID, cfg.ClientSecret, cfg.Token.RefreshToken)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_grant", m["error"])
	})
	t.Run("wrong client secret", func(t *testing.T) {
		status, m := refresh(t, srv, cfg.ClientID, "wrong", newRefresh)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "invalid_client", m["error"])
	})
	t.Run("wrong grant type", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/oauth/token/?grant_type=authorization_code")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("new access token works", func(t *testing.T) {
		a := do(t, http.MethodPost, cfg.Endpoint+"server.time", "application/json", `{"auth":"`+newAccess+`"}`)
		assert.Equal(t, http.StatusOK, a.Status)
	})
	t.Run("expired access token", func(t *testing.T) {
		srv.ExpireTokens()
		a := do(t, http.MethodPost, cfg.Endpoint+"server.time", "application/json", `{"auth":"`+newAccess+`"}`)
		assert.Equal(t, http.StatusUnauthorized, a.Status)
		assert.Equal(t, "expired_token", a.Error)
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		srv.RevokeRefreshTokens()
		status, m := refresh(t, srv, cfg.ClientID, cfg.ClientSecret, newRefresh)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_grant", m["error"])
	})
	assert.Equal(t, 1, srv.Stats().Refreshes)
}

func TestTokenTTL(t *testing.T) {
	srv := newTestServer(t, WithTokenTTL(time.Nanosecond))
	cfg := srv.OAuthConfig()
	// A token that lives a nanosecond is dead by the time it arrives.
	a := do(t, http.MethodPost, cfg.Endpoint+"profile", "application/json", `{"auth":"`+cfg.Token.AccessToken+`"}`)
	assert.Equal(t, "expired_token", a.Error)
}

func TestTokenEndpointForms(t *testing.T) {
	srv := newTestServer(t)
	cfg := srv.OAuthConfig()
	t.Run("missing grant type", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/oauth/token/")
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_request", m["error"])
	})
	t.Run("POST form without trailing slash", func(t *testing.T) {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {cfg.ClientID},
			"client_secret": {cfg.ClientSecret}, "refresh_token": {cfg.Token.RefreshToken}}
		resp, err := http.PostForm(srv.URL+"/oauth/token", form)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotEmpty(t, m["access_token"])
	})
	t.Run("wrong client id", func(t *testing.T) {
		status, m := refresh(t, srv, "other.app", cfg.ClientSecret, cfg.Token.RefreshToken)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "invalid_client", m["error"])
	})
	var last RequestRecord
	for _, r := range srv.Requests() {
		last = r
	}
	assert.Equal(t, RequestRecord{Method: "oauth.token", Auth: "none", Status: 401, Code: "invalid_client"}, last)
}

func TestRESTv3PathIsNotFound(t *testing.T) {
	srv := newTestServer(t)
	a := do(t, http.MethodPost, srv.URL+"/rest/api/1/"+srv.secret+"/crm.item.list", "application/json", "{}")
	assert.Equal(t, http.StatusNotFound, a.Status)
	assert.Equal(t, "ERROR_METHOD_NOT_FOUND", a.Error)
}
