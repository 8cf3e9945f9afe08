package phpquery

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzPHPQueryRoundTrip encodes a JSON value the way packed batch commands
// carry items (PHP bracket notation) and parses it back with Parse, which
// reads it as parse_str, so as the portal does. What comes back must be
// the value itself, with the losses form encoding documents: every scalar
// a string (true/false as Y/N, null as ""), empty arrays and objects gone.
// The encoder may refuse a value; it must never send one that the portal
// would read differently.
func FuzzPHPQueryRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"title":"A & B = C","opportunity":1.5,"contactIds":[4,5],"isManualOpportunity":true,"comments":null}`,
		`{"PHONE":[{"VALUE":"+1 555","VALUE_TYPE":"WORK"}],"ufCrm1":{"a":{"b":["x",["y"]]}}}`,
		`{"empty":[],"obj":{},"nested":[[],"x"],"num":-0.0e-3}`,
		`{"title":"$result[c0][id]"}`,
		`{"k":"caf\u00e9 \u0000 %41 +"}`,
		`{"10":"a","2":"b","0":"c"}`,
		`{"0":"a","1":"b"}`,
		`{"a]b":"x","c[d":"y"}`,
		`{"":"blank key"}`,
		`["a",{"b":"c"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		q, err := appendQuery("data", v)
		if err != nil {
			return // refused: the engine then sends the item as plain JSON
		}
		if hasUnsafeKey(v) {
			t.Fatalf("%s: a key bracket notation cannot carry was encoded as %q instead of refused", js, q)
		}
		got, err := Parse(q)
		if err != nil {
			t.Fatalf("the portal would not parse %q: %v", q, err)
		}
		want, present := phpExpect(v)
		if !present {
			if len(got) != 0 {
				t.Fatalf("%s encoded to %q, parsed as %v; expected nothing", js, q, got)
			}
			return
		}
		if !reflect.DeepEqual(got["data"], want) {
			t.Fatalf("round trip changed the value\n json: %s\nquery: %q\n want: %#v\n  got: %#v", js, q, want, got["data"])
		}
	})
}

// phpExpect is what parse_str gives back for v encoded under one name;
// present is false when nothing is encoded (an empty array or object).
func phpExpect(v any) (out any, present bool) {
	type kv struct {
		k string
		v any
	}
	var kids []kv
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "Y", true
		}
		return "N", true
	case []any:
		for i, e := range x {
			if ev, ok := phpExpect(e); ok {
				kids = append(kids, kv{strconv.Itoa(i), ev})
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			if ev, ok := phpExpect(x[k]); ok {
				kids = append(kids, kv{k, ev})
			}
		}
	}
	if len(kids) == 0 {
		return nil, false
	}
	list := true
	for i, c := range kids {
		if c.k != strconv.Itoa(i) {
			list = false
			break
		}
	}
	if list {
		l := make([]any, len(kids))
		for i, c := range kids {
			l[i] = c.v
		}
		return l, true
	}
	m := make(map[string]any, len(kids))
	for _, c := range kids {
		m[c.k] = c.v
	}
	return m, true
}

// sortStrings sorts in byte order, as the encoder orders object keys.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && strings.Compare(s[j-1], s[j]) > 0; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

// hasUnsafeKey reports an object key anywhere in v that bracket notation
// cannot carry: empty (read as "append") or holding ']' (ends the key).
func hasUnsafeKey(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if hasUnsafeKey(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if k == "" || strings.Contains(k, "]") || hasUnsafeKey(e) {
				return true
			}
		}
	}
	return false
}

// appendQuery encodes v under name as one query string.
func appendQuery(name string, v any) (string, error) {
	var n int
	b, err := Append(nil, name, v, &n)
	return strings.TrimPrefix(string(b), "&"), err
}

func TestAppendRoundTrip(t *testing.T) {
	v := map[string]any{
		"title":  "a&b=c [x] $money ünï\nline",
		"ids":    []any{json.Number("4"), json.Number("5")},
		"nested": map[string]any{"k y": "v+w%", "deep": []any{map[string]any{"VALUE": "x"}}},
		"flag":   true,
		"empty":  nil,
		"number": json.Number("999.99"),
	}
	q, err := appendQuery("data[0]", v)
	require.NoError(t, err)
	parsed, err := Parse(q)
	require.NoError(t, err)
	want := map[string]any{"data": []any{map[string]any{
		"title": "a&b=c [x] $money ünï\nline", "ids": []any{"4", "5"},
		"nested": map[string]any{"k y": "v+w%", "deep": []any{map[string]any{"VALUE": "x"}}},
		"flag":   "Y", "empty": "", "number": "999.99",
	}}}
	assert.Equal(t, want, parsed)

	_, err = appendQuery("data[0]", map[string]any{"t": "see $result[c1][id]"})
	assert.Error(t, err, "placeholder text cannot travel in a batch command")
}
