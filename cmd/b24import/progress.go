package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/b24kit/b24"
	"golang.org/x/term"
)

// progress shows how far the import is: one line redrawn in place on a
// terminal (fitted to its width), a log line every few seconds otherwise,
// nothing with -q. Counts are rows settled in this run; rows settled by an
// earlier run (resume) count as done but not in the rate, so the ETA is
// the rows still to send over the rate of the last 30 seconds.
type progress struct {
	mu       sync.Mutex
	total    int // rows to settle in this run; -1 when unknown
	done     int
	skipped  int // settled from the journal
	rejected int
	unknown  int
	start    time.Time
	samples  []rateSample
	wait     b24.Wait
	waitSaid time.Time // Since of the wait last announced with a line
	final    bool      // the run is over: no ETA

	w        io.Writer
	terminal bool
	width    func() int
	quiet    bool
	stop     chan struct{}
	wg       sync.WaitGroup
	now      func() time.Time
}

// rateSample is the rows sent at a moment.
type rateSample struct {
	at   time.Time
	sent int
}

// rateWindow is the span the rate (and so the ETA) is measured over.
const rateWindow = 30 * time.Second

// waitLineAfter is how long a wait lasts before a line says what for.
const waitLineAfter = 3 * time.Second

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// terminalWidth is stderr's width in columns: the terminal's, else
// $COLUMNS, else 80.
func terminalWidth() int {
	if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && w > 0 {
		return w
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// newProgress starts showing progress on w; total -1 means unknown. every
// is the period of the log lines used when w is not a terminal.
func newProgress(w io.Writer, terminal, quiet bool, total int, every time.Duration) *progress {
	p := &progress{total: total, start: time.Now(), w: w, terminal: terminal, quiet: quiet,
		width: terminalWidth, stop: make(chan struct{}), now: time.Now}
	if quiet {
		return p
	}
	period := every
	if terminal {
		period = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go p.loop(period)
	return p
}

// add counts one settled row; fromJournal rows were settled by an earlier run.
func (p *progress) add(o outcome, fromJournal bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if fromJournal {
		p.skipped++
	}
	switch o.status {
	case stRejected:
		p.rejected++
	case stUnknown:
		p.unknown++
	}
}

// setWait records what the import waits for (from b24.Progress.Wait).
func (p *progress) setWait(w b24.Wait) {
	p.mu.Lock()
	p.wait = w
	p.mu.Unlock()
}

func (p *progress) loop(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.tick()
			p.mu.Unlock()
		}
	}
}

// tick draws the line (or logs it) and announces a long wait; p.mu held.
func (p *progress) tick() {
	now := p.now()
	// Pacing by the rate limit is the normal state of a long import: it
	// shows on the progress line, but gets no line of its own.
	if w := p.wait; w.Reason != b24.WaitNone && w.Reason != b24.WaitRateLimit && now.Sub(w.Since) >= waitLineAfter && !w.Since.Equal(p.waitSaid) {
		p.waitSaid = w.Since
		if p.terminal {
			fmt.Fprint(p.w, "\r\x1b[K")
		}
		fmt.Fprintf(p.w, "b24import: %s\n", describeWait(w, now, true))
	}
	if p.terminal {
		fmt.Fprint(p.w, "\r"+p.barLine(now, p.width())+"\x1b[K")
		return
	}
	fmt.Fprintln(p.w, p.logLine(now))
}

// rate is rows sent per second over the last rateWindow (since the start
// while shorter).
func (p *progress) rate(now time.Time) float64 {
	sent := p.done - p.skipped
	if n := len(p.samples); n == 0 || p.samples[n-1].sent != sent {
		p.samples = append(p.samples, rateSample{at: now, sent: sent})
	}
	cut := 0
	for cut < len(p.samples)-2 && now.Sub(p.samples[cut].at) > rateWindow {
		cut++
	}
	p.samples = p.samples[cut:]
	first := rateSample{at: p.start}
	if now.Sub(p.start) > rateWindow && len(p.samples) >= 2 {
		first = p.samples[0]
	}
	if d := now.Sub(first.at).Seconds(); d > 0 {
		return float64(sent-first.sent) / d
	}
	return 0
}

// eta is the time left: the rows still to send over the recent rate.
func (p *progress) eta(rate float64) (time.Duration, bool) {
	if p.total < 0 || rate <= 0 || p.done >= p.total {
		return 0, false
	}
	return time.Duration(float64(p.total-p.done) / rate * float64(time.Second)), true
}

func (p *progress) counts() string {
	s := fmt.Sprintf("rejected %d", p.rejected)
	if p.unknown > 0 {
		s += fmt.Sprintf(", unknown %d", p.unknown)
	}
	return s
}

// logLine is one progress line for a log.
func (p *progress) logLine(now time.Time) string {
	rate := p.rate(now)
	s := fmt.Sprintf("progress: %d", p.done)
	if p.total >= 0 {
		s += fmt.Sprintf("/%d", p.total)
	}
	s += fmt.Sprintf(" rows (%s", p.counts())
	if p.skipped > 0 {
		s += fmt.Sprintf(", %d settled earlier", p.skipped)
	}
	s += fmt.Sprintf("), %s rows/s", formatRate(rate))
	if eta, ok := p.eta(rate); ok && !p.final {
		s += ", ETA " + formatDuration(eta)
	}
	if p.wait.Reason != b24.WaitNone {
		s += "; " + describeWait(p.wait, now, false)
	}
	return s
}

// barLine is the terminal line, at most width columns: the segments that
// fit, in order of importance, and a bar in the space left.
func (p *progress) barLine(now time.Time, width int) string {
	rate := p.rate(now)
	width = max(width-1, 20) // never the last column: some terminals wrap there
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf("%3d%%", p.done*100/p.total)
	}
	count := strconv.Itoa(p.done)
	if p.total >= 0 {
		count += "/" + strconv.Itoa(p.total)
	}
	// What the run waits for comes before the ETA, except plain pacing by
	// the rate limit, which is the normal state of a long import.
	segs := []string{count + " rows"}
	waiting := p.wait.Reason != b24.WaitNone
	if waiting && p.wait.Reason != b24.WaitRateLimit {
		segs = append(segs, describeWait(p.wait, now, false))
	}
	if eta, ok := p.eta(rate); ok && !p.final {
		segs = append(segs, "ETA "+formatDuration(eta))
	}
	if waiting && p.wait.Reason == b24.WaitRateLimit {
		segs = append(segs, describeWait(p.wait, now, false))
	}
	segs = append(segs, formatRate(rate)+"/s")
	if p.rejected > 0 || p.unknown > 0 {
		segs = append(segs, p.counts())
	}
	// Drop the least telling segments until the text fits; the bar takes
	// what room is left.
	const minBar = 10
	text := ""
	for len(segs) > 0 {
		text = strings.Join(segs, " · ")
		if utf8.RuneCountInString(text)+utf8.RuneCountInString(pct)+1 <= width || len(segs) == 1 {
			break
		}
		segs = segs[:len(segs)-1]
	}
	line := text
	if pct != "" {
		line = pct + " " + text
	}
	if p.total > 0 {
		barW := min(30, width-utf8.RuneCountInString(line)-3)
		if barW >= minBar {
			filled := min(barW, p.done*barW/p.total)
			line = "[" + strings.Repeat("█", filled) + strings.Repeat("░", barW-filled) + "] " + line
		}
	}
	if utf8.RuneCountInString(line) > width {
		r := []rune(line)
		line = string(r[:width-1]) + "…"
	}
	return line
}

