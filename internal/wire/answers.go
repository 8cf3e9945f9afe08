package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ImportAnswer is one entry of crm.item.batchImport's result.items: either
// {"item": {"id": N}} or {"error": CODE, "error_description": TEXT}.
type ImportAnswer struct {
	Item *struct {
		ID FlexInt `json:"id"`
	} `json:"item"`
	Error            FlexString `json:"error"`
	ErrorDescription FlexString `json:"error_description"`
}

// DecodeImportAnswers reads result.items for a call of n rows: a JSON array
// in input order, or an object keyed by position. Rows without an answer
// are nil.
func DecodeImportAnswers(raw json.RawMessage, n int) ([]*ImportAnswer, error) {
	if out, ok := scanImportIDs(raw, n); ok {
		return out, nil
	}
	return decodeImportAnswers(raw, n)
}

// decodeImportAnswers is DecodeImportAnswers through encoding/json, for
// every answer the scan does not take.
func decodeImportAnswers(raw json.RawMessage, n int) ([]*ImportAnswer, error) {
	var res struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	out := make([]*ImportAnswer, n)
	items := bytes.TrimSpace(res.Items)
	switch {
	case len(items) == 0 || string(items) == "null":
		return out, nil
	case items[0] == '[':
		var list []*ImportAnswer
		if err := json.Unmarshal(items, &list); err != nil {
			return nil, err
		}
		copy(out, list)
	case items[0] == '{':
		var m map[string]*ImportAnswer
		if err := json.Unmarshal(items, &m); err != nil {
			return nil, err
		}
		for k, a := range m {
			if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < n {
				out[i] = a
			}
		}
	default:
		return nil, fmt.Errorf("result.items is neither a list nor an object")
	}
	return out, nil
}

// scanImportIDs reads the answer of a call whose rows were all created,
// {"items":[{"item":{"id":N}},...]} with N a plain positive integer and
// nothing else in it, in one pass and two allocations: the common answer,
// which encoding/json would read three times. Anything else (an error
// entry, another member, a numeric string) reports false and is left to
// decodeImportAnswers.
func scanImportIDs(raw []byte, n int) ([]*ImportAnswer, bool) {
	s := answerScanner{b: raw}
	if !s.lit(`{`) || !s.lit(`"items"`) || !s.lit(`:`) || !s.lit(`[`) {
		return nil, false
	}
	ids := make([]struct {
		ID FlexInt `json:"id"`
	}, 0, n)
	if !s.lit(`]`) {
		for {
			if !s.lit(`{`) || !s.lit(`"item"`) || !s.lit(`:`) || !s.lit(`{`) || !s.lit(`"id"`) || !s.lit(`:`) {
				return nil, false
			}
			id, ok := s.id()
			if !ok || !s.lit(`}`) || !s.lit(`}`) {
				return nil, false
			}
			ids = append(ids, struct {
				ID FlexInt `json:"id"`
			}{id})
			if s.lit(`]`) {
				break
			}
			if !s.lit(`,`) {
				return nil, false
			}
		}
	}
	if !s.lit(`}`) || !s.end() {
		return nil, false
	}
	answers := make([]ImportAnswer, min(len(ids), n))
	out := make([]*ImportAnswer, n)
	for i := range answers {
		answers[i].Item = &ids[i]
		out[i] = &answers[i]
	}
	return out, true
}

// answerScanner walks a JSON text token by token, skipping whitespace.
type answerScanner struct {
	b []byte
	i int
}

func (s *answerScanner) skip() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit consumes tok if it comes next.
func (s *answerScanner) lit(tok string) bool {
	s.skip()
	if !bytes.HasPrefix(s.b[s.i:], []byte(tok)) {
		return false
	}
	s.i += len(tok)
	return true
}

