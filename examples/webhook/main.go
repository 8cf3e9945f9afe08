// Command webhook imports a few leads through an incoming webhook and
// handles every row's outcome. It runs against an in-process fake portal
// (b24test); for a real portal, pass your webhook URL to b24.NewWebhook
// and drop b24.WithAllowHTTP.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

func main() {
	srv := b24test.NewServer()
	defer srv.Close()

	wh, err := b24.NewWebhook(srv.WebhookURL())
	if err != nil {
		log.Fatal(err)
	}
	client, err := b24.NewClient(wh, b24.WithAllowHTTP())
	if err != nil {
		log.Fatal(err)
	}

	leads := []b24.Item{
		{Title: "Website enquiry", Name: "Anna", LastName: "Schmidt", OriginatorID: "shop", OriginID: "1001",
			Emails: []b24.Multifield{{Value: "anna@example.com", ValueType: "WORK"}}},
		{Title: "Звонок с выставки", Name: "Иван", LastName: "Петров", OriginatorID: "shop", OriginID: "1002",
			Phones: []b24.Multifield{{Value: "+7 495 123-45-67", ValueType: "MOBILE"}}},
		{Title: "", Name: "", OriginatorID: "shop", OriginID: "1003"}, // the portal refuses a lead without a title
		{Title: "Typo", OriginatorID: "shop", OriginID: "1004",
			Fields: map[string]any{"isReccurring": "Y"}}, // a misspelt field: refused before sending
	}

	// The result always holds one entry per item, also when err is not nil.
	res, err := client.CRMItem.BatchImport(context.Background(), b24.EntityLead, leads)
	for _, r := range res.Items {
		switch r.Status {
		case b24.ItemImported:
			fmt.Printf("row %d: imported as lead %d\n", r.Index, r.ID)
		case b24.ItemRejected:
			var ie *b24.ItemError
			if errors.As(r.Err, &ie) {
				fmt.Printf("row %d: rejected: %s\n", r.Index, ie.Code)
			}
		default: // ItemUnknown or ItemNotSent: check or retry later
			fmt.Printf("row %d: %s: %v\n", r.Index, r.Status, r.Err)
		}
	}

	var ie *b24.ImportError
	switch {
	case err == nil:
		fmt.Println("all rows imported")
	case errors.As(err, &ie):
		fmt.Printf("summary: %d imported, %d rejected, %d unknown, %d not sent\n", ie.Imported, ie.Rejected, ie.Unknown, ie.NotSent)
	default:
		log.Fatal(err)
	}
}
