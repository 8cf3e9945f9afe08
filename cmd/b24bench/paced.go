package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// pacedRegime is a run against a portal whose limits bind: the import is fed
// for warm+measure, and only the items finished within [warm, warm+measure]
// count, so the allowance the portal grants a fresh client (the bucket's
// burst, the first window's operating budget) is left out.
type pacedRegime struct {
	name     string
	describe string
	opts     []b24test.Option
	warm     time.Duration
	measure  time.Duration
	ceiling  float64 // items per second the portal admits at most
	howCeil  string
	// allowance is the items a fresh client may import on top of the
	// ceiling (burst × 20, or one window's budget), for the strict figure.
	allowance float64
}

// Scaled portal of the request-bound regime: the cloud's bucket drains 2
// requests/s with burst 50 (a 25 s refill); this one drains 10/s with burst
// 50 (5 s), and a 20-item call takes 100 ms + 5 ms per item (+ up to 20 ms).
// The default operating limit (480 s per 10 min) stays on and does not bind:
// 10 calls/s × 0.21 s is 2.1 s of server time per second for at most 40 s.
const (
	reqRate    = 10.0
	reqBurst   = 50
	reqBase    = 100 * time.Millisecond
	reqPerItem = 5 * time.Millisecond
	reqJitter  = 20 * time.Millisecond
)

func requestRegime(s settings) pacedRegime {
	measure := 30 * time.Second
	if s.quick {
		measure = 15 * time.Second
	}
	return pacedRegime{
		name: "request",
		describe: fmt.Sprintf("request-bound: rate %g/s burst %d, latency %v + %v/item + <%v jitter, operating limit 480s/10m (not binding)",
			reqRate, reqBurst, reqBase, reqPerItem, reqJitter),
		opts: []b24test.Option{
			b24test.WithRateLimit(reqRate, reqBurst),
			b24test.WithLatency(reqBase, reqPerItem, reqJitter),
		},
		// The bucket refills its whole burst in burst/rate seconds; after
		// that a client sending faster than rate has spent it.
		warm:      time.Duration(float64(reqBurst) / reqRate * float64(time.Second)),
		measure:   measure,
		ceiling:   reqRate * b24.MaxBatchImportSize,
		howCeil:   fmt.Sprintf("%g req/s × %d items", reqRate, b24.MaxBatchImportSize),
		allowance: reqBurst * b24.MaxBatchImportSize,
	}
}

// Scaled portal of the operating-bound regime: the cloud allows 480 s of
// server time per method per 10 minutes (0.8 s per second); this one
// allows 4 s per 5 s window (ten 0.5 s buckets, the same 0.8 s per second).
// A 20-item call takes 20 ms + 4 ms per item + up to 10 ms (105 ms on
// average, 2.6% of the budget), so the operating ceiling, 152 items/s, is
// well under the request ceiling of 20 req/s × 20 = 400 items/s.
const (
	opBudget  = 4 * time.Second
	opWindow  = 5 * time.Second
	opRate    = 20.0
	opBurst   = 100
	opBase    = 20 * time.Millisecond
	opPerItem = 4 * time.Millisecond
	opJitter  = 10 * time.Millisecond
)

func operatingRegime(s settings) pacedRegime {
	windows := 6
	if s.quick {
		windows = 4
	}
	perCall := opBase + opJitter/2 + b24.MaxBatchImportSize*opPerItem
	perItem := perCall.Seconds() / b24.MaxBatchImportSize
	budgetPerSec := opBudget.Seconds() / opWindow.Seconds()
	return pacedRegime{
		name: "operating",
		describe: fmt.Sprintf("operating-bound: budget %v per %v window, latency %v + %v/item + <%v jitter, rate %g/s burst %d (request ceiling %g items/s)",
			opBudget, opWindow, opBase, opPerItem, opJitter, opRate, opBurst, opRate*b24.MaxBatchImportSize),
		opts: []b24test.Option{
			b24test.WithRateLimit(opRate, opBurst),
			b24test.WithOperatingLimit(opBudget, opWindow),
			b24test.WithLatency(opBase, opPerItem, opJitter),
		},
		// The first window's budget is free; measure whole windows after it.
		warm:      opWindow,
		measure:   time.Duration(windows) * opWindow,
		ceiling:   budgetPerSec / perItem,
		howCeil:   fmt.Sprintf("%.2f server-s/s ÷ %.2f ms/item", budgetPerSec, perItem*1000),
		allowance: opBudget.Seconds() / perItem,
	}
}

