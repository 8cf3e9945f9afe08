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

// rowError is why a row is rejected before sending.
type rowError struct{ code, desc string }

// source reads rows; next returns io.EOF after the last one. Any other
// error is fatal (unreadable file).
type source interface {
	next() (row, error)
}

// inputConfig says how to read an input.
type inputConfig struct {
	format string // "csv" or "jsonl"; "" sniffs
	comma  rune   // CSV delimiter; 0 detects
	et     b24.EntityTypeID
	decode bool // build items; false only counts rows
}

// inputInfo is what the header told about the input.
type inputInfo struct {
	format     string
	comma      rune
	warnings   []string
	originalUF bool
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

// openSource checks the encoding, reads the header of a CSV and returns
// a source of rows.
func openSource(r io.Reader, name string, cfg inputConfig) (source, *inputInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, &inputError{file: name, msg: "cannot read: " + err.Error()}
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return nil, nil, &inputError{file: name, line: 1, msg: "the file is UTF-16; save it as UTF-8"}
	}
	if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
		head = head[3:]
	}
	if line, ok := checkUTF8(head); !ok {
		return nil, nil, &inputError{file: name, line: line, msg: "the file is not UTF-8 (a Windows-1251 export? convert it: iconv -f cp1251 -t utf-8)"}
	}
	info := &inputInfo{format: cfg.format}
	if info.format == "" {
		info.format = detectFormat(name, head)
	}
	if info.format == "jsonl" {
		return &jsonlSource{r: br, name: name, decode: cfg.decode}, info, nil
	}
	info.comma = cfg.comma
	if info.comma == 0 {
		info.comma = detectComma(head)
	}
	cr := csv.NewReader(newRecordBound(br, info.comma, maxRowBytes))
	cr.Comma = info.comma
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, &inputError{file: name, msg: "the file is empty: want a header row and data rows"}
	}
	if err != nil {
		return nil, nil, &inputError{file: name, line: 1, msg: "header: " + csvMessage(err)}
	}
	if tooLong(header) {
		return nil, nil, &inputError{file: name, line: 1, msg: fmt.Sprintf("header: longer than %d MiB; is this a CSV file?", maxRowBytes>>20)}
	}
	if len(header) > maxColumns {
		return nil, nil, &inputError{file: name, line: 1, msg: fmt.Sprintf("header: %d columns, at most %d are read; is the delimiter right?", len(header), maxColumns)}
	}
	cols, warnings, originalUF, err := parseHeader(header, cfg.et)
	if err != nil {
		return nil, nil, &inputError{file: name, line: 1, msg: "header: " + err.Error()}
	}
	info.warnings, info.originalUF = warnings, originalUF
	return &csvSource{r: cr, name: name, cols: cols, decode: cfg.decode}, info, nil
}

// checkUTF8 reports whether head is UTF-8, allowing a rune cut at its end,
// and the line of the first bad byte.
func checkUTF8(head []byte) (int, bool) {
	for i := 0; i < len(head); {
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 {
			if len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:]) {
				return 0, true
			}
			return 1 + bytes.Count(head[:i], []byte{'\n'}), false
		}
		i += size
	}
	return 0, true
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
	decode bool
}

func (s *csvSource) next() (row, error) {
	rec, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return row{}, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return row{line: pe.StartLine, err: &rowError{codeSyntax, csvMessage(err)}}, nil
	}
	if err != nil {
		return row{}, &inputError{file: s.name, msg: "cannot read: " + err.Error()}
	}
	line, _ := s.r.FieldPos(0)
	rw := row{line: line}
	if !s.decode {
		return rw, nil
	}
	if tooLong(rec) {
		rw.err = &rowError{codeTooLong, fmt.Sprintf("the row is longer than %d MiB", maxRowBytes>>20)}
		return rw, nil
	}
	size := 0
	for _, cell := range rec {
		size += len(cell)
		if !utf8.ValidString(cell) {
			rw.err = &rowError{codeEncoding, "the row is not valid UTF-8"}
			return rw, nil
		}
	}
	switch {
	case size > maxRowBytes:
		rw.err = &rowError{codeTooLong, fmt.Sprintf("the row is longer than %d MiB", maxRowBytes>>20)}
	case len(rec) != len(s.cols):
		rw.err = &rowError{codeFieldCount, fmt.Sprintf("%d cells, the header has %d columns", len(rec), len(s.cols))}
	default:
		rw.err = decodeCSV(s.cols, rec, &rw.item)
	}
	return rw, nil
}

// decodeCSV coerces rec and decodes it into it through b24.Item's own
// JSON decoding, so typed fields, multifields, parents and user fields
// land where the library puts them.
func decodeCSV(cols []column, rec []string, it *b24.Item) *rowError {
	obj, err := coerceRow(cols, rec)
	if err != nil {
		return &rowError{codeValue, err.Error()}
	}
	return decodeObject(obj, it)
}

func decodeObject(obj map[string]any, it *b24.Item) *rowError {
	b, err := jsonMarshal(obj)
	if err != nil {
		return &rowError{codeValue, err.Error()}
	}
	if err := it.UnmarshalJSON(b); err != nil {
		return &rowError{codeValue, strings.TrimPrefix(err.Error(), "b24: ")}
	}
	return nil
}

// jsonlSource reads one JSON object per line; blank lines are skipped.
type jsonlSource struct {
	r      *bufio.Reader
	name   string
	decode bool
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
			rw.err = &rowError{codeTooLong, fmt.Sprintf("the line is longer than %d MiB", maxRowBytes>>20)}
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
			rw.err = &rowError{codeEncoding, "the line is not valid UTF-8"}
		case b[0] != '{':
			rw.err = &rowError{codeSyntax, "the line is not a JSON object"}
		default:
			if err := rw.item.UnmarshalJSON(b); err != nil {
				rw.err = &rowError{codeSyntax, strings.TrimPrefix(err.Error(), "b24: ")}
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
