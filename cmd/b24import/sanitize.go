package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Texts of the portal (item error codes and descriptions, error messages)
// and of the input (column names) are printed to a terminal and written
// to a spreadsheet's CSV. Neither may act on what shows them.

// unsafeRune reports whether r, printed raw, could drive a terminal or
// hide text: C0 controls but tab and newline, DEL, C1 controls (which
// some terminals take for ESC sequences), the bidirectional overrides and
// isolates that reorder what is shown, and the Unicode line separators.
func unsafeRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x200e || r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
		r == 0x2028 || r == 0x2029:
		return true
	}
	return false
}

// printable escapes the unsafe runes of s (and bytes that are not UTF-8)
// as Go escapes (\x1b, \u202e), so that an ESC, OSC or CSI sequence shows
// as text instead of setting a window title, clearing the screen or
// forging a link.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
	}
	return b.String()
}

// termSafe is a writer that passes what the command prints through
// printable. Every message is one Write (fmt's), so no rune is split.
type termSafe struct{ w io.Writer }

func (t termSafe) Write(p []byte) (int, error) {
	s := printable(string(p))
	if _, err := io.WriteString(t.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// spreadsheetCell is a text of the portal as a report cell: printable,
// and, as OWASP advises for CSV exports, with a leading ' when it starts
// with = + - @, a tab or a carriage return, so that a spreadsheet shows it
// as text instead of running it as a formula.
func spreadsheetCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + printable(s)
	}
	return printable(s)
}
