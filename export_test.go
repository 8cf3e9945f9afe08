package b24

import "strings"

// AppendPHPQueryForTest exposes the batch command encoder to the external
// tests (package b24_test), which can round-trip it through b24test's
// parser without an import cycle. v is a decoded JSON value.
func AppendPHPQueryForTest(name string, v any) (string, error) {
	var n int
	b, err := appendPHPQuery(nil, name, v, &n)
	return strings.TrimPrefix(string(b), "&"), err
}
