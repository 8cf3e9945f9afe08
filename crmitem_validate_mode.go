package b24

import "github.com/b24kit/b24/internal/dedup"

// Client-side codes of the rules that depend on what is done with an item:
// its dedup key when it is imported, the fields an update cannot set.
const (
	// CodeIncompleteKey: OriginatorID without OriginID, or the reverse, on
	// a lead, deal, contact or company. Half a key is no key: the item
	// could be neither found again nor told apart from a copy.
	CodeIncompleteKey = "B24_INCOMPLETE_KEY"
	// CodeDuplicateKey: a row with the dedup key of an earlier row of the
	// same import (compared as the portal does: case and trailing spaces
	// ignored). Only the first is sent; the description names the key.
	CodeDuplicateKey = "B24_DUPLICATE_KEY"
	// CodeImportOnly: a history field (createdTime, updatedTime,
	// movedTime, createdBy, updatedBy, movedBy) on an update. Only an
	// import sets them; an update cannot change them.
	CodeImportOnly = "B24_IMPORT_ONLY"
)

// Clear, as the value of a field in [Item.Fields], clears that field when
// the item updates one: Fields["comments"] = b24.Clear empties the
// comments, Fields["ufCrm_5"] = b24.Clear a user field, Fields["PHONE"] =
// b24.Clear every phone, Fields["parentId1220"] = b24.Clear a parent link.
// Typed fields may be named this way too (an unset typed field is not
// sent, so it cannot say "empty"). An import sends it as null, which
// leaves the field unset.
var Clear any = clearValue{}

// clearValue is the type of [Clear].
type clearValue struct{}

// historyFields are the fields only an import sets.
var historyFields = [...]string{"createdTime", "updatedTime", "movedTime", "createdBy", "updatedBy", "movedBy"}

// hasHistory reports whether it sets a history field.
func hasHistory(it *Item) bool {
	return !it.CreatedTime.IsZero() || !it.UpdatedTime.IsZero() || !it.MovedTime.IsZero() ||
		it.CreatedBy != 0 || it.UpdatedBy != 0 || it.MovedBy != 0
}

// checkMode applies the rules of the operation: an import's item has a
// whole dedup key or none; an update's sets no history field. Both
// refuse a field that is set and cleared at once.
func (v *itemValidator) checkMode(it *Item) *ItemError {
	if v.update {
		if hasHistory(it) {
			return itemErr(CodeImportOnly, "history fields (createdTime, updatedTime, movedTime, createdBy, updatedBy, movedBy) are set by an import only; an update cannot change them")
		}
		for _, h := range historyFields {
			if _, ok := it.Fields[h]; ok {
				return itemErr(CodeImportOnly, "%s is set by an import only; an update cannot change it", h)
			}
		}
	} else if dedup.HasOriginKey(int(v.et)) && (it.OriginatorID == "") != (it.OriginID == "") {
		have, miss := "originatorId", "originId"
		if it.OriginatorID == "" {
			have, miss = miss, have
		}
		return itemErr(CodeIncompleteKey, "%s without %s: a dedup key needs both (or neither); set %s too", have, miss, miss)
	}
	for k, val := range it.Fields {
		if val != Clear {
			continue
		}
		if f, ok := typedByWire[k]; ok {
			if _, written, _ := f.kind.encode(valueSink{discardSink{}}, nil, it, member{k, 0}); written {
				return itemErr(CodeDuplicateField, "%s: Item.%s is set and Fields clears it; do one", k, f.goName)
			}
		}
		for _, mk := range multifieldKeys {
			if k == mk.wire && len(*mk.get(it)) > 0 {
				return itemErr(CodeDuplicateField, "%s: Item.%s is set and Fields clears it; do one", k, mk.goName)
			}
		}
		if et, ok := parseParentKey(k); ok && it.Parents[et] != 0 {
			return itemErr(CodeDuplicateField, "%s: Item.Parents[%d] is set and Fields clears it; do one", k, et)
		}
	}
	return nil
}
