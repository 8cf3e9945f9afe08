package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testHeader() journalHeader {
	return journalHeader{Journal: journalVersion, Input: "d.csv", fingerprint: fingerprint{Size: 10, SHA256: "ab"}, Entity: 2}
}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path, nil, testHeader())
	require.NoError(t, err)
	require.NoError(t, j.markSent([]int{2, 3, 4}))
	require.NoError(t, j.record(2, outcome{status: stImported, id: 101}))
	require.NoError(t, j.record(3, outcome{status: stRejected, code: "X", desc: "bad"}))
	require.NoError(t, j.record(5, outcome{status: stRejected, code: codeValue, desc: "never sent"}))
	require.NoError(t, j.close())

	st, err := readJournal(path)
	require.NoError(t, err)
	require.NotNil(t, st)
	assert.Equal(t, testHeader(), st.header)
	assert.Equal(t, outcome{status: stImported, id: 101}, st.results[2])
	assert.Equal(t, outcome{status: stRejected, code: "X", desc: "bad"}, st.results[3])
	assert.True(t, st.ambiguous(4), "sent without an answer")
	assert.False(t, st.ambiguous(2))
	assert.False(t, st.ambiguous(6), "never sent")
}

func TestJournalResendAfterNotSentIsInDoubt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path, nil, testHeader())
	require.NoError(t, err)
	require.NoError(t, j.markSent([]int{2}))
	require.NoError(t, j.record(2, outcome{status: stNotSent}))
	require.NoError(t, j.markSent([]int{2})) // a later run sends it again and dies
	require.NoError(t, j.close())
	st, err := readJournal(path)
	require.NoError(t, err)
	assert.True(t, st.ambiguous(2))
}

func TestJournalTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path, nil, testHeader())
	require.NoError(t, err)
	require.NoError(t, j.markSent([]int{2, 3}))
	require.NoError(t, j.record(2, outcome{status: stImported, id: 7}))
	require.NoError(t, j.close())
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	// The process died in the middle of writing the next line.
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, good...), `{"line":3,"status":"impo`...), 0o644))

	st, err := readJournal(path)
	require.NoError(t, err)
	assert.Equal(t, int64(len(good)), st.good)
	assert.True(t, st.ambiguous(3), "the torn result does not count")

	j, err = openJournal(path, st, testHeader())
	require.NoError(t, err)
	require.NoError(t, j.record(3, outcome{status: stImported, id: 8}))
	require.NoError(t, j.close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(good)+`{"line":3,"status":"imported","id":8}`+"\n", string(b), "the torn tail is cut, not continued")
	st, err = readJournal(path)
	require.NoError(t, err)
	assert.Equal(t, int64(8), st.results[3].id)
}

func TestJournalDamage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	hdr := `{"journal":"b24import/1","input":"d.csv","size":10,"sha256":"ab","entity":2}` + "\n"

	_, err := readJournal(write("middle.jsonl", hdr+"garbage\n"+`{"line":2,"status":"imported","id":1}`+"\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "middle.jsonl:2: damaged journal line")

	_, err = readJournal(write("other.jsonl", `{"hello":"world"}`+"\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "other.jsonl:1: not a b24import journal")

	st, err := readJournal(write("torn-header.jsonl", hdr[:20]))
	require.NoError(t, err)
	assert.Nil(t, st, "a journal with only a torn header recorded nothing")

	st, err = readJournal(filepath.Join(dir, "missing.jsonl"))
	require.NoError(t, err)
	assert.Nil(t, st)

	st, err = readJournal(write("damaged-last.jsonl", hdr+`{"line":2,"status":"imported","id":1}`+"\n"+"{oops}\n"))
	require.NoError(t, err, "a damaged last line is a torn write")
	assert.Equal(t, int64(1), st.results[2].id)
}

func TestHashFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	require.NoError(t, os.WriteFile(a, []byte("title\nx\n"), 0o644))
	fa, err := hashFile(a)
	require.NoError(t, err)
	assert.Equal(t, int64(8), fa.Size)
	require.NoError(t, os.WriteFile(a, []byte("title\ny\n"), 0o644))
	fb, err := hashFile(a)
	require.NoError(t, err)
	assert.NotEqual(t, fa, fb, "same size, other content")
	assert.Len(t, fb.SHA256, 64)
}
