package b24test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const oneDeal = `{"entityTypeId":2,"data":[{"title":"x"}]}`

func TestFaultRefuse(t *testing.T) {
	srv := newTestServer(t)
	srv.InjectFault(Fault{Method: "CRM.ITEM.BATCHIMPORT", Kind: FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Times: 2})
	assert.Equal(t, http.StatusOK, call(t, srv, "server.time", "").Status, "other methods are not hit")
	for i := range 2 {
		a := call(t, srv, "crm.item.batchImport", oneDeal)
		assert.Equal(t, http.StatusServiceUnavailable, a.Status, "call %d", i)
		assert.Equal(t, "QUERY_LIMIT_EXCEEDED", a.Error)
	}
	assert.Empty(t, srv.Items(2), "refused before executing")
	assert.Equal(t, RequestRecord{Method: "crm.item.batchImport", Auth: "webhook", Items: 1, Status: 503, Code: "QUERY_LIMIT_EXCEEDED"},
		srv.Requests()[1], "the log counts the items of a refused call")
	assert.Equal(t, http.StatusOK, call(t, srv, "crm.item.batchImport", oneDeal).Status, "used up")
	assert.Equal(t, 2, srv.Stats().FaultsInjected)

	statuses := map[string]int{"": 500, "INTERNAL_SERVER_ERROR": 500, "OPERATION_TIME_LIMIT": 429, "expired_token": 401, "ACCESS_DENIED": 403}
	for code, status := range statuses {
		srv.InjectFault(Fault{Kind: FaultRefuse, Code: code})
		a := call(t, srv, "profile", "")
		assert.Equal(t, status, a.Status, code)
		if code == "" {
			code = "INTERNAL_SERVER_ERROR"
		}
		assert.Equal(t, code, a.Error)
	}
	srv.InjectFault(Fault{Kind: FaultRefuse, Code: "ERROR_CORE", Status: 400})
	assert.Equal(t, 400, call(t, srv, "profile", "").Status, "explicit status")

	srv.FailNext("INTERNAL_SERVER_ERROR", 3)
	srv.ClearFaults()
	assert.Equal(t, http.StatusOK, call(t, srv, "profile", "").Status, "cleared")
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	pattern := func(seed int64) string {
		srv := newTestServer(t, WithSeed(seed))
		srv.InjectFault(Fault{Kind: FaultRefuse, Probability: 0.5})
		var b strings.Builder
		for range 100 {
			if call(t, srv, "server.time", "").Status == http.StatusOK {
				b.WriteByte('.')
			} else {
				b.WriteByte('x')
			}
		}
		hits := strings.Count(b.String(), "x")
		assert.Equal(t, hits, srv.Stats().FaultsInjected)
		assert.InDelta(t, 50, hits, 25, "about half of the calls")
		return b.String()
	}
	assert.Equal(t, pattern(3), pattern(3))
	assert.NotEqual(t, pattern(3), pattern(4))
}

func TestFaultDropAfterExecute(t *testing.T) {
	srv := newTestServer(t)
	srv.InjectFault(Fault{Method: "crm.item.batchImport", Kind: FaultDropAfterExecute})
	resp, err := http.Post(srv.WebhookURL()+"crm.item.batchImport", "application/json", strings.NewReader(oneDeal))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "no answer")
	assert.Len(t, srv.Items(2), 1, "the items were stored")
	assert.Equal(t, 1, srv.Stats().Dropped)
	assert.Equal(t, http.StatusOK, call(t, srv, "crm.item.batchImport", oneDeal).Status)

	t.Run("inside a batch", func(t *testing.T) {
		srv.InjectFault(Fault{Method: "crm.item.batchImport", Kind: FaultDropAfterExecute})
		body := `{"cmd":{"a":"crm.item.batchImport?entityTypeId=2&data[0][title]=in-batch"}}`
		resp, err := http.Post(srv.WebhookURL()+"batch", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		items := srv.Items(2)
		require.Len(t, items, 3)
		assert.Equal(t, "in-batch", items[2].Fields["title"])
	})
}

