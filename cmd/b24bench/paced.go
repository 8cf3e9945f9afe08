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

// portal is a scaled portal: its limits and simulated latency.
type portal struct {
	rate           float64 // requests per second the bucket drains
	burst          int
	budget, window time.Duration // operating time per method
	base, perItem  time.Duration // server time of one call: base + perItem × items
	jitter         time.Duration // plus a uniform random part below jitter
}

func (p portal) options() []b24test.Option {
	return []b24test.Option{
		b24test.WithRateLimit(p.rate, p.burst),
		b24test.WithOperatingLimit(p.budget, p.window),
		b24test.WithLatency(p.base, p.perItem, p.jitter),
	}
}

// callSeconds is the mean server time of a full 20-item call.
func (p portal) callSeconds() float64 {
	return (p.base + p.jitter/2 + b24.MaxBatchImportSize*p.perItem).Seconds()
}

// opPerSecond is the server time per second the operating limit admits.
func (p portal) opPerSecond() float64 { return p.budget.Seconds() / p.window.Seconds() }

// requestCeiling is items/s when every request carries pack full calls.
func (p portal) requestCeiling(pack int) float64 {
	return p.rate * b24.MaxBatchImportSize * float64(pack)
}

// operatingCeiling is items/s the operating limit admits.
func (p portal) operatingCeiling() float64 {
	return p.opPerSecond() / (p.callSeconds() / b24.MaxBatchImportSize)
}

func (p portal) String() string {
	return fmt.Sprintf("rate %g/s burst %d, operating %v per %v, latency %v + %v/item + <%v (%.1f ms per call)",
		p.rate, p.burst, p.budget, p.window, p.base, p.perItem, p.jitter, p.callSeconds()*1000)
}

// pacedRegime is a run against a portal whose limits bind: the import is fed
// for warm+measure, and only the items finished within [warm, warm+measure]
// count, so the allowance the portal grants a fresh client (the first
// window's operating budget) is left out. The client's request limiter
// starts with its burst spent, so no burst inflates the figure either.
type pacedRegime struct {
	name    string
	title   string
	portal  portal
	packing int // WithPacking value; 0 automatic
	// existing is the WithExisting option: the rows are new, so it decides
	// only whether they are looked up first.
	existing b24.ImportOption
	conc     int // WithConcurrency value; 0 the default
	warm     time.Duration
	measure  time.Duration
}

// ceiling returns the binding ceiling in items/s, how it was computed, and
// the items a fresh client may import on top of it (the bucket's burst and
// the first window's budget, whichever binds), for the strict figure.
func (r pacedRegime) ceiling() (float64, string, float64) {
	p := r.portal
	pack := r.packing
	if pack == 0 {
		pack = 50 // automatic packing may go up to a full batch
	}
	req, op := p.requestCeiling(pack), p.operatingCeiling()
	reqHow := fmt.Sprintf("%g req/s × %d items", p.rate, b24.MaxBatchImportSize)
	if pack > 1 {
		reqHow += fmt.Sprintf(" × %d calls", pack)
	}
	opHow := fmt.Sprintf("%.2f server-s/s ÷ %.3f ms/item", p.opPerSecond(), p.callSeconds()/b24.MaxBatchImportSize*1000)
	if req <= op {
		return req, fmt.Sprintf("request: %s; operating ceiling %.0f", reqHow, op),
			float64(p.burst) * b24.MaxBatchImportSize * float64(pack)
	}
	return op, fmt.Sprintf("operating: %s; request ceiling %.0f", opHow, req),
		p.budget.Seconds() / (p.callSeconds() / b24.MaxBatchImportSize)
}

// The request-bound portal: the cloud's bucket drains 2 requests/s with
// burst 50 (a 25 s refill); this one drains 10/s with burst 50 (5 s). The
// operating limit keeps the cloud's 0.8 s of server time per second in a
// 5 s window of ten 0.5 s buckets. A call takes 10 ms + 0.5 ms per item
// (+ <10 ms), so the operating ceiling, 640 items/s, is far above the
// request ceiling of 10 × 20 = 200 items/s. Without packing the request
// ceiling binds; with packing the operating one does.
var requestPortal = portal{
	rate: 10, burst: 50,
	budget: 4 * time.Second, window: 5 * time.Second,
	base: 10 * time.Millisecond, perItem: 500 * time.Microsecond, jitter: 10 * time.Millisecond,
}

// The operating-bound portal: 0.8 s per second as in the cloud (4 s per
// 5 s window); a 20-item call takes 20 ms + 4 ms per item + <10 ms (105 ms,
// 2.6% of the budget), so the operating ceiling, 152 items/s, is well under
// the request ceiling of 20 req/s × 20 = 400 items/s.
var operatingPortal = portal{
	rate: 20, burst: 100,
	budget: 4 * time.Second, window: 5 * time.Second,
	base: 20 * time.Millisecond, perItem: 4 * time.Millisecond, jitter: 10 * time.Millisecond,
}

func requestRegime(s settings) pacedRegime {
	measure := 30 * time.Second
	if s.quick {
		measure = 15 * time.Second
	}
	return pacedRegime{
		name: "request", title: "request-bound, packing off (WithPacking(1))",
		portal: requestPortal, packing: 1, conc: s.conc, existing: s.existingOpt(),
		// The bucket refills its whole burst in burst/rate seconds; after
		// that a client sending faster than rate has spent it.
		warm:    time.Duration(float64(requestPortal.burst) / requestPortal.rate * float64(time.Second)),
		measure: measure,
	}
}

