package main

import (
	"context"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// sampleDeals is the demo's input: 300 deals as exported from another CRM
// (Russian, German and English companies; amounts and dates in the
// formats such exports use). Rows whose comments start with
// demoInvalidMark are invalid on purpose.
//
//go:embed testdata/sample-deals.csv
var sampleDeals []byte

const demoInvalidMark = "invalid on purpose"

// The demo portal: the cloud's request rate (2/s) with a burst cut from 50
// to 5, so that pacing shows in a short run, and latency like a small
// portal's (50 ms a call plus 5 ms an item).
const (
	demoRate    = 2
	demoBurst   = 5
	demoBase    = 50 * time.Millisecond
	demoPerItem = 5 * time.Millisecond
	demoJitter  = 30 * time.Millisecond
)

// runDemo imports the bundled sample into an embedded fake portal and
// checks that every row ended as the sample intends.
func runDemo(ctx context.Context, cfg *config, logger *slog.Logger, stdout, stderr io.Writer) int {
	dir, err := os.MkdirTemp("", "b24import-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "b24import: demo:", err)
		return exitFatal
	}
	input := filepath.Join(dir, "sample-deals.csv")
	if err := os.WriteFile(input, sampleDeals, 0o644); err != nil {
		fmt.Fprintln(stderr, "b24import: demo:", err)
		return exitFatal
	}
	intended, err := intendedRejects(sampleDeals)
	if err != nil {
		fmt.Fprintln(stderr, "b24import: demo: bundled sample:", err)
		return exitFatal
	}
	srv := b24test.NewServer(
		b24test.WithRateLimit(demoRate, demoBurst),
		b24test.WithOperatingLimit(8*time.Second, 10*time.Second), // the cloud's 480 s / 10 min, scaled
		b24test.WithLatency(demoBase, demoPerItem, demoJitter),
	)
	defer srv.Close()

	dc := *cfg
	dc.file, dc.entity = input, b24.EntityDeal
	dc.reportPath = filepath.Join(dir, "report.csv")
	dc.journalPath = filepath.Join(dir, "journal.jsonl")
	dc.webhookURL, dc.oauthEndpoint = srv.WebhookURL(), ""
	dc.allowHTTP = true
	if dc.progressTick == 5*time.Second {
		dc.progressTick = time.Second // the demo is short
	}
	dc.rate, dc.burst = demoRate, demoBurst
	client, probe, err := newClients(&dc, logger, 8*time.Second, 10*time.Second, srv.ClientOptions()...)
	if err != nil {
		fmt.Fprintln(stderr, "b24import: demo:", err)
		return exitFatal
	}
	rows := strings.Count(string(sampleDeals), "\n") - 1
	fmt.Fprintf(stdout, "demo: importing %d deals from a bundled CSV into an embedded fake Bitrix24 portal\n", rows)
	fmt.Fprintf(stdout, "demo: the portal allows %d requests/s (burst %d) and takes ~%v per 20-row call; %d rows are invalid on purpose\n",
		demoRate, demoBurst, demoBase+20*demoPerItem, len(intended))
	imp := &importer{cfg: &dc, client: client, probe: probe, stdout: stdout, stderr: stderr, terminal: isStderrTerminal(stderr)}
	code := imp.run(ctx)
	if code == exitFatal || code == exitInterrupted {
		return code
	}
	return checkDemo(stdout, dc.reportPath, intended, rows, srv.ItemCount(b24.EntityDeal))
}

// intendedRejects returns the lines of the sample marked invalid on purpose.
func intendedRejects(sample []byte) (map[int]string, error) {
	r := csv.NewReader(strings.NewReader(string(sample)))
	header, err := r.Read()
	if err != nil {
		return nil, err
	}
	col := slices.Index(header, "comments")
	if col < 0 {
		return nil, fmt.Errorf("no comments column")
	}
	out := map[int]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if c := rec[col]; strings.HasPrefix(c, demoInvalidMark) {
			line, _ := r.FieldPos(0)
			out[line] = c
		}
	}
}

// checkDemo compares the report with the sample's intent.
func checkDemo(w io.Writer, reportPath string, intended map[int]string, rows, stored int) int {
	f, err := os.Open(reportPath)
	if err != nil {
		fmt.Fprintln(w, "demo: cannot read the report:", err)
		return exitIncomplete
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		fmt.Fprintln(w, "demo: cannot read the report:", err)
		return exitIncomplete
	}
	var problems []string
	type rej struct {
		line int
		text string
	}
	var rejected []rej
	imported := 0
	for _, rec := range recs[1:] {
		line, _ := strconv.Atoi(rec[0])
		status := rec[1]
		_, bad := intended[line]
		switch {
		case status == stImported && !bad:
			imported++
		case status == stRejected && bad:
			rejected = append(rejected, rej{line, fmt.Sprintf("  line %3d  %-24s %s", line, rec[5], rec[6])})
		default:
			problems = append(problems, fmt.Sprintf("line %d ended %s (%s %s)", line, status, rec[5], rec[6]))
		}
	}
	want := rows - len(intended)
	if imported != want || len(rejected) != len(intended) || stored != want {
		problems = append(problems, fmt.Sprintf("%d of %d valid rows imported, %d stored in the portal, %d of %d invalid rows rejected",
			imported, want, stored, len(rejected), len(intended)))
	}
	slices.SortFunc(rejected, func(a, b rej) int { return a.line - b.line })
	fmt.Fprintln(w, "demo: rejected rows, as intended (a real run would fix them and import them again):")
	for _, r := range rejected {
		fmt.Fprintln(w, r.text)
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "demo: UNEXPECTED: %s\n", strings.Join(problems, "; "))
		return exitIncomplete
	}
	fmt.Fprintf(w, "demo: OK: all %d valid deals imported (the portal holds exactly %d), the %d invalid rows rejected with their line numbers\n",
		want, stored, len(intended))
	return exitOK
}
