package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/b24kit/b24"
)

// mapRule maps one source column to a field; field "" skips the column.
type mapRule struct {
	source string
	field  string
	origin string // where it was given: "map.txt:3" or "-map"
}

// mapFlag is the repeatable -map flag: a FILE, or 'Source=field'.
type mapFlag []string

func (m *mapFlag) String() string { return strings.Join(*m, ", ") }

// Set implements flag.Value.
func (m *mapFlag) Set(s string) error {
	*m = append(*m, s)
	return nil
}

// loadMapRules reads the -map values in order: a value naming a file that
// exists is a mapping file, one with "=" an inline rule.
func loadMapRules(values []string) ([]mapRule, error) {
	var rules []mapRule
	for _, v := range values {
		if st, err := os.Stat(v); err == nil && !st.IsDir() {
			f, err := os.Open(v)
			if err != nil {
				return nil, err
			}
			rs, err := parseMapFile(f, v)
			f.Close()
			if err != nil {
				return nil, err
			}
			rules = append(rules, rs...)
			continue
		}
		if !strings.Contains(v, "=") {
			return nil, fmt.Errorf("-map %q: no such file, and not a 'Source column=field' rule", v)
		}
		for part := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			r, err := parseMapLine(part, "-map")
			if err != nil {
				return nil, fmt.Errorf("-map %q: %v", v, err)
			}
			rules = append(rules, r)
		}
	}
	seen := map[string]mapRule{}
	for _, r := range rules {
		k := foldName(r.source)
		if prev, dup := seen[k]; dup && prev.field != r.field {
			return nil, fmt.Errorf("%s: column %q is already mapped to %s at %s", r.origin, r.source, fieldOrSkip(prev.field), prev.origin)
		}
		seen[k] = r
	}
	return rules, nil
}

func fieldOrSkip(f string) string {
	if f == "" {
		return "- (skipped)"
	}
	return f
}

// parseMapFile reads a mapping file: UTF-8 text, one "source column =
// field" a line, "#" starting a comment line or a comment after the
// field, blank lines ignored; a field "-" or nothing skips the column. A
// source column that holds "=" or starts with "#" is written in double
// quotes.
func parseMapFile(r io.Reader, name string) ([]mapRule, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var rules []mapRule
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("%s:%d: not UTF-8: save the mapping file as UTF-8", name, n)
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		rule, err := parseMapLine(t, fmt.Sprintf("%s:%d", name, n))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return rules, nil
}

// parseMapLine reads one "source = field" rule.
func parseMapLine(line, origin string) (mapRule, error) {
	t := strings.TrimSpace(line)
	var source, rest string
	if strings.HasPrefix(t, `"`) {
		end := strings.Index(t[1:], `"`)
		if end < 0 {
			return mapRule{}, fmt.Errorf("unclosed quote in %q", t)
		}
		source, rest = t[1:1+end], strings.TrimSpace(t[2+end:])
		if !strings.HasPrefix(rest, "=") {
			return mapRule{}, fmt.Errorf("want '\"source column\" = field', got %q", t)
		}
		rest = rest[1:]
	} else {
		i := strings.LastIndex(t, "=")
		if i < 0 {
			return mapRule{}, fmt.Errorf("no '=' in %q: want 'source column = field' (field - skips the column)", t)
		}
		source, rest = strings.TrimSpace(t[:i]), t[i+1:]
	}
	if c := strings.Index(rest, "#"); c >= 0 {
		rest = rest[:c]
	}
	field := strings.TrimSpace(rest)
	if field == "-" {
		field = ""
	}
	if source == "" {
		return mapRule{}, fmt.Errorf("no source column before '=' in %q", t)
	}
	if strings.ContainsFunc(field, unicode.IsSpace) {
		return mapRule{}, fmt.Errorf("field %q has a space: a field name is one word (title, stageId, ufCrm_…)", field)
	}
	return mapRule{source: source, field: field, origin: origin}, nil
}

// foldName folds a column name for matching: lower case, without spaces,
// punctuation ("_", "-", ".", ",", ...; "%" and "#" are kept) and BOMs.
// "Deal Stage", "deal_stage" and "DEAL-STAGE" fold alike.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '%' || r == '#':
			return r
		case unicode.IsSpace(r), unicode.IsPunct(r), r == '\ufeff', r == '\u00a0':
			return -1
		case r == 'ё' || r == 'Ё':
			return 'е'
		}
		return unicode.ToLower(r)
	}, s)
}

