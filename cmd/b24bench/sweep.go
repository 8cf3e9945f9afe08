package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// The concurrency sweep's portal: calls take 300 ms + 5 ms per item
// (400 ms, +<40 ms) and the bucket drains 10 requests/s, so 4 calls must be
// in flight to keep it busy, as on a cloud portal (2 requests/s) whose
// calls take 2 s. The operating limit is set high enough not to bind.
var sweepPortal = portal{
	rate: 10, burst: 50,
	budget: 60 * time.Second, window: 5 * time.Second,
	base: 300 * time.Millisecond, perItem: 5 * time.Millisecond, jitter: 40 * time.Millisecond,
}

// sweepLevels are the concurrencies tried.
var sweepLevels = []int{1, 2, 3, 4, 5, 6, 8, 12}

// runSweep measures the request-bound ratio (packing off) at several
// concurrencies, to show how many calls must be in flight: about rate ×
// latency, the bucket's drain rate times a call's round trip.
func runSweep(ctx context.Context, out io.Writer, s settings) ([]result, error) {
	p := sweepPortal
	need := p.rate * p.callSeconds()
	fmt.Fprintf(out, "\n== concurrency sweep, request-bound, packing off: %v; rate × latency = %.1f calls in flight\n", p, need)
	var rows []string
	var results []result
	for _, c := range sweepLevels {
		r := pacedRegime{
			name: fmt.Sprintf("conc %d", c), title: fmt.Sprintf("concurrency %d", c),
			portal: p, packing: 1, conc: c, existing: s.existingOpt(),
			warm:    time.Duration(float64(p.burst) / p.rate * float64(time.Second)),
			measure: 15 * time.Second,
		}
		res, ratio, err := runPacedRatio(ctx, io.Discard, r)
		if err != nil {
			return nil, err
		}
		predicted := math.Min(1, float64(c)/need)
		rows = append(rows, fmt.Sprintf("  %11d  %8.1f  %5.3f  %9.3f", c, ratio*p.requestCeiling(1), ratio, predicted))
		if float64(c) >= 1.25*need {
			results = append(results, res...) // enough in flight: the target applies
		}
	}
	fmt.Fprintln(out, "  concurrency  items/s  ratio  c ÷ (rate × latency), capped at 1")
	fmt.Fprintln(out, strings.Join(rows, "\n"))
	return results, nil
}
