package b24test

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

const utmFields = " utmSource utmMedium utmCampaign utmContent utmTerm"

// systemFields are the history fields import may set (§1.7 of the API notes).
const systemFields = " createdTime updatedTime movedTime createdBy updatedBy movedBy"

// writableFields lists the fields each entity type reads, from the field
// tables of the crm.item.import docs; ufCrm… and parentId… are accepted for
// every type on top.
var writableFields = map[int]string{
	1: "title honorific name secondName lastName birthdate companyTitle sourceId sourceDescription stageId " +
		"statusDescription post currencyId isManualOpportunity opportunity opened comments assignedById " +
		"companyId contactId contactIds originatorId originId webformId observers" + utmFields,
	2: "title typeId categoryId stageId isRecurring probability currencyId isManualOpportunity opportunity " +
		"taxValue companyId contactId contactIds quoteId begindate closedate opened comments assignedById " +
		"sourceId sourceDescription leadId additionalInfo originatorId originId observers locationId" + utmFields,
	3: "honorific name secondName lastName photo birthdate typeId sourceId sourceDescription post comments " +
		"opened export assignedById companyId companyIds leadId originatorId originId originVersion observers" + utmFields,
	4: "title typeId logo bankingDetails industry employees currencyId revenue opened comments isMyCompany " +
		"assignedById contactIds leadId originatorId originId originVersion observers" + utmFields,
	7: "title assignedById opened content terms comments dealId leadId storageTypeId storageElementIds webformId " +
		"companyId contactId contactIds locationId currencyId isManualOpportunity opportunity taxValue stageId " +
		"begindate closedate actualDate mycompanyId" + utmFields,
	31: "title xmlId assignedById opened webformId begindate closedate companyId contactId contactIds observers " +
		"stageId sourceId sourceDescription currencyId isManualOpportunity opportunity taxValue mycompanyId " +
		"comments locationId",
}

// smartProcessFields is the field list of every registered smart process.
const smartProcessFields = "title xmlId assignedById opened webformId begindate closedate companyId contactId " +
	"contactIds observers stageId sourceId sourceDescription currencyId isManualOpportunity opportunity " +
	"taxValue mycompanyId categoryId"

// dateFields hold a date or datetime; values that do not parse are dropped.
var dateFields = map[string]bool{
	"begindate": true, "closedate": true, "birthdate": true, "actualDate": true,
	"createdTime": true, "updatedTime": true, "movedTime": true,
}

// multifieldKeys are read raw and upper-case, for leads, contacts, companies.
var multifieldKeys = map[string]bool{"PHONE": true, "EMAIL": true, "WEB": true, "IM": true, "LINK": true}

// fieldSet is what one entity type accepts.
type fieldSet struct {
	camel       map[string]bool
	upper       map[string]string // UPPER_SNAKE -> camelCase, for the system names
	multifields bool
}

func newFieldSet(typeID int) *fieldSet {
	list, ok := writableFields[typeID]
	if !ok {
		list = smartProcessFields
	}
	fs := &fieldSet{camel: make(map[string]bool), upper: make(map[string]string)}
	for f := range strings.FieldsSeq(list + systemFields) {
		fs.camel[f] = true
		fs.upper[upperSnake(f)] = f
	}
	fs.multifields = typeID == 1 || typeID == 3 || typeID == 4
	return fs
}

