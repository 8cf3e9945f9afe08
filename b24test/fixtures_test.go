package b24test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// answer is a decoded REST answer.
type answer struct {
	Status           int
	Result           json.RawMessage `json:"result"`
	Total            *int            `json:"total"`
	Next             *int            `json:"next"`
	Error            any             `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Time             map[string]any  `json:"time"`
}

// newTestServer starts a server without limits unless opts set them again,
// closed at the end of the test or benchmark.
func newTestServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	srv := NewServer(append([]Option{WithoutLimits()}, opts...)...)
	tb.Cleanup(srv.Close)
	return srv
}

// do sends a raw request and decodes the answer.
func do(t *testing.T, method, url, contentType, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{Status: resp.StatusCode}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &a), "body: %s", raw)
	}
	return a
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call posts a JSON body to a method through the webhook.
func call(t *testing.T, srv *Server, method, body string) answer {
	t.Helper()
	return do(t, http.MethodPost, srv.WebhookURL()+method+".json", "application/json", body)
}

// result decodes a successful answer's result into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	require.Equal(t, http.StatusOK, a.Status, "error %v: %s", a.Error, a.ErrorDescription)
	require.NoError(t, json.Unmarshal(a.Result, v))
}

// importResult is the result of crm.item.batchImport.
type importResult struct {
	Items []struct {
		Item *struct {
			ID int64 `json:"id"`
		} `json:"item"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	} `json:"items"`
}

// ids returns the id of every entry, 0 for a refused one.
func (r importResult) ids() []int64 {
	out := make([]int64, len(r.Items))
	for i, it := range r.Items {
		if it.Item != nil {
			out[i] = it.Item.ID
		}
	}
	return out
}

// codes returns the error code of every entry, "" for an imported one.
func (r importResult) codes() []string {
	out := make([]string, len(r.Items))
	for i, it := range r.Items {
		out[i] = it.Error
	}
	return out
}
