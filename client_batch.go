package b24

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/b24kit/b24/internal/phpquery"
	"github.com/b24kit/b24/internal/wire"
)

// Meta is what an answer carries besides its result: the paging hints of
// list methods and the time block.
type Meta struct {
	// Total is the number of items a list method matched (the answer's
	// "total"); HasTotal is false when the answer has none (start -1).
	Total    int
	HasTotal bool
	// Next is the start of the following page ("next"); 0 when there is
	// none.
	Next int
	// Time is the answer's time block; nil when it had none.
	Time *ResponseTime
}

// CallMeta is [Client.Call] that also returns the envelope's total, next
// and time block, which list methods page with.
//
// API docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/list-methods-pecularities.html
func (c *Client) CallMeta(ctx context.Context, method string, params, result any) (Meta, error) {
	if ctx == nil {
		return Meta{}, invalidInput("CallMeta: nil context")
	}
	if result != nil {
		if rv := reflect.ValueOf(result); rv.Kind() != reflect.Pointer || rv.IsNil() {
			return Meta{}, invalidInput("CallMeta: result must be nil or a non-nil pointer, got %T", result)
		}
	}
	req, err := newRequest(method, params)
	if err != nil {
		return Meta{}, err
	}
	env, err := c.do(ctx, req)
	if err != nil {
		return Meta{}, err
	}
	m := metaOf(env)
	if result != nil {
		if err := wire.DecodeResult(env.Result, result); err != nil {
			return m, fmt.Errorf("b24: %s: decoding result: %w", method, err)
		}
	}
	return m, nil
}

func metaOf(env *wire.Envelope) Meta {
	m := Meta{Time: env.Time}
	if env.Total != nil {
		m.Total, m.HasTotal = int(*env.Total), true
	}
	if env.Next != nil {
		m.Next = int(*env.Next)
	}
	return m
}

// BatchCommand is one command of a [Client.Batch] request.
type BatchCommand struct {
	// ID names the command in the answer and in $result[ID] references
	// of later commands; "" names it "c" and its position ("c0", "c1",
	// ...). IDs are letters, digits and _, and not all digits (the portal
	// would turn the answer's sections into lists).
	ID     string
	Method string
	// Params are the method's parameters, anything that marshals to a
	// JSON object (nil: none). They travel in PHP bracket form: booleans
	// become "Y"/"N", null an empty value, and empty lists and objects
	// are left out. Text holding $result[ID][...] (or $next, $total,
	// $error, $time) is replaced by the portal with what the earlier
	// command returned.
	Params any
}

// BatchCommandResult is what became of one command of a batch.
type BatchCommandResult struct {
	ID string
	// Result is the command's result; nil when it failed or did not run.
	Result json.RawMessage
	// Err is an *APIError (StatusCode 200) when the portal refused the
	// command, an error matching [ErrNotRun] when an earlier failure
	// stopped the batch (WithHalt), and one matching [ErrOutcomeUnknown]
	// when the answer says nothing about it.
	Err error
	// Meta holds the command's total, next and time block.
	Meta
}

// Decode unmarshals the command's result into v, reading [] as an empty
// object. It returns the command's error if it has one.
func (r BatchCommandResult) Decode(v any) error {
	if r.Err != nil {
		return r.Err
	}
	return wire.DecodeResult(r.Result, v)
}

// BatchOption configures one [Client.Batch] request.
type BatchOption func(*batchConfig)

type batchConfig struct{ halt bool }

// WithHalt stops the batch at the first command that fails (halt=1): the
// commands after it do not run and report [ErrNotRun].
func WithHalt() BatchOption { return func(c *batchConfig) { c.halt = true } }

