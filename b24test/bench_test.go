package b24test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// chunkBody builds a batchImport body of 20 deals with dedup keys.
func chunkBody(n int64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"entityTypeId":2,"data":[`)
	for i := range int64(20) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"title":"Deal %d","stageId":"NEW","opportunity":100.5,"currencyId":"EUR","originatorId":"bench","originId":"%d","assignedById":1,"begindate":"2026-01-02"}`, n*20+i, n*20+i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// BenchmarkBatchImport measures the server's cost per 20-item batchImport
// call, with parallel clients over loopback HTTP.
func BenchmarkBatchImport(b *testing.B) {
	srv := newTestServer(b, WithoutRequestLog())
	url := srv.WebhookURL() + "crm.item.batchImport.json"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Post(url, "application/json", bytes.NewReader(chunkBody(seq.Add(1))))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*20)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkListByOriginID measures the dedup lookup an importer makes after
// an unknown outcome, against a store of 200,000 deals.
func BenchmarkListByOriginID(b *testing.B) {
	srv := newTestServer(b, WithoutRequestLog())
	es := srv.store.get(2)
	x := &exchange{s: srv, timeout: 1 << 62}
	for i := range 200_000 {
		es.mu.Lock()
		_, _ = x.importLocked(es, map[string]any{"title": "t", "originatorId": "bench", "originId": fmt.Sprint(i)}, false, false)
		es.mu.Unlock()
	}
	body := []byte(`{"entityTypeId":2,"select":["id","originatorId","originId"],"filter":{"=originatorId":"bench","@originId":["5","77","19999","123456","199999","x"]}}`)
	url := srv.WebhookURL() + "crm.item.list.json"
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
