package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// childEnv, when set, makes the program serve the fake portal instead: the
// overhead and memory regimes run the portal in a child process, so that
// this process's CPU time and heap are the SDK's alone (the fake keeps
// every imported item in memory).
const childEnv = "B24BENCH_CHILD"

// Overhead target: the cloud's request ceiling is 2 req/s × 20 = 40 items/s
// per portal, so one core feeding 1000 portals has 25 µs per item.
const cpuPerItemTarget = 25 * time.Microsecond

// Memory target from the design.
const heapTarget = 64 << 20

// serveChild runs an unlimited, zero-latency fake portal, prints its
// webhook address and serves until standard input closes.
func serveChild() {
	opts := []b24test.Option{b24test.WithoutRateLimit(), b24test.WithoutOperatingLimit(), b24test.WithoutRequestLog()}
	if base, jitter, ok := childLatency(); ok {
		opts = append(opts, b24test.WithLatency(base, 0, jitter))
	}
	srv := b24test.NewServer(opts...)
	fmt.Println(srv.WebhookURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

// childPortal starts the fake portal in a child process and returns a
// client for it (no client-side limits) and a function that stops it.
func childPortal(ctx context.Context, extra ...b24.Option) (*b24.Client, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=serve")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("fake portal process: %w", err)
	}
	wh, err := b24.NewWebhook(strings.TrimSpace(line))
	if err != nil {
		stop()
		return nil, nil, err
	}
	client, err := b24.NewClient(wh, append([]b24.Option{b24.WithAllowHTTP(),
		b24.WithRateLimit(1e9, 1<<30), b24.WithOperatingLimit(1<<62, time.Hour)}, extra...)...)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return client, stop, nil
}

// overheadVariant is one way of importing in the overhead regime.
type overheadVariant struct {
	name   string
	opts   []b24.ImportOption
	pooled bool // an HTTP transport that keeps an idle connection per call in flight
	check  bool // the CPU target applies
	// held warms up with items of the rows' own originator: the portal
	// holds some, so every key of the run is looked up (new rows joining
	// those of an earlier import). Otherwise the run is a first import.
	held bool
}

func runOverhead(ctx context.Context, out io.Writer, s settings) ([]result, error) {
	fmt.Fprintf(out, "\n== overhead: %d items with BatchImport against a zero-latency unlimited fake portal in a child process\n", s.overhead)
	variants := []overheadVariant{
		{name: "defaults (automatic packing), a first import", check: true},
		{name: "defaults, the portal holds the originator's items (every key looked up)", held: true},
		{name: "WithPacking(1)", opts: []b24.ImportOption{b24.WithPacking(1)}},
		{name: "WithPacking(1), pooled HTTP", opts: []b24.ImportOption{b24.WithPacking(1)}, pooled: true},
		{name: "defaults, pooled HTTP", pooled: true},
	}
	var results []result
	for _, v := range variants {
		res, err := overheadRun(ctx, out, s, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		results = append(results, res...)
	}
	return results, nil
}

func overheadRun(ctx context.Context, out io.Writer, s settings, v overheadVariant) ([]result, error) {
	var extra []b24.Option
	if v.pooled {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		defer tr.CloseIdleConnections()
		extra = append(extra, b24.WithHTTPClient(&http.Client{Transport: tr}))
	}
	client, stop, err := childPortal(ctx, extra...)
	if err != nil {
		return nil, err
	}
	defer stop()
	// Warm up connections and code paths, then measure a fresh run.
	warm := make([]b24.Item, 2000)
	for i := range warm {
		warm[i] = benchItem(-1 - i)
		if !v.held {
			warm[i].OriginatorID = "b24bench-warm-up"
		}
	}
	v.opts = append([]b24.ImportOption{s.existingOpt()}, v.opts...)
	if _, err := client.CRMItem.BatchImport(ctx, b24.EntityDeal, warm, v.opts...); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	items := make([]b24.Item, s.overhead)
	for i := range items {
		items[i] = benchItem(i)
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	u0, s0, cpuOK := processCPU()
	if s.cpuProfile != "" && v.check {
		stopProfile, err := startCPUProfile(s.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer stopProfile()
	}
	if s.memProfile != "" && v.check {
		defer startMemProfile(s.memProfile)()
	}
	t0 := time.Now()
	res, err := client.CRMItem.BatchImport(ctx, b24.EntityDeal, items, v.opts...)
	wall := time.Since(t0)
	u1, s1, _ := processCPU()
	runtime.ReadMemStats(&m1)
	if err != nil {
		return nil, err
	}
	imported, _, _, _ := res.Counts()
	n := float64(len(items))
	allocs := float64(m1.Mallocs-m0.Mallocs) / n
	bytes := float64(m1.TotalAlloc-m0.TotalAlloc) / n
	fmt.Fprintf(out, "  %s: %d imported in %.2fs (%.0f items/s wall), %.1f allocs/item, %.0f B/item\n",
		v.name, imported, wall.Seconds(), n/wall.Seconds(), allocs, bytes)
	var results []result
	if v.check {
		results = append(results, result{"overhead", "allocs/item", fmt.Sprintf("%.1f", allocs), "(reported)", true})
	}
	if cpuOK {
		user, sys := u1-u0, s1-s0
		per := (user + sys) / time.Duration(len(items))
		fmt.Fprintf(out, "    process CPU %.2f µs/item (user %.2f + system %.2f; loopback HTTP included, nothing subtracted): one core feeds %.0f items/s = %.0f cloud portals at 40 items/s\n",
			float64(per)/1e3, user.Seconds()/n*1e6, sys.Seconds()/n*1e6, 1e9/float64(per), 1e9/float64(per)/40)
		switch {
		case v.check:
			results = append(results, result{"overhead", "CPU/item", fmt.Sprintf("%.2f µs", float64(per)/1e3),
				fmt.Sprintf("< %v", cpuPerItemTarget), per < cpuPerItemTarget})
		case v.held:
			results = append(results, result{"overhead", "CPU/item, keys looked up", fmt.Sprintf("%.2f µs", float64(per)/1e3), "(reported)", true})
		}
	}
	if imported != len(items) {
		results = append(results, result{"overhead", "imported", fmt.Sprint(imported), fmt.Sprint(len(items)), false})
	}
	return results, nil
}

// heapSampler tracks the peak of the heap in use (objects plus free space
// in in-use spans, as MemStats.HeapInuse) from runtime/metrics, which does
// not stop the world.
type heapSampler struct {
	samples            []metrics.Sample
	peakInuse, peakObj uint64
}

// watch samples the heap every 5 ms until the returned function is
// called, which takes a last sample and returns when sampling has ended.
func (h *heapSampler) watch() (stop func()) {
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				h.sample()
				return
			case <-t.C:
				h.sample()
			}
		}
	}()
	return func() {
		close(done)
		<-sampled
	}
}

func newHeapSampler() *heapSampler {
	return &heapSampler{samples: []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}}
}

