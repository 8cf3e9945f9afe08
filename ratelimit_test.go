package b24

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimiterWaitHonoursContext(t *testing.T) {
	l := NewLimiter(0.001, 1)
	require.NoError(t, l.Wait(t.Context()), "the first token is free")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, l.Wait(ctx), context.Canceled)
	dctx, dcancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer dcancel()
	assert.ErrorIs(t, l.Wait(dctx), context.DeadlineExceeded, "a wait that cannot finish in time fails at once")
}

func TestRetryBackoff(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		for range 50 {
			d := p.backoff(attempt)
			assert.GreaterOrEqual(t, d, want/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, want, "attempt %d", attempt)
		}
	}
}
