package budget

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock for the operating budget.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSafeBurst(t *testing.T) {
	for burst, want := range map[int]int{50: 45, 250: 225, 10: 9, 2: 1, 1: 1} {
		assert.Equal(t, want, SafeBurst(burst), "burst %d", burst)
	}
}

func reading(finish, operating float64, resetAt time.Time, processing float64) *wire.ResponseTime {
	return &wire.ResponseTime{Finish: finish, Operating: operating, HasOperating: true, OperatingResetAt: resetAt, Processing: processing}
}

func TestOperatingBudgetAdmitsUnderTheLimit(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(reading(1000, 50, clk.now().Add(time.Minute), 10), false)

	m := b.methods["m"]
	wait, _ := b.admit(m, 1)
	assert.False(t, wait, "50 used + 10 per call fits in 100")
	m.inflight, m.calls = 4, 4 // 50 + 5*10 = 100 fits exactly
	wait, _ = b.admit(m, 1)
	assert.False(t, wait)
	m.inflight, m.calls = 5, 5 // 50 + 6*10 > 100: wait for a reading
	wait, until := b.admit(m, 1)
	assert.True(t, wait)
	assert.Equal(t, clk.now().Add(time.Minute+resetSlack), until,
		"it waits for the readings of the calls in flight, at most until the reset")
}

func TestOperatingBudgetPausesUntilReset(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	reset := clk.now().Add(30 * time.Second)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(reading(1000, 94, reset, 5), false)
	m := b.methods["m"]
	wait, _ := b.admit(m, 1)
	require.False(t, wait, "94 + 5 fits in 100")

	b.observe(m, reading(1001, 99, reset, 5), false, 1)
	wait, until := b.admit(m, 1)
	require.True(t, wait, "99 + 5 would cross the limit: a packed request's later commands would be refused")
	assert.True(t, until.After(reset) || until.Equal(reset), "waits until the oldest minute drops out")

	clk.advance(31 * time.Second)
	wait, _ = b.admit(m, 1)
	assert.False(t, wait, "after the reset one probe goes")
	m.inflight, m.calls = 1, 1
	wait, _ = b.admit(m, 1)
	assert.True(t, wait, "only one probe until a fresh reading")

	m.inflight, m.calls = 0, 0
	b.observe(m, reading(1031, 60, clk.now().Add(time.Minute), 5), false, 1)
	wait, _ = b.admit(m, 1)
	assert.False(t, wait, "the fresh reading opens the method again")
	assert.False(t, m.probing)
}

func TestOperatingBudgetBlockedByPortal(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(nil, true) // 429 without a time block
	wait, until := b.admit(b.methods["m"], 1)
	require.True(t, wait)
	// 1000 s is 40 s into a minute of the portal's grid: the bucket ends at
	// 1020 s.
	assert.Equal(t, time.Unix(1020, 0).Add(b.blockSlack()), until,
		"without a reset time it waits until the current bucket ends")

	other, err := b.Acquire(t.Context(), "other.method", 1)
	require.NoError(t, err, "other methods are not held back")
	other(nil, false)
}

func TestOperatingBudgetIgnoresStaleReadings(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	m := b.state("m")
	b.observe(m, reading(1010, 80, time.Time{}, 1), false, 1)
	b.observe(m, reading(1005, 20, time.Time{}, 1), false, 1)
	assert.Equal(t, 80.0, m.operating, "an answer overtaken by a newer one does not lower the reading")
}

func TestOperatingBudgetWithoutReadings(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	for range 20 {
		rel, err := b.Acquire(t.Context(), "m", 1)
		require.NoError(t, err)
		rel(&wire.ResponseTime{Processing: 30}, false) // self-hosted: no operating fields
	}
	wait, _ := b.admit(b.methods["m"], 1)
	assert.False(t, wait, "a portal that reports nothing is not throttled by guesses")
}

