package phpquery

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]any
	}{
		{"empty", "", map[string]any{}},
		{"scalars", "a=1&b=two", map[string]any{"a": "1", "b": "two"}},
		{"url decoding", "t=A%26B+C&%61=x", map[string]any{"t": "A&B C", "a": "x"}},
		{"invalid escape kept", "t=100%+x%zz", map[string]any{"t": "100% x%zz"}},
		{"nested list of objects", "data[0][title]=A&data[0][contactIds][0]=4&data[0][contactIds][1]=5&data[1][title]=B",
			map[string]any{"data": []any{
				map[string]any{"title": "A", "contactIds": []any{"4", "5"}},
				map[string]any{"title": "B"},
			}}},
		{"append brackets", "a[]=x&a[]=y&a[5]=z&a[]=w",
			map[string]any{"a": map[string]any{"0": "x", "1": "y", "5": "z", "6": "w"}}},
		{"non-sequential keys stay a map", "data[5][title]=A&data[2][title]=B",
			map[string]any{"data": map[string]any{"5": map[string]any{"title": "A"}, "2": map[string]any{"title": "B"}}}},
		{"later value wins", "a=1&a=2", map[string]any{"a": "2"}},
		{"array replaces scalar", "a=1&a[x]=2", map[string]any{"a": map[string]any{"x": "2"}}},
		{"dots and spaces in the name", "a.b=1&c d=2&e[f.g]=3", map[string]any{"a_b": "1", "c_d": "2", "e": map[string]any{"f.g": "3"}}},
		{"unclosed bracket", "a[b=1", map[string]any{"a_b": "1"}},
		{"text after bracket ignored", "a[b]c=1", map[string]any{"a": map[string]any{"b": "1"}}},
		{"no name skipped", "=1&[x]=2&ok=3", map[string]any{"ok": "3"}},
		{"key without value", "flag&x=", map[string]any{"flag": "", "x": ""}},
		{"leading zero is a string key", "a[0]=x&a[01]=y", map[string]any{"a": map[string]any{"0": "x", "01": "y"}}},
		{"nested append", "a[][b]=1&a[][b]=2", map[string]any{"a": []any{map[string]any{"b": "1"}, map[string]any{"b": "2"}}}},
		{"numeric top level stays a map", "0=a&1=b", map[string]any{"0": "a", "1": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseNestingLimit(t *testing.T) {
	deep := "a" + strings.Repeat("[x]", 65) + "=1&ok=1"
	got, err := Parse(deep)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "b24:")
	assert.Equal(t, "1", got["ok"], "the other pairs survive")
	_, err = Parse("a" + strings.Repeat("[x]", 64) + "=1")
	assert.NoError(t, err)
}

func TestNaturalKeys(t *testing.T) {
	m := map[string]any{"c10": 1, "c2": 1, "c1": 1, "10": 1, "2": 1, "b": 1}
	assert.Equal(t, []string{"2", "10", "b", "c1", "c2", "c10"}, NaturalKeys(m))
}

func FuzzParse(f *testing.F) {
	f.Add("data[0][title]=A&data[0][contactIds][]=4")
	f.Add("a[b][c]=%41&a[]=x")
	f.Fuzz(func(t *testing.T, q string) {
		m, _ := Parse(q)
		if m == nil {
			t.Fatal("nil map")
		}
	})
}

// buildQuery encodes v the way PHP's http_build_query does, for round trips.
func buildQuery(prefix string, v any, out *[]string) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range NaturalKeys(t) {
			buildQuery(prefix+"["+k+"]", t[k], out)
		}
	case []any:
		for i, e := range t {
			buildQuery(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		*out = append(*out, url.QueryEscape(prefix)+"="+url.QueryEscape(v.(string)))
	}
}

func FuzzParseRoundTrip(f *testing.F) {
	f.Add("Deal & Co", "C9:NEW", "4", "ufCrm_1", "+49 30")
	f.Add("", "%", "[x]", "a]b", "ü")
	f.Fuzz(func(t *testing.T, title, stage, contact, ufKey, phone string) {
		if strings.ContainsAny(ufKey, "[]") || ufKey == "" {
			t.Skip("keys with brackets cannot round-trip through PHP's syntax")
		}
		want := map[string]any{"entityTypeId": "2", "data": []any{
			map[string]any{"title": title, "stageId": stage, "contactIds": []any{contact, "5"}, ufKey: "v",
				"PHONE": []any{map[string]any{"VALUE": phone, "VALUE_TYPE": "WORK"}}},
		}}
		var parts []string
		for _, k := range NaturalKeys(want) {
			buildQuery(k, want[k], &parts)
		}
		got, err := Parse(strings.Join(parts, "&"))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
}
