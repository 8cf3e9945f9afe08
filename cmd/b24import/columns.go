package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// kind is how a CSV cell is coerced before it becomes a field value.
type kind int

const (
	kindString kind = iota
	kindInt
	kindFloat
	kindYesNo
	kindDate
	kindTime
	kindIDs
	kindMultifield // PHONE, EMAIL_WORK, ...
	kindParent     // parentId{N}
	kindUser       // ufCrm… / UF_CRM_…: sent as text, the portal converts
	kindExtra      // not a known field: sent as text, with a warning
)

// typedKinds maps the wire name of every typed b24.Item field to its kind.
// It is read off the struct's json tags, so it follows the library.
var typedKinds = func() map[string]kind {
	m := map[string]kind{}
	t := reflect.TypeFor[b24.Item]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || strings.ToUpper(name) == name {
			continue // untagged, or the upper-case multifield lists
		}
		switch f.Type {
		case reflect.TypeFor[b24.YesNo]():
			m[name] = kindYesNo
		case reflect.TypeFor[b24.Date]():
			m[name] = kindDate
		case reflect.TypeFor[time.Time]():
			m[name] = kindTime
		case reflect.TypeFor[[]int64]():
			m[name] = kindIDs
		default:
			switch f.Type.Kind() {
			case reflect.Int, reflect.Int64:
				m[name] = kindInt
			case reflect.Float64:
				m[name] = kindFloat
			default:
				m[name] = kindString
			}
		}
	}
	return m
}()

// multifieldTypes lists the value types each multifield accepts.
var multifieldTypes = map[string][]string{
	"PHONE": {"WORK", "MOBILE", "FAX", "HOME", "PAGER", "MAILING", "OTHER"},
	"EMAIL": {"WORK", "HOME", "MAILING", "NEWSLETTER", "OTHER"},
	"WEB":   {"WORK", "HOME", "FACEBOOK", "VK", "LIVEJOURNAL", "TWITTER", "OTHER"},
	"IM":    {"TELEGRAM", "WHATSAPP", "VIBER", "SKYPE", "ICQ", "MSN", "JABBER", "VK", "FACEBOOK", "INSTAGRAM", "IMOL", "OTHER"},
}

// column is one CSV column: where its cells go and how they are coerced.
type column struct {
	name      string // header as written
	kind      kind
	multi     string // PHONE/EMAIL/WEB/IM for kindMultifield
	valueType string // WORK, MOBILE, ... for kindMultifield
}

var (
	reUserField = regexp.MustCompile(`^ufCrm[A-Za-z0-9_]*$`)
	reUFOrig    = regexp.MustCompile(`^UF_CRM_[A-Z0-9_]+$`)
	reParent    = regexp.MustCompile(`^parentId[1-9][0-9]*$`)
)

// headerError is a problem with the header row; it stops the import.
type headerError struct{ msg string }

func (e *headerError) Error() string { return e.msg }

