package b24

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Client-side item error codes. Local validation refuses an item with one of
// them in its [ItemError] before anything is sent; the item then ends
// [ItemRejected] and never reaches the portal. Each one stands for a mistake
// the portal would not report: it drops unknown fields and unparsable
// values silently.
const (
	// CodeInvalidField: a Fields key the portal cannot map (empty, or with
	// characters other than letters, digits and _), an upper-case UF_CRM_…
	// name without the original-names option (or a camelCase one with it),
	// or multifields on an entity type that has none.
	CodeInvalidField = "B24_INVALID_FIELD"
	// CodeFieldTypo: a Fields key that looks like a misspelling of a known
	// field, such as "isReccurring" for isRecurring. The portal would ignore
	// it. The description names the intended field.
	CodeFieldTypo = "B24_FIELD_TYPO"
	// CodeInvalidValue: a value that cannot be sent as given: a string that
	// is not UTF-8 or holds a NUL byte, NaN or ±Inf, a negative id, a Y/N
	// flag other than Y or N, an impossible date, a multifield without value
	// or with a bad value type, a Fields value of a type JSON cannot carry
	// (channel, function, complex number).
	CodeInvalidValue = "B24_INVALID_VALUE"
	// CodeDuplicateField: a Fields key that names a typed field (title,
	// TITLE, isRecurring, PHONE, parentId1220, ...). Set the typed field
	// instead, so the item has one value per field.
	CodeDuplicateField = "B24_DUPLICATE_FIELD"
	// CodeHistoryOrder: history fields the portal would refuse: updatedTime
	// or movedTime without createdTime, movedTime outside [createdTime,
	// updatedTime], updatedTime before createdTime, a time in the future,
	// createdTime earlier than that of an earlier item of the import
	// (history must be imported oldest first; equal times are fine), or
	// createdTime on an item that follows one without it (the portal dates
	// that one now, and refuses anything older after it).
	CodeHistoryOrder = "B24_HISTORY_ORDER"
)

// itemValidator validates the items of one import in order; not safe for
// concurrent use. It remembers the createdTime of the last accepted item,
// and whether an undated one was accepted, so that history is imported
// oldest first. Refused items do not move that mark: they are not sent.
type itemValidator struct {
	et              EntityTypeID
	originalUFNames bool
	now             func() time.Time
	update          bool // the items update existing ones (see checkMode)

	lastCreated int64 // unix seconds of the last accepted createdTime
	haveCreated bool
	undatedSeen bool // an item without createdTime was accepted

	keys map[string]keyVerdict // Fields keys repeat from item to item
}

// keyVerdict is the cached judgement of a Fields key; code "" means fine.
type keyVerdict struct{ code, desc string }

// maxKeyCache bounds the key cache when every item brings new keys.
const maxKeyCache = 4096

// newItemValidator returns a validator for one import of entity type et.
// With originalUFNames user fields must be spelled UF_CRM_…, else ufCrm….
// now is the clock for the "not in the future" rule (nil: time.Now).
func newItemValidator(et EntityTypeID, originalUFNames bool, now func() time.Time) *itemValidator {
	if now == nil {
		now = time.Now
	}
	return &itemValidator{et: et, originalUFNames: originalUFNames, now: now}
}

// Validate checks the item as an import of entityTypeID would before
// sending it, without the ordering rule between items, and assuming
// camelCase user field names. The error, if any, matches [ErrInvalidInput]
// and unwraps to an [*ItemError] with one of the Code* constants above.
func (it *Item) Validate(entityTypeID EntityTypeID) error {
	if ie := newItemValidator(entityTypeID, false, time.Now).check(it); ie != nil {
		return &invalidItemError{item: ie}
	}
	return nil
}

