package b24

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBatchBodyIsTheJSONOfItsCommands: commands written in place come out
// as encoding/json would write them, escaped where JSON needs it, and a
// command that fails to encode leaves no trace.
func TestBatchBodyIsTheJSONOfItsCommands(t *testing.T) {
	lines := []batchLine{
		{id: "c0", line: "crm.item.batchImport?entityTypeId=2&data[0][title]=%D0%90"},
		{id: "c1", line: `crm.item.get?id=1&note="quoted" \ back`},
		{id: "c2", line: "crm.item.list?filter[title]=Ёж\ttab\x01"},
	}
	var body struct {
		Halt int               `json:"halt"`
		Cmd  map[string]string `json:"cmd"`
	}
	raw := batchBody(lines, true)
	require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
	assert.Equal(t, 1, body.Halt)
	require.Len(t, body.Cmd, 3)
	for _, l := range lines {
		assert.Equal(t, l.line, body.Cmd[l.id])
	}

	b := appendBatchHead(nil, false)
	b, err := appendBatchCommand(b, true, "c0", func(b []byte) ([]byte, error) { return append(b, "ok"...), nil })
	require.NoError(t, err)
	b, err = appendBatchCommand(b, false, "c1", func(b []byte) ([]byte, error) {
		return append(b, "half written"...), errors.New("not packable")
	})
	require.Error(t, err)
	assert.JSONEq(t, `{"halt":0,"cmd":{"c0":"ok"}}`, string(appendBatchTail(b)))
}
