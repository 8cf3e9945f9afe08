package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.csv")
	r, err := createReport(path, reportOptions{inputOrder: true})
	require.NoError(t, err)
	r.expect(2, "crm/1", "Deal one")
	r.expect(3, "", "Deal two")
	r.expect(4, "", "")
	r.add(3, outcome{status: stRejected, code: "B24IMPORT_INVALID_VALUE", desc: `column "x": "a,b" is not a number`})
	r.add(2, outcome{status: stImported, id: 5})
	require.NoError(t, r.close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "line,status,id,key,title,code,description,action\n2,imported,5,crm/1,Deal one,,,\n3,rejected,,,Deal two,B24IMPORT_INVALID_VALUE,\"column \"\"x\"\": \"\"a,b\"\" is not a number\",\n", string(b),
		"input order, although line 3 came first; line 4 never settled is left out")

	xl := filepath.Join(t.TempDir(), "x.csv")
	r, err = createReport(xl, reportOptions{excel: true})
	require.NoError(t, err)
	r.add(7, outcome{status: stRejected, desc: "Сумма; не число"})
	require.NoError(t, r.close())
	b, err = os.ReadFile(xl)
	require.NoError(t, err)
	assert.Equal(t, "\ufeffline;status;id;key;title;code;description;action\r\n7;rejected;;;;;\"Сумма; не число\";\r\n", string(b))

	_, err = createReport(filepath.Join(t.TempDir(), "no", "such", "dir", "r.csv"), reportOptions{})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "report: "), err.Error())
}

func TestTallySummary(t *testing.T) {
	var b strings.Builder
	tl := tally{imported: 3, rejected: 1, fromJournal: 2, sentThisRun: 2}
	tl.printSummary(&b, 2e9)
	assert.Equal(t, "imported 3, rejected 1, unknown 0, not sent 0 (2 of them settled by an earlier run); 2s, 1.0 items/s\n", b.String())
	assert.False(t, tl.allImported())
}

func TestReportCompletionOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.csv")
	r, err := createReport(path, reportOptions{})
	require.NoError(t, err)
	r.expect(2, "", "first")
	r.expect(3, "", "second")
	r.add(3, outcome{status: stImported, id: 9})
	r.add(2, outcome{status: stImported, id: 8})
	require.NoError(t, r.close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "line,status,id,key,title,code,description,action\n3,imported,9,,second,,,\n2,imported,8,,first,,,\n", string(b))
}
