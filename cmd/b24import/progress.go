package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how far the import is: a bar on a terminal, a log line
// every few seconds otherwise, nothing with -q.
type progress struct {
	mu       sync.Mutex
	total    int // rows to settle in this run; -1 when unknown
	done     int
	rejected int
	unknown  int
	start    time.Time

	bar   *progressbar.ProgressBar
	w     io.Writer
	quiet bool
	stop  chan struct{}
	wg    sync.WaitGroup
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newProgress starts showing progress on w; total -1 means unknown. every
// is the period of the log lines used when w is not a terminal.
func newProgress(w io.Writer, terminal, quiet bool, total int, every time.Duration) *progress {
	p := &progress{total: total, start: time.Now(), w: w, quiet: quiet, stop: make(chan struct{})}
	switch {
	case quiet:
	case terminal:
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("rejected 0"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)
	default:
		p.wg.Add(1)
		go p.logLoop(every)
	}
	return p
}

// add counts one settled row.
func (p *progress) add(o outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	switch o.status {
	case stRejected:
		p.rejected++
	case stUnknown:
		p.unknown++
	}
	if p.bar != nil {
		p.bar.Add(1)
		if o.status == stRejected || o.status == stUnknown {
			p.bar.Describe(p.describe())
		}
	}
}

func (p *progress) describe() string {
	s := fmt.Sprintf("rejected %d", p.rejected)
	if p.unknown > 0 {
		s += fmt.Sprintf(", unknown %d", p.unknown)
	}
	return s
}

func (p *progress) logLoop(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			fmt.Fprintln(p.w, p.line())
			p.mu.Unlock()
		}
	}
}

// line is the text of one progress log line.
func (p *progress) line() string {
	elapsed := time.Since(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.done) / s
	}
	s := fmt.Sprintf("progress: %d", p.done)
	if p.total >= 0 {
		s += fmt.Sprintf("/%d", p.total)
	}
	s += fmt.Sprintf(" rows (%s), %.1f rows/s", p.describe(), rate)
	if p.total > p.done && rate > 0 {
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// finish stops the display and ends the bar's line.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	if p.bar == nil && p.w != nil && !p.quiet {
		fmt.Fprintln(p.w, p.line()) // the final count, however short the run
	}
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
