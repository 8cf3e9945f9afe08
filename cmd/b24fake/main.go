// Command b24fake runs the b24test fake Bitrix24 portal standalone, so that
// clients in any language (and people with curl) can try imports locally.
//
//	go run ./cmd/b24fake -addr 127.0.0.1:8024 -latency 200ms -latency-per-item 50ms
//
// -realistic sets the latency of a loaded cloud portal (b24test.RealisticLatency:
// 0.4 s a call plus 40 ms an item plus up to 0.3 s of jitter, 1.2-1.5 s for a
// 20-item import) for demos and trials by hand; -catalog FILE gives the portal
// pipelines, stages, users and user fields (JSON, see catalogFile).
//
// It prints the webhook URL (and the OAuth application's settings) and runs
// until interrupted. Faults are injected with -fault, repeatable, as
// comma-separated key=value lists:
//
//	-fault kind=refuse,method=crm.item.batchImport,code=QUERY_LIMIT_EXCEEDED,p=0.05
//	-fault kind=drop,times=3
//	-fault kind=partial,keep=5
//	-fault kind=move,location=https://new.example.com
//
// With -tls it serves https with a self-signed certificate made at start
// and written to -tls-cert, for clients that insist on https (the official
// JS SDK's webhook client does):
//
//	go run ./cmd/b24fake -tls -tls-cert /tmp/b24fake.pem &
//	NODE_EXTRA_CA_CERTS=/tmp/b24fake.pem node app.mjs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "b24fake:", err)
		}
		os.Exit(2)
	}
}

// intList is a repeatable integer flag.
type intList []int

// String implements flag.Value.
func (l *intList) String() string { return fmt.Sprint(*l) }

// Set implements flag.Value.
func (l *intList) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive entity type id, got %q", s)
	}
	*l = append(*l, n)
	return nil
}

// faultList is a repeatable -fault flag.
type faultList []b24test.Fault

// String implements flag.Value.
func (l *faultList) String() string { return fmt.Sprint(len(*l), " faults") }

// Set implements flag.Value.
func (l *faultList) Set(s string) error {
	f, err := parseFault(s)
	if err != nil {
		return err
	}
	*l = append(*l, f)
	return nil
}

// parseFault reads "kind=refuse,method=M,code=C,status=N,keep=N,times=N,p=F,location=URL".
func parseFault(spec string) (b24test.Fault, error) {
	var f b24test.Fault
	for part := range strings.SplitSeq(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return f, fmt.Errorf("fault %q: %q is not key=value", spec, part)
		}
		var err error
		switch k {
		case "kind":
			switch v {
			case "refuse":
				f.Kind = b24test.FaultRefuse
			case "drop":
				f.Kind = b24test.FaultDropAfterExecute
			case "partial":
				f.Kind = b24test.FaultPartialSave
			case "move":
				f.Kind = b24test.FaultMove
			default:
				return f, fmt.Errorf("fault %q: kind must be refuse, drop, partial or move", spec)
			}
		case "method":
			f.Method = v
		case "code":
			f.Code = v
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "keep":
			f.Keep, err = strconv.Atoi(v)
		case "times":
			f.Times, err = strconv.Atoi(v)
		case "p":
			f.Probability, err = strconv.ParseFloat(v, 64)
		case "location":
			f.Location = v
		default:
			return f, fmt.Errorf("fault %q: unknown key %q", spec, k)
		}
		if err != nil {
			return f, fmt.Errorf("fault %q: %s: %v", spec, k, err)
		}
	}
	if f.Kind == 0 {
		return f, fmt.Errorf("fault %q: kind is missing", spec)
	}
	if f.Kind == b24test.FaultMove && f.Location == "" {
		return f, fmt.Errorf("fault %q: a move needs location", spec)
	}
	return f, nil
}