// Batch runs up to 50 commands in one batch request, which costs a single
// unit of the portal's request bucket. The request is paced like an
// import's packed requests: it waits for the rate limiter and draws on the
// operating budget of the method most of its commands call, weighing as
// many calls as it carries. A batch of reads only (get, list, fields, ...)
// is asked again when its answer is lost; one with a write is not, and
// fails with an error matching [ErrOutcomeUnknown].
//
// The error is non-nil only when the request as a whole failed; each
// command's outcome is in its result, in the order of cmds. Every section
// of the answer is read tolerantly (the portal sends [] for empty ones).
//
// API docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/batch.html
func (c *Client) Batch(ctx context.Context, cmds []BatchCommand, opts ...BatchOption) ([]BatchCommandResult, error) {
	if ctx == nil {
		return nil, invalidInput("Batch: nil context")
	}
	var cfg batchConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if len(cmds) > maxBatchCommands {
		return nil, invalidInput("Batch: %d commands; a batch runs at most %d", len(cmds), maxBatchCommands)
	}
	lines := make([]batchLine, len(cmds))
	seen := make(map[string]bool, len(cmds))
	for i, cmd := range cmds {
		id := cmd.ID
		if id == "" {
			id = "c" + strconv.Itoa(i)
		}
		if !isCommandID(id) {
			return nil, invalidInput("Batch: command id %s: want letters, digits and _, not all digits", quoteName(id))
		}
		if seen[id] {
			return nil, invalidInput("Batch: command id %s is used twice", quoteName(id))
		}
		seen[id] = true
		if err := checkMethod(cmd.Method); err != nil {
			return nil, err
		}
		if lowerASCII(cmd.Method) == "batch" {
			return nil, invalidInput("Batch: a batch cannot run batch")
		}
		line, err := encodeCommand(cmd.Method, cmd.Params)
		if err != nil {
			return nil, invalidInput("Batch: command %s: %v", quoteName(id), err)
		}
		lines[i] = batchLine{id: id, method: cmd.Method, line: line}
	}
	a, err := c.runBatch(ctx, lines, batchRequest{halt: cfg.halt})
	if err != nil {
		return nil, err
	}
	out := make([]BatchCommandResult, len(lines))
	failed := false
	for i, l := range lines {
		out[i] = lineOutcome(a, l, cfg.halt, &failed)
	}
	return out, nil
}

// batchLine is one encoded command.
type batchLine struct {
	id, method, line string
}

// batchRequest says how a batch request is sent.
type batchRequest struct {
	halt bool
	// flight governs the exchange once sent (nil: ctx), as for imports.
	flight context.Context
	// idempotent marks writes that may be sent again when their answer is
	// lost (updates that set values); reads always may.
	idempotent bool
	// attempts, when positive, caps the attempts; observe is told about
	// the request's waits (see request).
	attempts int
	observe  waitObserver
}

// runBatch sends lines as one batch request and decodes the answer. The
// budget is drawn on the method most lines call.
func (c *Client) runBatch(ctx context.Context, lines []batchLine, br batchRequest) (*wire.BatchAnswer, error) {
	count := map[string]int{}
	read := true
	top, topN := "", 0
	for _, l := range lines {
		m := lowerASCII(l.method)
		count[m]++
		if count[m] > topN || count[m] == topN && m < top {
			top, topN = m, count[m]
		}
		read = read && isReadMethod(l.method)
	}
	req := &request{method: "batch", body: batchBody(lines, br.halt), budgetMethod: top, weight: len(lines)}
	req.read, req.flight = read || br.idempotent, br.flight
	req.budgetMethod, req.weight = top, len(lines)
	req.timeOf, req.blockedOf = batchTime, batchBlocked
	req.attempts, req.observe = br.attempts, br.observe
	env, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	a, err := env.Batch()
	if err != nil {
		return nil, &OutcomeUnknownError{Method: "batch", Err: errors.New("b24: unreadable batch answer")}
	}
	return a, nil
}

// batchBody is the JSON body of a batch request. The commands keep the
// order of lines: the portal runs them in the order of the object's
// members, and a map would sort them ("c10" before "c2").
func batchBody(lines []batchLine, halt bool) []byte {
	n := 32
	for _, l := range lines {
		n += len(l.id) + len(l.line) + 8
	}
	b := appendBatchHead(make([]byte, 0, n), halt)
	for i, l := range lines {
		b, _ = appendBatchCommand(b, i == 0, l.id, func(b []byte) ([]byte, error) { return append(b, l.line...), nil })
	}
	return appendBatchTail(b)
}

