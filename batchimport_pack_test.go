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

// mixedDeals is an input with every kind of row: valid, refused by the
// portal, typed fields of every shape, and values that need escaping.
func mixedDeals(n int) []b24.Item {
	items := deals(n, true)
	for i := range items {
		it := &items[i]
		switch i % 7 {
		case 1:
			it.Title = "" // refused by the portal
		case 2:
			it.Comments = "a&b=c [x] ünï 中文\nline2 %20 +plus"
			it.ContactIDs = []int64{4, 5}
			it.Opened = b24.No
		case 3:
			if i%100 == 3 {
				it.Comments = "costs $result[c0] exactly" // placeholder text: its call goes on its own
			}
		case 4:
			it.Begindate = b24.NewDate(2024, time.March, 5)
			it.Fields = map[string]any{"ufCrm_1721244707107": 1111.1, "ufCrmFlag": true}
		}
	}
	return items
}

func TestPackingGivesTheSameResultsRowForRow(t *testing.T) {
	run := func(packing int) (*b24.BatchImportResult, *b24test.Server) {
		srv := fakePortal(t)
		c := fastClient(t, srv)
		res, _ := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, mixedDeals(300), b24.WithPacking(packing))
		return res, srv
	}
	plain, plainSrv := run(1)
	packed, packedSrv := run(10)
	require.Len(t, packed.Items, len(plain.Items))
	for i := range plain.Items {
		p, q := plain.Items[i], packed.Items[i]
		require.Equal(t, p.Status, q.Status, "row %d: %v / %v", i, p.Err, q.Err)
		if p.Status == b24.ItemRejected {
			var pe, qe *b24.ItemError
			require.ErrorAs(t, p.Err, &pe)
			require.ErrorAs(t, q.Err, &qe)
			assert.Equal(t, pe.Code, qe.Code, "row %d", i)
		}
	}
	batches := 0
	for _, r := range packedSrv.Requests() {
		if r.Method == "batch" {
			batches++
		}
	}
	assert.Positive(t, batches, "the packed run used batch requests")
	assert.Less(t, len(packedSrv.Requests()), len(plainSrv.Requests()), "packing needs fewer requests")
	// The stored values are the same either way.
	pi, qi := plainSrv.Items(b24.EntityDeal), packedSrv.Items(b24.EntityDeal)
	require.Len(t, qi, len(pi))
	byTitle := map[string]map[string]any{}
	for _, it := range pi {
		byTitle[fmt.Sprint(it.Fields["title"])] = it.Fields
	}
	for _, it := range qi {
		want := byTitle[fmt.Sprint(it.Fields["title"])]
		require.NotNil(t, want)
		for _, k := range []string{"comments", "opportunity", "begindate", "opened"} {
			assert.Equal(t, fmt.Sprint(want[k]), fmt.Sprint(it.Fields[k]), "field %s of %v", k, it.Fields["title"])
		}
	}
}

func TestPackingRecoversFromFaults(t *testing.T) {
	for name, f := range map[string]b24test.Fault{
		"dropped batch":           {Method: "batch", Kind: b24test.FaultDropAfterExecute, Times: 2},
		"partial save in a batch": {Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 4, Times: 3},
		"refused command":         {Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "OPERATION_TIME_LIMIT", Times: 3},
		"500 on the batch":        {Method: "batch", Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Times: 2},
	} {
		t.Run(name, func(t *testing.T) {
			srv := fakePortal(t)
			c := fastClient(t, srv, b24.WithOperatingLimit(time.Second, time.Second))
			srv.InjectFault(f)
			items := deals(400, true)
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithPacking(5))
			require.NoError(t, err)
			assertExactlyOnce(t, srv, items, res)
			assert.Positive(t, srv.Stats().FaultsInjected)
		})
	}
}

func TestPackedHistoryKeepsOrder(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 6, Times: 1})
	items := historyDeals(300)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithPacking(4))
	require.NoError(t, err)
	assertExactlyOnce(t, srv, items, res)
	assertIDsAscending(t, res)
}
