package b24_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countRequests returns how many requests srv received while fn ran.
func countRequests(srv *b24test.Server, fn func()) int {
	before := srv.Stats().Requests
	fn()
	return srv.Stats().Requests - before
}

func TestReRunCreatesNothing(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	items := deals(10000, true)
	first, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
	require.NoError(t, err)
	for _, r := range first.Items {
		require.Equal(t, b24.ActionCreated, r.Action, "row %d", r.Index)
	}
	var second *b24.BatchImportResult
	n := countRequests(srv, func() {
		second, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
	})
	require.NoError(t, err)
	assert.Equal(t, 10000, srv.ItemCount(b24.EntityDeal), "the re-run created nothing")
	for i, r := range second.Items {
		assert.Equal(t, b24.ItemImported, r.Status, "row %d", i)
		assert.Equal(t, b24.ActionFound, r.Action, "row %d", i)
		assert.Equal(t, first.Items[i].ID, r.ID, "row %d", i)
	}
	assert.LessOrEqual(t, n, 10, "at most 1 request per 1,000 rows")
}

// TestReRunUnderFaults re-runs a keyed import under each fault kind, the
// first run under the same fault: nothing is created twice and every row
// ends imported with its item's id and the right action.
func TestReRunUnderFaults(t *testing.T) {
	const bi = "crm.item.batchImport"
	cases := map[string][]b24test.Fault{
		"dropped after execute":   {{Kind: b24test.FaultDropAfterExecute, Probability: 0.2}},
		"5xx before execution":    {{Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Probability: 0.2}},
		"partial save":            {{Method: bi, Kind: b24test.FaultPartialSave, Keep: 7, Probability: 0.3}},
		"query limit storm":       {{Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Probability: 0.4}},
		"operation time limit":    {{Kind: b24test.FaultRefuse, Code: "OPERATION_TIME_LIMIT", Probability: 0.2}},
		"lookups dropped":         {{Method: "batch", Kind: b24test.FaultDropAfterExecute, Probability: 0.3}, {Method: "crm.item.list", Kind: b24test.FaultDropAfterExecute, Times: 3}},
		"lookups refused in 503s": {{Method: "crm.item.list", Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Probability: 0.5}},
	}
	for name, faults := range cases {
		t.Run(name, func(t *testing.T) {
			srv := fakePortal(t, b24test.WithSeed(7))
			for _, f := range faults {
				srv.InjectFault(f)
			}
			// A short operating window: a refused method waits for its reset.
			c := fastClient(t, srv, b24.WithOperatingLimit(200*time.Millisecond, 200*time.Millisecond))
			items := deals(600, true)
			for i := range items {
				items[i].Ref = i
			}
			first, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithPacking(4))
			require.NoError(t, err)
			assertExactlyOnce(t, srv, items, first)
			// The second run sees half the rows edited and a hundred new ones.
			again := append(deals(600, true), deals(700, true)[600:]...)
			second, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, again, b24.WithPacking(4))
			require.NoError(t, err)
			assertExactlyOnce(t, srv, again, second)
			assertFoundThenCreated(t, first, second, 600)
			for i, r := range first.Items {
				assert.Equal(t, i, r.Ref, "row %d carries its Ref", i)
			}
		})
	}
}

