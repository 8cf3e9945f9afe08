package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
)

func TestE2E_TwoRunsCreateNothingTwice(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 200, true)
	_, report := runPaths(t)
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-report", report)...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 200, rejected 0")
	assert.NotContains(t, res.stderr, "no dedup key")

	// No journal: the second run finds every row in the portal.
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-report", report)...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 200 (created 0, already there 200, updated 0)")
	assert.Equal(t, 200, srv.ItemCount(b24.EntityDeal))
	rows := readReport(t, report)
	assert.Equal(t, "found", rows["2"][5])
	assert.NotEmpty(t, rows["2"][2], "the id of the item found")
}

func TestE2E_EditedReRunAndUpsert(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "deals.csv")
	write := func(body string) {
		require.NoError(t, os.WriteFile(input, []byte(body), 0o644))
	}
	write("Deal ID;title;opportunity\n1;Alpha;10\n2;Beta;20\n3;Gamma;30\n")
	args := func(flags ...string) []string {
		return dealArgs(input, append([]string{"-originator", "legacy", "-key-column", "Deal ID", "-journal", filepath.Join(dir, "j1")}, flags...)...)
	}
	res := runCLI(t, srv.WebhookURL(), args()...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.NotContains(t, res.stderr, `"Deal ID"`, "the key column is the key, not a field")
	items := srv.Items(b24.EntityDeal)
	require.Len(t, items, 3)
	assert.Equal(t, "legacy", items[0].Fields["originatorId"])
	assert.Equal(t, "1", items[0].Fields["originId"])
	assert.NotContains(t, items[0].Fields, "Deal ID")

	// The file is edited (a row changed, one added): a new journal does
	// not create the old rows again.
	write("Deal ID;title;opportunity\n1;Alpha;10\n2;Beta (renamed);25\n3;Gamma;30\n4;Delta;40\n")
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-originator", "legacy", "-key-column", "Deal ID", "-journal", filepath.Join(dir, "j2"))...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 4 (created 1, already there 3, updated 0)")
	assert.Equal(t, map[string]int{"Alpha": 1, "Beta": 1, "Gamma": 1, "Delta": 1}, titles(srv))

	// An upsert writes what changed.
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-originator", "legacy", "-key-column", "Deal ID", "-existing", "update")...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 4 (created 0, already there 3, updated 1)")
	assert.Equal(t, map[string]int{"Alpha": 1, "Beta (renamed)": 1, "Gamma": 1, "Delta": 1}, titles(srv))
	assert.Equal(t, 4, srv.ItemCount(b24.EntityDeal))
}

