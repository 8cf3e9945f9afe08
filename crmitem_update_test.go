package b24_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpdate(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	id, err := c.CRMItem.Import(t.Context(), b24.EntityContact, b24.Item{Name: "Anna", Post: "buyer", Comments: "vip",
		Phones: []b24.Multifield{{Value: "+49 30 1", ValueType: "WORK"}, {Value: "+49 30 2", ValueType: "HOME"}},
		Emails: []b24.Multifield{{Value: "anna@example.com", ValueType: "WORK"}},
		Fields: map[string]any{"ufCrm_7": "keep"}})
	require.NoError(t, err)

	// Only what the item sets changes; Clear empties; the phone list is
	// replaced (the WORK number kept, HOME rewritten, a MOBILE added).
	err = c.CRMItem.Update(t.Context(), b24.EntityContact, id, b24.Item{Post: "owner",
		Phones: []b24.Multifield{{Value: "+4930 1", ValueType: "WORK"}, {Value: "+1 555", ValueType: "MOBILE"}, {Value: "+1 556", ValueType: "FAX"}},
		Fields: map[string]any{"comments": b24.Clear}})
	require.NoError(t, err)
	rec, ok := srv.Record(b24.EntityContact, id)
	require.True(t, ok)
	assert.Equal(t, "Anna", rec.Item.Name)
	assert.Equal(t, "owner", rec.Item.Post)
	assert.Empty(t, rec.Item.Comments)
	assert.Equal(t, "keep", rec.Item.Fields["ufCrm_7"])
	assert.Equal(t, []b24.Multifield{{Value: "+49 30 1", ValueType: "WORK"}, {Value: "+1 555", ValueType: "MOBILE"}, {Value: "+1 556", ValueType: "FAX"}},
		rec.Item.Phones)
	assert.Equal(t, []b24.Multifield{{Value: "anna@example.com", ValueType: "WORK"}}, rec.Item.Emails, "a kind the item does not set is kept")

	// Clearing a kind deletes every value of it.
	require.NoError(t, c.CRMItem.Update(t.Context(), b24.EntityContact, id, b24.Item{Fields: map[string]any{"EMAIL": b24.Clear}}))
	rec, _ = srv.Record(b24.EntityContact, id)
	assert.Empty(t, rec.Item.Emails)
	assert.Len(t, rec.Item.Phones, 3)

	err = c.CRMItem.Update(t.Context(), b24.EntityContact, id, b24.Item{CreatedTime: time.Now().Add(-time.Hour)})
	require.ErrorIs(t, err, b24.ErrInvalidInput)
	var ie *b24.ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, b24.CodeImportOnly, ie.Code)

	err = c.CRMItem.Update(t.Context(), b24.EntityContact, id, b24.Item{Post: "x", Fields: map[string]any{"post": b24.Clear}})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, b24.CodeDuplicateField, ie.Code, "set and cleared at once")

	assert.ErrorIs(t, c.CRMItem.Update(t.Context(), b24.EntityContact, id+10, b24.Item{Post: "x"}), b24.ErrNotFound)
	assert.ErrorIs(t, c.CRMItem.Update(t.Context(), b24.EntityContact, id, b24.Item{}), b24.ErrInvalidInput)
}

func TestBatchUpdate(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	created, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(130, false), b24.WithConcurrency(1))
	require.NoError(t, err)
	var recs []b24.ItemRecord
	for rec, err := range c.CRMItem.List(t.Context(), b24.EntityDeal, b24.ListQuery{}) {
		require.NoError(t, err)
		rec.Item = b24.Item{Comments: "checked " + rec.Item.Title, Ref: rec.ID}
		recs = append(recs, rec)
	}
	recs = append(recs, b24.ItemRecord{ID: 9999, Item: b24.Item{Comments: "gone"}}, b24.ItemRecord{ID: 1, Item: b24.Item{UpdatedBy: 3}})
	var res *b24.BatchImportResult
	reqs := countRequests(srv, func() { res, err = c.CRMItem.BatchUpdate(t.Context(), b24.EntityDeal, recs) })
	require.Error(t, err)
	var ie *b24.ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 130, ie.Imported)
	assert.Equal(t, 2, ie.Rejected)
	for i, r := range res.Items[:130] {
		assert.Equal(t, b24.ItemImported, r.Status, "row %d: %v", i, r.Err)
		assert.Equal(t, b24.ActionUpdated, r.Action)
		assert.Equal(t, recs[i].ID, r.ID)
		assert.Equal(t, recs[i].ID, r.Ref)
	}
	var notFound, importOnly *b24.ItemError
	require.ErrorAs(t, res.Items[130].Err, &notFound)
	assert.Equal(t, "NOT_FOUND", notFound.Code)
	require.ErrorAs(t, res.Items[131].Err, &importOnly)
	assert.Equal(t, b24.CodeImportOnly, importOnly.Code)
	assert.Less(t, reqs, 20, "updates travel packed")
	for _, it := range srv.Items(b24.EntityDeal) {
		assert.Equal(t, "checked "+it.Fields["title"].(string), it.Fields["comments"])
	}
	_ = created
}

func TestBatchUpdatePlainAndUnderFaults(t *testing.T) {
	srv := fakePortal(t, b24test.WithSeed(5))
	c := fastClient(t, srv)
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(200, false), b24.WithConcurrency(1))
	require.NoError(t, err)
	srv.InjectFault(b24test.Fault{Kind: b24test.FaultDropAfterExecute, Probability: 0.2})
	srv.InjectFault(b24test.Fault{Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Probability: 0.2})
	for _, packing := range []int{1, 0} {
		var recs []b24.ItemRecord
		for id := int64(1); id <= 200; id++ {
			recs = append(recs, b24.ItemRecord{ID: id, Item: b24.Item{Comments: fmt.Sprintf("pass %d", packing)}})
		}
		res, err := c.CRMItem.BatchUpdate(t.Context(), b24.EntityDeal, recs, b24.WithPacking(packing))
		require.NoError(t, err, "updates that set values are sent again when their answer is lost")
		for _, r := range res.Items {
			assert.Equal(t, b24.ActionUpdated, r.Action)
		}
		for _, it := range srv.Items(b24.EntityDeal) {
			assert.Equal(t, fmt.Sprintf("pass %d", packing), it.Fields["comments"])
		}
	}
}
