// Command workers shows three processes importing one input into one
// portal through a shared Redis: one rate bucket, one operating budget and
// one OAuth token pair for all of them.
//
// It starts a fake portal (b24test) with a scaled-up rate limit, splits
// 1200 deals three ways and starts itself three times as workers. Halfway
// through it expires the access token, so the workers must refresh: the
// portal should see exactly one refresh and no request refused.
//
//	redis-server --port 6390 --save '' &
//	go run ./example/workers -redis 127.0.0.1:6390
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/b24kit/b24/b24test"
	"github.com/redis/go-redis/v9"
)

// The fake portal's limits, scaled up from the cloud's 2/s so the demo
// takes seconds; every worker must use the same values.
const (
	rate    = 10
	burst   = 20
	items   = 1200 // 60 calls of 20: about 4 s at 10 calls per second
	workers = 3
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	worker := flag.Int("worker", -1, "run as worker N (set by the coordinator)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if *worker >= 0 {
		err = runWorker(ctx, *addr, *worker)
	} else {
		err = coordinate(ctx, *addr)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// coordinate starts the portal and the workers and reports what the
// portal saw.
func coordinate(ctx context.Context, addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}
	srv := b24test.NewServer(b24test.WithRateLimit(rate, burst), b24test.WithoutRequestLog())
	defer srv.Close()
	cfg := srv.OAuthConfig()
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // keeps runs apart in Redis

	// Seed the shared token pair; the workers take it from Redis.
	store, err := b24redis.NewTokenStore(rdb, "b24demo:"+run+":oauth")
	if err != nil {
		return err
	}
	if _, err := store.LoadOrStore(ctx, cfg.Token); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		cmd := exec.CommandContext(ctx, self, "-redis", addr, "-worker", strconv.Itoa(i))
		// The application's credentials go to the workers through their
		// environment; a real deployment reads them from its secret store.
		cmd.Env = append(os.Environ(), "DEMO_RUN="+run, "DEMO_ENDPOINT="+cfg.Endpoint,
			"DEMO_TOKEN_URL="+cfg.TokenURL, "DEMO_CLIENT_ID="+cfg.ClientID, "DEMO_CLIENT_SECRET="+cfg.ClientSecret)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				fmt.Printf("worker %d: %s\n", i, sc.Text())
			}
			errs[i] = cmd.Wait()
		}()
	}
	// Halfway through, the access token expires under all three workers.
	half := time.NewTimer(2 * time.Second)
	defer half.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-half.C:
		srv.ExpireTokens()
		fmt.Println("coordinator: access token expired")
		<-done
	case <-done:
	}
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	st := srv.Stats()
	fmt.Printf("portal: %d deals stored in %.1fs, %d requests refused by the rate limit, %d by the operating limit, %d token refreshes\n",
		srv.ItemCount(b24.EntityDeal), time.Since(start).Seconds(), st.RateLimited, st.OperatingLimited, st.Refreshes)
	return nil
}

// runWorker imports every third deal of the input, starting at n.
func runWorker(ctx context.Context, addr string, n int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	run := os.Getenv("DEMO_RUN")
	endpoint := os.Getenv("DEMO_ENDPOINT")
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	portal := u.Host // names the portal's bucket; the same in every process
	prefix := b24redis.WithKeyPrefix("b24demo:" + run + ":")

	store, err := b24redis.NewTokenStore(rdb, "b24demo:"+run+":oauth")
	if err != nil {
		return err
	}
	tok, err := store.Load(ctx)
	if err != nil {
		return err
	}
	creds, err := b24.NewOAuth(b24.OAuthConfig{
		Endpoint: endpoint, TokenURL: os.Getenv("DEMO_TOKEN_URL"),
		ClientID: os.Getenv("DEMO_CLIENT_ID"), ClientSecret: os.Getenv("DEMO_CLIENT_SECRET"),
		Token: tok, Store: store,
	})
	if err != nil {
		return err
	}
	limiter, err := b24redis.NewLimiter(rdb, portal, prefix, b24redis.WithRateLimit(rate, burst))
	if err != nil {
		return err
	}
	budget, err := b24redis.NewOperatingBudget(rdb, portal, prefix)
	if err != nil {
		return err
	}
	client, err := b24.NewClient(creds, b24.WithAllowHTTP(), b24.WithLimiter(limiter), b24.WithOperatingBudget(budget))
	if err != nil {
		return err
	}

	var mine []b24.Item
	for i := n; i < items; i += workers {
		mine = append(mine, b24.Item{
			Title: fmt.Sprintf("Deal %d", i),
			// Dedup keys make a retried call safe to reconcile.
			OriginatorID: "workers-demo", OriginID: strconv.Itoa(i),
		})
	}
	// One import call per request, so that the demo's 60 calls all pass
	// through the shared bucket; in production leave packing automatic.
	res, err := client.CRMItem.BatchImport(ctx, b24.EntityDeal, mine, b24.WithPacking(1))
	imported, rejected, unknown, notSent := res.Counts()
	fmt.Printf("%d imported, %d rejected, %d unknown, %d not sent\n", imported, rejected, unknown, notSent)
	return err
}
