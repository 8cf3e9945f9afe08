package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The answers below have the shapes of answers recorded from live portals
// and from the official docs; the values are the tests' own.

// Newer portals send an integral start and processing 0; older ones omit
// operating_reset_at while reporting operating.
func TestTimeBlockShapes(t *testing.T) {
	var tb ResponseTime
	require.NoError(t, json.Unmarshal([]byte(`{"start":1780000000,"finish":1780000000.25,"duration":0.25,`+
		`"processing":0,"date_start":"2026-05-28T22:13:20+03:00","date_finish":"2026-05-28T22:13:20+03:00",`+
		`"operating_reset_at":1780000600,"operating":0.125}`), &tb))
	assert.Equal(t, 1780000000.0, tb.Start)
	assert.Equal(t, 0.0, tb.Processing)
	assert.Equal(t, 0.25, tb.Duration)
	assert.True(t, tb.HasOperating)
	assert.Equal(t, time.Unix(1780000600, 0), tb.OperatingResetAt)

	tb = ResponseTime{}
	require.NoError(t, json.Unmarshal([]byte(`{"start":1650000000.5,"finish":1650000000.75,"duration":0.25,`+
		`"processing":0.2,"operating":1.5}`), &tb))
	assert.True(t, tb.HasOperating, "operating without a reset time")
	assert.Equal(t, 1.5, tb.Operating)
	assert.True(t, tb.OperatingResetAt.IsZero())

	tb = ResponseTime{}
	require.NoError(t, json.Unmarshal([]byte(`{"start":"1650000000.5","processing":"0.2"}`), &tb))
	assert.Equal(t, 1650000000.5, tb.Start, "numbers as strings")
	assert.False(t, tb.HasOperating, "no operating: the portal does not enforce the limit")
}

// A batch whose command ids are 0..n-1 comes back with its sections as
// JSON lists, as PHP encodes such arrays; result_error may be a list while
// result is an object (numeric ids that are not 0..n-1).
func TestBatchSectionsAsLists(t *testing.T) {
	a, err := DecodeBatchAnswer([]byte(`{"result":[[{"ID":"1"}],{"item":{"id":"15"}}],"result_error":[],` +
		`"result_total":[3],"result_next":[],"result_time":[{"start":1670000000.5,"finish":1670000000.6,` +
		`"duration":0.1,"processing":0.09,"operating_reset_at":1670000600,"operating":0},` +
		`{"start":1670000000.6,"finish":1670000000.7,"duration":0.1,"processing":0.08}]}`))
	require.NoError(t, err)
	assert.JSONEq(t, `[{"ID":"1"}]`, string(a.Result["0"]))
	assert.JSONEq(t, `{"item":{"id":"15"}}`, string(a.Result["1"]))
	require.Contains(t, a.ResultTime, "0")
	assert.True(t, a.ResultTime["0"].HasOperating)
	assert.False(t, a.ResultTime["1"].HasOperating)
	assert.Equal(t, FlexInt(3), a.ResultTotal["0"])
	assert.Empty(t, a.ResultError)

	a, err = DecodeBatchAnswer([]byte(`{"result":{"35":{"ID":"35"}},"result_error":[{"error":"",` +
		`"error_description":"ID is not defined or invalid."},{"error":"","error_description":"Not found"}],` +
		`"result_total":[],"result_next":[],"result_time":{"35":{"start":1653000000.3,"operating":1.8}}}`))
	require.NoError(t, err)
	assert.Contains(t, a.Result, "35")
	require.Len(t, a.ResultError, 2)
	assert.Equal(t, FlexString("Not found"), a.ResultError["1"].ErrorDescription)
	assert.Equal(t, 1.8, a.ResultTime["35"].Operating)
}

