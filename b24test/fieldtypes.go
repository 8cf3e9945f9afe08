package b24test

import (
	"strconv"
	"strings"
)

// fieldKind is how the portal types a field's value in its answers,
// whatever the request sent: values that arrive as strings (every value of
// a form-encoded request, so every command of a batch) come back as
// numbers when the field holds numbers.
type fieldKind uint8

const (
	kindAsSent fieldKind = iota // strings, dates, user fields of unknown type
	kindInt                     // integer, user, crm_* ids
	kindDouble                  // double
	kindYesNo                   // boolean: "Y" or "N"
)

// kindOf returns the kind of a canonical field name.
func kindOf(name string) fieldKind {
	switch fieldTypes[name] {
	case "double":
		return kindDouble
	case "boolean":
		return kindYesNo
	case "integer", "user", "crm_category", "crm_company", "crm_contact", "crm_lead", "crm_quote", "crm_deal":
		return kindInt
	case "":
		if strings.HasPrefix(name, "parentId") && allDigits(name[len("parentId"):]) {
			return kindInt // crm_entity: the parent's id
		}
	}
	return kindAsSent
}

// typeValues converts the values of fields (canonical names) to the types
// the portal answers with: "4" becomes 4 in an id field, "19.5" 19.5 in a
// double one, true "Y" in a boolean one. A value that does not parse is
// kept as it was.
func typeValues(fields map[string]any) {
	for k, v := range fields {
		kind := kindOf(k)
		if kind == kindAsSent {
			continue
		}
		if list, ok := v.([]any); ok {
			for i, e := range list {
				list[i] = typeValue(kind, e)
			}
			continue
		}
		fields[k] = typeValue(kind, v)
	}
}

func typeValue(kind fieldKind, v any) any {
	switch kind {
	case kindInt:
		// float64, as a JSON request's numbers decode: 4 encodes as 4.
		if n, ok := intValue(v); ok {
			return float64(n)
		}
	case kindDouble:
		switch t := v.(type) {
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
				return f
			}
		}
	case kindYesNo:
		switch t := v.(type) {
		case bool:
			if t {
				return "Y"
			}
			return "N"
		case string:
			switch t {
			case "1", "true":
				return "Y"
			case "0", "false", "":
				return "N"
			}
		}
	}
	return v
}
