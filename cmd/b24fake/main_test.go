package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFault(t *testing.T) {
	f, err := parseFault("kind=refuse,method=crm.item.batchImport,code=QUERY_LIMIT_EXCEEDED,status=503,times=3,p=0.5")
	require.NoError(t, err)
	assert.Equal(t, b24test.Fault{Kind: b24test.FaultRefuse, Method: "crm.item.batchImport", Code: "QUERY_LIMIT_EXCEEDED",
		Status: 503, Times: 3, Probability: 0.5}, f)
	f, err = parseFault("kind=partial,keep=5")
	require.NoError(t, err)
	assert.Equal(t, b24test.Fault{Kind: b24test.FaultPartialSave, Keep: 5}, f)
	for _, bad := range []string{"", "kind=explode", "method=x", "kind=refuse,times=many", "kind=move", "kind=drop,colour=red", "kind"} {
		_, err := parseFault(bad)
		assert.Error(t, err, bad)
	}
}

func TestRunServesAndStops(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	drained := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-run-for", "1m", "-smart-process", "1030",
			"-fault", "kind=refuse,method=profile,code=ACCESS_DENIED", "-print-oauth", "-secret", "s3cr3t"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan())
	line := sc.Text()
	require.True(t, strings.HasPrefix(line, "webhook: http://127.0.0.1:"), line)
	url := strings.TrimPrefix(line, "webhook: ")
	assert.True(t, strings.HasSuffix(url, "/rest/1/s3cr3t/"), url)
	go func() { // drain the OAuth lines
		for sc.Scan() {
		}
		close(drained)
	}()

	resp, err := http.Post(url+"crm.item.batchImport.json", "application/json",
		strings.NewReader(`{"entityTypeId":1030,"data":[{"title":"from the command"}]}`))
	require.NoError(t, err)
	var got struct {
		Result struct {
			Items []struct{ Item struct{ ID int64 } }
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	require.Len(t, got.Result.Items, 1)
	assert.Equal(t, int64(1), got.Result.Items[0].Item.ID)

	resp, err = http.Get(url + "profile")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the -fault flag is active")
	cancel()
	require.NoError(t, <-done, "stops cleanly when the context ends")
	<-drained
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-fault", "kind=nope"}, {"extra"}, {"-smart-process", "x"}, {"-addr", "256.0.0.1:99999"}} {
		assert.Error(t, run(t.Context(), args, io.Discard, io.Discard), "%q", args)
	}
}
