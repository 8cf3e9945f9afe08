package b24test

import (
	"net/http"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// getItem returns crm.item.get's item.
func getItem(t *testing.T, srv *Server, et, id string) map[string]any {
	t.Helper()
	var res struct {
		Item map[string]any `json:"item"`
	}
	call(t, srv, "crm.item.get", `{"entityTypeId":`+et+`,"id":`+id+`}`).decode(t, &res)
	return res.Item
}

func TestUpdateSemantics(t *testing.T) {
	srv := newTestServer(t)
	call(t, srv, "crm.item.import", `{"entityTypeId":3,"fields":{"name":"Anna","post":"buyer","comments":"vip",
		"createdTime":"2024-01-02T03:04:05+00:00","originatorId":"x","originId":"7",
		"PHONE":[{"VALUE":"+1","VALUE_TYPE":"WORK"},{"VALUE":"+2","VALUE_TYPE":"HOME"}]}}`).decode(t, &map[string]any{})
	item := getItem(t, srv, "3", "1")
	fm := item["fm"].([]any)
	require.Len(t, fm, 2)
	first := fm[0].(map[string]any)
	assert.Equal(t, map[string]any{"id": float64(1), "typeId": "PHONE", "valueType": "WORK", "value": "+1"}, first)

	var res struct {
		Item map[string]any `json:"item"`
	}
	call(t, srv, "crm.item.update", `{"entityTypeId":3,"id":1,"fields":{
		"POST":"owner","comments":"","unknownField":"x","createdTime":"2020-01-01T00:00:00+00:00","id":99,
		"originId":"8","PHONE":[{"VALUE":"ignored","VALUE_TYPE":"WORK"}],
		"fm":{"1":{"typeId":"PHONE","valueType":"MOBILE","value":"+10"},"2":{"typeId":"PHONE","value":""},
		      "n0":{"typeId":"EMAIL","valueType":"WORK","value":"a@b.c"},"n1":{"typeId":"EMAIL","value":""}}}}`).decode(t, &res)
	got := res.Item
	assert.Equal(t, "owner", got["post"], "upper-case names are mapped")
	assert.Nil(t, got["comments"], "an empty value clears")
	assert.NotContains(t, got, "unknownField", "unknown fields are ignored")
	assert.Equal(t, "2024-01-02T03:04:05+00:00", got["createdTime"], "history is import-only")
	assert.Equal(t, float64(1), got["id"])
	assert.Equal(t, []any{
		map[string]any{"id": float64(1), "typeId": "PHONE", "valueType": "MOBILE", "value": "+10"},
		map[string]any{"id": float64(3), "typeId": "EMAIL", "valueType": "WORK", "value": "a@b.c"},
	}, got["fm"])
	assert.Equal(t, 1, srv.Stats().ItemsUpdated)

	// The key index follows the new originId.
	var list struct {
		Items []map[string]any `json:"items"`
	}
	call(t, srv, "crm.item.list", `{"entityTypeId":3,"filter":{"=originatorId":"X","@originId":["8 "]},"start":-1}`).decode(t, &list)
	assert.Len(t, list.Items, 1, "matched as the portal's collation does")
	call(t, srv, "crm.item.list", `{"entityTypeId":3,"filter":{"originId":"7"}}`).decode(t, &list)
	assert.Empty(t, list.Items)

	a := call(t, srv, "crm.item.update", `{"entityTypeId":3,"id":1,"fields":{"name":"","lastName":""}}`)
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "CRM_FIELD_ERROR_REQUIRED", a.Error)
	a = call(t, srv, "crm.item.update", `{"entityTypeId":3,"id":5,"fields":{"name":"x"}}`)
	assert.Equal(t, "NOT_FOUND", a.Error)
	a = call(t, srv, "crm.item.update", `{"entityTypeId":3,"id":1}`)
	assert.Equal(t, float64(100), a.Error, "fields is required")
}