func TestUpsertChangesExactlyTheFieldsSet(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	contact := func(i int) b24.Item {
		return b24.Item{Name: fmt.Sprintf("Anna %d", i), LastName: "Müller", Post: "buyer", Opened: b24.Yes,
			Birthdate: b24.NewDate(1990, 5, i+1), OriginatorID: "crm-x", OriginID: fmt.Sprintf("c-%d", i),
			Phones: []b24.Multifield{{Value: fmt.Sprintf("+49 30 %d", i), ValueType: "WORK"}},
			Fields: map[string]any{"ufCrm_5": "gold", "comments": "note"}}
	}
	var rows []b24.Item
	for i := range 4 {
		rows = append(rows, contact(i))
	}
	rows[0].Fields = map[string]any{"ufCrm_5": "gold"}
	rows[0].Comments = "note"
	for i := range rows {
		rows[i].Fields = map[string]any{"ufCrm_5": "gold"}
		rows[i].Comments = "note"
	}
	created, err := c.CRMItem.BatchImport(t.Context(), b24.EntityContact, rows)
	require.NoError(t, err)

	// A nightly sync: row 0 unchanged (phone spelled differently, the
	// portal compares it by its digits), row 1 renamed, row 2 with a new
	// phone and its comments cleared, row 3 is new, row 4 as well.
	sync := []b24.Item{contact(0), contact(1), contact(2), contact(7)}
	for i := range sync {
		sync[i].Fields = map[string]any{"ufCrm_5": "gold"}
		sync[i].Comments = "note"
	}
	sync[0].Phones = []b24.Multifield{{Value: "+493000", ValueType: "WORK"}}
	sync[0].Phones[0].Value = "+49 300"
	sync[1].LastName = "Schmidt"
	sync[2].Phones = []b24.Multifield{{Value: "+1 555 0100", ValueType: "MOBILE"}}
	sync[2].Comments = ""
	sync[2].Fields["comments"] = b24.Clear
	before := srv.Stats()
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityContact, sync, b24.WithExisting(b24.ExistingUpdate))
	require.NoError(t, err)
	assert.Equal(t, []b24.ItemAction{b24.ActionFound, b24.ActionUpdated, b24.ActionUpdated, b24.ActionCreated},
		[]b24.ItemAction{res.Items[0].Action, res.Items[1].Action, res.Items[2].Action, res.Items[3].Action})
	for i := range 3 {
		assert.Equal(t, created.Items[i].ID, res.Items[i].ID, "row %d", i)
	}
	after := srv.Stats()
	assert.Equal(t, 2, after.ItemsUpdated-before.ItemsUpdated, "only the rows that changed were written")
	assert.Equal(t, 1, after.ItemsCreated-before.ItemsCreated)

	r1, ok := srv.Record(b24.EntityContact, created.Items[1].ID)
	require.True(t, ok)
	assert.Equal(t, "Schmidt", r1.Item.LastName)
	assert.Equal(t, "buyer", r1.Item.Post, "a field the row does not change keeps its value")
	assert.Equal(t, "note", r1.Item.Comments)
	r2, ok := srv.Record(b24.EntityContact, created.Items[2].ID)
	require.True(t, ok)
	assert.Empty(t, r2.Item.Comments, "cleared")
	assert.Equal(t, []b24.Multifield{{Value: "+1 555 0100", ValueType: "MOBILE"}}, r2.Item.Phones, "the phone list replaced")
	assert.Equal(t, "gold", r2.Item.Fields["ufCrm_5"])
	r0, ok := srv.Record(b24.EntityContact, created.Items[0].ID)
	require.True(t, ok)
	assert.Equal(t, "+49 30 0", r0.Item.Phones[0].Value, "an unchanged row is not written")

	// The same sync again writes nothing at all.
	before = srv.Stats()
	res, err = c.CRMItem.BatchImport(t.Context(), b24.EntityContact, sync, b24.WithExisting(b24.ExistingUpdate))
	require.NoError(t, err)
	for i, r := range res.Items {
		assert.Equal(t, b24.ActionFound, r.Action, "row %d", i)
	}
	assert.Equal(t, before.ItemsUpdated, srv.Stats().ItemsUpdated)
	assert.Equal(t, before.ItemsCreated, srv.Stats().ItemsCreated)
}

func TestUpsertNormalisesValues(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	row := b24.Item{Title: "A", Opportunity: 999.99, Probability: 30, IsManualOpportunity: b24.Yes,
		Begindate: b24.NewDate(2024, 6, 18), ContactIDs: []int64{5, 4}, OriginatorID: "crm-x", OriginID: "n-1",
		Parents: map[b24.EntityTypeID]int64{1220: 2}, Fields: map[string]any{"ufCrm_1": 12.5, "ufCrm_2": []any{"3", "1"}}}
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, []b24.Item{row})
	require.NoError(t, err)
	// The same values spelled as the portal might hold them.
	same := row
	same.ContactIDs = []int64{4, 5}
	same.OriginID = "N-1 "
	same.Fields = map[string]any{"ufCrm_1": "12.50", "ufCrm_2": []any{1, 3}} // the portal answers numbers
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, []b24.Item{same}, b24.WithExisting(b24.ExistingUpdate))
	require.NoError(t, err)
	assert.Equal(t, b24.ActionFound, res.Items[0].Action)
	assert.Zero(t, srv.Stats().ItemsUpdated)
}

