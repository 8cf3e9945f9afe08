package b24test

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// listPage is the page size of crm.item.list.
const listPage = 50

// filterTerm is one condition of a crm.item.list filter.
type filterTerm struct {
	field string
	op    string // "=", "!=", "@", "!@", ">", ">=", "<", "<="
	vals  []string
}

// parseFilter reads {"=originId": "7", "@xmlId": ["a","b"], "!title": "x"}.
func parseFilter(v any) []filterTerm {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	terms := make([]filterTerm, 0, len(m))
	for k, raw := range m {
		op, field := "=", k
		for _, pre := range []string{"!@", "!=", ">=", "<=", "@", "=", "!", ">", "<"} {
			if strings.HasPrefix(k, pre) {
				op, field = pre, k[len(pre):]
				break
			}
		}
		if op == "!" {
			op = "!="
		}
		var vals []string
		if list, isList := raw.([]any); isList {
			for _, e := range list {
				vals = append(vals, stringValue(e))
			}
			switch op {
			case "=":
				op = "@"
			case "!=":
				op = "!@"
			}
		} else if mv, isMap := raw.(map[string]any); isMap {
			for _, k := range naturalKeys(mv) {
				vals = append(vals, stringValue(mv[k]))
			}
			if op == "=" {
				op = "@"
			}
		} else {
			vals = []string{stringValue(raw)}
		}
		terms = append(terms, filterTerm{field: field, op: op, vals: vals})
	}
	return terms
}

// matches reports whether the item satisfies the term.
func (t *filterTerm) matches(it *storedItem) bool {
	var got string
	if strings.EqualFold(t.field, "id") {
		got = strconv.FormatInt(it.id, 10)
	} else {
		got = stringValue(it.value(t.field))
	}
	switch t.op {
	case "=":
		return sameValue(got, t.vals[0])
	case "!=":
		return !sameValue(got, t.vals[0])
	case "@", "!@":
		in := false
		for _, v := range t.vals {
			if sameValue(got, v) {
				in = true
				break
			}
		}
		return in == (t.op == "@")
	}
	c := compareValues(got, t.vals[0])
	switch t.op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	}
	return c <= 0 // "<="
}

// sameValue compares as the portal's database does: numbers by value,
// text case-insensitively and ignoring trailing spaces.
func sameValue(a, b string) bool {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		return fa == fb
	}
	return foldKey(a) == foldKey(b)
}

// checkIDTerms refuses an id filter whose value is not a number, as the
// portal does: INVALID_ARG_VALUE.
func checkIDTerms(terms []filterTerm) *apiErr {
	for _, t := range terms {
		if !strings.EqualFold(t.field, "id") {
			continue
		}
		for _, v := range t.vals {
			if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return &apiErr{http.StatusBadRequest, "INVALID_ARG_VALUE", "Invalid filter: field 'id' has invalid value"}
			}
		}
	}
	return nil
}