func itemErr(code, format string, args ...any) *ItemError {
	return &ItemError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// check returns nil when the item may be sent, else an *ItemError (Index
// left 0; the engine sets it) with a client-side code.
func (v *itemValidator) check(it *Item) *ItemError {
	if ie := v.checkMode(it); ie != nil {
		return ie
	}
	if ie := v.checkTyped(it); ie != nil {
		return ie
	}
	if ie := v.checkMultifields(it); ie != nil {
		return ie
	}
	for et, id := range it.Parents {
		if et <= 0 {
			return itemErr(CodeInvalidField, "Parents: entity type %d is not valid", et)
		}
		if id < 0 {
			return itemErr(CodeInvalidValue, "Parents[%d]: id %d is negative", et, id)
		}
	}
	if ie := v.checkFields(it); ie != nil {
		return ie
	}
	if ie := v.checkHistory(it); ie != nil {
		return ie
	}
	if !it.CreatedTime.IsZero() {
		v.lastCreated, v.haveCreated = it.CreatedTime.Unix(), true
	} else {
		v.undatedSeen = true
	}
	return nil
}

// checkTyped applies each typed field's own checks (see [fieldKind]).
func (v *itemValidator) checkTyped(it *Item) *ItemError {
	for i := range itemFields {
		f := &itemFields[i]
		if path, problem := f.kind.check(it); problem != "" {
			return itemErr(CodeInvalidValue, "%s%s: %s", f.wire, path, problem)
		}
	}
	return nil
}

func (v *itemValidator) checkMultifields(it *Item) *ItemError {
	for _, mk := range multifieldKeys {
		list := *mk.get(it)
		if len(list) == 0 {
			continue
		}
		if !v.et.hasMultifields() {
			return itemErr(CodeInvalidField, "%s (Item.%s): a %s has no %s field; only leads, contacts and companies do, the portal would drop it",
				mk.wire, mk.goName, v.et, mk.wire)
		}
		for j, m := range list {
			switch {
			case strings.TrimSpace(m.Value) == "":
				return itemErr(CodeInvalidValue, "%s[%d]: empty VALUE (the portal skips it silently)", mk.wire, j)
			case badString(m.Value) != "":
				return itemErr(CodeInvalidValue, "%s[%d]: VALUE %s", mk.wire, j, badString(m.Value))
			case m.ValueType == "":
				return itemErr(CodeInvalidValue, "%s[%d]: empty VALUE_TYPE; use WORK, HOME, MOBILE, OTHER, ...", mk.wire, j)
			case !isUpperIdent(m.ValueType):
				return itemErr(CodeInvalidValue, "%s[%d]: VALUE_TYPE %s must be upper case, like WORK or MOBILE", mk.wire, j, quoteName(m.ValueType))
			}
		}
	}
	return nil
}

// isUpperIdent reports whether s is an upper-case identifier: A-Z, 0-9, _.
func isUpperIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != "" && (s[0] < '0' || s[0] > '9')
}

// checkFields judges every Fields key and value. With several problems the
// one with the smallest key is reported, so the answer does not depend on
// map order.
func (v *itemValidator) checkFields(it *Item) *ItemError {
	var (
		worst    *ItemError
		worstKey string
	)
	for k, val := range it.Fields {
		if worst != nil && k >= worstKey {
			continue
		}
		var ie *ItemError
		if kv := v.judgeKey(k); kv.code != "" && !(val == Clear && kv.code == CodeDuplicateField) {
			ie = &ItemError{Code: kv.code, Description: kv.desc}
		} else if path, problem := checkValue(val, 0); problem != "" {
			ie = itemErr(CodeInvalidValue, "%s: %s", shortName(k+path), problem)
		}
		if ie != nil {
			worst, worstKey = ie, k
		}
	}
	return worst
}

func (v *itemValidator) judgeKey(k string) keyVerdict {
	if kv, ok := v.keys[k]; ok {
		return kv
	}
	kv := classifyKey(k, v.originalUFNames)
	if v.keys == nil {
		v.keys = make(map[string]keyVerdict)
	}
	if len(v.keys) < maxKeyCache {
		v.keys[k] = kv
	}
	return kv
}