// run parses args and serves until ctx ends (SIGINT or SIGTERM in main).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("b24fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr       = fs.String("addr", "127.0.0.1:8024", "listen address")
		rate       = fs.Float64("rate", 2, "leaky bucket drain per second, per credential")
		burst      = fs.Int("burst", 50, "leaky bucket size")
		noRate     = fs.Bool("no-rate-limit", false, "turn the leaky bucket off")
		opBudget   = fs.Duration("operating-budget", 480*time.Second, "operating time allowed per method within the window")
		opWindow   = fs.Duration("operating-window", 10*time.Minute, "operating-time window")
		noOp       = fs.Bool("no-operating-limit", false, "turn the operating-time limit off")
		latency    = fs.Duration("latency", 0, "simulated processing time per call")
		perItem    = fs.Duration("latency-per-item", 0, "simulated processing time per imported item")
		jitter     = fs.Duration("latency-jitter", 0, "random extra processing time, below this")
		timeout    = fs.Duration("request-timeout", 60*time.Second, "request cut-off")
		tokenTTL   = fs.Duration("token-ttl", time.Hour, "OAuth access token lifetime")
		seed       = fs.Int64("seed", 1, "seed for jitter and probabilistic faults")
		noLog      = fs.Bool("no-request-log", false, "do not keep the request log (long runs)")
		secret     = fs.String("secret", "", "webhook secret (random when empty), for a stable URL")
		smart      intList
		faults     faultList
		runFor     = fs.Duration("run-for", 0, "stop after this long (0: until interrupted)")
		printOAuth = fs.Bool("print-oauth", false, "also print the OAuth application settings and a token pair")
		useTLS     = fs.Bool("tls", false, "serve https with a self-signed certificate made at start (see -tls-cert)")
		tlsCert    = fs.String("tls-cert", "", "with -tls, write the certificate (PEM) here for clients to trust")
		realistic  = fs.Bool("realistic", false, "latency of a loaded cloud portal: 0.4s a call + 40ms an item + up to 0.3s jitter (overrides -latency*)")
		catalog    = fs.String("catalog", "", "JSON `file` with the portal's pipelines, stages, users and user fields")
	)
	fs.Var(&smart, "smart-process", "register a smart-process entity type id (repeatable)")
	fs.Var(&faults, "fault", "inject a fault: kind=refuse|drop|partial|move,method=,code=,status=,keep=,times=,p=,location= (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	opts := []b24test.Option{
		b24test.WithLatency(*latency, *perItem, *jitter),
		b24test.WithRequestTimeout(*timeout),
		b24test.WithTokenTTL(*tokenTTL),
		b24test.WithSeed(*seed),
	}
	if *noRate {
		opts = append(opts, b24test.WithoutRateLimit())
	} else {
		opts = append(opts, b24test.WithRateLimit(*rate, *burst))
	}
	if *noOp {
		opts = append(opts, b24test.WithoutOperatingLimit())
	} else {
		opts = append(opts, b24test.WithOperatingLimit(*opBudget, *opWindow))
	}
	if *realistic {
		opts = append(opts, b24test.RealisticLatency())
	}
	if *catalog != "" {
		more, err := loadCatalog(*catalog)
		if err != nil {
			return err
		}
		opts = append(opts, more...)
	}
	if *secret != "" {
		opts = append(opts, b24test.WithWebhookSecret(*secret))
	}
	if *noLog {
		opts = append(opts, b24test.WithoutRequestLog())
	}
	for _, id := range smart {
		opts = append(opts, b24test.WithSmartProcess(b24.EntityTypeID(id)))
	}

	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var srv *b24test.Server
	if *useTLS {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		cfg, err := selfSigned(host, *tlsCert)
		if err != nil {
			_ = ln.Close()
			return err
		}
		srv = b24test.ServeTLS(ln, cfg, opts...)
	} else {
		srv = b24test.Serve(ln, opts...)
	}
	defer srv.Close()
	for _, f := range faults {
		srv.InjectFault(f)
	}

	fmt.Fprintln(stdout, "webhook:", srv.WebhookURL())
	if *printOAuth {
		oc := srv.OAuthConfig()
		fmt.Fprintln(stdout, "oauth endpoint:", oc.Endpoint)
		fmt.Fprintln(stdout, "oauth token url:", oc.TokenURL)
		fmt.Fprintln(stdout, "oauth client id:", oc.ClientID)
		fmt.Fprintln(stdout, "oauth client secret:", oc.ClientSecret)
		fmt.Fprintln(stdout, "oauth access token:", oc.Token.AccessToken)
		fmt.Fprintln(stdout, "oauth refresh token:", oc.Token.RefreshToken)
	}
	<-ctx.Done()
	st := srv.Stats()
	fmt.Fprintf(stderr, "b24fake: %d requests, %d items created, %d item errors, %d rate-limited, %d operating-limited, %d faults\n",
		st.Requests, st.ItemsCreated, st.ItemErrors, st.RateLimited, st.OperatingLimited, st.FaultsInjected)
	return nil
}
