package b24redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// helperEnv selects a helper mode when the test binary is re-executed as
// one of several worker processes.
const helperEnv = "B24REDIS_HELPER"

// sharedRedis is the address of the Redis the tests use ("" when none).
var sharedRedis string

// noRedisReason says why sharedRedis is empty.
var noRedisReason string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	redis.SetLogger(quietLogger{}) // dial failures are expected in the outage tests
	os.Exit(run(m))
}

// quietLogger drops the Redis client's own log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func run(m *testing.M) int {
	if addr := os.Getenv("B24_REDIS_ADDR"); addr != "" {
		sharedRedis = addr
		return m.Run()
	}
	srv, err := startRedis()
	switch {
	case err != nil && os.Getenv("CI") == "true":
		fmt.Fprintf(os.Stderr, "b24redis tests: CI=true but no redis: %v\n", err)
		return 1
	case err != nil:
		noRedisReason = err.Error()
		return m.Run()
	}
	defer srv.stop()
	sharedRedis = srv.addr
	return m.Run()
}

// needRedis returns a client of the shared Redis, or skips the test (it
// fails instead when CI=true).
func needRedis(t *testing.T) *redis.Client {
	t.Helper()
	if sharedRedis == "" {
		msg := "no redis: set B24_REDIS_ADDR or install redis-server (" + noRedisReason + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	rdb := redis.NewClient(&redis.Options{Addr: sharedRedis})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", sharedRedis, err)
	}
	return rdb
}

// uniquePrefix keeps each test's keys apart on the shared Redis.
func uniquePrefix(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "b24test:" + hex.EncodeToString(b[:]) + ":"
}

// redisProc is a redis-server the tests started on a loopback port.
type redisProc struct {
	addr string
	port int
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free loopback port without
// persistence and waits until it answers.
func startRedis() (*redisProc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	p := &redisProc{addr: "127.0.0.1:" + strconv.Itoa(port), port: port}
	return p, p.start(bin)
}

func (p *redisProc) start(bin string) error {
	p.cmd = exec.Command(bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := p.cmd.Start(); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1})
	defer rdb.Close()
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(25 * time.Millisecond) // test plumbing: waiting for a process to listen
	}
	p.stop()
	return fmt.Errorf("redis-server on %s did not answer", p.addr)
}

// stop kills the server and waits for it.
func (p *redisProc) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// ownRedis starts a private redis-server for a test that stops it.
func ownRedis(t *testing.T) *redisProc {
	t.Helper()
	needRedis(t)
	p, err := startRedis()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("private redis-server: %v", err)
		}
		t.Skipf("this test needs redis-server on PATH: %v", err)
	}
	t.Cleanup(p.stop)
	return p
}

// restart starts the server again on the same port.
func (p *redisProc) restart(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.start(bin); err != nil {
		t.Fatal(err)
	}
}
