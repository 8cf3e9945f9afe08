// Package b24redis shares a Bitrix24 portal's limits and an OAuth
// application's tokens between processes through Redis, for the b24 SDK.
//
// A portal counts requests and server time per portal (and per
// application), not per process, and spends a refresh token only once. The
// b24 client's own limiter, operating budget and token refresh are right
// for one process; when several replicas or services call the same
// portal, plug in this package's versions so they act as one:
//
//   - [Limiter] implements [b24.Limiter]: the portal's leaky bucket kept in
//     one Redis key and updated by an atomic Lua script on Redis's clock
//     (the generic cell rate algorithm), with the same safety reserve as
//     the core (a tenth of the burst).
//   - [OperatingBudget] implements [b24.OperatingBudget]: every process's
//     readings of each method's operating time and its calls in flight are
//     pooled, so one replica's heavy calls hold the others back before the
//     portal blocks the method. Calls in flight hold leases that lapse, so
//     a crashed process does not hold the budget.
//   - [TokenStore] implements [b24.TokenStore]: the token pair in one key
//     and a lock with an expiry, so exactly one process refreshes and the
//     others adopt its pair; a process that dies mid-refresh leaves the
//     lock to expire and another takes over.
//
// The module is separate from the SDK's, so the SDK itself does not depend
// on a Redis client.
//
// # Usage
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	const portal = "example.bitrix24.com"
//
//	store, err := b24redis.NewTokenStore(rdb, "b24:oauth:"+portal)
//	if err != nil { ... }
//	// Start from the pair in Redis (seeded with ours if there is none).
//	tok, err := store.LoadOrStore(ctx, tokenFromConfig)
//	if err != nil { ... }
//	creds, err := b24.NewOAuth(b24.OAuthConfig{
//		Endpoint: "https://" + portal + "/rest/", ClientID: id, ClientSecret: secret,
//		Token: tok, Store: store,
//	})
//	if err != nil { ... }
//
//	limiter, err := b24redis.NewLimiter(rdb, portal) // 2/s, burst 50; WithRateLimit for Enterprise
//	if err != nil { ... }
//	budget, err := b24redis.NewOperatingBudget(rdb, portal)
//	if err != nil { ... }
//	client, err := b24.NewClient(creds, b24.WithLimiter(limiter), b24.WithOperatingBudget(budget))
//
// Every process that calls the portal with the same credentials must use
// the same Redis, portal name, key prefix and limits.
//
// # One import split between processes
//
// Processes that share these limits may split one input between them; the
// portal sees one client, and packed requests are sized from the share of
// the rate each process really gets. With the default
// [b24.ExistingSkip], each import first asks whether the portal holds any
// item of the rows' originator; the processes that ask after another
// one's first rows have landed find some and look every key up, which at
// a portal bound by its request rate costs about two requests in five
// more (three processes measured 0.69 of the best schedule, against 0.96
// without lookups). When the parts are disjoint and none of them was
// imported before, pass [b24.WithExisting]([b24.ExistingCreate]): keys
// still guard each import's own retries. Re-run a part that stopped
// midway with the default, which finds the rows it created.
//
// # When Redis is unreachable
//
// By default the limiter and the budget return an error matching
// [ErrUnavailable] and the client's call fails before anything is sent
// (an import reports its remaining rows as not sent): no process ever
// calls the portal unpaced. With [WithFallback] they switch to in-process
// limits instead, each process taking its share of the portal's rate and
// budget, log a warning through [WithLogger], and return to Redis when it
// answers again. A Redis restarted without its data forgets the bucket:
// right after it, up to one burst may be sent early, which the portal may
// refuse with QUERY_LIMIT_EXCEEDED and the client retries.
//
// The token store has no fallback: without Redis a process cannot know
// whether another one has spent the refresh token. A refresh then fails
// with [ErrUnavailable]; Save keeps trying until the refresh's deadline,
// because the new pair exists nowhere else.
//
// # Security
//
// The token store's value holds the refresh token, which grants access to
// the portal. Use a Redis that only the application can reach, with
// authentication (ACLs) and TLS where the network is not trusted. Nothing
// in this package logs a token or puts one in an error.
package b24redis
