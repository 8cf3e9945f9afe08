package b24redis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/redis/go-redis/v9"
)

// Helper modes: the test binary re-executed as a worker process.
const (
	modeLimiter = "limiter" // hammer the portal through the shared limiter
	modeToken   = "token"   // call the portal with OAuth through the shared token store
	modeImport  = "import"  // import deals with packing through the shared limiter and budget
)

func runHelper(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	switch mode {
	case modeLimiter:
		err = helperLimiter(ctx)
	case modeToken:
		err = helperToken(ctx)
	case modeImport:
		err = helperImport(ctx)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Printf("FAIL %v\n", err)
		return 1
	}
	return 0
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// stampLimiter records when each Wait let a request through.
type stampLimiter struct {
	next        b24.Limiter
	mu          sync.Mutex
	first, last time.Time
	n           int
}

func (s *stampLimiter) Wait(ctx context.Context) error {
	if err := s.next.Wait(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	if s.n == 0 || now.Before(s.first) {
		s.first = now
	}
	if now.After(s.last) {
		s.last = now
	}
	s.n++
	s.mu.Unlock()
	return nil
}

// hammer makes goroutines × calls profile calls through client.
func hammer(ctx context.Context, client *b24.Client, goroutines, calls int) (ok int64, err error) {
	var wg sync.WaitGroup
	var okN atomic.Int64
	errc := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				var out map[string]any
				if err := client.Call(ctx, "profile", nil, &out); err != nil {
					errc <- err
					return
				}
				okN.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errc)
	return okN.Load(), <-errc
}

func helperLimiter(ctx context.Context) error {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("B24REDIS_ADDR")})
	defer rdb.Close()
	lim, err := b24redis.NewLimiter(rdb, os.Getenv("B24REDIS_PORTAL"), b24redis.WithKeyPrefix(os.Getenv("B24REDIS_PREFIX")),
		b24redis.WithRateLimit(float64(envInt("B24REDIS_RATE")), envInt("B24REDIS_BURST")))
	if err != nil {
		return err
	}
	st := &stampLimiter{next: lim}
	wh, err := b24.NewWebhook(os.Getenv("B24REDIS_WEBHOOK"))
	if err != nil {
		return err
	}
	client, err := b24.NewClient(wh, b24.WithAllowHTTP(), b24.WithLimiter(st))
	if err != nil {
		return err
	}
	ok, err := hammer(ctx, client, envInt("B24REDIS_GOROUTINES"), envInt("B24REDIS_CALLS"))
	if err != nil {
		return err
	}
	fmt.Printf("RESULT %d %d %d\n", ok, st.first.UnixNano(), st.last.UnixNano())
	return nil
}

func helperToken(ctx context.Context) error {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("B24REDIS_ADDR")})
	defer rdb.Close()
	ttl, _ := time.ParseDuration(os.Getenv("B24REDIS_LOCK_TTL"))
	store, err := b24redis.NewTokenStore(rdb, os.Getenv("B24REDIS_KEY"), b24redis.WithLockTTL(ttl))
	if err != nil {
		return err
	}
	tok, err := store.Load(ctx)
	if err != nil {
		return err
	}
	oa, err := b24.NewOAuth(b24.OAuthConfig{
		Endpoint: os.Getenv("B24REDIS_ENDPOINT"), TokenURL: os.Getenv("B24REDIS_TOKEN_URL"),
		ClientID: os.Getenv("B24REDIS_CLIENT_ID"), ClientSecret: os.Getenv("B24REDIS_CLIENT_SECRET"),
		Token: tok, Store: store,
	})
	if err != nil {
		return err
	}
	client, err := b24.NewClient(oa, b24.WithAllowHTTP(), b24.WithRateLimit(1e6, 1<<20))
	if err != nil {
		return err
	}
	if _, err := hammer(ctx, client, 1, 1); err != nil {
		return fmt.Errorf("first call: %w", err)
	}
	fmt.Println("READY")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "GO" {
		return fmt.Errorf("no go signal: %q %v", line, err)
	}
	ok, err := hammer(ctx, client, envInt("B24REDIS_GOROUTINES"), 2)
	if err != nil {
		return err
	}
	fmt.Printf("DONE %d\n", ok)
	return nil
}

// worker is a helper process started by a test.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at EOF
	done  chan error  // the exit status, once
	out   strings.Builder
	mu    sync.Mutex
}

// spawn re-executes the test binary in mode with env.
func spawn(t *testing.T, mode string, env map[string]string) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	w := &worker{cmd: cmd, lines: make(chan string, 64), done: make(chan error, 1)}
	var err error
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.mu.Lock()
			w.out.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			w.lines <- sc.Text()
		}
		close(w.lines)
		w.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	return w
}

// expect waits for a line starting with prefix and returns it.
func (w *worker) expect(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %q: %w (output so far: %s)", prefix, ctx.Err(), w.output())
		case l, ok := <-w.lines:
			if !ok {
				return "", fmt.Errorf("worker ended before %q: %s", prefix, w.output())
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
			if strings.HasPrefix(l, "FAIL") {
				return "", errors.New(l)
			}
		}
	}
}

func (w *worker) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// wait returns the worker's exit status.
func (w *worker) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-w.done:
		if err != nil {
			return fmt.Errorf("%w: %s", err, w.output())
		}
		return nil
	}
}