// id consumes a positive integer of at most 15 digits (below 2⁵³, as
// FlexInt requires) without a leading zero.
func (s *answerScanner) id() (FlexInt, bool) {
	s.skip()
	start := s.i
	var v int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		v = v*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 15 || s.b[start] == '0' {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	return FlexInt(v), true
}

func (s *answerScanner) end() bool {
	s.skip()
	return s.i == len(s.b)
}

// CommandError is a command's entry in a batch answer's result_error.
type CommandError struct {
	Error            FlexString `json:"error"`
	ErrorDescription FlexString `json:"error_description"`
}

// BatchAnswer is the result member of a batch answer, by command id.
// Sections the portal leaves empty arrive as [] and are read as empty.
type BatchAnswer struct {
	Result      map[string]json.RawMessage
	ResultError map[string]CommandError
	ResultTime  map[string]*ResponseTime
	ResultTotal map[string]FlexInt
	ResultNext  map[string]FlexInt
}

// DecodeBatchAnswer reads the sections of a batch answer's result. A
// section whose command ids are 0..n-1 arrives as a JSON list (PHP's
// json_encode of such an array): its entries are keyed "0", "1", ...
func DecodeBatchAnswer(raw json.RawMessage) (*BatchAnswer, error) {
	return decodeBatchAnswer(raw, json.Valid(raw))
}

// decodeBatchAnswer is DecodeBatchAnswer for raw known to be valid JSON or
// not (an envelope's result is: DecodeEnvelope checked it). The members of
// a valid object are split in place, without decoding them: the results,
// most of an answer, are then read once, by their command's decoder.
func decodeBatchAnswer(raw json.RawMessage, valid bool) (*BatchAnswer, error) {
	var sections map[string]json.RawMessage
	if !valid || !splitObject(raw, func(k, v []byte) {
		if sections == nil {
			sections = make(map[string]json.RawMessage, 5)
		}
		sections[string(k)] = v
	}) {
		sections = nil
		if err := json.Unmarshal(raw, &sections); err != nil {
			return nil, err
		}
	}
	var a BatchAnswer
	res := bytes.TrimSpace(sections["result"])
	split := false
	if valid && len(res) > 0 && res[0] == '{' {
		a.Result = make(map[string]json.RawMessage)
		split = splitObject(res, func(k, v []byte) { a.Result[string(k)] = v })
	}
	if !split {
		a.Result = nil
		if err := decodeSection(res, &a.Result); err != nil {
			return nil, err
		}
	}
	if err := decodeSection(sections["result_error"], &a.ResultError); err != nil {
		return nil, err
	}
	if err := decodeSection(sections["result_time"], &a.ResultTime); err != nil {
		return nil, err
	}
	// Paging hints only: an ill-typed one must not make the results unreadable.
	_ = decodeSection(sections["result_total"], &a.ResultTotal)
	_ = decodeSection(sections["result_next"], &a.ResultNext)
	return &a, nil
}

func decodeSection[T any](sec json.RawMessage, dst *map[string]T) error {
	sec = bytes.TrimSpace(sec)
	if len(sec) == 0 || IsEmptyPHPArray(sec) || string(sec) == "null" {
		return nil
	}
	if sec[0] != '[' {
		return json.Unmarshal(sec, dst)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(sec, &list); err != nil {
		return err
	}
	m := make(map[string]T, len(list))
	for i, el := range list {
		var v T
		if err := json.Unmarshal(el, &v); err != nil {
			return err
		}
		m[strconv.Itoa(i)] = v
	}
	*dst = m
	return nil
}

// splitObject calls fn with each member of raw, a valid JSON object, the
// value as a slice of raw. It reports false, having called fn for none or
// some members, when raw is not an object or a key is not plain: one with
// an escape or with bytes that are not UTF-8 (encoding/json unescapes
// those, or replaces the bytes with U+FFFD). On text that is not valid
// JSON it may call fn with pieces, but it never panics.
func splitObject(raw []byte, fn func(key, val []byte)) bool {
	s := answerScanner{b: raw}
	if !s.lit(`{`) {
		return false
	}
	if s.lit(`}`) {
		return s.end()
	}
	for {
		s.skip()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		end := skipString(s.b, s.i)
		if end < 0 {
			return false
		}
		key := s.b[s.i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return false // encoding/json unescapes it, or replaces bad bytes with U+FFFD
		}
		s.i = end
		if !s.lit(`:`) {
			return false
		}
		s.skip()
		start := s.i
		s.i = skipValue(s.b, s.i)
		fn(key, s.b[start:s.i])
		if s.lit(`}`) {
			return s.end()
		}
		if !s.lit(`,`) {
			return false
		}
	}
}

// skipString returns the index after the string that starts at b[i], a
// quote, or -1 when b ends first.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value that starts at b[i], in
// valid JSON.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			if i = skipString(b, i); i < 0 {
				return len(b)
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}
