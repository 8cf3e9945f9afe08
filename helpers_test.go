package b24

import (
	"context"
	"encoding/json"
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

// testSecret is the canary secret of the tests' webhooks: no log line or
// error text may ever contain it.
const testSecret = "canarysecret4711"

// recorded is one request seen by a test server.
type recorded struct {
	Path   string
	Method string // REST method from the path
	Body   map[string]any
	Raw    string
}

// portal is a scriptable httptest server for the client's internal tests.
type portal struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	handler func(w http.ResponseWriter, r recorded)
	calls   atomic.Int64
}

// newPortal starts a server whose answers h writes.
func newPortal(t *testing.T, h func(w http.ResponseWriter, r recorded)) *portal {
	t.Helper()
	p := &portal{handler: h}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rec := recorded{Path: r.URL.Path, Raw: string(raw)}
		_ = json.Unmarshal(raw, &rec.Body)
		rec.Method = strings.TrimSuffix(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], ".json")
		p.mu.Lock()
		p.reqs = append(p.reqs, rec)
		p.mu.Unlock()
		p.calls.Add(1)
		p.handler(w, rec)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *portal) webhookURL() string { return p.srv.URL + "/rest/1/" + testSecret + "/" }

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

func webhookFor(t *testing.T, p *portal) *Webhook {
	t.Helper()
	w, err := NewWebhook(p.webhookURL())
	require.NoError(t, err)
	return w
}
