package b24_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// The benchmarks measure the SDK's own work per item. Run them with
//
//	go test -run '^$' -bench . -benchmem
//
// ns/item and allocs/item are per imported item; ns/op is per import of
// benchItems items. cmd/b24bench measures the same with the fake portal in
// a separate process, and the throughput against limited portals.

const benchItems = 1000 // items per import in BenchmarkBatchImport

// benchDeal is a typical migrated deal with a dedup key.
func benchDeal(i int) b24.Item {
	n := strconv.Itoa(i)
	return b24.Item{
		Title:        "Benchmark deal " + n,
		Opportunity:  float64(i%10000) + 0.5,
		CurrencyID:   "EUR",
		Comments:     "imported by the benchmark, row " + n,
		OriginatorID: "bench",
		OriginID:     n,
	}
}

func benchDeals(n int) []b24.Item {
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = benchDeal(i)
	}
	return items
}

// cannedPortal answers every crm.item.batchImport with prebuilt bytes (one
// created id per item it counts in the request), so that nearly all the
// work measured is the client's: marshal, chunk, HTTP, decode. It reports
// no operating time, like a self-hosted portal.
func cannedPortal(tb testing.TB, opts ...b24.Option) *b24.Client {
	var (
		mu      sync.Mutex
		answers = map[int][]byte{}
	)
	answer := func(n int) []byte {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := answers[n]; ok {
			return a
		}
		var b bytes.Buffer
		b.WriteString(`{"result":{"items":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"item":{"id":` + strconv.Itoa(1000+i) + `}}`)
		}
		b.WriteString(`]},"time":{"start":1764460800.1,"finish":1764460800.2,"duration":0.1,"processing":0.1,` +
			`"date_start":"2025-11-30T00:00:00+00:00","date_finish":"2025-11-30T00:00:00+00:00"}}`)
		answers[n] = b.Bytes()
		return answers[n]
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer(bytes.Count(body, []byte(`"originId"`))))
	}))
	tb.Cleanup(srv.Close)
	wh, err := b24.NewWebhook(srv.URL + "/rest/1/benchsecret0001/")
	if err != nil {
		tb.Fatal(err)
	}
	c, err := b24.NewClient(wh, append([]b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(1e9, 1<<30),
		b24.WithOperatingLimit(1<<62, time.Hour)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// pooledHTTP is an HTTP client that keeps enough idle connections for
// every call in flight.
func pooledHTTP(tb testing.TB) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// reportPerItem adds ns/item and allocs/item for items imported per op.
func reportPerItem(b *testing.B, items int, m0 *runtime.MemStats) {
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	total := float64(b.N * items)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/item")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/total, "allocs/item")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/total, "B/item")
}

// BenchmarkBatchImport imports benchItems deals per op. "canned" answers
// from prebuilt bytes (the client's work alone); "b24test" runs the
// zero-latency, unlimited fake portal in this process, so its own work
// (decoding, validating, storing) is counted too.
func BenchmarkBatchImport(b *testing.B) {
	items := benchDeals(benchItems)
	// Every op imports the same keyed rows: without ExistingCreate the
	// second op would find them all and measure the lookup instead (the
	// canned portal answers imports only). cmd/b24bench measures re-runs.
	create := b24.WithExisting(b24.ExistingCreate)
	run := func(b *testing.B, c *b24.Client, opts ...b24.ImportOption) {
		opts = append([]b24.ImportOption{create}, opts...)
		if _, err := c.CRMItem.BatchImport(b.Context(), b24.EntityDeal, items, opts...); err != nil {
			b.Fatal(err) // warm-up, and a check that the portal works
		}
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		b.ResetTimer()
		for range b.N {
			res, err := c.CRMItem.BatchImport(b.Context(), b24.EntityDeal, items, opts...)
			if err != nil {
				b.Fatal(err)
			}
			if imp, _, _, _ := res.Counts(); imp != len(items) {
				b.Fatalf("%d of %d imported", imp, len(items))
			}
		}
		b.StopTimer()
		reportPerItem(b, len(items), &m0)
	}
	b.Run("canned", func(b *testing.B) { run(b, cannedPortal(b)) })
	// With a progress function the requests report their waits (the
	// limiter, the budget) to the import: what that costs.
	b.Run("canned-progress", func(b *testing.B) { run(b, cannedPortal(b), b24.WithProgress(func(b24.Progress) {})) })
	// With more idle connections kept than calls in flight, no call opens
	// a new connection (the default transport keeps 2 per host).
	b.Run("canned-pooled", func(b *testing.B) { run(b, cannedPortal(b, b24.WithHTTPClient(pooledHTTP(b)))) })
	b.Run("b24test", func(b *testing.B) {
		run(b, fakePortal(b, b24test.WithoutRequestLog()).Client())
	})
}

// BenchmarkItemMarshal encodes one deal as a batchImport row.
func BenchmarkItemMarshal(b *testing.B) {
	it := benchDeal(123456)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDealUnmarshal decodes one deal as crm.item.get answers it.
func BenchmarkDealUnmarshal(b *testing.B) {
	raw, err := json.Marshal(benchDeal(123456))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var it b24.Item
		if err := json.Unmarshal(raw, &it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportSeq1M streams 1,000,000 generated deals (100,000 with
// -short) through ImportSeq against the canned portal per op and reports
// the peak heap in use, sampled every 5 ms (target: under 64 MiB).
func BenchmarkImportSeq1M(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	c := cannedPortal(b)
	items := func(yield func(b24.Item) bool) {
		for i := range n {
			if !yield(benchDeal(i)) {
				return
			}
		}
	}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	var peak uint64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			peak = max(peak, samples[0].Value.Uint64()+samples[1].Value.Uint64())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		got := 0
		// The canned portal answers imports only: no lookup first.
		for r := range c.CRMItem.ImportSeq(b.Context(), b24.EntityDeal, items, b24.WithExisting(b24.ExistingCreate)) {
			if r.Status != b24.ItemImported {
				b.Fatalf("item %d: %v: %v", r.Index, r.Status, r.Err)
			}
			got++
		}
		if got != n {
			b.Fatalf("%d of %d results", got, n)
		}
	}
	b.StopTimer()
	close(stop)
	<-stopped
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
