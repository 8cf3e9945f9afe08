package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/internal/dedup"
)

// blockSize is how many rows are marked in the journal at once before
// they go to the importer: one call's worth.
const blockSize = b24.MaxBatchImportSize

// importer runs one import of a file.
type importer struct {
	cfg      *config
	client   *b24.Client
	probe    *b24.Client // the same portal, giving up sooner: the first calls
	stdout   io.Writer
	stderr   io.Writer
	terminal bool

	info     *inputInfo
	catalog  *catalog // what the portal says; nil without credentials
	mapping  *mappingConfig
	coerce   *coercer
	encoding *textEncoding // -encoding; nil detects
	history  *historyGuard
	state    *journalState // nil without a journal or on a first run
	jrnl     *journal
	rep      *report
	prog     *progress
	keyClash map[dedup.Key]bool // folded dedup keys shared by several rows in doubt

	journalMTime time.Time // the journal's last write before this run, for waitForLastRun

	mu       sync.Mutex // guards tally, report, progress, problems and fatal
	tally    tally
	fatal    error
	problems []problem // the first rows that did not end imported
	rejected []int     // lines of the rejected rows, for -rejects
}

// maxProblems is how many rows that did not end imported are listed on
// stderr at the end; the report lists all.
const maxProblems = 20

// problem is a row that did not end imported.
type problem struct {
	line int
	o    outcome
}

// openInput opens the input file (or standard input) as a source.
func (imp *importer) openInput(decode bool) (source, *inputInfo, io.Closer, error) {
	cfg := imp.cfg
	var r io.Reader = os.Stdin
	var c io.Closer = io.NopCloser(nil)
	if cfg.file != "-" {
		f, err := os.Open(cfg.file)
		if err != nil {
			return nil, nil, nil, err
		}
		r, c = f, f
	}
	src, info, err := openSource(r, displayName(cfg.file), inputConfig{format: cfg.format, comma: cfg.comma, et: cfg.entity, decode: decode,
		encoding: imp.encoding, mapping: imp.mapping, coerce: imp.coerce, keyColumn: cfg.keys.keyColumn})
	if err == nil && decode {
		src, err = imp.withKeys(src)
	}
	if err != nil && info != nil && info.plan != nil && cfg.printMap {
		imp.info = info // -print-map shows the problems inside the map
	}
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return src, info, c, nil
}

func displayName(file string) string {
	if file == "-" {
		return "<stdin>"
	}
	return file
}

