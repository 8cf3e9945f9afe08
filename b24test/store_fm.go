package b24test

import (
	"strings"
	"sync/atomic"
)

// fmValue is one multifield value as the portal keeps it: an id of its
// own, the kind (PHONE, EMAIL, WEB, IM, LINK), the value type and the value.
type fmValue struct {
	id          int64
	typeID      string
	valueType   string
	value       string
	countryCode string
}

// takeMultifields moves the cleaned multifield lists of fields into fm
// values with new ids.
func (es *entityStore) takeMultifields(fields map[string]any) []fmValue {
	var fm []fmValue
	for _, kind := range multifieldOrder {
		list, ok := fields[kind].([]any)
		delete(fields, kind)
		if !ok {
			continue
		}
		for _, e := range list {
			m, _ := e.(map[string]any)
			v := fmValue{id: nextFMID(es), typeID: kind,
				valueType: stringValue(m["VALUE_TYPE"]), value: stringValue(m["VALUE"])}
			if cc, ok := m["VALUE_COUNTRY_CODE"]; ok {
				v.countryCode = stringValue(cc)
			}
			fm = append(fm, v)
		}
	}
	return fm
}

// multifieldOrder is the order multifield kinds are kept and listed in.
var multifieldOrder = [...]string{"PHONE", "EMAIL", "WEB", "IM", "LINK"}

// addMultifieldLists puts fm back into m as the upper-case lists an
// import sends.
func addMultifieldLists(m map[string]any, fm []fmValue) {
	for _, v := range fm {
		e := map[string]any{"VALUE": v.value, "VALUE_TYPE": v.valueType}
		if v.countryCode != "" {
			e["VALUE_COUNTRY_CODE"] = v.countryCode
		}
		list, _ := m[v.typeID].([]any)
		m[v.typeID] = append(list, e)
	}
}

// renderFM is the fm list of crm.item.get: every value with its id.
func renderFM(fm []fmValue) []any {
	out := make([]any, 0, len(fm))
	for _, v := range fm {
		out = append(out, map[string]any{"id": v.id, "typeId": v.typeID, "valueType": v.valueType, "value": v.value})
	}
	return out
}

// foldKey is a string as the portal's database collation compares it:
// case-insensitive, trailing spaces ignored.
func foldKey(s string) string { return strings.ToLower(strings.TrimRight(s, " ")) }

// remove drops id from the ids holding key.
func (x *idIndex) remove(key string, id int64) {
	key = foldKey(key)
	if key == "" {
		return
	}
	more := x.more[key]
	if first, ok := x.first[key]; ok && first == id {
		if len(more) == 0 {
			delete(x.first, key)
			return
		}
		x.first[key] = more[0]
		more = more[1:]
	} else {
		for i, m := range more {
			if m == id {
				more = append(more[:i:i], more[i+1:]...)
				break
			}
		}
	}
	if len(more) == 0 {
		delete(x.more, key)
	} else {
		x.more[key] = more
	}
}

// nextFMID is a new multifield value id, unique across the store.
func nextFMID(es *entityStore) int64 { return atomic.AddInt64(es.fmIDs, 1) }