// mappingConfig says how a header is matched to fields.
type mappingConfig struct {
	et            b24.EntityTypeID
	rules         []mapRule
	ignoreUnknown bool
	fields        map[string]b24.FieldInfo // the portal's fields; nil offline
	values        map[string]map[string]string
	// keyColumn is -key-column: when it names no field, its cells are
	// read as text, as the rows' dedup key, and judged by nothing else.
	keyColumn string
}

// headerPlan is what resolveHeader made of a header.
type headerPlan struct {
	cols       []column
	warnings   []string
	originalUF bool
}

// headerProblems are all the problems of a header, each with its advice.
type headerProblems struct{ list []string }

func (e *headerProblems) Error() string {
	if len(e.list) == 1 {
		return e.list[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(e.list), strings.Join(e.list, "\n  "))
}

// resolveHeader matches every column of a header to a field: by the
// mapping rules, then the field's own name (camelCase, UPPER_SNAKE or
// another spelling of it), then the portal's titles (or the built-in ones
// offline). It reports every problem of the header at once.
func resolveHeader(names []string, mc *mappingConfig) (*headerPlan, error) {
	ix := newFieldIndex(mc)
	plan := &headerPlan{}
	var problems []string
	byRule := map[string]mapRule{}
	for _, r := range mc.rules {
		byRule[foldName(r.source)] = r
	}
	usedRules := map[string]bool{}
	taken := map[string]int{} // field -> column index
	camelUF := false
	// A trailing empty header cell is Excel's trailing delimiter.
	for len(names) > 1 && strings.TrimSpace(names[len(names)-1]) == "" {
		names = names[:len(names)-1]
	}
	seen := map[string]int{}
	for i, raw := range names {
		name := strings.TrimSpace(strings.TrimPrefix(raw, "\ufeff"))
		c := column{name: name, index: i}
		where := fmt.Sprintf("column %d %q", i+1, name)
		if r, ok := byRule[fmt.Sprintf("#%d", i+1)]; ok && name == "" {
			usedRules[foldName(r.source)] = true
			if r.field == "" {
				plan.cols = append(plan.cols, column{name: r.source, skip: true, index: i, how: "skipped by " + r.origin})
				continue
			}
			name = r.source
		}
		if name == "" {
			problems = append(problems, fmt.Sprintf("column %d has no name: give it one in the file or skip it with -map '#%d=-'", i+1, i+1))
			plan.cols = append(plan.cols, column{name: fmt.Sprintf("#%d", i+1), skip: true, index: i})
			continue
		}
		if j, dup := seen[name]; dup {
			problems = append(problems, fmt.Sprintf("%s repeats column %d: rename one in the file, or skip it with -map", where, j+1))
			c.skip = true
			plan.cols = append(plan.cols, c)
			continue
		}
		seen[name] = i
		field, how := "", ""
		if r, ok := byRule[foldName(name)]; ok {
			usedRules[foldName(name)] = true
			if r.field == "" {
				c.skip, c.how = true, "skipped by "+r.origin
				plan.cols = append(plan.cols, c)
				continue
			}
			if !ix.known(r.field) {
				problems = append(problems, fmt.Sprintf("%s: %s maps it to %q, which is not a field of %s%s", where, r.origin, r.field, mc.et, ix.suggestion(r.field)))
				c.skip = true
				plan.cols = append(plan.cols, c)
				continue
			}
			field, how = r.field, "mapped by "+r.origin
		} else {
			field, how = ix.match(name)
		}
		if field == "" && mc.keyColumn != "" && name == mc.keyColumn {
			c.field, c.kind, c.how = name, kindExtra, "the rows' dedup key (-key-column)"
			plan.cols = append(plan.cols, c)
			continue
		}
		if field == "" {
			if mc.ignoreUnknown {
				c.skip, c.how = true, "not a field: skipped (-ignore-unknown)"
				plan.warnings = append(plan.warnings, fmt.Sprintf("%s is not a field of %s; skipped (-ignore-unknown)", where, mc.et))
				plan.cols = append(plan.cols, c)
				continue
			}
			if mc.fields == nil && isIdentifier(name) && ix.suggestion(name) == "" {
				// Offline, a plain identifier may be a field this build does
				// not know: send it, as before, with a warning.
				c.field, c.kind, c.how = name, kindExtra, "unknown: sent as text"
				plan.warnings = append(plan.warnings, fmt.Sprintf("%s is not a known field of %s; sent as text, the portal ignores fields it does not have (-ignore-unknown skips it)", where, mc.et))
				plan.cols = append(plan.cols, c)
				continue
			}
			problems = append(problems, fmt.Sprintf("%s is not a field of %s%s; map it (-map '%s=FIELD') or skip it (-map '%s=-', or -ignore-unknown for all such columns)",
				where, mc.et, ix.suggestion(name), name, name))
			c.skip = true
			plan.cols = append(plan.cols, c)
			continue
		}
		if err := c.setField(field, ix); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
			c.skip = true
			plan.cols = append(plan.cols, c)
			continue
		}
		c.how = how
		key := c.field
		if c.kind == kindMultifield {
			key = c.multi + "_" + c.valueType + "#" + name // several columns may feed one multifield
		}
		if j, dup := taken[key]; dup {
			problems = append(problems, fmt.Sprintf("%s and column %d %q both go to %s: skip one (-map '%s=-')", where, j+1, names[j], c.field, name))
			c.skip = true
		} else {
			taken[key] = i
		}
		switch {
		case reUserField.MatchString(c.field):
			camelUF = true
		case reUFOrig.MatchString(c.field):
			plan.originalUF = true
		}
		plan.cols = append(plan.cols, c)
	}
	for _, r := range mc.rules {
		if !usedRules[foldName(r.source)] {
			plan.warnings = append(plan.warnings, fmt.Sprintf("%s: the file has no column %q", r.origin, r.source))
		}
	}
	if camelUF && plan.originalUF {
		problems = append(problems, "the header mixes ufCrm… and UF_CRM_… user field names; use one spelling")
	}
	// Let the library judge what it would refuse in every row.
	for _, c := range plan.cols {
		if c.skip {
			continue
		}
		probe := b24.Item{}
		switch c.kind {
		case kindExtra:
			if mc.keyColumn != "" && c.name == mc.keyColumn {
				continue // the key column leaves the row before it is checked
			}
			probe.Fields = map[string]any{c.field: "x"}
		case kindMultifield:
			probe.Phones = []b24.Multifield{{Value: "1", ValueType: "WORK"}}
		default:
			continue
		}
		if err := probe.Validate(mc.et); err != nil {
			problems = append(problems, probeMessage(c.index, c.name, err))
		}
	}
	if len(problems) > 0 {
		return plan, &headerProblems{problems}
	}
	for k := range mc.values {
		if _, ok := taken[k]; !ok && !slices.ContainsFunc(plan.cols, func(c column) bool { return c.field == k }) {
			plan.warnings = append(plan.warnings, fmt.Sprintf("-values %s: no column goes to %s", k, k))
		}
	}
	return plan, nil
}

