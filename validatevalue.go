package b24

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// checkValue looks through a Fields value for what cannot be sent. It
// returns where the problem is (e.g. "[2].name") and what it is, or "", "".
func checkValue(val any, depth int) (path, problem string) {
	if depth > maxValueDepth {
		return "", "nested too deeply"
	}
	switch x := val.(type) {
	case nil, bool, int, int64, int32, uint64:
		return "", ""
	case string:
		return "", badString(x)
	case float64:
		return "", badFloat(x)
	case float32:
		return "", badFloat(float64(x))
	case json.Number:
		if !isJSONNumber(string(x)) {
			return "", quoteName(string(x)) + " is not a number"
		}
		return "", ""
	case json.RawMessage:
		if !json.Valid(x) || !utf8.Valid(x) {
			return "", "raw JSON is not valid UTF-8 JSON"
		}
		return "", ""
	case YesNo:
		if x != "" && x != Yes && x != No {
			return "", quoteName(string(x)) + ` is not "Y" or "N"`
		}
		return "", ""
	case Date:
		if !x.IsZero() && !x.IsValid() {
			return "", fmt.Sprintf("%d-%02d-%02d is not a calendar date", x.Year, int(x.Month), x.Day)
		}
		return "", ""
	case time.Time:
		if !x.IsZero() && (x.Year() < 1 || x.Year() > 9999) {
			return "", fmt.Sprintf("year %d is out of range", x.Year())
		}
		return "", ""
	case File:
		return "", badFile(&x)
	case *File:
		if x == nil {
			return "", ""
		}
		return "", badFile(x)
	case []File:
		for i := range x {
			if p := badFile(&x[i]); p != "" {
				return "[" + strconv.Itoa(i) + "]", p
			}
		}
		return "", ""
	case []string:
		for i, s := range x {
			if p := badString(s); p != "" {
				return "[" + strconv.Itoa(i) + "]", p
			}
		}
		return "", ""
	case []int64:
		return "", ""
	case []any:
		for i, e := range x {
			if p, prob := checkValue(e, depth+1); prob != "" {
				return "[" + strconv.Itoa(i) + "]" + p, prob
			}
		}
		return "", ""
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) {
				return "", "a key is not valid UTF-8"
			}
			if p, prob := checkValue(e, depth+1); prob != "" {
				return "." + k + p, prob
			}
		}
		return "", ""
	}
	return checkReflect(reflect.ValueOf(val), depth)
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// checkReflect handles the types checkValue does not list.
func checkReflect(rv reflect.Value, depth int) (path, problem string) {
	if depth > maxValueDepth {
		return "", "nested too deeply"
	}
	if !rv.IsValid() {
		return "", ""
	}
	if rv.Type().Implements(marshalerType) {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return "", ""
		}
		if _, err := json.Marshal(rv.Interface()); err != nil {
			return "", "cannot be encoded: " + err.Error()
		}
		return "", ""
	}
	switch rv.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return "", fmt.Sprintf("values of type %s cannot be sent", rv.Type())
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
				return "[" + strconv.Itoa(i) + "]" + p, prob
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

func badFile(f *File) string {
	switch {
	case f.Name == "":
		return "file without a name"
	case !utf8.ValidString(f.Name):
		return "file name is not valid UTF-8"
	}
	return ""
}
