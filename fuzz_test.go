package b24

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/b24kit/b24/internal/wire"
)

// Fuzz targets for everything that reads bytes the SDK does not control:
// the portal's answers and the webhook URL a user pastes. Seeds are in
// testdata/fuzz/<target>; `go test -run=^$ -fuzz=FuzzX -fuzztime=15s .`
// explores further. Each target must never panic or hang.

// envelopeSeeds are answers the portal (or something in front of it) sends.
var envelopeSeeds = []string{
	`{"result":{"items":[{"item":{"id":15}},{"error":"CRM_FIELD_ERROR_REQUIRED","error_description":"x"}]},"time":{"start":1778747192.91,"finish":1778747193.53,"duration":0.62,"processing":0.03,"date_start":"2026-05-14T10:26:32+02:00","operating_reset_at":1778747792,"operating":3.30}}`,
	`{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`,
	`{"error":100,"error_description":"Could not find value for parameter {data}"}`,
	`{"error":{"code":"BITRIX_REST_V3_EXCEPTION","message":"x"}}`,
	`{"result":[],"total":"0","next":null,"time":{"start":"1","operating":"x"}}`,
	`{"result":{"items":{"0":{"item":{"id":"7"}},"1":{"item":{"id":8}}}}}`,
	`{"result":{"result":{"c0":{"items":[]}},"result_error":[],"result_total":[],"result_next":[],"result_time":[]}}`,
	`<html><body>502 Bad Gateway</body></html>`,
	`{"result":{"items":[{"item":{"id":1`,
	`[1,2,3]`, `null`, `"x"`, ``, `{"time":[]}`, `{"total":1e400}`,
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, ok := wire.DecodeEnvelope(body)
		if env == nil {
			t.Fatal("nil envelope")
		}
		if !ok {
			return
		}
		if env.Time != nil {
			checkTime(t, env.Time)
		}
		// Whatever the result holds, decoding it into the shapes the SDK
		// uses fails cleanly or succeeds.
		var m map[string]any
		_ = wire.DecodeResult(env.Result, &m)
		var page struct {
			Items []struct {
				ID wire.FlexInt `json:"id"`
			} `json:"items"`
		}
		_ = wire.DecodeResult(env.Result, &page)
		var anyv any
		_ = wire.DecodeResult(env.Result, &anyv)
		if answers, err := wire.DecodeImportAnswers(env.Result, 20); err == nil && len(answers) != 20 {
			t.Fatalf("DecodeImportAnswers gave %d answers for 20 rows", len(answers))
		}
	})
}

func FuzzDecodeAnswers(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"item":{"id":15}},{"error":"CRM_FIELD_ERROR_REQUIRED","error_description":"x"}]}`,
		`{"items":{"0":{"item":{"id":"7"}},"5":{"item":{"id":8}},"-1":{},"x":{}}}`,
		`{"items":"nope"}`, `{"items":[1,2]}`, `{"items":null}`, `[]`, `{}`, `{"items":[{"item":{"id":1e300}}]}`,
		`{"items":[{"item":[]},{"item":{"id":-4}},{"error":0},{"error":{"a":1}}]}`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, raw []byte, n uint8) {
		rows := int(n % 41)
		answers, err := wire.DecodeImportAnswers(raw, rows)
		if err != nil {
			return
		}
		if len(answers) != rows {
			t.Fatalf("%d answers for %d rows", len(answers), rows)
		}
		for _, a := range answers {
			if a != nil && a.Item != nil && a.Item.ID != 0 && math.Abs(float64(a.Item.ID)) > 1<<53 {
				t.Fatalf("id %d beyond what JSON carries exactly", a.Item.ID)
			}
		}
	})
}

// checkTime asserts that a decoded time block holds only finite numbers.
func checkTime(t *testing.T, rt *ResponseTime) {
	t.Helper()
	for _, v := range []float64{rt.Start, rt.Finish, rt.Duration, rt.Processing, rt.Operating} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite value in %+v", rt)
		}
	}
	if !rt.HasOperating && rt.Operating != 0 {
		t.Fatalf("operating without HasOperating: %+v", rt)
	}
}

func FuzzResponseTime(f *testing.F) {
	for _, s := range []string{
		`{"start":1778747192.91,"finish":1778747193.53,"duration":0.62,"processing":0.03,"operating_reset_at":1778747792,"operating":3.30}`,
		`{"start":"1","operating":"NaN","operating_reset_at":"Inf"}`,
		`{"operating_reset_at":1e300}`, `{"operating_reset_at":-1}`, `[]`, `null`, `{"start":{}}`, `{"operating":1e999}`,
		`{"`, `{"start\`, `{"a":"}`, // cut off: the split in place must not read past the end
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var rt ResponseTime
		if err := rt.UnmarshalJSON(b); err != nil {
			t.Fatalf("a malformed time block must not fail the call: %v", err)
		}
		checkTime(t, &rt)
		var env wire.Envelope
		_ = json.Unmarshal(append(append([]byte(`{"time":`), b...), '}'), &env)
	})
}

