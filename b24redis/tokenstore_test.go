package b24redis_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/b24kit/b24/b24test"
	"github.com/redis/go-redis/v9"
)

func TestTokenStoreRoundTrip(t *testing.T) {
	rdb := needRedis(t)
	key := uniquePrefix(t) + "oauth"
	s, err := b24redis.NewTokenStore(rdb, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	got, err := s.Load(ctx)
	if err != nil || got != (b24.Token{}) {
		t.Fatalf("Load of an empty store = %v, %v; want the zero token", got, err)
	}
	seed := b24.Token{AccessToken: "access-1", RefreshToken: "refresh-1", Expiry: time.Unix(1_900_000_000, 0).UTC()}
	if got, err = s.LoadOrStore(ctx, seed); err != nil || got != seed {
		t.Fatalf("LoadOrStore on empty = %v, %v", got, err)
	}
	if got, err = s.LoadOrStore(ctx, b24.Token{AccessToken: "other", RefreshToken: "other"}); err != nil || got != seed {
		t.Fatalf("LoadOrStore must keep the stored pair, got %v, %v", got, err)
	}
	next := b24.Token{AccessToken: "access-2", RefreshToken: "refresh-2"}
	if err := s.Save(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Load(ctx); err != nil || got != next {
		t.Fatalf("Load after Save = %+v, %v", got, err)
	}
	if err := rdb.Set(ctx, key, "not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); err == nil || strings.Contains(err.Error(), "not json") {
		t.Fatalf("Load of garbage = %v, want an error that does not quote the value", err)
	}
}

func TestTokenStoreLockExclusive(t *testing.T) {
	rdb := needRedis(t)
	key := uniquePrefix(t) + "oauth"
	a, _ := b24redis.NewTokenStore(rdb, key)
	b, _ := b24redis.NewTokenStore(rdb, key)
	unlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held = %v, want a deadline error", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(t.Context())
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	unlock() // a second call is harmless
	if err := <-got; err != nil {
		t.Fatalf("Lock after unlock = %v", err)
	}
}

func TestTokenStoreLockExpiresWhenItsHolderIsGone(t *testing.T) {
	rdb := needRedis(t)
	key := uniquePrefix(t) + "oauth"
	// a's own connection dies with it: no more renewals.
	ardb := redis.NewClient(&redis.Options{Addr: sharedRedis})
	a, _ := b24redis.NewTokenStore(ardb, key, b24redis.WithLockTTL(150*time.Millisecond))
	b, _ := b24redis.NewTokenStore(rdb, key, b24redis.WithLockTTL(time.Minute))
	staleUnlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_ = ardb.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	unlockB, err := b.Lock(ctx)
	if err != nil {
		t.Fatalf("Lock after the holder's lock expired = %v", err)
	}
	defer unlockB()
	staleUnlock() // must not release b's lock (and cannot: a's client is closed)
	if n, err := rdb.Exists(t.Context(), key+":lock").Result(); err != nil || n != 1 {
		t.Fatalf("b's lock was released by a's late unlock (exists=%d, %v)", n, err)
	}
}

func TestTokenStoreLockRenewedWhileHeld(t *testing.T) {
	rdb := needRedis(t)
	key := uniquePrefix(t) + "oauth"
	a, _ := b24redis.NewTokenStore(rdb, key, b24redis.WithLockTTL(300*time.Millisecond))
	b, _ := b24redis.NewTokenStore(rdb, key)
	unlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Four TTLs later the live holder still has it.
	short, cancel := context.WithTimeout(t.Context(), 1200*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while a live holder renews = %v, want a deadline error", err)
	}
	unlock()
	unlockB, err := b.Lock(t.Context())
	if err != nil {
		t.Fatalf("Lock after unlock = %v", err)
	}
	unlockB()
}

func TestTokenStoreUnavailable(t *testing.T) {
	s, _ := b24redis.NewTokenStore(deadRedis(t), "k")
	if _, err := s.Load(t.Context()); !errors.Is(err, b24redis.ErrUnavailable) {
		t.Fatalf("Load = %v, want ErrUnavailable", err)
	}
	if _, err := s.Lock(t.Context()); !errors.Is(err, b24redis.ErrUnavailable) {
		t.Fatalf("Lock = %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := s.Save(ctx, b24.Token{AccessToken: "secret-access", RefreshToken: "secret-refresh"})
	if !errors.Is(err, b24redis.ErrUnavailable) || strings.Contains(err.Error(), "secret-") {
		t.Fatalf("Save = %v, want ErrUnavailable without the tokens", err)
	}
}

// tokenWorkers starts n token workers on srv through tokenURL and waits
// until each made a first call.
func tokenWorkers(t *testing.T, ctx context.Context, srv *b24test.Server, n int, tokenURL func(i int) string, lockTTL time.Duration) []*worker {
	t.Helper()
	rdb := needRedis(t)
	key := uniquePrefix(t) + "oauth"
	store, _ := b24redis.NewTokenStore(rdb, key)
	cfg := srv.OAuthConfig()
	if _, err := store.LoadOrStore(ctx, cfg.Token); err != nil {
		t.Fatal(err)
	}
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = spawn(t, modeToken, map[string]string{
			"B24REDIS_ADDR": sharedRedis, "B24REDIS_KEY": key, "B24REDIS_LOCK_TTL": lockTTL.String(),
			"B24REDIS_ENDPOINT": cfg.Endpoint, "B24REDIS_TOKEN_URL": tokenURL(i),
			"B24REDIS_CLIENT_ID": cfg.ClientID, "B24REDIS_CLIENT_SECRET": cfg.ClientSecret,
			"B24REDIS_GOROUTINES": "20",
		})
	}
	for i, w := range ws {
		if _, err := w.expect(ctx, "READY"); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	return ws
}

func invalidGrants(srv *b24test.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "oauth.token" && r.Code == "invalid_grant" {
			n++
		}
	}
	return n
}

// TestTokenRefreshOnceAcrossProcesses expires the access token under three
// processes of twenty goroutines each: exactly one refresh reaches the
// token endpoint and every call succeeds.
func TestTokenRefreshOnceAcrossProcesses(t *testing.T) {
	srv := b24test.NewServer(b24test.WithoutRateLimit(), b24test.WithoutOperatingLimit())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tokenURL := srv.OAuthConfig().TokenURL
	ws := tokenWorkers(t, ctx, srv, 3, func(int) string { return tokenURL }, 15*time.Second)

	srv.ExpireTokens()
	for _, w := range ws {
		_, _ = w.stdin.Write([]byte("GO\n"))
	}
	for i, w := range ws {
		if _, err := w.expect(ctx, "DONE 40"); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
		if err := w.wait(ctx); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	st := srv.Stats()
	if st.Refreshes != 1 || invalidGrants(srv) != 0 {
		t.Fatalf("refreshes = %d, invalid_grant = %d; want 1 and 0", st.Refreshes, invalidGrants(srv))
	}
}

// TestTokenRefreshTakeoverAfterCrash blocks the first refresh request at a
// proxy in front of the token endpoint, kills the process that sent it,
// and checks that another process takes the lock once it expires and
// refreshes for everyone.
func TestTokenRefreshTakeoverAfterCrash(t *testing.T) {
	srv := b24test.NewServer(b24test.WithoutRateLimit(), b24test.WithoutOperatingLimit())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	target, _ := url.Parse(srv.URL)
	forward := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	blocked := make(chan int, 1) // the worker whose refresh is held
	release := make(chan struct{})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Paths are /wN/oauth/token/: N says which worker is asking.
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/w"), "/", 2)
		n, _ := strconv.Atoi(parts[0])
		hold := false
		once.Do(func() { hold = true })
		if hold {
			blocked <- n
			select { // never forwarded: the worker dies holding the lock
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		r.URL.Path = "/" + parts[1]
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Cleanup(func() { close(release) })

	ws := tokenWorkers(t, ctx, srv, 3, func(i int) string {
		return proxy.URL + "/w" + strconv.Itoa(i) + "/oauth/token/"
	}, 2*time.Second)
	srv.ExpireTokens()
	for _, w := range ws {
		_, _ = w.stdin.Write([]byte("GO\n"))
	}
	var victim int
	select {
	case victim = <-blocked:
	case <-ctx.Done():
		t.Fatal("no refresh request arrived")
	}
	if err := ws[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		if i == victim {
			continue
		}
		if _, err := w.expect(ctx, "DONE 40"); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
		if err := w.wait(ctx); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	st := srv.Stats()
	if st.Refreshes != 1 || invalidGrants(srv) != 0 {
		t.Fatalf("refreshes = %d, invalid_grant = %d; want 1 and 0", st.Refreshes, invalidGrants(srv))
	}
}