func TestOperatingBudgetWaitIsCancellable(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(reading(1000, 150, clk.now().Add(time.Hour), 5), false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = b.Acquire(ctx, "m", 1)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestOperatingBudgetKeepsLargestReadingOfAPeriod(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	reset := clk.now().Add(time.Minute)
	m := b.state("m")
	// Answers overtake each other: a call that took longer finishes later
	// but carries a reading taken before the others'.
	b.observe(m, reading(1001, 100.5, reset, 5), false, 1)
	b.observe(m, reading(1002, 95, reset, 9), false, 1)
	assert.Equal(t, 100.5, m.operating, "within one period the consumed time only grows")
	wait, until := b.admit(m, 1)
	assert.True(t, wait, "over the budget: the portal would refuse")
	assert.Equal(t, reset.Add(resetSlack), until)

	b.observe(m, reading(1003, 40, reset.Add(-time.Second), 5), false, 1)
	assert.Equal(t, 100.5, m.operating, "a reading from before the window moved on is stale")

	later := reset.Add(time.Minute)
	b.observe(m, reading(1004, 40, later, 5), false, 1)
	assert.Equal(t, 40.0, m.operating, "a later period replaces the reading")
	assert.Equal(t, later, m.period)
}

func TestOperatingBudgetProbeWaitsForTheNextPeriod(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	reset := clk.now().Add(10 * time.Second)
	m := b.state("m")
	b.observe(m, reading(1000, 101, reset, 5), false, 1)
	clk.advance(11 * time.Second)
	wait, _ := b.admit(m, 1)
	require.False(t, wait, "after the reset one probe goes")
	require.True(t, m.probing)
	m.inflight, m.calls = 1, 1
	b.observe(m, reading(1001, 101, reset, 5), false, 1)
	assert.True(t, m.probing, "an answer from the old period does not end the probe")
	wait, _ = b.admit(m, 1)
	assert.True(t, wait, "still one call at a time")
	b.observe(m, reading(1011, 70, reset.Add(time.Minute), 5), false, 1)
	assert.False(t, m.probing)
	wait, _ = b.admit(m, 1)
	assert.False(t, wait, "the next period's reading opens the method again")
}

func TestOperatingBudgetRefusalKeepsCost(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(reading(1000, 50, clk.now().Add(time.Minute), 4), false)
	rel, err = b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(reading(1000, 101, clk.now().Add(time.Minute), 0.001), true)
	m := b.methods["m"]
	assert.Equal(t, 4.0, m.cost, "a refused call ran nothing: its time says nothing about the cost")
	assert.Equal(t, 101.0, m.operating)
	wait, until := b.admit(m, 1)
	assert.True(t, wait)
	assert.Equal(t, clk.now().Add(time.Minute+time.Second), until, "blocked until a second after the reset")
}

func TestOperatingBudgetAdmitsACallThatCanNeverFit(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(10*time.Second, time.Minute, clk.now)
	m := b.state("m")
	b.observe(m, reading(1000, 3, clk.now().Add(time.Second), 12), false, 1)
	wait, _ := b.admit(m, 1)
	assert.False(t, wait, "a call costing more than the budget goes alone while under the limit, else never")
	m.inflight, m.calls = 1, 1
	wait, _ = b.admit(m, 1)
	assert.True(t, wait, "but only alone")
	m.inflight, m.calls = 0, 0
	b.observe(m, reading(1001, 15, clk.now().Add(time.Second), 12), false, 1)
	wait, _ = b.admit(m, 1)
	assert.True(t, wait, "over the limit it waits for the reset")
}

func TestOperatingBudgetWeighsPackedRequests(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 5)
	require.NoError(t, err)
	m := b.methods["m"]
	assert.Equal(t, 5, m.inflight, "a pack of five counts as five calls in flight")
	assert.Equal(t, 1, m.calls)
	rel(reading(1000, 80, clk.now().Add(time.Minute), 10), false)
	assert.Equal(t, 2.0, m.cost, "the cost is learnt per packed call")
	assert.Zero(t, m.inflight)

	wait, _ := b.admit(m, 10)
	assert.False(t, wait, "80 + 10 × 2 fits")
	wait, _ = b.admit(m, 11)
	assert.True(t, wait, "80 + 11 × 2 does not: its last commands would be refused")
	wait, _ = b.admit(m, 1)
	assert.False(t, wait)
}

func TestOperatingBudgetCostRisesAtOnceFallsSlowly(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	m := b.state("m")
	b.observe(m, &wire.ResponseTime{Processing: 1}, false, 1)
	b.observe(m, &wire.ResponseTime{Processing: 3}, false, 1)
	assert.Equal(t, 3.0, m.cost, "a dearer call raises the estimate at once")
	b.observe(m, &wire.ResponseTime{Processing: 1}, false, 1)
	assert.InDelta(t, 2.8, m.cost, 1e-9, "a cheaper one lowers it by a tenth of the difference")
}

// ledgerBudget is a budget of 4 s per 5 s (buckets of 0.5 s) whose clock
// starts on a bucket boundary.
func ledgerBudget() (*Local, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	return New(4*time.Second, 5*time.Second, clk.now), clk
}

// spendCall runs one call of weight w through the budget: the portal
// answers it at the clock's time with the given reading.
func spendCall(t *testing.T, b *Local, clk *fakeClock, w int, seconds, operating float64, resetAt time.Time) {
	t.Helper()
	rel, err := b.Acquire(t.Context(), "m", w)
	require.NoError(t, err)
	fin := unixSeconds(clk.now())
	rel(&wire.ResponseTime{Start: fin - seconds, Finish: fin, Processing: seconds, Operating: operating,
		HasOperating: true, OperatingResetAt: resetAt}, false)
}

func TestOperatingBudgetSubtractsItsOwnDroppedTime(t *testing.T) {
	b, clk := ledgerBudget()
	reset := clk.now().Add(5 * time.Second) // the bucket [1000, 1000.5) drops at 1005
	// 2 s in the first bucket, 1.9 s in the next: 3.9 of 4 s used.
	for i := range 20 {
		spendCall(t, b, clk, 1, 0.1, 0.1*float64(i+1), reset)
	}
	clk.advance(600 * time.Millisecond)
	for i := range 19 {
		spendCall(t, b, clk, 1, 0.1, 2+0.1*float64(i+1), reset)
	}
	m := b.methods["m"]
	require.InDelta(t, 3.9, m.operating, 1e-9)
	wait, until := b.admit(m, 4)
	require.True(t, wait, "a pack of four does not fit")
	assert.Equal(t, reset.Add(resetSlack), until)

	clk.advance(4500 * time.Millisecond) // 1005.1: the first bucket dropped
	est, unknown, obsolete := b.estimate(m, clk.now())
	assert.False(t, obsolete)
	assert.InDelta(t, 1.9, est, 1e-9, "its own 2 s went with the first bucket")
	assert.InDelta(t, 0, unknown, 1e-9, "the ledger explains the whole reading")
	wait, _ = b.admit(m, 4)
	assert.False(t, wait, "the pack fits now, without a probe")
	assert.False(t, m.probing)
}

func TestOperatingBudgetWaitsForTheBucketHoldingItsTime(t *testing.T) {
	b, clk := ledgerBudget()
	reset := clk.now().Add(5 * time.Second)
	spendCall(t, b, clk, 1, 0.05, 0.05, reset) // a small call in the first bucket
	clk.advance(600 * time.Millisecond)
	for i := range 39 {
		spendCall(t, b, clk, 1, 0.1, 0.05+0.1*float64(i+1), reset)
	}
	m := b.methods["m"]
	clk.advance(4450 * time.Millisecond) // 1005.05: only the small call dropped
	wait, until := b.admit(m, 4)
	assert.True(t, wait, "3.95 - 0.05 + 0.4 would cross the budget: a blind probe would be refused")
	assert.False(t, m.probing)
	assert.Equal(t, time.Unix(1005, 5e8).Add(resetSlack), until, "next look when the next bucket drops")
	clk.advance(500 * time.Millisecond)
	wait, _ = b.admit(m, 4)
	assert.False(t, wait, "the second bucket took 3.9 s with it")
}

func TestOperatingBudgetProbesWhenTheReadingIsNotItsOwn(t *testing.T) {
	b, clk := ledgerBudget()
	reset := clk.now().Add(5 * time.Second)
	spendCall(t, b, clk, 1, 0.1, 3.95, reset) // another client spent the rest
	m := b.methods["m"]
	wait, _ := b.admit(m, 1)
	require.True(t, wait)
	clk.advance(5100 * time.Millisecond)
	wait, _ = b.admit(m, 1)
	assert.False(t, wait, "after the reset one call fetches a fresh reading")
	assert.True(t, m.probing)

	clk.advance(10 * time.Second)
	m.probing = false
	_, _, obsolete := b.estimate(m, clk.now())
	assert.True(t, obsolete, "a window later nothing of the reading is left")
}

func TestOperatingBudgetAllowsForClockSkew(t *testing.T) {
	b, clk := ledgerBudget()
	// This host's clock runs 3 s ahead of the portal's; answers take 10 ms.
	portal := func() time.Time { return clk.now().Add(-3*time.Second - 10*time.Millisecond) }
	reset := portal().Add(5 * time.Second).Truncate(500 * time.Millisecond)
	for i := range 39 {
		rel, err := b.Acquire(t.Context(), "m", 1)
		require.NoError(t, err)
		fin := unixSeconds(portal())
		rel(&wire.ResponseTime{Start: fin - 0.1, Finish: fin, Processing: 0.1, Operating: 0.1 * float64(i+1),
			HasOperating: true, OperatingResetAt: reset}, false)
	}
	assert.InDelta(t, 3.01, b.skew, 1e-6)
	m := b.methods["m"]
	wait, until := b.admit(m, 2)
	require.True(t, wait)
	assert.WithinDuration(t, reset.Add(3010*time.Millisecond+resetSlack), until, time.Microsecond, "the portal's reset, in this host's clock")

	clk.t = reset.Add(time.Second) // past the reset by the portal's clock, not by this host's
	wait, _ = b.admit(m, 2)
	assert.True(t, wait, "the bucket has not dropped on the portal yet")
	assert.False(t, m.probing)
	clk.t = reset.Add(3100 * time.Millisecond)
	wait, _ = b.admit(m, 2)
	assert.False(t, wait, "now it has")
}

func TestAcquireWatchedSaysUntilWhen(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(nil, true) // refused without a reading: blocked until the bucket ends

	ctx, cancel := context.WithCancel(t.Context())
	var told []time.Time
	_, err = b.AcquireWatched(ctx, "m", 1, func(until time.Time) {
		told = append(told, until)
		cancel() // the caller gives up; the wait must end at once
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, told, 1, "told once, before the wait")
	assert.True(t, told[0].After(clk.now()), "a time ahead")
	assert.Equal(t, b.BlockedUntil("m"), told[0], "the time the budget holds the method until")

	called := false
	rel, err = b.AcquireWatched(t.Context(), "free", 1, func(time.Time) { called = true })
	require.NoError(t, err)
	rel(nil, false)
	assert.False(t, called, "a call admitted at once waits for nothing")
}

// TestOperatingBudgetFirstRefusalAllowsForSkew: a 429 that is the first
// answer of a portal whose clock runs 3 h ahead holds the method until
// the portal's reset in this host's clock, not for 3 h more: the answer's
// own finish is folded into the skew before its reset is converted.
func TestOperatingBudgetFirstRefusalAllowsForSkew(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	portalNow := clk.now().Add(3 * time.Hour)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(&wire.ResponseTime{Start: unixSeconds(portalNow) - 0.01, Finish: unixSeconds(portalNow),
		Operating: 101, HasOperating: true, OperatingResetAt: portalNow.Add(30 * time.Second)}, true)
	wait, until := b.admit(b.methods["m"], 1)
	require.True(t, wait)
	assert.WithinDuration(t, clk.now().Add(30*time.Second), until, 2*time.Second,
		"blocked until the reset by this host's clock")
}
