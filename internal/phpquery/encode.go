// Package phpquery is the PHP query-string codec of the portal: the bracket
// notation ("data[0][title]=A&data[0][contactIds][0]=4") that PHP's
// http_build_query writes and parse_str reads. Batch commands travel in it.
// Append encodes (for the client's packed batch commands); Parse decodes
// the way parse_str does (for b24test, which reads form bodies and batch
// commands as the portal does). Both live here so the round trip is tested
// in one place.
package phpquery

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// batchPlaceholderRe matches the text the portal's batch substitutes in
// command values ($result[cmd], $next[...], ...). A value containing it
// cannot travel inside a batch command unaltered.
var batchPlaceholderRe = regexp.MustCompile(`\$(result|next|total|time|error)\[`)

// MaxCommandVars caps the query variables of one batch command. PHP's
// parse_str honours max_input_vars (1000 by default; the cloud's value is
// not published), and a command that passes it loses fields silently.
const MaxCommandVars = 900

// ErrNotPackable reports an item that must be sent as a plain JSON call.
var ErrNotPackable = fmt.Errorf("b24: item cannot be sent inside a batch command")

// Append appends v, a decoded JSON value, as PHP bracket-notation
// query pairs under name ("data[0][title]=A&data[0][contactIds][0]=4"),
// URL-encoding names and values. Form encoding has no types: numbers keep
// their JSON text, booleans become Y/N (what the portal's Y/N flags and
// boolean user fields read), null an empty value; empty arrays and objects
// cannot be expressed and are left out. vars counts the pairs written.
func Append(dst []byte, name string, v any, vars *int) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// parse_str reads "[]" as "append" and stops a name at the
			// first "]" (escaped or not): such keys cannot travel.
			if k == "" || strings.ContainsAny(k, "[]") {
				return dst, ErrNotPackable
			}
			var err error
			if dst, err = Append(dst, name+"["+url.QueryEscape(k)+"]", x[k], vars); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []any:
		for i, e := range x {
			var err error
			if dst, err = Append(dst, name+"["+strconv.Itoa(i)+"]", e, vars); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	var val string
	switch x := v.(type) {
	case nil:
	case string:
		if batchPlaceholderRe.MatchString(x) {
			return dst, ErrNotPackable
		}
		val = x
	case json.Number:
		val = x.String()
	case bool:
		val = "N"
		if x {
			val = "Y"
		}
	default:
		return dst, fmt.Errorf("b24: unexpected value %T in batch command", v)
	}
	*vars++
	if len(dst) > 0 && dst[len(dst)-1] != '?' {
		dst = append(dst, '&')
	}
	dst = append(dst, name...)
	dst = append(dst, '=')
	return append(dst, url.QueryEscape(val)...), nil
}