// upperSnake converts a camelCase name the way the portal's converter does:
// "assignedById" -> "ASSIGNED_BY_ID", "parentId1220" -> "PARENT_ID_1220".
func upperSnake(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		isUpper := 'A' <= c && c <= 'Z'
		isDigit := '0' <= c && c <= '9'
		if i > 0 && (isUpper || isDigit && !isDigitByte(s[i-1])) && s[i-1] != '_' {
			b.WriteByte('_')
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

// canonical returns the camelCase name the portal stores key under, or ""
// when the portal ignores the key.
func (fs *fieldSet) canonical(key string, originalUF bool) string {
	if fs.camel[key] {
		return key
	}
	if strings.HasPrefix(key, "ufCrm") {
		return key
	}
	if strings.HasPrefix(key, "parentId") && allDigits(key[len("parentId"):]) {
		return key
	}
	if c, ok := fs.upper[key]; ok {
		return c
	}
	if strings.HasPrefix(key, "PARENT_ID_") && allDigits(key[len("PARENT_ID_"):]) {
		return "parentId" + key[len("PARENT_ID_"):]
	}
	if originalUF && strings.HasPrefix(key, "UF_CRM_") && len(key) > len("UF_CRM_") {
		rest := key[len("UF_CRM_"):]
		if n := digitRun(rest); n > 0 && n < len(rest) && rest[n] == '_' {
			return "ufCrm" + rest // UF_CRM_44_17 -> ufCrm44_17
		}
		return "ufCrm_" + rest // UF_CRM_17 -> ufCrm_17
	}
	return ""
}

func allDigits(s string) bool { return s != "" && digitRun(s) == len(s) }

// normalize rewrites fields in place to what the portal keeps: canonical
// keys, multifields cleaned, unknown keys and unparseable dates dropped.
func (fs *fieldSet) normalize(fields map[string]any, originalUF bool) {
	var renames []string // pairs old, new
	for k, v := range fields {
		if multifieldKeys[k] {
			if !fs.multifields {
				delete(fields, k)
			} else if mf := cleanMultifield(v); mf != nil {
				fields[k] = mf
			} else {
				delete(fields, k)
			}
			continue
		}
		c := fs.canonical(k, originalUF)
		switch {
		case c == "":
			delete(fields, k)
			continue
		case dateFields[c]:
			if _, ok := parsePortalTime(v); !ok {
				delete(fields, k)
				continue
			}
		}
		if c != k {
			renames = append(renames, k, c)
		}
	}
	for i := 0; i < len(renames); i += 2 {
		if _, taken := fields[renames[i+1]]; !taken { // the camelCase key wins
			fields[renames[i+1]] = fields[renames[i]]
		}
		delete(fields, renames[i])
	}
	typeValues(fields)
}

// cleanMultifield keeps the elements with a non-empty VALUE, each reduced
// to VALUE, VALUE_TYPE (and VALUE_COUNTRY_CODE); nil when none is left.
func cleanMultifield(v any) []any {
	var elems []any
	switch t := v.(type) {
	case []any:
		elems = t
	case map[string]any:
		for _, k := range naturalKeys(t) {
			elems = append(elems, t[k])
		}
	default:
		return nil
	}
	var out []any
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok || isEmpty(m["VALUE"]) {
			continue
		}
		clean := map[string]any{"VALUE": stringValue(m["VALUE"]), "VALUE_TYPE": stringValue(m["VALUE_TYPE"])}
		if cc, ok := m["VALUE_COUNTRY_CODE"]; ok {
			clean["VALUE_COUNTRY_CODE"] = stringValue(cc)
		}
		out = append(out, clean)
	}
	return out
}

// timeLayouts are the forms accepted for dates and datetimes: what the SDK
// sends and the common forms PHP's strtotime reads.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05-07:00",
	time.DateOnly,
	"02.01.2006 15:04:05",
	"02.01.2006",
}

// parsePortalTime reads a date or datetime value; forms without an offset
// are read in UTC, the fake portal's time zone.
func parsePortalTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok || s == "" {
		return time.Time{}, false
	}
	if len(s) == len(time.DateOnly) { // the common date form first
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, true
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// isEmpty mirrors PHP's empty(): nil, false, 0, "0", "" and [] are empty.
func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case bool:
		return !t
	case string:
		return t == "" || t == "0"
	case float64:
		return t == 0
	case json.Number:
		return t == "0" || t == ""
	case int:
		return t == 0
	case int64:
		return t == 0
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

// stringValue renders a scalar the way PHP would compare it as a string.
func stringValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "1"
		}
		return ""
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return ""
}

// intValue reads an integer parameter given as a number or numeric string.
func intValue(v any) (int64, bool) {
	switch t := v.(type) {
	case float64:
		if t == float64(int64(t)) {
			return int64(t), true
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		return n, err == nil
	case json.Number:
		n, err := t.Int64()
		return n, err == nil
	case int:
		return int64(t), true
	case int64:
		return t, true
	}
	return 0, false
}

// requiredError returns the description of the first required field the
// item lacks, or "".
func requiredError(typeID int, fields map[string]any) string {
	switch typeID {
	case 3:
		if isEmpty(fields["name"]) && isEmpty(fields["lastName"]) {
			return `The "name" or "lastName" field is required.`
		}
	default:
		if isEmpty(fields["title"]) {
			return `The "title" field is required.`
		}
	}
	return ""
}

// checkSystemFields applies the history rules of the import operation:
// createdTime not before the newest item's and not in the future,
// updatedTime not in the future and not before createdTime, movedTime
// between them, user ids not negative. It returns the created time to store
// and an error description ("" when valid).
func checkSystemFields(fields map[string]any, lastCreated time.Time, hasLast bool, now time.Time) (time.Time, string) {
	created := now
	ct, hasCT := parsePortalTime(fields["createdTime"])
	if hasCT {
		switch {
		case ct.After(now):
			return now, `"createdTime" must not be in the future`
		case hasLast && ct.Before(lastCreated):
			return now, `"createdTime" must not be earlier than the creation time of the last item`
		}
		created = ct
	}
	ut, hasUT := parsePortalTime(fields["updatedTime"])
	if hasUT {
		switch {
		case ut.After(now):
			return now, `"updatedTime" must not be in the future`
		case ut.Before(created.Add(-time.Second)):
			return now, `"updatedTime" must not be earlier than "createdTime"`
		}
	}
	if mt, ok := parsePortalTime(fields["movedTime"]); ok {
		upper := created
		if hasUT {
			upper = ut
		}
		if mt.Before(created.Add(-time.Second)) || mt.After(upper.Add(time.Second)) {
			return now, `"movedTime" must lie between "createdTime" and "updatedTime"`
		}
	}
	for _, f := range []string{"createdBy", "updatedBy", "movedBy"} {
		if n, ok := intValue(fields[f]); ok && n < 0 {
			return now, `"` + f + `" must not be negative`
		}
	}
	return created, ""
}

// digitRun is the length of the run of ASCII digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