// Ids come as numbers or numeric strings.
func TestImportAnswersWithStringIDs(t *testing.T) {
	answers, err := DecodeImportAnswers([]byte(`{"items":[{"item":{"id":"15"}},{"error":"CRM_FIELD_ERROR_REQUIRED",`+
		`"error_description":"required"},{"item":{"id":16}}]}`), 3)
	require.NoError(t, err)
	assert.Equal(t, FlexInt(15), answers[0].Item.ID)
	assert.Equal(t, FlexString("CRM_FIELD_ERROR_REQUIRED"), answers[1].Error)
	assert.Equal(t, FlexInt(16), answers[2].Item.ID)
}

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

// importAnswerSeeds are answers of crm.item.batchImport, the common shape
// the scan reads and the shapes it must leave to encoding/json.
var importAnswerSeeds = []string{
	`{"items":[{"item":{"id":15}},{"item":{"id":16}}]}`,
	"{ \"items\" : [ { \"item\" : { \"id\" : 15 } } ,\n\t{\"item\":{\"id\":900719925474099}} ] }",
	`{"items":[]}`, `{"items":[{"item":{"id":0}}]}`, `{"items":[{"item":{"id":015}}]}`,
	`{"items":[{"item":{"id":9007199254740993}}]}`, `{"items":[{"item":{"id":1e3}}]}`,
	`{"items":[{"item":{"id":15.0}}]}`, `{"items":[{"item":{"id":"15"}}]}`, `{"items":[{"item":{"id":-4}}]}`,
	`{"items":[{"item":{"id":15}},{"error":"CRM_FIELD_ERROR_REQUIRED","error_description":"x"}]}`,
	`{"items":[{"item":{"id":15,"title":"x"}}]}`, `{"items":[{"item":{"id":15}}],"more":1}`,
	`{"items":[{"item":{"id":15}}]} x`, `{"items":[{"item":{"id":15}},]}`, `{"items":[{"item":{"id":15}}`,
	`{"items":{"0":{"item":{"id":7}}}}`, `{"items":null}`, `[]`, `{}`,
}

// TestScanImportIDsAgreesWithDecoder holds the scan to what encoding/json
// makes of the same answer, for more, as many and fewer rows than answers.
func TestScanImportIDsAgreesWithDecoder(t *testing.T) {
	scanned := 0
	for _, s := range importAnswerSeeds {
		for _, n := range []int{0, 1, 2, 3} {
			if sameImportAnswers(t, []byte(s), n) {
				scanned++
			}
		}
	}
	if scanned < 10 {
		t.Fatalf("the scan took %d of the answers, want the common shapes taken", scanned)
	}
}

// FuzzScanImportIDs holds the scan to the decoder on any text.
func FuzzScanImportIDs(f *testing.F) {
	for _, s := range importAnswerSeeds {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, raw []byte, n uint8) { sameImportAnswers(t, raw, int(n%41)) })
}

// sameImportAnswers fails t when the scan takes raw and reads it otherwise
// than decodeImportAnswers; it reports whether the scan took it.
func sameImportAnswers(t *testing.T, raw []byte, n int) bool {
	t.Helper()
	got, ok := scanImportIDs(raw, n)
	if !ok {
		return false
	}
	want, err := decodeImportAnswers(raw, n)
	if err != nil {
		t.Fatalf("%q: the scan read it, the decoder refused it: %v", raw, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%q, %d rows: %d answers scanned, %d decoded", raw, n, len(got), len(want))
	}
	for i := range got {
		if (got[i] == nil) != (want[i] == nil) || got[i] != nil && !reflect.DeepEqual(*got[i], *want[i]) {
			t.Fatalf("%q, %d rows: answer %d scanned as %+v, decoded as %+v", raw, n, i, got[i], want[i])
		}
	}
	return true
}

// batchAnswerSeeds are batch answers' results: sections as objects, as
// lists and as [], keys with escapes, strings holding brackets and quotes.
var batchAnswerSeeds = []string{
	`{"result":{"c0":{"items":[{"item":{"id":1}}]},"c1":{"items":[]}},"result_error":[],"result_total":[],"result_next":[],` +
		`"result_time":{"c0":{"start":1,"finish":2,"duration":1,"processing":1,"date_start":"x","date_finish":"y"}}}`,
	`{"result":[{"a":1},[]],"result_error":{"1":{"error":"NOT_FOUND","error_description":"no"}}}`,
	"{ \"result\" : { \"q\\u0030\" : 1, \"q1\" : \"}]\\\"[{\" , \"q2\":[1,{\"x\":[]}],\"q3\":null,\"q4\":-1.5e3 } }",
	`{"result":{},"result_error":[]}`, `{"result":[]}`, `{}`, `[]`, `{"result":{"a":1,"a":2}}`,
}

// TestBatchAnswerSplitAgreesWithDecoder holds the split in place to what
// encoding/json reads from the same answer.
func TestBatchAnswerSplitAgreesWithDecoder(t *testing.T) {
	for _, s := range batchAnswerSeeds {
		sameBatchAnswers(t, []byte(s))
	}
}

// FuzzBatchAnswerSplit holds the split to the decoder on any valid JSON.
func FuzzBatchAnswerSplit(f *testing.F) {
	for _, s := range batchAnswerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		splitObject(raw, func(k, v []byte) {}) // any text: no panic
		sameBatchAnswers(t, raw)
	})
}

