package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/b24kit/b24"
)

// The journal is an append-only JSON Lines file:
//
//	{"journal":"b24import/1","input":"deals.csv","size":1234,"sha256":"…","entity":2}
//	{"send":[2,3,4,6]}
//	{"went":[2,3,4,6],"at":1767225600123}
//	{"line":2,"status":"imported","id":101}
//	{"line":7,"status":"rejected","code":"B24_INVALID_VALUE","desc":"…"}
//
// The header binds it to one input (size and SHA-256 of the whole file)
// and one entity type. A "send" line, written and synced before rows go to
// the importer, lists the input lines that may reach the portal from then
// on; a "went" line, written and synced right before a request goes out
// (after its waits in the rate limiter and the operating budget), records
// the rows it carries and when (unix ms), so a resume knows how long the
// portal may still be executing the last run's calls; a result line
// records a row's outcome. A later line about the same
// row wins: a row whose last line is a "send" was in flight when the run
// stopped. A torn last line (the process died while writing it) is
// ignored and cut off before appending.

const journalVersion = "b24import/1"

// Journal statuses; b24.ItemStatus names them the same, except "not_sent".
const (
	stImported = "imported"
	stRejected = "rejected"
	stUnknown  = "unknown"
	stNotSent  = "not_sent"
)

func statusName(s b24.ItemStatus) string {
	switch s {
	case b24.ItemImported:
		return stImported
	case b24.ItemRejected:
		return stRejected
	case b24.ItemUnknown:
		return stUnknown
	}
	return stNotSent
}

// fingerprint identifies an input file.
type fingerprint struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// hashFile fingerprints the file at path.
func hashFile(path string) (fingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return fingerprint{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fingerprint{}, err
	}
	return fingerprint{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

type journalHeader struct {
	Journal string `json:"journal"`
	Input   string `json:"input"`
	fingerprint
	Entity int `json:"entity"`
}

// journalRecord is one line after the header: a send range or a result.
type journalRecord struct {
	Send   []int  `json:"send,omitempty"`
	Went   []int  `json:"went,omitempty"`
	At     int64  `json:"at,omitempty"` // of a "went" line: unix milliseconds
	Line   int    `json:"line,omitempty"`
	Status string `json:"status,omitempty"`
	ID     int64  `json:"id,omitempty"`
	Code   string `json:"code,omitempty"`
	Desc   string `json:"desc,omitempty"`
	Action string `json:"action,omitempty"` // created, found or updated
}

// outcome is the last recorded result of a row.
type outcome struct {
	status string
	id     int64
	code   string
	desc   string
	action string // of an imported row: created, found or updated
}

// journalState is what an existing journal says.
type journalState struct {
	header   journalHeader
	results  map[int]outcome // the last result of each row
	inFlight map[int]bool    // rows whose last line is a "send": outcome unknown
	lastWent time.Time       // of the latest "went" line; zero: none (or a journal from before them)
	good     int64           // bytes up to the end of the last complete line
}

// ambiguous reports whether the row may or may not exist in the portal:
// it was in flight when a run died, or its outcome was unknown.
func (s *journalState) ambiguous(line int) bool {
	return s.inFlight[line] || s.results[line].status == stUnknown
}

// readJournal loads the journal at path; (nil, nil) when it does not
// exist or is empty.
func readJournal(path string) (*journalState, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	return parseJournal(f, path)
}

// journalMagic is how every journal starts, torn header included.
var journalMagic = []byte(`{"journal":"` + journalVersion + `"`)

func parseJournal(r io.Reader, path string) (*journalState, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// Only a file that starts like a journal (or like the torn beginning
	// of one) is treated as one: anything else is refused, not overwritten.
	if head, _ := br.Peek(len(journalMagic)); len(head) > 0 && !bytes.HasPrefix(journalMagic, head) {
		return nil, fmt.Errorf("%s:1: %w: it does not start like one; refusing to overwrite it: give -journal a new path, or the journal of this import", path, errNotAJournal)
	}
	st := &journalState{results: map[int]outcome{}, inFlight: map[int]bool{}}
	var pos int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] != '\n' {
			break // torn last line
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		body := bytes.TrimSpace(line)
		if n == 1 {
			if err := json.Unmarshal(body, &st.header); err != nil || st.header.Journal != journalVersion {
				return nil, fmt.Errorf("%s:1: %w (or of another version); refusing to overwrite it: give -journal a new path", path, errNotAJournal)
			}
			pos += int64(len(line))
			st.good = pos
			continue
		}
		var rec journalRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			if _, more := br.Peek(1); more != nil {
				break // a damaged last line: treat it as torn
			}
			return nil, fmt.Errorf("%s:%d: damaged journal line (%v); it cannot be resumed safely", path, n, err)
		}
		pos += int64(len(line))
		st.good = pos
		switch {
		case len(rec.Send) > 0:
			for _, l := range rec.Send {
				st.inFlight[l] = true
			}
		case len(rec.Went) > 0:
			if at := time.UnixMilli(rec.At); at.After(st.lastWent) {
				st.lastWent = at
			}
		case rec.Line > 0 && rec.Status != "":
			st.results[rec.Line] = outcome{status: rec.Status, id: rec.ID, code: rec.Code, desc: rec.Desc, action: rec.Action}
			delete(st.inFlight, rec.Line)
		}
	}
	if st.header.Journal == "" {
		return nil, nil // only a torn header: nothing was recorded
	}
	return st, nil
}

// journal appends to the journal file. It is safe for concurrent use.
type journal struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	pending bool // results written since the last sync that must survive
	err     error
}

// openJournal creates the journal with its header, or opens an existing
// one for appending after cutting off a torn last line.
func openJournal(path string, st *journalState, h journalHeader) (*journal, error) {
	if st == nil {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		j := &journal{f: f, path: path}
		if err := j.writeLine(h); err != nil {
			f.Close()
			return nil, err
		}
		return j, j.sync()
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := f.Truncate(st.good); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Seek(st.good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{f: f, path: path}, nil
}

// writeLine writes v as one line with a single write, so a crash leaves
// at most one torn line at the end.
func (j *journal) writeLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) sync() error {
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

// markSent records, durably, that the rows on lines may be sent from now.
func (j *journal) markSent(lines []int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.err = j.writeLine(journalRecord{Send: lines})
	if j.err == nil {
		j.err = j.sync()
		j.pending = false
	}
	return j.err
}

// markWent records, durably, that a request carrying the rows on lines
// goes out now. It is called right before the request is written, which
// waits for it: a crash can never hide a request that went out.
func (j *journal) markWent(lines []int, at time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.err = j.writeLine(journalRecord{Went: lines, At: at.UnixMilli()})
	if j.err == nil {
		j.err = j.sync()
		j.pending = false
	}
	return j.err
}

// record writes a row's outcome. Imported rows are synced at the next
// flush; losing other outcomes to a power cut is harmless, as a resumed
// run re-derives them (rejected again, or looked up by key).
func (j *journal) record(line int, o outcome) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.err = j.writeLine(journalRecord{Line: line, Status: o.status, ID: o.id, Code: o.code, Desc: o.desc, Action: o.action})
	if o.status == stImported {
		j.pending = true
	}
	return j.err
}

// flush syncs the results written since the last sync.
func (j *journal) flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil && j.pending {
		j.err = j.sync()
		j.pending = false
	}
	return j.err
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.flush()
	defer func() { j.f = nil }()
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal %s: %w", j.path, cerr)
	}
	return err
}
