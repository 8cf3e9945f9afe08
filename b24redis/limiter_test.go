package b24redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/b24kit/b24/b24test"
	"github.com/b24kit/b24/internal/testutil"
	"github.com/redis/go-redis/v9"
)

func TestLimiterBurstKeepsReserve(t *testing.T) {
	rdb := needRedis(t)
	// One request per 100 s: nothing drains during the test.
	lim, err := b24redis.NewLimiter(rdb, "burst.example", b24redis.WithKeyPrefix(uniquePrefix(t)), b24redis.WithRateLimit(0.01, 10))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 9 { // burst 10 less a reserve of 1
		if err := lim.Wait(ctx); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if err := lim.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request 10 = %v, want a deadline error (the reserve is kept)", err)
	}
}

func TestLimiterCancelledWait(t *testing.T) {
	rdb := needRedis(t)
	lim, err := b24redis.NewLimiter(rdb, "cancel.example", b24redis.WithKeyPrefix(uniquePrefix(t)), b24redis.WithRateLimit(0.5, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(50 * time.Millisecond) // let Wait block first
		cancel()
	}()
	if err := lim.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}

func TestLimiterOptionsValidated(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	cases := map[string]func() error{
		"nil client":   func() error { _, err := b24redis.NewLimiter(nil, "p"); return err },
		"empty portal": func() error { _, err := b24redis.NewLimiter(rdb, " "); return err },
		"braces":       func() error { _, err := b24redis.NewLimiter(rdb, "a{b}"); return err },
		"rate":         func() error { _, err := b24redis.NewLimiter(rdb, "p", b24redis.WithRateLimit(0, 5)); return err },
		"burst":        func() error { _, err := b24redis.NewLimiter(rdb, "p", b24redis.WithRateLimit(2, 0)); return err },
		"fallback":     func() error { _, err := b24redis.NewLimiter(rdb, "p", b24redis.WithFallback(0)); return err },
		"logger":       func() error { _, err := b24redis.NewLimiter(rdb, "p", b24redis.WithLogger(nil)); return err },
		"prefix":       func() error { _, err := b24redis.NewLimiter(rdb, "p", b24redis.WithKeyPrefix("{x}")); return err },
		"op limit": func() error {
			_, err := b24redis.NewOperatingBudget(rdb, "p", b24redis.WithOperatingLimit(0, time.Second))
			return err
		},
		"lease":     func() error { _, err := b24redis.NewOperatingBudget(rdb, "p", b24redis.WithLeaseTTL(0)); return err },
		"lock ttl":  func() error { _, err := b24redis.NewTokenStore(rdb, "k", b24redis.WithLockTTL(0)); return err },
		"empty key": func() error { _, err := b24redis.NewTokenStore(rdb, ""); return err },
	}
	for name, f := range cases {
		err := f()
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "b24: ") {
			t.Errorf("%s: error %q lacks the b24: prefix", name, err)
		}
	}
}

func TestLimiterUnavailable(t *testing.T) {
	rdb := deadRedis(t)
	lim, err := b24redis.NewLimiter(rdb, "down.example")
	if err != nil {
		t.Fatal(err)
	}
	err = lim.Wait(t.Context())
	if !errors.Is(err, b24redis.ErrUnavailable) {
		t.Fatalf("Wait = %v, want ErrUnavailable", err)
	}
	var ue *b24redis.UnavailableError
	if !errors.As(err, &ue) || ue.Op != "limiter" {
		t.Fatalf("Wait = %#v, want *UnavailableError for the limiter", err)
	}
}

func TestLimiterFallbackLogs(t *testing.T) {
	rdb := deadRedis(t)
	var logs testutil.SyncBuffer
	lim, err := b24redis.NewLimiter(rdb, "down.example", b24redis.WithFallback(3),
		b24redis.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := lim.Wait(t.Context()); err != nil {
			t.Fatalf("Wait with fallback = %v", err)
		}
	}
	if got := logs.String(); strings.Count(got, "using in-process limits") != 1 {
		t.Fatalf("want exactly one fallback warning, log:\n%s", got)
	}
}

