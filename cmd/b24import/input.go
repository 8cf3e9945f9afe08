package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/b24kit/b24"
)

// Row-level error codes of the importer; rows with them are never sent.
const (
	codeSyntax     = "B24IMPORT_SYNTAX"        // CSV quoting or JSON syntax
	codeValue      = "B24IMPORT_INVALID_VALUE" // a cell that cannot be read as its field's type
	codeFieldCount = "B24IMPORT_FIELD_COUNT"   // a CSV row with more or fewer cells than the header
	codeTooLong    = "B24IMPORT_ROW_TOO_LONG"  // a row above maxRowBytes
	codeEncoding   = "B24IMPORT_ENCODING"      // a row that is not UTF-8
	codeInFlight   = "B24IMPORT_IN_FLIGHT"     // sent by a run that died before the answer came
	codeRequired   = "B24IMPORT_REQUIRED"      // a field the portal requires is empty
)

// maxRowBytes bounds one row; larger ones are rejected, not loaded whole
// (a CSV record is cut off before the CSV reader holds it: csvbound.go).
const maxRowBytes = 4 << 20

// maxColumns bounds the columns of a CSV header: far more than any
// entity has fields, few enough to check quickly.
const maxColumns = 5000

// tooLong reports whether a CSV record was cut off by recordBound.
func tooLong(rec []string) bool {
	for _, cell := range rec {
		if strings.Contains(cell, tooLongMarker) {
			return true
		}
	}
	return false
}

// row is one record of the input. line is the line it starts on (1-based,
// header included), which identifies it in the journal and the report.
type row struct {
	line int
	item b24.Item
	err  *rowError // set when the row cannot be sent
}

// rowError is why a row is rejected before sending; cells lists every
// cell that could not be read.
type rowError struct {
	code, desc string
	cells      []cellProblem
}

// source reads rows; next returns io.EOF after the last one. Any other
// error is fatal (unreadable file).
type source interface {
	next() (row, error)
}

// inputConfig says how to read an input.
type inputConfig struct {
	format   string // "csv" or "jsonl"; "" sniffs
	comma    rune   // CSV delimiter; 0 detects
	et       b24.EntityTypeID
	decode   bool          // build items; false only counts rows
	encoding *textEncoding // forced with -encoding; nil detects
	mapping  *mappingConfig
	coerce   *coercer
	// keyColumn is -key-column: a column that holds the dedup key.
	keyColumn string
}

// inputInfo is what the first bytes and the header told about the input.
type inputInfo struct {
	format     string
	comma      rune
	encoding   textEncoding
	sepLine    bool // the file starts with Excel's "sep=;" line
	warnings   []string
	originalUF bool
	plan       *headerPlan
}

// inputError is a fatal problem of the input, with file and line.
type inputError struct {
	file string
	line int
	msg  string
}

func (e *inputError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return e.file + ": " + e.msg
}

// detectFormat picks the format from the name, else from the first byte.
func detectFormat(name string, head []byte) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".tsv"), strings.HasSuffix(lower, ".txt"):
		return "csv"
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"), strings.HasSuffix(lower, ".json"):
		return "jsonl"
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return "jsonl"
	}
	return "csv"
}