func TestFaultPartialSave(t *testing.T) {
	srv := newTestServer(t)
	srv.InjectFault(Fault{Kind: FaultPartialSave, Keep: 3})
	rows := make([]string, 5)
	for i := range rows {
		rows[i] = fmt.Sprintf(`{"title":"r%d"}`, i)
	}
	body := `{"entityTypeId":2,"data":[` + strings.Join(rows, ",") + `]}`
	assert.Equal(t, http.StatusOK, call(t, srv, "server.time", "").Status, "only batchImport takes it")
	a := call(t, srv, "crm.item.batchImport", body)
	assert.Equal(t, http.StatusInternalServerError, a.Status)
	assert.Equal(t, "ERROR_CORE", a.Error)
	items := srv.Items(2)
	require.Len(t, items, 3)
	assert.Equal(t, "r2", items[2].Fields["title"])
	var r importResult
	call(t, srv, "crm.item.batchImport", body).decode(t, &r)
	assert.Equal(t, []int64{4, 5, 6, 7, 8}, r.ids())

	srv.InjectFault(Fault{Kind: FaultPartialSave, Keep: 10})
	a = call(t, srv, "crm.item.batchImport", body)
	assert.Equal(t, "ERROR_CORE", a.Error, "Keep above the call's size saves all, then fails")
	assert.Len(t, srv.Items(2), 13)
}

func TestFaultMove(t *testing.T) {
	srv := newTestServer(t)
	srv.InjectFault(Fault{Kind: FaultMove, Location: "https://new.example.com"})
	a := do(t, http.MethodPost, srv.WebhookURL()+"crm.item.batchImport.json", "application/json", oneDeal)
	assert.Equal(t, http.StatusFound, a.Status)
	assert.Empty(t, srv.Items(2))

	srv.InjectFault(Fault{Kind: FaultMove, Location: "https://new.example.com/"})
	req, err := http.NewRequest(http.MethodPost, srv.WebhookURL()+"profile?x=1", nil)
	require.NoError(t, err)
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "https://new.example.com/rest/1/"+srv.secret+"/profile?x=1", resp.Header.Get("Location"))

	srv.InjectFault(Fault{Kind: FaultMove, Location: "https://new.example.com/elsewhere"})
	resp, err = noRedirect.Post(srv.WebhookURL()+"profile", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "https://new.example.com/elsewhere", resp.Header.Get("Location"))
}

func TestFaultInsideBatch(t *testing.T) {
	srv := newTestServer(t)
	srv.InjectFault(Fault{Method: "crm.item.import", Kind: FaultRefuse, Code: "ACCESS_DENIED"})
	body := `{"cmd":{"a":"crm.item.import?entityTypeId=2&fields[title]=x","b":"crm.item.import?entityTypeId=2&fields[title]=y"}}`
	var br batchResult
	call(t, srv, "batch", body).decode(t, &br)
	var errs map[string]map[string]any
	require.NoError(t, json.Unmarshal(br.ResultError, &errs))
	assert.Equal(t, "ACCESS_DENIED", errs["a"]["error"])
	assert.NotContains(t, errs, "b")
	assert.Len(t, srv.Items(2), 1)

	srv.InjectFault(Fault{Method: "batch", Kind: FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED"})
	assert.Equal(t, http.StatusServiceUnavailable, call(t, srv, "batch", body).Status, "the batch call itself")
	recs := srv.Requests()
	assert.Equal(t, 2, recs[len(recs)-1].Items, "the log counts the items a refused batch carried")
}

func TestFaultKindString(t *testing.T) {
	assert.Equal(t, "drop-after-execute", FaultDropAfterExecute.String())
	assert.Equal(t, "unknown", FaultKind(0).String())
}
