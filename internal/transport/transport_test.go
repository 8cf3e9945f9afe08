package transport

import (
	"bytes"
	"errors"
	"io"
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
