package b24test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchImport(t *testing.T) {
	srv := newTestServer(t)
	var r importResult
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[
		{"title":"A","stageId":"C9:NEW","opportunity":999.99},
		{"stageId":"NEW"},
		{"title":"C"},
		"not an object"
	]}`).decode(t, &r)
	assert.Equal(t, []int64{1, 0, 2, 0}, r.ids())
	assert.Equal(t, []string{"", "CRM_FIELD_ERROR_REQUIRED", "", "CRM_FIELD_ERROR_REQUIRED"}, r.codes())
	items := srv.Items(b24.EntityDeal)
	require.Len(t, items, 2)
	assert.Equal(t, map[string]any{"title": "A", "stageId": "C9:NEW", "opportunity": 999.99}, items[0].Fields)
	assert.Equal(t, b24.EntityDeal, items[0].EntityTypeID)
	assert.Equal(t, int64(2), items[1].ID)
	assert.Equal(t, 2, srv.ItemCount(b24.EntityDeal))
	st := srv.Stats()
	assert.Equal(t, 2, st.ItemsCreated)
	assert.Equal(t, 2, st.ItemErrors)
	assert.Equal(t, 4, srv.Requests()[0].Items)
}

func TestBatchImportErrors(t *testing.T) {
	srv := newTestServer(t)
	tooMany := make([]string, 21)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf(`{"title":"t%d"}`, i)
	}
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    any
	}{
		{"more than 20", "application/json", `{"entityTypeId":2,"data":[` + strings.Join(tooMany, ",") + `]}`, 400, "MAX_IMPORT_BATCH_SIZE_EXCEEDED"},
		{"invalid json", "application/json", `{"entityTypeId":2,"data":[{"title":"x"}]`, 400, float64(100)},
		{"no data", "application/json", `{"entityTypeId":2}`, 400, float64(100)},
		{"data not an array", "application/json", `{"entityTypeId":2,"data":"x"}`, 400, float64(100)},
		{"no entity type", "application/json", `{"data":[]}`, 400, float64(100)},
		{"entity type not a number", "application/json", `{"entityTypeId":"deal","data":[]}`, 400, float64(100)},
		{"unknown entity type", "application/json", `{"entityTypeId":5,"data":[]}`, 400, "NOT_FOUND"},
		{"unregistered smart process", "application/json", `{"entityTypeId":1030,"data":[]}`, 400, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, http.MethodPost, srv.WebhookURL()+"crm.item.batchImport", tt.contentType, tt.body)
			assert.Equal(t, tt.status, a.Status)
			assert.Equal(t, tt.code, a.Error)
			assert.NotEmpty(t, a.ErrorDescription)
		})
	}
	a := do(t, http.MethodPost, srv.WebhookURL()+"crm.item.batchImport", "application/json", `{bad`)
	assert.Equal(t, "Could not find value for parameter {data}", a.ErrorDescription)
	assert.Empty(t, srv.Items(b24.EntityDeal), "nothing imported")
}

func TestBatchImportShapes(t *testing.T) {
	srv := newTestServer(t)
	t.Run("empty data gives []", func(t *testing.T) {
		a := call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[]}`)
		assert.JSONEq(t, `{"items":[]}`, string(a.Result))
	})
	t.Run("keyed data gives a keyed object in the sent order", func(t *testing.T) {
		a := call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":{"x9":{"title":"A"},"a1":{}}}`)
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, `{"items":{"x9":{"item":{"id":1}},"a1":{"error":"CRM_FIELD_ERROR_REQUIRED","error_description":"The \"title\" field is required."}}}`, string(a.Result))
	})
	t.Run("entity type as a string, form body", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.WebhookURL()+"crm.item.batchImport", "application/x-www-form-urlencoded",
			"entityTypeId=2&data[0][title]=F&data[0][contactIds][]=4&data[0][contactIds][]=5")
		var r importResult
		a.decode(t, &r)
		require.Equal(t, []int64{2}, r.ids())
		assert.Equal(t, map[string]any{"title": "F", "contactIds": []any{4.0, 5.0}}, srv.Items(2)[1].Fields)
	})
	t.Run("query string", func(t *testing.T) {
		a := do(t, http.MethodGet, srv.WebhookURL()+"crm.item.batchImport?entityTypeId=2&data[0][title]=Q", "", "")
		var r importResult
		a.decode(t, &r)
		assert.Equal(t, []int64{3}, r.ids())
	})
	t.Run("multipart body", func(t *testing.T) {
		body := "--B\r\nContent-Disposition: form-data; name=\"entityTypeId\"\r\n\r\n2\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"data[0][title]\"\r\n\r\nM\r\n--B--\r\n"
		a := do(t, http.MethodPost, srv.WebhookURL()+"crm.item.batchImport", "multipart/form-data; boundary=B", body)
		var r importResult
		a.decode(t, &r)
		assert.Equal(t, []int64{4}, r.ids())
	})
	t.Run("time block", func(t *testing.T) {
		a := call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[]}`)
		for _, k := range []string{"start", "finish", "duration", "processing", "date_start", "date_finish"} {
			assert.Contains(t, a.Time, k)
		}
		assert.NotContains(t, a.Time, "operating", "operating limit is off in this server")
	})
}

func TestFieldNormalisation(t *testing.T) {
	srv := newTestServer(t)
	var r importResult
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[{
		"TITLE":"upper system name",
		"ASSIGNED_BY_ID":5,
		"isReccurring":"Y",
		"isRecurring":"Y",
		"unknownField":"x",
		"ufCrm_123":"kept",
		"ufCrm44_1721812760630":"kept too",
		"UF_CRM_999":"dropped without useOriginalUfNames",
		"parentId1220":7,
		"PARENT_ID_1300":8,
		"begindate":"formatDate(monthAgo)",
		"closedate":"2026-01-31",
		"PHONE":[{"VALUE":"+1","VALUE_TYPE":"WORK"}],
		"xmlId":"deals have no xmlId"
	}]}`).decode(t, &r)
	require.Equal(t, []int64{1}, r.ids())
	assert.Equal(t, map[string]any{
		"title": "upper system name", "assignedById": float64(5), "isRecurring": "Y",
		"ufCrm_123": "kept", "ufCrm44_1721812760630": "kept too",
		"parentId1220": float64(7), "parentId1300": float64(8), "closedate": "2026-01-31",
	}, srv.Items(2)[0].Fields)

	t.Run("original UF names", func(t *testing.T) {
		call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"useOriginalUfNames":"Y","data":[
			{"title":"uf","UF_CRM_999":"a","UF_CRM_44_1721":"b"}]}`).decode(t, &r)
		require.Equal(t, []int64{2}, r.ids())
		assert.Equal(t, map[string]any{"title": "uf", "ufCrm_999": "a", "ufCrm44_1721": "b"}, srv.Items(2)[1].Fields)
	})
	t.Run("multifields on contacts", func(t *testing.T) {
		call(t, srv, "crm.item.batchImport", `{"entityTypeId":3,"data":[{"name":"Ann",
			"PHONE":[{"VALUE":"+4930","VALUE_TYPE":"WORK","junk":1},{"VALUE":"","VALUE_TYPE":"HOME"}],
			"EMAIL":[{"VALUE":"a@example.com","VALUE_TYPE":"WORK"}],
			"WEB":[{"VALUE":""}],
			"phone":[{"VALUE":"lower-case key is not read"}]}]}`).decode(t, &r)
		require.Equal(t, []int64{1}, r.ids())
		assert.Equal(t, map[string]any{
			"name":  "Ann",
			"PHONE": []any{map[string]any{"VALUE": "+4930", "VALUE_TYPE": "WORK"}},
			"EMAIL": []any{map[string]any{"VALUE": "a@example.com", "VALUE_TYPE": "WORK"}},
		}, srv.Items(3)[0].Fields)
	})
}

func TestRequiredFields(t *testing.T) {
	srv := newTestServer(t, WithSmartProcess(1030))
	tests := []struct {
		typeID int
		ok     string
		bad    string
	}{
		{1, `{"title":"lead"}`, `{"name":"no title"}`},
		{2, `{"title":"deal"}`, `{"title":""}`},
		{3, `{"lastName":"Doe"}`, `{"post":"no name"}`},
		{4, `{"title":"company"}`, `{"industry":"IT"}`},
		{7, `{"title":"quote"}`, `{"title":0}`},
		{31, `{"title":"invoice","xmlId":"inv-1"}`, `{"xmlId":"inv-2"}`},
		{1030, `{"title":"spa","xmlId":"s-1"}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.typeID), func(t *testing.T) {
			var r importResult
			call(t, srv, "crm.item.batchImport", fmt.Sprintf(`{"entityTypeId":%d,"data":[%s,%s]}`, tt.typeID, tt.ok, tt.bad)).decode(t, &r)
			assert.Equal(t, []string{"", "CRM_FIELD_ERROR_REQUIRED"}, r.codes())
		})
	}
}

