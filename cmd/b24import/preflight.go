package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/b24kit/b24"
)

// probeRetry bounds the first calls: a portal that cannot be reached at
// all (wrong host or port, DNS) is reported within seconds, not after the
// import's full backoff.
var probeRetry = b24.RetryPolicy{MaxAttempts: 4, BaseDelay: 500 * time.Millisecond, MaxDelay: 2 * time.Second}

// credentialsHint is said once when the portal refuses the credentials.
const credentialsHint = "check B24_WEBHOOK_URL: is the webhook deleted or its user deactivated?"

func hasCredentials(cfg *config) bool { return cfg.webhookURL != "" || cfg.oauthEndpoint != "" }

// newClients builds the import's client and a probe client for the first
// calls, which gives up sooner. Both draw on one request bucket and one
// operating budget, as the portal counts them together.
func newClients(cfg *config, logger *slog.Logger, opBudget, opWindow time.Duration, extra ...b24.Option) (client, probe *b24.Client, err error) {
	shared := []b24.Option{b24.WithLimiter(b24.NewLimiter(cfg.rate, cfg.burst)),
		b24.WithOperatingBudget(b24.NewOperatingBudget(opBudget, opWindow))}
	opts := append(append([]b24.Option{}, extra...), shared...)
	creds, err := newCredentials(cfg)
	if err != nil {
		return nil, nil, err
	}
	if client, err = clientFor(cfg, creds, logger, opts...); err != nil {
		return nil, nil, err
	}
	if probe, err = clientFor(cfg, creds, logger, append(opts, b24.WithRetry(probeRetry))...); err != nil {
		return nil, nil, err
	}
	return client, probe, nil
}

// portalAddress is the portal's scheme and host, without the webhook's
// secret path.
func portalAddress(cfg *config) string {
	raw := cfg.webhookURL
	if raw == "" {
		raw = cfg.oauthEndpoint
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the portal"
	}
	return u.Scheme + "://" + u.Host
}

// connect reads what the portal says about the entity type before any row
// is read: its fields (the first call, which also proves the address and
// the credentials), then the lists the columns need. A failure is said in
// one line.
func (imp *importer) connect(ctx context.Context) error {
	imp.catalog = &catalog{}
	start := time.Now()
	if err := imp.catalog.loadFields(ctx, imp.probe, imp.cfg.entity); err != nil {
		return imp.describeFailure(err, time.Since(start))
	}
	return nil
}

// connectionError is a first call that failed; its text is the one line
// the user sees.
type connectionError struct{ msg string }

func (e *connectionError) Error() string { return e.msg }

// describeFailure words a failed call for the command line: unreachable,
// refused credentials, no permission, or the portal's own error.
func (imp *importer) describeFailure(err error, took time.Duration) error {
	addr := portalAddress(imp.cfg)
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return &connectionError{fmt.Sprintf("cannot reach %s: the host name does not resolve (%s); check the host in B24_WEBHOOK_URL", addr, dns.Err)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &connectionError{fmt.Sprintf("cannot reach %s: connection refused (%d attempts in %s); check the host and port in B24_WEBHOOK_URL", addr, probeRetry.MaxAttempts, took.Round(100*time.Millisecond))}
	case errors.As(err, &op) && op.Op == "dial":
		return &connectionError{fmt.Sprintf("cannot reach %s: %v (%d attempts in %s)", addr, op.Err, probeRetry.MaxAttempts, took.Round(100*time.Millisecond))}
	case errors.Is(err, b24.ErrInvalidCredentials):
		var ae *b24.APIError
		code := "INVALID_CREDENTIALS"
		if errors.As(err, &ae) {
			code = ae.Code
		}
		if imp.cfg.webhookURL == "" {
			return &connectionError{fmt.Sprintf("%s rejected the OAuth token (%s): authorise the application again and refresh -token-file", addr, code)}
		}
		return &connectionError{fmt.Sprintf("%s rejected the webhook (%s): %s", addr, code, credentialsHint)}
	case errors.Is(err, b24.ErrAccessDenied):
		return &connectionError{fmt.Sprintf("%s refused access (%s): the webhook or application needs the crm scope and the right to add %ss", addr, trimB24(err.Error()), imp.cfg.entity)}
	case errors.Is(err, b24.ErrPortalMoved):
		return &connectionError{trimB24(err.Error())}
	}
	return &connectionError{fmt.Sprintf("%s: %s", addr, trimB24(err.Error()))}
}
