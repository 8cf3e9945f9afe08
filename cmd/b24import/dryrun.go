package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// dryRun reads, coerces and validates every row and sends nothing.
func (imp *importer) dryRun(src source, total int, start time.Time) int {
	for {
		rw, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return imp.fail("%v", err)
		}
		o := outcome{status: "valid"}
		if rw.err != nil {
			o = outcome{status: stRejected, code: rw.err.code, desc: rw.err.desc}
		} else if err := validate(&rw.item, imp.cfg.entity, imp.info.originalUF); err != nil {
			o = outcome{status: stRejected, desc: trimB24(err.Error())}
			var ie *b24.ItemError
			if errors.As(err, &ie) {
				o.code, o.desc = ie.Code, ie.Description
			}
		}
		if o.status == stRejected {
			imp.tally.rejected++
			fmt.Fprintf(imp.stdout, "%s:%d: %s: %s\n", displayName(imp.cfg.file), rw.line, o.code, o.desc)
		} else {
			imp.tally.imported++
		}
		if imp.rep != nil {
			imp.rep.add(rw.line, o)
		}
	}
	code := exitOK
	if imp.rep != nil {
		if err := imp.rep.close(); err != nil {
			return imp.fail("%v", err)
		}
	}
	fmt.Fprintf(imp.stdout, "dry run: %d rows valid, %d would be rejected; nothing was sent (%s)\n",
		imp.tally.imported, imp.tally.rejected, time.Since(start).Round(time.Millisecond))
	if imp.tally.rejected > 0 {
		code = exitIncomplete
	}
	return code
}

// validate checks an item as the import would, before sending. With
// UF_CRM_… names the user fields are left to the portal: Item.Validate
// assumes camelCase ones.
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