func TestSystemFields(t *testing.T) {
	srv := newTestServer(t)
	future := time.Now().Add(time.Hour).Format(time.RFC3339)
	var r importResult
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[
		{"title":"1","createdTime":"2020-01-01T10:00:00+00:00","updatedTime":"2020-02-01T10:00:00+00:00","movedTime":"2020-01-15T10:00:00+00:00"},
		{"title":"2 older than the last","createdTime":"2019-01-01T10:00:00+00:00"},
		{"title":"3 same time is fine","createdTime":"2020-01-01T10:00:00+00:00"},
		{"title":"4 future","createdTime":"`+future+`"},
		{"title":"5 updated before created","createdTime":"2020-03-01T10:00:00+00:00","updatedTime":"2020-02-01T10:00:00+00:00"},
		{"title":"6 updated without created","updatedTime":"2020-02-01T10:00:00+00:00"},
		{"title":"7 moved out of range","createdTime":"2020-03-01T10:00:00+03:00","updatedTime":"2020-03-02T10:00:00+03:00","movedTime":"2020-04-01T10:00:00+03:00"},
		{"title":"8 negative user","createdTime":"2020-03-01T10:00:00+00:00","createdBy":-1},
		{"title":"9 plain"},
		{"title":"10 older than the plain one","createdTime":"2021-01-01T10:00:00+00:00"}
	]}`).decode(t, &r)
	bad := "CRM_FIELD_ERROR_VALUE_NOT_VALID"
	assert.Equal(t, []string{"", bad, "", bad, bad, bad, bad, bad, "", bad}, r.codes())
	for _, it := range r.Items {
		if it.Error != "" {
			assert.NotEmpty(t, it.ErrorDescription)
		}
	}
	t.Run("add ignores history fields", func(t *testing.T) {
		var res struct {
			Item map[string]any `json:"item"`
		}
		call(t, srv, "crm.item.add", `{"entityTypeId":2,"fields":{"title":"added","createdTime":"2000-01-01T00:00:00+00:00"}}`).decode(t, &res)
		assert.Equal(t, "added", res.Item["title"])
		assert.NotEqual(t, "2000-01-01T00:00:00+00:00", res.Item["createdTime"])
		assert.EqualValues(t, 4, res.Item["id"])
	})
}

func TestImportAddGet(t *testing.T) {
	srv := newTestServer(t)
	var imp struct {
		Item map[string]any `json:"item"`
	}
	call(t, srv, "crm.item.import", `{"entityTypeId":4,"fields":{"title":"Acme","PHONE":[{"VALUE":"+1","VALUE_TYPE":"WORK"}]}}`).decode(t, &imp)
	assert.Equal(t, map[string]any{"id": float64(1)}, imp.Item, "import answers the id only")

	a := call(t, srv, "crm.item.import", `{"entityTypeId":4,"fields":{"industry":"IT"}}`)
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "CRM_FIELD_ERROR_REQUIRED", a.Error)

	a = call(t, srv, "crm.item.import", `{"entityTypeId":4}`)
	assert.Equal(t, float64(100), a.Error)

	call(t, srv, "crm.item.add", `{"entityTypeId":4,"fields":{"title":"Added"}}`).decode(t, &imp)
	assert.Equal(t, "Added", imp.Item["title"])
	assert.EqualValues(t, 2, imp.Item["id"])

	var got struct {
		Item map[string]any `json:"item"`
	}
	call(t, srv, "crm.item.get", `{"entityTypeId":4,"id":1}`).decode(t, &got)
	assert.Equal(t, "Acme", got.Item["title"])
	assert.EqualValues(t, 4, got.Item["entityTypeId"])
	assert.NotEmpty(t, got.Item["createdTime"])

	a = call(t, srv, "crm.item.get", `{"entityTypeId":4,"id":99}`)
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "NOT_FOUND", a.Error)
	a = call(t, srv, "crm.item.get", `{"entityTypeId":4}`)
	assert.Equal(t, float64(100), a.Error)
}

func TestFieldsMethod(t *testing.T) {
	srv := newTestServer(t)
	var res struct {
		Fields map[string]struct {
			Type       string `json:"type"`
			IsRequired bool   `json:"isRequired"`
			IsMultiple bool   `json:"isMultiple"`
			UpperName  string `json:"upperName"`
		} `json:"fields"`
	}
	call(t, srv, "crm.item.fields", `{"entityTypeId":2}`).decode(t, &res)
	assert.True(t, res.Fields["title"].IsRequired)
	assert.Equal(t, "ASSIGNED_BY_ID", res.Fields["assignedById"].UpperName)
	assert.True(t, res.Fields["contactIds"].IsMultiple)
	assert.Equal(t, "double", res.Fields["opportunity"].Type)
	assert.Contains(t, res.Fields, "isRecurring")
	assert.NotContains(t, res.Fields, "isReccurring")
	assert.NotContains(t, res.Fields, "xmlId", "deals have no xmlId")
	a := call(t, srv, "crm.item.fields", `{"entityTypeId":77}`)
	assert.Equal(t, "NOT_FOUND", a.Error)
}

func TestUpperSnake(t *testing.T) {
	for in, want := range map[string]string{
		"assignedById": "ASSIGNED_BY_ID", "parentId1220": "PARENT_ID_1220", "title": "TITLE",
		"isManualOpportunity": "IS_MANUAL_OPPORTUNITY", "ufCrm_17": "UF_CRM_17",
	} {
		assert.Equal(t, want, upperSnake(in), in)
	}
}

// listResult is crm.item.list's result plus paging.
type listResult struct {
	ids   []int64
	total int
	next  *int
}

func list(t *testing.T, srv *Server, body string) listResult {
	t.Helper()
	a := call(t, srv, "crm.item.list", body)
	var res struct {
		Items []map[string]any `json:"items"`
	}
	a.decode(t, &res)
	out := listResult{next: a.Next}
	require.NotNil(t, a.Total)
	out.total = *a.Total
	for _, it := range res.Items {
		id, _ := it["id"].(float64)
		out.ids = append(out.ids, int64(id))
	}
	return out
}

func TestList(t *testing.T) {
	srv := newTestServer(t, WithSmartProcess(1030))
	// 120 deals: originatorId "crm" for even ids, "erp" for odd; originId "o<id>".
	for start := 0; start < 120; start += 20 {
		rows := make([]string, 20)
		for i := range rows {
			id := start + i + 1
			orig := "erp"
			if id%2 == 0 {
				orig = "crm"
			}
			rows[i] = fmt.Sprintf(`{"title":"deal %03d","originatorId":"%s","originId":"o%d"}`, id, orig, id)
		}
		var r importResult
		call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[`+strings.Join(rows, ",")+`]}`).decode(t, &r)
		require.Len(t, r.ids(), 20)
	}
	// A duplicate originId, which the portal does not prevent.
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[{"title":"dup","originatorId":"crm","originId":"o4"}]}`)

	t.Run("pages of 50", func(t *testing.T) {
		r := list(t, srv, `{"entityTypeId":2}`)
		assert.Equal(t, 121, r.total)
		assert.Len(t, r.ids, 50)
		assert.Equal(t, int64(1), r.ids[0])
		require.NotNil(t, r.next)
		assert.Equal(t, 50, *r.next)
		r = list(t, srv, `{"entityTypeId":2,"start":100}`)
		assert.Len(t, r.ids, 21)
		assert.Nil(t, r.next)
		r = list(t, srv, `{"entityTypeId":2,"start":500}`)
		assert.Empty(t, r.ids)
	})
	t.Run("start=-1 pages from the filter's first id", func(t *testing.T) {
		call(t, srv, "crm.item.delete", `{"entityTypeId":2,"id":33}`)
		uncounted := func(filter string) []int64 {
			a := call(t, srv, "crm.item.list", `{"entityTypeId":2,"start":-1,"filter":`+filter+`}`)
			assert.Nil(t, a.Total, "start=-1 counts nothing")
			var res struct {
				Items []map[string]any `json:"items"`
			}
			a.decode(t, &res)
			var ids []int64
			for _, it := range res.Items {
				id, _ := it["id"].(float64)
				ids = append(ids, int64(id))
			}
			return ids
		}
		for _, f := range []string{`{}`, `{">id":30}`, `{">id":30,"originatorId":"crm"}`, `{">=id":60}`, `{">id":119}`,
			`{">id":200}`, `{">id":-5}`, `{"!title":"deal 005",">id":0}`, `{">id":10,"<id":20}`} {
			assert.Equal(t, list(t, srv, `{"entityTypeId":2,"filter":`+f+`}`).ids, uncounted(f), f)
		}
		assert.Equal(t, []int64{31, 32, 34}, uncounted(`{">id":30,"<id":35}`), "a deleted item is skipped")
	})
	t.Run("dedup lookup", func(t *testing.T) {
		r := list(t, srv, `{"entityTypeId":2,"filter":{"=originatorId":"crm","@originId":["o4","o5","o6","missing"]}}`)
		assert.Equal(t, []int64{4, 6, 121}, r.ids)
		assert.Equal(t, 3, r.total)
	})
	t.Run("plain key equality", func(t *testing.T) {
		r := list(t, srv, `{"entityTypeId":2,"filter":{"originId":"o7"}}`)
		assert.Equal(t, []int64{7}, r.ids)
	})
	t.Run("not equal and title", func(t *testing.T) {
		r := list(t, srv, `{"entityTypeId":2,"filter":{"!originatorId":"crm","@originId":["o4","o5"]}}`)
		assert.Equal(t, []int64{5}, r.ids)
		r = list(t, srv, `{"entityTypeId":2,"filter":{"title":"deal 010"}}`)
		assert.Equal(t, []int64{10}, r.ids)
	})
	t.Run("originatorId scan with paging", func(t *testing.T) {
		r := list(t, srv, `{"entityTypeId":2,"filter":{"originatorId":"crm"},"start":50}`)
		assert.Equal(t, 61, r.total)
		assert.Len(t, r.ids, 11)
	})
	t.Run("order", func(t *testing.T) {
		r := list(t, srv, `{"entityTypeId":2,"order":{"id":"DESC"}}`)
		assert.Equal(t, int64(121), r.ids[0])
		r = list(t, srv, `{"entityTypeId":2,"order":{"title":"DESC"},"filter":{"@id":[1,2,3]}}`)
		assert.Equal(t, []int64{3, 2, 1}, r.ids)
		r = list(t, srv, `{"entityTypeId":2,"filter":{">id":119}}`)
		assert.Equal(t, []int64{120, 121}, r.ids)
	})
	t.Run("select", func(t *testing.T) {
		a := call(t, srv, "crm.item.list", `{"entityTypeId":2,"select":["id","originId"],"filter":{"@id":[1]}}`)
		var res struct {
			Items []map[string]any `json:"items"`
		}
		a.decode(t, &res)
		assert.Equal(t, []map[string]any{{"id": float64(1), "originId": "o1"}}, res.Items)
	})
	t.Run("xmlId on a smart process", func(t *testing.T) {
		call(t, srv, "crm.item.batchImport", `{"entityTypeId":1030,"data":[{"title":"a","xmlId":"x1"},{"title":"b","xmlId":"x2"}]}`)
		r := list(t, srv, `{"entityTypeId":1030,"filter":{"@xmlId":["x2"]}}`)
		assert.Equal(t, []int64{2}, r.ids)
	})
	t.Run("form-encoded filter", func(t *testing.T) {
		a := do(t, http.MethodPost, srv.WebhookURL()+"crm.item.list", "application/x-www-form-urlencoded",
			"entityTypeId=2&filter[%40originId][]=o8&filter[%40originId][]=o9")
		var res struct {
			Items []json.RawMessage `json:"items"`
		}
		a.decode(t, &res)
		assert.Len(t, res.Items, 2)
	})
}

func TestCompactStore(t *testing.T) {
	srv := newTestServer(t, WithCompactStore())
	var r importResult
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[
		{"title":"A","originatorId":"o","originId":"1","opportunity":5},
		{"title":"B","originatorId":"o","originId":"2","createdTime":"2020-01-01T00:00:00+00:00"}]}`).decode(t, &r)
	assert.Equal(t, []string{"", "CRM_FIELD_ERROR_VALUE_NOT_VALID"}, r.codes(), "history rules still apply")
	assert.Equal(t, []StoredItem{{ID: 1, EntityTypeID: 2, Fields: map[string]any{"title": "A", "originatorId": "o", "originId": "1"}}},
		srv.Items(2))
	lr := list(t, srv, `{"entityTypeId":2,"filter":{"originatorId":"o","@originId":["1","2"]}}`)
	assert.Equal(t, []int64{1}, lr.ids)
	var got struct{ Item map[string]any }
	call(t, srv, "crm.item.get", `{"entityTypeId":2,"id":1}`).decode(t, &got)
	assert.Equal(t, "A", got.Item["title"])
	assert.Nil(t, got.Item["opportunity"], "a compact store keeps the key fields only")
}

