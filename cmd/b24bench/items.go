package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/b24kit/b24"
)

// rerunRequestsPer1000 is the design's bound on an idempotent re-run of
// keyed rows.
const rerunRequestsPer1000 = 1.0

// latencyEnv gives the child portal a latency per call (batch commands
// included): "base,jitter", e.g. "60ms,40ms".
const latencyEnv = "B24BENCH_LATENCY"

// countingTransport counts the HTTP requests a client sends.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// countedPortal is childPortal with a request counter and, when latency is
// not empty, a latency per call on the portal.
func countedPortal(ctx context.Context, latency string) (*b24.Client, *countingTransport, func(), error) {
	if latency != "" {
		os.Setenv(latencyEnv, latency)
		defer os.Unsetenv(latencyEnv)
	}
	tr := &countingTransport{base: http.DefaultTransport}
	client, stop, err := childPortal(ctx, b24.WithHTTPClient(&http.Client{Transport: tr}))
	return client, tr, stop, err
}

// runRerun imports keyed rows, then imports the same rows again with the
// default (ExistingSkip): the second run must create nothing and cost at
// most one request per 1,000 rows.
func runRerun(ctx context.Context, out io.Writer, s settings) ([]result, error) {
	n := s.rerun
	fmt.Fprintf(out, "\n== rerun: %d keyed deals imported, then the same input again (ExistingSkip, the default; fake portal in a child process, no limits, no latency)\n", n)
	client, tr, stop, err := countedPortal(ctx, "")
	if err != nil {
		return nil, err
	}
	defer stop()
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = benchItem(i)
	}
	r0 := tr.n.Load()
	t0 := time.Now()
	first, err := client.CRMItem.BatchImport(ctx, b24.EntityDeal, items)
	if err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	firstReqs, firstWall := tr.n.Load()-r0, time.Since(t0)
	fmt.Fprintf(out, "  first run: %d created in %.1fs, %d requests (one asks whether the portal holds any item of the originator: it held none, so no key was looked up)\n",
		countAction(first, b24.ActionCreated), firstWall.Seconds(), firstReqs)
	r0 = tr.n.Load()
	t0 = time.Now()
	second, err := client.CRMItem.BatchImport(ctx, b24.EntityDeal, items)
	if err != nil {
		return nil, fmt.Errorf("second run: %w", err)
	}
	reqs, wall := tr.n.Load()-r0, time.Since(t0)
	found := countAction(second, b24.ActionFound)
	per := float64(reqs) / float64(n) * 1000
	fmt.Fprintf(out, "  second run: %d found, %d created, in %.1fs; %d requests = %.2f per 1,000 rows\n",
		found, countAction(second, b24.ActionCreated), wall.Seconds(), reqs, per)
	return []result{
		{"rerun", "requests per 1,000 rows", fmt.Sprintf("%.2f", per), fmt.Sprintf("<= %g", rerunRequestsPer1000), per <= rerunRequestsPer1000},
		{"rerun", "created by the re-run", fmt.Sprint(n - found), "0", found == n},
	}, nil
}

func countAction(res *b24.BatchImportResult, a b24.ItemAction) int {
	n := 0
	for _, r := range res.Items {
		if r.Status == b24.ItemImported && r.Action == a {
			n++
		}
	}
	return n
}

// runRead lists -read-items items with List against a portal with a
// latency per page: requests (target ⌈N/2500⌉+2), wall time and the peak
// heap while reading.
func runRead(ctx context.Context, out io.Writer, s settings) ([]result, error) {
	fmt.Fprintf(out, "\n== read: List of %d deals, portal latency %s per call and per batch command (fake portal in a child process)\n", s.readItems, s.readLatency)
	client, tr, stop, err := countedPortal(ctx, s.readLatency)
	if err != nil {
		return nil, err
	}
	defer stop()
	// The portal is filled by a stream, so a million rows never sit in
	// this process at once.
	fill := func(yield func(b24.Item) bool) {
		for i := range s.readItems {
			if !yield(benchItem(i)) {
				return
			}
		}
	}
	for r := range client.CRMItem.ImportSeq(ctx, b24.EntityDeal, fill, b24.WithExisting(b24.ExistingCreate), b24.WithPacking(50)) {
		if r.Status != b24.ItemImported {
			return nil, fmt.Errorf("filling the portal: row %d: %v: %v", r.Index, r.Status, r.Err)
		}
	}
	runtime.GC()
	h := newHeapSampler()
	h.sample()
	base := h.peakInuse
	stopSampling := h.watch()
	r0 := tr.n.Load()
	t0 := time.Now()
	n := 0
	var last int64
	for rec, err := range client.CRMItem.List(ctx, b24.EntityDeal, b24.ListQuery{}) {
		if err != nil {
			stopSampling()
			return nil, err
		}
		if rec.ID <= last {
			stopSampling()
			return nil, fmt.Errorf("id %d after %d", rec.ID, last)
		}
		last = rec.ID
		n++
	}
	wall := time.Since(t0)
	reqs := tr.n.Load() - r0
	stopSampling()
	limit := int64((s.readItems+2499)/2500 + 2)
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(out, "  %d items in %.1fs (%.0f items/s), %d requests (target <= %d), peak heap in use %.1f MiB (%.1f MiB before)\n",
		n, wall.Seconds(), float64(n)/wall.Seconds(), reqs, limit, mib(h.peakInuse), mib(base))
	return []result{
		{"read", "requests", fmt.Sprint(reqs), fmt.Sprintf("<= %d", limit), reqs <= limit && n == s.readItems},
		{"read", "wall", fmt.Sprintf("%.1f s", wall.Seconds()), "(reported)", true},
		{"read", "peak heap in use", fmt.Sprintf("%.1f MiB", mib(h.peakInuse)), "< 64 MiB", h.peakInuse < heapTarget},
	}, nil
}

// childLatency reads the latency the parent asked the child portal for.
func childLatency() (base, jitter time.Duration, ok bool) {
	v := os.Getenv(latencyEnv)
	if v == "" {
		return 0, 0, false
	}
	b, j, _ := strings.Cut(v, ",")
	base, err1 := time.ParseDuration(b)
	jitter, err2 := time.ParseDuration(j)
	if err1 != nil || j != "" && err2 != nil {
		return 0, 0, false
	}
	return base, jitter, true
}