// classifyKey judges one Fields key on its own.
func classifyKey(k string, originalUFNames bool) keyVerdict {
	if k == "" {
		return keyVerdict{CodeInvalidField, "empty field name"}
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return keyVerdict{CodeInvalidField, fmt.Sprintf("field name %s: the portal maps only letters, digits and _", quoteName(k))}
		}
	}
	name := shortName(k)
	if len(k) >= 3 && strings.EqualFold(k[:3], "UF_") {
		if originalUFNames {
			return keyVerdict{}
		}
		return keyVerdict{CodeInvalidField, fmt.Sprintf("%s: upper-case user field names are ignored unless the import uses original UF names; %s",
			name, ufCamelAdvice(k))}
	}
	norm := normalizeKey(k)
	if strings.HasPrefix(norm, "ufcrm") {
		if originalUFNames {
			return keyVerdict{CodeInvalidField, fmt.Sprintf("%s: with original UF names the portal expects UF_CRM_… names", name)}
		}
		return keyVerdict{}
	}
	if rest, ok := strings.CutPrefix(norm, "parentid"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return keyVerdict{CodeDuplicateField, fmt.Sprintf("%s: set parent links in Item.Parents[%s], not in Fields", name, shortName(strings.TrimLeft(rest, "0")))}
	}
	for _, mk := range multifieldKeys {
		if norm == strings.ToLower(mk.wire) {
			return keyVerdict{CodeDuplicateField, fmt.Sprintf("%s: set Item.%s, not Fields (the import reads only the upper-case list it writes)", name, mk.goName)}
		}
	}
	if f, ok := typedByNorm[norm]; ok {
		return keyVerdict{CodeDuplicateField, fmt.Sprintf("%s: is the typed field %s; set Item.%s instead of Fields", name, f.wire, f.goName)}
	}
	if knownOtherFields[norm] {
		return keyVerdict{}
	}
	if len(norm) < 6 {
		return keyVerdict{}
	}
	best, bestDist := "", 3
	for _, c := range typoCandidates {
		if len(c.norm) < 6 || absInt(len(c.norm)-len(norm)) >= bestDist {
			continue
		}
		if d := levenshtein(norm, c.norm, bestDist); d < bestDist {
			best, bestDist = c.advice, d
		}
	}
	if best != "" {
		return keyVerdict{CodeFieldTypo, fmt.Sprintf("%s: looks like a misspelling of %s; the portal would ignore it silently", name, best)}
	}
	return keyVerdict{}
}