func (h *heapSampler) sample() {
	metrics.Read(h.samples)
	obj, unused := h.samples[0].Value.Uint64(), h.samples[1].Value.Uint64()
	h.peakInuse = max(h.peakInuse, obj+unused)
	h.peakObj = max(h.peakObj, obj)
}

func runMemory(ctx context.Context, out io.Writer, s settings) ([]result, error) {
	fmt.Fprintf(out, "\n== memory: streaming import of %d items with ImportSeq, packing %s, concurrency %s, existing rows %s (fake portal in a child process, no limits, no latency)\n",
		s.items, packingName(s.packing), concName(s.conc), s.existing)
	client, stop, err := childPortal(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	runtime.GC()
	h := newHeapSampler()
	h.sample()
	base := h.peakInuse
	stopSampling := h.watch()
	items := func(yield func(b24.Item) bool) {
		for i := range s.items {
			if !yield(benchItem(i)) {
				return
			}
		}
	}
	t0 := time.Now()
	var imported, other int
	var firstErr error
	opts := []b24.ImportOption{b24.WithTotal(s.items), b24.WithPacking(s.packing), s.existingOpt()}
	if s.conc > 0 {
		opts = append(opts, b24.WithConcurrency(s.conc))
	}
	for r := range client.CRMItem.ImportSeq(ctx, b24.EntityDeal, items, opts...) {
		if r.Status == b24.ItemImported {
			imported++
			continue
		}
		other++
		if firstErr == nil {
			firstErr = r.Err
		}
	}
	wall := time.Since(t0)
	stopSampling()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if other > 0 {
		return nil, fmt.Errorf("%d items not imported: %w", other, errors.Join(firstErr))
	}
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(out, "  %d imported in %.1fs (%.0f items/s); heap sampled every 5 ms\n", imported, wall.Seconds(), float64(imported)/wall.Seconds())
	fmt.Fprintf(out, "  peak heap in use %.1f MiB (%.1f MiB before the import), peak live+unswept objects %.1f MiB\n",
		mib(h.peakInuse), mib(base), mib(h.peakObj))
	return []result{{"memory", "peak heap in use", fmt.Sprintf("%.1f MiB", mib(h.peakInuse)), "< 64 MiB", h.peakInuse < heapTarget}}, nil
}

// printMachine prints what the figures were measured on.
func printMachine(out io.Writer) {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(b), "\n"); ok {
			mem = ", " + strings.Join(strings.Fields(l), " ")
		}
	}
	fmt.Fprintf(out, "machine: %s, %d CPUs (GOMAXPROCS %d)%s, %s %s/%s\n",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func concName(n int) string {
	if n == 0 {
		return fmt.Sprintf("%d (default)", b24.DefaultConcurrency)
	}
	return fmt.Sprint(n)
}

// startCPUProfile writes a CPU profile of this process to file until the
// returned function is called.
func startCPUProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startMemProfile samples every 4 KiB allocated from now on and returns
// the function that writes the allocations to file. The child process
// runs the portal, so the profile holds the SDK's allocations alone.
func startMemProfile(file string) func() {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	return func() {
		defer func() { runtime.MemProfileRate = old }()
		f, err := os.Create(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "b24bench: memprofile:", err)
			return
		}
		defer f.Close()
		runtime.GC() // the profile shows the allocations as of the last collection
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintln(os.Stderr, "b24bench: memprofile:", err)
		}
	}
}