func packedRegime(s settings) pacedRegime {
	windows := 6
	if s.quick {
		windows = 3
	}
	return pacedRegime{
		name: "packed", title: fmt.Sprintf("request-bound portal, packing %s", packingName(s.packing)),
		portal: requestPortal, packing: s.packing, conc: s.conc, existing: s.existingOpt(),
		// Packed, the operating limit binds: the first window's budget is
		// free, so whole windows after it are measured.
		warm:    requestPortal.window,
		measure: time.Duration(windows) * requestPortal.window,
	}
}

func operatingRegime(s settings) pacedRegime {
	windows := 6
	if s.quick {
		windows = 4
	}
	return pacedRegime{
		name: "operating", title: fmt.Sprintf("operating-bound, packing %s", packingName(s.packing)),
		portal: operatingPortal, packing: s.packing, conc: s.conc, existing: s.existingOpt(),
		warm:    operatingPortal.window,
		measure: time.Duration(windows) * operatingPortal.window,
	}
}

func packingName(n int) string {
	if n == 0 {
		return "automatic"
	}
	return fmt.Sprintf("WithPacking(%d)", n)
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

func runPaced(ctx context.Context, out io.Writer, r pacedRegime) ([]result, error) {
	res, _, err := runPacedRatio(ctx, out, r)
	return res, err
}

// runPacedRatio is runPaced that also returns the measured ratio.
func runPacedRatio(ctx context.Context, out io.Writer, r pacedRegime) ([]result, float64, error) {
	ceiling, howCeil, allowance := r.ceiling()
	fmt.Fprintf(out, "\n== %s: %v\n", r.title, r.portal)
	srv := b24test.NewServer(append(r.portal.options(), b24test.WithoutRequestLog())...)
	defer srv.Close()
	// The client's limiter starts empty: its burst is spent before the
	// run, so every figure is the sustained rate (the portal's own bucket
	// still starts empty, which only forgives jitter).
	lim := b24.NewLimiter(r.portal.rate, r.portal.burst)
	for range r.portal.burst - max(r.portal.burst/10, 1) {
		if err := lim.Wait(ctx); err != nil {
			return nil, 0, err
		}
	}
	client := srv.Client(b24.WithLimiter(lim))

	end := r.warm + r.measure
	start := time.Now()
	var opts []b24.ImportOption
	if r.conc > 0 {
		opts = append(opts, b24.WithConcurrency(r.conc))
	}
	opts = append(opts, b24.WithPacking(r.packing), r.existing)
	samples, counts, err := importFor(ctx, client, start, end, 0, opts)
	if err != nil {
		return nil, 0, err
	}
	imported, other := counts.imported, counts.notSent
	elapsed := time.Since(start)
	st := srv.Stats()

	d0, d1 := doneAt(samples, r.warm), doneAt(samples, end)
	sustained := float64(d1-d0) / r.measure.Seconds()
	ratio := sustained / ceiling
	whole := float64(d1) / end.Seconds()

	fmt.Fprintf(out, "  run %.1fs, %d imported, %d not imported (cut off at the end), %d requests\n",
		elapsed.Seconds(), imported, other, st.Requests)
	fmt.Fprintf(out, "  measured over [%v, %v]: %d items\n", r.warm, end, d1-d0)
	fmt.Fprintf(out, "  sustained %.1f items/s, ceiling %.1f items/s (%s), ratio %.3f\n",
		sustained, ceiling, howCeil, ratio)
	fmt.Fprintf(out, "  from the start, incl. the initial allowance of %.0f items: %.1f items/s\n", allowance, whole)
	fmt.Fprintf(out, "  refusals: %d × 503 QUERY_LIMIT_EXCEEDED, %d × 429 OPERATION_TIME_LIMIT\n",
		st.RateLimited, st.OperatingLimited)
	return []result{
		{r.name, "sustained/ceiling", fmt.Sprintf("%.3f", ratio), "≥ 0.95", ratio >= 0.95},
		{r.name, "503 refusals", strconv.Itoa(st.RateLimited), "0", st.RateLimited == 0},
		{r.name, "429 refusals", strconv.Itoa(st.OperatingLimited), "0", st.OperatingLimited == 0},
		{r.name, "rejected/unknown rows", strconv.Itoa(counts.rejected + counts.unknown), "0", counts.rejected+counts.unknown == 0},
	}, ratio, nil
}

// runCounts are the outcomes of an import.
type runCounts struct{ imported, rejected, unknown, notSent int }

// importFor streams generated deals (numbered from first) into client
// until end after start, then cuts off what is still waiting shortly
// after, and returns the finished-items samples and the outcomes.
func importFor(ctx context.Context, client *b24.Client, start time.Time, end time.Duration, first int, opts []b24.ImportOption) ([]sample, runCounts, error) {
	var (
		mu      sync.Mutex
		samples []sample
		counts  runCounts
	)
	// Calls still waiting at the end are cut off; that only affects items
	// outside the measurement.
	runCtx, cancel := context.WithTimeout(ctx, end+2*time.Second)
	defer cancel()
	items := func(yield func(b24.Item) bool) {
		for i := first; time.Since(start) < end; i++ {
			if !yield(benchItem(i)) {
				return
			}
		}
	}
	opts = append([]b24.ImportOption{b24.WithProgress(func(p b24.Progress) {
		mu.Lock()
		samples = append(samples, sample{time.Since(start), p.Done})
		mu.Unlock()
	})}, opts...)
	for res := range client.CRMItem.ImportSeq(runCtx, b24.EntityDeal, items, opts...) {
		if res.Index < 0 {
			return nil, counts, res.Err
		}
		switch res.Status {
		case b24.ItemImported:
			counts.imported++
		case b24.ItemRejected:
			counts.rejected++
		case b24.ItemUnknown:
			counts.unknown++
		default:
			counts.notSent++
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, counts, err
	}
	mu.Lock()
	defer mu.Unlock()
	return samples, counts, nil
}
