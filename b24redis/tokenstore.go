package b24redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/internal/budget"
	"github.com/redis/go-redis/v9"
)

// unlockScript deletes the lock only if this holder still owns it, so a
// holder whose lock expired cannot release someone else's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// renewScript extends the lock only if this holder still owns it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// unlockTimeout bounds the unlock script; unlock has no ctx.
const unlockTimeout = 5 * time.Second

// maxHold stops renewing a lock whose holder never unlocks (a bug in the
// caller); the b24 client unlocks within its 30 s refresh limit.
const maxHold = 2 * time.Minute

// TokenStore keeps one OAuth token pair in Redis for every process of an
// application installed on a portal, and implements [b24.TokenStore]: set
// it as [b24.OAuthConfig].Store. The b24 client then refreshes under the
// store's lock, so exactly one process spends the refresh token and the
// others adopt the pair it saved.
//
// The pair is kept as JSON under key, the lock under key + ":lock" (SET NX
// with a random owner and an expiry, renewed while its holder lives, see
// [WithLockTTL]; released by a compare-and-delete script). A process that
// dies while refreshing leaves the lock to expire, after which another one
// takes over with the pair in Redis. The pair is saved before the lock is released; if a process dies
// after the token endpoint rotated the pair but before saving it, the new
// pair is lost and the application must be authorised again: no store can
// close that window.
//
// The value holds the refresh token, which grants access to the portal:
// use a Redis that only the application can reach, with ACLs and TLS as
// your network requires. The store never logs a token.
type TokenStore struct {
	rdb     redis.UniversalClient
	key     string
	lockKey string
	ttl     time.Duration
	retry   time.Duration
	logger  *slog.Logger
}

// storedToken is the JSON form of a pair in Redis.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// NewTokenStore returns a store that keeps the pair under key, for example
// "b24:oauth:example.bitrix24.com:local.abc123". Use one key per portal
// and application.
func NewTokenStore(rdb redis.UniversalClient, key string, opts ...Option) (*TokenStore, error) {
	if rdb == nil {
		return nil, invalid("NewTokenStore: nil redis client")
	}
	if key == "" {
		return nil, invalid("NewTokenStore: key is empty")
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	return &TokenStore{
		rdb: rdb, key: key, lockKey: key + ":lock",
		ttl: cfg.lockTTL, retry: cfg.lockRetry, logger: cfg.logger,
	}, nil
}

// Load returns the pair saved last by any process; the zero Token when
// none was saved yet.
func (s *TokenStore) Load(ctx context.Context) (b24.Token, error) {
	raw, err := s.rdb.Get(ctx, s.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return b24.Token{}, nil
	}
	if err != nil {
		return b24.Token{}, wrapErr("token store load", err)
	}
	return decodeToken(raw)
}

func decodeToken(raw []byte) (b24.Token, error) {
	var st storedToken
	if err := json.Unmarshal(raw, &st); err != nil {
		// The JSON error could quote the value: keep it out of the message.
		return b24.Token{}, errors.New("b24: redis token store: the stored value is not a token pair")
	}
	return b24.Token{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, Expiry: st.Expiry}, nil
}

func encodeToken(t b24.Token) ([]byte, error) {
	return json.Marshal(storedToken{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry})
}

// Save stores t for every process. The refresh token inside it is the only
// live one, so Save keeps trying through a Redis outage until ctx is done
// (the b24 client gives a refresh 30 s in all).
func (s *TokenStore) Save(ctx context.Context, t b24.Token) error {
	raw, err := encodeToken(t)
	if err != nil {
		return errors.New("b24: redis token store: the token pair does not encode")
	}
	pause := 50 * time.Millisecond
	var last error
	for {
		err := s.rdb.Set(ctx, s.key, raw, 0).Err()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if last != nil {
				return fmt.Errorf("%w; gave up: %w", last, ctx.Err())
			}
			// Redis did not answer before ctx ended: the pair is not saved.
			return &UnavailableError{Op: "token store save", Err: err}
		}
		err = wrapErr("token store save", err)
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			return err // a reply error: retrying will not help
		}
		last = err
		s.logger.LogAttrs(ctx, slog.LevelWarn, "b24: redis token store: save failed, retrying",
			slog.String("error", err.Error()))
		if werr := budget.Sleep(ctx, pause, nil); werr != nil {
			return fmt.Errorf("%w; gave up: %w", last, werr)
		}
		pause = min(pause*2, time.Second)
	}
}

// LoadOrStore returns the pair in Redis, first storing seed when there is
// none. Call it at start-up and put the result in [b24.OAuthConfig].Token,
// so that a process started with an old pair (from a file or an
// environment variable) uses the current one.
func (s *TokenStore) LoadOrStore(ctx context.Context, seed b24.Token) (b24.Token, error) {
	if seed.AccessToken == "" && seed.RefreshToken == "" {
		return s.Load(ctx)
	}
	raw, err := encodeToken(seed)
	if err != nil {
		return b24.Token{}, errors.New("b24: redis token store: the token pair does not encode")
	}
	if err := s.rdb.SetNX(ctx, s.key, raw, 0).Err(); err != nil {
		return b24.Token{}, wrapErr("token store save", err)
	}
	return s.Load(ctx)
}

// Lock takes the exclusive right to refresh, waiting (with a growing,
// jittered pause between attempts) while another process holds it, until
// ctx is done. While held, the lock is renewed every third of
// [WithLockTTL] (15 s by default), so it outlives a slow refresh; if its
// holder dies, it expires within the TTL and another process takes over.
// unlock stops the renewal and releases the lock only if it is still this
// holder's.
func (s *TokenStore) Lock(ctx context.Context) (func(), error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, errors.New("b24: redis token store: no randomness for the lock owner")
	}
	owner := hex.EncodeToString(id[:])
	pause := 5 * time.Millisecond
	for {
		ok, err := s.rdb.SetNX(ctx, s.lockKey, owner, s.ttl).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, wrapErr("token store lock", err)
		}
		if ok {
			return s.hold(owner), nil
		}
		// Jitter spreads the waiters so they do not all retry at once.
		d := pause/2 + mrand.N(pause/2+1)
		if err := budget.Sleep(ctx, d, nil); err != nil {
			return nil, err
		}
		pause = min(pause*2, s.retry)
	}
}

// hold renews the lock until the returned unlock is called, the lock is
// lost, or maxHold passes.
func (s *TokenStore) hold(owner string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.ttl / 3)
		defer tick.Stop()
		limit := time.NewTimer(maxHold)
		defer limit.Stop()
		for {
			select {
			case <-stop:
				return
			case <-limit.C:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
				n, err := renewScript.Run(ctx, s.rdb, []string{s.lockKey}, owner, s.ttl.Milliseconds()).Int()
				cancel()
				if err == nil && n == 0 {
					return // expired and perhaps taken: nothing left to renew
				}
				// An error is retried at the next tick, while the lock lives.
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			s.unlock(owner)
		})
	}
}

func (s *TokenStore) unlock(owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	if err := unlockScript.Run(ctx, s.rdb, []string{s.lockKey}, owner).Err(); err != nil {
		// The lock expires by itself after its TTL.
		s.logger.LogAttrs(ctx, slog.LevelWarn, "b24: redis token store: unlock failed",
			slog.String("error", wrapErr("token store unlock", err).Error()))
	}
}

var _ b24.TokenStore = (*TokenStore)(nil)