// compareValues compares numerically when both parse as numbers.
func compareValues(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

// candidatesLocked returns the ids an indexed equality or membership term allows,
// or all=true when no term can use an index.
func (es *entityStore) candidatesLocked(terms []filterTerm) (ids []int64, all bool) {
	for _, t := range terms {
		if t.op != "=" && t.op != "@" {
			continue
		}
		switch t.field {
		case "id", "ID":
			for _, v := range t.vals {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && es.getLocked(n) != nil {
					ids = append(ids, n)
				}
			}
		case "originId":
			for _, v := range t.vals {
				ids = es.byOriginID.lookup(ids, v)
			}
		case "xmlId":
			for _, v := range t.vals {
				ids = es.byXMLID.lookup(ids, v)
			}
		default:
			continue
		}
		return sortIDs(ids), false
	}
	return nil, true
}

func handleList(x *exchange, p map[string]any) outcome {
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	fv, _ := param(p, "filter")
	terms := parseFilter(fv)
	ov, _ := param(p, "order")
	orderField, desc := "id", false
	if om, ok := ov.(map[string]any); ok {
		for _, k := range naturalKeys(om) {
			orderField, desc = k, strings.EqualFold(stringValue(om[k]), "desc")
			break
		}
	}
	start, count := int64(0), true
	if sv, ok := param(p, "start"); ok {
		if n, ok := intValue(sv); ok && n > 0 {
			start = n
		} else if ok && n == -1 {
			count = false // start=-1: the first page, nothing counted
		}
	}
	if e := checkIDTerms(terms); e != nil {
		return outcome{err: e}
	}
	var sel map[string]bool
	if sv, ok := param(p, "select"); ok {
		sel = parseSelect(sv)
	}

	es.mu.RLock()
	defer es.mu.RUnlock()
	var ids []int64
	total := 0
	cands, all := es.candidatesLocked(terms)
	if all && orderField == "id" && !desc && !count {
		// start=-1 by id, the docs' way through a large list: nothing is
		// counted, so the page is read from the id the filter starts at.
		return outcome{result: map[string]any{"items": es.firstPageLocked(terms, sel)}}
	}
	if all && len(terms) == 0 && orderField == "id" && es.deleted == 0 {
		total = len(es.items) // no filter: page straight from the id range
	} else {
		if all {
			cands = make([]int64, 0, len(es.items))
			for i := range es.items {
				cands = append(cands, es.items[i].id)
			}
		}
		for _, id := range cands {
			it := es.getLocked(id)
			if it == nil {
				continue // deleted
			}
			ok := true
			for i := range terms {
				if !terms[i].matches(it) {
					ok = false
					break
				}
			}
			if ok {
				ids = append(ids, id)
			}
		}
		total = len(ids)
		if orderField != "id" {
			sort.SliceStable(ids, func(i, j int) bool {
				a := stringValue(es.getLocked(ids[i]).value(orderField))
				b := stringValue(es.getLocked(ids[j]).value(orderField))
				if desc {
					return compareValues(a, b) > 0
				}
				return compareValues(a, b) < 0
			})
		}
	}
	page := make([]any, 0, min(listPage, max(total-int(start), 0)))
	for i := start; i < int64(total) && i < start+listPage; i++ {
		pos := i
		if desc && orderField == "id" {
			pos = int64(total) - 1 - i
		}
		var it *storedItem
		if ids == nil {
			it = &es.items[pos]
		} else {
			it = es.getLocked(ids[pos])
		}
		page = append(page, renderItem(es, it, sel))
	}
	if !count {
		return outcome{result: map[string]any{"items": page}}
	}
	out := outcome{result: map[string]any{"items": page}, total: total, hasTotal: true}
	if start+listPage < int64(total) {
		out.next, out.hasNext = int(start+listPage), true
	}
	return out
}

// firstPageLocked is the first page, by id, of the items that match
// terms, starting at the lowest id a ">id" or ">=id" term allows.
func (es *entityStore) firstPageLocked(terms []filterTerm, sel map[string]bool) []any {
	from := 0 // index in es.items, whose ids are 1, 2, ...
	for _, t := range terms {
		if (t.field != "id" && t.field != "ID") || len(t.vals) == 0 {
			continue
		}
		n, err := strconv.ParseInt(t.vals[0], 10, 64)
		if err != nil {
			continue
		}
		switch t.op {
		case ">":
			from = max(from, int(min(n, int64(len(es.items)))))
		case ">=":
			from = max(from, int(min(n-1, int64(len(es.items)))))
		}
	}
	page := make([]any, 0, listPage)
	for i := from; i < len(es.items) && len(page) < listPage; i++ {
		it := &es.items[i]
		if it.deleted {
			continue
		}
		ok := true
		for j := range terms {
			if !terms[j].matches(it) {
				ok = false
				break
			}
		}
		if ok {
			page = append(page, renderItem(es, it, sel))
		}
	}
	return page
}

// parseSelect reads the select parameter; nil means every field.
func parseSelect(v any) map[string]bool {
	var names []string
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			names = append(names, stringValue(e))
		}
	case map[string]any:
		for _, k := range naturalKeys(t) {
			names = append(names, stringValue(t[k]))
		}
	case string:
		names = []string{t}
	}
	sel := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "*" {
			return nil
		}
		sel[n] = true
	}
	if len(sel) == 0 {
		return nil
	}
	return sel
}

// fieldTypes gives crm.item.fields a type for the fields that are not
// strings.
var fieldTypes = map[string]string{
	"opportunity": "double", "taxValue": "double", "probability": "integer",
	"begindate": "date", "closedate": "date", "birthdate": "date", "actualDate": "date",
	"createdTime": "datetime", "updatedTime": "datetime", "movedTime": "datetime",
	"opened": "boolean", "isManualOpportunity": "boolean", "isRecurring": "boolean", "export": "boolean",
	"isMyCompany": "boolean", "assignedById": "user", "createdBy": "user", "updatedBy": "user",
	"movedBy": "user", "observers": "user", "categoryId": "crm_category", "stageId": "crm_status",
	"currencyId": "crm_currency", "companyId": "crm_company", "contactId": "crm_contact",
	"contactIds": "crm_contact", "companyIds": "crm_company", "leadId": "crm_lead", "quoteId": "crm_quote",
	"dealId": "crm_deal", "mycompanyId": "crm_company", "photo": "file", "logo": "file",
	"webformId": "integer", "storageTypeId": "integer", "storageElementIds": "integer",
	"sourceId": "crm_status", "typeId": "crm_status", "locationId": "location",
	"originatorId": "string", "originId": "string", "xmlId": "string", "originVersion": "string",
}

var multipleFields = map[string]bool{"contactIds": true, "companyIds": true, "observers": true, "storageElementIds": true}

func handleFields(x *exchange, p map[string]any) outcome {
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	fields := make(map[string]any, len(es.fields.camel)+1)
	fields["id"] = fieldInfo("id", "integer", false, true, false)
	for name := range es.fields.camel {
		typ := fieldTypes[name]
		if typ == "" {
			typ = "string"
			if strings.HasSuffix(name, "Id") {
				typ = "integer"
			}
		}
		required := name == "title" && es.typeID != 3
		fields[name] = fieldInfo(name, typ, required, false, multipleFields[name])
	}
	x.s.userFieldInfo(es.typeID, fields)
	return outcome{result: map[string]any{"fields": fields}}
}

func fieldInfo(name, typ string, required, readOnly, multiple bool) map[string]any {
	return map[string]any{
		"type": typ, "isRequired": required, "isReadOnly": readOnly, "isImmutable": false,
		"isMultiple": multiple, "isDynamic": false, "title": name, "upperName": upperSnake(name),
	}
}
