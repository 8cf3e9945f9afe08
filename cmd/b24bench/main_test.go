package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDoneAt(t *testing.T) {
	s := []sample{{time.Second, 20}, {2 * time.Second, 40}, {3 * time.Second, 60}}
	assert.Zero(t, doneAt(s, 500*time.Millisecond), "nothing finished yet")
	assert.Equal(t, 20, doneAt(s, time.Second), "a sample at the moment counts")
	assert.Equal(t, 40, doneAt(s, 2500*time.Millisecond))
	assert.Equal(t, 60, doneAt(s, time.Hour))
	assert.Zero(t, doneAt(nil, time.Hour))
}

func TestCeilings(t *testing.T) {
	req := pacedRegime{portal: requestPortal, packing: 1}
	c, how, allowance := req.ceiling()
	assert.InDelta(t, 200, c, 1e-9, "10 req/s × 20 items")
	assert.Contains(t, how, "request")
	assert.InDelta(t, 1000, allowance, 1e-9, "burst 50 × 20 items")

	packed := pacedRegime{portal: requestPortal, packing: 0}
	c, how, _ = packed.ceiling()
	assert.InDelta(t, 640, c, 1e-6, "0.8 s/s ÷ (25 ms ÷ 20): packing moves the bound to operating time")
	assert.Contains(t, how, "operating")

	op := pacedRegime{portal: operatingPortal, packing: 0}
	c, _, allowance = op.ceiling()
	assert.InDelta(t, 0.8/0.00525, c, 1e-6)
	assert.InDelta(t, 4/0.00525, allowance, 1e-6, "one window's budget")
}

func TestRunRejectsBadFlags(t *testing.T) {
	var out bytes.Buffer
	code, err := run(t.Context(), []string{"-regime", "nonsense"}, &out)
	require.Error(t, err)
	assert.Equal(t, 2, code)
	code, err = run(t.Context(), []string{"stray"}, &out)
	require.Error(t, err)
	assert.Equal(t, 2, code)
}

func TestRunRejectsACloudPhaseOfOneOrMore(t *testing.T) {
	var out bytes.Buffer
	code, err := run(t.Context(), []string{"-regime", "cloud", "-cloud-phase", "1"}, &out)
	require.ErrorContains(t, err, "-cloud-phase")
	assert.Equal(t, 2, code)
}

func TestBeginAtPhase(t *testing.T) {
	const slot = 20 * time.Millisecond
	before := time.Now()
	// The first moment at or after before that is half a slot into one.
	want := before.Truncate(slot).Add(slot / 2)
	if want.Before(before) {
		want = want.Add(slot)
	}
	require.NoError(t, beginAtPhase(t.Context(), slot, 0.5))
	// A timer never fires early; how late it fires depends on the
	// machine, so only the lower side is asserted.
	assert.False(t, time.Now().Before(want), "returned before the phase")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, beginAtPhase(ctx, time.Hour, 0.99), context.Canceled)
	assert.NoError(t, beginAtPhase(ctx, time.Hour, -1), "a negative phase does not wait")
}
