package b24_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fault soak pushes a whole import through a fake portal that fails in
// every way at once and then checks the portal's contents row by row. The
// default (and -short) run imports 1,000 items per case; B24_SOAK=1 runs
// the 10,000 of the issue.

// soakSize is how many items each soak case imports.
func soakSize() int {
	if os.Getenv("B24_SOAK") == "1" && !testing.Short() {
		return 10000
	}
	return 1000
}

// soakItems builds n deals titled "soak-<i>"; with keys they carry
// originatorId/originId.
func soakItems(n int, keyed bool) []b24.Item {
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprintf("soak-%d", i), Opportunity: float64(i), CurrencyID: "USD"}
		if keyed {
			items[i].OriginatorID = "soak"
			items[i].OriginID = fmt.Sprintf("s-%d", i)
		}
	}
	return items
}

// flakyTokenTransport fails chosen requests to the token endpoint: the
// ones whose 1-based number is in fail503 get a proxy's 503 page, the ones
// in failConn a connection error before anything is sent. Everything else
// goes through.
type flakyTokenTransport struct {
	base     http.RoundTripper
	n        atomic.Int64
	fail503  map[int64]bool
	failConn map[int64]bool
	failed   atomic.Int64
}

func (f *flakyTokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/oauth/token") {
		return f.base.RoundTrip(r)
	}
	n := f.n.Add(1)
	switch {
	case f.fail503[n]:
		f.failed.Add(1)
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Status:     "503 Service Unavailable",
			Header:     http.Header{"Content-Type": {"text/html"}},
			Body:       io.NopCloser(strings.NewReader("<html><body>503 Service Temporarily Unavailable</body></html>")),
			Request:    r,
			ProtoMajor: 1, ProtoMinor: 1,
		}, nil
	case f.failConn[n]:
		f.failed.Add(1)
		return nil, errors.New("connection reset by peer (injected)")
	}
	return f.base.RoundTrip(r)
}

// soakPortal starts the faulty portal: a real leaky bucket and a scaled-down
// operating-time limit, a little latency, and every kind of fault at a
// small probability for as long as the test runs, plus one of each kind
// up front so that each one surely fires. Access tokens live ttl.
func soakPortal(t *testing.T, seed int64, ttl time.Duration) *b24test.Server {
	t.Helper()
	srv := fakePortal(t,
		b24test.WithSeed(seed),
		b24test.WithRateLimit(400, 100),
		// Ten times the cloud's budget share of the window, scaled from
		// 480 s / 10 min down to 300 ms / 1 s.
		b24test.WithOperatingLimit(300*time.Millisecond, time.Second),
		b24test.WithLatency(time.Millisecond, 50*time.Microsecond, time.Millisecond),
		b24test.WithTokenTTL(ttl),
		b24test.WithoutRequestLog(),
	)
	const bi = "crm.item.batchImport"
	for _, f := range []b24test.Fault{
		// One of each, certain to fire early.
		{Method: bi, Kind: b24test.FaultDropAfterExecute, Times: 2},
		{Method: bi, Kind: b24test.FaultPartialSave, Keep: 9, Times: 2},
		{Method: bi, Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Times: 2},
		{Method: bi, Kind: b24test.FaultRefuse, Code: "OPERATION_TIME_LIMIT", Times: 2},
		{Method: "crm.item.list", Kind: b24test.FaultDropAfterExecute, Times: 1},
		// Then at random, for the whole run. The outcome-unknown kinds add
		// up to about 6% of calls, so a chunk needing more than the
		// engine's reconcile rounds stays improbable (about 1e-6).
		{Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Probability: 0.08},
		{Method: bi, Kind: b24test.FaultRefuse, Code: "OPERATION_TIME_LIMIT", Probability: 0.02},
		{Method: bi, Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Probability: 0.015},
		{Kind: b24test.FaultDropAfterExecute, Probability: 0.015},
		{Method: bi, Kind: b24test.FaultPartialSave, Keep: 6, Probability: 0.015},
		{Method: bi, Kind: b24test.FaultPartialSave, Keep: 15, Probability: 0.015},
	} {
		srv.InjectFault(f)
	}
	return srv
}

