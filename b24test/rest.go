package b24test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiErr is an error answer: {"error": code, "error_description": desc}.
// code is a string, or an int for the binder's 100.
type apiErr struct {
	status int
	code   any
	desc   string
}

func (e *apiErr) codeString() string { return stringValue(e.code) }

// outcome is what a method handler produced.
type outcome struct {
	result   any
	total    int
	next     int
	hasTotal bool
	hasNext  bool
	err      *apiErr
	items    int // items the call carried, for the log
}

// timeBlock is the "time" member of every answer.
type timeBlock struct {
	Start            float64  `json:"start"`
	Finish           float64  `json:"finish"`
	Duration         float64  `json:"duration"`
	Processing       float64  `json:"processing"`
	DateStart        string   `json:"date_start"`
	DateFinish       string   `json:"date_finish"`
	OperatingResetAt *float64 `json:"operating_reset_at,omitempty"`
	Operating        *float64 `json:"operating,omitempty"`
}

// okEnvelope is a successful REST answer.
type okEnvelope struct {
	Result any        `json:"result"`
	Total  *int       `json:"total,omitempty"`
	Next   *int       `json:"next,omitempty"`
	Time   *timeBlock `json:"time"`
}

// errEnvelope is an error answer. As on the portal it has no time block:
// a 429 does not tell when the method is free again.
type errEnvelope struct {
	Error            any    `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// exchange is the state of one HTTP request to /rest/.
type exchange struct {
	s       *Server
	ctx     context.Context
	cred    string
	req     request
	timeout time.Duration
	// simulated is the processing time simulated so far; the answer is held
	// back by that much.
	simulated time.Duration
	cut       bool // the request timeout was reached
	drop      bool // a FaultDropAfterExecute hit
	inBatch   bool // running the commands of a batch
}

// spend adds d of simulated processing; false when the request timeout
// would be exceeded, after which nothing more runs.
func (x *exchange) spend(d time.Duration) bool {
	if x.cut {
		return false
	}
	if x.simulated+d > x.timeout {
		x.simulated, x.cut = x.timeout, true
		return false
	}
	x.simulated += d
	return true
}

// handlers maps lower-case method names to their implementation.
var handlers = map[string]func(x *exchange, p map[string]any) outcome{
	"crm.item.batchimport": handleBatchImport,
	"crm.item.import":      handleImport,
	"crm.item.add":         handleAdd,
	"crm.item.get":         handleGet,
	"crm.item.update":      handleUpdate,
	"crm.item.delete":      handleDelete,
	"crm.item.list":        handleList,
	"crm.item.fields":      handleFields,
	"crm.category.list":    handleCategoryList,
	"crm.status.list":      handleStatusList,
	"user.get":             handleUserGet,
	"server.time":          handleServerTime,
	"profile":              handleProfile,
}

var errMethodNotFound = &apiErr{http.StatusNotFound, "ERROR_METHOD_NOT_FOUND", "Method not found!"}

// serveREST answers /rest/USER/SECRET/METHOD and /rest/METHOD.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Empty segments are skipped as the portal's router does: the official
	// JS SDK, given the client endpoint "https://HOST/rest/", calls
	// /rest//METHOD.
	var parts []string
	for p := range strings.SplitSeq(strings.TrimPrefix(r.URL.Path, "/rest/"), "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	var user, secret, method string
	webhook := false
	switch len(parts) {
	case 1:
		method = parts[0]
	case 3:
		user, secret, method, webhook = parts[0], parts[1], parts[2], true
	}
	for _, ext := range []string{".json", ".xml"} {
		if len(method) > len(ext) && strings.EqualFold(method[len(method)-len(ext):], ext) {
			method = method[:len(method)-len(ext)]
		}
	}
	rec := RequestRecord{Method: method, Auth: "none"}
	if webhook {
		rec.Auth = "webhook"
	}
	finish := func(status int, code string) {
		rec.Status, rec.Code = status, code
		s.rec.add(rec)
	}
	if f := s.takeFault(FaultMove, method); f != nil {
		loc := f.Location
		if u, err := url.Parse(loc); err == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
			loc = strings.TrimSuffix(loc, "/") + r.URL.RequestURI()
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		finish(http.StatusFound, "")
		return
	}
	if method == "" {
		s.writeAnswer(w, start, 0, nil, outcome{err: errMethodNotFound})
		finish(http.StatusNotFound, "ERROR_METHOD_NOT_FOUND")
		return
	}
	x := &exchange{s: s, ctx: r.Context(), req: readRequest(r), timeout: s.cfg.reqTimeout}
	ar := s.authenticate(r, user, secret, webhook, x.req.params, start)
	rec.Auth = ar.kind
	if ar.err != nil {
		s.rec.count(func(st *Stats) { st.AuthFailures++ })
		s.writeAnswer(w, start, 0, nil, outcome{err: ar.err})
		finish(ar.err.status, ar.err.codeString())
		return
	}
	x.cred = ar.key
	if f := s.takeFault(FaultRefuse, method); f != nil {
		rec.Items = requestItems(method, x.req.params)
		e := f.refusal()
		s.writeAnswer(w, start, 0, nil, outcome{err: e})
		finish(e.status, e.codeString())
		return
	}
	if s.buckets != nil && !s.buckets.allow(x.cred, time.Now()) {
		s.rec.count(func(st *Stats) { st.RateLimited++ })
		rec.Items = requestItems(method, x.req.params)
		e := &apiErr{http.StatusServiceUnavailable, "QUERY_LIMIT_EXCEEDED", "Too many requests"}
		s.writeAnswer(w, start, 0, nil, outcome{err: e})
		finish(e.status, e.codeString())
		return
	}
	if s.takeFault(FaultDropAfterExecute, method) != nil {
		x.drop = true
	}
	out, op := x.call(method, x.req.params, false)
	rec.Items = out.items
	processing := time.Since(start) + x.simulated
	if !s.wait(r.Context(), x.simulated) {
		// The client went away while the call was "processing"; its
		// effects stay, as on the portal.
		finish(0, "")
		return
	}
	switch {
	case x.cut:
		s.rec.count(func(st *Stats) { st.TimedOut++ })
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = w.Write([]byte("<html><body><h1>504 Gateway Time-out</h1></body></html>\n"))
		finish(http.StatusGatewayTimeout, "")
	case x.drop:
		s.rec.count(func(st *Stats) { st.Dropped++ })
		dropConnection(w)
		finish(0, "")
	default:
		status := s.writeAnswer(w, start, processing, op, out)
		code := ""
		if out.err != nil {
			code = out.err.codeString()
		}
		finish(status, code)
	}
}

// opInfo is a method's operating-time state after a call.
type opInfo struct {
	used    time.Duration
	resetAt time.Time
}

// call runs one method (top-level, or a command inside a batch when inner)
// under the operating-time limit, charging what it took.
func (x *exchange) call(method string, p map[string]any, inner bool) (outcome, *opInfo) {
	lower := strings.ToLower(method)
	if lower == "batch" {
		if inner {
			return outcome{err: &apiErr{http.StatusBadRequest, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"}}, nil
		}
		// The batch wrapper itself is not limited; where the limit is on,
		// its answer reports operating 0 and a reset a window ahead, as
		// the portal's does.
		out := handleBatch(x, p)
		if x.s.op == nil {
			return out, nil
		}
		return out, &opInfo{resetAt: time.Now().Add(x.s.op.window)}
	}
	h := x.s.customHandler(lower)
	if h == nil {
		h = handlers[lower]
	}
	if h == nil {
		return outcome{err: errMethodNotFound}, nil
	}
	s := x.s
	var key string
	if s.op != nil {
		key = x.cred + "|" + lower
		if blocked, used, reset := s.op.blocked(key, time.Now()); blocked {
			s.rec.count(func(st *Stats) { st.OperatingLimited++ })
			return outcome{err: &apiErr{http.StatusTooManyRequests, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."}},
				&opInfo{used, reset}
		}
	}
	t0, sim0 := time.Now(), x.simulated
	if !x.spend(s.cfg.latencyBase + s.jitter(s.cfg.latencyJit)) {
		return outcome{}, nil
	}
	out := h(x, p)
	if s.op == nil {
		return out, nil
	}
	now := time.Now()
	used, reset := s.op.charge(key, now.Sub(t0)+x.simulated-sim0, now)
	return out, &opInfo{used, reset}
}

// wait holds the answer back for the simulated processing time; false when
// ctx ended first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the connection without writing an answer.
func dropConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
	}
	_ = conn.Close()
}

// newTimeBlock builds the time member for a call that started at start.
func newTimeBlock(start time.Time, processing time.Duration, op *opInfo) *timeBlock {
	fin := time.Now()
	if min := start.Add(processing); fin.Before(min) {
		fin = min
	}
	tb := &timeBlock{
		Start:      unixSeconds(start),
		Finish:     unixSeconds(fin),
		Duration:   fin.Sub(start).Seconds(),
		Processing: processing.Seconds(),
		DateStart:  start.Format(phpDateC),
		DateFinish: fin.Format(phpDateC),
	}
	if op != nil {
		used, reset := op.used.Seconds(), unixSeconds(op.resetAt)
		tb.Operating, tb.OperatingResetAt = &used, &reset
	}
	return tb
}

// phpDateC is PHP's date('c'): an offset, never "Z".
const phpDateC = "2006-01-02T15:04:05-07:00"

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// writeAnswer writes out as the portal's JSON envelope and returns the
// status.
func (s *Server) writeAnswer(w http.ResponseWriter, start time.Time, processing time.Duration, op *opInfo, out outcome) int {
	if out.err != nil {
		writeJSON(w, out.err.status, errEnvelope{Error: out.err.code, ErrorDescription: out.err.desc})
		return out.err.status
	}
	tb := newTimeBlock(start, processing, op)
	env := okEnvelope{Result: out.result, Time: tb}
	if out.hasTotal {
		env.Total = &out.total
	}
	if out.hasNext {
		env.Next = &out.next
	}
	writeJSON(w, http.StatusOK, env)
	return http.StatusOK
}
