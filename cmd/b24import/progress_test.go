package main

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProgress is a progress display on a buffer with a hand-moved clock.
func fakeProgress(total int, terminal bool, width int) (*progress, *strings.Builder, *time.Time) {
	var b strings.Builder
	clock := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	p := &progress{total: total, start: clock, w: &b, terminal: terminal, width: func() int { return width },
		stop: make(chan struct{})}
	p.now = func() time.Time { return clock }
	return p, &b, &clock
}

func TestProgressFitsTheTerminal(t *testing.T) {
	for _, width := range []int{24, 40, 60, 80, 120, 200} {
		p, _, clock := fakeProgress(100000, true, width)
		for range 3420 {
			p.add(outcome{status: stImported}, false)
		}
		p.add(outcome{status: stRejected}, false)
		*clock = clock.Add(20 * time.Second)
		p.setWait(b24.Wait{Reason: b24.WaitOperatingLimit, Method: "crm.item.batchImport", Since: clock.Add(-14 * time.Second), Until: clock.Add(20 * time.Second)})
		line := p.barLine(*clock, width)
		assert.LessOrEqual(t, utf8.RuneCountInString(line), width-1, "width %d: %q", width, line)
		assert.NotContains(t, line, "\n")
		assert.Contains(t, line, "3421/100000 rows", "width %d: the count always shows", width)
		if width >= 80 {
			assert.Contains(t, line, "crm.item.batchImport window, 20s left", "width %d: %q", width, line)
		}
		if width >= 200 {
			assert.Contains(t, line, "[", "width %d: a bar when there is room", width)
		}
	}
}

func TestProgressInterruptShowsTheTrueCount(t *testing.T) {
	p, b, _ := fakeProgress(100000, true, 120)
	for range 3420 {
		p.add(outcome{status: stImported}, false)
	}
	p.finish() // the run was interrupted here
	out := b.String()
	assert.Contains(t, out, "  3% ")
	assert.Contains(t, out, "3420/100000 rows")
	assert.NotContains(t, out, "100%")
	assert.True(t, strings.HasSuffix(out, "\n"))
}

func TestProgressResumeETA(t *testing.T) {
	// A resumed run: 900 rows settled by the earlier run at once, then
	// one row a second. The ETA is the 90 rows left at one a second.
	p, _, clock := fakeProgress(1000, false, 80)
	for range 900 {
		p.add(outcome{status: stImported}, true)
	}
	for range 10 {
		*clock = clock.Add(time.Second)
		p.add(outcome{status: stImported}, false)
		p.rate(*clock)
	}
	line := p.logLine(*clock)
	assert.Contains(t, line, "progress: 910/1000 rows (rejected 0, 900 settled earlier), 1.0 rows/s, ETA 1m30s", line)

	// After a minute the rate is the recent one: the pace doubled.
	for range 60 {
		*clock = clock.Add(500 * time.Millisecond)
		if p.done < p.total {
			p.add(outcome{status: stImported}, false)
		}
		p.rate(*clock)
	}
	line = p.logLine(*clock)
	assert.Contains(t, line, "2.0 rows/s", line)
	assert.Contains(t, line, "ETA 15s", line)
}

func TestProgressSaysWhatItWaitsFor(t *testing.T) {
	p, b, clock := fakeProgress(200, false, 80)
	p.add(outcome{status: stImported}, false)
	since := clock.Add(-time.Second)
	p.setWait(b24.Wait{Reason: b24.WaitOperatingLimit, Method: "crm.item.batchImport", Since: since, Until: clock.Add(14 * time.Second)})
	p.tick()
	assert.NotContains(t, b.String(), "b24import: waiting", "a short wait is no news")
	assert.Contains(t, b.String(), "; waiting 1s: crm.item.batchImport window, 14s left")

	*clock = clock.Add(3 * time.Second)
	p.tick()
	p.tick()
	lines := strings.Split(b.String(), "\n")
	var said []string
	for _, l := range lines {
		if strings.HasPrefix(l, "b24import: waiting") {
			said = append(said, l)
		}
	}
	require.Len(t, said, 1, "said once per wait:\n%s", b.String())
	assert.Equal(t, "b24import: waiting 4s for crm.item.batchImport's operating-time window (the portal allows each method a budget of server time per 10 minutes); it frees up at 10:00:14", said[0])

	p.setWait(b24.Wait{Reason: b24.WaitUnreachable, Method: "crm.item.batchImport", Since: clock.Add(-5 * time.Second), Until: clock.Add(3 * time.Second),
		Attempt: 3, MaxAttempts: 8, Cause: "connection refused"})
	p.tick()
	assert.Contains(t, b.String(), "b24import: portal unreachable (connection refused): attempt 3 of 8 failed; the next in 3s\n")
}

func TestFormatDuration(t *testing.T) {
	assert.Equal(t, "45s", formatDuration(45*time.Second))
	assert.Equal(t, "7m31s", formatDuration(7*time.Minute+31*time.Second))
	assert.Equal(t, "2h05m", formatDuration(2*time.Hour+5*time.Minute))
}
