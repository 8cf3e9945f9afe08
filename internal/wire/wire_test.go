package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeEnvelopeTimeBlock: the portal sends some time fields as
// strings, and the operating fields only where it enforces that limit.
func TestDecodeEnvelopeTimeBlock(t *testing.T) {
	env, ok := DecodeEnvelope([]byte(`{"result":1,"time":{"start":"1778747192.91","finish":1778747193,"processing":0.5,"operating":3.3,"operating_reset_at":1778747792}}`))
	require.True(t, ok)
	require.NotNil(t, env.Time)
	assert.InDelta(t, 1778747192.91, env.Time.Start, 1e-6)
	assert.True(t, env.Time.HasOperating)
	assert.Equal(t, int64(1778747792), env.Time.OperatingResetAt.Unix())
}

// TestDecodeTimeBlockClampsAbsurdReadings: readings no portal can produce
// (1e308 seconds, negative durations, stamps thousands of years away) are
// read as not reported, so no budget waits on them.
func TestDecodeTimeBlockClampsAbsurdReadings(t *testing.T) {
	for _, body := range []string{
		`{"start":1e308,"finish":1e308,"duration":1e308,"processing":1e308,"operating":1e308,"operating_reset_at":1e308}`,
		`{"start":-5,"finish":-1e308,"duration":-1,"processing":-0.5,"operating":-3,"operating_reset_at":-1e308}`,
		`{"start":"9e18","finish":"1e19","duration":"1e10","processing":"1e10","operating":"1e10","operating_reset_at":"9.3e18"}`,
	} {
		var rt ResponseTime
		require.NoError(t, rt.UnmarshalJSON([]byte(body)))
		assert.Zero(t, rt.Start, body)
		assert.Zero(t, rt.Finish, body)
		assert.Zero(t, rt.Duration, body)
		assert.Zero(t, rt.Processing, body)
		assert.False(t, rt.HasOperating, body)
		assert.Zero(t, rt.Operating, body)
		assert.True(t, rt.OperatingResetAt.IsZero(), body)
	}
	var rt ResponseTime
	require.NoError(t, rt.UnmarshalJSON([]byte(`{"start":1778747192,"finish":1778747193,"duration":1,"processing":0.9,"operating":0,"operating_reset_at":1778747792}`)))
	assert.True(t, rt.HasOperating, "a zero reading is a reading")
	assert.InDelta(t, 0.9, rt.Processing, 1e-9)
	assert.Equal(t, int64(1778747792), rt.OperatingResetAt.Unix())
}
