package b24

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// checkValue looks through a Fields value for what cannot be sent or what
// the portal would store wrongly, with the walker that encodes it (see
// [valueWalker]). It returns where the problem is (e.g. "[2].name") and
// what it is, or "", "".
func checkValue(val any, depth int) (path, problem string) {
	_, err := valueWalker{sink: valueSink{discardSink{}}, validate: true}.walk(nil, val, depth)
	if ve, ok := err.(*valueError); ok {
		return ve.path, ve.problem
	}
	if err != nil {
		return "", err.Error() // the discard sink refuses nothing; kept for safety
	}
	return "", ""
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// isMarshaler reports whether encoding/json asks t for its own encoding.
func isMarshaler(t reflect.Type) bool {
	return t.Implements(marshalerType) || t.Implements(textMarshalerType)
}

// checkReflect looks into the types the walker does not list, as
// encoding/json would see them: a marshaller is asked for its encoding,
// anything else is looked into field by field.
func checkReflect(rv reflect.Value, depth int) (path, problem string) {
	if depth > maxValueDepth {
		return "", "nested too deeply"
	}
	if !rv.IsValid() {
		return "", ""
	}
	if isMarshaler(rv.Type()) {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return "", ""
		}
		if _, err := json.Marshal(rv.Interface()); err != nil {
			return "", "cannot be encoded: " + err.Error()
		}
		return "", ""
	}
	if p := unsendableKind(rv.Type()); p != "" {
		return "", p
	}
	switch rv.Kind() {
	case reflect.String:
		return "", badString(rv.String())
	case reflect.Float32, reflect.Float64:
		return "", badFloat(rv.Float())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "", ""
		}
		return checkReflect(rv.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return "", "" // []byte is sent as base64
		}
		for i := 0; i < rv.Len(); i++ {
			if p, prob := checkReflect(rv.Index(i), depth+1); prob != "" {
				return pathIndex(i) + p, prob
			}
		}
	case reflect.Map:
		switch rv.Type().Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return "", fmt.Sprintf("maps with %s keys cannot be sent", rv.Type().Key())
		}
		it := rv.MapRange()
		for it.Next() {
			if it.Key().Kind() == reflect.String && !utf8.ValidString(it.Key().String()) {
				return "", "a key is not valid UTF-8"
			}
			if p, prob := checkReflect(it.Value(), depth+1); prob != "" {
				return "." + fmt.Sprint(it.Key().Interface()) + p, prob
			}
		}
	case reflect.Struct:
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() || t.Field(i).Tag.Get("json") == "-" {
				continue
			}
			if p, prob := checkReflect(rv.Field(i), depth+1); prob != "" {
				return "." + t.Field(i).Name + p, prob
			}
		}
	}
	return "", ""
}

// The problems below are shared by the typed fields and the walker, so a
// value is judged alike wherever it is put.

func badString(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		// PHP and the database cut the string there or refuse it.
		return "holds a NUL byte (U+0000), which the portal cuts the text at or refuses"
	}
	return ""
}

func badFloat(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Sprintf("%v is not a number the portal can store", x)
	}
	return ""
}

func badYesNo(y YesNo) string {
	if y != "" && y != Yes && y != No {
		return quoteName(string(y)) + ` is not "Y" or "N"`
	}
	return ""
}

// badDate judges a date that is set.
func badDate(d Date) string {
	if !d.IsValid() {
		return fmt.Sprintf("%d-%02d-%02d is not a calendar date", d.Year, int(d.Month), d.Day)
	}
	return ""
}

// badTime judges a time that is set.
func badTime(t time.Time) string {
	if y := t.Year(); y < 1 || y > 9999 {
		return "year " + strconv.Itoa(y) + " is out of range"
	}
	return ""
}

func badFile(f *File) string {
	switch {
	case f.Name == "":
		return "file without a name"
	case !utf8.ValidString(f.Name):
		return "file name is not valid UTF-8"
	}
	return ""
}

// discardSink writes nothing: validation walks values with it.
type discardSink struct{}

func (discardSink) null(dst []byte) []byte                          { return dst }
func (discardSink) boolean(dst []byte, _ bool) []byte               { return dst }
func (discardSink) integer(dst []byte, _ int64) []byte              { return dst }
func (discardSink) unsigned(dst []byte, _ uint64) []byte            { return dst }
func (discardSink) float(dst []byte, _ float64, _ int) []byte       { return dst }
func (discardSink) number(dst []byte, _ json.Number) []byte         { return dst }
func (discardSink) text(dst []byte, _ string) ([]byte, error)       { return dst, nil }
func (discardSink) date(dst []byte, _ Date) []byte                  { return dst }
func (discardSink) time(dst []byte, _ time.Time) []byte             { return dst }
func (discardSink) base64(dst []byte, _ []byte) []byte              { return dst }
func (discardSink) encoded(dst []byte, _ []byte) ([]byte, error)    { return dst, nil }
func (discardSink) openList(dst []byte) []byte                      { return dst }
func (discardSink) element(dst []byte, _ int) []byte                { return dst }
func (discardSink) closeList(dst []byte) []byte                     { return dst }
func (discardSink) openObject(dst []byte) []byte                    { return dst }
func (discardSink) key(dst []byte, _ int, _ string) ([]byte, error) { return dst, nil }
func (discardSink) name(dst []byte, _ int, _ string) []byte         { return dst }
func (discardSink) numberedName(dst []byte, _ int, _ string, _ int64) []byte {
	return dst
}
func (discardSink) closeObject(dst []byte) []byte { return dst }
