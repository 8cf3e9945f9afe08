package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/b24kit/b24"
)

// fieldIndex knows the fields of one entity type and the names and titles
// they go by: the typed fields of b24.Item, multifields, user fields, and
// with credentials every field the portal reports with its title.
type fieldIndex struct {
	et     b24.EntityTypeID
	portal map[string]b24.FieldInfo // nil offline
	upper  map[string]string        // UPPER_SNAKE -> camelCase
	folded map[string]string        // folded camelCase name -> name
	titles map[string][]string      // folded title -> fields
	source map[string]string        // folded title -> "portal title" or "built-in title"
}

func newFieldIndex(mc *mappingConfig) *fieldIndex {
	ix := &fieldIndex{et: mc.et, portal: mc.fields, upper: map[string]string{}, folded: map[string]string{},
		titles: map[string][]string{}, source: map[string]string{}}
	add := func(name string) {
		ix.upper[upperSnake(name)] = name
		ix.folded[foldName(name)] = name
	}
	for name := range typedKinds {
		add(name)
	}
	for name, fi := range mc.fields {
		if !settable(name, fi) {
			continue
		}
		add(name)
		if fi.UpperName != "" {
			ix.upper[fi.UpperName] = name
		}
	}
	addTitle := func(title, field, src string) {
		k := foldName(title)
		if k == "" || slices.Contains(ix.titles[k], field) {
			return
		}
		ix.titles[k] = append(ix.titles[k], field)
		if _, ok := ix.source[k]; !ok {
			ix.source[k] = src
		}
	}
	// The portal's titles first: they are what its own export writes.
	for _, name := range sortedKeys(mc.fields) {
		fi := mc.fields[name]
		if !settable(name, fi) {
			continue
		}
		for _, t := range []string{fi.Title, fi.ListLabel, fi.FormLabel, fi.FilterLabel} {
			if t != "" && t != fi.UpperName {
				addTitle(t, name, "the portal's title")
			}
		}
	}
	for _, field := range sortedKeys(builtinTitles) {
		if !ix.known(field) {
			continue
		}
		for _, t := range builtinTitles[field] {
			if k := foldName(t); len(ix.titles[k]) > 0 && ix.source[k] == "the portal's title" {
				continue // the portal's own title wins
			}
			addTitle(t, field, "a common export title")
		}
	}
	return ix
}

// settable reports whether an import can set the portal's field: not the
// id, not read-only ones other than the history fields import takes.
func settable(name string, fi b24.FieldInfo) bool {
	return name != "id" && (!fi.ReadOnly || historyField(name))
}

// historyField reports the read-only fields that import may set anyway.
func historyField(name string) bool {
	switch name {
	case "createdTime", "updatedTime", "movedTime", "createdBy", "updatedBy", "movedBy":
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// known reports whether field is a field of the entity type as written
// in a mapping: a typed field, ufCrm…/UF_CRM_…, parentIdN, a multifield
// (PHONE, PHONE_MOBILE, ...) or a field the portal reports.
func (ix *fieldIndex) known(field string) bool {
	if _, ok := typedKinds[field]; ok {
		return ix.portal == nil || ix.inPortal(field)
	}
	if fi, ok := ix.portal[field]; ok {
		return settable(field, fi)
	}
	if reUserField.MatchString(field) || reUFOrig.MatchString(field) {
		return ix.portal == nil || ix.inPortal(field)
	}
	if reParent.MatchString(field) {
		return true
	}
	base, vt, _ := strings.Cut(field, "_")
	if types, ok := multifieldTypes[base]; ok {
		return vt == "" || slices.Contains(types, vt)
	}
	return false
}

// inPortal reports whether the portal has field (camelCase or UF_CRM_…).
// Portals omit some typed fields from crm.item.fields that import still
// takes (observers, contactIds on some types), so those pass.
func (ix *fieldIndex) inPortal(field string) bool {
	if _, ok := ix.portal[field]; ok {
		return true
	}
	for _, fi := range ix.portal {
		if fi.UpperName == field {
			return true
		}
	}
	if _, typed := typedKinds[field]; typed {
		return !reUserField.MatchString(field)
	}
	return false
}

// match finds the field a column name stands for, and how it was found.
func (ix *fieldIndex) match(name string) (field, how string) {
	if ix.known(name) {
		return name, "field name"
	}
	if c, ok := ix.upper[name]; ok {
		return c, "system name"
	}
	if base, _, _ := strings.Cut(name, "_"); multifieldTypes[base] != nil {
		return name, "field name" // a bad value type is refused by setField
	}
	f := foldName(name)
	if c, ok := ix.folded[f]; ok {
		return c, "another spelling of the field name"
	}
	if fs := ix.titles[f]; len(fs) == 1 {
		return fs[0], ix.source[f]
	}
	return "", ""
}

// suggestion returns ` (did you mean "x"?)` for a name close to a field
// or a title, or "".
func (ix *fieldIndex) suggestion(name string) string {
	if fs := ix.titles[foldName(name)]; len(fs) > 1 {
		return fmt.Sprintf(" (the title fits several fields: %s)", strings.Join(fs, ", "))
	}
	if s := suggest(name); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	f := foldName(name)
	best, bestDist := "", 3
	if len([]rune(f)) < 5 {
		return ""
	}
	for t, fs := range ix.titles {
		if d := editDistance(f, t); d < bestDist || d == bestDist && fs[0] < best {
			best, bestDist = fs[0], d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// setField points c at field and picks how its cells are coerced.
func (c *column) setField(field string, ix *fieldIndex) error {
	c.field = field
	if fi, ok := ix.portal[field]; ok {
		c.info = &fi
	} else {
		for _, fi := range ix.portal {
			if fi.UpperName == field && fi.IsUserField() {
				c.info = &fi
				break
			}
		}
	}
	switch k, ok := typedKinds[field]; {
	case ok:
		c.kind = k
	case reParent.MatchString(field):
		c.kind = kindParent
	case reUserField.MatchString(field), reUFOrig.MatchString(field):
		c.kind = kindUser
	default:
		base, vt, _ := strings.Cut(field, "_")
		if types, ok := multifieldTypes[base]; ok {
			if vt == "" {
				vt = types[0]
			}
			if !slices.Contains(types, vt) {
				return fmt.Errorf("%s value type must be one of %s", base, strings.Join(types, ", "))
			}
			c.kind, c.multi, c.valueType = kindMultifield, base, vt
			c.field = base
			return nil
		}
		c.kind = kindExtra
		if c.info != nil {
			c.kind = kindUser // a portal field this build has no type for: coerced by its declared type
		}
	}
	return nil
}

// upperSnake converts a camelCase name the way the portal does:
// "assignedById" -> "ASSIGNED_BY_ID", "parentId1220" -> "PARENT_ID_1220".
func upperSnake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		isUpper := 'A' <= c && c <= 'Z'
		isDigit := '0' <= c && c <= '9'
		if i > 0 && (isUpper || isDigit && !('0' <= s[i-1] && s[i-1] <= '9')) && s[i-1] != '_' {
			b.WriteByte('_')
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
