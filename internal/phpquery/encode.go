// Package phpquery is the PHP query-string codec of the portal: the bracket
// notation ("data[0][title]=A&data[0][contactIds][0]=4") that PHP's
// http_build_query writes and parse_str reads. Batch commands travel in it.
// [Encoder] writes it one scalar at a time (the client encodes the items of
// packed batch commands with it) and [Append] writes a decoded JSON value
// with the same Encoder; [Parse] decodes the way parse_str does (for
// b24test, which reads form bodies and batch commands as the portal does).
// Both directions live here so the round trip is tested in one place.
package phpquery

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// placeholderWords are the names the portal's batch substitutes in command
// values: $result[cmd], $next[...], $total[...], $time[...], $error[...]. A
// value containing one cannot travel inside a batch command unaltered.
var placeholderWords = [...]string{"result", "next", "total", "time", "error"}

// MaxCommandVars caps the query variables of one batch command. PHP's
// parse_str honours max_input_vars (1000 by default; the cloud's value is
// not published), and a command that passes it loses fields silently.
const MaxCommandVars = 900

// ErrNotPackable reports an item that must be sent as a plain JSON call.
var ErrNotPackable = fmt.Errorf("b24: item cannot be sent inside a batch command")

// Encoder writes bracket-notation pairs one scalar at a time, for encoders
// that walk values of their own rather than a decoded JSON value. It holds
// the current name: [Encoder.Reset] sets the root name, [Encoder.Open]
// starts an array or object under the current name, [Encoder.Key] and
// [Encoder.Index] name its next member, and [Encoder.Close] ends it. The
// scalar methods append one pair ("name=value", URL-encoded, after an '&'
// unless dst is empty or ends with '?') to the dst they are given, so the
// output stays in the caller's buffer. An array or object without scalars
// writes nothing: form encoding cannot express it.
//
// Call Reset before first use and after an error. An Encoder is not safe
// for concurrent use.
type Encoder struct {
	name  []byte
	marks []int // len(name) where each open array or object starts
	vars  int
}

// Reset drops any open array or object and the pair count, and makes name
// the name of the next value. name is written as given, not escaped.
func (e *Encoder) Reset(name string) {
	e.name = append(e.name[:0], name...)
	e.marks = e.marks[:0]
	e.vars = 0
}

// Vars reports the pairs written since Reset.
func (e *Encoder) Vars() int { return e.vars }

// Open starts an array or object under the current name.
func (e *Encoder) Open() { e.marks = append(e.marks, len(e.name)) }

// Close ends the innermost open array or object; the current name is its
// name again.
func (e *Encoder) Close() {
	n := len(e.marks) - 1
	e.name = e.name[:e.marks[n]]
	e.marks = e.marks[:n]
}

// Index names element i of the open array as the next value.
func (e *Encoder) Index(i int) {
	e.name = append(e.name[:e.marks[len(e.marks)-1]], '[')
	e.name = strconv.AppendInt(e.name, int64(i), 10)
	e.name = append(e.name, ']')
}

// Key names member k of the open object as the next value. parse_str reads
// "[]" as "append" and ends a name at the first ']' (escaped or not), so a
// key that is empty or holds a bracket fails with [ErrNotPackable].
func (e *Encoder) Key(k string) error { return key(e, k) }

// KeyBytes is [Encoder.Key] for a key held in a byte slice.
func (e *Encoder) KeyBytes(k []byte) error { return key(e, k) }

func key[T string | []byte](e *Encoder, k T) error {
	if len(k) == 0 {
		return ErrNotPackable
	}
	for i := 0; i < len(k); i++ {
		if k[i] == '[' || k[i] == ']' {
			return ErrNotPackable
		}
	}
	e.name = append(e.name[:e.marks[len(e.marks)-1]], '[')
	e.name = appendEscaped(e.name, k)
	e.name = append(e.name, ']')
	return nil
}

// String appends the pair of a string value. Text the portal's batch would
// substitute ($result[...] and the like) fails with [ErrNotPackable].
func (e *Encoder) String(dst []byte, s string) ([]byte, error) { return text(e, dst, s) }

// Bytes is [Encoder.String] for a value held in a byte slice: numbers,
// dates, base64 text formatted into a scratch buffer.
func (e *Encoder) Bytes(dst, b []byte) ([]byte, error) { return text(e, dst, b) }

// Plain appends a value that cannot hold placeholder text (a number, a
// date, base64), without looking for it.
func (e *Encoder) Plain(dst, b []byte) []byte { return pair(e, dst, b) }

// Bool appends a boolean as Y or N: what the portal's Y/N flags and boolean
// user fields read.
func (e *Encoder) Bool(dst []byte, b bool) []byte {
	if b {
		return pair(e, dst, "Y")
	}
	return pair(e, dst, "N")
}

// Null appends an empty value.
func (e *Encoder) Null(dst []byte) []byte { return pair(e, dst, "") }

// Value appends v, a decoded JSON value (objects as map[string]any, arrays
// as []any, numbers as json.Number), under the current name. Object keys
// are written in byte order. Numbers keep their JSON text.
func (e *Encoder) Value(dst []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		e.Open()
		for _, k := range keys {
			if err = e.Key(k); err != nil {
				return dst, err
			}
			if dst, err = e.Value(dst, x[k]); err != nil {
				return dst, err
			}
		}
		e.Close()
		return dst, nil
	case []any:
		e.Open()
		for i, el := range x {
			e.Index(i)
			if dst, err = e.Value(dst, el); err != nil {
				return dst, err
			}
		}
		e.Close()
		return dst, nil
	case nil:
		return e.Null(dst), nil
	case string:
		return e.String(dst, x)
	case json.Number:
		return pair(e, dst, string(x)), nil
	case bool:
		return e.Bool(dst, x), nil
	}
	return dst, fmt.Errorf("b24: unexpected value %T in batch command", v)
}

// Append appends v, a decoded JSON value, as PHP bracket-notation
// query pairs under name ("data[0][title]=A&data[0][contactIds][0]=4"),
// URL-encoding names and values. Form encoding has no types: numbers keep
// their JSON text, booleans become Y/N (what the portal's Y/N flags and
// boolean user fields read), null an empty value; empty arrays and objects
// cannot be expressed and are left out. vars counts the pairs written.
func Append(dst []byte, name string, v any, vars *int) ([]byte, error) {
	var e Encoder
	e.Reset(name)
	dst, err := e.Value(dst, v)
	*vars += e.vars
	return dst, err
}

func text[T string | []byte](e *Encoder, dst []byte, v T) ([]byte, error) {
	if hasPlaceholder(v) {
		return dst, ErrNotPackable
	}
	return pair(e, dst, v), nil
}

// pair appends "&name=value" and counts it.
func pair[T string | []byte](e *Encoder, dst []byte, v T) []byte {
	e.vars++
	if len(dst) > 0 && dst[len(dst)-1] != '?' {
		dst = append(dst, '&')
	}
	dst = append(dst, e.name...)
	dst = append(dst, '=')
	return appendEscaped(dst, v)
}

// hasPlaceholder reports whether v holds "$result[", "$next[", "$total[",
// "$time[" or "$error[".
func hasPlaceholder[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '$' {
			continue
		}
		rest := v[i+1:]
		for _, w := range placeholderWords {
			if len(rest) > len(w) && string(rest[:len(w)]) == w && rest[len(w)] == '[' {
				return true
			}
		}
	}
	return false
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends s escaped as url.QueryEscape escapes it: letters,
// digits and -_.~ as they are, space as '+', every other byte as %XX.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xF])
		}
	}
	return dst
}