func sameBatchAnswers(t *testing.T, raw []byte) {
	t.Helper()
	if !json.Valid(raw) {
		return
	}
	got, gotErr := decodeBatchAnswer(raw, true)
	want, wantErr := decodeBatchAnswer(raw, false)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: split: %v, decoder: %v", raw, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: split as %+v, decoded as %+v", raw, got, want)
	}
}

// envelopeSeeds are answers as portals send them and shapes that the
// split must leave to encoding/json.
var envelopeSeeds = []string{
	`{"result":{"items":[{"item":{"id":1}}]},"time":{"start":1723414961.9,"finish":1723414964.6,"duration":2.7,` +
		`"processing":2.3,"date_start":"2024-08-11T22:22:41+00:00","date_finish":"2024-08-11T22:22:44+00:00","operating":2.3}}`,
	`{"result":[],"total":"12","next":50,"time":{"start":"1723414961","operating_reset_at":1723415561}}`,
	`{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`, `{"error":100,"error_description":null}`,
	`{"error":{"code":1}}`, `{"result":null}`, `{"time":null,"total":null}`, `{"RESULT":1,"result":2}`, `{"Result":3}`,
	`{"res\u0075lt":4}`, `{"total":1.5}`, `{"next":"x"}`, `{"result":1,"result":2}`, `{"time":[]}`, `{"time":{"st\u0061rt":1}}`,
	`{"time":{"start":1e400}}`, `{"other":{"result":1}}`, `{}`, ` {"result":true} `,
}

// decodeEnvelopeJSON is DecodeEnvelope through encoding/json alone.
func decodeEnvelopeJSON(body []byte) (*Envelope, bool) {
	env := &Envelope{}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, env) != nil {
		return env, false
	}
	return env, true
}

// TestEnvelopeSplitAgreesWithDecoder holds DecodeEnvelope to encoding/json.
func TestEnvelopeSplitAgreesWithDecoder(t *testing.T) {
	for _, s := range envelopeSeeds {
		sameEnvelopes(t, []byte(s))
	}
}

// FuzzEnvelopeSplit holds DecodeEnvelope to encoding/json on any text.
func FuzzEnvelopeSplit(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameEnvelopes(t, body) })
}

func sameEnvelopes(t *testing.T, body []byte) {
	t.Helper()
	got, gotOK := DecodeEnvelope(body)
	want, wantOK := decodeEnvelopeJSON(body)
	if gotOK != wantOK {
		t.Fatalf("%q: ok %v, encoding/json: %v", body, gotOK, wantOK)
	}
	if !gotOK {
		return
	}
	if !bytes.Equal(got.Result, want.Result) || !reflect.DeepEqual(got.Total, want.Total) || !reflect.DeepEqual(got.Next, want.Next) ||
		!reflect.DeepEqual(got.Time, want.Time) || got.Error != want.Error || got.ErrorDescription != want.ErrorDescription {
		t.Fatalf("%q:\n split   %+v\n decoded %+v", body, got, want)
	}
}
