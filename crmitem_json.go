package b24

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/b24kit/b24/internal/wire"
)

// timeLayout is RFC 3339 to the second with a numeric offset (+00:00, never
// Z): the form the portal documents; without an offset it would assume its
// own zone.
const timeLayout = "2006-01-02T15:04:05-07:00"

// appendTime appends t as a quoted timeLayout string. An offset with
// seconds (local mean time of old dates) cannot be written in that layout,
// so such times are sent in UTC.
func appendTime(dst []byte, t time.Time) []byte {
	if _, off := t.Zone(); off%60 != 0 {
		t = t.UTC()
	}
	dst = append(dst, '"')
	return append(t.AppendFormat(dst, timeLayout), '"')
}

// MarshalJSON encodes the item as the flat object crm.item.import reads:
// typed fields in declaration order, then parentId{N} keys by N, then Fields
// by key. The output is deterministic.
func (it Item) MarshalJSON() ([]byte, error) {
	return it.appendJSON(make([]byte, 0, 256))
}

// appendJSON appends the item's JSON object to dst. The import engine uses
// it to encode a whole call into one buffer.
func (it *Item) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	start := len(dst)
	key := func(name string) {
		if len(dst) > start {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
	}
	for i := range itemFields {
		f := &itemFields[i]
		switch f.kind {
		case kindString:
			if s := *f.str(it); s != "" {
				key(f.wire)
				dst = appendJSONString(dst, s)
			}
		case kindInt:
			if n := *f.i64(it); n != 0 {
				key(f.wire)
				dst = strconv.AppendInt(dst, n, 10)
			}
		case kindSmallInt:
			if n := *f.num(it); n != 0 {
				key(f.wire)
				dst = strconv.AppendInt(dst, int64(n), 10)
			}
		case kindFloat:
			if x := *f.flt(it); x != 0 {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("b24: item field %s: %v is not a JSON number", f.wire, x)
				}
				key(f.wire)
				dst = appendJSONFloat(dst, x, 64)
			}
		case kindYesNo:
			if y := *f.yn(it); y != "" {
				key(f.wire)
				dst = appendJSONString(dst, string(y))
			}
		case kindDate:
			if d := *f.date(it); !d.IsZero() {
				if !d.IsValid() {
					return nil, fmt.Errorf("b24: item field %s: %d-%d-%d is not a calendar date", f.wire, d.Year, d.Month, d.Day)
				}
				key(f.wire)
				dst = append(dst, '"')
				dst = append(d.appendText(dst), '"')
			}
		case kindTime:
			if t := *f.tm(it); !t.IsZero() {
				if y := t.Year(); y < 1 || y > 9999 {
					return nil, fmt.Errorf("b24: item field %s: year %d is out of range", f.wire, y)
				}
				key(f.wire)
				dst = appendTime(dst, t)
			}
		case kindIDs:
			if ids := *f.ids(it); len(ids) > 0 {
				key(f.wire)
				dst = append(dst, '[')
				for j, id := range ids {
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = strconv.AppendInt(dst, id, 10)
				}
				dst = append(dst, ']')
			}
		}
	}
	for _, mk := range multifieldKeys {
		list := *mk.get(it)
		if len(list) == 0 {
			continue
		}
		key(mk.wire)
		dst = append(dst, '[')
		for j, m := range list {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = m.appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	if len(it.Parents) > 0 {
		var pbuf [8]EntityTypeID // most items have a parent or two
		parents := pbuf[:0]
		for et, id := range it.Parents {
			if id != 0 {
				parents = append(parents, et)
			}
		}
		slices.Sort(parents)
		for _, et := range parents {
			if len(dst) > start {
				dst = append(dst, ',')
			}
			dst = append(dst, `"parentId`...)
			dst = strconv.AppendInt(dst, int64(et), 10)
			dst = append(dst, '"', ':')
			dst = strconv.AppendInt(dst, it.Parents[et], 10)
		}
	}
	if len(it.Fields) > 0 {
		var kbuf [16]string
		keys := kbuf[:0]
		for k := range it.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var err error
		for _, k := range keys {
			if len(dst) > start {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			if dst, err = appendJSONValue(dst, it.Fields[k], 0); err != nil {
				return nil, fmt.Errorf("b24: item field %s: %w", quoteName(k), err)
			}
		}
	}
	return append(dst, '}'), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxValueDepth bounds the nesting of Fields values (and catches cycles).
const maxValueDepth = 32

var errTooDeep = errors.New("value nested too deeply")

// appendJSONValue appends a Fields value. Common types are encoded
// directly; anything else goes through encoding/json.
func appendJSONValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return nil, errTooDeep
	}
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return appendJSONFloat(dst, x, 64), nil
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return appendJSONFloat(dst, float64(x), 32), nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return nil, fmt.Errorf("%s is not a JSON number", quoteName(string(x)))
		}
		return append(dst, x...), nil
	case json.RawMessage:
		var buf bytes.Buffer
		if err := json.Compact(&buf, x); err != nil {
			return nil, fmt.Errorf("raw JSON is not valid: %v", err)
		}
		return append(dst, buf.Bytes()...), nil
	case YesNo:
		return appendJSONString(dst, string(x)), nil
	case Date:
		if x.IsZero() {
			return append(dst, `""`...), nil
		}
		if !x.IsValid() {
			return nil, fmt.Errorf("%d-%d-%d is not a calendar date", x.Year, x.Month, x.Day)
		}
		dst = append(dst, '"')
		return append(x.appendText(dst), '"'), nil
	case time.Time:
		if x.IsZero() {
			return append(dst, `""`...), nil
		}
		if y := x.Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("year %d is out of range", y)
		}
		return appendTime(dst, x), nil
	case File:
		return x.appendJSON(dst), nil
	case *File:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return x.appendJSON(dst), nil
	case []File:
		dst = append(dst, '[')
		for i, f := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = f.appendJSON(dst)
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']'), nil
	case []int64:
		dst = append(dst, '[')
		for i, n := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, n, 10)
		}
		return append(dst, ']'), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSONValue(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		dst = append(dst, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			if dst, err = appendJSONValue(dst, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return nil, fmt.Errorf("values of type %T cannot be sent", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// appendJSONFloat formats a finite float the way encoding/json does:
// plain decimals, exponent form only for very small or very large values.
func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json (validation refuses it before sending).
// HTML characters are not escaped: the portal does not need it.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but not valid JavaScript in older parsers.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// UnmarshalJSON reads an item from a flat JSON object such as
// [Item.MarshalJSON] writes: typed wire names to typed fields, PHONE, EMAIL,
// WEB and IM to the multifields, parentId{N} to Parents, every other key to
// Fields (numbers there decode as json.Number, so they pass through
// unchanged). Typed fields accept the lenient forms found in exports: ids
// and numbers as numeric strings, flags as Y/N or true/false, strings as
// numbers. Keys that are not typed wire names, misspellings included, land
// in Fields for validation to judge.
func (it *Item) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("b24: item: %w", err)
	}
	*it = Item{}
	for k, v := range raw {
		if err := it.decodeKey(k, v); err != nil {
			return fmt.Errorf("b24: item field %s: %w", quoteName(k), err)
		}
	}
	return nil
}

func (it *Item) decodeKey(k string, v json.RawMessage) error {
	if f, ok := typedByWire[k]; ok {
		if isJSONNull(v) {
			return nil
		}
		return f.decode(it, v)
	}
	for _, mk := range multifieldKeys {
		if k == mk.wire {
			return json.Unmarshal(v, mk.get(it))
		}
	}
	if et, ok := parseParentKey(k); ok {
		if isJSONNull(v) {
			return nil
		}
		var id wire.FlexInt
		if err := json.Unmarshal(v, &id); err != nil {
			return err
		}
		if it.Parents == nil {
			it.Parents = make(map[EntityTypeID]int64)
		}
		it.Parents[et] = int64(id)
		return nil
	}
	x, err := decodeFieldValue(v)
	if err != nil {
		return err
	}
	if it.Fields == nil {
		it.Fields = make(map[string]any)
	}
	it.Fields[k] = x
	return nil
}

// decodeFieldValue decodes a Fields value with numbers as json.Number. The
// common scalars skip the decoder; v is already known to be valid JSON.
func decodeFieldValue(v json.RawMessage) (any, error) {
	v = bytes.TrimSpace(v)
	if s, ok := plainJSONString(v); ok {
		return s, nil
	}
	switch string(v) {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return json.Number(v), nil
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	return x, nil
}

// plainJSONString returns the content of a JSON string literal without
// escapes, or ok false.
func plainJSONString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	body := v[1 : len(v)-1]
	if bytes.IndexByte(body, '\\') >= 0 || bytes.IndexByte(body, '"') >= 0 {
		return "", false
	}
	return string(body), true
}

func isJSONNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// parseParentKey reads "parentId1220" as entity type 1220.
func parseParentKey(k string) (EntityTypeID, bool) {
	rest, ok := strings.CutPrefix(k, "parentId")
	if !ok || rest == "" || rest[0] < '1' || rest[0] > '9' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0, false
	}
	return EntityTypeID(n), true
}