// shortName cuts a caller's name for an error description.
func shortName(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// normalizeKey folds the ways the portal spells one field (title, TITLE,
// is_recurring, IS_RECURRING, isRecurring) into one form.
func normalizeKey(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_':
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// ufCamelAdvice suggests the camelCase spelling of an UF_CRM_ name where
// the conversion is certain.
func ufCamelAdvice(k string) string {
	if len(k) > 64 {
		return "use the camelCase name crm.item.fields lists (ufCrm…)"
	}
	rest, ok := strings.CutPrefix(strings.ToUpper(k), "UF_CRM_")
	if !ok || rest == "" {
		return "use the camelCase name crm.item.fields lists (ufCrm…)"
	}
	if strings.Trim(rest, "0123456789") == "" {
		return "use " + strconv.Quote("ufCrm_"+rest)
	}
	if typ, id, ok := strings.Cut(rest, "_"); ok && typ != "" && id != "" &&
		strings.Trim(typ, "0123456789") == "" && strings.Trim(id, "0123456789") == "" {
		return "use " + strconv.Quote("ufCrm"+typ+"_"+id)
	}
	return "use the camelCase name crm.item.fields lists (ufCrm…)"
}

// typedByNorm finds a typed field by its normalised name.
var typedByNorm = func() map[string]*typedField {
	m := make(map[string]*typedField, len(itemFields))
	for i := range itemFields {
		m[normalizeKey(itemFields[i].wire)] = &itemFields[i]
	}
	return m
}()

// otherFieldNames are real crm.item fields without a typed field in Item.
// They pass as Fields keys, and misspellings of them are caught.
var otherFieldNames = []string{
	"statusDescription", "webformId", "locationId", "photo", "export", "originVersion",
	"logo", "bankingDetails", "industry", "employees", "revenue", "isMyCompany",
	"content", "terms", "dealId", "storageTypeId", "storageElementIds", "actualDate",
	"opportunityAccount", "taxValueAccount", "accountCurrencyId", "stageSemanticId",
	"isReturnCustomer", "isRepeatedApproach", "lastActivityTime", "lastActivityBy",
	"lastCommunicationTime", "previousStageId", "productRows", "closed", "id",
	"entityTypeId", "sourceDescription",
}

var knownOtherFields = func() map[string]bool {
	m := make(map[string]bool, len(otherFieldNames))
	for _, n := range otherFieldNames {
		m[normalizeKey(n)] = true
	}
	return m
}()

// typoCandidates are the names a misspelt key is compared with, with the
// advice to give for each.
var typoCandidates = func() []struct{ norm, advice string } {
	var c []struct{ norm, advice string }
	for _, f := range itemFields {
		c = append(c, struct{ norm, advice string }{normalizeKey(f.wire), fmt.Sprintf("%s (set Item.%s)", f.wire, f.goName)})
	}
	for _, n := range otherFieldNames {
		c = append(c, struct{ norm, advice string }{normalizeKey(n), strconv.Quote(n)})
	}
	return c
}()

// levenshtein returns the edit distance of a and b, or limit when it is at
// least limit.
func levenshtein(a, b string, limit int) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

func absInt(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// checkHistory applies the portal's rules for history fields and the
// oldest-first order within the import. Times are compared to the second,
// as the portal stores them. Negative createdBy, updatedBy and movedBy are
// caught with the other ids in checkTyped.
func (v *itemValidator) checkHistory(it *Item) *ItemError {
	c, u, m := it.CreatedTime, it.UpdatedTime, it.MovedTime
	if c.IsZero() && u.IsZero() && m.IsZero() {
		return nil
	}
	now := v.now().Unix()
	stamp := func(t time.Time) string { return t.Format(time.RFC3339) }
	if !c.IsZero() && c.Unix() > now {
		return itemErr(CodeHistoryOrder, "createdTime %s is in the future", stamp(c))
	}
	if !u.IsZero() {
		switch {
		case c.IsZero():
			return itemErr(CodeHistoryOrder, "updatedTime without createdTime: the portal would compare it with now and refuse it")
		case u.Unix() > now:
			return itemErr(CodeHistoryOrder, "updatedTime %s is in the future", stamp(u))
		case u.Unix() < c.Unix():
			return itemErr(CodeHistoryOrder, "updatedTime %s is before createdTime %s", stamp(u), stamp(c))
		}
	}
	if !m.IsZero() {
		if c.IsZero() {
			return itemErr(CodeHistoryOrder, "movedTime without createdTime: the portal would compare it with now and refuse it")
		}
		upper := c
		if !u.IsZero() {
			upper = u
		}
		if m.Unix() < c.Unix() || m.Unix() > upper.Unix() {
			return itemErr(CodeHistoryOrder, "movedTime %s is outside [createdTime %s, %s]", stamp(m), stamp(c), stamp(upper))
		}
	}
	if !c.IsZero() {
		if v.undatedSeen {
			return itemErr(CodeHistoryOrder, "createdTime set on an item that follows one without createdTime: the portal dates that one now, so it would refuse this one; import dated items first")
		}
		if v.haveCreated && c.Unix() < v.lastCreated {
			return itemErr(CodeHistoryOrder, "createdTime %s is earlier than the previous item's %s: import history oldest first",
				stamp(c), time.Unix(v.lastCreated, 0).In(c.Location()).Format(time.RFC3339))
		}
	}
	return nil
}
