package b24_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// ExampleCRMItemService_BatchImport imports three deals, one of which the
// portal refuses, and reports each row.
func ExampleCRMItemService_BatchImport() {
	srv := b24test.NewServer()
	defer srv.Close()
	client := srv.Client()

	items := []b24.Item{
		{Title: "Website redesign", Opportunity: 12000, CurrencyID: "EUR", OriginatorID: "old-crm", OriginID: "D-1"},
		{Title: "", OriginatorID: "old-crm", OriginID: "D-2"}, // deals need a title
		{Title: "Support contract", Opportunity: 990, CurrencyID: "EUR", OriginatorID: "old-crm", OriginID: "D-3"},
	}
	res, err := client.CRMItem.BatchImport(context.Background(), b24.EntityDeal, items)
	for _, r := range res.Items {
		switch r.Status {
		case b24.ItemImported:
			fmt.Printf("row %d: imported as %d\n", r.Index, r.ID)
		case b24.ItemRejected:
			var ie *b24.ItemError
			errors.As(r.Err, &ie)
			fmt.Printf("row %d: rejected: %s\n", r.Index, ie.Code)
		default:
			fmt.Printf("row %d: %s: %v\n", r.Index, r.Status, r.Err)
		}
	}
	var ierr *b24.ImportError
	if errors.As(err, &ierr) {
		fmt.Printf("%d imported, %d rejected\n", ierr.Imported, ierr.Rejected)
	}
	// Output:
	// row 0: imported as 1
	// row 1: rejected: CRM_FIELD_ERROR_REQUIRED
	// row 2: imported as 2
	// 2 imported, 1 rejected
}

// ExampleCRMItemService_ImportSeq streams generated contacts and counts the
// outcomes as they arrive.
func ExampleCRMItemService_ImportSeq() {
	srv := b24test.NewServer()
	defer srv.Close()
	client := srv.Client()

	contacts := func(yield func(b24.Item) bool) {
		for i := range 100 {
			it := b24.Item{Name: fmt.Sprintf("Contact %d", i), OriginatorID: "gen", OriginID: fmt.Sprint(i)}
			if !yield(it) {
				return
			}
		}
	}
	counts := map[b24.ItemStatus]int{}
	for r := range client.CRMItem.ImportSeq(context.Background(), b24.EntityContact, contacts) {
		counts[r.Status]++
	}
	fmt.Println("imported:", counts[b24.ItemImported], "stored:", srv.ItemCount(b24.EntityContact))
	// Output:
	// imported: 100 stored: 100
}

// ExampleAPIError shows how to branch on portal errors: by sentinel, since
// the portal sends the same code with several HTTP statuses.
func ExampleAPIError() {
	srv := b24test.NewServer()
	defer srv.Close()
	client := srv.Client()

	err := client.Call(context.Background(), "crm.no.such.method", nil, nil)
	var apiErr *b24.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code, errors.Is(err, b24.ErrMethodNotFound))
	}
	// Output:
	// 404 ERROR_METHOD_NOT_FOUND true
}

// ExampleWait shows Progress.Wait, which says what an import waits for, so a service can tell
// "throttled by the portal" from "stalled".
func ExampleWait() {
	show := func(p b24.Progress) {
		switch p.Wait.Reason {
		case b24.WaitNone:
			fmt.Printf("%d/%d done\n", p.Done, p.Total)
		case b24.WaitOperatingLimit:
			fmt.Printf("waiting for %s's operating window until %s\n", p.Wait.Method, p.Wait.Until.Format("15:04:05"))
		case b24.WaitUnreachable:
			fmt.Printf("portal unreachable (%s), attempt %d of %d\n", p.Wait.Cause, p.Wait.Attempt, p.Wait.MaxAttempts)
		default:
			fmt.Println("waiting:", p.Wait.Reason)
		}
	}
	show(b24.Progress{Total: 100, Done: 40})
	show(b24.Progress{Total: 100, Done: 40, Wait: b24.Wait{Reason: b24.WaitOperatingLimit, Method: "crm.item.batchImport",
		Until: time.Date(2026, 1, 2, 10, 4, 0, 0, time.UTC)}})
	show(b24.Progress{Wait: b24.Wait{Reason: b24.WaitUnreachable, Cause: "connection refused", Attempt: 3, MaxAttempts: 8}})
	// Output:
	// 40/100 done
	// waiting for crm.item.batchImport's operating window until 10:04:00
	// portal unreachable (connection refused), attempt 3 of 8
}

// ExampleWithOnSend records, before each request goes out, which rows it
// carries: a journal that writes this down durably before returning knows
// after a crash which rows may have reached the portal, and since when.
func ExampleWithOnSend() {
	srv := b24test.NewServer()
	defer srv.Close()
	client := srv.Client()

	items := make([]b24.Item, 45)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprint("Deal ", i), OriginatorID: "old-crm", OriginID: fmt.Sprint(i)}
	}
	var sent []int // one entry per request: how many rows it carried
	onSend := func(rows []int) error {
		sent = append(sent, len(rows)) // a real journal: write, fsync, then return
		return nil
	}
	_, err := client.CRMItem.BatchImport(context.Background(), b24.EntityDeal, items,
		b24.WithOnSend(onSend), b24.WithConcurrency(1), b24.WithPacking(1))
	fmt.Println(err, sent)
	// Output:
	// <nil> [20 20 5]
}
