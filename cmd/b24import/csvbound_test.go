package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsed is one record as encoding/csv returns it.
type parsed struct {
	line   int
	fields []string
	err    bool
}

func parseCSV(r io.Reader) []parsed {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []parsed
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			out = append(out, parsed{line: pe.StartLine, err: true})
			continue
		}
		line, _ := cr.FieldPos(0)
		out = append(out, parsed{line: line, fields: rec})
	}
}

// TestRecordBoundKeepsStructure: wherever a record is cut, the reader
// sees the records that fit exactly as they are, the one cut short holds
// the marker (and no syntax error), and every record keeps its line.
func TestRecordBoundKeepsStructure(t *testing.T) {
	input := "a,b,c\n" +
		"\"quoted, with \"\"pairs\"\"\nand a newline\",x,\"\"\n" +
		"plain,\"\",\"end\"\"\"\n" +
		",,\n" +
		"\n" +
		"\"multi\n\nline\n\",\"y\"\r\n" +
		"last,row,here"
	want := parseCSV(strings.NewReader(input))
	for _, r := range want {
		require.False(t, r.err, "the input is valid CSV")
	}
	for limit := 1; limit <= len(input); limit++ {
		got := parseCSV(newRecordBound(bufio.NewReader(strings.NewReader(input)), ',', limit))
		require.Len(t, got, len(want), "limit %d: records", limit)
		for i, g := range got {
			require.False(t, g.err, "limit %d: record %d is not a syntax error", limit, i)
			assert.Equal(t, want[i].line, g.line, "limit %d: record %d keeps its line", limit, i)
			if tooLong(g.fields) {
				continue
			}
			assert.Equal(t, want[i].fields, g.fields, "limit %d: record %d fits and is whole", limit, i)
		}
	}
}

// endless is a reader of a CSV whose second row holds one cell of n
// bytes, made as it is read, followed by a normal row.
type endless struct {
	head, tail string
	n, done    int
}

func (e *endless) Read(p []byte) (int, error) {
	switch {
	case e.head != "":
		k := copy(p, e.head)
		e.head = e.head[k:]
		return k, nil
	case e.done < e.n:
		k := min(len(p), e.n-e.done)
		for i := range k {
			p[i] = 'x'
		}
		e.done += k
		return k, nil
	case e.tail != "":
		k := copy(p, e.tail)
		e.tail = e.tail[k:]
		return k, nil
	}
	return 0, io.EOF
}

// TestHugeCSVCellIsNotLoaded: a row with a 64 MiB cell is rejected as too
// long without being loaded: reading the file allocates a few times the
// row bound, not the cell, and the rows after it are read as usual.
func TestHugeCSVCellIsNotLoaded(t *testing.T) {
	for name, quote := range map[string]string{"quoted": `"`, "unquoted": ""} {
		t.Run(name, func(t *testing.T) {
			in := &endless{head: "title,comments\nfirst,ok\nsecond," + quote, n: 64 << 20, tail: quote + "\nthird,ok\n"}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			src, _, err := openSource(in, "big.csv", inputConfig{et: b24.EntityDeal, decode: true})
			require.NoError(t, err)
			var rows []row
			for {
				rw, err := src.next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				rows = append(rows, rw)
			}
			runtime.ReadMemStats(&after)
			require.Len(t, rows, 3)
			assert.Nil(t, rows[0].err)
			require.NotNil(t, rows[1].err)
			assert.Equal(t, codeTooLong, rows[1].err.code)
			assert.Nil(t, rows[2].err)
			assert.Equal(t, "third", rows[2].item.Title)
			assert.Equal(t, []int{2, 3, 4}, []int{rows[0].line, rows[1].line, rows[2].line})
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(10*maxRowBytes), "the cell is not loaded: what is read is bounded by the row bound, not the cell")
		})
	}
}

// TestHugeCSVHeader: a header of a million columns is refused at once
// with one message; one of a few thousand unknown columns draws a
// bounded number of warning lines.
func TestHugeCSVHeader(t *testing.T) {
	var b strings.Builder
	for i := range 1_000_000 {
		fmt.Fprintf(&b, "c%d,", i)
	}
	_, _, err := openSource(strings.NewReader(b.String()+"x\n1\n"), "wide.csv", inputConfig{et: b24.EntityDeal, decode: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wide.csv:1: header: longer than 4 MiB")

	b.Reset()
	for i := range maxColumns + 1 {
		fmt.Fprintf(&b, "c%d,", i)
	}
	_, _, err = openSource(strings.NewReader(b.String()+"x\n"), "wide.csv", inputConfig{et: b24.EntityDeal, decode: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("%d columns, at most %d", maxColumns+2, maxColumns))

	b.Reset()
	b.WriteString("title")
	for i := range 3000 {
		fmt.Fprintf(&b, ",extraColumn%d", i)
	}
	_, info, err := openSource(strings.NewReader(b.String()+"\n"), "many.csv", inputConfig{et: b24.EntityDeal, decode: true})
	require.NoError(t, err)
	var out strings.Builder
	printWarnings(&out, "many.csv", info.warnings)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, maxWarnings+1)
	assert.Contains(t, lines[maxWarnings], "2990 more warnings")
}

// FuzzRecordBound: for any valid CSV and any bound, the records the
// reader gets through recordBound keep their count and lines, and those
// that fit are whole.
func FuzzRecordBound(f *testing.F) {
	f.Add("a,b\n\"x\ny\",\"\"\"\"\n\n,\n", uint16(3))
	f.Add("\"\"\"\",a\r\nb", uint16(1))
	f.Fuzz(func(t *testing.T, input string, limit uint16) {
		want := parseCSV(strings.NewReader(input))
		for _, r := range want {
			if r.err {
				return // only valid CSV keeps its structure
			}
		}
		l := int(limit%64) + 1
		got := parseCSV(newRecordBound(bufio.NewReader(strings.NewReader(input)), ',', l))
		require.Len(t, got, len(want))
		for i, g := range got {
			require.False(t, g.err, "record %d", i)
			require.Equal(t, want[i].line, g.line, "record %d", i)
			if !tooLong(g.fields) {
				require.Equal(t, want[i].fields, g.fields, "record %d", i)
			}
		}
	})
}
