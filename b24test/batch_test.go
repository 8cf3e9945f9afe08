package b24test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchResult is the result of the batch method, sections left raw.
type batchResult struct {
	Result      json.RawMessage `json:"result"`
	ResultError json.RawMessage `json:"result_error"`
	ResultTotal json.RawMessage `json:"result_total"`
	ResultNext  json.RawMessage `json:"result_next"`
	ResultTime  json.RawMessage `json:"result_time"`
}

func TestBatch(t *testing.T) {
	srv := newTestServer(t)
	cmd := map[string]string{
		"a_imp": "crm.item.batchImport?" + url.Values{
			"entityTypeId":          {"2"},
			"data[0][title]":        {"A & B"},
			"data[0][contactIds][]": {"4"},
			"data[1][title]":        {"second"},
			"data[2][stageId]":      {"no title"},
		}.Encode(),
		"b_get":  "crm.item.get?entityTypeId=2&id=$result[a_imp][items][1][item][id]",
		"c_list": "crm.item.list?entityTypeId=2&select[]=id",
		"d_bad":  "no.such.method",
	}
	body, err := json.Marshal(map[string]any{"halt": 0, "cmd": cmd})
	require.NoError(t, err)
	var br batchResult
	call(t, srv, "batch", string(body)).decode(t, &br)

	var res struct {
		Imp  importResult                     `json:"a_imp"`
		Get  struct{ Item map[string]any }    `json:"b_get"`
		List struct{ Items []map[string]any } `json:"c_list"`
	}
	require.NoError(t, json.Unmarshal(br.Result, &res))
	assert.Equal(t, []int64{1, 2, 0}, res.Imp.ids())
	assert.Equal(t, "second", res.Get.Item["title"], "placeholder resolved from the earlier command")
	assert.Len(t, res.List.Items, 2)
	assert.JSONEq(t, `{"d_bad":{"error":"ERROR_METHOD_NOT_FOUND","error_description":"Method not found!"}}`, string(br.ResultError))
	assert.JSONEq(t, `{"c_list":2}`, string(br.ResultTotal))
	assert.JSONEq(t, `[]`, string(br.ResultNext), "an empty section is [] as in PHP")
	var times map[string]map[string]any
	require.NoError(t, json.Unmarshal(br.ResultTime, &times))
	assert.Contains(t, times, "a_imp")
	assert.Equal(t, map[string]any{"title": "A & B", "contactIds": []any{4.0}}, srv.Items(2)[0].Fields, "ids come back as numbers, typed by the field")

	recs := srv.Requests()
	require.Len(t, recs, 1, "one request, whatever it carried")
	assert.Equal(t, "batch", recs[0].Method)
	assert.Equal(t, 3, recs[0].Items)
}