// webhookMessages is every text NewWebhook fails with; none holds input.
var webhookMessages = []string{
	"webhook url is empty", "webhook url does not parse", "webhook url must start with https://",
	"webhook url has no host", "webhook url must not contain user info",
	"webhook url must look like https://HOST/rest/USER/SECRET/", "webhook url has an invalid user id",
	"webhook url has an invalid secret", "webhook url has unexpected path segments after the secret",
	"webhook url has an unexpected path segment after the secret",
}

func FuzzNewWebhook(f *testing.F) {
	for _, s := range []string{
		"https://example.bitrix24.com/rest/1/abcdef123/",
		"https://example.bitrix24.com/rest/1/abcdef123",
		"https://example.bitrix24.com/rest/1/abcdef123/profile.json",
		"http://127.0.0.1:8080/prefix/rest/12/s3cr3t/",
		"https://user:pw@example.com/rest/1/abc/",
		"https://example.com/rest/1/abc/a/b",
		"https://example.com/rest/1/a%2Fb/",
		"ftp://example.com/rest/1/abc/",
		"https://[::1]:443/rest/1/abc/?q=1#frag",
		" https://example.com/rest/1/abc/ ",
		"https://example.com/rest//abc/",
		"%", "", "https://", "https:///rest/1/abc/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		w, err := NewWebhook(raw)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), ErrInvalidInput.Error()+": ")
			for _, m := range webhookMessages {
				if msg == m {
					return
				}
			}
			t.Fatalf("unexpected error text (it may echo input): %q", err.Error())
		}
		secret := w.secrets()[0]
		if secret == "" {
			t.Fatal("accepted a webhook without a secret")
		}
		shown := w.String()
		if !strings.HasSuffix(shown, "/"+w.userID+"/***/") {
			t.Fatalf("String shows the secret: %q", shown)
		}
		// An accepted URL round-trips: its normal form parses to itself.
		again, err := NewWebhook(w.base.String())
		if err != nil {
			t.Fatalf("normal form %q of %q refused: %v", w.base.String(), raw, err)
		}
		if again.base.String() != w.base.String() || again.userID != w.userID || again.secrets()[0] != secret {
			t.Fatalf("round trip changed %q to %q", w.base.String(), again.base.String())
		}
		reqURL, _, _ := w.authorize(t.Context(), nil, "crm.item.list")
		u, err := url.Parse(reqURL)
		if err != nil || u.Host != w.Host() || !strings.HasSuffix(u.Path, "/crm.item.list.json") {
			t.Fatalf("request url %q for %q", reqURL, w.base.String())
		}
	})
}

// FuzzWebhookSecretNeverInErrors plants a secret in otherwise random
// webhook URLs: whatever is wrong with the URL, the error must not repeat
// the secret.
func FuzzWebhookSecretNeverInErrors(f *testing.F) {
	f.Add("example.com", "1", "canarysecret4711", "")
	f.Add("exa mple.com", "1", "canarysecret4711", "x/y")
	f.Add("example.com:99999", "1@", "canarysecret4711", "profile.json")
	f.Add("", "", "canarysecret4711", "%zz")
	f.Fuzz(func(t *testing.T, host, user, secret, tail string) {
		if len(secret) < 6 {
			return
		}
		for _, m := range webhookMessages {
			if strings.Contains(m, secret) {
				return
			}
		}
		for _, scheme := range []string{"https://", "http://", "htps://"} {
			raw := scheme + host + "/rest/" + user + "/" + secret + "/" + tail
			_, err := NewWebhook(raw)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q repeats the secret", err.Error())
			}
		}
	})
}
