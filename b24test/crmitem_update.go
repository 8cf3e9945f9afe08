package b24test

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errItemNotFound is crm.item.get/update/delete's answer for an id the
// portal does not have.
var errItemNotFound = &apiErr{http.StatusBadRequest, "NOT_FOUND", "Element not found"}

// itemParam reads the id parameter.
func itemParam(p map[string]any) (int64, *apiErr) {
	v, ok := param(p, "id")
	if !ok {
		return 0, binderErr("Could not find value for parameter {id}")
	}
	id, ok := intValue(v)
	if !ok {
		return 0, binderErr("Invalid value {%v} to match with parameter {id}. Should be value of type int.", v)
	}
	return id, nil
}

// handleUpdate is crm.item.update: fields named are set, empty ones
// cleared (PHP's empty()), unknown and read-only ones (id, the history
// fields) ignored; multifields change through fm, whose keys say what to
// do: n0, n1, ... add a value, an existing value's id rewrites it, and
// that id with an empty value deletes it. The answer is the item.
func handleUpdate(x *exchange, p map[string]any) outcome {
	fields, e := singleFields(p)
	if e != nil {
		return outcome{err: e}
	}
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	id, e := itemParam(p)
	if e != nil {
		return outcome{err: e}
	}
	if !x.spend(x.s.cfg.latencyItem) {
		return outcome{items: 1}
	}
	fm, hasFM := fields["fm"]
	delete(fields, "fm")
	for k := range multifieldKeys {
		delete(fields, k) // updates change multifields through fm only
	}
	es.fields.normalize(fields, yes(p, "useOriginalUfNames"))
	for f := range strings.FieldsSeq(systemFields) {
		delete(fields, f) // set by imports only
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	it := es.getLocked(id)
	if it == nil {
		return outcome{items: 1, err: errItemNotFound}
	}
	merged := it.fieldMap()
	for k := range multifieldKeys {
		delete(merged, k)
	}
	for k, v := range fields {
		if isEmpty(v) {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	if d := requiredError(es.typeID, merged); d != "" {
		return outcome{items: 1, err: &apiErr{http.StatusBadRequest, "CRM_FIELD_ERROR_REQUIRED", d}}
	}
	merged["updatedTime"] = time.Now().Format(phpDateC)
	es.replaceLocked(it, merged)
	if hasFM && es.fields.multifields && !es.compact {
		it.fm = es.applyFM(it.fm, fm)
	}
	x.s.rec.count(func(st *Stats) { st.ItemsUpdated++ })
	return outcome{items: 1, result: map[string]any{"item": renderItem(es, it, nil)}}
}

// replaceLocked stores fields as it's new fields and keeps the key
// indexes in step.
func (es *entityStore) replaceLocked(it *storedItem, fields map[string]any) {
	es.byOriginID.remove(it.originID, it.id)
	es.byXMLID.remove(it.xmlID, it.id)
	it.title, it.originatorID = stringValue(fields["title"]), stringValue(fields["originatorId"])
	it.originID, it.xmlID = stringValue(fields["originId"]), stringValue(fields["xmlId"])
	es.byOriginID.add(it.originID, it.id)
	es.byXMLID.add(it.xmlID, it.id)
	if !es.compact {
		it.fields = fields
	}
}

// applyFM applies an update's fm operations to the values of an item.
func (es *entityStore) applyFM(cur []fmValue, ops any) []fmValue {
	m, ok := ops.(map[string]any)
	if !ok {
		return cur
	}
	for _, key := range naturalKeys(m) {
		op, _ := m[key].(map[string]any)
		if op == nil {
			continue
		}
		value := stringValue(op["value"])
		kind := strings.ToUpper(stringValue(op["typeId"]))
		if n, err := strconv.ParseInt(key, 10, 64); err == nil {
			at := -1
			for i, v := range cur {
				if v.id == n {
					at = i
				}
			}
			if at >= 0 {
				if value == "" {
					cur = append(cur[:at:at], cur[at+1:]...)
					continue
				}
				cur[at].value = value
				if vt := stringValue(op["valueType"]); vt != "" {
					cur[at].valueType = vt
				}
				continue
			}
		}
		if value == "" || !isMultifieldKind(kind) {
			continue
		}
		cur = append(cur, fmValue{id: nextFMID(es), typeID: kind, valueType: stringValue(op["valueType"]), value: value})
	}
	return cur
}

func isMultifieldKind(kind string) bool {
	for _, k := range multifieldOrder {
		if k == kind {
			return true
		}
	}
	return false
}

// handleDelete is crm.item.delete: the item is gone, its id never reused.
func handleDelete(x *exchange, p map[string]any) outcome {
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	id, e := itemParam(p)
	if e != nil {
		return outcome{err: e}
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	it := es.getLocked(id)
	if it == nil {
		return outcome{err: errItemNotFound}
	}
	es.byOriginID.remove(it.originID, it.id)
	es.byXMLID.remove(it.xmlID, it.id)
	it.deleted, it.fields, it.fm = true, nil, nil
	es.deleted++
	return outcome{result: []any{}}
}