// isIdentifier reports whether s could be a field name: ASCII letters,
// digits and "_", starting with a letter.
func isIdentifier(s string) bool {
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return s != ""
}

// printMap writes the mapping the import would use, as a mapping file.
func printMap(w io.Writer, file string, plan *headerPlan, problems error) {
	fmt.Fprintf(w, "# b24import mapping for %s: source column = field (- skips it)\n", file)
	fmt.Fprintf(w, "# edit it and pass it with -map FILE\n")
	width := 0
	for _, c := range plan.cols {
		width = max(width, utf8.RuneCountInString(quoteSource(c.name)))
	}
	for _, c := range plan.cols {
		field, how := c.field, c.how
		if c.kind == kindMultifield {
			field = c.multi + "_" + c.valueType
		}
		if c.skip {
			field = "-"
			if how == "" {
				how = "no field matched: map it or leave it skipped"
			}
		}
		src := quoteSource(c.name)
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(src))
		fmt.Fprintf(w, "%s%s = %-20s # %s\n", src, pad, field, how)
	}
	if problems != nil {
		fmt.Fprintf(w, "# problems to resolve:\n")
		for _, p := range strings.Split(problems.Error(), "\n") {
			fmt.Fprintf(w, "#   %s\n", strings.TrimSpace(p))
		}
	}
}

func quoteSource(s string) string {
	if strings.ContainsAny(s, "=#\"") || strings.TrimSpace(s) != s {
		return `"` + strings.ReplaceAll(s, `"`, "'") + `"`
	}
	return s
}
