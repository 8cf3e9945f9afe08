package main

import (
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTypedKinds(t *testing.T) {
	for name, want := range map[string]kind{
		"title": kindString, "opportunity": kindFloat, "assignedById": kindInt, "probability": kindInt,
		"opened": kindYesNo, "begindate": kindDate, "createdTime": kindTime, "contactIds": kindIDs,
	} {
		assert.Equal(t, want, typedKinds[name], name)
	}
	assert.NotContains(t, typedKinds, "PHONE")
}

func TestParseHeader(t *testing.T) {
	t.Run("classifies columns", func(t *testing.T) {
		cols, warn, orig, err := parseHeader([]string{"title", " opportunity ", "PHONE_MOBILE", "EMAIL", "parentId1220", "ufCrm_1721244707107", "legacyColour"}, b24.EntityLead)
		require.NoError(t, err)
		assert.False(t, orig)
		kinds := []kind{cols[0].kind, cols[1].kind, cols[2].kind, cols[3].kind, cols[4].kind, cols[5].kind, cols[6].kind}
		assert.Equal(t, []kind{kindString, kindFloat, kindMultifield, kindMultifield, kindParent, kindUser, kindExtra}, kinds)
		assert.Equal(t, "MOBILE", cols[2].valueType)
		assert.Equal(t, "WORK", cols[3].valueType)
		require.Len(t, warn, 1)
		assert.Contains(t, warn[0], `"legacyColour"`)
	})
	bad := []struct {
		name   string
		header []string
		et     b24.EntityTypeID
		want   string
	}{
		{"duplicate", []string{"title", "stageId", "title"}, b24.EntityDeal, `column 3 "title" repeats column 1`},
		{"empty name", []string{"title", "", "stageId"}, b24.EntityDeal, "column 2 has no name"},
		{"typo of a typed field", []string{"tilte"}, b24.EntityDeal, "title"},
		{"library typo", []string{"isReccurring"}, b24.EntityDeal, "isRecurring"},
		{"not a field", []string{"Pipeline stage"}, b24.EntityDeal, `column 1 "Pipeline stage" is not a field of deal`},
		{"multifield on a deal", []string{"title", "PHONE"}, b24.EntityDeal, `column 2 "PHONE"`},
		{"bad value type", []string{"PHONE_SATELLITE"}, b24.EntityContact, "value type must be one of"},
		{"mixed user field spelling", []string{"ufCrm_1", "UF_CRM_2"}, b24.EntityDeal, "mixes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := parseHeader(tc.header, tc.et)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("original user field names", func(t *testing.T) {
		_, _, orig, err := parseHeader([]string{"title", "UF_CRM_1721244707107"}, b24.EntityDeal)
		require.NoError(t, err)
		assert.True(t, orig)
	})
}

func TestCoerceCell(t *testing.T) {
	ok := []struct {
		kind kind
		in   string
		want any
	}{
		{kindFloat, "1234.5", 1234.5},
		{kindFloat, "1 234 000,50", 1234000.5},
		{kindFloat, "1\u00a0234,5", 1234.5},
		{kindFloat, "1,234.50", 1234.5},
		{kindFloat, "12.500,50", 12500.5},
		{kindFloat, "1,234,567", 1234567.0},
		{kindFloat, "-7", -7.0},
		{kindInt, " 42 ", int64(42)},
		{kindYesNo, "yes", "Y"},
		{kindYesNo, "нет", "N"},
		{kindYesNo, "0", "N"},
		{kindDate, "2024-07-17", "2024-07-17"},
		{kindDate, "17.07.2024", "2024-07-17"},
		{kindDate, "2024-07-17T10:00:00+03:00", "2024-07-17"},
		{kindTime, "2024-07-17T10:00:00+03:00", "2024-07-17T10:00:00+03:00"},
		{kindIDs, "1, 2;3|4", []int64{1, 2, 3, 4}},
		{kindString, "as is", "as is"},
	}
	for _, tc := range ok {
		got, err := (&coercer{}).coerceCell(&column{name: "c", field: "c", kind: tc.kind}, tc.in, nil)
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.want, got, tc.in)
		}
	}
	bad := []struct {
		kind kind
		in   string
	}{
		{kindFloat, "12,5k"}, {kindFloat, "tbd"}, {kindFloat, "NaN"}, {kindFloat, "inf"}, {kindFloat, "0x10"},
		{kindFloat, "1.000.000,00,00"}, {kindInt, "4.5"}, {kindInt, "seven"}, {kindYesNo, "maybe"},
		{kindDate, "2024-02-30"}, {kindDate, "31.04.2024"}, {kindDate, "next week"}, {kindDate, "07/06/2024"},
		{kindTime, "yesterday"}, {kindIDs, "1, two"},
	}
	for _, tc := range bad {
		_, err := (&coercer{}).coerceCell(&column{name: "c", field: "c", kind: tc.kind}, tc.in, nil)
		assert.Error(t, err, tc.in)
	}
}

func TestCoerceRow(t *testing.T) {
	cols, _, _, err := parseHeader([]string{"title", "opportunity", "PHONE_WORK", "PHONE_MOBILE", "parentId1220", "closedate", "comments"}, b24.EntityLead)
	require.NoError(t, err)
	var it b24.Item
	rerr := decodeCSV(&coercer{}, cols, []string{"Лид", "1 000,5", "+7 495 000-00-00", "+7 900 1, +7 900 2", "5", "01.02.2025", ""}, &it)
	require.Nil(t, rerr)
	assert.Equal(t, "Лид", it.Title)
	assert.Equal(t, 1000.5, it.Opportunity)
	assert.Equal(t, []b24.Multifield{{Value: "+7 495 000-00-00", ValueType: "WORK"}, {Value: "+7 900 1", ValueType: "MOBILE"}, {Value: "+7 900 2", ValueType: "MOBILE"}}, it.Phones)
	assert.Equal(t, map[b24.EntityTypeID]int64{1220: 5}, it.Parents)
	assert.Equal(t, b24.NewDate(2025, 2, 1), it.Closedate)
	assert.Empty(t, it.Comments, "an empty cell is not set")

	rerr = decodeCSV(&coercer{}, cols, []string{"x", "12,5k", "", "", "", "", ""}, &it)
	require.NotNil(t, rerr)
	assert.Equal(t, codeValue, rerr.code)
	assert.True(t, strings.HasPrefix(rerr.desc, `column "opportunity"`), rerr.desc)
}

func TestSuggest(t *testing.T) {
	assert.Equal(t, "opportunity", suggest("oportunity"))
	assert.Equal(t, "assignedById", suggest("ASSIGNED_BY_ID"))
	assert.Equal(t, "PHONE", suggest("phone"))
	assert.Equal(t, "", suggest("legacyColour"))
	assert.Equal(t, "", suggest("abc"))
}

func TestSuggestThresholds(t *testing.T) {
	assert.Equal(t, "title", suggest("tilte"), "a swap is one edit")
	assert.Equal(t, "stageId", suggest("stagId"))
	assert.Equal(t, "", suggest("Created"), "two edits from createdBy is too far for a short name")
	assert.Equal(t, "isRecurring", suggest("isReccuring"))
	assert.Equal(t, 2, editDistance("abcd", "badc"))
	assert.Equal(t, 1, editDistance("ab", "ba"))
	assert.Equal(t, 3, editDistance("", "abc"))
}
