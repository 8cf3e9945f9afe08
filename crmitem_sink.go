package b24

import (
	"encoding/json"
	"time"
)

// valueSink is the wire form an Item is written in, one scalar or container
// boundary at a time. [Item.encode] and [valueWalker] decide what is
// written and refuse what cannot be; a sink only spells it. Every method
// appends to dst and returns it; a form that writes elsewhere returns dst
// as it is.
//
// The zero valueSink writes JSON, the form of plain calls, through direct
// calls to [jsonSink]: that path encodes every item of a plain import and
// must stay free of indirect calls and allocations. Setting form plugs in
// another form, which then gets every call: [bracketSink] for packed batch
// commands, [discardSink] when validation walks a value.
type valueSink struct{ form wireForm }

// wireForm is the method set of a wire form; see [valueSink].
type wireForm interface {
	null(dst []byte) []byte
	boolean(dst []byte, b bool) []byte
	integer(dst []byte, n int64) []byte
	unsigned(dst []byte, n uint64) []byte
	// float gets a finite value; bits is 32 or 64, the precision to keep.
	float(dst []byte, x float64, bits int) []byte
	// number gets a valid JSON number literal.
	number(dst []byte, n json.Number) []byte
	text(dst []byte, v string) ([]byte, error)
	// date gets a valid, non-zero date, time a non-zero time in years 1
	// to 9999; both are strings on the wire.
	date(dst []byte, d Date) []byte
	time(dst []byte, t time.Time) []byte
	// base64 writes a string holding b in standard base64.
	base64(dst []byte, b []byte) []byte
	// encoded gets valid, compact JSON from encoding/json or a
	// json.RawMessage.
	encoded(dst []byte, js []byte) ([]byte, error)

	openList(dst []byte) []byte
	// element starts element i (0, 1, ...) of the open list.
	element(dst []byte, i int) []byte
	closeList(dst []byte) []byte
	openObject(dst []byte) []byte
	// key starts member k, the i-th (0, 1, ...) of the open object.
	key(dst []byte, i int, k string) ([]byte, error)
	// name is key for a member name of the item's own (title, PHONE,
	// VALUE_TYPE): ASCII letters, digits and _, written as it is.
	name(dst []byte, i int, k string) []byte
	// numberedName is name for prefix followed by n in decimal
	// ("parentId1220"), without building that string.
	numberedName(dst []byte, i int, prefix string, n int64) []byte
	closeObject(dst []byte) []byte
}

// The methods of valueSink hand each call to the plugged-in form, or to
// jsonSink directly.

func (s valueSink) null(dst []byte) []byte {
	if s.form != nil {
		return s.form.null(dst)
	}
	return jsonSink{}.null(dst)
}

func (s valueSink) boolean(dst []byte, b bool) []byte {
	if s.form != nil {
		return s.form.boolean(dst, b)
	}
	return jsonSink{}.boolean(dst, b)
}

func (s valueSink) integer(dst []byte, n int64) []byte {
	if s.form != nil {
		return s.form.integer(dst, n)
	}
	return jsonSink{}.integer(dst, n)
}

func (s valueSink) unsigned(dst []byte, n uint64) []byte {
	if s.form != nil {
		return s.form.unsigned(dst, n)
	}
	return jsonSink{}.unsigned(dst, n)
}

func (s valueSink) float(dst []byte, x float64, bits int) []byte {
	if s.form != nil {
		return s.form.float(dst, x, bits)
	}
	return jsonSink{}.float(dst, x, bits)
}

func (s valueSink) number(dst []byte, n json.Number) []byte {
	if s.form != nil {
		return s.form.number(dst, n)
	}
	return jsonSink{}.number(dst, n)
}

func (s valueSink) text(dst []byte, v string) ([]byte, error) {
	if s.form != nil {
		return s.form.text(dst, v)
	}
	return jsonSink{}.text(dst, v)
}

func (s valueSink) date(dst []byte, d Date) []byte {
	if s.form != nil {
		return s.form.date(dst, d)
	}
	return jsonSink{}.date(dst, d)
}

func (s valueSink) time(dst []byte, t time.Time) []byte {
	if s.form != nil {
		return s.form.time(dst, t)
	}
	return jsonSink{}.time(dst, t)
}

func (s valueSink) base64(dst []byte, b []byte) []byte {
	if s.form != nil {
		return s.form.base64(dst, b)
	}
	return jsonSink{}.base64(dst, b)
}

func (s valueSink) encoded(dst []byte, js []byte) ([]byte, error) {
	if s.form != nil {
		return s.form.encoded(dst, js)
	}
	return jsonSink{}.encoded(dst, js)
}

func (s valueSink) openList(dst []byte) []byte {
	if s.form != nil {
		return s.form.openList(dst)
	}
	return jsonSink{}.openList(dst)
}

func (s valueSink) element(dst []byte, i int) []byte {
	if s.form != nil {
		return s.form.element(dst, i)
	}
	return jsonSink{}.element(dst, i)
}

func (s valueSink) closeList(dst []byte) []byte {
	if s.form != nil {
		return s.form.closeList(dst)
	}
	return jsonSink{}.closeList(dst)
}

func (s valueSink) openObject(dst []byte) []byte {
	if s.form != nil {
		return s.form.openObject(dst)
	}
	return jsonSink{}.openObject(dst)
}

func (s valueSink) key(dst []byte, i int, k string) ([]byte, error) {
	if s.form != nil {
		return s.form.key(dst, i, k)
	}
	return jsonSink{}.key(dst, i, k)
}

func (s valueSink) name(dst []byte, i int, k string) []byte {
	if s.form != nil {
		return s.form.name(dst, i, k)
	}
	return jsonSink{}.name(dst, i, k)
}

func (s valueSink) numberedName(dst []byte, i int, prefix string, n int64) []byte {
	if s.form != nil {
		return s.form.numberedName(dst, i, prefix, n)
	}
	return jsonSink{}.numberedName(dst, i, prefix, n)
}

func (s valueSink) closeObject(dst []byte) []byte {
	if s.form != nil {
		return s.form.closeObject(dst)
	}
	return jsonSink{}.closeObject(dst)
}

var (
	_ wireForm = jsonSink{}
	_ wireForm = discardSink{}
	_ wireForm = (*bracketSink)(nil)
)
