package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/b24kit/b24"
)

// prepare reads the mapping and value files, connects to the portal when
// there are credentials, and builds how rows are read. It returns an exit
// code other than exitOK to stop.
func (imp *importer) prepare(ctx context.Context) int {
	cfg := imp.cfg
	rules, err := loadMapRules(cfg.maps)
	if err != nil {
		return imp.fail("%v", err)
	}
	values, err := loadValueMaps(cfg.values)
	if err != nil {
		return imp.fail("%v", err)
	}
	if cfg.encoding != "" {
		e, _ := lookupEncoding(cfg.encoding)
		imp.encoding = &e
	}
	loc, _ := loadZone(cfg.tz)
	if imp.probe != nil {
		if err := imp.connect(ctx); err != nil {
			if ctx.Err() != nil {
				return imp.fail("interrupted while reading the portal's fields; nothing was sent")
			}
			return imp.fail("%v", err)
		}
	}
	imp.mapping = &mappingConfig{et: cfg.entity, rules: rules, ignoreUnknown: cfg.ignoreUnknown, values: values}
	resolver := &valueResolver{et: cfg.entity, maps: values}
	if imp.catalog != nil {
		imp.mapping.fields = imp.catalog.fields
		resolver.portal = imp.catalog
	}
	imp.coerce = &coercer{dates: dateReader{layout: cfg.dateFormat, loc: loc}, values: resolver}
	return exitOK
}

// afterHeader loads the portal's lists the columns need, and says how the
// file is read. plan is the header's mapping.
func (imp *importer) afterHeader(ctx context.Context, info *inputInfo) int {
	cfg := imp.cfg
	if imp.catalog != nil && info.plan == nil {
		// JSON Lines have no header: any object may name a stage, a user
		// or a list choice, so every list is read.
		cols := []column{{field: "stageId"}, {field: "assignedById"}}
		for _, name := range sortedKeys(imp.catalog.fields) {
			fi := imp.catalog.fields[name]
			cols = append(cols, column{field: name, info: &fi})
		}
		if err := imp.catalog.preload(ctx, imp.probe, cfg.entity, cols); err != nil {
			return imp.fail("%v", imp.describeFailure(err, 0))
		}
		if err := imp.catalog.loadNewest(ctx, imp.probe, cfg.entity); err != nil {
			return imp.fail("%v", imp.describeFailure(err, 0))
		}
	}
	if imp.catalog != nil && info.plan != nil {
		if err := imp.catalog.preload(ctx, imp.probe, cfg.entity, info.plan.cols); err != nil {
			return imp.fail("%v", imp.describeFailure(err, 0))
		}
		if hasColumn(info.plan, "createdTime") {
			if err := imp.catalog.loadNewest(ctx, imp.probe, cfg.entity); err != nil {
				return imp.fail("%v", imp.describeFailure(err, 0))
			}
		}
		imp.coerce.required = requiredFields(imp.catalog.fields, info.plan)
	}
	var notes []string
	if e := info.encoding; e.name != "UTF-8" {
		how := "detected"
		if !e.detected {
			how = "-encoding"
		}
		notes = append(notes, fmt.Sprintf("read as %s (%s)", e.name, how))
	}
	if info.sepLine {
		notes = append(notes, fmt.Sprintf("Excel's sep=%c line skipped", info.comma))
	}
	if info.plan != nil && (hasColumnKind(info.plan, kindTime) || hasUserFieldType(info.plan, "datetime")) {
		notes = append(notes, "date-times without a zone are read in "+zoneName(imp.coerce.dates.loc)+" (-tz sets it)")
	}
	if len(notes) > 0 {
		fmt.Fprintf(imp.stderr, "b24import: %s: %s\n", displayName(cfg.file), strings.Join(notes, "; "))
	}
	return exitOK
}

func hasColumn(plan *headerPlan, field string) bool {
	for _, c := range plan.cols {
		if !c.skip && c.field == field {
			return true
		}
	}
	return false
}

func hasColumnKind(plan *headerPlan, k kind) bool {
	for _, c := range plan.cols {
		if !c.skip && c.kind == k {
			return true
		}
	}
	return false
}

func hasUserFieldType(plan *headerPlan, typ string) bool {
	for _, c := range plan.cols {
		if !c.skip && c.info != nil && c.info.Type == typ {
			return true
		}
	}
	return false
}

// requiredFields lists the fields the portal requires that an import can
// set, with the column (if any) that feeds each. Flags are left out: the
// portal fills in their default.
func requiredFields(fields map[string]b24.FieldInfo, plan *headerPlan) []requiredField {
	var out []requiredField
	for _, name := range sortedKeys(fields) {
		fi := fields[name]
		if !fi.Required || fi.ReadOnly || fi.Type == "boolean" || name == "id" {
			continue
		}
		rf := requiredField{field: name, title: fi.Title}
		for _, c := range plan.cols {
			if !c.skip && (c.field == name || c.field == fi.UpperName) {
				rf.key, rf.column = c.field, c.name
			}
		}
		if rf.key == "" {
			rf.key = name
		}
		out = append(out, rf)
	}
	return out
}

// requiredField is a field every row must set.
type requiredField struct {
	field, title string
	key          string // the key the row's object holds it under
	column       string // the column that feeds it; "" none
}

// headerFailure prints every problem of the header and the way out.
func (imp *importer) headerFailure(err error) int {
	var ie *inputError
	if errors.As(err, &ie) && strings.HasPrefix(ie.msg, "header: ") {
		fmt.Fprintf(imp.stderr, "b24import: %v\n", err)
		fmt.Fprintf(imp.stderr, "b24import: -print-map writes the mapping to a file you can edit and pass with -map FILE\n")
		return exitFatal
	}
	return imp.fail("%v", err)
}

// printMapping writes the mapping of the file's header to stdout, with
// its problems as comments, and sends nothing.
func (imp *importer) printMapping() int {
	_, info, c, err := imp.openInput(false)
	if c != nil {
		c.Close()
	}
	if info == nil {
		info = imp.info
	}
	if info == nil || info.plan == nil {
		return imp.fail("%v", err)
	}
	var problems error
	var ie *inputError
	if errors.As(err, &ie) {
		problems = errors.New(strings.TrimPrefix(ie.msg, "header: "))
	}
	printMap(imp.stdout, displayName(imp.cfg.file), info.plan, problems)
	return exitOK
}
