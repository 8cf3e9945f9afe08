package b24redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/b24kit/b24/b24test"
	"github.com/b24kit/b24/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// killingLimiter stops Redis just before the request number at.
type killingLimiter struct {
	next b24.Limiter
	n    atomic.Int32
	at   int32
	kill func()
}

func (k *killingLimiter) Wait(ctx context.Context) error {
	if k.n.Add(1) == k.at {
		k.kill()
	}
	return k.next.Wait(ctx)
}

func deals(n int) []b24.Item {
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprintf("deal %d", i)}
	}
	return items
}

// restartRig is a fake portal and a client whose limiter and budget live
// on a private Redis that the test can stop.
type restartRig struct {
	srv    *b24test.Server
	redis  *redisProc
	rdb    *redis.Client
	client *b24.Client
	logs   *testutil.SyncBuffer
	prefix string
	portal string
}

func newRestartRig(t *testing.T, opts ...b24redis.Option) *restartRig {
	p := ownRedis(t)
	r := &restartRig{redis: p, logs: &testutil.SyncBuffer{}, prefix: uniquePrefix(t)}
	r.srv = b24test.NewServer(b24test.WithRateLimit(50, 20), b24test.WithoutOperatingLimit())
	t.Cleanup(r.srv.Close)
	u, _ := url.Parse(r.srv.URL)
	r.portal = u.Host
	r.rdb = redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: 1})
	t.Cleanup(func() { _ = r.rdb.Close() })
	opts = append([]b24redis.Option{b24redis.WithKeyPrefix(r.prefix), b24redis.WithRateLimit(50, 20),
		b24redis.WithLogger(slog.New(slog.NewTextHandler(r.logs, nil)))}, opts...)
	lim, err := b24redis.NewLimiter(r.rdb, r.portal, opts...)
	if err != nil {
		t.Fatal(err)
	}
	bud, err := b24redis.NewOperatingBudget(r.rdb, r.portal, opts...)
	if err != nil {
		t.Fatal(err)
	}
	kl := &killingLimiter{next: lim, at: 3, kill: p.stop}
	r.client = r.srv.Client(b24.WithLimiter(kl), b24.WithOperatingBudget(bud),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond}))
	return r
}

// TestRedisDownMidImportFails: by default an import whose Redis goes away
// stops sending and reports ErrUnavailable; nothing is sent unpaced.
func TestRedisDownMidImportFails(t *testing.T) {
	r := newRestartRig(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := r.client.CRMItem.BatchImport(ctx, b24.EntityDeal, deals(100), b24.WithConcurrency(1), b24.WithPacking(1))
	if !errors.Is(err, b24redis.ErrUnavailable) {
		t.Fatalf("BatchImport error = %v, want ErrUnavailable", err)
	}
	var ie *b24.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("BatchImport error = %T, want *b24.ImportError", err)
	}
	stored := r.srv.ItemCount(b24.EntityDeal)
	if ie.Imported != 40 || stored != 40 || ie.NotSent != 60 || len(res.Items) != 100 {
		t.Fatalf("imported %d (portal holds %d), not sent %d; want 40, 40, 60 (two calls before Redis stopped)",
			ie.Imported, stored, ie.NotSent)
	}

	// Once Redis is back, the rows not sent go through.
	r.redis.restart(t)
	var rest []b24.Item
	items := deals(100)
	for i, it := range res.Items {
		if it.Status == b24.ItemNotSent {
			rest = append(rest, items[i])
		}
	}
	if _, err := r.client.CRMItem.BatchImport(ctx, b24.EntityDeal, rest); err != nil {
		t.Fatalf("importing the rest after the restart: %v", err)
	}
	if n := r.srv.ItemCount(b24.EntityDeal); n != 100 {
		t.Fatalf("portal holds %d deals, want 100", n)
	}
}

// TestRedisDownMidImportFallback: with WithFallback the import goes on at
// in-process limits, the switch is logged, and once Redis is back the
// shared limits are used again.
func TestRedisDownMidImportFallback(t *testing.T) {
	r := newRestartRig(t, b24redis.WithFallback(1), b24redis.WithFallbackRecheck(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := r.client.CRMItem.BatchImport(ctx, b24.EntityDeal, deals(100), b24.WithConcurrency(1), b24.WithPacking(1)); err != nil {
		t.Fatalf("BatchImport with fallback = %v", err)
	}
	if n := r.srv.ItemCount(b24.EntityDeal); n != 100 {
		t.Fatalf("portal holds %d deals, want 100", n)
	}
	if n := strings.Count(r.logs.String(), "using in-process limits"); n != 2 {
		t.Fatalf("want one fallback warning each from the limiter and the budget, log:\n%s", r.logs.String())
	}
	if st := r.srv.Stats(); st.RateLimited != 0 {
		t.Fatalf("the portal refused %d requests during the fallback", st.RateLimited)
	}

	r.redis.restart(t)
	rateKey := r.prefix + "rate:{" + r.portal + "}"
	for !strings.Contains(r.logs.String(), "reachable again") {
		var out map[string]any
		if err := r.client.Call(ctx, "profile", nil, &out); err != nil {
			t.Fatalf("call after the restart: %v", err)
		}
	}
	var out map[string]any
	if err := r.client.Call(ctx, "profile", nil, &out); err != nil {
		t.Fatal(err)
	}
	if n, err := r.rdb.Exists(ctx, rateKey).Result(); err != nil || n != 1 {
		t.Fatalf("after the restart the limiter does not use Redis (exists=%d, %v)", n, err)
	}
}