// describeWait says what the import waits for; long is the wording of a
// line of its own.
func describeWait(w b24.Wait, now time.Time, long bool) string {
	waited := formatDuration(now.Sub(w.Since).Truncate(time.Second))
	left := ""
	if !w.Until.IsZero() && w.Until.After(now) {
		left = ", " + formatDuration(w.Until.Sub(now).Round(time.Second)) + " left"
	}
	switch w.Reason {
	case b24.WaitOperatingLimit:
		if long {
			s := fmt.Sprintf("waiting %s for %s's operating-time window (the portal allows each method a budget of server time per 10 minutes)", waited, w.Method)
			if !w.Until.IsZero() {
				s += fmt.Sprintf("; it frees up at %s", w.Until.Format("15:04:05"))
			}
			return s
		}
		return "waiting " + waited + ": " + w.Method + " window" + left
	case b24.WaitUnreachable:
		if long {
			return fmt.Sprintf("portal unreachable (%s): attempt %d of %d failed; %s", w.Cause, w.Attempt, w.MaxAttempts, nextAttempt(w, now))
		}
		return fmt.Sprintf("unreachable (%s), retry %d/%d", w.Cause, w.Attempt+1, w.MaxAttempts)
	case b24.WaitRetry:
		if long {
			return fmt.Sprintf("the portal refused %s (%s): attempt %d of %d; %s", w.Method, w.Cause, w.Attempt, w.MaxAttempts, nextAttempt(w, now))
		}
		return fmt.Sprintf("refused (%s), retry %d/%d", w.Cause, w.Attempt+1, w.MaxAttempts)
	case b24.WaitRateLimit:
		if long {
			return fmt.Sprintf("waiting %s for the request-rate limit (-rate, -burst)", waited)
		}
		return "waiting " + waited + ": rate limit"
	}
	return "waiting " + waited
}

// nextAttempt says when a retry goes out.
func nextAttempt(w b24.Wait, now time.Time) string {
	if left := w.Until.Sub(now).Round(time.Second); left >= time.Second {
		return "the next in " + formatDuration(left)
	}
	return "retrying now"
}

func formatRate(r float64) string {
	if r >= 100 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// formatDuration writes d as 45s, 7m31s, 2h05m.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// finish stops the display and writes the final state: the rows actually
// settled, so an interrupted run never shows 100%.
func (p *progress) finish() {
	if !p.quiet {
		close(p.stop)
		p.wg.Wait()
	}
	if p.quiet || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait, p.final = b24.Wait{}, true
	now := p.now()
	if p.terminal {
		fmt.Fprint(p.w, "\r"+p.barLine(now, p.width())+"\x1b[K\n")
		return
	}
	fmt.Fprintln(p.w, p.logLine(now))
}
