// Command streaming imports a large generated input with ImportSeq: items
// are produced lazily and results arrive as calls finish, so memory stays
// bounded by the calls in flight, not by the input. Progress is printed as
// it goes. It runs against an in-process fake portal (b24test) with
// latency, paced by the portal's request-rate limit.
package main

import (
	"context"
	"fmt"
	"iter"
	"log"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

const total = 5000

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// A portal that allows 25 requests a second (burst 50) and takes
	// 40 ms plus 2 ms per item for each call.
	srv := b24test.NewServer(
		b24test.WithRateLimit(25, 50),
		b24test.WithLatency(40*time.Millisecond, 2*time.Millisecond, 10*time.Millisecond),
	)
	defer srv.Close()
	client := srv.Client() // a *b24.Client whose limits match the portal's

	// The dedup key (originatorId + originId) makes the import exactly-once
	// even when a call's outcome is unknown.
	companies := func(yield func(b24.Item) bool) {
		for i := range total {
			it := b24.Item{
				Title:        "Company " + strconv.Itoa(i),
				OriginatorID: "generator",
				OriginID:     strconv.Itoa(i),
			}
			if !yield(it) {
				return
			}
		}
	}

	lastPrint := time.Now()
	progress := func(p b24.Progress) {
		if time.Since(lastPrint) < time.Second && p.Done < p.Total {
			return
		}
		lastPrint = time.Now()
		fmt.Printf("%5d/%d done, %4.0f items/s, ETA %v\n", p.Done, p.Total, p.ItemsPerSecond, p.ETA.Round(time.Second))
	}

	var imported, other int
	results := client.CRMItem.ImportSeq(ctx, b24.EntityCompany, iter.Seq[b24.Item](companies),
		b24.WithTotal(total), b24.WithProgress(progress))
	for r := range results {
		if r.Index < 0 { // a setup error, before anything was sent
			log.Fatal(r.Err)
		}
		if r.Status == b24.ItemImported {
			imported++
		} else {
			other++
			fmt.Printf("row %d: %s: %v\n", r.Index, r.Status, r.Err)
		}
	}
	fmt.Printf("imported %d of %d companies (%d other); the portal holds %d\n",
		imported, total, other, srv.ItemCount(b24.EntityCompany))
}
