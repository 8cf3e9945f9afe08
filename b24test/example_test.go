package b24test_test

import (
	"context"
	"fmt"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

func ExampleNewServer() {
	srv := b24test.NewServer()
	defer srv.Close()

	items := []b24.Item{
		{Title: "Website redesign", OriginatorID: "crm-export", OriginID: "D-1"},
		{Title: "Support contract", OriginatorID: "crm-export", OriginID: "D-2"},
	}
	res, err := srv.Client().CRMItem.BatchImport(context.Background(), b24.EntityDeal, items)
	if err != nil {
		fmt.Println("import failed:", err)
		return
	}
	for _, r := range res.Items {
		fmt.Println(r.Index, r.Status == b24.ItemImported, r.ID)
	}
	for _, it := range srv.Items(b24.EntityDeal) {
		fmt.Println(it.ID, it.Fields["title"], it.Fields["originId"])
	}
	// The import looks the dedup keys up first, then creates what is missing.
	for _, r := range srv.Requests() {
		fmt.Println("request:", r.Method)
	}
	// Output:
	// 0 true 1
	// 1 true 2
	// 1 Website redesign D-1
	// 2 Support contract D-2
	// request: crm.item.list
	// request: crm.item.batchImport
}

func ExampleServer_InjectFault() {
	srv := b24test.NewServer()
	defer srv.Close()
	srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 1})

	var res any
	err := srv.Client().Call(context.Background(), "crm.item.batchImport", map[string]any{
		"entityTypeId": 2,
		"data":         []map[string]any{{"title": "saved"}, {"title": "lost"}},
	}, &res)
	fmt.Println(err != nil, len(srv.Items(b24.EntityDeal)), srv.Stats().FaultsInjected)
	// Output: true 1 1
}

// A test about outcomes rather than pace: without limits neither the fake
// portal nor its client waits, so an import runs at loopback speed and
// nothing is refused.
func ExampleWithoutLimits() {
	srv := b24test.NewServer(b24test.WithoutLimits())
	defer srv.Close()

	items := make([]b24.Item, 2000)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprint("deal ", i)}
	}
	res, err := srv.Client().CRMItem.BatchImport(context.Background(), b24.EntityDeal, items)
	imported, _, _, _ := res.Counts()
	st := srv.Stats()
	fmt.Println(err, imported, st.RateLimited, st.OperatingLimited)
	// Output: <nil> 2000 0 0
}
