package b24redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24redis"
	"github.com/redis/go-redis/v9"
)

// Every process of an application wires its client to the same Redis: the
// shared token pair, rate bucket and operating budget.
func Example() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	const portal = "example.bitrix24.com"

	store, err := b24redis.NewTokenStore(rdb, "b24:oauth:"+portal)
	if err != nil {
		log.Fatal(err)
	}
	// The pair this process was configured with seeds Redis only if Redis
	// has none; otherwise the current one from Redis is used.
	tok, err := store.LoadOrStore(ctx, b24.Token{AccessToken: "...", RefreshToken: "..."})
	if err != nil {
		log.Fatal(err)
	}
	creds, err := b24.NewOAuth(b24.OAuthConfig{
		Endpoint: "https://" + portal + "/rest/", ClientID: "app.id", ClientSecret: "app.secret",
		Token: tok, Store: store,
	})
	if err != nil {
		log.Fatal(err)
	}
	limiter, err := b24redis.NewLimiter(rdb, portal)
	if err != nil {
		log.Fatal(err)
	}
	budget, err := b24redis.NewOperatingBudget(rdb, portal)
	if err != nil {
		log.Fatal(err)
	}
	client, err := b24.NewClient(creds, b24.WithLimiter(limiter), b24.WithOperatingBudget(budget))
	if err != nil {
		log.Fatal(err)
	}
	_ = client // import with client.CRMItem.BatchImport as usual
}

// Without a fallback an unreachable Redis stops the calls with a typed
// error instead of letting them through unpaced.
func ExampleErrUnavailable() {
	// Nothing listens on port 1.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	limiter, err := b24redis.NewLimiter(rdb, "example.bitrix24.com")
	if err != nil {
		log.Fatal(err)
	}
	err = limiter.Wait(context.Background())
	fmt.Println("unavailable:", errors.Is(err, b24redis.ErrUnavailable))
	// Output: unavailable: true
}

// With WithFallback each of the three processes paces itself at a third
// of the portal's limits while Redis is down.
func ExampleWithFallback() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	limiter, err := b24redis.NewLimiter(rdb, "example.bitrix24.com", b24redis.WithFallback(3))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("error:", limiter.Wait(ctx))
	// Output: error: <nil>
}
