package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/b24kit/b24"
)

// valueFlag is the repeatable -values FIELD=FILE flag.
type valueFlag []string

func (v *valueFlag) String() string { return strings.Join(*v, ", ") }

// Set implements flag.Value.
func (v *valueFlag) Set(s string) error {
	field, file, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(field) == "" || strings.TrimSpace(file) == "" {
		return fmt.Errorf("want FIELD=FILE, e.g. stageId=stages.txt")
	}
	*v = append(*v, s)
	return nil
}

// loadValueMaps reads the -values files: per field, folded label -> value.
func loadValueMaps(specs []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, spec := range specs {
		field, file, _ := strings.Cut(spec, "=")
		field, file = strings.TrimSpace(field), strings.TrimSpace(file)
		m, err := readValueFile(file)
		if err != nil {
			return nil, err
		}
		if out[field] == nil {
			out[field] = map[string]string{}
		}
		for k, v := range m {
			out[field][k] = v
		}
	}
	return out, nil
}

// readValueFile reads "label = value" lines ("#" comments, blank lines
// ignored); a label with "=" is written in double quotes.
func readValueFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-values: %w", err)
	}
	defer f.Close()
	m := map[string]string{}
	where := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("%s:%d: not UTF-8: save the file as UTF-8", path, n)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseMapLine(line, "")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, strings.Replace(err.Error(), "source column = field", "label = value", 1))
		}
		k := foldValue(r.source)
		if prev, dup := where[k]; dup && m[k] != r.field {
			return nil, fmt.Errorf("%s:%d: label %q is already mapped at line %d", path, n, r.source, prev)
		}
		m[k], where[k] = r.field, n
	}
	return m, sc.Err()
}

// foldValue folds a value for comparison: case, repeated spaces, ё.
func foldValue(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(s, "ё", "е"), "Ё", "Е"))), " ")
}

// valueResolver turns labels into the values the portal stores: -values
// maps, stage and status names, pipeline names, users by name or e-mail,
// and enumeration labels. With a portal it uses the portal's lists;
// without, only the default pipeline's stage names and ids as written.
type valueResolver struct {
	et     b24.EntityTypeID
	maps   map[string]map[string]string
	portal *catalog // nil offline
}

var (
	reStageID = regexp.MustCompile(`^(C[0-9]+:|DT[0-9]+_[0-9]+:)?[A-Z][A-Z0-9_]*$`)
	reEmail   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// dependsOnRow reports the columns read after the rest of the row: a
// stage is looked up in the row's pipeline.
func (vr *valueResolver) dependsOnRow(c *column) bool { return c.field == "stageId" }

// resolve maps a cell: done reports that v is the final value; otherwise v
// is the (maybe relabelled) cell to coerce by the field's type.
func (vr *valueResolver) resolve(c *column, cell string, row map[string]any) (v any, done bool, err error) {
	if m := vr.maps[c.field]; m != nil {
		if to, ok := m[foldValue(cell)]; ok {
			cell = to
		}
	}
	switch {
	case c.field == "stageId":
		s, err := vr.stage(cell, row)
		return s, true, err
	case c.field == "categoryId":
		if _, err := strconv.ParseInt(stripSpaces(cell), 10, 64); err == nil || vr.portal == nil {
			return cell, false, nil
		}
		id, err := vr.portal.categoryID(vr.et, cell)
		return id, true, err
	case isUserRef(c):
		return vr.users(c, cell)
	case c.info != nil && c.info.Type == "enumeration":
		return vr.enum(c, cell)
	case c.info != nil && c.info.Type == "crm_status" && c.info.StatusType != "" && vr.portal != nil:
		s, err := vr.portal.status(c.info.StatusType, cell)
		return s, true, err
	}
	return cell, false, nil
}

// isUserRef reports the columns that hold users: assignedById, observers,
// createdBy, ... and user fields of type "user".
func isUserRef(c *column) bool {
	switch c.field {
	case "assignedById", "createdBy", "updatedBy", "movedBy", "observers":
		return true
	}
	return c.info != nil && c.info.Type == "user"
}

// stage resolves a stage id or name within the row's pipeline.
func (vr *valueResolver) stage(cell string, row map[string]any) (string, error) {
	cat, hasCat := int64(-1), false
	switch v := row["categoryId"].(type) {
	case int64:
		cat, hasCat = v, true
	case string:
		if n, err := strconv.ParseInt(stripSpaces(v), 10, 64); err == nil {
			cat, hasCat = n, true
		}
	}
	if vr.portal != nil {
		return vr.portal.stage(vr.et, cat, hasCat, cell)
	}
	if reStageID.MatchString(cell) {
		return cell, nil
	}
	if !hasCat || cat == 0 {
		for id, names := range defaultStageNames[vr.et] {
			for _, n := range names {
				if foldValue(n) == foldValue(cell) {
					return id, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%q is not a stage id, and stage names other than a new portal's defaults are looked up in the portal: set B24_WEBHOOK_URL (-dry-run checks them), or map them with -values stageId=FILE", cell)
}

// users resolves a user id, e-mail or name; a list for observers.
func (vr *valueResolver) users(c *column, cell string) (any, bool, error) {
	multiple := c.kind == kindIDs || c.info != nil && c.info.Multiple
	parts := []string{cell}
	if multiple {
		parts = splitList(cell)
	}
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		if n, err := strconv.ParseInt(stripSpaces(p), 10, 64); err == nil {
			ids = append(ids, n)
			continue
		}
		if vr.portal == nil {
			return nil, true, fmt.Errorf("%q is not a user id; users are found by name or e-mail in the portal: set B24_WEBHOOK_URL (-dry-run checks them), or map them with -values %s=FILE", p, c.field)
		}
		id, err := vr.portal.userID(p)
		if err != nil {
			return nil, true, err
		}
		ids = append(ids, id)
	}
	if multiple {
		return ids, true, nil
	}
	return ids[0], true, nil
}

// enum resolves an enumeration field's labels to their ids.
func (vr *valueResolver) enum(c *column, cell string) (any, bool, error) {
	parts := []string{cell}
	if c.info.Multiple {
		parts = splitList(cell)
	}
	out := make([]any, 0, len(parts))
	for _, p := range parts {
		id, ok := int64(0), false
		for _, it := range c.info.Items {
			if foldValue(it.Value) == foldValue(p) || strconv.FormatInt(it.ID, 10) == strings.TrimSpace(p) {
				id, ok = it.ID, true
				break
			}
		}
		if !ok {
			labels := make([]string, 0, len(c.info.Items))
			for _, it := range c.info.Items {
				labels = append(labels, fmt.Sprintf("%q", it.Value))
			}
			return nil, true, fmt.Errorf("%q is not a choice of this list; accepted: %s", p, firstFew(labels))
		}
		out = append(out, id)
	}
	if c.info.Multiple {
		return out, true, nil
	}
	return out[0], true, nil
}

// firstFew lists the first accepted values of a list, and how many more.
func firstFew(list []string) string {
	const n = 6
	if len(list) == 0 {
		return "none"
	}
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:n], ", "), len(list)-n)
}
