package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// report writes the per-row CSV report: line, status, id, code,
// description. Rows appear in the order their outcome became known; rows
// settled by an earlier run (from the journal) come first.
type report struct {
	f    *atomicFile
	w    *csv.Writer
	path string
}

// createReport opens the report before anything is sent, so that a path
// that cannot be written stops the run early. It is written under a
// temporary name and renamed into place when the run ends: a previous
// report stays whole until then, and a link at path is replaced, never
// written through.
func createReport(path string) (*report, error) {
	f, err := createAtomic(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r := &report{f: f, w: csv.NewWriter(f), path: path}
	r.w.Write([]string{"line", "status", "id", "code", "description"})
	return r, nil
}

func (r *report) add(line int, o outcome) {
	id := ""
	if o.id > 0 {
		id = strconv.FormatInt(o.id, 10)
	}
	r.w.Write([]string{strconv.Itoa(line), o.status, id, spreadsheetCell(o.code), spreadsheetCell(o.desc)})
}

func (r *report) close() error {
	r.w.Flush()
	err := r.w.Error()
	if cerr := r.f.commit(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report %s: %w", r.path, err)
	}
	return nil
}

// tally counts the outcomes of a run.
type tally struct {
	imported, rejected, unknown, notSent int
	fromJournal                          int // rows settled by an earlier run
	start                                time.Time
	sentThisRun                          int // rows that got an outcome from the portal in this run
}

func (t *tally) add(o outcome) {
	switch o.status {
	case stImported:
		t.imported++
	case stRejected:
		t.rejected++
	case stUnknown:
		t.unknown++
	default:
		t.notSent++
	}
}

func (t *tally) done() int { return t.imported + t.rejected + t.unknown + t.notSent }

// allImported reports whether every row ended imported.
func (t *tally) allImported() bool { return t.rejected == 0 && t.unknown == 0 && t.notSent == 0 }

// printSummary writes the closing summary.
func (t *tally) printSummary(w io.Writer, elapsed time.Duration) {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(t.sentThisRun) / s
	}
	fmt.Fprintf(w, "imported %d, rejected %d, unknown %d, not sent %d", t.imported, t.rejected, t.unknown, t.notSent)
	if t.fromJournal > 0 {
		fmt.Fprintf(w, " (%d of them settled by an earlier run)", t.fromJournal)
	}
	fmt.Fprintf(w, "; %s, %.1f items/s\n", elapsed.Round(100*time.Millisecond), rate)
}
