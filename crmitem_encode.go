package b24

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// encode writes the item to s as the flat object crm.item.import reads:
// typed fields in declaration order, then the multifields, parentId{N}
// keys by N, then Fields by key. On error dst comes back as it was.
func (it *Item) encode(s valueSink, dst []byte) ([]byte, error) {
	start := len(dst)
	dst = s.openObject(dst)
	n := 0 // members written
	var err error
	for i := range itemFields {
		f := &itemFields[i]
		var written bool
		if dst, written, err = f.kind.encode(s, dst, it, member{f.wire, n}); err != nil {
			return dst[:start], fmt.Errorf("b24: item field %s: %w", f.wire, err)
		}
		if written {
			n++
		}
	}
	for _, mk := range multifieldKeys {
		list := *mk.get(it)
		if len(list) == 0 {
			continue
		}
		if dst, err = encodeMultifields(s, s.name(dst, n, mk.wire), list); err != nil {
			return dst[:start], fmt.Errorf("b24: item field %s: %w", mk.wire, err)
		}
		n++
	}
	if len(it.Parents) > 0 {
		var pbuf [8]EntityTypeID // most items have a parent or two
		parents := pbuf[:0]
		for et, id := range it.Parents {
			if id != 0 {
				parents = append(parents, et)
			}
		}
		slices.Sort(parents)
		for _, et := range parents {
			dst = s.integer(s.numberedName(dst, n, "parentId", int64(et)), it.Parents[et])
			n++
		}
	}
	if len(it.Fields) > 0 {
		var kbuf [16]string
		keys := kbuf[:0]
		for k := range it.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w := valueWalker{sink: s}
		for _, k := range keys {
			if dst, err = s.key(dst, n, k); err == nil {
				dst, err = w.walk(dst, it.Fields[k], 0)
			}
			if err != nil {
				return dst[:start], fieldError(k, err)
			}
			n++
		}
	}
	return s.closeObject(dst), nil
}

// encodeMultifields writes a multifield list as the import reads it:
// [{"VALUE": ..., "VALUE_TYPE": ...}, ...].
func encodeMultifields(s valueSink, dst []byte, list []Multifield) ([]byte, error) {
	var err error
	dst = s.openList(dst)
	for j, m := range list {
		if dst, err = encodeMultifield(s, s.element(dst, j), m); err != nil {
			return dst, err
		}
	}
	return s.closeList(dst), nil
}

// encodeMultifield writes one entry of a multifield list.
func encodeMultifield(s valueSink, dst []byte, m Multifield) ([]byte, error) {
	dst, err := s.text(s.name(s.openObject(dst), 0, "VALUE"), m.Value)
	if err == nil {
		dst, err = s.text(s.name(dst, 1, "VALUE_TYPE"), m.ValueType)
	}
	return s.closeObject(dst), err
}

// fieldError reports a Fields value that cannot be encoded, with the place
// inside it.
func fieldError(k string, err error) error {
	var ve *valueError
	if errors.As(err, &ve) {
		return fmt.Errorf("b24: item field %s: %s", quoteName(k+ve.path), ve.problem)
	}
	return fmt.Errorf("b24: item field %s: %w", quoteName(k), err)
}

// maxValueDepth bounds the nesting of Fields values (and catches cycles).
const maxValueDepth = 32

// valueError is what is wrong with a Fields value, and where inside it.
type valueError struct {
	path    string // "[2].name"; "" for the value itself
	problem string
}

func (e *valueError) Error() string {
	if e.path == "" {
		return e.problem
	}
	return e.path + ": " + e.problem
}

func problemf(format string, args ...any) error {
	return &valueError{problem: fmt.Sprintf(format, args...)}
}

// within puts a problem found in a part of a value under that part's path
// segment ("[2]", ".name"); other errors (a sink's refusal) pass as they
// are.
func within(err error, segment string) error {
	if ve, ok := err.(*valueError); ok {
		ve.path = segment + ve.path
	}
	return err
}

// valueWalker is the one place that knows the Go types a Fields value may
// hold: for each it says what is refused and how it is written to the
// sink. Encoding walks with a writing sink and refuses only what cannot be
// written; validation walks with the discard sink and refuses, besides,
// what the portal would store wrongly.
type valueWalker struct {
	sink valueSink
	// validate refuses, besides: text that is not UTF-8 (encoding sends
	// U+FFFD), Y/N flags other than Y and N, files without a valid name;
	// other types are looked into by reflection instead of being encoded.
	validate bool
}

