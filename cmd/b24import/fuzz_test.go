package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/b24kit/b24"
)

// Fuzz targets for the row readers: whatever bytes a user's file holds,
// reading it ends (EOF or a fatal input error) without a panic, every row
// has a line number past the previous one, and a row that is not rejected
// holds only valid UTF-8 and passes the SDK's encoder.

func fuzzRead(t *testing.T, data []byte, name string, cfg inputConfig) {
	src, _, err := openSource(bytes.NewReader(data), name, cfg)
	if err != nil {
		return
	}
	last := 0
	// A row needs at least one byte, so more rows than bytes means a loop.
	for n := 0; n <= len(data)+1; n++ {
		rw, err := src.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			return // fatal input error: reported, no panic
		}
		if rw.line <= last {
			t.Fatalf("line %d after line %d", rw.line, last)
		}
		last = rw.line
		if rw.err != nil {
			if !strings.HasPrefix(rw.err.code, "B24IMPORT_") {
				t.Fatalf("row error code %q", rw.err.code)
			}
			continue
		}
		if cfg.decode {
			// Rows the reader accepts go to the SDK, which may still reject
			// them (validation) but must not choke on them.
			_ = rw.item.Validate(cfg.et)
			if _, err := rw.item.MarshalJSON(); err != nil && rw.item.Validate(cfg.et) == nil {
				t.Fatalf("line %d: valid item does not encode: %v", rw.line, err)
			}
		}
	}
	t.Fatalf("more rows than bytes: the reader does not advance")
}

func FuzzCSVSource(f *testing.F) {
	for _, s := range []string{
		"title,opportunity,currencyId\nDeal 1,100.50,EUR\n",
		"\ufefftitle;opportunity;comments\nПервая;\"1 000,50\";\n\"Zweite\nmit Umbruch\";200;\"a;b\"\n",
		"originatorId,originId,title,PHONE,createdTime,isRecurring\nx,1,A,+1 555,2024-01-02T03:04:05+00:00,Y\n",
		"title,ufCrm1Data,UF_CRM_2\na,\"[1,2]\",x\n",
		"title,opportunity\nbare \"quote,1\nragged\n,\n\"unterminated\n",
		"title\n\xff\xfe\n",
		"a\tb\tc\n1\t2\t3\n",
		"title,title\nx,y\n",
		"",
		"\n\n\n",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, decode bool) {
		fuzzRead(t, data, "in.csv", inputConfig{format: "csv", et: b24.EntityDeal, decode: decode})
	})
}

func FuzzJSONLSource(f *testing.F) {
	for _, s := range []string{
		`{"title":"A","opportunity":1.5,"contactIds":[1,2]}` + "\n" + `{"title":"B","PHONE":[{"VALUE":"1","VALUE_TYPE":"WORK"}]}` + "\n",
		`{"title":"A"}` + "\r\n\r\n" + `{"title":` + "\n" + `[1,2]` + "\n" + `"x"` + "\n" + `null` + "\n",
		`{"createdTime":"2024-01-02T03:04:05Z","updatedTime":"bad"}` + "\n",
		`{"ufCrm1":{"a":{"b":[1,{"c":null}]}},"opened":true,"probability":"50"}` + "\n",
		"\xef\xbb\xbf" + `{"title":"bom"}` + "\n",
		`{"title":"\ud800"}` + "\n" + `{"title":"a` + "\xff" + `"}` + "\n",
		`{"title":"A","title":"B"}`,
		"", "\n", "{}\n{}\n",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, decode bool) {
		fuzzRead(t, data, "in.jsonl", inputConfig{format: "jsonl", et: b24.EntityContact, decode: decode})
	})
}

// FuzzSniffedSource lets the reader pick the format and the delimiter.
func FuzzSniffedSource(f *testing.F) {
	f.Add([]byte("title;opportunity\nA;1\n"))
	f.Add([]byte(`{"title":"A"}` + "\n"))
	f.Add([]byte("title|x\nA|1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data, "-", inputConfig{et: b24.EntityLead, decode: true})
	})
}
