package b24

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// envelope is the portal's answer: {"result", "total", "next", "time"} or
// {"error", "error_description"}. It is decoded tolerantly (see §4 and §8 of
// the API notes): codes may be numbers, ids strings, sections [] for {}.
type envelope struct {
	Result           json.RawMessage `json:"result"`
	Total            *flexInt        `json:"total"`
	Next             *flexInt        `json:"next"`
	Time             *ResponseTime   `json:"time"`
	Error            flexString      `json:"error"`
	ErrorDescription flexString      `json:"error_description"`
}

// ResponseTime is the "time" block of a portal answer. Operating and
// OperatingResetAt appear only where the portal enforces the operating-time
// limit.
type ResponseTime struct {
	Start      float64 // unix seconds
	Finish     float64 // unix seconds
	Duration   float64 // seconds, finish - start
	Processing float64 // seconds spent in the method
	// Operating is the method's accumulated server time, in seconds, within
	// the portal's window; zero when the portal did not report it.
	Operating float64
	// OperatingResetAt is when the oldest part of that window drops out;
	// zero when not reported.
	OperatingResetAt time.Time
	// HasOperating reports whether the portal sent Operating.
	HasOperating bool
}

// UnmarshalJSON reads the time block, accepting numbers or numeric strings.
func (t *ResponseTime) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil // a malformed time block must not fail the call
	}
	num := func(key string) (float64, bool) {
		v, ok := raw[key]
		if !ok {
			return 0, false
		}
		f, ok := parseFlexFloat(v)
		return f, ok
	}
	t.Start, _ = num("start")
	t.Finish, _ = num("finish")
	t.Duration, _ = num("duration")
	t.Processing, _ = num("processing")
	t.Operating, t.HasOperating = num("operating")
	if r, ok := num("operating_reset_at"); ok && r > 0 {
		sec, frac := math.Modf(r)
		t.OperatingResetAt = time.Unix(int64(sec), int64(frac*1e9))
	}
	return nil
}

// parseFlexFloat reads a JSON number or a string holding one.
func parseFlexFloat(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, false
		}
		v = []byte(strings.TrimSpace(s))
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// flexInt decodes a JSON number, a numeric string, null or "" into an int64.
type flexInt int64

// UnmarshalJSON accepts 12, "12", 12.0, null and "".
func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" || string(b) == `""` {
		*n = 0
		return nil
	}
	f, ok := parseFlexFloat(b)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return fmt.Errorf("b24: %s is not an integer", truncate(string(b), 40))
	}
	*n = flexInt(f)
	return nil
}

// flexString decodes a JSON string or number (error codes come as both).
type flexString string

// UnmarshalJSON accepts "CODE", 100, 0 and null.
func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case b[0] == '{' || b[0] == '[':
		// Not a code; REST 3.0 style objects are not expected on /rest/.
		*s = flexString("unexpected_error_shape")
	default:
		*s = flexString(string(b))
	}
	return nil
}

// decodeEnvelope parses a response body. ok is false when the body is not a
// JSON object at all (an HTML error page from a proxy, a truncated answer).
func decodeEnvelope(body []byte) (env *envelope, ok bool) {
	env = &envelope{}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return env, false
	}
	if err := json.Unmarshal(trimmed, env); err != nil {
		return env, false
	}
	return env, true
}

// isEmptyPHPArray reports whether raw is the PHP empty array, which the
// portal sends as [] where an object is expected.
func isEmptyPHPArray(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "[]"
}

// decodeResult unmarshals raw into out, treating [] as an empty object when
// out is a map or struct.
func decodeResult(raw json.RawMessage, out any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if isEmptyPHPArray(raw) {
		t := reflect.TypeOf(out)
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t != nil && (t.Kind() == reflect.Map || t.Kind() == reflect.Struct) {
			return nil
		}
	}
	return json.Unmarshal(raw, out)
}
