package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// textEncoding is the encoding an input is read in.
type textEncoding struct {
	name     string // as shown to people: "UTF-8", "Windows-1251", ...
	enc      encoding.Encoding
	detected bool // guessed from the bytes, not forced with -encoding
	bom      int  // bytes of byte-order mark to skip
}

var (
	encUTF8 = textEncoding{name: "UTF-8"}
	enc1251 = textEncoding{name: "Windows-1251", enc: charmap.Windows1251}
	enc1252 = textEncoding{name: "Windows-1252", enc: charmap.Windows1252}
)

// lookupEncoding resolves an -encoding name: the WHATWG labels browsers
// know (utf-8, utf-16le, windows-1251, cp1251, latin1, koi8-r, ...), then
// IANA names (IBM866, ...).
func lookupEncoding(name string) (textEncoding, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "utf8", "utf-8":
		return encUTF8, nil
	case "utf16", "utf-16":
		// With a BOM either byte order; Excel's "Unicode text" is LE.
		return textEncoding{name: "UTF-16", enc: unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)}, nil
	}
	enc, err := htmlindex.Get(n)
	if err != nil {
		if enc, err = ianaindex.IANA.Encoding(n); err != nil || enc == nil {
			return textEncoding{}, fmt.Errorf("-encoding %q: unknown encoding (try utf-8, utf-16, windows-1251, windows-1252, koi8-r, ibm866)", name)
		}
	}
	display := n
	if cn, err := htmlindex.Name(enc); err == nil {
		display = cn
	}
	if enc == encoding.Nop || display == "utf-8" {
		return encUTF8, nil
	}
	return textEncoding{name: displayEncoding(display), enc: enc}, nil
}

func displayEncoding(canon string) string {
	switch {
	case strings.HasPrefix(canon, "windows-"):
		return "Windows-" + strings.TrimPrefix(canon, "windows-")
	case strings.HasPrefix(canon, "utf-"):
		return strings.ToUpper(canon)
	}
	return canon
}

// detectEncoding reads the encoding off the first bytes of a file: a
// byte-order mark, else UTF-8 if they are valid UTF-8, else one of the
// two Windows code pages spreadsheets save "CSV" in. Cyrillic text in
// Windows-1251 runs in words of high bytes; West European text in
// Windows-1252 has a lone accented letter among ASCII ones.
func detectEncoding(head []byte) textEncoding {
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		e := encUTF8
		e.detected, e.bom = true, 3
		return e
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return textEncoding{name: "UTF-16LE", enc: unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), detected: true}
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return textEncoding{name: "UTF-16BE", enc: unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), detected: true}
	}
	if validUTF8Head(head) {
		e := encUTF8
		e.detected = true
		return e
	}
	high, paired := 0, 0
	for i, b := range head {
		if b < 0x80 {
			continue
		}
		high++
		if i > 0 && head[i-1] >= 0x80 || i+1 < len(head) && head[i+1] >= 0x80 {
			paired++
		}
	}
	e := enc1252
	if high > 0 && paired*2 >= high {
		e = enc1251
	}
	e.detected = true
	return e
}

// validUTF8Head reports whether head is UTF-8, allowing a rune cut at its end.
func validUTF8Head(head []byte) bool {
	_, ok := checkUTF8(head)
	return ok
}

// decodeReader wraps br so that it yields UTF-8; the byte-order mark, if
// any, is consumed.
func decodeReader(br *bufio.Reader, e textEncoding) io.Reader {
	if e.bom > 0 {
		br.Discard(e.bom)
	}
	if e.enc == nil {
		return br
	}
	return transform.NewReader(br, e.enc.NewDecoder())
}

// checkUTF8 reports whether head is UTF-8, allowing a rune cut at its end,
// and the line of the first bad byte.
func checkUTF8(head []byte) (int, bool) {
	for i := 0; i < len(head); {
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 {
			if len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:]) {
				return 0, true
			}
			return 1 + bytes.Count(head[:i], []byte{'\n'}), false
		}
		i += size
	}
	return 0, true
}
