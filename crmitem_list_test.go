package b24_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listedPortal is a portal holding n deals, "deal-<i>" with id i+1.
func listedPortal(t *testing.T, n int, opts ...b24test.Option) (*b24test.Server, *b24.Client) {
	t.Helper()
	srv := fakePortal(t, opts...)
	c := fastClient(t, srv)
	// One call at a time: deal-<i> gets id i+1.
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(n, false), b24.WithConcurrency(1))
	require.NoError(t, err)
	require.Equal(t, n, srv.ItemCount(b24.EntityDeal))
	return srv, c
}

func TestListTenThousandItems(t *testing.T) {
	srv, c := listedPortal(t, 10000)
	var ids []int64
	n := countRequests(srv, func() {
		for rec, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{}) {
			require.NoError(t, err)
			ids = append(ids, rec.ID)
			if rec.ID == 4242 {
				assert.Equal(t, "deal-4241", rec.Item.Title)
				assert.Equal(t, 4241.5, rec.Item.Opportunity)
				assert.Equal(t, "EUR", rec.Item.CurrencyID)
			}
		}
	})
	require.Len(t, ids, 10000)
	for i, id := range ids {
		require.Equal(t, int64(i+1), id, "in id order, each once")
	}
	assert.LessOrEqual(t, n, (10000+2499)/2500+2, "N items in at most ⌈N/2500⌉+2 requests")
}

func TestListSizes(t *testing.T) {
	// Around the page and batch edges: 0, a short first page, a full
	// first page, a full batch after it.
	for _, n := range []int{0, 7, 50, 51, 2550, 2551} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			srv, c := listedPortal(t, n)
			got := 0
			reqs := countRequests(srv, func() {
				for _, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{}) {
					require.NoError(t, err)
					got++
				}
			})
			assert.Equal(t, n, got)
			assert.LessOrEqual(t, reqs, (n+2499)/2500+2)
		})
	}
}

func TestListFilterSelectOrder(t *testing.T) {
	srv, c := listedPortal(t, 300)
	_ = srv
	q := b24.ListQuery{Filter: map[string]any{">opportunity": 100, ">=id": 120}, Select: []string{"title"}, Order: map[string]string{"id": "DESC"}}
	var ids []int64
	for rec, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, q) {
		require.NoError(t, err)
		ids = append(ids, rec.ID)
		assert.NotEmpty(t, rec.Item.Title)
		assert.Zero(t, rec.Item.Opportunity, "not selected")
	}
	require.Len(t, ids, 181)
	assert.Equal(t, int64(300), ids[0])
	assert.Equal(t, int64(120), ids[len(ids)-1])

	// Another order pages by offset.
	var titles []string
	for rec, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{Order: map[string]string{"opportunity": "DESC"}}) {
		require.NoError(t, err)
		titles = append(titles, rec.Item.Title)
	}
	require.Len(t, titles, 300)
	assert.Equal(t, "deal-299", titles[0])
	assert.Equal(t, "deal-0", titles[299])

	// A filter value a batch would alter is read a page at a time.
	n := 0
	for _, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{Filter: map[string]any{"!title": "$result[x][y]"}}) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 300, n)
}

func TestListBreakStopsRequests(t *testing.T) {
	srv, c := listedPortal(t, 3000)
	got := 0
	reqs := countRequests(srv, func() {
		for _, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{}) {
			require.NoError(t, err)
			got++
			if got == 120 {
				break
			}
		}
	})
	assert.Equal(t, 120, got)
	assert.Equal(t, 2, reqs, "the first page and one batch, nothing after the break")
}

func TestListCancelled(t *testing.T) {
	_, c := listedPortal(t, 3000)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got, errs := 0, 0
	for _, err := range c.CRMItem.List(ctx, b24.EntityDeal, b24.ListQuery{}) {
		if err != nil {
			errs++
			assert.ErrorIs(t, err, context.Canceled)
			continue
		}
		got++
		if got == 60 {
			cancel()
		}
	}
	assert.Equal(t, 1, errs, "the error is yielded once, last")
	assert.Less(t, got, 3000)
}

func TestListRefusedPage(t *testing.T) {
	srv, c := listedPortal(t, 10)
	srv.InjectFault(b24test.Fault{Method: "crm.item.list", Kind: b24test.FaultRefuse, Code: "ACCESS_DENIED", Status: 403})
	var last error
	for _, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{}) {
		last = err
	}
	assert.ErrorIs(t, last, b24.ErrAccessDenied)
	for _, err := range c.CRMItem.List(t.Context(), 0, b24.ListQuery{}) {
		assert.ErrorIs(t, err, b24.ErrInvalidInput)
	}
}

func TestListUnderFaults(t *testing.T) {
	srv, c := listedPortal(t, 6000, b24test.WithSeed(3))
	srv.InjectFault(b24test.Fault{Kind: b24test.FaultDropAfterExecute, Probability: 0.3})
	srv.InjectFault(b24test.Fault{Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Probability: 0.3})
	seen := map[int64]bool{}
	for rec, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{}) {
		require.NoError(t, err)
		require.False(t, seen[rec.ID], "id %d twice", rec.ID)
		seen[rec.ID] = true
	}
	assert.Len(t, seen, 6000)
}

func TestGet(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	id, err := c.CRMItem.Import(t.Context(), b24.EntityContact, b24.Item{Name: "Anna", Birthdate: b24.NewDate(1990, 5, 17),
		Opened: b24.No, Phones: []b24.Multifield{{Value: "+4930", ValueType: "WORK"}}, Parents: map[b24.EntityTypeID]int64{1220: 4},
		Fields: map[string]any{"ufCrm_1": "x"}})
	require.NoError(t, err)
	rec, err := c.CRMItem.Get(t.Context(), b24.EntityContact, id)
	require.NoError(t, err)
	assert.Equal(t, id, rec.ID)
	assert.Equal(t, "Anna", rec.Item.Name)
	assert.Equal(t, b24.NewDate(1990, 5, 17), rec.Item.Birthdate)
	assert.Equal(t, b24.No, rec.Item.Opened)
	assert.Equal(t, []b24.Multifield{{Value: "+4930", ValueType: "WORK"}}, rec.Item.Phones)
	assert.Equal(t, map[b24.EntityTypeID]int64{1220: 4}, rec.Item.Parents)
	assert.Equal(t, "x", rec.Item.Fields["ufCrm_1"])
	assert.False(t, rec.Item.CreatedTime.IsZero())
	typed, ok := srv.Record(b24.EntityContact, id)
	require.True(t, ok)
	assert.Equal(t, rec, typed, "the fake's typed view reads the same")

	_, err = c.CRMItem.Get(t.Context(), b24.EntityContact, id+100)
	assert.ErrorIs(t, err, b24.ErrNotFound)
	_, err = c.CRMItem.Get(t.Context(), b24.EntityContact, 0)
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
	assert.False(t, errors.Is(err, b24.ErrNotFound))
}
