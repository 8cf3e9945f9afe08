package b24test

import (
	"github.com/b24kit/b24/internal/phpquery"

	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// maxBatchLength is the portal's BATCH_MAX_LENGTH.
const maxBatchLength = 50

// orderedMap is a PHP array on its way to JSON: [] when empty, a JSON array
// when its keys are 0..n-1 in order, else an object in key order.
type orderedMap struct {
	keys []string
	vals map[string]any
}

func newOrderedMap() *orderedMap { return &orderedMap{vals: make(map[string]any)} }

func (m *orderedMap) set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

// MarshalJSON encodes m as PHP's json_encode would.
func (m orderedMap) MarshalJSON() ([]byte, error) {
	list := true
	for i, k := range m.keys {
		if k != strconv.Itoa(i) {
			list = false
			break
		}
	}
	var b bytes.Buffer
	if list {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if !list {
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
		}
		vb, err := json.Marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	if list {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// phpTrue is PHP's (bool) cast: "", "0", 0, false, null and [] are false,
// everything else (including the string "false") is true.
func phpTrue(v any) bool { return !isEmpty(v) }

func handleBatch(x *exchange, p map[string]any) outcome {
	x.inBatch = true
	defer func() { x.inBatch = false }()
	var keys []string
	var cmds map[string]any
	cv, _ := param(p, "cmd")
	switch c := cv.(type) {
	case []any:
		cmds = make(map[string]any, len(c))
		for i, v := range c {
			k := strconv.Itoa(i)
			keys = append(keys, k)
			cmds[k] = v
		}
	case map[string]any:
		cmds, keys = c, x.req.orderedKeys("cmd", c)
	}
	hv, _ := param(p, "halt")
	halt := phpTrue(hv)

	res, errs, totals, nexts, times := newOrderedMap(), newOrderedMap(), newOrderedMap(), newOrderedMap(), newOrderedMap()
	items := 0
	for i, key := range keys {
		if i >= maxBatchLength {
			errs.set(key, errorBody("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded"))
			continue
		}
		line, ok := cmds[key].(string)
		if !ok {
			continue // non-string commands are skipped silently
		}
		method, query, _ := strings.Cut(line, "?")
		method = strings.TrimSpace(method)
		method = strings.TrimSuffix(method, ".json")
		params, _ := phpquery.Parse(query)
		substitute(params, res, errs, totals, nexts)

		start, sim0 := time.Now(), x.simulated
		var out outcome
		var op *opInfo
		if f := x.s.takeFault(FaultRefuse, method); f != nil {
			out.err = f.refusal()
		} else {
			if x.s.takeFault(FaultDropAfterExecute, method) != nil {
				x.drop = true
			}
			out, op = x.call(method, params, true)
		}
		if x.cut {
			break
		}
		items += out.items
		if out.err != nil {
			errs.set(key, errorBody(out.err.code, out.err.desc))
			if halt {
				break
			}
			continue
		}
		// As on the portal, only a command that succeeded has a time entry
		// (a refused or failed one has none: result_time is [] when no
		// command succeeded).
		res.set(key, out.result)
		times.set(key, newTimeBlock(start, time.Since(start)+x.simulated-sim0, op))
		if out.hasTotal {
			totals.set(key, out.total)
		}
		if out.hasNext {
			nexts.set(key, out.next)
		}
	}
	return outcome{items: items, result: batchSections{res, errs, totals, nexts, times}}
}

// batchSections is the result of batch, its sections in the portal's order.
type batchSections struct {
	Result      *orderedMap `json:"result"`
	ResultError *orderedMap `json:"result_error"`
	ResultTotal *orderedMap `json:"result_total"`
	ResultNext  *orderedMap `json:"result_next"`
	ResultTime  *orderedMap `json:"result_time"`
}

func errorBody(code any, desc string) map[string]any {
	return map[string]any{"error": code, "error_description": desc}
}

// substitute replaces $result[cmd][path], $total[cmd], $next[cmd] and
// $error[cmd][...] references in string values with what earlier commands
// returned; references to missing values stay as they are.
func substitute(p map[string]any, res, errs, totals, nexts *orderedMap) {
	for k, v := range p {
		switch t := v.(type) {
		case string:
			if strings.IndexByte(t, '$') >= 0 {
				p[k] = substituteString(t, res, errs, totals, nexts)
			}
		case map[string]any:
			substitute(t, res, errs, totals, nexts)
		case []any:
			for i, e := range t {
				if s, ok := e.(string); ok && strings.IndexByte(s, '$') >= 0 {
					t[i] = substituteString(s, res, errs, totals, nexts)
				} else if m, ok := e.(map[string]any); ok {
					substitute(m, res, errs, totals, nexts)
				}
			}
		}
	}
}

func substituteString(s string, res, errs, totals, nexts *orderedMap) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		name := s[1:]
		if j := strings.IndexByte(name, '['); j > 0 {
			name = name[:j]
		}
		var src *orderedMap
		switch name {
		case "result":
			src = res
		case "error":
			src = errs
		case "total":
			src = totals
		case "next":
			src = nexts
		}
		rest := s[1+len(name):]
		var path []string
		for strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				break
			}
			path = append(path, rest[1:end])
			rest = rest[end+1:]
		}
		if v, ok := lookupPath(src, path); ok && src != nil {
			b.WriteString(v)
			s = rest
			continue
		}
		b.WriteByte('$')
		s = s[1:]
	}
}

// lookupPath follows path through a batch section to a scalar.
func lookupPath(src *orderedMap, path []string) (string, bool) {
	if src == nil || len(path) == 0 {
		return "", false
	}
	cur, ok := src.vals[path[0]]
	if !ok {
		return "", false
	}
	for _, seg := range path[1:] {
		switch t := cur.(type) {
		case map[string]any:
			if cur, ok = t[seg]; !ok {
				return "", false
			}
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(t) {
				return "", false
			}
			cur = t[n]
		case orderedMap:
			if cur, ok = t.vals[seg]; !ok {
				return "", false
			}
		default:
			return "", false
		}
	}
	switch t := cur.(type) {
	case map[string]any, []any, orderedMap, *orderedMap:
		return "", false
	case int64:
		return strconv.FormatInt(t, 10), true
	default:
		return stringValue(t), true
	}
}