// countRows reads the input once to count its rows and check its header.
func (imp *importer) countRows() (int, error) {
	src, _, c, err := imp.openInput(false)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n := 0
	for {
		_, err := src.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
}

func (imp *importer) fail(format string, args ...any) int {
	fmt.Fprintf(imp.stderr, "b24import: "+format+"\n", args...)
	return exitFatal
}

// run imports the file and returns the exit code.
func (imp *importer) run(ctx context.Context) int {
	cfg := imp.cfg
	start := time.Now()
	total := -1
	if code := imp.prepare(ctx); code != exitOK {
		return code
	}
	if cfg.printMap {
		return imp.printMapping()
	}
	var fp fingerprint
	if cfg.file != "-" {
		var err error
		if fp, err = hashFile(cfg.file); err != nil {
			return imp.fail("%v", err)
		}
		if total, err = imp.countRows(); err != nil {
			return imp.headerFailure(err)
		}
	}
	src, info, closer, err := imp.openInput(true)
	if err != nil {
		return imp.headerFailure(err)
	}
	defer closer.Close()
	imp.info = info
	if code := imp.afterHeader(ctx, info); code != exitOK {
		return code
	}
	imp.history = &historyGuard{}
	if imp.catalog != nil {
		imp.history.newest = imp.catalog.newest
	}
	info.originalUF = info.originalUF || cfg.originalUF
	printWarnings(imp.stderr, displayName(cfg.file), info.warnings)
	if total == 0 {
		fmt.Fprintf(imp.stderr, "b24import: warning: %s has no data rows\n", displayName(cfg.file))
	}
	// Check everything that can refuse the run before writing anything.
	useJournal := cfg.journalPath != "" && !cfg.dryRun
	if useJournal {
		release, err := lockJournal(cfg.journalPath)
		if err != nil {
			return imp.fail("%v", err)
		}
		defer release()
		if code := imp.checkJournal(fp); code != exitOK {
			return code
		}
	}
	if cfg.reportPath != "" {
		if imp.rep, err = createReport(cfg.reportPath, reportOptions{excel: cfg.reportExcel, inputOrder: cfg.reportOrder != "completion"}); err != nil {
			return imp.fail("%v", err)
		}
	}
	if cfg.dryRun {
		return imp.dryRun(src, total, start)
	}
	if useJournal {
		if fi, err := os.Stat(cfg.journalPath); err == nil {
			imp.journalMTime = fi.ModTime()
		}
		h := journalHeader{Journal: journalVersion, Input: cfg.file, fingerprint: fp, Entity: int(cfg.entity)}
		if imp.jrnl, err = openJournal(cfg.journalPath, imp.state, h); err != nil {
			return imp.fail("%v", err)
		}
		defer imp.jrnl.close()
		if err := imp.resolveInFlight(ctx); err != nil {
			if ctx.Err() != nil {
				return imp.fail("interrupted while checking the rows of the last run; nothing was sent")
			}
			return imp.fail("checking the rows the last run left in flight: %v", err)
		}
	}
	imp.warnAboutKeys()
	imp.tally.start = start
	bar := imp.stderr
	if t, ok := bar.(termSafe); ok && imp.terminal {
		bar = t.w // the bar draws with control characters of its own
	}
	imp.prog = newProgress(bar, imp.terminal, cfg.quiet, total, cfg.progressTick)
	imp.importRows(ctx, src)
	imp.prog.finish()
	return imp.finish(ctx, total, time.Since(start))
}

// checkJournal reads an existing journal and checks that it belongs to
// this input and entity type.
func (imp *importer) checkJournal(fp fingerprint) int {
	cfg := imp.cfg
	st, err := readJournal(cfg.journalPath)
	if err != nil {
		return imp.fail("%v", err)
	}
	if st != nil {
		switch {
		case st.header.fingerprint != fp:
			return imp.fail("%s: the journal was written for a different input (%s, %d bytes); this file (%s, %d bytes) differs, so it cannot be resumed: use a new -journal file",
				cfg.journalPath, st.header.Input, st.header.Size, cfg.file, fp.Size)
		case st.header.Entity != int(cfg.entity):
			return imp.fail("%s: the journal was written for %s, not %s: use the same -entity or a new -journal file",
				cfg.journalPath, b24.EntityTypeID(st.header.Entity), cfg.entity)
		}
		fmt.Fprintf(imp.stderr, "b24import: resuming from %s: %d rows recorded, %d in flight when it stopped\n", cfg.journalPath, len(st.results), len(st.inFlight))
	}
	imp.state = st
	return exitOK
}

// settle records a row's final outcome for this run.
func (imp *importer) settle(line int, o outcome, fromJournal bool) {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if !fromJournal && imp.jrnl != nil {
		if err := imp.jrnl.record(line, o); err != nil && imp.fatal == nil {
			imp.fatal = err
		}
	}
	if fromJournal {
		imp.tally.fromJournal++
	}
	imp.tally.add(o)
	if o.status == stRejected && imp.cfg.keys.rejects != "" {
		imp.rejected = append(imp.rejected, line)
	}
	if o.status != stImported && len(imp.problems) < maxProblems {
		imp.problems = append(imp.problems, problem{line, o})
	}
	if imp.rep != nil {
		imp.rep.add(line, o)
	}
	if imp.prog != nil {
		imp.prog.add(o, fromJournal)
	}
}

func (imp *importer) setFatal(err error) {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if imp.fatal == nil {
		imp.fatal = err
	}
}

func (imp *importer) fatalErr() error {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	return imp.fatal
}

// decide settles the rows that are not to be sent (settled by an earlier
// run, unreadable, or in doubt without a dedup key) and reports whether
// rw goes to the importer.
func (imp *importer) decide(rw row) bool {
	if imp.rep != nil {
		imp.mu.Lock()
		imp.rep.expect(rw.line, rowKey(imp.cfg.entity, &rw.item), rowTitle(&rw.item))
		imp.mu.Unlock()
	}
	st := imp.state
	if st != nil {
		if o, ok := st.results[rw.line]; ok && (o.status == stImported || o.status == stRejected) && !st.inFlight[rw.line] {
			imp.settle(rw.line, o, true)
			return false
		}
	}
	if rw.err == nil {
		rw.err = imp.history.againstPortal(&rw.item)
	}
	if rw.err != nil {
		imp.settle(rw.line, outcome{status: stRejected, code: rw.err.code, desc: rw.err.desc}, false)
		return false
	}
	if st == nil {
		return true
	}
	if !st.ambiguous(rw.line) {
		return true // never sent, or recorded as not sent
	}
	// In doubt: resolveInFlight looked the keyed rows up and recorded the
	// ones it found as imported, so a keyed row here is known to be absent.
	key, ok := dedupKey(imp.cfg.entity, &rw.item)
	if ok && !imp.keyClash[key.Fold()] || imp.cfg.retryUnknown {
		return true
	}
	o := st.results[rw.line]
	if o.status != stUnknown {
		o = outcome{status: stUnknown, code: codeInFlight}
	}
	o.desc = "sent by an earlier run that stopped before the answer; without a dedup key (originatorId+originId or xmlId) it cannot be checked; -retry-unknown resends it at the risk of a duplicate"
	imp.settle(rw.line, o, false)
	return false
}

// lineMap maps the importer's item index to the input line.
type lineMap struct {
	mu sync.Mutex
	m  map[int]int
}

func (l *lineMap) put(i, line int) {
	l.mu.Lock()
	l.m[i] = line
	l.mu.Unlock()
}

// lines returns the input lines of the items at indexes.
func (l *lineMap) lines(indexes []int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int, len(indexes))
	for k, i := range indexes {
		out[k] = l.m[i]
	}
	return out
}