func TestHalfKeyIsRejected(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	rows := []b24.Item{{Title: "no originator", OriginID: "1"}, {Title: "no origin id", OriginatorID: "crm-x"}, {Title: "ok"}}
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, rows)
	require.Error(t, err)
	for i := range 2 {
		require.Equal(t, b24.ItemRejected, res.Items[i].Status)
		var ie *b24.ItemError
		require.ErrorAs(t, res.Items[i].Err, &ie)
		assert.Equal(t, b24.CodeIncompleteKey, ie.Code)
	}
	assert.Equal(t, b24.ItemImported, res.Items[2].Status)
	assert.Equal(t, 1, srv.ItemCount(b24.EntityDeal))
	assert.ErrorIs(t, (&b24.Item{OriginID: "1"}).Validate(b24.EntityLead), b24.ErrInvalidInput)
	assert.NoError(t, (&b24.Item{Title: "x", XMLID: "1", OriginID: "1"}).Validate(b24.EntitySmartInvoice), "not a key of invoices")
}

func TestDuplicateKeyInInputIsRejected(t *testing.T) {
	rows := []b24.Item{
		{Title: "first", OriginatorID: "crm-x", OriginID: "7"},
		{Title: "second", OriginatorID: "CRM-X", OriginID: "7 "}, // the same key to the portal's collation
		{Title: "other", OriginatorID: "crm-x", OriginID: "8"},
	}
	for _, existing := range []b24.Existing{b24.ExistingSkip, b24.ExistingUpdate, b24.ExistingCreate} {
		t.Run(existing.String(), func(t *testing.T) {
			srv := fakePortal(t)
			c := fastClient(t, srv)
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, rows, b24.WithExisting(existing))
			require.Error(t, err)
			var ie *b24.ItemError
			require.ErrorAs(t, res.Items[1].Err, &ie)
			assert.Equal(t, b24.CodeDuplicateKey, ie.Code)
			assert.Contains(t, ie.Description, `originId "7 "`)
			assert.Equal(t, b24.ItemImported, res.Items[0].Status)
			assert.Equal(t, b24.ItemImported, res.Items[2].Status)
			assert.Equal(t, map[string][]int64{"first": {1}, "other": {2}}, storedByTitle(srv, b24.EntityDeal),
				"the second row was never sent")
		})
	}
}

func TestExistingCreateSkipsTheLookup(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(30, true), b24.WithExisting(b24.ExistingCreate))
	require.NoError(t, err)
	for _, r := range srv.Requests() {
		assert.Equal(t, "crm.item.batchImport", r.Method)
	}
	_, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(1, true), b24.WithExisting(b24.Existing(9)))
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
}

func TestExistingHistoryStaysInOrder(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	rows := historyDeals(300)
	for i := range rows {
		if i%3 == 0 {
			rows[i].OriginatorID, rows[i].OriginID = "", "" // rows without a key wait behind the lookups
		}
	}
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, rows)
	require.NoError(t, err)
	assertIDsAscending(t, res)
}

func TestExistingLookupFailureSendsNothing(t *testing.T) {
	srv := fakePortal(t)
	srv.Handle("crm.item.list", func(context.Context, map[string]any) (any, error) {
		return nil, &b24test.Error{Code: "ACCESS_DENIED", Description: "no read right", Status: 403}
	})
	c := fastClient(t, srv)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(5, true))
	require.Error(t, err)
	assert.ErrorIs(t, err, b24.ErrImportStopped)
	for _, r := range res.Items {
		assert.Equal(t, b24.ItemNotSent, r.Status)
	}
	assert.Zero(t, srv.ItemCount(b24.EntityDeal))
	assert.True(t, strings.Contains(err.Error(), "no read right"), err.Error())
	assert.False(t, errors.Is(err, context.Canceled))
}

