package b24test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file check the fake against the shapes of answers
// recorded from live portals; the requests and expectations are written
// here.

// sections decodes a batch answer's result into its raw sections.
func sections(t *testing.T, a answer) map[string]json.RawMessage {
	t.Helper()
	var s map[string]json.RawMessage
	a.decode(t, &s)
	return s
}

func batchForm(cmds ...string) string {
	v := url.Values{"halt": {"0"}}
	for i, c := range cmds {
		v.Set("cmd[c"+string(rune('a'+i))+"]", c)
	}
	return v.Encode()
}

// Live portals write a result_time entry only for a command that
// succeeded; a batch where none did has result_time [].
func TestBatchTimesOnlyCommandsThatSucceeded(t *testing.T) {
	srv := newTestServer(t)
	form := func(body string) answer {
		return do(t, http.MethodPost, srv.WebhookURL()+"batch", "application/x-www-form-urlencoded", body)
	}
	s := sections(t, form(batchForm("crm.item.add?entityTypeId=2&fields[title]=A", "crm.item.get?entityTypeId=2&id=999")))
	var times map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(s["result_time"], &times))
	assert.Contains(t, times, "ca")
	assert.NotContains(t, times, "cb", "the failed command has no time entry")
	assert.Contains(t, string(s["result_error"]), `"cb"`)

	s = sections(t, form(batchForm("crm.item.get?entityTypeId=2&id=998", "crm.item.get?entityTypeId=2&id=999")))
	assert.JSONEq(t, `[]`, string(s["result_time"]), "no command succeeded")
	assert.JSONEq(t, `[]`, string(s["result"]))
}

// A command the operating limit refuses inside a batch: HTTP 200, the
// refusal in result_error, result_time [], and the envelope's time is the
// batch wrapper's own: operating 0, reset a whole window ahead.
func TestBatchCommandRefusedByTheOperatingLimit(t *testing.T) {
	window := 2 * time.Second
	srv := newTestServer(t, WithOperatingLimit(10*time.Millisecond, window), WithLatency(20*time.Millisecond, 0, 0))
	require.Equal(t, http.StatusOK, call(t, srv, "crm.item.add", `{"entityTypeId":2,"fields":{"title":"spend"}}`).Status)
	before := time.Now()
	a := do(t, http.MethodPost, srv.WebhookURL()+"batch", "application/x-www-form-urlencoded",
		batchForm("crm.item.add?entityTypeId=2&fields[title]=B"))
	require.Equal(t, http.StatusOK, a.Status)
	s := sections(t, a)
	assert.JSONEq(t, `{"ca":{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}}`,
		string(s["result_error"]))
	assert.JSONEq(t, `[]`, string(s["result_time"]))
	assert.JSONEq(t, `[]`, string(s["result"]))
	assert.Equal(t, 0.0, a.Time["operating"], "the batch wrapper is not counted")
	reset, _ := a.Time["operating_reset_at"].(float64)
	assert.InDelta(t, float64(before.Add(window).UnixNano())/1e9, reset, 1.0, "the wrapper's reset is a window ahead")
}

// The official JS SDK, configured with the client endpoint
// "https://HOST/rest/" as its docs say, calls /rest//METHOD.
func TestEmptyPathSegmentsAreSkipped(t *testing.T) {
	srv := newTestServer(t)
	tok := srv.OAuthConfig().Token.AccessToken
	a := do(t, http.MethodPost, srv.URL+"/rest//profile", "application/json", `{"auth":"`+tok+`"}`)
	assert.Equal(t, http.StatusOK, a.Status, "error %v", a.Error)
	a = do(t, http.MethodPost, strings.Replace(srv.WebhookURL(), "/rest/", "/rest//", 1)+"profile", "", "")
	assert.Equal(t, http.StatusOK, a.Status, "a webhook path with an empty segment too")
}

// The token answer points at the fake, which is its own authorization
// server: clients that take the next refresh's address from it come back.
func TestTokenAnswerPointsAtTheFake(t *testing.T) {
	srv := newTestServer(t)
	cfg := srv.OAuthConfig()
	v := url.Values{"grant_type": {"refresh_token"}, "client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret},
		"refresh_token": {cfg.Token.RefreshToken}}
	resp, err := http.Get(srv.URL + "/oauth/token/?" + v.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	assert.Equal(t, srv.URL+"/rest/", tok["server_endpoint"])
	assert.Equal(t, srv.URL+"/rest/", tok["client_endpoint"])
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), tok["domain"])
	for _, k := range []string{"access_token", "refresh_token", "expires", "expires_in", "scope", "member_id", "status", "user_id"} {
		assert.Contains(t, tok, k)
	}
}

// Values that arrive as strings (a form-encoded command of a batch) come
// back typed by the field, and every field of the type is in the answer,
// null when unset, as crm.item.get answers on a portal.
func TestItemAnswersAreTypedByField(t *testing.T) {
	srv := newTestServer(t)
	a := do(t, http.MethodPost, srv.WebhookURL()+"batch", "application/x-www-form-urlencoded", batchForm(
		"crm.item.batchImport?entityTypeId=2&data[0][title]=T&data[0][contactIds][]=4&data[0][contactIds][]=5"+
			"&data[0][opportunity]=19.5&data[0][categoryId]=0&data[0][opened]=Y&data[0][originId]=007"))
	require.Equal(t, http.StatusOK, a.Status)
	var got struct{ Item map[string]any }
	call(t, srv, "crm.item.get", `{"entityTypeId":2,"id":1}`).decode(t, &got)
	assert.Equal(t, []any{4.0, 5.0}, got.Item["contactIds"])
	assert.Equal(t, 19.5, got.Item["opportunity"])
	assert.Equal(t, 0.0, got.Item["categoryId"])
	assert.Equal(t, "Y", got.Item["opened"])
	assert.Equal(t, "007", got.Item["originId"], "a string field stays a string")
	assert.Equal(t, 1.0, got.Item["createdBy"])
	require.Contains(t, got.Item, "comments")
	assert.Nil(t, got.Item["comments"], "an unset field is null")
}

// Error answers carry no time block, as recorded error answers do not.
func TestErrorAnswersHaveNoTimeBlock(t *testing.T) {
	srv := newTestServer(t)
	a := call(t, srv, "crm.item.get", `{"entityTypeId":2,"id":5}`)
	assert.Equal(t, "NOT_FOUND", a.Error)
	assert.Nil(t, a.Time)
}
