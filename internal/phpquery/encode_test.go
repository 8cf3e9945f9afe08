package phpquery

import (
	"encoding/json"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// placeholderRe is the portal's batch placeholder syntax, the definition
// hasPlaceholder implements by hand.
var placeholderRe = regexp.MustCompile(`\$(result|next|total|time|error)\[`)

// FuzzEncoderText holds the hand-written escaping and placeholder test to
// url.QueryEscape and the regular expression they replace.
func FuzzEncoderText(f *testing.F) {
	for _, s := range []string{"", "plain", "a&b=c [x] ~_.-", "ünï 中文\n\x00\xff", "$result[c0]", "$next", "$$time[",
		"x$error[", "$RESULT[", "$results[", "100% +"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendEscaped(nil, s)), url.QueryEscape(s); got != want {
			t.Fatalf("appendEscaped(%q) = %q, url.QueryEscape gives %q", s, got, want)
		}
		if got, want := string(appendEscaped(nil, []byte(s))), url.QueryEscape(s); got != want {
			t.Fatalf("appendEscaped([]byte %q) = %q, want %q", s, got, want)
		}
		want := placeholderRe.MatchString(s)
		if hasPlaceholder(s) != want || hasPlaceholder([]byte(s)) != want {
			t.Fatalf("hasPlaceholder(%q) = %v, the expression says %v", s, !want, want)
		}
		var e Encoder
		e.Reset("v")
		out, err := e.String([]byte("x=1"), s)
		if want {
			assert.ErrorIs(t, err, ErrNotPackable)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, "x=1&v="+url.QueryEscape(s), string(out))
	})
}

// TestEncoderStreamsWhatAppendWrites writes one value through the
// streaming methods and checks it against Append of the same value.
func TestEncoderStreamsWhatAppendWrites(t *testing.T) {
	var e Encoder
	e.Reset("data")
	dst := []byte("cmd?")
	e.Open()
	e.Index(0)
	e.Open()
	require.NoError(t, e.Key("title"))
	dst, err := e.String(dst, "A & B")
	require.NoError(t, err)
	require.NoError(t, e.KeyBytes([]byte("ids")))
	e.Open()
	for i, n := range []string{"4", "1e+21"} {
		e.Index(i)
		dst = e.Plain(dst, []byte(n))
	}
	e.Close()
	require.NoError(t, e.Key("empty"))
	e.Open()
	e.Close()
	require.NoError(t, e.Key("flag"))
	dst = e.Bool(dst, false)
	require.NoError(t, e.Key("k y"))
	dst = e.Null(dst)
	require.NoError(t, e.Key("raw"))
	dst, err = e.Value(dst, map[string]any{"b": []any{true}, "a": json.Number("-0.5")})
	require.NoError(t, err)
	e.Close()
	e.Index(1)
	dst, err = e.Bytes(dst, []byte("second"))
	require.NoError(t, err)
	e.Close()

	var vars int
	want, err := Append([]byte("cmd?"), "data", []any{
		map[string]any{"title": "A & B", "ids": []any{json.Number("4"), json.Number("1e+21")}, "empty": []any{},
			"flag": false, "k y": nil, "raw": map[string]any{"b": []any{true}, "a": json.Number("-0.5")}},
		"second",
	}, &vars)
	require.NoError(t, err)
	// Append orders object keys; the stream wrote them in its own order.
	assert.ElementsMatch(t, SplitQuery(string(want)[4:]), SplitQuery(string(dst)[4:]))
	assert.Equal(t, 8, vars)
	assert.Equal(t, vars, e.Vars())
	assert.Contains(t, string(dst), "cmd?data[0][title]=A+%26+B&data[0][ids][0]=4&data[0][ids][1]=1e%2B21&data[0][flag]=N&data[0][k+y]=&")

	e.Reset("x")
	assert.Zero(t, e.Vars(), "Reset drops the count")
	assert.Equal(t, "x=", string(e.Null(nil)), "no '&' in front of the first pair")
}

func TestEncoderRefusals(t *testing.T) {
	var e Encoder
	e.Reset("data")
	e.Open()
	for _, k := range []string{"", "a]b", "c[d", "[]"} {
		assert.ErrorIs(t, e.Key(k), ErrNotPackable, "%q", k)
		assert.ErrorIs(t, e.KeyBytes([]byte(k)), ErrNotPackable, "%q", k)
	}
	_, err := e.Bytes(nil, []byte("see $result[c1][id]"))
	assert.ErrorIs(t, err, ErrNotPackable)
	_, err = e.Value(nil, map[string]any{"ok": []any{"$time[x]"}})
	assert.ErrorIs(t, err, ErrNotPackable)
	_, err = e.Value(nil, 3.5)
	assert.Error(t, err, "Append takes decoded JSON only")
}
