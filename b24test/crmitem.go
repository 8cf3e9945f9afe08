package b24test

import (
	"github.com/b24kit/b24/internal/phpquery"

	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxImportBatch is the portal's MAX_IMPORT_BATCH_SIZE.
const maxImportBatch = 20

// binderErr is the engine's parameter-binding error: integer code 100.
func binderErr(format string, args ...any) *apiErr {
	return &apiErr{http.StatusBadRequest, 100, fmt.Sprintf(format, args...)}
}

// entityParam resolves the entityTypeId parameter.
func (x *exchange) entityParam(p map[string]any) (*entityStore, *apiErr) {
	v, ok := param(p, "entityTypeId")
	if !ok {
		return nil, binderErr("Could not find value for parameter {entityTypeId}")
	}
	n, ok := intValue(v)
	if !ok {
		return nil, binderErr("Invalid value {%v} to match with parameter {entityTypeId}. Should be value of type int.", v)
	}
	es := x.s.store.get(int(n))
	if es == nil {
		return nil, &apiErr{http.StatusBadRequest, "NOT_FOUND", "Smart process not found"}
	}
	return es, nil
}

// itemError is a per-item refusal.
type itemError struct{ code, desc string }

// importLocked validates fields (already decoded from the request, and
// normalised here in place) and stores them. The caller holds es.mu.
func (x *exchange) importLocked(es *entityStore, fields map[string]any, originalUF, history bool) (int64, *itemError) {
	es.fields.normalize(fields, originalUF)
	if !history {
		for f := range strings.FieldsSeq(systemFields) {
			delete(fields, f) // crm.item.add ignores history fields
		}
	}
	if d := requiredError(es.typeID, fields); d != "" {
		return 0, &itemError{"CRM_FIELD_ERROR_REQUIRED", d}
	}
	if !history {
		return es.addLocked(fields, time.Now()), nil
	}
	if x.s.cfg.nonAdmin {
		for f := range strings.FieldsSeq(systemFields) {
			if !isEmpty(fields[f]) {
				return 0, &itemError{"CRM_FIELD_ERROR_VALUE_NOT_VALID", `only an administrator can set "` + f + `"`}
			}
		}
	}
	last, hasLast := es.lastCreatedLocked()
	created, d := checkSystemFields(fields, last, hasLast, time.Now())
	if d != "" {
		return 0, &itemError{"CRM_FIELD_ERROR_VALUE_NOT_VALID", d}
	}
	return es.addLocked(fields, created), nil
}

func yes(p map[string]any, name string) bool {
	v, _ := param(p, name)
	s := stringValue(v)
	return s == "Y" || s == "y" || s == "1"
}

func handleBatchImport(x *exchange, p map[string]any) outcome {
	dv, ok := param(p, "data")
	if !ok {
		return outcome{err: binderErr("Could not find value for parameter {data}")}
	}
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	var keys []string
	var elems []any
	switch d := dv.(type) {
	case []any:
		elems = d
	case map[string]any:
		if !x.inBatch {
			keys = x.req.orderedKeys("data", d)
		} else {
			keys = naturalKeys(d)
		}
		for _, k := range keys {
			elems = append(elems, d[k])
		}
	default:
		return outcome{err: binderErr("Invalid value {%v} to match with parameter {data}. Should be value of type array.", dv)}
	}
	n := len(elems)
	if n > maxImportBatch {
		return outcome{items: n, err: &apiErr{http.StatusBadRequest, "MAX_IMPORT_BATCH_SIZE_EXCEEDED", "You can only import 20 items at a time"}}
	}
	keep := -1
	if f := x.s.takeFault(FaultPartialSave, "crm.item.batchImport"); f != nil {
		keep = max(f.Keep, 0)
	}
	originalUF := yes(p, "useOriginalUfNames")
	results := make([]any, 0, n)
	created, failed := 0, 0
	var fault *apiErr
	es.mu.Lock()
	for i, el := range elems {
		if i == keep {
			fault = &apiErr{http.StatusInternalServerError, "ERROR_CORE", "Internal error saving the item"}
			break
		}
		if !x.spend(x.s.cfg.latencyItem) {
			break
		}
		fields, _ := el.(map[string]any)
		if fields == nil {
			fields = make(map[string]any)
		}
		id, ie := x.importLocked(es, fields, originalUF, true)
		if ie != nil {
			failed++
			if x.inBatch { // maps, so that $result[...] references can walk them
				results = append(results, map[string]any{"error": ie.code, "error_description": ie.desc})
			} else {
				results = append(results, failedEntry{ie.code, ie.desc})
			}
			continue
		}
		created++
		if x.inBatch {
			results = append(results, map[string]any{"item": map[string]any{"id": id}})
		} else {
			results = append(results, importedEntry{importedID{id}})
		}
	}
	if keep >= n && !x.cut {
		// Fewer items than Keep: all are saved, the failure comes after.
		fault = &apiErr{http.StatusInternalServerError, "ERROR_CORE", "Internal error saving the item"}
	}
	es.mu.Unlock()
	x.s.rec.count(func(st *Stats) { st.ItemsCreated += created; st.ItemErrors += failed })
	if fault != nil {
		return outcome{items: n, err: fault}
	}
	var items any = results
	if keys != nil {
		om := orderedMap{keys: keys[:len(results)], vals: make(map[string]any, len(results))}
		for i, r := range results {
			om.vals[keys[i]] = r
		}
		items = om
	} else if len(results) == 0 {
		items = orderedMap{}
	}
	return outcome{items: n, result: map[string]any{"items": items}}
}

// importedEntry and failedEntry are batchImport's per-item results.
type importedEntry struct {
	Item importedID `json:"item"`
}

type importedID struct {
	ID int64 `json:"id"`
}

type failedEntry struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// singleFields reads the fields parameter of import and add.
func singleFields(p map[string]any) (map[string]any, *apiErr) {
	v, ok := param(p, "fields")
	if !ok {
		return nil, binderErr("Could not find value for parameter {fields}")
	}
	switch f := v.(type) {
	case map[string]any:
		return f, nil
	case []any:
		if len(f) == 0 {
			return map[string]any{}, nil
		}
	}
	return nil, binderErr("Invalid value {%v} to match with parameter {fields}. Should be value of type array.", v)
}

func handleImport(x *exchange, p map[string]any) outcome { return importOrAdd(x, p, true) }

func handleAdd(x *exchange, p map[string]any) outcome { return importOrAdd(x, p, false) }

func importOrAdd(x *exchange, p map[string]any, history bool) outcome {
	fields, e := singleFields(p)
	if e != nil {
		return outcome{err: e}
	}
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	if !x.spend(x.s.cfg.latencyItem) {
		return outcome{items: 1}
	}
	es.mu.Lock()
	id, ie := x.importLocked(es, fields, yes(p, "useOriginalUfNames"), history)
	var rendered map[string]any
	if ie == nil && !history {
		rendered = renderItem(es, es.getLocked(id), nil)
	}
	es.mu.Unlock()
	if ie != nil {
		x.s.rec.count(func(st *Stats) { st.ItemErrors++ })
		return outcome{items: 1, err: &apiErr{http.StatusBadRequest, ie.code, ie.desc}}
	}
	x.s.rec.count(func(st *Stats) { st.ItemsCreated++ })
	if history {
		return outcome{items: 1, result: map[string]any{"item": map[string]any{"id": id}}}
	}
	return outcome{items: 1, result: map[string]any{"item": rendered}}
}

func handleGet(x *exchange, p map[string]any) outcome {
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	v, ok := param(p, "id")
	if !ok {
		return outcome{err: binderErr("Could not find value for parameter {id}")}
	}
	id, _ := intValue(v)
	es.mu.RLock()
	it := es.getLocked(id)
	var out map[string]any
	if it != nil {
		out = renderItem(es, it, nil)
	}
	es.mu.RUnlock()
	if it == nil {
		return outcome{err: &apiErr{http.StatusBadRequest, "NOT_FOUND", "Element not found"}}
	}
	return outcome{result: map[string]any{"item": out}}
}

// renderItem builds the answer form of an item: id, the stored fields (or
// the selected ones), the fm list of a lead, contact or company (every
// value with its id), createdTime and updatedTime. As on the portal every
// field of the type is there, null when the item has no value.
func renderItem(es *entityStore, it *storedItem, sel map[string]bool) map[string]any {
	typeID := es.typeID
	want := func(k string) bool { return sel == nil || sel[k] }
	fields := it.fields
	if fields == nil {
		fields = it.fieldMap()
	}
	out := make(map[string]any, len(es.fields.camel)+4)
	for k := range es.fields.camel {
		if want(k) {
			out[k] = nil
		}
	}
	for k, v := range fields {
		if want(k) && !multifieldKeys[k] {
			out[k] = v
		}
	}
	for _, k := range [...]string{"createdBy", "updatedBy", "assignedById"} {
		if v, ok := out[k]; ok && v == nil {
			out[k] = float64(1) // the webhook's user created it and is responsible
		}
	}
	if want("fm") && (typeID == 1 || typeID == 3 || typeID == 4) {
		out["fm"] = renderFM(it.fm)
	}
	out["id"] = it.id
	if want("entityTypeId") {
		out["entityTypeId"] = typeID
	}
	if want("createdTime") {
		out["createdTime"] = time.Unix(0, it.created).Format(phpDateC)
	}
	if want("updatedTime") {
		if _, ok := fields["updatedTime"]; !ok {
			out["updatedTime"] = out["createdTime"]
		}
	}
	return out
}

func handleServerTime(x *exchange, _ map[string]any) outcome {
	return outcome{result: time.Now().Format(phpDateC)}
}

func handleProfile(x *exchange, _ map[string]any) outcome {
	return outcome{result: map[string]any{
		"ID": "1", "ADMIN": !x.s.cfg.nonAdmin, "NAME": "Test", "LAST_NAME": "User",
		"PERSONAL_GENDER": "", "TIME_ZONE": "UTC", "TIME_ZONE_OFFSET": 0,
	}}
}

// requestItems counts the items a call carries without executing it, for
// the log of calls refused before execution.
func requestItems(method string, p map[string]any) int {
	switch strings.ToLower(method) {
	case "crm.item.batchimport":
		switch d, _ := param(p, "data"); d := d.(type) {
		case []any:
			return len(d)
		case map[string]any:
			return len(d)
		}
	case "crm.item.import", "crm.item.add":
		return 1
	case "batch":
		cmds, _ := param(p, "cmd")
		var lines []any
		switch c := cmds.(type) {
		case []any:
			lines = c
		case map[string]any:
			for _, v := range c {
				lines = append(lines, v)
			}
		}
		n := 0
		for _, l := range lines[:min(len(lines), maxBatchLength)] {
			if s, ok := l.(string); ok {
				m, q, _ := strings.Cut(s, "?")
				params, _ := phpquery.Parse(q)
				n += requestItems(strings.TrimSpace(m), params)
			}
		}
		return n
	}
	return 0
}
