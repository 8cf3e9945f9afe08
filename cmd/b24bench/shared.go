package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// runShared imports with two clients of the same webhook at once, each
// with its own in-process limiter and operating budget, against the
// operating-bound portal with the request limit out of the way: each sees
// the other's time only in the portal's readings. Some refusals are
// expected (a client cannot know what the other is about to spend); the
// check is that they are retried and cost little: no row is lost and the
// two together still reach 90% of the ceiling.
func runShared(ctx context.Context, out io.Writer, s settings) ([]result, error) {
	p := operatingPortal
	p.rate, p.burst = 1000, 1000 // the two clients do not share a request limiter
	windows := 6
	if s.quick {
		windows = 4
	}
	r := pacedRegime{portal: p, packing: s.packing, warm: p.window, measure: time.Duration(windows) * p.window}
	ceiling, howCeil, _ := r.ceiling()
	fmt.Fprintf(out, "\n== shared budget, two clients with their own budgets, packing %s: %v\n", packingName(s.packing), p)
	srv := b24test.NewServer(append(p.options(), b24test.WithoutRequestLog())...)
	defer srv.Close()

	end := r.warm + r.measure
	start := time.Now()
	var (
		wg      sync.WaitGroup
		samples [2][]sample
		counts  [2]runCounts
		errs    [2]error
	)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := []b24.ImportOption{b24.WithPacking(s.packing), s.existingOpt()}
			if s.conc > 0 {
				opts = append(opts, b24.WithConcurrency(s.conc))
			}
			samples[i], counts[i], errs[i] = importFor(ctx, srv.Client(), start, end, i*1_000_000_000, opts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	st := srv.Stats()
	var done [2]int
	for i := range 2 {
		done[i] = doneAt(samples[i], end) - doneAt(samples[i], r.warm)
	}
	sustained := float64(done[0]+done[1]) / r.measure.Seconds()
	ratio := sustained / ceiling
	lost := counts[0].rejected + counts[0].unknown + counts[1].rejected + counts[1].unknown
	fmt.Fprintf(out, "  measured over [%v, %v]: %d + %d items\n", r.warm, end, done[0], done[1])
	fmt.Fprintf(out, "  together %.1f items/s, ceiling %.1f items/s (%s), ratio %.3f\n", sustained, ceiling, howCeil, ratio)
	fmt.Fprintf(out, "  refusals (retried): %d × 429 OPERATION_TIME_LIMIT, %d × 503; rows rejected or unknown: %d\n",
		st.OperatingLimited, st.RateLimited, lost)
	return []result{
		{"shared", "together/ceiling", fmt.Sprintf("%.3f", ratio), "≥ 0.90", ratio >= 0.9},
		{"shared", "429 refusals (retried)", strconv.Itoa(st.OperatingLimited), "(reported)", true},
		{"shared", "rejected/unknown rows", strconv.Itoa(lost), "0", lost == 0},
	}, nil
}
