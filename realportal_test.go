package b24

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/budget"
	"github.com/b24kit/b24/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file replay the shapes of answers recorded from live
// portals (see DESIGN.md's reference material); the fixtures are written
// here, with values of their own.

// packedRefusal is a batch answer whose only command the portal refused
// with OPERATION_TIME_LIMIT, shaped as live portals send it: HTTP 200, the
// command in result_error, result_time [] (no command ran), and the outer
// envelope's time is the batch wrapper's own: operating 0, reset a whole
// window after the start.
func packedRefusal(start float64) []byte {
	return []byte(`{"result":{"result":[],"result_error":{"c0":{"error":"OPERATION_TIME_LIMIT",` +
		`"error_description":"Method is blocked due to operation time limit."}},` +
		`"result_total":[],"result_next":[],"result_time":[]},` +
		`"time":{"start":` + ftoa(start) + `,"finish":` + ftoa(start+0.024) + `,"duration":0.024,` +
		`"processing":0.0006,"date_start":"2026-11-30T10:00:00+03:00","date_finish":"2026-11-30T10:00:00+03:00",` +
		`"operating_reset_at":` + ftoa(start+600) + `,"operating":0}}`)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func decodeEnv(t *testing.T, body []byte) *wire.Envelope {
	t.Helper()
	env, ok := wire.DecodeEnvelope(body)
	require.True(t, ok, "fixture is a JSON object")
	return env
}

// A refused command of a packed request holds the method until the reset
// of the method's own last reading, not until the batch wrapper's reset a
// whole window later (which b24 used to take from the envelope).
func TestPackedRefusalWaitsForTheMethodsOwnReading(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	b := budget.New(480*time.Second, 10*time.Minute, clock)

	// A plain call's reading: 470 s of 480 used (another process spends
	// the rest meanwhile); the oldest minute drops out in 40 s.
	rel, err := b.Acquire(t.Context(), methodBatchImport, 1)
	require.NoError(t, err)
	ownReset := now.Add(40 * time.Second)
	rel(&ResponseTime{Start: unix(now) - 0.8, Finish: unix(now), Processing: 0.8, Operating: 470,
		HasOperating: true, OperatingResetAt: ownReset}, false)

	rel, err = b.Acquire(t.Context(), methodBatchImport, 1)
	require.NoError(t, err)
	env := decodeEnv(t, packedRefusal(unix(now)))
	require.True(t, batchBlocked(env), "the refused command blocks the method")
	rel(batchTime(env), batchBlocked(env))

	until := b.BlockedUntil(methodBatchImport)
	require.False(t, until.IsZero(), "the method is held")
	assert.False(t, until.Before(ownReset), "held until the method's own reset")
	assert.LessOrEqual(t, until.Sub(now), 41*time.Second+time.Second,
		"held %v, not until the batch wrapper's reset %v ahead", until.Sub(now), 600*time.Second)
}

// Without a reading of the method, a refusal inside a batch holds it until
// the portal's current one-minute bucket ends.
func TestPackedRefusalWithoutReadingWaitsForTheNextBucket(t *testing.T) {
	now := time.Unix(1_800_000_030, 0) // half way through a minute
	b := budget.New(480*time.Second, 10*time.Minute, func() time.Time { return now })
	rel, err := b.Acquire(t.Context(), methodBatchImport, 3)
	require.NoError(t, err)
	env := decodeEnv(t, packedRefusal(unix(now)))
	assert.Nil(t, batchTime(env), "result_time [] carries no reading of the method")
	rel(batchTime(env), batchBlocked(env))
	wait := b.BlockedUntil(methodBatchImport).Sub(now)
	assert.Greater(t, wait, 29*time.Second)
	assert.LessOrEqual(t, wait, 31*time.Second, "held until the next minute, not for a whole window")
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// orderLog records the order in which a request met the budget and the
// rate limiter.
type orderLog struct {
	mu     sync.Mutex
	events []string
	open   chan struct{} // the budget admits once closed
}

func (o *orderLog) add(e string) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}

func (o *orderLog) Wait(ctx context.Context) error { o.add("rate token"); return ctx.Err() }

func (o *orderLog) Acquire(ctx context.Context, _ string, _ int) (func(*ResponseTime, bool), error) {
	select {
	case <-o.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	o.add("budget admitted")
	return func(*ResponseTime, bool) {}, nil
}

// A rate token is taken only once the operating budget admits the
// request: a token taken before a long budget wait would be spent after
// the limiter had refilled its burst, and the portal's bucket, counting
// arrivals, would overflow (the 503s seen at the cloud's limits).
func TestRateTokenIsTakenAfterTheBudgetWait(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) { ok(w, true) })
	ol := &orderLog{open: make(chan struct{})}
	c, _ := testClient(t, webhookFor(t, p), WithLimiter(ol), WithOperatingBudget(ol))
	done := make(chan error, 1)
	go func() { done <- c.Call(t.Context(), "crm.item.get", map[string]any{"id": 1}, nil) }()
	close(ol.open)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"budget admitted", "rate token"}, ol.events,
		"no rate token is taken while the budget holds the request")
}