func TestE2E_RejectsRoundTrip(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "deals.csv")
	body := "\xEF\xBB\xBForiginatorId;originId;title;opportunity;comments\n" +
		"e2e;1;Alpha;10;plain\n" +
		"e2e;2;Beta;lots;\"two\nlines\"\n" +
		"e2e;3;Gamma;30;\n" +
		"e2e;4;;40;no title\n"
	require.NoError(t, os.WriteFile(input, []byte(body), 0o644))
	rejects := filepath.Join(dir, "rejects.csv")
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-rejects", rejects)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "rejects: "+rejects+" (2 rows")
	got, err := os.ReadFile(rejects)
	require.NoError(t, err)
	assert.Equal(t, "\xEF\xBB\xBForiginatorId;originId;title;opportunity;comments\n"+
		"e2e;2;Beta;lots;\"two\nlines\"\n"+
		"e2e;4;;40;no title\n", string(got), "the rows as they were, with the header and delimiter")

	// Fixed and imported again: only they are created.
	fixed := strings.Replace(strings.Replace(string(got), "lots", "20", 1), ";;40", ";Delta;40", 1)
	require.NoError(t, os.WriteFile(rejects, []byte(fixed), 0o644))
	res = runCLI(t, srv.WebhookURL(), dealArgs(rejects, "-rejects", filepath.Join(dir, "rejects2.csv"))...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "rejects: "+filepath.Join(dir, "rejects2.csv")+" (no row was rejected)")
	assert.Equal(t, map[string]int{"Alpha": 1, "Beta": 1, "Gamma": 1, "Delta": 1}, titles(srv))

	// JSON Lines keep their lines.
	jl := filepath.Join(dir, "deals.jsonl")
	require.NoError(t, os.WriteFile(jl, []byte(`{"title":"J1","originatorId":"j","originId":"1"}`+"\n"+
		`{"title":"J2","originatorId":"j"}`+"\n"+"\n"+`{"title":"J3","opportunity":"x"}`+"\n"), 0o644))
	jrej := filepath.Join(dir, "rejects.jsonl")
	res = runCLI(t, srv.WebhookURL(), dealArgs(jl, "-rejects", jrej)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	got, err = os.ReadFile(jrej)
	require.NoError(t, err)
	assert.Equal(t, `{"title":"J2","originatorId":"j"}`+"\n"+`{"title":"J3","opportunity":"x"}`+"\n", string(got))
}

// TestE2E_RejectsOfAnExcelExport: an Excel "CSV (semicolon)" file in
// Windows-1251 starts with a sep=; line; its rejects keep that line and
// the header after it, in the file's own encoding, so the fixed file goes
// in as the original did.
func TestE2E_RejectsOfAnExcelExport(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "deals-ru.csv")
	cp := func(s string) string {
		b, err := charmap.Windows1251.NewEncoder().String(s)
		require.NoError(t, err)
		return b
	}
	head := cp("sep=;\r\nНомер;Название сделки;Дата начала\r\n")
	require.NoError(t, os.WriteFile(input, []byte(head+cp("1;Первая;05.12.2023\r\n2;Вторая;31.02.2023\r\n3;Третья;06.12.2023\r\n")), 0o644))
	rejects := filepath.Join(dir, "rejects.csv")
	args := dealArgs(input, "-originator", "excel", "-key-column", "Номер", "-rejects", rejects)
	res := runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	got, err := os.ReadFile(rejects)
	require.NoError(t, err)
	assert.Equal(t, head+cp("2;Вторая;31.02.2023\r\n"), string(got), "the sep= line, the header and the row, as they were")

	fixed := strings.Replace(string(got), "31.02.2023", "28.02.2023", 1)
	require.NoError(t, os.WriteFile(rejects, []byte(fixed), 0o644))
	res = runCLI(t, srv.WebhookURL(), dealArgs(rejects, "-originator", "excel", "-key-column", "Номер")...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Equal(t, map[string]int{"Первая": 1, "Вторая": 1, "Третья": 1}, titles(srv))
}

func TestE2E_WarnsAboutRowsWithoutKeys(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	res := runCLI(t, srv.WebhookURL(), dealArgs(writeDeals(t, 5, false))...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stderr, "5 of the first 5 rows have no dedup key")
	assert.Contains(t, res.stderr, "-originator NAME -key-column COLUMN")
}

func TestExistingFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-entity", "deal", "-existing", "merge", "x.csv"}, `-existing "merge"`},
		{[]string{"-entity", "invoice", "-originator", "x", "x.csv"}, "-originator"},
		{[]string{"-entity", "quote", "-key-column", "id", "x.csv"}, "no dedup key"},
		{[]string{"-entity", "deal", "-rejects", "x.csv", "x.csv"}, "-rejects"},
		{[]string{"-entity", "deal", "-rejects", "r.csv", "-"}, "-rejects needs a file"},
	} {
		_, err := parseFlags(append([]string{"b24import"}, tc.args...), func(string) string { return "" }, &strings.Builder{})
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.want, tc.args)
	}
	cfg, err := parseFlags([]string{"b24import", "-entity", "invoice", "-key-column", "ext", "x.csv"}, func(string) string { return "" }, &strings.Builder{})
	require.NoError(t, err)
	x, err := cfg.keys.existingMode()
	require.NoError(t, err)
	assert.Equal(t, b24.ExistingSkip, x)
}