// walk writes v, found at the given nesting depth, to the sink. A refusal
// is a *valueError; a sink's own refusal comes back unchanged.
func (w valueWalker) walk(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return dst, &valueError{problem: "nested too deeply"}
	}
	s := w.sink
	var err error
	switch x := v.(type) {
	case nil, clearValue:
		return s.null(dst), nil
	case string:
		return w.text(dst, x)
	case bool:
		return s.boolean(dst, x), nil
	case int:
		return s.integer(dst, int64(x)), nil
	case int64:
		return s.integer(dst, x), nil
	case int32:
		return s.integer(dst, int64(x)), nil
	case uint64:
		return s.unsigned(dst, x), nil
	case float64:
		return w.float(dst, x, 64)
	case float32:
		return w.float(dst, float64(x), 32)
	case json.Number:
		if !isJSONNumber(string(x)) {
			return dst, problemf("%s is not a number", quoteName(string(x)))
		}
		return s.number(dst, x), nil
	case json.RawMessage:
		return w.raw(dst, x)
	case YesNo:
		if w.validate {
			if p := badYesNo(x); p != "" {
				return dst, &valueError{problem: p}
			}
		}
		return s.text(dst, string(x))
	case Date:
		if x.IsZero() {
			return s.text(dst, "")
		}
		if p := badDate(x); p != "" {
			return dst, &valueError{problem: p}
		}
		return s.date(dst, x), nil
	case time.Time:
		if x.IsZero() {
			return s.text(dst, "")
		}
		if p := badTime(x); p != "" {
			return dst, &valueError{problem: p}
		}
		return s.time(dst, x), nil
	case File:
		return w.file(dst, &x)
	case *File:
		if x == nil {
			return s.null(dst), nil
		}
		return w.file(dst, x)
	case []File:
		dst = s.openList(dst)
		for i := range x {
			if dst, err = w.file(s.element(dst, i), &x[i]); err != nil {
				return dst, within(err, pathIndex(i))
			}
		}
		return s.closeList(dst), nil
	case []string:
		dst = s.openList(dst)
		for i, e := range x {
			if dst, err = w.text(s.element(dst, i), e); err != nil {
				return dst, within(err, pathIndex(i))
			}
		}
		return s.closeList(dst), nil
	case []int64:
		dst = s.openList(dst)
		for i, n := range x {
			dst = s.integer(s.element(dst, i), n)
		}
		return s.closeList(dst), nil
	case []any:
		dst = s.openList(dst)
		for i, e := range x {
			if dst, err = w.walk(s.element(dst, i), e, depth+1); err != nil {
				return dst, within(err, pathIndex(i))
			}
		}
		return s.closeList(dst), nil
	case map[string]any:
		return w.object(dst, x, depth)
	}
	return w.other(dst, v, depth)
}

// pathIndex is the path segment of element i.
func pathIndex(i int) string { return "[" + strconv.Itoa(i) + "]" }

func (w valueWalker) text(dst []byte, s string) ([]byte, error) {
	if w.validate {
		if p := badString(s); p != "" {
			return dst, &valueError{problem: p}
		}
	}
	return w.sink.text(dst, s)
}

func (w valueWalker) float(dst []byte, x float64, bits int) ([]byte, error) {
	if p := badFloat(x); p != "" {
		return dst, &valueError{problem: p}
	}
	return w.sink.float(dst, x, bits), nil
}

// raw writes a json.RawMessage compacted. Validation checks the text only.
func (w valueWalker) raw(dst []byte, r json.RawMessage) ([]byte, error) {
	if w.validate {
		if !json.Valid(r) || !utf8.Valid(r) {
			return dst, &valueError{problem: "raw JSON is not valid UTF-8 JSON"}
		}
		return dst, nil
	}
	compact, err := compactJSON(r)
	if err != nil {
		return dst, problemf("raw JSON is not valid: %v", err)
	}
	return w.sink.encoded(dst, compact)
}

// file writes f as the pair the portal reads: ["name", "<base64>"].
func (w valueWalker) file(dst []byte, f *File) ([]byte, error) {
	if w.validate {
		if p := badFile(f); p != "" {
			return dst, &valueError{problem: p}
		}
	}
	s := w.sink
	dst, err := s.text(s.element(s.openList(dst), 0), f.Name)
	if err != nil {
		return dst, err
	}
	return s.closeList(s.base64(s.element(dst, 1), f.Content)), nil
}

// object writes a map's members in key order, so that the output, and the
// problem validation reports, do not depend on map order.
func (w valueWalker) object(dst []byte, m map[string]any, depth int) ([]byte, error) {
	var kbuf [16]string
	keys := kbuf[:0]
	for k := range m {
		if w.validate && !utf8.ValidString(k) {
			return dst, &valueError{problem: "a key is not valid UTF-8"}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := w.sink
	var err error
	dst = s.openObject(dst)
	for i, k := range keys {
		if dst, err = s.key(dst, i, k); err == nil {
			dst, err = w.walk(dst, m[k], depth+1)
		}
		if err != nil {
			return dst, within(err, "."+k)
		}
	}
	return s.closeObject(dst), nil
}

// other handles the types walk does not list: encoding hands them to
// encoding/json, validation looks into them ([checkReflect]).
func (w valueWalker) other(dst []byte, v any, depth int) ([]byte, error) {
	if w.validate {
		if path, problem := checkReflect(reflect.ValueOf(v), depth); problem != "" {
			return dst, &valueError{path: path, problem: problem}
		}
		return dst, nil
	}
	if p := unsendableKind(reflect.TypeOf(v)); p != "" {
		return dst, &valueError{problem: p}
	}
	js, err := json.Marshal(v)
	if err != nil {
		return dst, &valueError{problem: "cannot be encoded: " + err.Error()}
	}
	return w.sink.encoded(dst, js)
}

// unsendableKind names the kinds JSON cannot carry, or returns "". A type
// that marshals itself is judged by what it writes.
func unsendableKind(t reflect.Type) string {
	if isMarshaler(t) {
		return ""
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Sprintf("values of type %s cannot be sent", t)
	}
	return ""
}
