package main

import (
	"context"
	"fmt"
	"time"
)

// countdown waits d, cancellably, showing the time left: redrawn every
// second on a terminal, a line every 10 seconds otherwise (nothing with -q).
func (imp *importer) countdown(ctx context.Context, d time.Duration, what string) error {
	end := time.Now().Add(d)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	timer := time.NewTimer(d)
	defer timer.Stop()
	lastLine := time.Now()
	show := func(final bool) {
		if imp.cfg.quiet {
			return
		}
		left := max(0, time.Until(end)).Round(time.Second)
		switch {
		case imp.terminal && final:
			fmt.Fprint(imp.stderr, "\r\x1b[K")
		case imp.terminal:
			line := fitWidth(fmt.Sprintf("b24import: %s: %s left (Ctrl-C stops; the journal stays as it is)", what, formatDuration(left)), terminalWidth())
			fmt.Fprint(imp.stderr, "\r"+line+"\x1b[K")
		case !final && time.Since(lastLine) >= 10*time.Second:
			lastLine = time.Now()
			fmt.Fprintf(imp.stderr, "b24import: %s: %s left\n", what, formatDuration(left))
		}
	}
	show(false)
	for {
		select {
		case <-ctx.Done():
			show(true)
			return ctx.Err()
		case <-timer.C:
			show(true)
			return nil
		case <-tick.C:
			show(false)
		}
	}
}

// fitWidth cuts s to fit a line of width columns (less the last, where
// some terminals wrap).
func fitWidth(s string, width int) string {
	r := []rune(s)
	if width < 2 || len(r) < width {
		return s
	}
	return string(r[:width-2]) + "…"
}