func (l *lineMap) take(i int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := l.m[i]
	delete(l.m, i)
	return line
}

// rowsToSend yields the items of the rows to send, a block at a time: the
// block's lines are written to the journal (and synced) before any of its
// rows is handed over, so a crash can never hide a sent row.
func (imp *importer) rowsToSend(ctx context.Context, src source, lines *lineMap) iter.Seq[b24.Item] {
	return func(yield func(b24.Item) bool) {
		index := 0
		size := imp.sendBlock()
		block := make([]row, 0, size)
		marks := make([]int, 0, size)
		for ctx.Err() == nil && imp.fatalErr() == nil {
			block, marks = block[:0], marks[:0]
			eof := false
			for len(block) < size {
				rw, err := src.next()
				if errors.Is(err, io.EOF) {
					eof = true
					break
				}
				if err != nil {
					imp.setFatal(err)
					eof = true
					break
				}
				if imp.decide(rw) {
					block = append(block, rw)
				}
			}
			var err error
			if block, err = imp.skipExisting(ctx, block); err != nil {
				if ctx.Err() == nil {
					imp.setFatal(fmt.Errorf("looking up rows the journal does not list: %w", err))
				}
				return
			}
			for _, rw := range block {
				marks = append(marks, rw.line)
			}
			if len(block) > 0 && imp.jrnl != nil {
				if err := imp.jrnl.markSent(marks); err != nil {
					imp.setFatal(err)
					return
				}
			}
			for i, rw := range block {
				lines.put(index, rw.line)
				if !yield(rw.item) {
					// The importer stopped reading: this row and the rest
					// of the block were never taken, so never sent.
					lines.take(index)
					for _, left := range block[i:] {
						imp.settle(left.line, outcome{status: stNotSent, desc: "not sent: the import stopped"}, false)
					}
					return
				}
				index++
			}
			if eof {
				return
			}
		}
	}
}

