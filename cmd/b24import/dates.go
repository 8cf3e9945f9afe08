package main

import (
	"fmt"
	"strings"
	"time"
)

// dateReader reads dates and date-times as exports write them.
type dateReader struct {
	layout string         // -date-format: tried first; "" none
	loc    *time.Location // zone of date-times without one (-tz)
}

// dateTimeLayouts are the forms exports write a date-time in, without a
// zone; a form with a zone is read by time.RFC3339 first.
var dateTimeLayouts = []string{
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04",
	"02.01.2006 15:04:05", "02.01.2006 15:04", "2.1.2006 15:04:05", "2.1.2006 15:04",
	"2006/01/02 15:04:05", "2006/01/02 15:04",
}

// dateLayouts are the unambiguous forms of a plain date.
var dateLayouts = []string{"2006-01-02", "02.01.2006", "2.1.2006", "2006/01/02", "2006/1/2", "02.01.06"}

// parseMoment reads s as a date or a date-time. withTime reports whether s
// carried a time of day. A slashed date with day and month both 12 or
// less is refused as ambiguous unless -date-format says which comes first.
func (d dateReader) parseMoment(s string) (t time.Time, withTime bool, err error) {
	loc := d.loc
	if loc == nil {
		loc = time.Local
	}
	if d.layout != "" {
		if t, err := time.ParseInLocation(d.layout, s, loc); err == nil {
			return t, layoutHasTime(d.layout), nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999Z07:00", s); err == nil {
		return t, true, nil
	}
	for _, l := range dateTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true, nil
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, false, nil
		}
	}
	if t, withTime, ok, amb := parseSlashed(s, loc); ok {
		return t, withTime, nil
	} else if amb {
		return time.Time{}, false, fmt.Errorf("%q is ambiguous: day/month or month/day? give -date-format 01/02/2006 (US) or 02/01/2006", s)
	}
	want := "YYYY-MM-DD, DD.MM.YYYY, with or without HH:MM"
	if d.layout != "" {
		want = "-date-format " + d.layout + ", or " + want
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date (want %s)", s, want)
}

// parseSlashed reads D/M/YYYY or M/D/YYYY (with an optional time) when the
// numbers say which is which.
func parseSlashed(s string, loc *time.Location) (t time.Time, withTime, ok, ambiguous bool) {
	datePart, timePart, _ := strings.Cut(strings.TrimSpace(s), " ")
	parts := strings.Split(datePart, "/")
	if len(parts) != 3 || len(parts[2]) != 4 {
		return
	}
	var a, b int
	if _, err := fmt.Sscanf(parts[0]+" "+parts[1], "%d %d", &a, &b); err != nil {
		return
	}
	layout := ""
	switch {
	case a > 12 && b <= 12:
		layout = "2/1/2006"
	case b > 12 && a <= 12:
		layout = "1/2/2006"
	case a == b:
		layout = "1/2/2006"
	default:
		return t, false, false, true
	}
	full := layout
	if timePart != "" {
		for _, tl := range []string{"15:04:05", "15:04", "3:04 PM", "3:04:05 PM"} {
			if _, err := time.Parse(tl, strings.TrimSpace(strings.TrimPrefix(s, datePart))); err == nil {
				full = layout + " " + tl
				withTime = true
				break
			}
		}
	}
	t, err := time.ParseInLocation(full, strings.Join(strings.Fields(s), " "), loc)
	if err != nil {
		return t, false, false, false
	}
	return t, withTime, true, false
}

func layoutHasTime(layout string) bool {
	return strings.Contains(layout, "15") || strings.Contains(layout, ":04")
}

// parseDate reads a calendar date; a date-time gives its date, as the
// export shows it (in the file's own zone, not converted).
func (d dateReader) parseDate(s string) (string, error) {
	t, _, err := d.parseMoment(s)
	if err != nil {
		return "", err
	}
	return t.Format(time.DateOnly), nil
}

// parseTime reads a date-time; one without a zone is read in -tz, a plain
// date as its midnight.
func (d dateReader) parseTime(s string) (string, error) {
	t, _, err := d.parseMoment(s)
	if err != nil {
		return "", err
	}
	return t.Format(time.RFC3339), nil
}

// loadZone reads -tz: an IANA zone name, "Local" or "UTC".
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("-tz %q: not a time zone (want an IANA name such as Europe/Moscow, or UTC)", name)
	}
	return loc, nil
}

// zoneName names loc for the summary: "Europe/Berlin", or "local time
// (UTC+03:00)" when the system zone has no name.
func zoneName(loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	name := loc.String()
	_, off := time.Now().In(loc).Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	offset := fmt.Sprintf("UTC%s%02d:%02d", sign, off/3600, off%3600/60)
	if name == "Local" {
		return "the local zone (" + offset + " now)"
	}
	return name
}
