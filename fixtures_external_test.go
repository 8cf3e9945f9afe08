package b24_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
)

// The fixture of the package's external tests: a b24test portal, a client
// for it, the deals they import and the checks of what the portal stored.
// (The internal tests have theirs in fixtures_test.go.)

// fakePortal starts a b24test portal without limits (for tests about
// outcomes, not pacing) unless opts set them again, closed when the test
// ends.
func fakePortal(tb testing.TB, opts ...b24test.Option) *b24test.Server {
	tb.Helper()
	srv := b24test.NewServer(append([]b24test.Option{b24test.WithoutLimits()}, opts...)...)
	tb.Cleanup(srv.Close)
	return srv
}

// fastClient is a client for srv whose retries do not wait long.
func fastClient(t *testing.T, srv *b24test.Server, opts ...b24.Option) *b24.Client {
	t.Helper()
	base := []b24.Option{
		b24.WithRateLimit(1e6, 10000),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
	}
	return srv.Client(append(base, opts...)...)
}

// deals returns n deals titled "deal-<i>", with dedup keys when keyed.
func deals(n int, keyed bool) []b24.Item {
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprintf("deal-%d", i), Opportunity: float64(i) + 0.5, CurrencyID: "EUR"}
		if keyed {
			items[i].OriginatorID = "crm-x"
			items[i].OriginID = fmt.Sprintf("o-%d", i)
		}
	}
	return items
}

// historyDeals returns n keyed deals created an hour apart, oldest first.
func historyDeals(n int) []b24.Item {
	base := time.Now().Add(-time.Duration(n+10) * time.Hour)
	items := deals(n, true)
	for i := range items {
		items[i].CreatedTime = base.Add(time.Duration(i) * time.Hour)
	}
	return items
}

// storedByTitle indexes the portal's deals by title, counting copies.
func storedByTitle(srv *b24test.Server, et b24.EntityTypeID) (ids map[string][]int64) {
	ids = map[string][]int64{}
	for _, it := range srv.Items(et) {
		title, _ := it.Fields["title"].(string)
		ids[title] = append(ids[title], it.ID)
	}
	return ids
}

// assertExactlyOnce checks that every keyed row exists once with the id
// its result names.
func assertExactlyOnce(t *testing.T, srv *b24test.Server, items []b24.Item, res *b24.BatchImportResult) {
	t.Helper()
	stored := storedByTitle(srv, b24.EntityDeal)
	assert.Len(t, stored, len(items))
	for i, r := range res.Items {
		copies := stored[items[i].Title]
		if !assert.Len(t, copies, 1, "row %d stored %d times", i, len(copies)) {
			continue
		}
		assert.Equal(t, b24.ItemImported, r.Status, "row %d: %v", i, r.Err)
		assert.Equal(t, copies[0], r.ID, "row %d", i)
	}
}

// assertFoundThenCreated checks a re-run whose first found rows were in
// the portal already, as the first run left them, and whose rest were new.
func assertFoundThenCreated(t *testing.T, first, again *b24.BatchImportResult, found int) {
	t.Helper()
	for i, r := range again.Items {
		if i < found {
			assert.Equal(t, b24.ActionFound, r.Action, "row %d", i)
			assert.Equal(t, first.Items[i].ID, r.ID, "row %d", i)
		} else {
			assert.Equal(t, b24.ActionCreated, r.Action, "row %d", i)
		}
	}
}

// assertIDsAscending checks that rows were created in input order.
func assertIDsAscending(t *testing.T, res *b24.BatchImportResult) {
	t.Helper()
	prev := int64(0)
	for _, r := range res.Items {
		assert.Greater(t, r.ID, prev, "row %d: history rows are created in input order", r.Index)
		prev = r.ID
	}
}

// proxySecret is the webhook secret of the portals behind tamperedClient.
const proxySecret = "proxysecret0451"

// answerEdit rewrites one answer of the portal behind a proxy: method is
// the REST method called, body the portal's answer; it returns the status
// and body the client gets. It may also take its time, like a slow portal.
type answerEdit func(method string, status int, body []byte) (int, []byte)

// tamperedClient puts a proxy that passes every answer of srv through edit
// in front of srv (started with WithWebhookSecret(proxySecret)) and returns
// a fast client for the proxy. Like the fake itself, the proxy ends its
// work on a call before it answers.
func tamperedClient(t *testing.T, srv *b24test.Server, edit answerEdit, opts ...b24.Option) *b24.Client {
	t.Helper()
	return proxyClient(t, srv, nil, edit, append([]b24.Option{b24.WithMaxExecutionTime(0)}, opts...)...)
}

// slowClient puts a proxy in front of srv that calls work(method) before
// it hands each request to the portal, which then executes it: a portal
// that works on after the client gave up on an answer. The client keeps
// the default execution bound unless opts set one.
func slowClient(t *testing.T, srv *b24test.Server, work func(method string), opts ...b24.Option) *b24.Client {
	t.Helper()
	return proxyClient(t, srv, work, nil, opts...)
}

// proxyClient is a fast client for a proxy in front of srv that calls
// before (if set) ahead of each request and edit (if set) on each answer.
func proxyClient(t *testing.T, srv *b24test.Server, before func(method string), edit answerEdit, opts ...b24.Option) *b24.Client {
	t.Helper()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := strings.TrimSuffix(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], ".json")
		if before != nil {
			before(method)
		}
		rec := httptest.NewRecorder()
		// The portal executes what reached it, whether the client still
		// waits or not.
		srv.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		status, body := rec.Code, rec.Body.Bytes()
		if edit != nil {
			status, body = edit(method, status, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(proxy.Close)
	wh, err := b24.NewWebhook(proxy.URL + "/rest/1/" + proxySecret + "/")
	if err != nil {
		t.Fatal(err)
	}
	base := append(srv.ClientOptions(),
		b24.WithRateLimit(1e6, 10000),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	c, err := b24.NewClient(wh, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