func TestBatchOrderHaltAndLimits(t *testing.T) {
	srv := newTestServer(t)
	t.Run("json order kept, halt stops", func(t *testing.T) {
		body := `{"halt":1,"cmd":{"z":"crm.item.import?entityTypeId=2&fields[title]=first","y":"crm.item.import?entityTypeId=2","x":"crm.item.import?entityTypeId=2&fields[title]=never"}}`
		var br batchResult
		call(t, srv, "batch", body).decode(t, &br)
		assert.JSONEq(t, `{"z":{"item":{"id":1}}}`, string(br.Result))
		assert.Contains(t, string(br.ResultError), `"y"`)
		assert.NotContains(t, string(br.ResultError), `"x"`)
		assert.Len(t, srv.Items(2), 1)
	})
	t.Run("halt as the string false is true", func(t *testing.T) {
		body := `{"halt":"false","cmd":{"a":"nope","b":"server.time"}}`
		var br batchResult
		call(t, srv, "batch", body).decode(t, &br)
		assert.JSONEq(t, `[]`, string(br.Result))
	})
	t.Run("array cmd gives array sections", func(t *testing.T) {
		var br batchResult
		call(t, srv, "batch", `{"cmd":["server.time","profile"]}`).decode(t, &br)
		var arr []json.RawMessage
		require.NoError(t, json.Unmarshal(br.Result, &arr))
		assert.Len(t, arr, 2)
	})
	t.Run("more than 50, nested batch, non-string", func(t *testing.T) {
		cmds := make([]string, 0, 53)
		for i := range 51 {
			cmds = append(cmds, fmt.Sprintf(`"c%d":"server.time"`, i))
		}
		cmds = append(cmds, `"nested":"batch?cmd[a]=server.time"`, `"num":5`)
		var br batchResult
		call(t, srv, "batch", `{"cmd":{`+strings.Join(cmds, ",")+`}}`).decode(t, &br)
		var errs map[string]struct{ Error string }
		require.NoError(t, json.Unmarshal(br.ResultError, &errs))
		assert.Equal(t, "ERROR_BATCH_LENGTH_EXCEEDED", errs["c50"].Error)
		assert.Equal(t, "ERROR_BATCH_LENGTH_EXCEEDED", errs["nested"].Error, "the 52nd command is past the limit")
		var results map[string]any
		require.NoError(t, json.Unmarshal(br.Result, &results))
		assert.Len(t, results, 50)
	})
	t.Run("nested batch refused", func(t *testing.T) {
		var br batchResult
		call(t, srv, "batch", `{"cmd":{"n":"batch?cmd[a]=server.time","s":5}}`).decode(t, &br)
		assert.JSONEq(t, `{"n":{"error":"ERROR_BATCH_METHOD_NOT_ALLOWED","error_description":"Method is not allowed for batch usage"}}`, string(br.ResultError))
		assert.JSONEq(t, `[]`, string(br.Result), "non-string commands are skipped")
	})
	t.Run("form-encoded batch, natural order", func(t *testing.T) {
		form := url.Values{"cmd[c2]": {"crm.item.import?entityTypeId=3&fields[name]=second"},
			"cmd[c1]": {"crm.item.import?entityTypeId=3&fields[name]=first"}}
		a := do(t, http.MethodPost, srv.WebhookURL()+"batch", "application/x-www-form-urlencoded", form.Encode())
		var br batchResult
		a.decode(t, &br)
		items := srv.Items(3)
		require.Len(t, items, 2)
		assert.Equal(t, "second", items[1].Fields["name"])
	})
}

func TestBatchOneRateUnitInnerOperatingTime(t *testing.T) {
	srv := newTestServer(t, WithRateLimit(0.001, 2), WithOperatingLimit(time.Millisecond, 6*time.Second), WithLatency(2*time.Millisecond, 0, 0))
	body := `{"cmd":{"a":"crm.item.batchImport?entityTypeId=2&data[0][title]=x","b":"crm.item.batchImport?entityTypeId=2&data[0][title]=y","c":"server.time"}}`
	var br batchResult
	call(t, srv, "batch", body).decode(t, &br)
	// The first command used more than the 1 ms budget of batchImport (and
	// more than window/6000, so it counts): the second is refused, while
	// server.time has its own budget.
	assert.Contains(t, string(br.ResultError), "OPERATION_TIME_LIMIT")
	var errs map[string]struct{ Error string }
	require.NoError(t, json.Unmarshal(br.ResultError, &errs))
	assert.Equal(t, "OPERATION_TIME_LIMIT", errs["b"].Error)
	assert.NotContains(t, errs, "c")
	var times map[string]map[string]any
	require.NoError(t, json.Unmarshal(br.ResultTime, &times))
	assert.Contains(t, times["a"], "operating")
	assert.Equal(t, 1, srv.Stats().OperatingLimited)

	// The batch cost one unit of the bucket of two: one more call passes,
	// the next is refused.
	assert.Equal(t, http.StatusOK, call(t, srv, "profile", "").Status)
	assert.Equal(t, http.StatusServiceUnavailable, call(t, srv, "profile", "").Status)
}