// importRows streams the rows through ImportSeq and settles each result.
func (imp *importer) importRows(ctx context.Context, src source) {
	cfg := imp.cfg
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := &lineMap{m: map[int]int{}}
	// The engine reports each finished call before its results arrive;
	// the journal is synced once a call's results are all recorded.
	var bmu sync.Mutex
	var boundaries []int
	existing, _ := cfg.keys.existingMode() // checked with the flags
	opts := []b24.ImportOption{
		b24.WithExisting(existing),
		b24.WithConcurrency(cfg.concurrency),
		b24.WithProgress(func(p b24.Progress) {
			if imp.prog != nil {
				imp.prog.setWait(p.Wait)
			}
			bmu.Lock()
			if n := len(boundaries); n == 0 || boundaries[n-1] != p.Done {
				boundaries = append(boundaries, p.Done)
			}
			bmu.Unlock()
		}),
	}
	if imp.jrnl != nil {
		// The journal learns when each request really goes out, so that a
		// resume waits for the portal from that moment (waitForLastRun).
		opts = append(opts, b24.WithOnSend(func(rows []int) error {
			return imp.jrnl.markWent(lines.lines(rows), time.Now())
		}))
	}
	if imp.info.originalUF {
		opts = append(opts, b24.WithOriginalUFNames())
	}
	if cfg.packing > 0 {
		opts = append(opts, b24.WithPacking(cfg.packing))
	}
	handled := 0
	for r := range imp.client.CRMItem.ImportSeq(ictx, cfg.entity, imp.rowsToSend(ictx, src, lines), opts...) {
		if r.Index < 0 {
			imp.setFatal(r.Err)
			continue
		}
		o := outcomeOf(r)
		if r.Status == b24.ItemNotSent && errors.Is(r.Err, b24.ErrImportStopped) {
			imp.setFatal(r.Err)
			cancel()
		}
		imp.mu.Lock()
		imp.tally.sentThisRun++
		imp.mu.Unlock()
		imp.settle(lines.take(r.Index), o, false)
		handled++
		bmu.Lock()
		flush := false
		for len(boundaries) > 0 && boundaries[0] <= handled {
			boundaries = boundaries[1:]
			flush = true
		}
		bmu.Unlock()
		if flush && imp.jrnl != nil {
			if err := imp.jrnl.flush(); err != nil {
				imp.setFatal(err)
				cancel()
			}
		}
	}
}

// outcomeOf turns an import result into a journal and report outcome.
func outcomeOf(r b24.ItemResult) outcome {
	o := outcome{status: statusName(r.Status), id: r.ID, action: actionName(r.Action)}
	if r.Err == nil {
		return o
	}
	var ie *b24.ItemError
	var ae *b24.APIError
	switch {
	case errors.As(r.Err, &ie):
		o.code, o.desc = ie.Code, ie.Description
	case errors.As(r.Err, &ae):
		o.code, o.desc = ae.Code, trimB24(r.Err.Error())
	default:
		o.desc = trimB24(r.Err.Error())
	}
	return o
}

// dedupKey returns the row's dedup key for the entity type, by the
// library's rule: originatorId+originId for leads, deals, contacts and
// companies, xmlId for smart invoices and smart processes, none for quotes.
func dedupKey(et b24.EntityTypeID, it *b24.Item) (dedup.Key, bool) {
	return dedup.KeyOf(int(et), it.OriginatorID, it.OriginID, it.XMLID)
}
