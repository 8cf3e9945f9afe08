package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// encoding/csv gathers a whole record before it returns it, so a 300 MB
// cell would be loaded whole. recordBound sits between the file and the
// CSV reader: it follows the CSV structure as the reader will (quoted
// fields, doubled quotes, the delimiter, line ends) and, once a record
// passes maxRowBytes, writes a marker in its place and skips the rest of
// the record. The reader then returns a short record holding the marker,
// which the source rejects as too long; the newlines skipped are given
// back as blank lines after it (which the reader skips), so the line
// numbers of the rows after it stay right.

// tooLongMarker replaces the tail of a record over maxRowBytes. U+FFFF is
// not a character: no text holds it.
const tooLongMarker = "\uffffb24import: row too long\uffff"

// csvState is where in a record the bytes read so far end.
type csvState uint8

const (
	fieldStart csvState = iota // at the start of a field
	unquoted                   // inside an unquoted field
	quoted                     // inside a quoted field
	quoteSeen                  // a quote inside a quoted field: its end, or the first of two
)

// recordBound is an io.Reader that bounds each CSV record read through it
// to limit bytes (see above).
type recordBound struct {
	r     *bufio.Reader
	comma byte
	limit int

	state    csvState
	size     int  // bytes of the current record so far
	skipping bool // over the limit: dropping the rest of the record
	newlines int  // line ends dropped while skipping
	pending  []byte
}

func newRecordBound(r *bufio.Reader, comma rune, limit int) *recordBound {
	c := byte(',')
	if comma > 0 && comma < 0x80 {
		c = byte(comma)
	}
	return &recordBound{r: r, comma: c, limit: limit}
}

// step advances the state over byte c and reports whether it ends the
// record.
func (b *recordBound) step(c byte) (end bool) {
	switch b.state {
	case fieldStart:
		switch c {
		case '"':
			b.state = quoted
		case b.comma:
		case '\n':
			return true
		default:
			b.state = unquoted
		}
	case unquoted:
		switch c {
		case b.comma:
			b.state = fieldStart
		case '\n':
			b.state = fieldStart
			return true
		}
		// A quote here is a bare quote: the reader refuses the record and
		// goes on after the line, as this does.
	case quoted:
		if c == '"' {
			b.state = quoteSeen
		}
	case quoteSeen:
		switch c {
		case '"':
			b.state = quoted
		case b.comma:
			b.state = fieldStart
		case '\n':
			b.state = fieldStart
			return true
		default:
			b.state = unquoted // an extraneous quote: refused up to the line end
		}
	}
	return false
}

// Read fills p with the input, bounded record by record.
func (b *recordBound) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(b.pending) > 0 {
			k := copy(p[n:], b.pending)
			b.pending = b.pending[k:]
			n += k
			continue
		}
		buf, err := b.buffered()
		if len(buf) == 0 {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b.skipping {
			_, _ = b.r.Discard(b.skip(buf))
			continue
		}
		buf = buf[:min(len(buf), len(p)-n)]
		emit, consumed := b.scan(buf)
		n += copy(p[n:], buf[:emit])
		_, _ = b.r.Discard(consumed)
	}
	return n, nil
}

// buffered returns what the reader holds, reading more when it holds
// nothing.
func (b *recordBound) buffered() ([]byte, error) {
	if b.r.Buffered() == 0 {
		if _, err := b.r.Peek(1); err != nil {
			return nil, err
		}
	}
	return b.r.Peek(b.r.Buffered())
}

// scan follows buf while the record fits: it returns how many bytes pass
// and how many are consumed (one more when the byte that crossed the
// limit changed the state; it is dropped with the rest of the record).
func (b *recordBound) scan(buf []byte) (emit, consumed int) {
	i := 0
	for i < len(buf) {
		// A run of bytes that cannot change the state.
		run := 0
		switch b.state {
		case quoted:
			run = bytes.IndexByte(buf[i:], '"')
		case unquoted:
			run = indexEither(buf[i:], b.comma, '\n')
		}
		if run < 0 {
			run = len(buf) - i
		}
		if b.size+run > b.limit {
			cut := b.limit - b.size
			b.overflow(b.state)
			return i + cut, i + cut
		}
		b.size += run
		i += run
		if i == len(buf) {
			break
		}
		seen := b.state
		c := buf[i]
		if b.step(c) {
			b.size = 0
			i++
			continue
		}
		if b.size == b.limit {
			if c == '\n' {
				b.newlines++
			}
			b.overflow(seen)
			return i, i + 1
		}
		b.size++
		i++
	}
	return i, i
}

// indexEither is the index of the first x or y in buf, or -1. Unquoted
// fields are short: a loop beats building bytes.IndexAny's set each time.
func indexEither(buf []byte, x, y byte) int {
	for i, c := range buf {
		if c == x || c == y {
			return i
		}
	}
	return -1
}

// overflow ends the record where the reader is (in state seen) with the
// marker, in a form the reader accepts wherever the record was cut, and
// starts skipping the rest.
func (b *recordBound) overflow(seen csvState) {
	b.skipping = true
	switch seen {
	case quoted:
		b.pending = []byte(tooLongMarker + `"`) // and closes the field
	case quoteSeen:
		// The quote the reader saw may end the field or begin a pair: a
		// second one makes it a pair, inside the field.
		b.pending = []byte(`"` + tooLongMarker + `"`)
	default:
		b.pending = []byte(tooLongMarker)
	}
}

// skip drops bytes of buf up to the record's end, counting line ends, and
// returns how many it consumed. At the end it hands the line ends back:
// one ends the record, the others are blank lines.
func (b *recordBound) skip(buf []byte) int {
	for i, c := range buf {
		if b.step(c) {
			b.skipping = false
			b.size = 0
			b.pending = []byte(strings.Repeat("\n", b.newlines+1))
			b.newlines = 0
			return i + 1
		}
		if c == '\n' {
			b.newlines++
		}
	}
	return len(buf)
}

// maxWarnings is how many header warnings are printed one by one; the
// rest are counted on one line.
const maxWarnings = 10

// printWarnings prints the header's warnings: the first maxWarnings, then
// one line counting the others.
func printWarnings(w io.Writer, file string, warnings []string) {
	for i, msg := range warnings {
		if i == maxWarnings {
			fmt.Fprintf(w, "b24import: warning: %s:1: %d more warnings like these (columns that are not known fields are sent as text)\n", file, len(warnings)-maxWarnings)
			return
		}
		fmt.Fprintf(w, "b24import: warning: %s:1: %s\n", file, msg)
	}
}