func TestDelete(t *testing.T) {
	srv := newTestServer(t)
	for range 3 {
		call(t, srv, "crm.item.add", `{"entityTypeId":2,"fields":{"title":"t","xmlId":"k"}}`).decode(t, &map[string]any{})
	}
	var res any
	call(t, srv, "crm.item.delete", `{"entityTypeId":2,"id":2}`).decode(t, &res)
	assert.Equal(t, []any{}, res)
	assert.Equal(t, "NOT_FOUND", call(t, srv, "crm.item.delete", `{"entityTypeId":2,"id":2}`).Error)
	assert.Equal(t, "NOT_FOUND", call(t, srv, "crm.item.get", `{"entityTypeId":2,"id":2}`).Error)
	assert.Equal(t, 2, srv.ItemCount(b24.EntityDeal))
	assert.Len(t, srv.Items(b24.EntityDeal), 2)
	var list struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	a := call(t, srv, "crm.item.list", `{"entityTypeId":2}`)
	a.decode(t, &list)
	require.Len(t, list.Items, 2)
	assert.Equal(t, []int64{1, 3}, []int64{list.Items[0].ID, list.Items[1].ID})
	assert.Equal(t, 2, *a.Total)
	call(t, srv, "crm.item.add", `{"entityTypeId":2,"fields":{"title":"new"}}`).decode(t, &map[string]any{})
	_, ok := srv.Record(b24.EntityDeal, 4)
	assert.True(t, ok, "ids are not reused")
}

func TestListStartMinusOne(t *testing.T) {
	srv := newTestServer(t)
	for range 60 {
		call(t, srv, "crm.item.add", `{"entityTypeId":2,"fields":{"title":"t"}}`).decode(t, &map[string]any{})
	}
	a := call(t, srv, "crm.item.list", `{"entityTypeId":2,"start":-1,"order":{"id":"ASC"},"filter":{">id":5},"select":["id"]}`)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	a.decode(t, &list)
	assert.Nil(t, a.Total, "nothing counted")
	assert.Nil(t, a.Next)
	require.Len(t, list.Items, 50)
	assert.Equal(t, map[string]any{"id": float64(6)}, list.Items[0])
	a = call(t, srv, "crm.item.list", `{"entityTypeId":2,"filter":{">id":"0$result[p0][items][49][id]"}}`)
	assert.Equal(t, "INVALID_ARG_VALUE", a.Error, "an id filter that is not a number")
	a = call(t, srv, "crm.item.list", `{"entityTypeId":2,"start":0}`)
	require.NotNil(t, a.Next)
	assert.Equal(t, 50, *a.Next)
	assert.Equal(t, 60, *a.Total)
}

func TestRecords(t *testing.T) {
	srv := newTestServer(t)
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":4,"data":[{"title":"Acme","opened":"Y","revenue":"1000.5",
		"EMAIL":[{"VALUE":"a@acme.example","VALUE_TYPE":"WORK"}],"parentId1220":"3","ufCrm_1":"x"},{"title":"Beta"}]}`).decode(t, &map[string]any{})
	recs := srv.Records(b24.EntityCompany)
	require.Len(t, recs, 2)
	assert.Equal(t, int64(1), recs[0].ID)
	assert.Equal(t, "Acme", recs[0].Item.Title)
	assert.Equal(t, b24.Yes, recs[0].Item.Opened)
	assert.Equal(t, []b24.Multifield{{Value: "a@acme.example", ValueType: "WORK"}}, recs[0].Item.Emails)
	assert.Equal(t, map[b24.EntityTypeID]int64{1220: 3}, recs[0].Item.Parents)
	assert.Equal(t, "x", recs[0].Item.Fields["ufCrm_1"])
	assert.Equal(t, "1000.5", recs[0].Item.Fields["revenue"])
	assert.Equal(t, "Beta", recs[1].Item.Title)
	_, ok := srv.Record(b24.EntityCompany, 3)
	assert.False(t, ok)
	_, ok = srv.Record(b24.EntityTypeID(999), 1)
	assert.False(t, ok)
}
