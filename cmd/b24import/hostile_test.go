package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Runs of the command against portals that misbehave on purpose: a proxy
// in front of a b24test portal rewrites its answers.

// proxySecret is the webhook secret of the portals behind proxied.
const proxySecret = "proxysecret0451"

// answerEdit rewrites one answer: method is the REST method called, req
// the request body, body the portal's answer; it returns the status and
// body the command gets.
type answerEdit func(method string, req []byte, status int, body []byte) (int, []byte)

// proxied starts a b24test portal (with WithWebhookSecret(proxySecret)
// added to opts) behind a proxy that passes every answer through edit, and
// returns the portal and the proxy's webhook URL.
func proxied(t *testing.T, edit answerEdit, opts ...b24test.Option) (*b24test.Server, string) {
	t.Helper()
	srv := fakePortal(t, append(opts, b24test.WithWebhookSecret(proxySecret))...)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := record(r)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		method := strings.TrimSuffix(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], ".json")
		status, body := edit(method, req, rec.Code, rec.Body.Bytes())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(proxy.Close)
	return srv, proxy.URL + "/rest/1/" + proxySecret + "/"
}

// record reads r's body and puts it back for the portal.
func record(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// TestHostileMaxResponseFlag: -max-response caps the answers read; an
// answer over it fails its call (the rows end unknown, nothing is loaded
// whole), and a cap outside 1..4096 MiB is a usage error.
func TestHostileMaxResponseFlag(t *testing.T) {
	t.Parallel()
	padding := strings.Repeat(" ", 3<<20)
	_, webhook := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.batchImport" {
			return status, body
		}
		return status, append(body, padding...) // valid JSON, 3 MiB
	})
	input := writeDeals(t, 5, false)
	res := runCLI(t, webhook, dealArgs(input, "-max-response", "1")...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 0, rejected 0, unknown 5")
	assert.Contains(t, res.stderr, "response too large")

	res = runCLI(t, webhook, dealArgs(input, "-max-response", "4")...)
	assert.Equal(t, exitOK, res.code, res.stderr)

	res = runCLI(t, webhook, dealArgs(input, "-max-response", "0")...)
	assert.Equal(t, exitFatal, res.code)
	require.Contains(t, res.stderr, "-max-response must be within 1..4096")
}

// TestHostileEchoedSecretsStayOut: a portal that echoes the webhook secret
// in every item's error and description gets it into neither the
// journal, the report nor the output.
func TestHostileEchoedSecretsStayOut(t *testing.T) {
	t.Parallel()
	_, webhook := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.batchImport" {
			return status, body
		}
		var env map[string]any
		if json.Unmarshal(body, &env) != nil {
			return status, body
		}
		items, _ := env["result"].(map[string]any)["items"].([]any)
		for i := range items {
			items[i] = map[string]any{"error": "CRM_FIELD_ERROR_VALUE_NOT_VALID", "error_description": "webhook " + proxySecret + " may not"}
		}
		out, _ := json.Marshal(env)
		return status, out
	})
	input := writeDeals(t, 30, true)
	journal, report := runPaths(t)
	res := runCLI(t, webhook, dealArgs(input, "-journal", journal, "-report", report)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "rejected 30")
	j, err := os.ReadFile(journal)
	require.NoError(t, err)
	r, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(r), "webhook *** may not")
	for name, text := range map[string]string{"journal": string(j), "report": string(r), "output": res.stdout + res.stderr} {
		assert.Zero(t, strings.Count(text, proxySecret), "the secret is in the %s", name)
	}
}
