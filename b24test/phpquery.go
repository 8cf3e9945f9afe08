package b24test

import "github.com/b24kit/b24/internal/phpquery"

// ParsePHPQuery parses q the way PHP's parse_str does, so that form bodies and
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
func ParsePHPQuery(q string) (map[string]any, error) { return phpquery.Parse(q) }

// naturalKeys returns m's keys in the order PHP would most likely have seen
// them when the original order is lost.
func naturalKeys(m map[string]any) []string { return phpquery.NaturalKeys(m) }
