package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDistinctFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	require.NoError(t, os.WriteFile(in, []byte("x"), 0o644))
	hard := filepath.Join(dir, "hard.csv")
	require.NoError(t, os.Link(in, hard))
	soft := filepath.Join(dir, "soft.csv")
	require.NoError(t, os.Symlink("in.csv", soft))
	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink("later.jsonl", dangling))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	linkedDir := filepath.Join(dir, "linked")
	require.NoError(t, os.Symlink("sub", linkedDir))

	for _, pair := range [][2]string{
		{in, hard}, {in, soft}, {hard, soft},
		{dangling, filepath.Join(dir, "later.jsonl")},                       // a link to a file not made yet
		{filepath.Join(sub, "r.csv"), filepath.Join(linkedDir, "r.csv")},    // through a linked directory
		{in, filepath.Join(dir, ".", "sub", "..", "in.csv")},                // spelled differently
		{filepath.Join(dir, "new.csv"), filepath.Join(dir, "x/../new.csv")}, // neither exists
	} {
		err := distinctFiles(namedPath{"a", pair[0]}, namedPath{"b", pair[1]})
		assert.Error(t, err, "%s and %s are one file", pair[0], pair[1])
	}
	assert.NoError(t, distinctFiles(namedPath{"the input", in}, namedPath{"-journal", filepath.Join(dir, "j")}, namedPath{"-report", ""}))
	assert.NoError(t, distinctFiles(namedPath{"the input", "-"}, namedPath{"-journal", "-"}))
}

// TestReportAndJournalNeverDestroyAnotherFile: a -report or -journal path
// that is a symbolic or hard link to the input, the journal or the report
// is refused before anything is written, and the report replaces a link
// at its path instead of writing through it.
func TestReportAndJournalNeverDestroyAnotherFile(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 5, true)
	original, err := os.ReadFile(input)
	require.NoError(t, err)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal.jsonl")
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-journal", journal)...)
	require.Equal(t, exitOK, res.code, res.stderr)
	journalBefore, err := os.ReadFile(journal)
	require.NoError(t, err)

	reportToInput := filepath.Join(dir, "report-to-input.csv")
	require.NoError(t, os.Symlink(input, reportToInput))
	reportHardJournal := filepath.Join(dir, "report-hard-journal.csv")
	require.NoError(t, os.Link(journal, reportHardJournal))
	journalToInput := filepath.Join(dir, "journal-to-input.jsonl")
	require.NoError(t, os.Symlink(input, journalToInput))
	for name, flags := range map[string][]string{
		"report is a symbolic link to the input":   {"-report", reportToInput},
		"report is a hard link to the journal":     {"-journal", journal, "-report", reportHardJournal},
		"journal is a symbolic link to the input":  {"-journal", journalToInput},
		"report is the journal under another name": {"-journal", journal, "-report", filepath.Join(dir, ".", "journal.jsonl")},
	} {
		res := runCLI(t, srv.WebhookURL(), dealArgs(input, flags...)...)
		assert.Equal(t, exitFatal, res.code, "%s: %s", name, res.stderr)
		assert.Contains(t, res.stderr, "are the same file", name)
	}
	after, err := os.ReadFile(input)
	require.NoError(t, err)
	assert.Equal(t, original, after, "the input is intact")
	journalAfter, err := os.ReadFile(journal)
	require.NoError(t, err)
	assert.Equal(t, journalBefore, journalAfter, "the journal is intact")
	assert.Equal(t, 5, srv.ItemCount(b24.EntityDeal))

	// A report path that links to an unrelated file: the link is replaced.
	notes := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notes, []byte("keep me\n"), 0o644))
	report := filepath.Join(dir, "report.csv")
	require.NoError(t, os.Symlink(notes, report))
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-journal", journal, "-report", report)...)
	require.Equal(t, exitOK, res.code, res.stderr)
	kept, err := os.ReadFile(notes)
	require.NoError(t, err)
	assert.Equal(t, "keep me\n", string(kept))
	fi, err := os.Lstat(report)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the report is a file of its own now")
	assert.Len(t, readReport(t, report), 5)
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".report.csv.*"))
	assert.Empty(t, leftovers, "no temporary file is left behind")
}

// TestJournalRefusesAFileThatIsNotOne: -journal naming an unrelated file,
// even a single line without a newline (which could pass for a torn
// header), is refused and the file kept; a truly torn header is not.
func TestJournalRefusesAFileThatIsNotOne(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 3, true)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"one line, no newline": "my shopping list",
		"one line":             "my shopping list\n",
		"json of something":    `{"name":"x"}`,
		"binary":               "\x00\x01\x02",
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-journal", path)...)
		assert.Equal(t, exitFatal, res.code, "%s: %s", name, res.stderr)
		assert.Contains(t, res.stderr, "not a b24import journal", name)
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, content, string(after), "%s is kept", name)
	}
	assert.Zero(t, srv.ItemCount(b24.EntityDeal))

	torn := filepath.Join(dir, "torn.jsonl")
	require.NoError(t, os.WriteFile(torn, []byte(`{"journal":"b24impo`), 0o644))
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-journal", torn)...)
	assert.Equal(t, exitOK, res.code, res.stderr)
	assert.Equal(t, 3, srv.ItemCount(b24.EntityDeal))
}
