// Package transport performs the SDK's HTTP exchanges: one POST of a REST
// call, one GET of the OAuth token endpoint. It is the only user of resty.
// It caps how much of an answer is read, never follows a redirect (a
// credential must not travel to another host), keeps URLs (which carry
// webhook and client secrets) out of its errors, and reports whether a
// request reached the connection, which decides whether a failed write
// may have been executed.
package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"syscall"

	"github.com/go-resty/resty/v2"
)

// ErrResponseTooLarge reports an answer larger than the transport's cap.
var ErrResponseTooLarge = errors.New("b24: response too large")

// maxTokenBody caps the token endpoint's answer.
const maxTokenBody = 1 << 20

// Transport sends requests to one portal and its token endpoint. It is safe
// for concurrent use.
type Transport struct {
	r         *resty.Client
	userAgent string
	maxBody   int64
}

// New returns a transport over a copy of hc (nil: a pooled default) whose
// redirect policy is replaced so that redirects are returned, not
// followed. Answers larger than maxBody bytes fail with
// [ErrResponseTooLarge].
func New(hc *http.Client, userAgent string, maxBody int64) *Transport {
	c := &http.Client{Transport: defaultRoundTripper()}
	if hc != nil {
		copied := *hc
		c = &copied
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := resty.NewWithClient(c)
	r.SetLogger(discardLogger{})
	r.SetRetryCount(0)
	return &Transport{r: r, userAgent: userAgent, maxBody: maxBody}
}

// defaultRoundTripper is http.DefaultTransport's settings with enough idle
// connections per host for the calls an import keeps in flight (the
// standard two would open, and TLS-handshake, a new connection for most
// calls).
func defaultRoundTripper() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}

// Response is what one HTTP exchange produced.
type Response struct {
	Status   int
	Location string // the Location header, for redirects
	Body     []byte
}

// Post sends body as JSON to reqURL. wrote reports whether the request was
// written to a connection: an error before that point means the portal
// never saw it.
func (t *Transport) Post(ctx context.Context, reqURL string, body []byte) (resp Response, wrote bool, err error) {
	ctx, wroteFlag := traceWrite(ctx)
	r, err := t.r.R().
		SetContext(ctx).
		SetHeader("Content-Type", "application/json").
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", t.userAgent).
		SetBody(bytes.NewReader(body)). // sent as it is: a []byte body would be copied twice
		SetDoNotParseResponse(true).
		Post(reqURL)
	if err != nil {
		return resp, wroteFlag.Load(), scrubURLError(err)
	}
	raw := r.RawBody()
	defer raw.Close()
	resp.Status = r.StatusCode()
	resp.Location = r.Header().Get("Location")
	resp.Body, err = readCapped(raw, t.maxBody, r.RawResponse.ContentLength)
	return resp, true, err
}

// Get performs one GET of the token endpoint. A redirect is an error: the
// URL carries the client secret.
func (t *Transport) Get(ctx context.Context, reqURL string) (Response, error) {
	r, err := t.r.R().
		SetContext(ctx).
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", t.userAgent).
		SetDoNotParseResponse(true).
		Get(reqURL)
	if err != nil {
		return Response{}, scrubURLError(err)
	}
	raw := r.RawBody()
	defer raw.Close()
	resp := Response{Status: r.StatusCode()}
	if resp.Status >= 300 && resp.Status < 400 {
		return resp, fmt.Errorf("b24: token endpoint redirected (http %d); not followed", resp.Status)
	}
	resp.Body, err = readCapped(raw, maxTokenBody, -1)
	return resp, err
}

// firstChunk and maxChunk size the chunks an answer of unknown length is
// read in: most answers fit the first; the chunks double up to maxChunk.
const (
	firstChunk = 32 << 10
	maxChunk   = 4 << 20
)

// readCapped reads at most limit bytes and fails beyond that, without
// allocating much more than it keeps. declared is the answer's
// Content-Length (-1: unknown): one over the cap fails before anything is
// read, one within it is read into a buffer of that size (a body longer
// than declared is still read, within the cap). An answer of unknown
// length is read in chunks that together never pass limit+1 bytes and are
// joined once at the end, so an answer over the cap costs at most the cap
// before it fails, and one within it twice its size (io.ReadAll's growing
// buffer costs two to three times the cap either way).
func readCapped(r io.Reader, limit, declared int64) ([]byte, error) {
	if declared > limit {
		return nil, fmt.Errorf("%w (%d bytes declared, more than %d)", ErrResponseTooLarge, declared, limit)
	}
	var chunks [][]byte
	total := int64(0)
	size := int64(firstChunk)
	if declared >= 0 {
		size = declared + 1 // one more byte shows a body longer than declared
	}
	for {
		size = min(size, limit+1-total)
		if size <= 0 {
			return nil, fmt.Errorf("%w (more than %d bytes)", ErrResponseTooLarge, limit)
		}
		chunk := make([]byte, size)
		n, err := io.ReadFull(r, chunk)
		total += int64(n)
		chunks = append(chunks, chunk[:n])
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("b24: reading response: %w", scrubURLError(err))
		}
		size = min(2*size, maxChunk)
	}
	if total > limit {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrResponseTooLarge, limit)
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	return bytes.Join(chunks, nil), nil
}

// scrubURLError drops the request URL from transport errors: webhook URLs
// carry their secret in the path and token URLs carry the client secret.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: "(redacted)", Err: ue.Err}
	}
	return err
}

// MovedLocation reduces a redirect target to scheme://host, dropping any
// path, which may contain a secret.
func MovedLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "(unknown address)"
	}
	return u.Scheme + "://" + u.Host
}

// IsDialError reports errors that happen before a connection exists.
func IsDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// traceWrite attaches a trace that records whether the request reached a
// connection.
func traceWrite(ctx context.Context) (context.Context, *atomic.Bool) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	}
	return httptrace.WithClientTrace(ctx, trace), &wrote
}

// discardLogger keeps resty silent: its messages may contain URLs.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
