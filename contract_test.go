package b24_test

import (
	"context"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/b24kit/b24"
)

// The public contract of DESIGN.md, pinned at compile time: a change to any
// of these names or signatures breaks the build here before it breaks users.
var (
	_ func(string) (*b24.Webhook, error)                                                                                            = b24.NewWebhook
	_ func(b24.OAuthConfig) (*b24.OAuth, error)                                                                                     = b24.NewOAuth
	_ func(b24.Credentials, ...b24.Option) (*b24.Client, error)                                                                     = b24.NewClient
	_ func(*http.Client) b24.Option                                                                                                 = b24.WithHTTPClient
	_ func(float64, int) b24.Option                                                                                                 = b24.WithRateLimit
	_ func(time.Duration, time.Duration) b24.Option                                                                                 = b24.WithOperatingLimit
	_ func(b24.Limiter) b24.Option                                                                                                  = b24.WithLimiter
	_ func(*slog.Logger) b24.Option                                                                                                 = b24.WithLogger
	_ func() b24.Option                                                                                                             = b24.WithAllowHTTP
	_ func(*b24.Client, context.Context, string, any, any) error                                                                    = (*b24.Client).Call
	_ func(*b24.CRMItemService, context.Context, b24.EntityTypeID, []b24.Item, ...b24.ImportOption) (*b24.BatchImportResult, error) = (*b24.CRMItemService).BatchImport

	// Reading and updating.
	_ func(*b24.CRMItemService, context.Context, b24.EntityTypeID, int64) (b24.ItemRecord, error)                  = (*b24.CRMItemService).Get
	_ func(*b24.CRMItemService, context.Context, b24.EntityTypeID, b24.ListQuery) iter.Seq2[b24.ItemRecord, error] = (*b24.CRMItemService).List
	_ func(*b24.CRMItemService, context.Context, b24.EntityTypeID, int64, b24.Item) error                          = (*b24.CRMItemService).Update
	_ func(*b24.CRMItemService, context.Context, b24.EntityTypeID) (map[string]b24.FieldInfo, error)               = (*b24.CRMItemService).Fields
	_ func(b24.Existing) b24.ImportOption                                                                          = b24.WithExisting

	_ b24.Credentials = (*b24.Webhook)(nil)
	_ b24.Credentials = (*b24.OAuth)(nil)
	_ error           = (*b24.APIError)(nil)
	_ error           = (*b24.ItemError)(nil)
	_ error           = (*b24.ImportError)(nil)

	_ = b24.OAuthConfig{Endpoint: "", ClientID: "", ClientSecret: "", TokenURL: "",
		Token:     b24.Token{AccessToken: "", RefreshToken: "", Expiry: time.Time{}},
		OnRefresh: func(context.Context, b24.Token) error { return nil }}
	_                     = b24.BatchImportResult{Items: []b24.ItemResult{{Index: 0, Status: b24.ItemImported, ID: int64(0), Err: error(nil)}}}
	_                     = b24.ItemError{Index: 0, Code: "", Description: ""}
	_                     = b24.APIError{StatusCode: 0, Code: "", Description: "", Method: ""}
	_                     = [...]b24.ItemStatus{b24.ItemImported, b24.ItemRejected, b24.ItemUnknown, b24.ItemNotSent}
	_                     = [...]b24.EntityTypeID{b24.EntityLead, b24.EntityDeal, b24.EntityContact, b24.EntityCompany, b24.EntityQuote, b24.EntitySmartInvoice, b24.EntityTypeID(1030)}
	_ *b24.CRMItemService = (&b24.Client{}).CRMItem

	_ = b24.ItemRecord{ID: int64(0), Item: b24.Item{}}
	_ = b24.ListQuery{Filter: map[string]any{}, Select: []string{}, Order: map[string]string{}}
	_ = b24.ItemResult{Action: b24.ActionCreated}
	_ = b24.FieldInfo{Type: "", Title: "", Required: false, Multiple: false, ReadOnly: false, Items: []b24.EnumItem{}}
)

func TestContractConstants(t *testing.T) {
	got := []int{int(b24.ItemImported), int(b24.ItemRejected), int(b24.ItemUnknown), int(b24.ItemNotSent),
		int(b24.EntityLead), int(b24.EntityDeal), int(b24.EntityContact), int(b24.EntityCompany),
		int(b24.EntityQuote), int(b24.EntitySmartInvoice), b24.MaxBatchImportSize,
		int(b24.ExistingSkip), int(b24.ExistingUpdate), int(b24.ExistingCreate),
		int(b24.ActionCreated), int(b24.ActionFound), int(b24.ActionUpdated)}
	want := []int{1, 2, 3, 4, 1, 2, 3, 4, 7, 31, 20, 1, 2, 3, 1, 2, 3}
	if !slices.Equal(got, want) {
		t.Fatalf("contract constants changed: got %v, want %v", got, want)
	}
}
