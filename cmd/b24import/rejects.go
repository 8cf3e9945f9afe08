package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// writeRejects copies the rejected rows of the input to -rejects, byte for
// byte, in the input's own format: a CSV gets its header (and byte order
// mark) first, so the file can be fixed and imported again as it is. It
// reads the input a second time, by line numbers, so nothing of the rows
// is kept in memory during the run.
func (imp *importer) writeRejects() (int, error) {
	path := imp.cfg.keys.rejects
	if path == "" {
		return 0, nil
	}
	lines := slices.Clone(imp.rejected)
	slices.Sort(lines)
	lines = slices.Compact(lines)
	in, err := os.ReadFile(imp.cfg.file)
	if err != nil {
		return 0, fmt.Errorf("rejects: %w", err)
	}
	var out bytes.Buffer
	if imp.info.format == "jsonl" {
		copyLines(&out, in, lines)
	} else if err := copyRecords(&out, in, imp.info.comma, headRecords(imp.info), lines); err != nil {
		return 0, fmt.Errorf("rejects: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
		return 0, fmt.Errorf("rejects: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("rejects: %w", err)
	}
	return len(lines), nil
}

// copyLines copies the physical lines of in whose 1-based numbers are in
// lines (sorted), each with its line end.
func copyLines(out *bytes.Buffer, in []byte, lines []int) {
	r := bufio.NewReader(bytes.NewReader(in))
	n, want := 0, 0
	for want < len(lines) {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return
		}
		n++
		if n == lines[want] {
			out.Write(line)
			if line[len(line)-1] != '\n' {
				out.WriteByte('\n')
			}
			want++
		}
	}
}

// headRecords is how many records of a CSV input come before its rows:
// the header, and Excel's "sep=;" line before it.
func headRecords(info *inputInfo) int {
	if info.sepLine {
		return 2
	}
	return 1
}

// copyRecords copies the head records (the header, and the sep= line
// before it) and the records starting on lines, as their bytes appear in
// in (a record may span several lines, and a broken one is copied as it
// is, to be fixed).
func copyRecords(out *bytes.Buffer, in []byte, comma rune, head int, lines []int) error {
	body := in
	if bom := []byte{0xEF, 0xBB, 0xBF}; bytes.HasPrefix(in, bom) {
		out.Write(bom)
		body = in[len(bom):]
	}
	cr := csv.NewReader(bytes.NewReader(body))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	want := map[int]bool{}
	for _, l := range lines {
		want[l] = true
	}
	var prev int64
	for n := 0; ; n++ {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		start := 0
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			start = pe.StartLine
		case err != nil:
			return err
		default:
			start, _ = cr.FieldPos(0)
		}
		end := cr.InputOffset()
		if n < head || want[start] {
			rec := body[prev:end]
			out.Write(rec)
			if len(rec) > 0 && rec[len(rec)-1] != '\n' {
				out.WriteByte('\n')
			}
		}
		prev = end
	}
}