// The token server's wrong_client (a recorded answer with no description)
// matches ErrInvalidClient, as the PHP SDKs treat it.
func TestWrongClientIsInvalidClient(t *testing.T) {
	rest := newPortal(t, func(w http.ResponseWriter, r recorded) {
		apiError(w, 401, "expired_token", "The access token provided has expired")
	})
	token := newPortal(t, func(w http.ResponseWriter, r recorded) {
		writeJSON(w, 401, map[string]any{"error": "wrong_client"})
	})
	o, err := NewOAuth(OAuthConfig{Endpoint: rest.srv.URL + "/rest/", TokenURL: token.srv.URL + "/oauth/token/",
		ClientID: "app", ClientSecret: "canary-client-secret",
		Token: Token{AccessToken: "stale", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}})
	require.NoError(t, err)
	c, _ := testClient(t, o)
	err = c.Call(t.Context(), "profile", nil, nil)
	assert.ErrorIs(t, err, ErrInvalidClient)
	assert.NotErrorIs(t, err, ErrInvalidGrant)
	assert.NotContains(t, err.Error(), "canary-client-secret")
	assert.Equal(t, int64(1), token.calls.Load(), "a wrong client is not retried")
}

// Packs are sized by the share of the rate the limiter really grants: a
// limiter shared by three processes grants each a third of the portal's
// rate, and each must pack three times as many calls to reach the
// operating ceiling.
func TestPackSizeFollowsTheRateTheLimiterGrants(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) { ok(w, true) })
	c, _ := testClient(t, webhookFor(t, p), WithRateLimit(1, 2))
	e := newEngine(c, EntityDeal, importConfig{concurrency: 8, chunkSize: MaxBatchImportSize, now: time.Now}, t.Context())
	assert.Equal(t, 1, e.packSize(), "no cost known yet: a plain call first")
	e.observeCost(0.4, MaxBatchImportSize)
	// Operating ceiling 0.8 s/s ÷ 0.4 s × 20 = 40 rows/s; one request a
	// second carries 20: packs of ⌈2 × 1.25⌉ = 3.
	assert.Equal(t, 3, e.packSize())

	// The limiter holds every request and grants one every 3 s.
	at := time.Unix(1_800_000_000, 0)
	for range 20 {
		c.grants.observe(at.Add(-time.Second), at)
		at = at.Add(3 * time.Second)
	}
	assert.InDelta(t, 1.0/3, c.requestRate(), 0.01)
	assert.Equal(t, 8, e.packSize(), "⌈40 ÷ (20/3) × 1.25⌉")

	// Grants the limiter did not hold say nothing about its pace.
	d := &rateMeter{}
	d.observe(at, at)
	d.observe(at.Add(10*time.Second), at.Add(10*time.Second))
	assert.Zero(t, d.rate())
}

// Automatic packing sends one plain call and waits for its answer before
// packing the rest, instead of spending a request per chunk while the
// cost of a call is unknown.
func TestAutomaticPackingProbesWithOneCall(t *testing.T) {
	var mu sync.Mutex
	var methods []string
	var lastID atomic.Int64
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		if r.Method == "batch" {
			cmds, _ := r.Body["cmd"].(map[string]any)
			res := map[string]any{}
			times := map[string]any{}
			for id := range cmds {
				items := make([]any, MaxBatchImportSize)
				for i := range items {
					// Distinct ids: one id named for several rows is believed for none.
					items[i] = map[string]any{"item": map[string]any{"id": lastID.Add(1)}}
				}
				res[id] = map[string]any{"items": items}
				times[id] = map[string]any{"start": 1, "finish": 1.001, "duration": 0.001, "processing": 0.001}
			}
			ok(w, map[string]any{"result": res, "result_error": []any{}, "result_total": []any{}, "result_next": []any{}, "result_time": times})
			return
		}
		items := make([]any, MaxBatchImportSize)
		for i := range items {
			items[i] = map[string]any{"item": map[string]any{"id": lastID.Add(1)}}
		}
		writeJSON(w, 200, map[string]any{"result": map[string]any{"items": items},
			"time": map[string]any{"start": 1, "finish": 1.001, "duration": 0.001, "processing": 0.001}})
	})
	c, _ := testClient(t, webhookFor(t, p), WithRateLimit(1, 2))
	items := make([]Item, 40*MaxBatchImportSize)
	for i := range items {
		items[i] = Item{Title: "t"}
	}
	res, err := c.CRMItem.BatchImport(t.Context(), EntityDeal, items)
	require.NoError(t, err)
	imported, _, _, _ := res.Counts()
	assert.Equal(t, len(items), imported)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, methods)
	assert.Equal(t, methodBatchImport, methods[0], "one plain call measures the cost")
	for _, m := range methods[1:] {
		assert.Equal(t, "batch", m, "everything after it is packed: %v", methods)
	}
}
