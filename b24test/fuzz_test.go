package b24test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServeREST throws arbitrary requests at the fake portal: any method
// name, query string, content type and body. Users' tests drive it with
// whatever their code sends, so it must answer every request with the
// portal's JSON envelope (a result or an error) and never panic.
func FuzzServeREST(f *testing.F) {
	for _, s := range []struct {
		method, query string
		ct            uint8
		body          string
	}{
		{"crm.item.batchImport", "", 0, `{"entityTypeId":2,"data":[{"title":"A"},{"title":""}]}`},
		{"crm.item.batchImport", "", 1, "entityTypeId=2&data[0][title]=A&data[1][contactIds][]=4"},
		{"crm.item.list", "entityTypeId=2&filter[@originId][]=1&select[]=id", 0, `{"start":"x","order":{"id":"DESC"}}`},
		{"batch", "", 0, `{"halt":0,"cmd":{"a":"crm.item.add?entityTypeId=2&fields[title]=$result[b][id]","b":"batch?cmd[x]=profile"}}`},
		{"crm.item.import", "", 0, `{"entityTypeId":"2","fields":{"createdTime":"2999-01-01T00:00:00+00:00","updatedTime":"x"}}`},
		{"crm.item.get", "entityTypeId=1030&id=-1", 2, "--x\r\n"},
		{"crm.item.add", "", 0, `{"entityTypeId":2,"fields":[]}`},
		{"crm.item.fields", "", 0, `[1,2]`},
		{"unknown.method", "a[b][c][d]=1", 0, `{"entityTypeId":{}}`},
		{"crm.item.batchImport", "", 0, `{"entityTypeId":2,"data":{"5":{"title":"x"},"1":null,"x":[1]}}`},
	} {
		f.Add(s.method, s.query, s.ct, []byte(s.body))
	}
	srv := newServer(WithoutRateLimit(), WithSmartProcess(1030))
	contentTypes := []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""}
	f.Fuzz(func(t *testing.T, method, query string, ct uint8, body []byte) {
		if strings.ContainsAny(method, "/?#%") || strings.ContainsAny(query, "#") {
			return // not one path segment / not a query: the URL itself would be another request
		}
		target := "/rest/1/" + srv.secret + "/" + method + ".json"
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(http.MethodPost, "http://portal.test"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", contentTypes[int(ct)%len(contentTypes)])
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("answer %d is not a JSON object: %v\n%s", rec.Code, err, rec.Body.String())
		}
		_, hasResult := env["result"]
		_, hasError := env["error"]
		if hasResult == hasError {
			t.Fatalf("answer %d must hold exactly one of result and error: %s", rec.Code, rec.Body.String())
		}
		if (rec.Code == http.StatusOK) != hasResult {
			t.Fatalf("status %d with body %s", rec.Code, rec.Body.String())
		}
	})
}
