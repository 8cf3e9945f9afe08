package b24_test

import (
	"context"
	"fmt"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// ExampleWithExisting runs a nightly sync twice: the second run creates
// nothing, and as an upsert it writes only the row that changed.
func ExampleWithExisting() {
	srv := b24test.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	customers := []b24.Item{
		{Name: "Anna", LastName: "Müller", Post: "buyer", OriginatorID: "shop", OriginID: "C-1"},
		{Name: "Ben", LastName: "Okafor", Post: "owner", OriginatorID: "shop", OriginID: "C-2"},
	}
	if _, err := client.CRMItem.BatchImport(ctx, b24.EntityContact, customers); err != nil {
		fmt.Println(err)
		return
	}
	res, _ := client.CRMItem.BatchImport(ctx, b24.EntityContact, customers) // the same rows again
	for _, r := range res.Items {
		fmt.Println(r.Index, r.Action, r.ID)
	}

	customers[1].Post = "CEO"
	res, _ = client.CRMItem.BatchImport(ctx, b24.EntityContact, customers, b24.WithExisting(b24.ExistingUpdate))
	for _, r := range res.Items {
		fmt.Println(r.Index, r.Action, r.ID)
	}
	rec, _ := srv.Record(b24.EntityContact, 2)
	fmt.Println(srv.ItemCount(b24.EntityContact), "contacts;", rec.Item.Name, "is", rec.Item.Post)
	// Output:
	// 0 found 1
	// 1 found 2
	// 0 found 1
	// 1 updated 2
	// 2 contacts; Ben is CEO
}

// ExampleCRMItemService_List reads every deal of a source system back,
// typed, and updates one.
func ExampleCRMItemService_List() {
	srv := b24test.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	_, _ = client.CRMItem.BatchImport(ctx, b24.EntityDeal, []b24.Item{
		{Title: "Website redesign", Opportunity: 12000, CurrencyID: "EUR", OriginatorID: "old-crm", OriginID: "D-1"},
		{Title: "Support contract", Opportunity: 990, CurrencyID: "EUR", OriginatorID: "old-crm", OriginID: "D-2"},
		{Title: "Walk-in", Opportunity: 50, CurrencyID: "EUR"},
	}, b24.WithConcurrency(1))

	q := b24.ListQuery{Filter: map[string]any{"=originatorId": "old-crm"}, Select: []string{"title", "opportunity"}}
	for rec, err := range client.CRMItem.List(ctx, b24.EntityDeal, q) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.ID, rec.Item.Title, rec.Item.Opportunity)
	}

	err := client.CRMItem.Update(ctx, b24.EntityDeal, 2, b24.Item{StageID: "WON", Fields: map[string]any{"comments": b24.Clear}})
	rec, _ := client.CRMItem.Get(ctx, b24.EntityDeal, 2)
	fmt.Println(err, rec.Item.Title, rec.Item.StageID)
	// Output:
	// 1 Website redesign 12000
	// 2 Support contract 990
	// <nil> Support contract WON
}
