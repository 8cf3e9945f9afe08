package b24redis_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/b24kit/b24/b24test"
	"github.com/redis/go-redis/v9"
)

// runBudgetLoad sends calls from three clients (as three processes would)
// against a portal with a scaled-down operating limit, each client with
// the budget newBudget gives it, and returns the portal's stats.
func runBudgetLoad(t *testing.T, newBudget func(i int) b24.OperatingBudget) b24test.Stats {
	srv := b24test.NewServer(b24test.WithoutRateLimit(), b24test.WithOperatingLimit(300*time.Millisecond, time.Second),
		b24test.WithLatency(50*time.Millisecond, 0, 0), b24test.WithoutRequestLog())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 3 {
		client := srv.Client(b24.WithOperatingBudget(newBudget(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := hammer(ctx, client, 3, 3); err != nil {
				t.Errorf("client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	return srv.Stats()
}

// TestBudgetSharedAgainstPortal runs 27 calls of 50 ms from three clients
// with budgets pooled in Redis against a portal allowing 300 ms per second:
// the portal must refuse none of them.
func TestBudgetSharedAgainstPortal(t *testing.T) {
	needRedis(t)
	prefix := uniquePrefix(t)
	start := time.Now()
	st := runBudgetLoad(t, func(int) b24.OperatingBudget {
		rdb := redis.NewClient(&redis.Options{Addr: sharedRedis})
		t.Cleanup(func() { _ = rdb.Close() })
		b, err := b24redis.NewOperatingBudget(rdb, "budget.portal", b24redis.WithKeyPrefix(prefix),
			b24redis.WithOperatingLimit(300*time.Millisecond, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	t.Logf("shared budget: %d calls in %.1fs, %d refused with OPERATION_TIME_LIMIT", st.Requests, time.Since(start).Seconds(), st.OperatingLimited)
	if st.OperatingLimited != 0 {
		t.Errorf("the portal refused %d calls with OPERATION_TIME_LIMIT, want 0", st.OperatingLimited)
	}
	// The control run shows the load does overrun the portal when each
	// process budgets alone (about 17 refusals); it takes 8 s, so it is
	// opt-in.
	if os.Getenv("B24_REDIS_CONTROL") == "1" {
		start = time.Now()
		st = runBudgetLoad(t, func(int) b24.OperatingBudget {
			return b24.NewOperatingBudget(300*time.Millisecond, time.Second)
		})
		t.Logf("separate budgets: %d calls in %.1fs, %d refused", st.Requests, time.Since(start).Seconds(), st.OperatingLimited)
	}
}