// deadRedis is a client of a port where nothing listens.
func deadRedis(t *testing.T) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestLimiterManyProcesses hammers one fake portal from goroutines in this
// process and in three worker processes, all through the shared limiter:
// the portal must refuse nothing. The throughput is logged; with
// B24_REDIS_THROUGHPUT=1 it must also reach 95% of the portal's ceiling.
func TestLimiterManyProcesses(t *testing.T) {
	rdb := needRedis(t)
	const rate, burst = 20, 10
	const procs, goroutines, calls = 3, 3, 8
	srv := b24test.NewServer(b24test.WithRateLimit(rate, burst), b24test.WithoutOperatingLimit(), b24test.WithoutRequestLog())
	t.Cleanup(srv.Close)
	prefix := uniquePrefix(t)
	u, _ := url.Parse(srv.URL)
	portal := u.Host

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	workers := make([]*worker, procs)
	for i := range workers {
		workers[i] = spawn(t, modeLimiter, map[string]string{
			"B24REDIS_ADDR": sharedRedis, "B24REDIS_PREFIX": prefix, "B24REDIS_PORTAL": portal,
			"B24REDIS_WEBHOOK": srv.WebhookURL(), "B24REDIS_RATE": strconv.Itoa(rate), "B24REDIS_BURST": strconv.Itoa(burst),
			"B24REDIS_GOROUTINES": strconv.Itoa(goroutines), "B24REDIS_CALLS": strconv.Itoa(calls),
		})
	}
	// This process takes part too, with two limiters (two "clients").
	var first, last time.Time
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		lim, err := b24redis.NewLimiter(rdb, portal, b24redis.WithKeyPrefix(prefix), b24redis.WithRateLimit(rate, burst))
		if err != nil {
			t.Fatal(err)
		}
		st := &stampLimiter{next: lim}
		client := srv.Client(b24.WithLimiter(st))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := hammer(ctx, client, goroutines, calls)
			if err != nil {
				t.Errorf("in-process client: %v", err)
			}
			mu.Lock()
			total += ok
			first, last = widen(first, last, st.first, st.last)
			mu.Unlock()
		}()
	}
	for i, w := range workers {
		line, err := w.expect(ctx, "RESULT")
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
		f := strings.Fields(line)
		ok, _ := strconv.ParseInt(f[1], 10, 64)
		a, _ := strconv.ParseInt(f[2], 10, 64)
		b, _ := strconv.ParseInt(f[3], 10, 64)
		mu.Lock()
		total += ok
		first, last = widen(first, last, time.Unix(0, a), time.Unix(0, b))
		mu.Unlock()
		if err := w.wait(ctx); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	wg.Wait()

	want := int64((procs + 2) * goroutines * calls)
	if total != want {
		t.Fatalf("%d calls succeeded, want %d", total, want)
	}
	st := srv.Stats()
	if st.RateLimited != 0 {
		t.Fatalf("the portal refused %d requests with QUERY_LIMIT_EXCEEDED, want 0", st.RateLimited)
	}
	// After the first burst the bucket drains at rate: the ideal time for
	// the rest is (total - safe burst) / rate.
	ideal := float64(total-9) / rate
	got := last.Sub(first).Seconds()
	ratio := ideal / got
	t.Logf("%d requests from %d processes in %.2fs, %.1f%% of the portal's ceiling, 0 refused",
		total, procs+1, got, 100*ratio)
	if os.Getenv("B24_REDIS_THROUGHPUT") == "1" && ratio < 0.95 {
		t.Errorf("throughput %.1f%% of the ceiling, want at least 95%%", 100*ratio)
	}
}

func widen(first, last, a, b time.Time) (time.Time, time.Time) {
	if first.IsZero() || a.Before(first) {
		first = a
	}
	if b.After(last) {
		last = b
	}
	return first, last
}

var _ b24.Limiter = (*stampLimiter)(nil)

// BenchmarkLimiterWait measures one admission (one script run) against a
// bucket that never runs dry.
func BenchmarkLimiterWait(b *testing.B) {
	if sharedRedis == "" {
		b.Skip("no redis")
	}
	rdb := redis.NewClient(&redis.Options{Addr: sharedRedis})
	defer rdb.Close()
	lim, err := b24redis.NewLimiter(rdb, "bench.example", b24redis.WithKeyPrefix("b24bench:"), b24redis.WithRateLimit(1e6, 1<<20))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := lim.Wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
