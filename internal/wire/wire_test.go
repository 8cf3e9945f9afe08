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
