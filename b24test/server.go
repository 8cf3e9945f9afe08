package b24test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/b24kit/b24"
)

// Server is a fake Bitrix24 portal on a loopback HTTP server. It is safe for
// concurrent use by multiple goroutines; the zero value is not usable, call
// [NewServer].
type Server struct {
	// URL is the base address, "http://127.0.0.1:PORT", without a slash.
	URL string

	cfg          config
	secret       string // webhook secret of user 1
	clientID     string
	clientSecret string

	auth    tokenStore
	store   *store
	buckets *bucketSet
	op      *opLimiter
	faults  faultSet
	custom  customHandlers
	rec     recorder

	rngMu sync.Mutex
	rng   *mrand.Rand

	hs        *http.Server
	ln        net.Listener
	serveDone chan struct{}
	active    sync.WaitGroup
	closeOnce sync.Once
	closed    atomic.Bool
}

// NewServer starts a fake portal on a random loopback port, like
// httptest.NewServer. Call [Server.Close] when done (t.Cleanup(srv.Close)).
// It panics if no loopback port can be opened, as httptest does.
func NewServer(opts ...Option) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("b24test: failed to listen on a loopback port: %v", err))
		}
	}
	return Serve(ln, opts...)
}

// Serve starts a fake portal on ln, which it takes ownership of (used by the
// b24fake command to listen on a fixed address). URL is derived from the
// listener's address.
func Serve(ln net.Listener, opts ...Option) *Server {
	s := newServer(opts...)
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.hs.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s
}

// ServeTLS is [Serve] over TLS with the certificate in cfg: URL is
// "https://HOST:PORT". Clients that insist on https (the official JS SDK's
// webhook client does) can then call the fake once they trust the
// certificate; the b24fake command's -tls flag makes a self-signed one.
func ServeTLS(ln net.Listener, cfg *tls.Config, opts ...Option) *Server {
	s := newServer(opts...)
	s.ln = tls.NewListener(ln, cfg)
	s.URL = "https://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.hs.Serve(s.ln)
	}()
	return s
}

func newServer(opts ...Option) *Server {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s := &Server{
		cfg:          cfg,
		secret:       randomHex(8),
		clientID:     "local." + randomHex(7),
		clientSecret: randomHex(20),
		store:        newStore(cfg.smart, cfg.compact),
		rng:          mrand.New(mrand.NewPCG(uint64(cfg.seed), 0x62323474657374)),
	}
	if cfg.secret != "" {
		s.secret = cfg.secret
	}
	s.auth.init(cfg.tokenTTL)
	if cfg.rateOn {
		s.buckets = newBucketSet(cfg.rate, cfg.burst)
	}
	if cfg.opOn {
		s.op = newOpLimiter(cfg.opBudget, cfg.opWindow)
	}
	s.rec.keep = !cfg.noRequestLog
	return s
}

// Close shuts the server down: it closes the listener and every connection
// and waits until all handlers have returned.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.hs != nil {
			_ = s.hs.Close()
			<-s.serveDone
		}
		s.active.Wait()
	})
}

// WebhookURL returns the incoming-webhook address of user 1,
// URL + "/rest/1/<secret>/".
func (s *Server) WebhookURL() string { return s.URL + "/rest/1/" + s.secret + "/" }

// OAuthConfig returns a ready OAuth configuration: Endpoint URL+"/rest/",
// TokenURL URL+"/oauth/token/", the application's client id and secret and
// a freshly issued token pair. Every call issues a new pair.
func (s *Server) OAuthConfig() b24.OAuthConfig {
	tok := s.auth.issue(time.Now())
	return b24.OAuthConfig{
		Endpoint:     s.URL + "/rest/",
		ClientID:     s.clientID,
		ClientSecret: s.clientSecret,
		TokenURL:     s.URL + "/oauth/token/",
		Token:        b24.Token{AccessToken: tok.access, RefreshToken: tok.refresh, Expiry: tok.expiry},
	}
}

// Client returns a webhook client wired to the server: http allowed, rate
// and operating limits matching the server's, then opts. It panics only if
// opts are invalid or the server's own webhook URL is refused, which are
// programming errors in a test.
func (s *Server) Client(opts ...b24.Option) *b24.Client {
	wh, err := b24.NewWebhook(s.WebhookURL())
	if err != nil {
		panic(fmt.Sprintf("b24test: webhook for the fake portal: %v", err))
	}
	c, err := b24.NewClient(wh, append(s.ClientOptions(), opts...)...)
	if err != nil {
		panic(fmt.Sprintf("b24test: client for the fake portal: %v", err))
	}
	return c
}

// ClientOptions returns the options [Server.Client] starts with (http
// allowed, limits matching the server's, and no wait before a call whose
// answer was lost is looked up: the fake finishes every call before it
// answers, drops the connection or cuts it off, so
// [b24.WithMaxExecutionTime] is 0), for building an OAuth client:
//
//	oa, _ := b24.NewOAuth(srv.OAuthConfig())
//	c, _ := b24.NewClient(oa, srv.ClientOptions()...)
func (s *Server) ClientOptions() []b24.Option {
	opts := []b24.Option{b24.WithAllowHTTP(), b24.WithMaxExecutionTime(0)}
	if s.cfg.rateOn {
		opts = append(opts, b24.WithRateLimit(s.cfg.rate, s.cfg.burst))
	} else {
		opts = append(opts, b24.WithRateLimit(1e9, 1<<30))
	}
	if s.cfg.opOn {
		opts = append(opts, b24.WithOperatingLimit(s.cfg.opBudget, s.cfg.opWindow))
	} else {
		opts = append(opts, b24.WithOperatingLimit(1<<62, time.Hour))
	}
	return opts
}

// ServeHTTP answers one request; [NewServer] and [Serve] route every request
// here, and it can be mounted in another server too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Done()
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/oauth/token"):
		s.serveToken(w, r)
	case strings.HasPrefix(p, "/rest/"):
		s.serveREST(w, r)
	default:
		http.NotFound(w, r)
	}
}

// jitter draws a random duration below max from the seeded source.
func (s *Server) jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return time.Duration(s.rng.Int64N(int64(max)))
}

// chance reports true with probability p from the seeded source.
func (s *Server) chance(p float64) bool {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("b24test: no randomness"))
	}
	return hex.EncodeToString(b)
}