// parseHeader classifies the columns of a CSV header for entity type et.
// It refuses empty and duplicate names, a mix of ufCrm… and UF_CRM_… names
// and any name the library would refuse or take for a misspelling; other
// unknown names come back as warnings. originalUF reports UF_CRM_… names.
func parseHeader(names []string, et b24.EntityTypeID) (cols []column, warnings []string, originalUF bool, err error) {
	seen := map[string]int{}
	var camelUF bool
	for i, raw := range names {
		name := strings.TrimSpace(raw)
		where := fmt.Sprintf("column %d", i+1)
		if name == "" {
			return nil, nil, false, &headerError{where + " has no name"}
		}
		where = fmt.Sprintf("column %d %q", i+1, name)
		if j, dup := seen[name]; dup {
			return nil, nil, false, &headerError{fmt.Sprintf("%s repeats column %d", where, j+1)}
		}
		seen[name] = i
		c := column{name: name}
		switch k, ok := typedKinds[name]; {
		case ok:
			c.kind = k
		case reParent.MatchString(name):
			c.kind = kindParent
		case reUserField.MatchString(name):
			c.kind, camelUF = kindUser, true
		case reUFOrig.MatchString(name):
			c.kind, originalUF = kindUser, true
		default:
			base, vt, _ := strings.Cut(name, "_")
			if types, ok := multifieldTypes[base]; ok {
				if vt == "" {
					vt = types[0]
				}
				if !contains(types, vt) {
					return nil, nil, false, &headerError{fmt.Sprintf("%s: %s value type must be one of %s", where, base, strings.Join(types, ", "))}
				}
				c.kind, c.multi, c.valueType = kindMultifield, base, vt
				break
			}
			c.kind = kindExtra
		}
		cols = append(cols, c)
	}
	if camelUF && originalUF {
		return nil, nil, false, &headerError{"the header mixes ufCrm… and UF_CRM_… user field names; use one spelling"}
	}
	// Let the library judge what it would refuse in every row: unknown
	// names that look like misspellings, multifields on deals, and so on.
	for i, c := range cols {
		probe := b24.Item{}
		switch c.kind {
		case kindExtra:
			if s := suggest(c.name); s != "" {
				return nil, nil, false, &headerError{fmt.Sprintf("column %d %q is not a field; did you mean %q?", i+1, c.name, s)}
			}
			probe.Fields = map[string]any{c.name: "x"}
		case kindMultifield:
			probe.Phones = []b24.Multifield{{Value: "1", ValueType: "WORK"}}
		default:
			continue
		}
		if err := probe.Validate(et); err != nil {
			return nil, nil, false, &headerError{probeMessage(i, c.name, err)}
		}
		if c.kind == kindExtra {
			warnings = append(warnings, fmt.Sprintf("column %d %q is not a known field of %s; sent as text, the portal ignores fields it does not have", i+1, c.name, et))
		}
	}
	return cols, warnings, originalUF, nil
}

var (
	reMisspelling = regexp.MustCompile(`misspelling of ([A-Za-z0-9_]+)`)
	reGoAdvice    = regexp.MustCompile(`\s*\(set Item\.[A-Za-z]+\)`)
)

// probeMessage words the library's refusal of a column for the command
// line: the advice about Item fields is for Go code, not for a CSV header.
func probeMessage(i int, name string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "b24: ")
	var ie *b24.ItemError
	if errors.As(err, &ie) {
		msg = ie.Description
		if m := reMisspelling.FindStringSubmatch(msg); ie.Code == b24.CodeFieldTypo && m != nil {
			return fmt.Sprintf("column %d %q is not a field; did you mean %q? (the portal would ignore it silently)", i+1, name, m[1])
		}
	}
	msg = reGoAdvice.ReplaceAllString(msg, "")
	msg = strings.TrimPrefix(msg, fmt.Sprintf("field name %q: ", name))
	msg = strings.TrimPrefix(msg, name+": ")
	return fmt.Sprintf("column %d %q: %s", i+1, name, msg)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known field an unknown column name most likely
// misspells, or "": the same letters ignoring case and _, or one edit away
// (two for names of 8 letters or more), a swap of neighbours counting as
// one edit.
func suggest(name string) string {
	norm := normalize(name)
	for base := range multifieldTypes {
		if normalize(base) == norm {
			return base
		}
	}
	maxDist := 1
	if len(norm) >= 8 {
		maxDist = 2
	}
	best, bestDist := "", maxDist+1
	for known := range typedKinds {
		kn := normalize(known)
		if kn == norm {
			return known
		}
		if len(norm) < 5 {
			continue // short names are too easily near something
		}
		if d := editDistance(norm, kn); d < bestDist || d == bestDist && known < best {
			best, bestDist = known, d
		}
	}
	return best
}

