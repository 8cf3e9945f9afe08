package b24

import (
	"bytes"
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

// maxCommandVars caps the query variables of one batch command. PHP's
// parse_str honours max_input_vars (1000 by default; the cloud's value is
// not published), and a command that passes it loses fields silently.
const maxCommandVars = 900

// errNotPackable reports an item that must be sent as a plain JSON call.
var errNotPackable = fmt.Errorf("b24: item cannot be sent inside a batch command")

// appendPHPQuery appends v, a decoded JSON value, as PHP bracket-notation
// query pairs under name ("data[0][title]=A&data[0][contactIds][0]=4"),
// URL-encoding names and values. Form encoding has no types: numbers keep
// their JSON text, booleans become Y/N (what the portal's Y/N flags and
// boolean user fields read), null an empty value; empty arrays and objects
// cannot be expressed and are left out. vars counts the pairs written.
func appendPHPQuery(dst []byte, name string, v any, vars *int) ([]byte, error) {
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
				return dst, errNotPackable
			}
			var err error
			if dst, err = appendPHPQuery(dst, name+"["+url.QueryEscape(k)+"]", x[k], vars); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []any:
		for i, e := range x {
			var err error
			if dst, err = appendPHPQuery(dst, name+"["+strconv.Itoa(i)+"]", e, vars); err != nil {
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
			return dst, errNotPackable
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

// encodeImportCommand renders one crm.item.batchImport call as a batch
// command string. It fails with errNotPackable when an item holds batch
// placeholder text or the command would pass maxCommandVars.
func encodeImportCommand(et EntityTypeID, items []pendingItem, originalUFNames bool) (string, error) {
	buf := make([]byte, 0, 1024*len(items))
	buf = append(buf, "crm.item.batchImport?entityTypeId="...)
	buf = strconv.AppendInt(buf, int64(et), 10)
	if originalUFNames {
		buf = append(buf, "&useOriginalUfNames=Y"...)
	}
	vars := 0
	var js []byte
	for i, p := range items {
		var err error
		if js, err = p.item.appendJSON(js[:0]); err != nil {
			return "", errNotPackable
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", errNotPackable
		}
		before := vars
		if buf, err = appendPHPQuery(buf, "data["+strconv.Itoa(i)+"]", v, &vars); err != nil {
			return "", errNotPackable
		}
		// An item with no pairs would vanish from data and shift the
		// answers of the items after it.
		if vars == before || vars > maxCommandVars {
			return "", errNotPackable
		}
	}
	return string(buf), nil
}
