package b24

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/b24kit/b24/internal/phpquery"
)

// bracketItems writes items in PHP bracket form as the elements of one
// list, such as the data list of a crm.item.batchImport batch command:
// "data[0][title]=A&data[0][contactIds][0]=4&data[1][title]=B". Not safe
// for concurrent use; after an error it must not be used again.
type bracketItems struct {
	enc  phpquery.Encoder
	sink bracketSink
}

// newBracketItems returns a writer of the list named name.
func newBracketItems(name string) *bracketItems {
	q := &bracketItems{}
	q.sink.enc = &q.enc
	q.enc.Reset(name)
	q.enc.Open()
	return q
}

// appendItem appends the pairs of it as element i of the list. It refuses
// (the error wraps [phpquery.ErrNotPackable]) what the form cannot carry:
// text with batch placeholders ($result[...]), object keys that are empty
// or hold a bracket. It also fails where [Item.MarshalJSON] would.
func (q *bracketItems) appendItem(dst []byte, i int, it *Item) ([]byte, error) {
	q.enc.Index(i)
	return it.encode(valueSink{&q.sink}, dst)
}

// vars reports the pairs written so far.
func (q *bracketItems) vars() int { return q.enc.Vars() }

// bracketSink is the PHP bracket form of packed batch commands. It spells
// every value as [phpquery.Append] spells that value's JSON decoded, so an
// item reaches the portal the same in a batch command as in a plain call:
// numbers keep their JSON text, booleans become Y/N, null and the zero
// Date and time an empty value; empty lists and objects write nothing.
// Members come in the order of the JSON object.
type bracketSink struct {
	enc     *phpquery.Encoder
	scratch []byte // numbers, dates, base64 text, numbered names
}

func (b *bracketSink) null(dst []byte) []byte { return b.enc.Null(dst) }

func (b *bracketSink) boolean(dst []byte, v bool) []byte { return b.enc.Bool(dst, v) }

func (b *bracketSink) integer(dst []byte, n int64) []byte {
	b.scratch = strconv.AppendInt(b.scratch[:0], n, 10)
	return b.enc.Plain(dst, b.scratch)
}

func (b *bracketSink) unsigned(dst []byte, n uint64) []byte {
	b.scratch = strconv.AppendUint(b.scratch[:0], n, 10)
	return b.enc.Plain(dst, b.scratch)
}

func (b *bracketSink) float(dst []byte, x float64, bits int) []byte {
	b.scratch = appendJSONFloat(b.scratch[:0], x, bits)
	return b.enc.Plain(dst, b.scratch)
}

func (b *bracketSink) number(dst []byte, n json.Number) []byte {
	b.scratch = append(b.scratch[:0], n...)
	return b.enc.Plain(dst, b.scratch)
}

func (b *bracketSink) text(dst []byte, v string) ([]byte, error) {
	return b.enc.String(dst, jsonText(v))
}

func (b *bracketSink) date(dst []byte, d Date) []byte {
	b.scratch = d.appendText(b.scratch[:0])
	return b.enc.Plain(dst, b.scratch)
}

func (b *bracketSink) time(dst []byte, t time.Time) []byte {
	b.scratch = appendTimeText(b.scratch[:0], t)
	return b.enc.Plain(dst, b.scratch)
}

func (b *bracketSink) base64(dst []byte, v []byte) []byte {
	b.scratch = base64.StdEncoding.AppendEncode(b.scratch[:0], v)
	return b.enc.Plain(dst, b.scratch)
}

// encoded writes JSON that encoding/json made (or a json.RawMessage) as
// Append writes it decoded.
func (b *bracketSink) encoded(dst []byte, js []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return dst, err
	}
	return b.enc.Value(dst, v)
}

func (b *bracketSink) openList(dst []byte) []byte { b.enc.Open(); return dst }

func (b *bracketSink) element(dst []byte, i int) []byte { b.enc.Index(i); return dst }

func (b *bracketSink) closeList(dst []byte) []byte { b.enc.Close(); return dst }

func (b *bracketSink) openObject(dst []byte) []byte { b.enc.Open(); return dst }

func (b *bracketSink) key(dst []byte, _ int, k string) ([]byte, error) { return dst, b.enc.Key(k) }

func (b *bracketSink) name(dst []byte, _ int, k string) []byte {
	if err := b.enc.Key(k); err != nil {
		panic("b24: member name " + strconv.Quote(k) + " is not a plain name") // our own names are
	}
	return dst
}

func (b *bracketSink) numberedName(dst []byte, _ int, prefix string, n int64) []byte {
	b.scratch = strconv.AppendInt(append(b.scratch[:0], prefix...), n, 10)
	if err := b.enc.KeyBytes(b.scratch); err != nil {
		panic("b24: member name " + strconv.Quote(string(b.scratch)) + " is not a plain name")
	}
	return dst
}

func (b *bracketSink) closeObject(dst []byte) []byte { b.enc.Close(); return dst }

// jsonText returns s as a JSON round trip gives it back: every byte that
// is not part of valid UTF-8 becomes U+FFFD, as [appendJSONString] writes
// it.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
