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
	index     int    // 0-based position in the header
	field     string // the field it goes to (PHONE/EMAIL/... for multifields)
	skip      bool   // not sent: mapped to "-", or not a field with -ignore-unknown
	how       string // how the field was found, for -print-map
	kind      kind
	multi     string         // PHONE/EMAIL/WEB/IM for kindMultifield
	valueType string         // WORK, MOBILE, ... for kindMultifield
	info      *b24.FieldInfo // the portal's description, when known
}

var (
	reUserField = regexp.MustCompile(`^ufCrm[A-Za-z0-9_]*$`)
	reUFOrig    = regexp.MustCompile(`^UF_CRM_[A-Z0-9_]+$`)
	reParent    = regexp.MustCompile(`^parentId[1-9][0-9]*$`)
)

// parseHeader classifies the columns of a CSV header for entity type et
// without a mapping or a portal: what the header alone says.
func parseHeader(names []string, et b24.EntityTypeID) (cols []column, warnings []string, originalUF bool, err error) {
	plan, err := resolveHeader(names, &mappingConfig{et: et})
	if err != nil {
		return nil, nil, false, err
	}
	return plan.cols, plan.warnings, plan.originalUF, nil
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
func editDistance(as, bs string) int {
	a, b := []rune(as), []rune(bs)
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

// cellProblem is a cell that cannot be read as its field's value.
type cellProblem struct {
	column   string // header as written
	field    string
	msg      string
	required bool // a required field left empty
}

func (p cellProblem) String() string {
	if p.field != "" && p.field != p.column {
		return fmt.Sprintf("column %q (%s): %s", p.column, p.field, p.msg)
	}
	return fmt.Sprintf("column %q: %s", p.column, p.msg)
}

// coercer turns cells into field values: -values maps first, then the
// portal's lists (stages, users, enumeration labels), then the field's type.
type coercer struct {
	dates    dateReader
	values   *valueResolver  // nil: no lookups
	required []requiredField // fields the portal requires
}

// coerceRow turns a CSV record into the JSON object b24.Item decodes,
// reporting every cell that cannot be read. Empty cells are left out: an
// empty cell means "not set". Stages are read after the rest, within the
// row's pipeline.
func (co *coercer) coerceRow(cols []column, rec []string) (map[string]any, []cellProblem) {
	obj := make(map[string]any, len(cols))
	var problems []cellProblem
	var later []int
	for i := range cols {
		c := &cols[i]
		if c.skip || c.index >= len(rec) {
			continue
		}
		if co.values != nil && co.values.dependsOnRow(c) {
			later = append(later, i)
			continue
		}
		co.put(obj, c, rec[c.index], &problems)
	}
	for _, i := range later {
		co.put(obj, &cols[i], rec[cols[i].index], &problems)
	}
	for _, rf := range co.required {
		if _, ok := obj[rf.key]; !ok {
			what := rf.field
			if rf.title != "" && rf.title != rf.field {
				what = fmt.Sprintf("%s (%q)", rf.field, rf.title)
			}
			msg := fmt.Sprintf("the portal requires %s and the row leaves it empty", what)
			name := rf.column
			if name == "" {
				name = rf.field
				msg = fmt.Sprintf("the portal requires %s and no column gives it: map one with -map", what)
			}
			problems = append(problems, cellProblem{column: name, field: rf.field, msg: msg, required: true})
		}
	}
	return obj, problems
}

func (co *coercer) put(obj map[string]any, c *column, raw string, problems *[]cellProblem) {
	cell := strings.TrimSpace(raw)
	if cell == "" {
		return
	}
	v, err := co.coerceCell(c, cell, obj)
	if err != nil {
		*problems = append(*problems, cellProblem{column: c.name, field: c.field, msg: err.Error()})
		return
	}
	if c.kind == kindMultifield {
		list, _ := obj[c.multi].([]any)
		obj[c.multi] = append(list, v.([]any)...)
		return
	}
	obj[c.field] = v
}

// coerceCell reads one non-empty cell of column c; row holds the row's
// values read so far.
func (co *coercer) coerceCell(c *column, cell string, row map[string]any) (any, error) {
	if co.values != nil {
		mapped, done, err := co.values.resolve(c, cell, row)
		if err != nil || done {
			return mapped, err
		}
		cell = mapped.(string)
	}
	return co.byKind(c, cell)
}

func (co *coercer) byKind(c *column, cell string) (any, error) {
	switch c.kind {
	case kindInt, kindParent:
		return parseInt(cell)
	case kindFloat:
		return parseNumber(cell)
	case kindYesNo:
		return parseYesNo(cell)
	case kindDate:
		return co.dates.parseDate(cell)
	case kindTime:
		return co.dates.parseTime(cell)
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
	case kindUser:
		if c.info != nil {
			return co.userField(c, cell)
		}
	}
	return cell, nil
}

// userField coerces a user field's cell by the type the portal declares;
// a multiple field takes a list.
func (co *coercer) userField(c *column, cell string) (any, error) {
	one := func(s string) (any, error) {
		switch c.info.Type {
		case "double":
			return parseNumber(s)
		case "integer":
			return parseInt(s)
		case "boolean":
			yn, err := parseYesNo(s)
			if err != nil {
				return nil, err
			}
			if yn == "Y" {
				return 1, nil
			}
			return 0, nil
		case "date":
			return co.dates.parseDate(s)
		case "datetime":
			return co.dates.parseTime(s)
		case "money":
			return parseMoney(s)
		}
		return s, nil
	}
	if !c.info.Multiple {
		return one(cell)
	}
	var out []any
	for _, part := range splitList(cell) {
		v, err := one(part)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// currencySigns are the currency signs exports put beside amounts.
var currencySigns = map[string]string{"₽": "RUB", "руб": "RUB", "руб.": "RUB", "р.": "RUB", "$": "USD", "€": "EUR", "£": "GBP", "₸": "KZT", "₴": "UAH", "Br": "BYN"}

// parseMoney reads a money cell as the portal stores it, "600|USD", from
// "600|USD", "600 USD", "USD 600", "$600" or "1 200,50 ₽".
func parseMoney(s string) (string, error) {
	t := strings.TrimSpace(s)
	if amount, cur, ok := strings.Cut(t, "|"); ok {
		n, err := parseNumber(amount)
		if err != nil || !isCurrencyCode(strings.TrimSpace(cur)) {
			return "", fmt.Errorf("%q is not an amount with a currency (want 600|USD)", s)
		}
		return formatAmount(n) + "|" + strings.ToUpper(strings.TrimSpace(cur)), nil
	}
	cur := ""
	for sign, code := range currencySigns {
		if strings.HasPrefix(t, sign) || strings.HasSuffix(t, sign) {
			if len(sign) > len(cur) || cur == "" {
				cur = code
				t = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, sign), sign))
			}
		}
	}
	if f := strings.Fields(t); cur == "" && len(f) >= 2 {
		switch {
		case isCurrencyCode(f[len(f)-1]):
			cur, t = strings.ToUpper(f[len(f)-1]), strings.Join(f[:len(f)-1], " ")
		case isCurrencyCode(f[0]):
			cur, t = strings.ToUpper(f[0]), strings.Join(f[1:], " ")
		}
	}
	n, err := parseNumber(t)
	if err != nil {
		return "", fmt.Errorf("%q is not an amount (want 600|USD)", s)
	}
	if cur == "" {
		return "", fmt.Errorf("%q has no currency: a money field wants amount|CURRENCY, e.g. 600|USD (-values can add it)", s)
	}
	return formatAmount(n) + "|" + cur, nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z') {
			return false
		}
	}
	return true
}

func formatAmount(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

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
