package b24

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24/internal/dedup"
)

// planUpdate computes the fields an update of the portal's item cur must
// send so that it holds what it sets, in the shape of decoded JSON (the
// plain call marshals it, a batch command writes it in bracket form).
// With compare, fields whose values the portal already holds, as it
// normalises them, are left out; without, everything it sets is sent.
// Multifields become the fm operations the portal's update reads (see
// [fmOps]), which need cur's multifield ids: needFM reports that cur has
// none to go by. History fields are never part of an update.
func planUpdate(it *Item, cur *portalItem, compare bool) (fields map[string]any, needFM bool, err error) {
	row := *it
	row.CreatedTime, row.UpdatedTime, row.MovedTime = time.Time{}, time.Time{}, time.Time{}
	row.CreatedBy, row.UpdatedBy, row.MovedBy = 0, 0, 0
	row.Phones, row.Emails, row.Webs, row.IMs = nil, nil, nil, nil
	want := map[string][]Multifield{}
	for _, mk := range multifieldKeys {
		if list := *mk.get(it); len(list) > 0 {
			want[mk.wire] = list
		} else if it.Fields[mk.wire] == Clear {
			want[mk.wire] = []Multifield{}
		}
	}
	if len(it.Fields) > 0 {
		row.Fields = make(map[string]any, len(it.Fields))
		for k, v := range it.Fields {
			if _, mf := want[k]; !mf && !slices.Contains(historyFields[:], k) {
				row.Fields[k] = v
			}
		}
	}
	body, err := row.appendJSON(nil)
	if err != nil {
		return nil, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, false, err
	}
	if compare && cur != nil {
		for k, v := range fields {
			if cur.holds(k, v, it.Fields[k]) {
				delete(fields, k)
			}
		}
	}
	if len(want) > 0 {
		if cur == nil || !cur.hasFM {
			return fields, true, nil
		}
		if ops := fmOps(want, cur.fm); len(ops) > 0 {
			fields["fm"] = ops
		}
	}
	return fields, false, nil
}

// fmOps turns the wanted multifield lists (by kind; an empty list clears
// the kind) into the fm object crm.item.update reads: existing values
// kept as they are, changed ones rewritten under their id, surplus ones
// deleted (their id with an empty value) and new ones added under n0,
// n1, ... Nothing is sent for values the portal already holds.
func fmOps(want map[string][]Multifield, have []fmEntry) map[string]any {
	ops := map[string]any{}
	added := 0
	kinds := make([]string, 0, len(want))
	for k := range want {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, kind := range kinds {
		var old []fmEntry
		for _, e := range have {
			if e.typeID == kind {
				old = append(old, e)
			}
		}
		used := make([]bool, len(old))
		var fresh []Multifield
		for _, m := range want[kind] {
			match := -1
			for i, e := range old {
				if !used[i] && sameMultifield(kind, m, e) {
					match = i
					break
				}
			}
			if match >= 0 {
				used[match] = true
			} else {
				fresh = append(fresh, m)
			}
		}
		for i, e := range old {
			if used[i] {
				continue
			}
			key := strconv.FormatInt(e.id, 10)
			if len(fresh) > 0 {
				m := fresh[0]
				fresh = fresh[1:]
				ops[key] = map[string]any{"typeId": kind, "valueType": m.ValueType, "value": m.Value}
				continue
			}
			ops[key] = map[string]any{"typeId": kind, "value": ""}
		}
		for _, m := range fresh {
			ops["n"+strconv.Itoa(added)] = map[string]any{"typeId": kind, "valueType": m.ValueType, "value": m.Value}
			added++
		}
	}
	return ops
}

// sameMultifield compares a wanted value with a stored one as people read
// them: e-mail case-insensitively, phones by their digits and +, every
// kind with its value type.
func sameMultifield(kind string, m Multifield, e fmEntry) bool {
	if !strings.EqualFold(m.ValueType, e.valueType) {
		return false
	}
	a, b := strings.TrimSpace(m.Value), strings.TrimSpace(e.value)
	switch kind {
	case "EMAIL":
		return strings.EqualFold(a, b)
	case "PHONE":
		return phoneDigits(a) == phoneDigits(b)
	}
	return a == b
}

func phoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' || r == '+' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// holds reports whether the portal's item already has value v (decoded
// JSON) in field k; orig is the caller's own value in Fields, if any,
// whose Go type tells what the JSON alone cannot (a file).
func (p *portalItem) holds(k string, v, orig any) bool {
	got := decodeLoose(p.raw[k])
	if v == nil { // a cleared field
		return isEmptyValue(got)
	}
	switch k {
	case "originatorId", "originId", "xmlId":
		// Key fields, compared as the portal's collation does.
		return dedup.Key{XMLID: looseText(got)}.Fold() == dedup.Key{XMLID: looseText(v)}.Fold()
	}
	if f, ok := typedByWire[k]; ok {
		switch f.kind.(type) {
		case stringField:
			return looseText(got) == looseText(v)
		case int64Field, intField:
			a, aok := looseNumber(v)
			b, bok := looseNumber(got)
			return aok && (bok && a == b || !bok && a == 0)
		case floatField:
			a, aok := looseNumber(v)
			b, bok := looseNumber(got)
			// Amounts are kept to the cent.
			return aok && bok && math.Round(a*100) == math.Round(b*100)
		case yesNoField:
			return yesNoText(v) == yesNoText(got)
		case dateField:
			s, ok := got.(string)
			d, err := portalDate(s)
			return ok && err == nil && d.String() == looseText(v)
		case idsField:
			return sameIDs(v, got)
		}
	}
	if _, ok := parseParentKey(k); ok {
		a, aok := looseNumber(v)
		b, bok := looseNumber(got)
		return aok && bok && a == b
	}
	switch orig.(type) {
	case File, *File, []File:
		// The portal answers a file with its id and links; contents
		// cannot be compared, so a field that holds a file is kept.
		return !isEmptyValue(got)
	}
	return looseEqual(v, got)
}

// decodeLoose decodes a member of an answer with numbers as json.Number;
// absent and null give nil.
func decodeLoose(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

// isEmptyValue is PHP's empty() on a decoded value, which is what the
// portal stores as "not set".
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == "" || x == "0"
	case bool:
		return !x
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// looseText renders a scalar as the text PHP would compare.
func looseText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "Y"
		}
		return "N"
	}
	return fmt.Sprint(v)
}

