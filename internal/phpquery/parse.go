package phpquery

import (
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// maxPHPNesting mirrors PHP's max_input_nesting_level default.
const maxPHPNesting = 64

// errPHPNesting reports a key nested deeper than PHP accepts.
var errPHPNesting = errors.New("b24: query key nested deeper than 64 levels")

// Parse parses q the way PHP's parse_str does, so that form bodies and
// batch commands are read as the portal reads them: "a[b][]=1&a[b][]=2"
// becomes {"a": {"b": ["1", "2"]}}.
//
// Values are always strings. Nested keys build arrays; an array whose keys
// are exactly 0..n-1 in insertion order is returned as []any (the JSON PHP
// would print for it), any other as map[string]any. Empty brackets append
// after the highest integer key, later values overwrite earlier ones, and in
// the top-level name spaces and dots become underscores, as in PHP. Pairs
// whose name is empty are skipped. The only error is a key nested deeper than
// PHP's default limit of 64 levels; the other pairs are still returned.
func Parse(q string) (map[string]any, error) {
	return ParsePairs(SplitQuery(q))
}

// ParsePairs builds the value of decoded pairs, in order, as [Parse] does.
func ParsePairs(pairs []Pair) (map[string]any, error) {
	root, err := parsePHPPairs(pairs)
	return root.exportMap(), err
}

// Pair is one decoded name=value pair of a query string or form.
type Pair struct{ Key, Value string }

// SplitQuery splits q on '&' and URL-decodes both halves of every pair,
// leaving malformed escapes as they are (as PHP's urldecode does).
func SplitQuery(q string) []Pair {
	if q == "" {
		return nil
	}
	pairs := make([]Pair, 0, strings.Count(q, "&")+1)
	for part := range strings.SplitSeq(q, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		pairs = append(pairs, Pair{phpURLDecode(k), phpURLDecode(v)})
	}
	return pairs
}

// phpURLDecode decodes %XX and '+' and keeps invalid escapes literally.
func phpURLDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// phpArray is an insertion-ordered PHP array under construction.
type phpArray struct {
	keys    []string
	vals    map[string]any // string or *phpArray
	nextIdx int64
}

func newPHPArray() *phpArray { return &phpArray{vals: make(map[string]any)} }

func (a *phpArray) set(key string, v any) {
	if _, ok := a.vals[key]; !ok {
		a.keys = append(a.keys, key)
	}
	a.vals[key] = v
	if n, ok := phpIntKey(key); ok && n >= a.nextIdx {
		a.nextIdx = n + 1
	}
}

func (a *phpArray) appendValue(v any) {
	a.set(strconv.FormatInt(a.nextIdx, 10), v)
}

// child returns the array under key, replacing a scalar there, as PHP does.
func (a *phpArray) child(key string) *phpArray {
	if c, ok := a.vals[key].(*phpArray); ok {
		return c
	}
	c := newPHPArray()
	a.set(key, c)
	return c
}

// export converts to []any (keys 0..n-1 in order) or map[string]any.
func (a *phpArray) export() any {
	list := true
	for i, k := range a.keys {
		if k != strconv.Itoa(i) {
			list = false
			break
		}
	}
	if list && len(a.keys) > 0 {
		out := make([]any, len(a.keys))
		for i, k := range a.keys {
			out[i] = exportValue(a.vals[k])
		}
		return out
	}
	return a.exportMap()
}

// exportMap converts to map[string]any whatever the keys.
func (a *phpArray) exportMap() map[string]any {
	out := make(map[string]any, len(a.keys))
	for _, k := range a.keys {
		out[k] = exportValue(a.vals[k])
	}
	return out
}

func exportValue(v any) any {
	if a, ok := v.(*phpArray); ok {
		return a.export()
	}
	return v
}

// phpIntKey reports whether key is a canonical decimal integer, which PHP
// stores as an integer key.
func phpIntKey(key string) (int64, bool) {
	if key == "" || len(key) > 19 {
		return 0, false
	}
	s := key
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" || (s[0] == '0' && len(s) > 1) || (key[0] == '-' && s == "0") {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(key, 10, 64)
	return n, err == nil
}

// parsePHPPairs builds the PHP array for decoded pairs, in order.
func parsePHPPairs(pairs []Pair) (*phpArray, error) {
	root := newPHPArray()
	var err error
	for _, p := range pairs {
		if e := root.assign(p.Key, p.Value); e != nil {
			err = e
		}
	}
	return root, err
}

// assign stores value under a bracketed key such as "data[0][title]".
func (a *phpArray) assign(key, value string) error {
	key = strings.TrimLeft(key, " ")
	base, rest := key, ""
	if i := strings.IndexByte(key, '['); i >= 0 {
		if strings.IndexByte(key[i:], ']') < 0 {
			// No closing bracket: PHP turns the '[' into '_' and stops.
			base = key[:i] + "_" + key[i+1:]
		} else {
			base, rest = key[:i], key[i:]
		}
	}
	base = strings.NewReplacer(" ", "_", ".", "_").Replace(base)
	if base == "" {
		return nil
	}
	var segs []string
	for len(rest) > 0 && rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break
		}
		segs = append(segs, rest[1:end])
		rest = rest[end+1:]
		if len(segs) > maxPHPNesting {
			return errPHPNesting
		}
	}
	if len(segs) == 0 {
		a.set(base, value)
		return nil
	}
	cur := a.child(base)
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case last && seg == "":
			cur.appendValue(value)
		case last:
			cur.set(seg, value)
		case seg == "":
			next := newPHPArray()
			cur.appendValue(next)
			cur = next
		default:
			cur = cur.child(seg)
		}
	}
	return nil
}

// NaturalKeys returns m's keys in the order PHP would most likely have seen
// them when the original order is lost: integers first by value, then the
// rest with embedded numbers compared numerically ("c2" before "c10").
func NaturalKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
	return keys
}

func naturalLess(a, b string) bool {
	ai, aok := phpIntKey(a)
	bi, bok := phpIntKey(b)
	if aok || bok {
		if aok && bok {
			return ai < bi
		}
		return aok
	}
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// ChildKeys returns the keys of the array under the top-level name (matched
// case-insensitively) in the order the pairs first set them, or nil.
func ChildKeys(pairs []Pair, name string) []string {
	root, _ := parsePHPPairs(pairs)
	for _, k := range root.keys {
		if strings.EqualFold(k, name) {
			if a, ok := root.vals[k].(*phpArray); ok {
				return a.keys
			}
		}
	}
	return nil
}