// openSource detects the encoding, reads the header of a CSV and returns
// a source of rows.
func openSource(r io.Reader, name string, cfg inputConfig) (source, *inputInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, &inputError{file: name, msg: "cannot read: " + err.Error()}
	}
	info := &inputInfo{format: cfg.format}
	if cfg.encoding != nil {
		info.encoding = *cfg.encoding
		if info.encoding.enc == nil && bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
			info.encoding.bom = 3
		}
		if info.encoding.enc == nil {
			if line, ok := checkUTF8(head[info.encoding.bom:]); !ok {
				return nil, nil, &inputError{file: name, line: line, msg: "the file is not UTF-8 although -encoding utf-8 was given; leave -encoding out to detect it"}
			}
		}
	} else {
		info.encoding = detectEncoding(head)
	}
	tr := bufio.NewReaderSize(decodeReader(br, info.encoding), 64<<10)
	thead, _ := tr.Peek(64 << 10)
	if info.format == "" {
		info.format = detectFormat(name, thead)
	}
	if info.format == "jsonl" {
		js := &jsonlSource{r: tr, name: name, decode: cfg.decode, co: cfg.coerce}
		if cfg.mapping != nil {
			js.fields = cfg.mapping.fields
		}
		return js, info, nil
	}
	info.comma = cfg.comma
	// Excel writes "sep=;" as the first line of a "CSV (semicolon)" file
	// saved for another locale; it names the delimiter.
	if first, _, _ := bytes.Cut(thead, []byte{'\n'}); bytes.HasPrefix(bytes.ToLower(first), []byte("sep=")) {
		sep := bytes.TrimRight(first[4:], "\r")
		if r, size := utf8.DecodeRune(sep); size == len(sep) && size > 0 {
			if info.comma == 0 {
				info.comma = r
			}
			info.sepLine = true
			if _, err := tr.Discard(len(first) + 1); err != nil && !errors.Is(err, io.EOF) {
				return nil, nil, &inputError{file: name, msg: "cannot read: " + err.Error()}
			}
			thead = thead[min(len(thead), len(first)+1):]
		}
	}
	if info.comma == 0 {
		info.comma = detectComma(thead)
	}
	cr := csv.NewReader(newRecordBound(tr, info.comma, maxRowBytes))
	cr.Comma = info.comma
	cr.FieldsPerRecord = -1
	offset := 0
	if info.sepLine {
		offset = 1
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, &inputError{file: name, msg: "the file is empty: want a header row and data rows"}
	}
	if err != nil {
		return nil, nil, &inputError{file: name, line: 1 + offset, msg: "header: " + csvMessage(err)}
	}
	if tooLong(header) {
		return nil, nil, &inputError{file: name, line: 1 + offset, msg: fmt.Sprintf("header: longer than %d MiB; is this a CSV file?", maxRowBytes>>20)}
	}
	if len(header) > maxColumns {
		return nil, nil, &inputError{file: name, line: 1 + offset, msg: fmt.Sprintf("header: %d columns, at most %d are read; is the delimiter right?", len(header), maxColumns)}
	}
	mc := cfg.mapping
	if mc == nil {
		mc = &mappingConfig{et: cfg.et}
	}
	mc.keyColumn = cfg.keyColumn
	plan, err := resolveHeader(header, mc)
	info.plan = plan
	if err != nil {
		return nil, info, &inputError{file: name, line: 1 + offset, msg: "header: " + err.Error()}
	}
	info.warnings, info.originalUF = plan.warnings, plan.originalUF
	co := cfg.coerce
	if co == nil {
		co = &coercer{}
	}
	return &csvSource{r: cr, name: name, cols: plan.cols, width: len(header), decode: cfg.decode, offset: offset, co: co}, info, nil
}

// detectComma picks the delimiter the header line uses most: , ; or tab.
func detectComma(head []byte) rune {
	line, _, _ := bytes.Cut(head, []byte{'\n'})
	best, bestN := ',', 0
	for _, c := range []rune{',', ';', '\t'} {
		if n := bytes.Count(line, []byte(string(c))); n > bestN {
			best, bestN = c, n
		}
	}
	return best
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// csvSource reads data rows after the header.
type csvSource struct {
	r      *csv.Reader
	name   string
	cols   []column
	width  int // cells in the header, a trailing empty one included
	decode bool
	offset int // lines before the header (Excel's sep= line)
	co     *coercer
}

func (s *csvSource) next() (row, error) {
	rec, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return row{}, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return row{line: pe.StartLine + s.offset, err: &rowError{code: codeSyntax, desc: csvMessage(err)}}, nil
	}
	if err != nil {
		return row{}, &inputError{file: s.name, msg: "cannot read: " + err.Error()}
	}
	line, _ := s.r.FieldPos(0)
	rw := row{line: line + s.offset}
	if !s.decode {
		return rw, nil
	}
	if tooLong(rec) {
		rw.err = &rowError{code: codeTooLong, desc: fmt.Sprintf("the row is longer than %d MiB", maxRowBytes>>20)}
		return rw, nil
	}
	size := 0
	for _, cell := range rec {
		size += len(cell)
		if !utf8.ValidString(cell) {
			rw.err = &rowError{code: codeEncoding, desc: "the row is not valid UTF-8"}
			return rw, nil
		}
	}
	// Excel ends every row with the delimiter when the header does.
	for len(rec) > len(s.cols) && len(rec) <= s.width && rec[len(rec)-1] == "" {
		rec = rec[:len(rec)-1]
	}
	switch {
	case size > maxRowBytes:
		rw.err = &rowError{code: codeTooLong, desc: fmt.Sprintf("the row is longer than %d MiB", maxRowBytes>>20)}
	case len(rec) != len(s.cols):
		rw.err = &rowError{code: codeFieldCount, desc: fmt.Sprintf("%d cells, the header has %d columns", len(rec), len(s.cols))}
	default:
		rw.err = decodeCSV(s.co, s.cols, rec, &rw.item)
	}
	return rw, nil
}

