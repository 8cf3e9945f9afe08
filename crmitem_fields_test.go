package b24

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestItemTagsMatchTable keeps the documenting json tags, the field table
// and the struct in step: every typed field is in the table under its tag
// name, in declaration order.
func TestItemTagsMatchTable(t *testing.T) {
	typ := reflect.TypeFor[Item]()
	var wires, goNames []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		if tag == "-" || strings.ToUpper(tag) == tag {
			continue // Parents, Fields, multifields
		}
		wires = append(wires, tag)
		goNames = append(goNames, f.Name)
	}
	var tableWires, tableGo []string
	for _, f := range itemFields {
		tableWires = append(tableWires, f.wire)
		tableGo = append(tableGo, f.goName)
	}
	assert.Equal(t, wires, tableWires)
	assert.Equal(t, goNames, tableGo)
	for _, mk := range multifieldKeys {
		f, ok := typ.FieldByName(mk.goName)
		require.True(t, ok, mk.goName)
		assert.Equal(t, mk.wire, strings.Split(f.Tag.Get("json"), ",")[0])
	}
}

// kindSamples gives, per Go type of typed fields, a value each kind must
// send and read back, the JSON it is sent as, and a value validation must
// refuse with the problem it names. A new kind without samples fails
// TestFieldKinds.
var kindSamples = map[reflect.Type]struct {
	good       any
	wire       string
	bad        any
	problem    string
	unsendable bool // encoding refuses bad too
}{
	reflect.TypeFor[string]():  {"Ann & \"Co\"", `"Ann & \"Co\""`, "a\xffb", "not valid UTF-8", false},
	reflect.TypeFor[int64]():   {int64(42), `42`, int64(-1), "-1 is negative", false},
	reflect.TypeFor[int]():     {7, `7`, -3, "-3 is negative", false},
	reflect.TypeFor[float64](): {999.99, `999.99`, math.Inf(1), "+Inf is not a number", true},
	reflect.TypeFor[YesNo]():   {No, `"N"`, YesNo("yes"), `"yes" is not "Y" or "N"`, false},
	reflect.TypeFor[Date]():    {NewDate(2024, 2, 29), `"2024-02-29"`, NewDate(2023, 2, 29), "2023-02-29 is not a calendar date", true},
	reflect.TypeFor[time.Time](): {time.Date(2024, 7, 17, 10, 0, 0, 0, time.FixedZone("", 3*3600)), `"2024-07-17T10:00:00+03:00"`,
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "year 10000 is out of range", true},
	reflect.TypeFor[[]int64](): {[]int64{4, 5}, `[4,5]`, []int64{4, 0}, "[1]: id 0 is not positive", false},
}

// TestFieldKinds runs every typed field through its kind: the zero value
// is not sent, a good value is sent under the wire name alone and read
// back unchanged, a bad one is refused by validation with the field's
// name, and by encoding where it cannot be written.
func TestFieldKinds(t *testing.T) {
	for _, f := range itemFields {
		t.Run(f.wire, func(t *testing.T) {
			var it Item
			field := reflect.ValueOf(&it).Elem().FieldByName(f.goName)
			require.True(t, field.IsValid(), f.goName)
			s, ok := kindSamples[field.Type()]
			require.True(t, ok, "no samples for %s fields", field.Type())

			got, err := it.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, `{}`, string(got), "the zero value is not sent")

			field.Set(reflect.ValueOf(s.good))
			got, err = it.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, `{"`+f.wire+`":`+s.wire+`}`, string(got))
			var back Item
			require.NoError(t, json.Unmarshal(got, &back))
			if tm, ok := s.good.(time.Time); ok {
				assert.True(t, tm.Equal(reflect.ValueOf(back).FieldByName(f.goName).Interface().(time.Time)))
			} else {
				assert.Equal(t, it, back)
			}
			assert.Nil(t, newItemValidator(EntityDeal, false, fixedNow).checkTyped(&it))

			field.Set(reflect.ValueOf(s.bad))
			ie := newItemValidator(EntityDeal, false, fixedNow).checkTyped(&it)
			require.NotNil(t, ie)
			assert.Equal(t, CodeInvalidValue, ie.Code)
			assert.True(t, strings.HasPrefix(ie.Description, f.wire), ie.Description)
			assert.Contains(t, ie.Description, s.problem)
			_, err = it.MarshalJSON()
			if s.unsendable {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "b24: item field "+f.wire+": "+s.problem)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
