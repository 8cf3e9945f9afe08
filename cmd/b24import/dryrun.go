package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// maxDryRunRows is how many rejected rows a dry run lists one by one; the
// per-column summary covers all of them, and -report lists every row.
const maxDryRunRows = 20

// problemGroup is one kind of problem of a dry run: a column, or a code
// for problems of the whole row.
type problemGroup struct {
	key     string
	rows    int
	line    int    // the first row with it
	example string // its message there
}

// dryRun reads, coerces and validates every row as the real run would
// (with credentials, against the portal's fields, stages, users, required
// fields and history rule) and sends nothing.
func (imp *importer) dryRun(src source, total int, start time.Time) int {
	groups := map[string]*problemGroup{}
	var order []string
	note := func(key string, line int, msg string) {
		g := groups[key]
		if g == nil {
			g = &problemGroup{key: key, line: line, example: msg}
			groups[key] = g
			order = append(order, key)
		}
		g.rows++
	}
	var listed []string
	guard := &historyGuard{}
	if imp.history != nil {
		guard.newest = imp.history.newest
	}
	for {
		rw, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return imp.fail("%v", err)
		}
		o := outcome{status: "valid"}
		switch {
		case rw.err != nil:
			o = outcome{status: stRejected, code: rw.err.code, desc: rw.err.desc}
			for _, c := range rw.err.cells {
				key := c.field
				if c.column != c.field && c.field != "" {
					key = fmt.Sprintf("%s (column %q)", c.field, c.column)
				} else if key == "" {
					key = fmt.Sprintf("column %q", c.column)
				}
				note(key, rw.line, c.msg)
			}
			if len(rw.err.cells) == 0 {
				note(rw.err.code, rw.line, rw.err.desc)
			}
		default:
			rerr := validateRow(&rw.item, imp.cfg.entity, imp.info.originalUF)
			if rerr == nil {
				rerr = guard.againstPortal(&rw.item)
			}
			if rerr == nil {
				rerr = guard.inFile(&rw.item)
			}
			if rerr != nil {
				o = outcome{status: stRejected, code: rerr.code, desc: rerr.desc}
				note(rerr.code, rw.line, rerr.desc)
			}
		}
		if o.status == stRejected {
			imp.tally.rejected++
			if len(listed) < maxDryRunRows {
				listed = append(listed, fmt.Sprintf("  %s:%d: %s: %s", displayName(imp.cfg.file), rw.line, o.code, o.desc))
			}
		} else {
			imp.tally.imported++
		}
		if imp.rep != nil {
			imp.rep.expect(rw.line, rowKey(imp.cfg.entity, &rw.item), rowTitle(&rw.item))
			imp.rep.add(rw.line, o)
		}
	}
	if imp.rep != nil {
		if err := imp.rep.close(); err != nil {
			return imp.fail("%v", err)
		}
	}
	w := imp.stdout
	if len(order) > 0 {
		fmt.Fprintln(w, "problems by column:")
		slices.SortStableFunc(order, func(a, b string) int { return groups[b].rows - groups[a].rows })
		for _, k := range order {
			g := groups[k]
			fmt.Fprintf(w, "  %s: %d %s, e.g. line %d: %s\n", g.key, g.rows, plural(g.rows, "row", "rows"), g.line, g.example)
			if k == b24.CodeHistoryOrder {
				fmt.Fprintf(w, "    (history goes in oldest first: sort the file by creation date, or leave the column out with -map '%s=-' and the portal dates the rows at import)\n", imp.columnOf("createdTime"))
			}
		}
		fmt.Fprintf(w, "rows that would be rejected, with every problem of each")
		if imp.tally.rejected > len(listed) {
			hint := "-report FILE lists all"
			if imp.rep != nil {
				hint = "the report lists all"
			}
			fmt.Fprintf(w, " (the first %d; %s)", len(listed), hint)
		}
		fmt.Fprintln(w, ":")
		for _, l := range listed {
			fmt.Fprintln(w, l)
		}
	}
	checked := "checked offline: stages, users and required fields are checked against the portal only with credentials"
	if imp.catalog != nil {
		checked = "checked against " + portalAddress(imp.cfg)
	}
	fmt.Fprintf(w, "dry run: %d rows valid, %d would be rejected; nothing was sent (%s; %s)\n",
		imp.tally.imported, imp.tally.rejected, checked, time.Since(start).Round(time.Millisecond))
	if imp.tally.rejected > 0 {
		return exitIncomplete
	}
	return exitOK
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// validateRow checks an item as the import would, before sending. With
// UF_CRM_… names the user fields are left to the portal: Item.Validate
// assumes camelCase ones.
func validateRow(it *b24.Item, et b24.EntityTypeID, originalUF bool) *rowError {
	if err := validate(it, et, originalUF); err != nil {
		var ie *b24.ItemError
		if errors.As(err, &ie) {
			return &rowError{code: ie.Code, desc: ie.Description}
		}
		return &rowError{desc: trimB24(err.Error())}
	}
	return nil
}

// validate checks an item with the library's validation.
func validate(it *b24.Item, et b24.EntityTypeID, originalUF bool) error {
	if originalUF && len(it.Fields) > 0 {
		cp := *it
		cp.Fields = map[string]any{}
		for k, v := range it.Fields {
			if !strings.HasPrefix(k, "UF_CRM_") {
				cp.Fields[k] = v
			}
		}
		it = &cp
	}
	return it.Validate(et)
}

// columnOf is the header of the column that feeds field, or the field.
func (imp *importer) columnOf(field string) string {
	if imp.info != nil && imp.info.plan != nil {
		for _, c := range imp.info.plan.cols {
			if !c.skip && c.field == field {
				return c.name
			}
		}
	}
	return field
}