// TestFirstImportLooksNothingUp: into a portal that holds no item of the
// input's originator, a keyed import asks one probe and then creates,
// instead of looking its keys up 2,500 at a time; items of another
// originator do not count.
func TestFirstImportLooksNothingUp(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	other := deals(3, true)
	for i := range other {
		other[i].OriginatorID = "erp"
	}
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, other)
	require.NoError(t, err)

	var res *b24.BatchImportResult
	n := countRequests(srv, func() {
		res, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(10000, true), b24.WithPacking(1))
	})
	require.NoError(t, err)
	for i, r := range res.Items {
		require.Equal(t, b24.ActionCreated, r.Action, "row %d", i)
	}
	assert.Equal(t, 10000/20+1, n, "the calls and one probe")
	assert.Equal(t, 10003, srv.ItemCount(b24.EntityDeal))
}

// TestProbeOfAHeldOriginatorLooksUp: an originator the portal holds items
// of has its rows looked up key by key (a row already there is found), while
// the rows of an originator it holds nothing of in the same input are not.
func TestProbeOfAHeldOriginatorLooksUp(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	held := deals(1, true)
	held[0].OriginatorID, held[0].OriginID = "CRM-Y ", "o-7" // found as "crm-y"
	before, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, held)
	require.NoError(t, err)

	items := deals(400, true)
	for i := range items {
		if i%2 == 1 {
			items[i].OriginatorID = "crm-y"
		}
	}
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithPacking(1))
	require.NoError(t, err)
	for i, r := range res.Items {
		want := b24.ActionCreated
		if i == 7 {
			want = b24.ActionFound
			assert.Equal(t, before.Items[0].ID, r.ID)
		}
		assert.Equal(t, want, r.Action, "row %d", i)
	}
	assert.Equal(t, 400, srv.ItemCount(b24.EntityDeal))
}

// TestFailedProbeSendsNothingUnchecked: while the probe fails, the rows
// waiting for it are not sent (they might be in the portal); a later
// window asks again, and no row is created twice.
func TestFailedProbeSendsNothingUnchecked(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv, b24.WithRetry(b24.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	items := deals(200, true)
	first, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
	require.NoError(t, err)

	srv.InjectFault(b24test.Fault{Method: "crm.item.list", Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Times: 2})
	again := deals(3000, true)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, again, b24.WithPacking(1))
	require.ErrorContains(t, err, "INTERNAL_SERVER_ERROR")
	require.NotNil(t, res)
	notSent, created := 0, 0
	for i, r := range res.Items {
		switch {
		case r.Status == b24.ItemNotSent:
			notSent++
			assert.Less(t, i, 1000, "only the first windows wait for the probe")
		case i < 200:
			assert.Equal(t, b24.ActionFound, r.Action, "row %d", i)
			assert.Equal(t, first.Items[i].ID, r.ID, "row %d", i)
		default:
			assert.Equal(t, b24.ActionCreated, r.Action, "row %d", i)
			created++
		}
	}
	assert.GreaterOrEqual(t, notSent, 100, "the first window waited for the failed probe")
	assert.Equal(t, 200+created, srv.ItemCount(b24.EntityDeal))
	copies := storedByTitle(srv, b24.EntityDeal)
	for title, ids := range copies {
		assert.Len(t, ids, 1, "%s stored once", title)
	}
}

// TestProbeOfXMLIDKeys: smart invoices are keyed by xmlId, so their probe
// asks whether the type holds any item at all: none, and nothing is
// looked up; one, and every key is (the row already there is found).
func TestProbeOfXMLIDKeys(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	invoices := func(n int) []b24.Item {
		items := make([]b24.Item, n)
		for i := range items {
			items[i] = b24.Item{Title: fmt.Sprintf("invoice-%d", i), XMLID: fmt.Sprintf("inv-%d", i)}
		}
		return items
	}
	var first *b24.BatchImportResult
	var err error
	n := countRequests(srv, func() {
		first, err = c.CRMItem.BatchImport(t.Context(), b24.EntitySmartInvoice, invoices(1000), b24.WithPacking(1))
	})
	require.NoError(t, err)
	assert.Equal(t, 1000/20+1, n, "the calls and one probe")

	var again *b24.BatchImportResult
	n = countRequests(srv, func() {
		again, err = c.CRMItem.BatchImport(t.Context(), b24.EntitySmartInvoice, invoices(1100), b24.WithPacking(1))
	})
	require.NoError(t, err)
	assert.Greater(t, n, 100/20+1, "the keys were looked up")
	assertFoundThenCreated(t, first, again, 1000)
	assert.Equal(t, 1100, srv.ItemCount(b24.EntitySmartInvoice))
}
