package b24redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
)

// reading is an answer's time block reporting operating seconds used, as
// of now, with the window's next reset at reset.
func reading(operating, spent float64, reset time.Time) *b24.ResponseTime {
	now := float64(time.Now().UnixMicro()) / 1e6
	return &b24.ResponseTime{Start: now - spent, Finish: now, Duration: spent, Processing: spent,
		Operating: operating, OperatingResetAt: reset, HasOperating: true}
}

// budgets returns n budgets of one portal, as n processes would hold.
func budgets(t *testing.T, n int, opts ...b24redis.Option) []*b24redis.OperatingBudget {
	t.Helper()
	rdb := needRedis(t)
	opts = append([]b24redis.Option{b24redis.WithKeyPrefix(uniquePrefix(t)),
		b24redis.WithOperatingLimit(100*time.Second, 10*time.Minute)}, opts...)
	out := make([]*b24redis.OperatingBudget, n)
	for i := range out {
		b, err := b24redis.NewOperatingBudget(rdb, "budget.example", opts...)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// held reports whether Acquire is still waiting after d.
func held(t *testing.T, b *b24redis.OperatingBudget, method string, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	rel, err := b.Acquire(ctx, method, 1)
	if err == nil {
		rel(nil, false)
		return false
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire(%s) = %v", method, err)
	}
	return true
}

func mustAcquire(t *testing.T, b *b24redis.OperatingBudget, method string) func(*b24.ResponseTime, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	rel, err := b.Acquire(ctx, method, 1)
	if err != nil {
		t.Fatalf("Acquire(%s) = %v", method, err)
	}
	return rel
}

func TestBudgetPoolsReadingsAcrossProcesses(t *testing.T) {
	bs := budgets(t, 3)
	a, b, c := bs[0], bs[1], bs[2]
	reset := time.Now().Add(400 * time.Millisecond)
	mustAcquire(t, a, "m")(reading(101, 1, reset), false) // a learns the method is over budget

	if !held(t, b, "m", 100*time.Millisecond) {
		t.Fatal("b started a call although a's reading is over the budget")
	}
	if held(t, b, "other.method", time.Second) {
		t.Fatal("another method is held back too")
	}
	// An answer overtaken by a newer one must not replace the reading.
	stale := reading(150, 1, time.Now().Add(time.Hour))
	stale.Finish -= 10
	mustAcquire(t, c, "other.method")(nil, false)
	if !held(t, c, "m", 50*time.Millisecond) {
		t.Fatal("c not held")
	}

	probe := mustAcquire(t, b, "m") // after the reset, one probe goes
	if time.Now().Before(reset) {
		t.Fatal("the probe started before the reported reset")
	}
	if !held(t, c, "m", 100*time.Millisecond) {
		t.Fatal("a second call started while the probe was in flight")
	}
	probe(reading(10, 1, time.Now().Add(time.Minute)), false)
	mustAcquire(t, c, "m")(stale, false) // the fresh reading opens the method
	if held(t, a, "m", time.Second) {
		t.Fatal("a stale reading closed the method again")
	}
}

func TestBudgetBlockedByPortal(t *testing.T) {
	bs := budgets(t, 2)
	reset := time.Now().Add(100 * time.Millisecond)
	mustAcquire(t, bs[0], "m")(reading(120, 1, reset), true) // 429 OPERATION_TIME_LIMIT
	if !held(t, bs[1], "m", 200*time.Millisecond) {
		t.Fatal("the other process called a method the portal blocked")
	}
	mustAcquire(t, bs[1], "m")(nil, false)
	if time.Now().Before(reset.Add(time.Second)) {
		t.Fatal("the block was lifted before the reset plus a second")
	}
}

func TestBudgetLeaseOfCrashedProcessLapses(t *testing.T) {
	bs := budgets(t, 2, b24redis.WithLeaseTTL(300*time.Millisecond))
	mustAcquire(t, bs[0], "m")(reading(95, 10, time.Now().Add(time.Hour)), false)
	mustAcquire(t, bs[0], "m") // 95 used and nothing in flight: one more call; its process dies
	if !held(t, bs[1], "m", 100*time.Millisecond) {
		t.Fatal("95 + 2 × 10 > 100 must wait for the call in flight")
	}
	mustAcquire(t, bs[1], "m")(nil, false) // admitted once the dead call's lease lapsed
}

func TestBudgetCancelledWait(t *testing.T) {
	bs := budgets(t, 1)
	mustAcquire(t, bs[0], "m")(reading(150, 1, time.Now().Add(time.Hour)), false)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(50 * time.Millisecond) // let Acquire block first
		cancel()
	}()
	if _, err := bs[0].Acquire(ctx, "m", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
}

func TestBudgetUnavailable(t *testing.T) {
	b, err := b24redis.NewOperatingBudget(deadRedis(t), "down.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(t.Context(), "m", 1); !errors.Is(err, b24redis.ErrUnavailable) {
		t.Fatalf("Acquire = %v, want ErrUnavailable", err)
	}
	fb, err := b24redis.NewOperatingBudget(deadRedis(t), "down.example", b24redis.WithFallback(2))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := fb.Acquire(t.Context(), "m", 1)
	if err != nil {
		t.Fatalf("Acquire with fallback = %v", err)
	}
	rel(nil, false)
}

func TestBudgetOneCallAtATimeUntilTheCostIsKnown(t *testing.T) {
	bs := budgets(t, 2)
	first := mustAcquire(t, bs[0], "m")
	if !held(t, bs[1], "m", 100*time.Millisecond) {
		t.Fatal("a second call started before any answer told the cost of one")
	}
	first(nil, false) // an answer without a time block still ends the wait
	a := mustAcquire(t, bs[0], "m")
	b := mustAcquire(t, bs[1], "m")
	a(nil, false)
	b(nil, false)
}

func TestBudgetKeepsLargestReadingWithinAResetPeriod(t *testing.T) {
	bs := budgets(t, 2)
	reset := time.Now().Add(time.Hour)
	a := mustAcquire(t, bs[0], "m")
	a(reading(1, 1, reset), false)
	high, low := mustAcquire(t, bs[0], "m"), mustAcquire(t, bs[1], "m")
	// Both answers belong to the same window position; the one that
	// finished later carries the smaller count (it was counted earlier).
	hi, lo := reading(101, 1, reset), reading(50, 1, reset)
	lo.Finish = hi.Finish + 0.01
	high(hi, false)
	low(lo, false)
	if !held(t, bs[1], "m", 100*time.Millisecond) {
		t.Fatal("a smaller reading of the same period reopened a method over its budget")
	}
}
