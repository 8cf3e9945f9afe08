package b24

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
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

// appendTimeText appends t in timeLayout. An offset with seconds (local
// mean time of old dates) cannot be written in that layout, so such times
// are sent in UTC.
func appendTimeText(dst []byte, t time.Time) []byte {
	if _, off := t.Zone(); off%60 != 0 {
		t = t.UTC()
	}
	return t.AppendFormat(dst, timeLayout)
}

// MarshalJSON encodes the item as the flat object crm.item.import reads:
// typed fields in declaration order, then the multifields, parentId{N} keys
// by N, then Fields by key. The output is deterministic.
func (it Item) MarshalJSON() ([]byte, error) {
	b, err := it.appendJSON(make([]byte, 0, 256))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// appendJSON appends the item's JSON object to dst; on error dst comes back
// as it was. The import engine encodes a whole call into one buffer with it.
func (it *Item) appendJSON(dst []byte) ([]byte, error) { return it.encode(valueSink{}, dst) }

// jsonSink is the JSON wire form, which the zero [valueSink] writes.
type jsonSink struct{}

func (jsonSink) null(dst []byte) []byte { return append(dst, "null"...) }

func (jsonSink) boolean(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

func (jsonSink) integer(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

func (jsonSink) unsigned(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

func (jsonSink) float(dst []byte, x float64, bits int) []byte { return appendJSONFloat(dst, x, bits) }

func (jsonSink) number(dst []byte, n json.Number) []byte { return append(dst, n...) }

func (jsonSink) text(dst []byte, s string) ([]byte, error) { return appendJSONString(dst, s), nil }

func (jsonSink) date(dst []byte, d Date) []byte {
	return append(d.appendText(append(dst, '"')), '"')
}

func (jsonSink) time(dst []byte, t time.Time) []byte {
	return append(appendTimeText(append(dst, '"'), t), '"')
}

func (jsonSink) base64(dst []byte, b []byte) []byte {
	return append(base64.StdEncoding.AppendEncode(append(dst, '"'), b), '"')
}

func (jsonSink) encoded(dst []byte, js []byte) ([]byte, error) { return append(dst, js...), nil }

func (jsonSink) openList(dst []byte) []byte { return append(dst, '[') }

func (jsonSink) element(dst []byte, i int) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	return dst
}

func (jsonSink) closeList(dst []byte) []byte { return append(dst, ']') }

func (jsonSink) openObject(dst []byte) []byte { return append(dst, '{') }

func (jsonSink) key(dst []byte, i int, k string) ([]byte, error) {
	if i > 0 {
		dst = append(dst, ',')
	}
	return append(appendJSONString(dst, k), ':'), nil
}

func (jsonSink) name(dst []byte, i int, k string) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(append(dst, '"'), k...)
	return append(dst, '"', ':')
}

func (jsonSink) numberedName(dst []byte, i int, prefix string, n int64) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(append(dst, '"'), prefix...)
	return append(strconv.AppendInt(dst, n, 10), '"', ':')
}

func (jsonSink) closeObject(dst []byte) []byte { return append(dst, '}') }

// compactJSON returns raw without insignificant space, or why it is not
// JSON.
func compactJSON(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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

// jsonPlain marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json (validation refuses it before sending).
// HTML characters are not escaped: the portal does not need it.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if jsonPlain[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
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
		return f.kind.decode(it, v)
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