func TestDocsExampleDealKeepsEveryField(t *testing.T) {
	srv := newTestServer(t)
	deal := `{"title":"New deal (specifically for REST method examples)","typeId":"SERVICE","categoryId":9,
		"stageId":"C9:UC_KN8KFI","isRecurring":"Y","probability":50,"currencyId":"RUB","isManualOpportunity":"Y",
		"opportunity":999.99,"taxValue":99.9,"companyId":5,"contactId":4,"contactIds":[4,5],"quoteId":7,
		"begindate":"2024-06-17","closedate":"2024-07-29","opened":"N","comments":"commentsExample","assignedById":6,
		"sourceId":"WEB","sourceDescription":"There should be an additional description about the source",
		"leadId":102,"additionalInfo":"There should be additional information","observers":[2,3],
		"utmSource":"google","utmMedium":"CPC","parentId1220":2,"ufCrm_1721244707107":1111.1}`
	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(deal), &want))
	var r importResult
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[`+deal+`]}`).decode(t, &r)
	require.Equal(t, []int64{1}, r.ids())
	assert.Equal(t, want, srv.Items(b24.EntityDeal)[0].Fields)
}

func TestWithoutAdmin(t *testing.T) {
	srv := newTestServer(t, WithoutAdmin())
	var r importResult
	call(t, srv, "crm.item.batchImport", `{"entityTypeId":2,"data":[
		{"title":"plain"},
		{"title":"history","createdTime":"2020-01-01T00:00:00+00:00"},
		{"title":"author","createdBy":7}]}`).decode(t, &r)
	assert.Equal(t, []string{"", "CRM_FIELD_ERROR_VALUE_NOT_VALID", "CRM_FIELD_ERROR_VALUE_NOT_VALID"}, r.codes())
	var p map[string]any
	call(t, srv, "profile", "").decode(t, &p)
	assert.Equal(t, false, p["ADMIN"])
}