// sample is the number of finished items at a moment of the run.
type sample struct {
	at   time.Duration
	done int
}

// doneAt returns the items finished by at (samples are in time order).
func doneAt(samples []sample, at time.Duration) int {
	i := sort.Search(len(samples), func(i int) bool { return samples[i].at > at })
	if i == 0 {
		return 0
	}
	return samples[i-1].done
}

// benchItem is the deal the paced and overhead regimes import: a title, an
// amount, a currency, a comment and a dedup key, like a typical migration.
func benchItem(i int) b24.Item {
	n := strconv.Itoa(i)
	return b24.Item{
		Title:        "Benchmark deal " + n,
		Opportunity:  float64(i%10000) + 0.5,
		CurrencyID:   "EUR",
		Comments:     "imported by b24bench, row " + n,
		OriginatorID: "b24bench",
		OriginID:     n,
	}
}

func runPaced(ctx context.Context, out io.Writer, r pacedRegime, s settings) ([]result, error) {
	fmt.Fprintf(out, "\n== %s\n", r.describe)
	srv := b24test.NewServer(append(r.opts, b24test.WithoutRequestLog())...)
	defer srv.Close()
	client := srv.Client()

	end := r.warm + r.measure
	var (
		mu      sync.Mutex
		samples []sample
	)
	start := time.Now()
	// The input ends at warm+measure; calls still waiting then are cut off
	// shortly after, which only affects items outside the measurement.
	runCtx, cancel := context.WithTimeout(ctx, end+2*time.Second)
	defer cancel()
	items := func(yield func(b24.Item) bool) {
		for i := 0; time.Since(start) < end; i++ {
			if !yield(benchItem(i)) {
				return
			}
		}
	}
	opts := []b24.ImportOption{b24.WithProgress(func(p b24.Progress) {
		mu.Lock()
		samples = append(samples, sample{time.Since(start), p.Done})
		mu.Unlock()
	})}
	if s.conc > 0 {
		opts = append(opts, b24.WithConcurrency(s.conc))
	}
	opts = append(opts, packingOptions(s)...)
	var imported, other int
	for res := range client.CRMItem.ImportSeq(runCtx, b24.EntityDeal, items, opts...) {
		if res.Index < 0 {
			return nil, res.Err
		}
		if res.Status == b24.ItemImported {
			imported++
		} else {
			other++
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	st := srv.Stats()

	mu.Lock()
	d0, d1 := doneAt(samples, r.warm), doneAt(samples, end)
	mu.Unlock()
	sustained := float64(d1-d0) / r.measure.Seconds()
	ratio := sustained / r.ceiling
	whole := float64(d1) / end.Seconds()
	strict := (float64(d1) - r.allowance) / end.Seconds()

	fmt.Fprintf(out, "  run %.1fs, %d imported, %d not imported (cut off at the end), %d requests\n",
		elapsed.Seconds(), imported, other, st.Requests)
	fmt.Fprintf(out, "  measured over [%v, %v]: %d items\n", r.warm, end, d1-d0)
	fmt.Fprintf(out, "  sustained %.1f items/s, ceiling %.1f items/s (%s), ratio %.3f\n",
		sustained, r.ceiling, r.howCeil, ratio)
	fmt.Fprintf(out, "  from the start incl. the initial allowance: %.1f items/s; strict (items − %.0f allowance) ÷ %v: %.1f items/s (%.3f)\n",
		whole, r.allowance, end, strict, strict/r.ceiling)
	fmt.Fprintf(out, "  refusals: %d × 503 QUERY_LIMIT_EXCEEDED, %d × 429 OPERATION_TIME_LIMIT\n",
		st.RateLimited, st.OperatingLimited)
	return []result{
		{r.name, "sustained/ceiling", fmt.Sprintf("%.3f", ratio), "≥ 0.95", ratio >= 0.95},
		{r.name, "503 refusals", strconv.Itoa(st.RateLimited), "0", st.RateLimited == 0},
		{r.name, "429 refusals", strconv.Itoa(st.OperatingLimited), "0", st.OperatingLimited == 0},
	}, nil
}

// packingOptions returns the import options for call packing; none until
// the import engine offers it.
func packingOptions(settings) []b24.ImportOption { return nil }
