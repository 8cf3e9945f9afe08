// Package wire decodes the portal's answers: the envelope every REST method
// answers with, its time block, the per-item answers of
// crm.item.batchImport and the sections of batch. Decoding is tolerant of
// the portal's quirks: codes arrive as numbers or strings, ids as numeric
// strings, empty sections as [] where an object is expected.
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Envelope is the portal's answer: {"result", "total", "next", "time"} or
// {"error", "error_description"}.
type Envelope struct {
	Result           json.RawMessage `json:"result"`
	Total            *FlexInt        `json:"total"`
	Next             *FlexInt        `json:"next"`
	Time             *ResponseTime   `json:"time"`
	Error            FlexString      `json:"error"`
	ErrorDescription FlexString      `json:"error_description"`

	batch    *BatchAnswer // Result decoded as a batch answer, once
	batchErr error
	decoded  bool
	valid    bool // Result was checked as JSON with the rest (DecodeEnvelope)
}

// Batch returns Result decoded as the answer of a batch request. It
// decodes once, however often it is asked (the budget's report, the
// refusal check and the caller all read it); not safe for concurrent use.
func (e *Envelope) Batch() (*BatchAnswer, error) {
	if !e.decoded {
		e.batch, e.batchErr = decodeBatchAnswer(e.Result, e.valid || json.Valid(e.Result))
		e.decoded = true
	}
	return e.batch, e.batchErr
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

// Bounds of the readings a time block is believed in. A reading outside
// them (1e308 seconds, a negative duration, a stamp of another millennium)
// comes from a broken or hostile portal, and pacing on it would hold a
// method for ever: it is read as not reported.
const (
	// minStamp and maxStamp bound the stamps (unix seconds): 2000-01-01
	// to 2100-01-01.
	minStamp, maxStamp = 946684800, 4102444800
	// maxCallSeconds bounds one call's duration and processing time.
	maxCallSeconds = 3600
	// maxOperatingSeconds bounds the operating reading: a method's server
	// time within the portal's window (10 minutes in the cloud).
	maxOperatingSeconds = 86400
)

// UnmarshalJSON reads the time block, accepting numbers or numeric strings.
// A malformed block decodes as empty: it must not fail the call. Readings
// out of range (see maxCallSeconds and its neighbours) read as not
// reported.
func (t *ResponseTime) UnmarshalJSON(b []byte) error {
	// The members are split in place; a key with an escape sends the block
	// through a map, as encoding/json reads it.
	var members [len(timeMembers)]json.RawMessage
	var seen [len(timeMembers)]bool
	if !json.Valid(b) || !splitObject(b, func(key, v []byte) {
		for i, name := range timeMembers {
			if string(key) == name {
				members[i], seen[i] = v, true
			}
		}
	}) {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil
		}
		for i, name := range timeMembers {
			members[i], seen[i] = raw[name]
		}
	}
	num := func(key string, lo, hi float64) (float64, bool) {
		i := slices.Index(timeMembers[:], key)
		if !seen[i] {
			return 0, false
		}
		f, ok := ParseFlexFloat(members[i])
		if !ok || f < lo || f > hi {
			return 0, false
		}
		return f, true
	}
	t.Start, _ = num("start", minStamp, maxStamp)
	t.Finish, _ = num("finish", minStamp, maxStamp)
	t.Duration, _ = num("duration", 0, maxCallSeconds)
	t.Processing, _ = num("processing", 0, maxCallSeconds)
	t.Operating, t.HasOperating = num("operating", 0, maxOperatingSeconds)
	if r, ok := num("operating_reset_at", minStamp, maxStamp); ok {
		sec, frac := math.Modf(r)
		t.OperatingResetAt = time.Unix(int64(sec), int64(frac*1e9))
	}
	return nil
}

// timeMembers are the members of a time block that ResponseTime reads.
var timeMembers = [...]string{"start", "finish", "duration", "processing", "operating", "operating_reset_at"}

// ParseFlexFloat reads a JSON number or a string holding one; NaN and ±Inf
// are refused.
func ParseFlexFloat(v json.RawMessage) (float64, bool) {
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

// FlexInt decodes a JSON number, a numeric string, null or "" into an int64.
type FlexInt int64

// UnmarshalJSON accepts 12, "12", 12.0, null and "".
func (n *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" || string(b) == `""` {
		*n = 0
		return nil
	}
	f, ok := ParseFlexFloat(b)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return fmt.Errorf("b24: %s is not an integer", Truncate(string(b), 40))
	}
	*n = FlexInt(f)
	return nil
}

// FlexString decodes a JSON string or number (error codes come as both).
type FlexString string

// UnmarshalJSON accepts "CODE", 100, 0 and null.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = FlexString(v)
	case b[0] == '{' || b[0] == '[':
		// Not a code; REST 3.0 style objects are not expected on /rest/.
		*s = FlexString("unexpected_error_shape")
	default:
		*s = FlexString(string(b))
	}
	return nil
}

// DecodeEnvelope parses a response body. ok is false when the body is not a
// JSON object at all (an HTML error page from a proxy, a truncated answer).
func DecodeEnvelope(body []byte) (env *Envelope, ok bool) {
	env = &Envelope{}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return env, false
	}
	if !json.Valid(trimmed) {
		return env, false
	}
	if !env.split(trimmed) {
		*env = Envelope{}
		if err := json.Unmarshal(trimmed, env); err != nil {
			return env, false
		}
	}
	env.valid = true
	return env, true
}

// split reads the envelope's members from body, valid JSON, leaving result
// where it lies (most of an answer: read once, by its own decoder, instead
// of copied). It reports false for what it leaves to encoding/json: a key
// with an escape or in other letter case, a null, a member that does not
// decode.
func (e *Envelope) split(body []byte) bool {
	ok := true
	fine := splitObject(body, func(key, v []byte) {
		var err error
		switch string(key) {
		case "result":
			e.Result = v
		case "total", "next":
			var n FlexInt
			if err = n.UnmarshalJSON(v); err == nil && string(key) == "total" {
				e.Total = &n
			} else if err == nil {
				e.Next = &n
			}
		case "time":
			e.Time = &ResponseTime{}
			err = e.Time.UnmarshalJSON(v)
		case "error":
			err = e.Error.UnmarshalJSON(v)
		case "error_description":
			err = e.ErrorDescription.UnmarshalJSON(v)
		default:
			for _, name := range envelopeMembers {
				if bytes.EqualFold(key, []byte(name)) {
					ok = false // encoding/json would take it as that member
				}
			}
			return
		}
		if err != nil || string(v) == "null" {
			ok = false
		}
	})
	return fine && ok
}

// envelopeMembers are the members an Envelope reads.
var envelopeMembers = [...]string{"result", "total", "next", "time", "error", "error_description"}

// IsEmptyPHPArray reports whether raw is the PHP empty array, which the
// portal sends as [] where an object is expected.
func IsEmptyPHPArray(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "[]"
}

// DecodeResult unmarshals raw into out, treating [] as an empty object when
// out is a map or struct.
func DecodeResult(raw json.RawMessage, out any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if IsEmptyPHPArray(raw) {
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

// Truncate cuts s to n bytes, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
