package transport

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onlyReader hides every method but Read, as a response body does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReadCappedGrowsToTheCapNotPast: reading an answer of unknown length
// allocates about twice what it keeps (a buffer doubling up to the cap),
// not the several times that growing by append costs; an answer over the
// cap fails having allocated no more than that either; a declared length
// is allocated once.
func TestReadCappedGrowsToTheCapNotPast(t *testing.T) {
	const limit = 8 << 20
	body := bytes.Repeat([]byte("x"), limit)
	var got []byte
	var err error
	n := allocated(func() { got, err = readCapped(onlyReader{bytes.NewReader(body)}, limit, -1) })
	require.NoError(t, err)
	assert.Len(t, got, limit)
	assert.Less(t, n, uint64(limit*22/10), "an answer of the cap's size, length unknown")

	huge := bytes.Repeat([]byte("x"), 4*limit)
	n = allocated(func() { _, err = readCapped(onlyReader{bytes.NewReader(huge)}, limit, -1) })
	assert.True(t, errors.Is(err, ErrResponseTooLarge))
	assert.Less(t, n, uint64(limit*22/10), "an answer over the cap")

	small := body[:limit/2]
	n = allocated(func() { got, err = readCapped(onlyReader{bytes.NewReader(small)}, limit, int64(len(small))) })
	require.NoError(t, err)
	assert.Len(t, got, len(small))
	assert.Less(t, n, uint64(1.1*float64(len(small))), "a declared length is allocated once")

	n = allocated(func() { _, err = readCapped(onlyReader{bytes.NewReader(huge)}, limit, int64(len(huge))) })
	assert.True(t, errors.Is(err, ErrResponseTooLarge), "a declared length over the cap fails before reading")
	assert.Less(t, n, uint64(1<<20))
}

// TestReadCappedDeclaredLengthIsNotTrusted: an answer longer or shorter
// than its declared length is read as it comes, within the cap.
func TestReadCappedDeclaredLengthIsNotTrusted(t *testing.T) {
	body := bytes.Repeat([]byte("y"), 3000)
	got, err := readCapped(onlyReader{bytes.NewReader(body)}, 4096, 10)
	require.NoError(t, err)
	assert.Equal(t, body, got, "longer than declared")
	got, err = readCapped(onlyReader{bytes.NewReader(body)}, 4096, 100000)
	assert.True(t, errors.Is(err, ErrResponseTooLarge), "a declared length over the cap")
	assert.Empty(t, got)
	got, err = readCapped(onlyReader{bytes.NewReader(body[:5])}, 4096, 2000)
	require.NoError(t, err)
	assert.Equal(t, body[:5], got, "shorter than declared")
	_, err = readCapped(onlyReader{bytes.NewReader(body)}, 2999, -1)
	assert.True(t, errors.Is(err, ErrResponseTooLarge), "one byte over")
	got, err = readCapped(onlyReader{bytes.NewReader(body)}, 3000, -1)
	require.NoError(t, err, "exactly the cap")
	assert.Len(t, got, 3000)
}

// TestPostDeclaresItsLength: the body goes out with its Content-Length,
// not chunked (the portal's nginx and PHP read either, but a length lets
// them refuse an oversized request before reading it), and as it was given.
func TestPostDeclaresItsLength(t *testing.T) {
	body := []byte(`{"cmd":{"c0":"crm.item.batchImport?entityTypeId=2&data[0][title]=a"}}`)
	var gotLen int64
	var gotTE []string
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotLen, gotTE = r.ContentLength, r.TransferEncoding
		if r.ContentLength > 1000 {
			_, _ = io.Copy(io.Discard, r.Body) // the big one: read without keeping it
		} else {
			got, _ = io.ReadAll(r.Body)
		}
		_, _ = w.Write([]byte(`{"result":true}`))
	}))
	defer srv.Close()
	tr := New(srv.Client(), "b24-test", 1<<20)
	resp, wrote, err := tr.Post(t.Context(), srv.URL, body)
	require.NoError(t, err)
	assert.True(t, wrote)
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, int64(len(body)), gotLen)
	assert.Empty(t, gotTE)
	assert.Equal(t, body, got)
	big := make([]byte, 1<<20)
	alloc := allocated(func() { _, _, _ = tr.Post(t.Context(), srv.URL, big) })
	assert.Less(t, alloc, uint64(1<<20), "a body of 1 MiB was copied on the way out")
}
