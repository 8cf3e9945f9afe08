package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// report writes the per-row CSV report: line, status, id, key, title,
// code, description, action (created, found or updated, for imported
// rows). By default rows appear in input order (an outcome
// that arrives early waits for the rows before it, which are at most the
// calls in flight); -report-order completion writes each as it arrives.
// -report-excel writes a byte-order mark and ";" between cells, which
// Excel in locales with a decimal comma opens without an import dialog.
// Text cells that a spreadsheet would run as a formula are neutralised
// (spreadsheetCell).
type report struct {
	f          *atomicFile
	w          *csv.Writer
	path       string
	inputOrder bool

	pending map[int]*reportRow // announced rows, by line
	queue   []int              // announced lines in input order
	head    int                // queue[head:] are still to write
}

// reportRow is one row of the report, waiting for its outcome.
type reportRow struct {
	key, title string
	o          outcome
	done       bool
}

// reportOptions say how the report is written.
type reportOptions struct {
	excel      bool
	inputOrder bool
}

// createReport opens the report before anything is sent, so that a path
// that cannot be written stops the run early. It is written under a
// temporary name and renamed into place when the run ends: a previous
// report stays whole until then, and a link at path is replaced, never
// written through.
func createReport(path string, opts reportOptions) (*report, error) {
	f, err := createAtomic(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r := &report{f: f, w: csv.NewWriter(f), path: path, inputOrder: opts.inputOrder, pending: map[int]*reportRow{}}
	if opts.excel {
		if _, err := f.Write([]byte("\ufeff")); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("report: %w", err)
		}
		r.w.Comma = ';'
		r.w.UseCRLF = true
	}
	r.w.Write([]string{"line", "status", "id", "key", "title", "code", "description", "action"})
	return r, nil
}

// expect announces a row in input order, with its key and title.
func (r *report) expect(line int, key, title string) {
	if _, dup := r.pending[line]; dup {
		return
	}
	r.pending[line] = &reportRow{key: key, title: title}
	r.queue = append(r.queue, line)
}

// add records a row's outcome.
func (r *report) add(line int, o outcome) {
	p := r.pending[line]
	if p == nil {
		p = &reportRow{}
		r.pending[line] = p
		r.queue = append(r.queue, line)
	}
	p.o, p.done = o, true
	if !r.inputOrder {
		r.write(line, p)
		p.done = false // written
		delete(r.pending, line)
		return
	}
	for r.head < len(r.queue) {
		l := r.queue[r.head]
		q := r.pending[l]
		if q == nil {
			r.head++
			continue
		}
		if !q.done {
			break
		}
		r.write(l, q)
		delete(r.pending, l)
		r.head++
	}
	if r.head > 1024 && r.head*2 > len(r.queue) {
		r.queue = append(r.queue[:0], r.queue[r.head:]...)
		r.head = 0
	}
}

func (r *report) write(line int, p *reportRow) {
	id := ""
	if p.o.id > 0 {
		id = strconv.FormatInt(p.o.id, 10)
	}
	r.w.Write([]string{strconv.Itoa(line), p.o.status, id, spreadsheetCell(p.key), spreadsheetCell(p.title),
		spreadsheetCell(p.o.code), spreadsheetCell(p.o.desc), p.o.action})
}

// close writes the rows that got an outcome after a gap (rows never
// settled are left out) and closes the file.
func (r *report) close() error {
	for _, l := range r.queue[r.head:] {
		if q := r.pending[l]; q != nil && q.done {
			r.write(l, q)
		}
	}
	r.queue, r.head, r.pending = nil, 0, map[int]*reportRow{}
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

// rowKey is the row's dedup key as the report shows it: originatorId/originId
// or xmlId.
func rowKey(et b24.EntityTypeID, it *b24.Item) string {
	if it == nil {
		return ""
	}
	k, ok := dedupKey(et, it)
	switch {
	case !ok:
		return ""
	case k.XMLID != "":
		return k.XMLID
	}
	return k.OriginatorID + "/" + k.OriginID
}

// rowTitle is what names the row: its title, else the person's name.
func rowTitle(it *b24.Item) string {
	if it == nil {
		return ""
	}
	if it.Title != "" {
		return it.Title
	}
	return strings.TrimSpace(strings.Join(strings.Fields(it.Name+" "+it.LastName), " "))
}

// tally counts the outcomes of a run.
type tally struct {
	imported, rejected, unknown, notSent int
	created, found, updated              int // imported rows by action
	fromJournal                          int // rows settled by an earlier run
	start                                time.Time
	sentThisRun                          int // rows that got an outcome from the portal in this run
}

func (t *tally) add(o outcome) {
	switch o.status {
	case stImported:
		t.imported++
		switch o.action {
		case "created":
			t.created++
		case "found":
			t.found++
		case "updated":
			t.updated++
		}
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
	fmt.Fprintf(w, "imported %d", t.imported)
	if t.found > 0 || t.updated > 0 {
		fmt.Fprintf(w, " (created %d, already there %d, updated %d)", t.created, t.found, t.updated)
	}
	fmt.Fprintf(w, ", rejected %d, unknown %d, not sent %d", t.rejected, t.unknown, t.notSent)
	if t.fromJournal > 0 {
		fmt.Fprintf(w, " (%d of them settled by an earlier run)", t.fromJournal)
	}
	fmt.Fprintf(w, "; %s, %.1f items/s\n", elapsed.Round(100*time.Millisecond), rate)
}
