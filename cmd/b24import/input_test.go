package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads every row of input.
func readAll(t *testing.T, name, input string) ([]row, *inputInfo) {
	t.Helper()
	src, info, err := openSource(strings.NewReader(input), name, inputConfig{et: b24.EntityDeal, decode: true})
	require.NoError(t, err)
	var rows []row
	for {
		rw, err := src.next()
		if errors.Is(err, io.EOF) {
			return rows, info
		}
		require.NoError(t, err)
		rows = append(rows, rw)
	}
}

func TestCSVSource(t *testing.T) {
	t.Run("BOM, semicolons, quoted newline, line numbers", func(t *testing.T) {
		in := "\ufefftitle;opportunity;comments\n" +
			"Первая;\"1 000,50\";\n" +
			"\"Zweite\nmit Umbruch\";200;\"a;b\"\n" +
			"Third;300;x\n"
		rows, info := readAll(t, "d.csv", in)
		assert.Equal(t, ';', info.comma)
		require.Len(t, rows, 3)
		assert.Equal(t, []int{2, 3, 5}, []int{rows[0].line, rows[1].line, rows[2].line})
		assert.Equal(t, "Первая", rows[0].item.Title)
		assert.Equal(t, 1000.5, rows[0].item.Opportunity)
		assert.Equal(t, "Zweite\nmit Umbruch", rows[1].item.Title)
		assert.Equal(t, "a;b", rows[1].item.Comments)
		for _, r := range rows {
			assert.Nil(t, r.err)
		}
	})
	t.Run("row-level errors keep the rest going", func(t *testing.T) {
		in := "title,opportunity\n" +
			"ok,1\n" +
			"ragged\n" +
			"bad,12,5k\n" +
			"bad number,tbd\n" +
			"bare \"quote,1\n" +
			"last,2\n"
		rows, _ := readAll(t, "d.csv", in)
		var codes []string
		for _, r := range rows {
			if r.err != nil {
				codes = append(codes, r.err.code)
			} else {
				codes = append(codes, "")
			}
		}
		assert.Equal(t, []string{"", codeFieldCount, codeFieldCount, codeValue, codeSyntax, ""}, codes)
		assert.Equal(t, 7, rows[len(rows)-1].line)
	})
	t.Run("tab delimiter detected", func(t *testing.T) {
		rows, info := readAll(t, "d.tsv", "title\topportunity\nA\t1\n")
		assert.Equal(t, '\t', info.comma)
		assert.Equal(t, "A", rows[0].item.Title)
	})
	t.Run("a very long row is rejected, not fatal", func(t *testing.T) {
		in := "title,comments\nshort,x\nlong," + strings.Repeat("y", 10<<20) + "\nafter,z\n"
		rows, _ := readAll(t, "d.csv", in)
		require.Len(t, rows, 3)
		require.NotNil(t, rows[1].err)
		assert.Equal(t, codeTooLong, rows[1].err.code)
		assert.Equal(t, "after", rows[2].item.Title)
	})
	t.Run("invalid UTF-8 in a later row", func(t *testing.T) {
		in := "title\n" + strings.Repeat("fine\n", 20000) + "caf\xe9\n"
		rows, _ := readAll(t, "d.csv", in)
		last := rows[len(rows)-1]
		require.NotNil(t, last.err)
		assert.Equal(t, codeEncoding, last.err.code)
	})
}

func TestOpenSourceFatal(t *testing.T) {
	cases := []struct {
		name, input, want string
	}{
		{"empty", "", "d.csv: the file is empty"},
		{"duplicate column", "title,title\n", `d.csv:1: header: column 2 "title" repeats column 1`},
		{"typo column", "title,stagId\n", `did you mean "stageId"?`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := openSource(strings.NewReader(tc.input), "d.csv", inputConfig{et: b24.EntityDeal, decode: true})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestJSONLSource(t *testing.T) {
	in := `{"title":"One","opportunity":"100.5","originatorId":"x","originId":"1"}` + "\n" +
		"\n" +
		`{"title":"Two","PHONE":[{"VALUE":"1","VALUE_TYPE":"WORK"}],"ufCrm_5":7}` + "\r\n" +
		"not json\n" +
		`["an","array"]` + "\n" +
		`{"title":"long","comments":"` + strings.Repeat("z", 5<<20) + `"}` + "\n" +
		`{"title":"no newline at the end"}`
	rows, info := readAll(t, "d.jsonl", in)
	assert.Equal(t, "jsonl", info.format)
	require.Len(t, rows, 6)
	assert.Equal(t, []int{1, 3, 4, 5, 6, 7}, []int{rows[0].line, rows[1].line, rows[2].line, rows[3].line, rows[4].line, rows[5].line})
	assert.Equal(t, 100.5, rows[0].item.Opportunity)
	assert.Equal(t, "1", rows[1].item.Phones[0].Value)
	assert.Contains(t, rows[1].item.Fields, "ufCrm_5")
	assert.Equal(t, codeSyntax, rows[2].err.code)
	assert.Equal(t, codeSyntax, rows[3].err.code)
	assert.Equal(t, codeTooLong, rows[4].err.code)
	assert.Nil(t, rows[5].err)
	assert.Equal(t, "no newline at the end", rows[5].item.Title)
}

func TestDetectFormat(t *testing.T) {
	assert.Equal(t, "jsonl", detectFormat("x.ndjson", nil))
	assert.Equal(t, "csv", detectFormat("x.CSV", []byte("{")))
	assert.Equal(t, "jsonl", detectFormat("-", []byte("  {\"title\":1}")))
	assert.Equal(t, "csv", detectFormat("-", []byte("title,stageId")))
}
