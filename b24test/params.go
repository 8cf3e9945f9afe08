package b24test

import (
	"github.com/b24kit/b24/internal/phpquery"

	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBody caps a request body; the cloud allows far more, tests never need it.
const maxBody = 256 << 20

// request holds the parameters of one REST call as the portal reads them:
// query string and body merged, the body winning.
type request struct {
	params map[string]any
	raw    []byte          // the JSON body, for key order
	form   []phpquery.Pair // the parsed form body, for key order
}

// readRequest reads the parameters: PHP-style query string, then a JSON,
// form-urlencoded or multipart body. A body that is not valid JSON gives no
// parameters, as on the portal.
func readRequest(r *http.Request) request {
	var req request
	if r.URL.RawQuery != "" {
		req.params, _ = phpquery.Parse(r.URL.RawQuery)
	}
	if req.params == nil {
		req.params = make(map[string]any)
	}
	if r.Body == nil || r.Method == http.MethodGet {
		return req
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		req.form = phpquery.SplitQuery(string(body))
		form, _ := phpquery.ParsePairs(req.form)
		mergeParams(req.params, form)
	case "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err == nil && r.MultipartForm != nil {
			var pairs []phpquery.Pair
			vals := make(map[string]any, len(r.MultipartForm.Value))
			for k := range r.MultipartForm.Value {
				vals[k] = nil
			}
			for _, k := range naturalKeys(vals) {
				for _, v := range r.MultipartForm.Value[k] {
					pairs = append(pairs, phpquery.Pair{Key: k, Value: v})
				}
			}
			req.form = pairs
			form, _ := phpquery.ParsePairs(pairs)
			mergeParams(req.params, form)
		}
	default:
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		body = bytes.TrimSpace(body)
		if len(body) == 0 || body[0] != '{' {
			return req
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return req // invalid JSON: no parameters
		}
		req.raw = body
		if len(req.params) == 0 {
			req.params = m
		} else {
			mergeParams(req.params, m)
		}
	}
	return req
}

func mergeParams(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}

// lookupParam finds a parameter by name, case-insensitively as the portal's
// binder does, and returns the key as sent.
func lookupParam(p map[string]any, name string) (string, any, bool) {
	if v, ok := p[name]; ok {
		return name, v, true
	}
	for k, v := range p {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}

// param returns a parameter's value, case-insensitively.
func param(p map[string]any, name string) (any, bool) {
	_, v, ok := lookupParam(p, name)
	return v, ok
}

// jsonObjectKeys returns the keys of the object under the top-level key
// name (case-insensitive) of a JSON document, in document order.
func jsonObjectKeys(doc []byte, name string) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		if !strings.EqualFold(key, name) {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil
		}
		var keys []string
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil
			}
			k, _ := t.(string)
			keys = append(keys, k)
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
		}
		return keys
	}
	return nil
}

// orderedKeys returns the keys of the object parameter name in the order the
// client sent them, when that is known, or in natural order.
func (req *request) orderedKeys(name string, m map[string]any) []string {
	var keys []string
	switch {
	case req.raw != nil:
		keys = jsonObjectKeys(req.raw, name)
	case req.form != nil:
		keys = phpquery.ChildKeys(req.form, name)
	}
	if len(keys) != len(m) {
		return naturalKeys(m)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return naturalKeys(m)
		}
	}
	return keys
}