func normalize(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// coerceError is a cell that cannot be read as its column's type.
type coerceError struct{ column, msg string }

func (e *coerceError) Error() string { return fmt.Sprintf("column %q: %s", e.column, e.msg) }

// coerceRow turns a CSV record into the JSON object b24.Item decodes.
// Empty cells are left out: an empty cell means "not set".
func coerceRow(cols []column, rec []string) (map[string]any, error) {
	obj := make(map[string]any, len(cols))
	for i, c := range cols {
		cell := strings.TrimSpace(rec[i])
		if cell == "" {
			continue
		}
		v, err := coerceCell(c, cell)
		if err != nil {
			return nil, &coerceError{column: c.name, msg: err.Error()}
		}
		if c.kind == kindMultifield {
			list, _ := obj[c.multi].([]any)
			obj[c.multi] = append(list, v.([]any)...)
			continue
		}
		obj[c.name] = v
	}
	return obj, nil
}

func coerceCell(c column, cell string) (any, error) {
	switch c.kind {
	case kindInt, kindParent:
		return parseInt(cell)
	case kindFloat:
		return parseNumber(cell)
	case kindYesNo:
		return parseYesNo(cell)
	case kindDate:
		return parseDate(cell)
	case kindTime:
		return parseTime(cell)
	case kindIDs:
		var ids []int64
		for _, part := range splitList(cell) {
			n, err := parseInt(part)
			if err != nil {
				return nil, err
			}
			ids = append(ids, n)
		}
		return ids, nil
	case kindMultifield:
		var list []any
		for _, v := range splitList(cell) {
			list = append(list, map[string]string{"VALUE": v, "VALUE_TYPE": c.valueType})
		}
		return list, nil
	}
	return cell, nil
}

// splitList splits a cell holding several values: "1, 2; 3" or "a|b".
func splitList(cell string) []string {
	parts := strings.FieldsFunc(cell, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(stripSpaces(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// parseNumber reads a decimal number as exports write it: "1234.5",
// "1 234,50", "1,234.50", "1.234,50". Of two separators the last one is
// the decimal point.
func parseNumber(s string) (float64, error) {
	t := stripSpaces(s)
	dot, comma := strings.LastIndexByte(t, '.'), strings.LastIndexByte(t, ',')
	switch {
	case dot >= 0 && comma >= 0 && comma > dot:
		t = strings.ReplaceAll(t, ".", "")
		t = strings.Replace(t, ",", ".", 1)
	case dot >= 0 && comma >= 0:
		t = strings.ReplaceAll(t, ",", "")
	case comma >= 0:
		if strings.Count(t, ",") > 1 {
			t = strings.ReplaceAll(t, ",", "")
		} else {
			t = strings.Replace(t, ",", ".", 1)
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 || strings.ContainsAny(t, "xXpPnNiI_") {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return f, nil
}

func stripSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\u00a0', '\u202f', '\u2009', '\'':
			return -1
		}
		return r
	}, s)
}

func parseYesNo(s string) (string, error) {
	switch strings.ToLower(s) {
	case "y", "yes", "true", "1", "да", "ja":
		return "Y", nil
	case "n", "no", "false", "0", "нет", "nein":
		return "N", nil
	}
	return "", fmt.Errorf("%q is not Y or N", s)
}

// parseDate reads YYYY-MM-DD, DD.MM.YYYY or an RFC 3339 time (its date).
func parseDate(s string) (string, error) {
	for _, layout := range []string{time.DateOnly, "02.01.2006", "2.1.2006", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), nil
		}
	}
	return "", fmt.Errorf("%q is not a date (want YYYY-MM-DD or DD.MM.YYYY)", s)
}

// parseTime reads RFC 3339, or "YYYY-MM-DD HH:MM:SS" in the local zone.
func parseTime(s string) (string, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.RFC3339), nil
	}
	for _, layout := range []string{time.DateTime, "2006-01-02T15:04:05", "02.01.2006 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t.Format(time.RFC3339), nil
		}
	}
	return "", fmt.Errorf("%q is not a date and time (want RFC 3339, e.g. 2024-07-17T10:00:00+03:00)", s)
}

// jsonMarshal encodes v without HTML escaping.
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
