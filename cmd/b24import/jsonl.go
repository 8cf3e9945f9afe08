package main

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/b24kit/b24"
)

// coerceJSONObject reads the string values of a JSON Lines object the way
// CSV cells are read, so both formats take the same forms ("12 345,67",
// "06.15.2024", a stage or user by name, a list choice by label) and say
// the same things about them. Values of other JSON types go as they are.
func (co *coercer) coerceJSONObject(b []byte, fields map[string]b24.FieldInfo) ([]byte, *rowError) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return b, nil // the item's own decoding reports it
	}
	var cols []column
	for _, k := range sortedKeys(obj) {
		s, ok := obj[k].(string)
		if !ok {
			continue
		}
		c := column{name: k, field: k}
		if kd, typed := typedKinds[k]; typed {
			c.kind = kd
		}
		if fi, ok := fields[k]; ok && fi.IsUserField() {
			c.kind, c.info = kindUser, &fi
		}
		if c.kind == kindString && !isLookupField(k) || c.kind == kindExtra {
			continue
		}
		if c.kind == kindUser && c.info == nil {
			continue
		}
		c.index = len(cols)
		cols = append(cols, c)
		obj[k] = s
	}
	if len(cols) == 0 {
		return b, nil
	}
	// Stages are read after the pipeline, as in a CSV row.
	sort.SliceStable(cols, func(i, j int) bool { return cols[i].field != "stageId" && cols[j].field == "stageId" })
	var problems []cellProblem
	for i := range cols {
		c := &cols[i]
		v, err := co.coerceCell(c, strings.TrimSpace(obj[c.field].(string)), obj)
		if err != nil {
			problems = append(problems, cellProblem{column: c.name, field: c.field, msg: err.Error()})
			continue
		}
		obj[c.field] = v
	}
	if len(problems) > 0 {
		parts := make([]string, len(problems))
		for i, p := range problems {
			parts[i] = "item field " + strings.TrimPrefix(p.String(), "column ")
		}
		return nil, &rowError{code: codeValue, desc: strings.Join(parts, "; "), cells: problems}
	}
	out, err := jsonMarshal(obj)
	if err != nil {
		return b, nil
	}
	return out, nil
}

// isLookupField reports the string fields whose values are looked up.
func isLookupField(k string) bool { return k == "stageId" || k == "sourceId" }