// chaos starts a storm of 8 QUERY_LIMIT_EXCEEDED refusals every 600 ms
// (once the previous one has surely been used up, so that storms do not
// pile up while the client waits out a lockout) and, when expireEvery is set, expires every access token at that pace
// (beyond their short lifetime), until the test ends.
func chaos(t *testing.T, srv *b24test.Server, expireEvery time.Duration) (expiries *atomic.Int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	expiries = &atomic.Int64{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		const step = 100 * time.Millisecond
		tick := time.NewTicker(step)
		defer tick.Stop()
		lastStorm := 0
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if expireEvery > 0 && n%int(max(expireEvery/step, 1)) == 0 {
				srv.ExpireTokens()
				expiries.Add(1)
			}
			if reqs := srv.Stats().Requests; n%6 == 0 && reqs-lastStorm >= 30 {
				srv.FailNext("QUERY_LIMIT_EXCEEDED", 8)
				lastStorm = reqs
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return expiries
}

// soakClient is an OAuth client for srv whose token requests go through a
// transport that fails the second (503) and fifth (connection error) one.
func soakClient(t *testing.T, srv *b24test.Server) (*b24.Client, *b24.OAuth, *flakyTokenTransport) {
	t.Helper()
	cfg := srv.OAuthConfig()
	var saved atomic.Int64
	cfg.OnRefresh = func(context.Context, b24.Token) error { saved.Add(1); return nil }
	oa, err := b24.NewOAuth(cfg)
	require.NoError(t, err)
	ft := &flakyTokenTransport{
		base:     http.DefaultTransport,
		fail503:  map[int64]bool{2: true},
		failConn: map[int64]bool{5: true},
	}
	opts := append(srv.ClientOptions(),
		b24.WithHTTPClient(&http.Client{Transport: ft}),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 25, BaseDelay: 2 * time.Millisecond, MaxDelay: 50 * time.Millisecond, AttemptTimeout: 20 * time.Second}),
	)
	c, err := b24.NewClient(oa, opts...)
	require.NoError(t, err)
	return c, oa, ft
}

// storedByTitleSoak indexes the stored deals by title.
func storedByTitleSoak(srv *b24test.Server) map[string][]int64 {
	out := map[string][]int64{}
	for _, it := range srv.Items(b24.EntityDeal) {
		title, _ := it.Fields["title"].(string)
		out[title] = append(out[title], it.ID)
	}
	return out
}

// soakFired checks that the faults really happened, so that a green soak
// means something.
func soakFired(t *testing.T, srv *b24test.Server, expiries *atomic.Int64, ft *flakyTokenTransport) {
	t.Helper()
	st := srv.Stats()
	t.Logf("portal: %+v; token expiries %d; token requests %d (%d failed)", st, expiries.Load(), ft.n.Load(), ft.failed.Load())
	assert.Positive(t, st.Dropped, "connections dropped after execution")
	assert.Positive(t, st.FaultsInjected, "faults fired")
	assert.GreaterOrEqual(t, st.Refreshes, 2, "tokens rotated")
	assert.Positive(t, ft.failed.Load(), "a token refresh failed")
}

func TestSoakFaultsWithDedupKeys(t *testing.T) {
	n := soakSize()
	// Access tokens live three seconds: the client, which refreshes a
	// minute before expiry, rotates the pair before nearly every call.
	srv := soakPortal(t, 7, 3*time.Second)
	c, oa, ft := soakClient(t, srv)
	expiries := chaos(t, srv, 0)
	items := soakItems(n, true)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	res, err := c.CRMItem.BatchImport(ctx, b24.EntityDeal, items)
	require.NotNil(t, res)
	require.Len(t, res.Items, n)
	require.NoError(t, err, "every row must end imported")

	stored := storedByTitleSoak(srv)
	assert.Len(t, stored, n, "exactly the input's rows exist")
	assert.Equal(t, n, srv.ItemCount(b24.EntityDeal), "nothing extra exists")
	bad := 0
	for i, r := range res.Items {
		copies := stored[items[i].Title]
		if len(copies) != 1 || r.Status != b24.ItemImported || r.ID != copies[0] || r.Index != i {
			bad++
			if bad <= 10 {
				t.Errorf("row %d: stored %v, result %+v", i, copies, r)
			}
		}
	}
	assert.Zero(t, bad, "rows not imported exactly once with the right id")
	soakFired(t, srv, expiries, ft)
	assert.NotEmpty(t, oa.Token().AccessToken)
}