// looseNumber reads a number or numeric string.
func looseNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case nil:
		return 0, false
	}
	return 0, false
}

// yesNoText reads a flag as the portal does: Y, y, true and 1 are yes.
func yesNoText(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "Y"
		}
	case string:
		switch strings.ToLower(x) {
		case "y", "true", "1":
			return "Y"
		}
	case json.Number:
		if x.String() == "1" {
			return "Y"
		}
	}
	return "N"
}

// sameIDs compares two id lists as sets.
func sameIDs(a, b any) bool {
	norm := func(v any) []string {
		var out []string
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if n, ok := looseNumber(e); ok && n != 0 {
					out = append(out, strconv.FormatFloat(n, 'f', -1, 64))
				}
			}
		case nil:
		default:
			if n, ok := looseNumber(x); ok && n != 0 {
				out = append(out, strconv.FormatFloat(n, 'f', -1, 64))
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// looseEqual compares a value the caller sets with the portal's, for
// fields without a typed kind (user fields above all): numbers as
// numbers, flags as Y/N, a date with the day of the portal's datetime, a
// datetime as an instant, lists as sets, objects member by member.
func looseEqual(want, got any) bool {
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok {
			if got == nil || isEmptyValue(got) {
				return len(w) == 0
			}
			g = []any{got} // a single value where a list was sent
		}
		if len(w) != len(g) {
			return false
		}
		used := make([]bool, len(g))
	next:
		for _, we := range w {
			for i, ge := range g {
				if !used[i] && looseEqual(we, ge) {
					used[i] = true
					continue next
				}
			}
			return false
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, we := range w {
			if !looseEqual(we, g[k]) {
				return false
			}
		}
		return true
	case bool:
		return yesNoText(w) == yesNoText(got)
	case json.Number:
		a, _ := w.Float64()
		b, ok := looseNumber(got)
		return ok && a == b
	case string:
		gs, isText := got.(string)
		switch {
		case !isText:
			if n, ok := looseNumber(got); ok {
				a, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
				return err == nil && a == n
			}
			return w == looseText(got)
		case w == gs:
			return true
		case len(w) == len(time.DateOnly):
			d, err := portalDate(gs)
			return err == nil && d.String() == w
		}
		if tw, err := time.Parse(time.RFC3339, w); err == nil {
			tg, err := time.Parse(time.RFC3339, gs)
			return err == nil && tw.Equal(tg)
		}
		if yw := strings.ToUpper(w); (yw == "Y" || yw == "N") && len(gs) <= 4 {
			return yw == yesNoText(gs)
		}
		return false
	case nil:
		return isEmptyValue(got)
	}
	return false
}

// portalDate reads a date as answers carry it: "2024-06-18", or a
// datetime at midnight, which the portal writes in its own offset for a
// midnight in UTC ("2024-06-18T02:00:00+02:00") or in its zone
// ("2024-06-18T00:00:00+03:00"): whichever clock shows midnight gives the
// day.
func portalDate(s string) (Date, error) {
	if len(s) == len(time.DateOnly) {
		return ParseDate(s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return ParseDate(s)
	}
	if h, m, sec := t.Clock(); h == 0 && m == 0 && sec == 0 {
		return DateOf(t), nil
	}
	if u := t.UTC(); u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 {
		return DateOf(u), nil
	}
	return DateOf(t), nil
}