// appendBatchHead, appendBatchCommand and appendBatchTail write a batch
// request's body: {"halt":0,"cmd":{"id":"command",...}}.
func appendBatchHead(b []byte, halt bool) []byte {
	b = append(b, `{"halt":`...)
	if halt {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	return append(b, `,"cmd":{`...)
}

// appendBatchCommand appends one command, which encode writes as text in
// place; text that JSON must escape (bracket commands never hold any:
// their values are percent-encoded) is escaped afterwards. When encode
// fails, b comes back as it was.
func appendBatchCommand(b []byte, first bool, id string, encode func([]byte) ([]byte, error)) ([]byte, error) {
	mark := len(b)
	if !first {
		b = append(b, ',')
	}
	b = appendJSONString(b, id)
	b = append(b, ':', '"')
	start := len(b)
	b, err := encode(b)
	if err != nil {
		return b[:mark], err
	}
	for _, c := range b[start:] {
		if !jsonPlain[c] {
			text := string(b[start:])
			b = appendJSONString(b[:start-1], text)
			return b, nil
		}
	}
	return append(b, '"'), nil
}

func appendBatchTail(b []byte) []byte { return append(b, '}', '}') }

// lineOutcome is what became of one line of a batch answer; failed
// tells a later line whether halt stopped it.
func lineOutcome(a *wire.BatchAnswer, l batchLine, halt bool, failed *bool) BatchCommandResult {
	r := BatchCommandResult{ID: l.id}
	if rt := a.ResultTime[l.id]; rt != nil {
		r.Time = rt
	}
	if t, ok := a.ResultTotal[l.id]; ok {
		r.Total, r.HasTotal = int(t), true
	}
	r.Next = int(a.ResultNext[l.id])
	if raw, ok := a.Result[l.id]; ok {
		r.Result = raw
		return r
	}
	if ce, ok := a.ResultError[l.id]; ok {
		*failed = true
		r.Err = &APIError{StatusCode: 200, Code: string(ce.Error), Description: string(ce.ErrorDescription), Method: l.method}
		return r
	}
	if halt && *failed {
		r.Err = &notRunError{method: l.method}
		return r
	}
	r.Err = &OutcomeUnknownError{Method: l.method, Err: errors.New("b24: the batch answer has no result for the command")}
	return r
}

// isCommandID reports whether id can name a batch command.
func isCommandID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	digits := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			digits = false
		default:
			return false
		}
	}
	return !digits
}

// isParamName reports whether a top-level parameter name can be written
// as it is.
func isParamName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return k != ""
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// encodeCommand renders "method?params" with params in PHP bracket form.
// Text in params travels as it is, batch references included.
func encodeCommand(method string, params any) (string, error) {
	body, err := marshalParams(params)
	if err != nil {
		return "", err
	}
	obj, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	buf := append(make([]byte, 0, 64+len(body)), method...)
	buf = append(buf, '?')
	var e phpquery.Encoder
	vars := 0
	for _, k := range phpquery.NaturalKeys(obj) {
		if !isParamName(k) {
			return "", fmt.Errorf("parameter name %s: want letters, digits and _", quoteName(k))
		}
		e.Reset(k)
		if buf, err = appendRefValue(&e, buf, obj[k]); err != nil {
			return "", err
		}
		vars += e.Vars()
	}
	if vars > phpquery.MaxCommandVars {
		return "", fmt.Errorf("more than %d form variables", phpquery.MaxCommandVars)
	}
	return string(buf), nil
}

// appendRefValue writes a decoded JSON value like [phpquery.Encoder.Value]
// but lets text hold batch references.
func appendRefValue(e *phpquery.Encoder, dst []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case map[string]any:
		e.Open()
		for _, k := range phpquery.NaturalKeys(x) {
			if err = e.Key(k); err != nil {
				return dst, err
			}
			if dst, err = appendRefValue(e, dst, x[k]); err != nil {
				return dst, err
			}
		}
		e.Close()
		return dst, nil
	case []any:
		e.Open()
		for i, el := range x {
			e.Index(i)
			if dst, err = appendRefValue(e, dst, el); err != nil {
				return dst, err
			}
		}
		e.Close()
		return dst, nil
	case string:
		return e.Plain(dst, []byte(x)), nil
	}
	return e.Value(dst, v)
}

// decodeObject decodes a JSON object with numbers as json.Number.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// batchTime reports a packed request to the operating budget: the reading
// of the latest window position and, within it, the largest (commands run
// one after another and their finish stamps can tie), and the commands'
// total server time as the cost. When no command ran (result_time is []),
// there is no reading of the method: the envelope's time is the batch
// wrapper's own, whose operating is 0 and whose reset lies a whole window
// ahead, so it is not passed on.
func batchTime(env *wire.Envelope) *ResponseTime {
	a, err := env.Batch()
	if err != nil || len(a.ResultTime) == 0 {
		return nil
	}
	var t ResponseTime
	total := 0.0
	for _, rt := range a.ResultTime {
		if rt == nil {
			continue
		}
		total += rt.Processing
		if !rt.HasOperating {
			continue
		}
		newer := rt.OperatingResetAt.After(t.OperatingResetAt)
		same := rt.OperatingResetAt.Equal(t.OperatingResetAt)
		if !t.HasOperating || newer || same && (rt.Operating > t.Operating || rt.Operating == t.Operating && rt.Finish > t.Finish) {
			t = *rt
		}
	}
	t.Processing = total
	return &t
}

// batchBlocked reports whether the portal refused a command of a packed
// request with OPERATION_TIME_LIMIT, so the budget holds the method.
func batchBlocked(env *wire.Envelope) bool {
	a, err := env.Batch()
	if err != nil {
		return false
	}
	for _, ce := range a.ResultError {
		if errors.Is(&APIError{Code: string(ce.Error)}, ErrOperationTimeLimit) {
			return true
		}
	}
	return false
}