func TestSoakFaultsWithoutDedupKeys(t *testing.T) {
	n := soakSize()
	srv := soakPortal(t, 11, 3*time.Second)
	c, _, ft := soakClient(t, srv)
	expiries := chaos(t, srv, 0)
	items := soakItems(n, false)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	res, err := c.CRMItem.BatchImport(ctx, b24.EntityDeal, items)
	require.NotNil(t, res)
	require.Len(t, res.Items, n)
	var ie *b24.ImportError
	require.ErrorAs(t, err, &ie, "faults after execution leave rows unknown")
	assert.ErrorIs(t, err, b24.ErrOutcomeUnknown)

	stored := storedByTitleSoak(srv)
	imported, unknown := 0, 0
	for i, r := range res.Items {
		copies := stored[items[i].Title]
		require.LessOrEqual(t, len(copies), 1, "row %d is duplicated", i)
		assert.Equal(t, i, r.Index)
		switch r.Status {
		case b24.ItemImported:
			imported++
			if assert.Len(t, copies, 1, "row %d reported imported but absent", i) {
				assert.Equal(t, copies[0], r.ID, "row %d", i)
			}
		case b24.ItemUnknown:
			unknown++
			assert.ErrorIs(t, r.Err, b24.ErrOutcomeUnknown, "row %d", i)
		default:
			t.Errorf("row %d ended %v: %v", i, r.Status, r.Err)
		}
	}
	assert.Positive(t, unknown, "some rows must be unresolved")
	assert.Equal(t, [2]int{imported, unknown}, [2]int{ie.Imported, ie.Unknown})
	assert.Zero(t, ie.Rejected+ie.NotSent)
	assert.GreaterOrEqual(t, len(stored), imported, "every imported row exists")
	assert.LessOrEqual(t, len(stored), imported+unknown, "nothing but the input exists")
	soakFired(t, srv, expiries, ft)
}

// TestSoakTokensRevokedDuringRetries expires every access token the portal
// issued every 2.5 s on top of the other faults; the client, whose tokens
// look valid for an hour, learns it only from expired_token answers, many
// of them in the middle of a call's retries. The period is longer than the
// longest wait between a refresh and the retry it serves (an operating-
// time lockout of about two seconds): a token that dies within that wait
// would be refused right after its refresh, which ends the call, and real
// tokens live an hour. TestRefreshAgainLaterInRetries pins the
// second-expiry case down without timing.
func TestSoakTokensRevokedDuringRetries(t *testing.T) {
	srv := soakPortal(t, 13, time.Hour)
	c, _, ft := soakClient(t, srv)
	srv.ExpireTokens()                              // the very first call meets an expired token
	expiries := chaos(t, srv, 300*time.Millisecond) // often enough to land several times in a two-second import
	items := soakItems(max(soakSize(), 3000), true) // long enough for a few expiries
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
	require.NoError(t, err)
	stored := storedByTitleSoak(srv)
	for i, r := range res.Items {
		copies := stored[items[i].Title]
		if assert.Len(t, copies, 1, "row %d", i) {
			assert.Equal(t, copies[0], r.ID, "row %d", i)
		}
	}
	soakFired(t, srv, expiries, ft)
	assert.Positive(t, srv.Stats().AuthFailures, "expired tokens were refused")
}

// TestSoakFaultsPacked runs the keyed and unkeyed soaks with calls packed
// into batch requests, with faults on the batch request itself (dropped
// after running every command, refused, 500) on top of the per-command
// ones, which the portal reports inside the batch's result_error.
func TestSoakFaultsPacked(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		t.Run(fmt.Sprint("keyed=", keyed), func(t *testing.T) {
			srv := soakPortal(t, 17, 3*time.Second)
			for _, f := range []b24test.Fault{
				{Method: "batch", Kind: b24test.FaultDropAfterExecute, Times: 1},
				{Method: "batch", Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Times: 1},
				{Method: "batch", Kind: b24test.FaultDropAfterExecute, Probability: 0.02},
			} {
				srv.InjectFault(f)
			}
			c, _, ft := soakClient(t, srv)
			expiries := chaos(t, srv, 0)
			n := soakSize()
			items := soakItems(n, keyed)
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithPacking(8))
			require.Len(t, res.Items, n)
			stored := storedByTitleSoak(srv)
			unknown := 0
			for i, r := range res.Items {
				copies := stored[items[i].Title]
				require.LessOrEqual(t, len(copies), 1, "row %d is duplicated", i)
				switch {
				case r.Status == b24.ItemImported && assert.Len(t, copies, 1, "row %d", i):
					assert.Equal(t, copies[0], r.ID, "row %d", i)
				case r.Status == b24.ItemUnknown && !keyed:
					unknown++
					assert.ErrorIs(t, r.Err, b24.ErrOutcomeUnknown, "row %d", i)
				default:
					t.Errorf("row %d ended %v: %v", i, r.Status, r.Err)
				}
			}
			if keyed {
				require.NoError(t, err)
				assert.Len(t, stored, n)
			} else {
				assert.ErrorIs(t, err, b24.ErrOutcomeUnknown)
				assert.Positive(t, unknown)
			}
			if rest := srv.Stats().Requests - int(ft.n.Load()); !keyed {
				// (Keyed runs add lookups and single resends after faults.)
				assert.Less(t, rest, n/20, "calls were packed (%d requests for %d calls)", rest, n/20)
			}
			soakFired(t, srv, expiries, ft)
		})
	}
}
