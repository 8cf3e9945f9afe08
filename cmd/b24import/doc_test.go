package main

import (
	"os"
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocListsEveryCode holds go doc ./cmd/b24import to every code the
// command can write in a report.
func TestDocListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	doc := string(b)
	codes := []string{codeSyntax, codeValue, codeFieldCount, codeTooLong, codeEncoding, codeInFlight, codeRequired,
		b24.CodeInvalidField, b24.CodeFieldTypo, b24.CodeInvalidValue, b24.CodeDuplicateField, b24.CodeHistoryOrder}
	for _, c := range codes {
		assert.True(t, strings.Contains(doc, "//\t"+c+" "), "doc.go's # Codes lists %s", c)
	}
	for _, flag := range []string{"-map", "-ignore-unknown", "-print-map", "-encoding", "-date-format", "-tz", "-values", "-report-excel"} {
		assert.True(t, strings.Contains(doc, flag+" ") || strings.Contains(doc, flag+"\n"), "doc.go describes %s", flag)
	}
}
