package budget

import (
	"testing"
	"time"

	"github.com/b24kit/b24/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Time blocks shaped as recorded portals send them; values are the tests' own.

// Newer portals report processing 0 for calls that took time: the spent
// time is read from the duration then, which can only make the budget more
// careful.
func TestSpentFallsBackToDuration(t *testing.T) {
	spent, stamp := Spent(&wire.ResponseTime{Start: 1780000000, Finish: 1780000000.5, Duration: 0.5, Processing: 0})
	assert.Equal(t, 0.5, spent)
	assert.Equal(t, 1780000000.5, stamp)
	spent, stamp = Spent(&wire.ResponseTime{Start: 1780000000, Processing: 0.25})
	assert.Equal(t, 0.25, spent)
	assert.Equal(t, 1780000000.0, stamp, "no finish: the start")
}

// A reading without operating_reset_at (older portals) still counts: the
// budget waits for it to age out by the bucket grid.
func TestOperatingBudgetReadingWithoutReset(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := New(100*time.Second, 10*time.Minute, clk.now)
	rel, err := b.Acquire(t.Context(), "m", 1)
	require.NoError(t, err)
	rel(&wire.ResponseTime{Finish: 1000, Processing: 5, Operating: 99, HasOperating: true}, false)
	wait, _ := b.admit(b.methods["m"], 1)
	assert.True(t, wait, "99 + 5 would cross 100")
}
