package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sections); err != nil {
		return nil, err
	}
	var a BatchAnswer
	if err := decodeSection(sections["result"], &a.Result); err != nil {
		return nil, err
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
