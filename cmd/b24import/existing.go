package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/internal/dedup"
)

// existingFlags are the flags about rows already in the portal and the
// dedup keys that find them.
type existingFlags struct {
	existing   string // skip, update or create
	originator string // a constant originatorId
	keyColumn  string // the column that holds originId (or xmlId)
	rejects    string // write rejected rows here, in the input's format
}

// addExistingFlags registers -existing, -originator, -key-column and
// -rejects.
func addExistingFlags(fs *flag.FlagSet, f *existingFlags) {
	fs.StringVar(&f.existing, "existing", "skip", "rows whose dedup key is already in the portal: skip (leave them, report the item found), update (write the fields that differ) or create (import without looking)")
	fs.StringVar(&f.originator, "originator", "", "set originatorId to `NAME` (the system the rows come from) on rows without one: with -key-column it gives every row a dedup key")
	fs.StringVar(&f.keyColumn, "key-column", "", "use `COLUMN` of the file as the rows' originId (xmlId for invoices and smart processes): their id in the source system, so a re-run never creates a row twice")
	fs.StringVar(&f.rejects, "rejects", "", "write the rejected rows to `FILE` in the input's own format (CSV with its header and delimiter, or JSON Lines), to fix and import again")
}

// existingMode parses -existing.
func (f *existingFlags) existingMode() (b24.Existing, error) {
	switch strings.ToLower(strings.TrimSpace(f.existing)) {
	case "", "skip":
		return b24.ExistingSkip, nil
	case "update", "upsert":
		return b24.ExistingUpdate, nil
	case "create":
		return b24.ExistingCreate, nil
	}
	return 0, &usageError{fmt.Sprintf("-existing %q: want skip, update or create", f.existing)}
}

// checkExistingFlags checks the flags against each other and the input.
func checkExistingFlags(cfg *config) error {
	f := &cfg.keys
	if _, err := f.existingMode(); err != nil {
		return err
	}
	if f.originator != "" && !dedup.HasOriginKey(int(cfg.entity)) {
		return &usageError{fmt.Sprintf("-originator: %s items have no originatorId; their key is xmlId (-key-column alone)", cfg.entity)}
	}
	if f.keyColumn != "" && !dedup.HasOriginKey(int(cfg.entity)) && !dedup.UsesXMLID(int(cfg.entity)) {
		return &usageError{fmt.Sprintf("-key-column: %s items have no dedup key", cfg.entity)}
	}
	if f.rejects != "" {
		if cfg.file == "-" {
			return &usageError{"-rejects needs a file input: the rejected rows are copied from it after the run"}
		}
		for _, other := range []string{cfg.file, cfg.journalPath, cfg.reportPath} {
			if sameFile(f.rejects, other) {
				return &usageError{"-rejects must be a file of its own, not the input, the journal or the report"}
			}
		}
	}
	return nil
}

// keySource gives rows the dedup key the flags describe: -key-column's
// value as originId (xmlId), -originator as originatorId where a row has
// none.
type keySource struct {
	src        source
	et         b24.EntityTypeID
	keyColumn  string
	onlyKey    bool // the column is no field of its own: it is taken out of the row
	originator string
}

// withKeys wraps src when the flags give rows keys. A CSV without the
// key column is refused.
func (imp *importer) withKeys(src source) (source, error) {
	f := imp.cfg.keys
	if f.keyColumn == "" && f.originator == "" {
		return src, nil
	}
	ks := &keySource{src: src, et: imp.cfg.entity, keyColumn: f.keyColumn, originator: f.originator}
	if f.keyColumn != "" {
		_, typed := typedKinds[f.keyColumn]
		ks.onlyKey = !typed && !reUserField.MatchString(f.keyColumn) && !reUFOrig.MatchString(f.keyColumn) && !reParent.MatchString(f.keyColumn)
		if cs, ok := src.(*csvSource); ok {
			found := false
			for _, c := range cs.cols {
				found = found || c.name == f.keyColumn
			}
			if !found {
				return nil, &inputError{file: displayName(imp.cfg.file), line: 1, msg: fmt.Sprintf("-key-column %q: the header has no such column", f.keyColumn)}
			}
		}
	}
	return ks, nil
}

func (ks *keySource) next() (row, error) {
	rw, err := ks.src.next()
	if err != nil || rw.err != nil {
		return rw, err
	}
	it := &rw.item
	if ks.keyColumn != "" {
		v, err := columnText(it, ks.keyColumn, ks.onlyKey)
		if err != nil {
			rw.err = &rowError{code: codeValue, desc: fmt.Sprintf("-key-column %q: %v", ks.keyColumn, err)}
			return rw, nil
		}
		if dedup.UsesXMLID(int(ks.et)) {
			if it.XMLID == "" {
				it.XMLID = v
			}
		} else if it.OriginID == "" {
			it.OriginID = v
		}
	}
	if ks.originator != "" && it.OriginatorID == "" && dedup.HasOriginKey(int(ks.et)) {
		it.OriginatorID = ks.originator
	}
	return rw, nil
}

// columnText is the row's value of column name as text; a column that is
// only the key is taken out of the row.
func columnText(it *b24.Item, name string, take bool) (string, error) {
	if v, ok := it.Fields[name]; ok {
		if take {
			delete(it.Fields, name)
		}
		switch x := v.(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(x), nil
		case json.Number:
			return x.String(), nil
		case bool:
			return "", errors.New("is a flag, not an id")
		}
		return "", fmt.Errorf("is not a single value")
	}
	b, err := it.MarshalJSON()
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	switch x := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("is not a single value")
}

// keySample is how many rows the warning about keys looks at.
const keySample = 1000

// warnAboutKeys tells, before the run, that rows without a dedup key can
// be imported twice (by a crash or a second run), and which flags give
// them one. It reads the first rows of the input.
func (imp *importer) warnAboutKeys() {
	et := imp.cfg.entity
	if imp.cfg.file == "-" {
		return // standard input cannot be read twice
	}
	if !dedup.HasOriginKey(int(et)) && !dedup.UsesXMLID(int(et)) {
		fmt.Fprintf(imp.stderr, "b24import: warning: %s items have no dedup key: a crash or a second run can import rows twice\n", et)
		return
	}
	src, _, c, err := imp.openInput(true)
	if err != nil {
		return // the run reports it
	}
	defer c.Close()
	read, keyless := 0, 0
	for read < keySample {
		rw, err := src.next()
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		if rw.err != nil {
			continue
		}
		read++
		if _, ok := dedupKey(et, &rw.item); !ok {
			keyless++
		}
	}
	if keyless == 0 {
		return
	}
	key, fix := "originatorId and originId", "-originator NAME -key-column COLUMN"
	if dedup.UsesXMLID(int(et)) {
		key, fix = "xmlId", "-key-column COLUMN"
	}
	fmt.Fprintf(imp.stderr, "b24import: warning: %d of the first %d rows have no dedup key (%s): a crash or a second run can import them twice, and the portal cannot tell them from copies. "+
		"Give them one with %s (COLUMN: the column that holds each row's id in the system it comes from)\n", keyless, read, key, fix)
}

// actionName is how the journal and the report name an action.
func actionName(a b24.ItemAction) string { return a.String() }