// decodeCSV coerces rec and decodes it into it through b24.Item's own
// JSON decoding, so typed fields, multifields, parents and user fields
// land where the library puts them.
func decodeCSV(co *coercer, cols []column, rec []string, it *b24.Item) *rowError {
	obj, problems := co.coerceRow(cols, rec)
	if len(problems) > 0 {
		parts := make([]string, len(problems))
		for i, p := range problems {
			parts[i] = p.String()
		}
		code := codeRequired
		for _, p := range problems {
			if !p.required {
				code = codeValue
			}
		}
		return &rowError{code: code, desc: strings.Join(parts, "; "), cells: problems}
	}
	return decodeObject(obj, it)
}

func decodeObject(obj map[string]any, it *b24.Item) *rowError {
	b, err := jsonMarshal(obj)
	if err != nil {
		return &rowError{code: codeValue, desc: err.Error()}
	}
	if err := it.UnmarshalJSON(b); err != nil {
		return &rowError{code: codeValue, desc: strings.TrimPrefix(err.Error(), "b24: ")}
	}
	return nil
}

// jsonlSource reads one JSON object per line; blank lines are skipped.
type jsonlSource struct {
	r      *bufio.Reader
	name   string
	decode bool
	co     *coercer                 // reads string values as CSV cells; nil: as they are
	fields map[string]b24.FieldInfo // the portal's fields, for user fields' types
	line   int
	buf    []byte
}

func (s *jsonlSource) next() (row, error) {
	for {
		b, tooLong, err := s.readLine()
		if err != nil {
			return row{}, err
		}
		s.line++
		rw := row{line: s.line}
		if tooLong {
			rw.err = &rowError{code: codeTooLong, desc: fmt.Sprintf("the line is longer than %d MiB", maxRowBytes>>20)}
			return rw, nil
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if !s.decode {
			return rw, nil
		}
		switch {
		case !utf8.Valid(b):
			rw.err = &rowError{code: codeEncoding, desc: "the line is not valid UTF-8"}
		case b[0] != '{':
			rw.err = &rowError{code: codeSyntax, desc: "the line is not a JSON object"}
		default:
			if s.co != nil {
				var rerr *rowError
				if b, rerr = s.co.coerceJSONObject(b, s.fields); rerr != nil {
					rw.err = rerr
					return rw, nil
				}
			}
			if err := rw.item.UnmarshalJSON(b); err != nil {
				rw.err = &rowError{code: codeSyntax, desc: strings.TrimPrefix(err.Error(), "b24: ")}
			}
		}
		return rw, nil
	}
}

// readLine returns the next line without loading more than maxRowBytes
// of it; tooLong reports that the rest was skipped.
func (s *jsonlSource) readLine() (line []byte, tooLong bool, err error) {
	s.buf = s.buf[:0]
	got := false
	for {
		frag, err := s.r.ReadSlice('\n')
		got = got || len(frag) > 0
		if len(s.buf)+len(frag) <= maxRowBytes {
			s.buf = append(s.buf, frag...)
		} else {
			tooLong = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if got {
				return s.buf, tooLong, nil
			}
			return nil, false, io.EOF
		case err != nil:
			return nil, false, &inputError{file: s.name, line: s.line + 1, msg: "cannot read: " + err.Error()}
		}
		return s.buf, tooLong, nil
	}
}
