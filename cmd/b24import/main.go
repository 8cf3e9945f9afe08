package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/b24kit/b24"
)

// Exit codes.
const (
	exitOK          = 0   // every row imported (or, with -dry-run, valid)
	exitIncomplete  = 1   // some rows rejected, unknown or not sent
	exitFatal       = 2   // usage, input, credentials, permission
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM; resume with the same command
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// A second Ctrl-C kills the process at once; the journal
			// stays consistent (rows in flight are resolved on resume).
			stop()
			fmt.Fprintln(os.Stderr, "\nb24import: stopping: finishing the calls in flight (Ctrl-C again to quit at once)")
		case <-finished:
		}
	}()
	code := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	close(finished)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	file         string
	entity       b24.EntityTypeID
	format       string
	comma        rune
	journalPath  string
	reportPath   string
	retryUnknown bool
	settleWait   time.Duration
	originalUF   bool
	dryRun       bool
	demo         bool
	quiet        bool
	verbose      bool
	concurrency  int
	retries      int
	packing      int
	rate         float64
	burst        int
	allowHTTP    bool
	progressTick time.Duration
	maxResponse  int64 // MiB

	maps          mapFlag       // -map FILE or 'Source=field', in order
	ignoreUnknown bool          // -ignore-unknown
	printMap      bool          // -print-map
	encoding      string        // -encoding; "" detects
	dateFormat    string        // -date-format
	tz            string        // -tz
	values        valueFlag     // -values FIELD=FILE
	reportExcel   bool          // -report-excel
	reportOrder   string        // -report-order input|completion
	keys          existingFlags // -existing, -originator, -key-column, -rejects

	webhookURL    string
	oauthEndpoint string
	clientID      string
	clientSecret  string
	tokenFile     string
	tokenURL      string

	args []string // the command line, for the resume hint
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	cfg := &config{args: args}
	fs := flag.NewFlagSet("b24import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var entity, format, delim, webhook, secretFlag string
	fs.StringVar(&entity, "entity", "", "entity type: lead, deal, contact, company, quote, invoice or a smart-process id")
	fs.StringVar(&format, "format", "", "input format: csv or jsonl (default: from the file name, else sniffed)")
	fs.StringVar(&delim, "delimiter", "", `CSV delimiter: "," ";" "|" or "tab" (default: detected from the header)`)
	fs.StringVar(&cfg.journalPath, "journal", "", "journal `file`: records every row's outcome; re-run the same command to resume")
	fs.StringVar(&cfg.reportPath, "report", "", "write a CSV report (line, status, id, code, description) to `file`; a cell that starts with = + - @, a tab or a carriage return gets a leading ' so spreadsheets do not run it as a formula")
	fs.BoolVar(&cfg.originalUF, "original-uf-names", false, "user fields are named UF_CRM_… (set automatically for a CSV header with such names)")
	fs.BoolVar(&cfg.retryUnknown, "retry-unknown", false, "resend rows without dedup keys whose outcome is unknown (may create duplicates)")
	fs.DurationVar(&cfg.settleWait, "settle-wait", envDuration(getenv("B24_SETTLE_WAIT"), defaultSettleWait),
		"how long the portal may still be executing a call after it went out: a resume waits that long after the last run's last call before looking up the rows it left in flight, and a call whose answer is lost is looked up no sooner ($B24_SETTLE_WAIT; 0 = do not wait)")
	fs.BoolVar(&cfg.dryRun, "dry-run", false, "read, coerce and validate every row; send nothing")
	fs.BoolVar(&cfg.demo, "demo", false, "import a bundled sample into an embedded fake portal; needs no configuration")
	fs.BoolVar(&cfg.quiet, "q", false, "no progress display")
	fs.BoolVar(&cfg.verbose, "v", false, "debug logging on stderr (secrets are never logged)")
	fs.IntVar(&cfg.concurrency, "concurrency", b24.DefaultConcurrency, "import calls in flight at once (1-256)")
	fs.IntVar(&cfg.packing, "packing", 0, "import calls per batch request: 0 packs automatically when the request rate binds, 1 never, up to 50")
	fs.IntVar(&cfg.retries, "retries", 0, "attempts per call when the portal refuses it before running it or cannot be reached (default 8, backing off up to 30 s)")
	fs.Float64Var(&cfg.rate, "rate", 2, "requests per second the portal allows (Enterprise: 5)")
	fs.IntVar(&cfg.burst, "burst", 50, "request burst the portal allows (Enterprise: 250)")
	fs.BoolVar(&cfg.allowHTTP, "allow-http", false, "allow http:// portal addresses (local fakes)")
	fs.Var(&cfg.maps, "map", "column mapping: a `FILE` of 'source column = field' lines, or one 'Source=field' rule (repeatable; field - skips the column)")
	fs.BoolVar(&cfg.ignoreUnknown, "ignore-unknown", false, "skip the columns that match no field instead of stopping (or, offline, sending them as text)")
	fs.BoolVar(&cfg.printMap, "print-map", false, "print the column mapping the import would use, as a file for -map, and exit")
	fs.StringVar(&cfg.encoding, "encoding", "", "input encoding: utf-8, utf-16, windows-1251, windows-1252, koi8-r, ... (default: detected)")
	fs.StringVar(&cfg.dateFormat, "date-format", "", "Go `layout` of the file's dates, tried first, e.g. 01/02/2006 for US dates, 02/01/2006 15:04 (default: YYYY-MM-DD and DD.MM.YYYY, with or without a time)")
	fs.StringVar(&cfg.tz, "tz", "", "time `zone` of date-times written without one, e.g. Europe/Moscow or UTC (default: the local zone)")
	fs.Var(&cfg.values, "values", "value mapping `FIELD=FILE`: 'label = value' lines applied to FIELD's cells before lookups (repeatable)")
	fs.BoolVar(&cfg.reportExcel, "report-excel", false, "write the report for Excel: UTF-8 with a byte-order mark, ';' between cells")
	fs.StringVar(&cfg.reportOrder, "report-order", "input", "order of the report's rows: input (as in the file) or completion (as outcomes arrive)")
	fs.Int64Var(&cfg.maxResponse, "max-response", 64, "largest portal answer read, in MiB (1-4096); a larger one fails its call, whose keyed rows are then looked up")
	fs.DurationVar(&cfg.progressTick, "progress-every", 5*time.Second, "period of progress lines when stderr is not a terminal")
	addExistingFlags(fs, &cfg.keys)
	fs.StringVar(&webhook, "webhook", "", "incoming webhook `url` (prefer $B24_WEBHOOK_URL: a flag is visible to other users)")
	fs.StringVar(&cfg.oauthEndpoint, "oauth-endpoint", getenv("B24_OAUTH_ENDPOINT"), "OAuth portal REST endpoint, e.g. https://HOST/rest/ ($B24_OAUTH_ENDPOINT)")
	fs.StringVar(&cfg.clientID, "client-id", getenv("B24_CLIENT_ID"), "OAuth client id ($B24_CLIENT_ID); the secret comes from $B24_CLIENT_SECRET")
	fs.StringVar(&secretFlag, "client-secret", "", "OAuth client secret (prefer $B24_CLIENT_SECRET)")
	fs.StringVar(&cfg.tokenFile, "token-file", getenv("B24_TOKEN_FILE"), "OAuth token `file` (JSON access_token, refresh_token, expiry), rewritten on every refresh ($B24_TOKEN_FILE)")
	fs.StringVar(&cfg.tokenURL, "token-url", getenv("B24_TOKEN_URL"), "OAuth token endpoint (default Bitrix24's; $B24_TOKEN_URL)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: b24import -entity TYPE [flags] FILE\n       b24import -demo\n\n"+
			"Imports a CSV or JSON Lines file into Bitrix24 with crm.item.batchImport.\n"+
			"Credentials: $B24_WEBHOOK_URL, or $B24_OAUTH_ENDPOINT + $B24_CLIENT_ID + $B24_CLIENT_SECRET + -token-file.\n"+
			"Exit codes: 0 all rows imported, 1 some rejected/unknown/not sent, 2 usage or fatal error, 130 interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// Flags may follow the file name too.
	rest := args[1:]
	var files []string
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	cfg.webhookURL = firstNonEmpty(webhook, getenv("B24_WEBHOOK_URL"))
	cfg.clientSecret = firstNonEmpty(secretFlag, getenv("B24_CLIENT_SECRET"))
	if cfg.demo {
		if len(files) > 0 || entity != "" {
			return nil, &usageError{"-demo takes no file and no -entity: it brings its own"}
		}
		return cfg, nil
	}
	switch len(files) {
	case 0:
		return nil, &usageError{"no input file: b24import -entity TYPE [flags] FILE (or -demo)"}
	case 1:
		cfg.file = files[0]
	default:
		return nil, &usageError{fmt.Sprintf("one input file at a time, got %d", len(files))}
	}
	if entity == "" {
		return nil, &usageError{"-entity is required: lead, deal, contact, company, quote, invoice or a smart-process id"}
	}
	et, err := b24.ParseEntityTypeID(entity)
	if err != nil {
		return nil, &usageError{"-entity: " + strings.TrimPrefix(err.Error(), "b24: invalid input: ")}
	}
	cfg.entity = et
	switch format {
	case "", "csv", "jsonl":
		cfg.format = format
	case "json", "ndjson":
		cfg.format = "jsonl"
	default:
		return nil, &usageError{fmt.Sprintf("-format %q: want csv or jsonl", format)}
	}
	switch delim {
	case "":
	case ",", ";", "|":
		cfg.comma = rune(delim[0])
	case "tab", `\t`, "\t":
		cfg.comma = '\t'
	default:
		return nil, &usageError{fmt.Sprintf(`-delimiter %q: want "," ";" "|" or "tab"`, delim)}
	}
	if cfg.encoding != "" {
		if _, err := lookupEncoding(cfg.encoding); err != nil {
			return nil, &usageError{err.Error()}
		}
	}
	if _, err := loadZone(cfg.tz); err != nil {
		return nil, &usageError{err.Error()}
	}
	switch cfg.reportOrder {
	case "input", "completion":
	default:
		return nil, &usageError{fmt.Sprintf("-report-order %q: want input or completion", cfg.reportOrder)}
	}
	if cfg.packing < 0 || cfg.packing > 50 {
		return nil, &usageError{"-packing must be within 0..50"}
	}
	if cfg.settleWait < 0 {
		return nil, &usageError{"-settle-wait must not be negative"}
	}
	if cfg.maxResponse < 1 || cfg.maxResponse > 4096 {
		return nil, &usageError{"-max-response must be within 1..4096 (MiB)"}
	}
	if cfg.retries < 0 {
		return nil, &usageError{"-retries must not be negative"}
	}
	if cfg.concurrency < 1 || cfg.concurrency > 256 {
		return nil, &usageError{"-concurrency must be within 1..256"}
	}
	if cfg.file == "-" && cfg.journalPath != "" {
		return nil, &usageError{"-journal needs a file, not standard input: a resumed run must read the same rows again"}
	}
	if err := distinctFiles(namedPath{"the input", cfg.file}, namedPath{"-journal", cfg.journalPath}, namedPath{"-report", cfg.reportPath}, namedPath{"-rejects", cfg.keys.rejects}); err != nil {
		return nil, &usageError{err.Error()}
	}
	if err := checkExistingFlags(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	// Everything printed passes through printable but the progress bar,
	// which draws with control characters of its own.
	stdout, stderr = termSafe{stdout}, termSafe{stderr}
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "b24import:", err)
		fmt.Fprintln(stderr, "run b24import -h for the flags")
		return exitFatal
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cfg.demo {
		return runDemo(ctx, cfg, logger, stdout, stderr)
	}
	var client, probe *b24.Client
	// A dry run reads the portal when it has credentials; a real run must.
	if !cfg.dryRun && !cfg.printMap || hasCredentials(cfg) {
		client, probe, err = newClients(cfg, logger, 480*time.Second, 10*time.Minute)
		if err != nil {
			fmt.Fprintln(stderr, "b24import:", err)
			return exitFatal
		}
	}
	imp := &importer{cfg: cfg, client: client, probe: probe, stdout: stdout, stderr: stderr,
		terminal: isStderrTerminal(stderr)}
	return imp.run(ctx)
}

func isStderrTerminal(w io.Writer) bool {
	if t, ok := w.(termSafe); ok {
		w = t.w
	}
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// newCredentials builds the webhook or OAuth credentials. Clients of one
// run share them: an OAuth refresh rotates the refresh token, so two
// copies would each kill the other's.
func newCredentials(cfg *config) (b24.Credentials, error) {
	switch {
	case cfg.webhookURL != "" && cfg.oauthEndpoint != "":
		return nil, errors.New("both a webhook URL and an OAuth endpoint are set; unset one")
	case cfg.webhookURL != "":
		wh, err := b24.NewWebhook(cfg.webhookURL)
		if err != nil {
			return nil, fmt.Errorf("webhook URL: %s", strings.TrimPrefix(err.Error(), "b24: "))
		}
		return wh, nil
	case cfg.oauthEndpoint != "":
		return newOAuth(cfg)
	}
	return nil, errors.New("no credentials: set B24_WEBHOOK_URL, or B24_OAUTH_ENDPOINT, B24_CLIENT_ID, B24_CLIENT_SECRET and -token-file (or use -dry-run or -demo)")
}

// clientFor builds a client on creds with the command line's settings.
func clientFor(cfg *config, creds b24.Credentials, logger *slog.Logger, extra ...b24.Option) (*b24.Client, error) {
	opts := []b24.Option{b24.WithRateLimit(cfg.rate, cfg.burst), b24.WithUserAgent("b24import/" + b24.Version)}
	if cfg.maxResponse > 0 {
		opts = append(opts, b24.WithMaxResponseSize(cfg.maxResponse<<20))
	}
	// How long the portal may still run a call whose answer was lost: the
	// same bound as the resume's wait after a crash.
	opts = append(opts, b24.WithMaxExecutionTime(min(cfg.settleWait, 24*time.Hour)))
	if cfg.verbose {
		opts = append(opts, b24.WithLogger(logger))
	}
	if cfg.allowHTTP {
		opts = append(opts, b24.WithAllowHTTP())
	}
	if cfg.retries > 0 {
		opts = append(opts, b24.WithRetry(b24.RetryPolicy{MaxAttempts: cfg.retries}))
	}
	opts = append(opts, extra...)
	c, err := b24.NewClient(creds, opts...)
	if err != nil && strings.Contains(err.Error(), "http") && !cfg.allowHTTP {
		return nil, fmt.Errorf("%w (for a local fake portal add -allow-http)", err)
	}
	return c, err
}
