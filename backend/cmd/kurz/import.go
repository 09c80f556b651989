package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/imports"
	"github.com/kurzlink/kurz/backend/postgres"
	"github.com/kurzlink/kurz/backend/redis"
	"github.com/kurzlink/kurz/link"
)

const importUsage = `usage: kurz import SOURCE FILE [--domain NAME] [--new-codes]
  SOURCE is shlink, yourls, kutt, bitly or csv; FILE their export ("-": standard input):
    shlink   GET /rest/v3/short-urls pages (JSON; several pages one after another are fine)
    yourls   the shlink-list action's JSON, the stats action's JSON, or the yourls_url table as CSV
    kutt     GET /api/v2/links pages (JSON)
    bitly    GET /v4/groups/{guid}/bitlinks pages (JSON)
    csv      a header row with Long URL and any of Short code, Domain, Title, Tags, Short URL, Created, Visits
  --domain NAME  put every link on this short domain (one of KURZ_DOMAINS); by default a link keeps
                 its domain if kurz serves it, else goes to the default domain
  --new-codes    a link whose code another link has gets a new code (by default it is skipped)
Codes that fit kurz's aliases are kept; targets are checked by kurz's URL rules; visit totals,
tags, titles and dates are kept. Importing again, or after a kill, changes nothing that was done.
It reads the backends' settings (DATABASE_URL, REDIS_URL, KURZ_CODE_SECRET, …) from the environment.`

// importTimeout is the least bound on one of the import's statements.
const importTimeout = 30 * time.Second

// runImport imports another shortener's export into the database and Redis the backends use.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	domain := fs.String("domain", "", "")
	newCodes := fs.Bool("new-codes", false, "")
	var positional []string
	for len(args) > 0 { // flags may follow the source and file
		if err := fs.Parse(args); err != nil {
			return fmt.Errorf("%v\n%s", err, importUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		positional, args = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	if len(positional) != 2 {
		return fmt.Errorf("%s", importUsage)
	}
	source, file := positional[0], positional[1]
	in := io.Reader(os.Stdin)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %v", err)
		}
		defer f.Close()
		in = f
	}
	records, err := imports.Read(source, in)
	if err != nil {
		return fmt.Errorf("import: %v\n%s", err, importUsage)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(os.Stderr, cfg.LogLevel)
	// A batch of 1,000 links may take longer than a request's bound on a busy database.
	db, err := postgres.Open(ctx, cfg.DatabaseURL, "", max(cfg.PGTimeout, importTimeout), nil)
	if err != nil {
		return fmt.Errorf("import: the database at %s: %v", redactURL(cfg.DatabaseURL), err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("import: the database at %s: %v", redactURL(cfg.DatabaseURL), err)
	}
	codec, err := link.NewCodec(cfg.CodeSecret)
	if err != nil {
		return err
	}
	if err := db.ClaimCodeSpace(ctx, codec); err != nil {
		return err
	}
	cache, err := redis.Open(cfg.RedisURL, cfg.Sentinel, cfg.RedisTimeout, nil)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer cache.Close()
	blocklist, err := backend.NewBlocklist(cfg.Blocklist, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("KURZ_BLOCKLIST must name a readable file of blocked domains: %w", err)
	}
	im := &backend.Importer{Store: db, Cache: cache, Codec: codec, Domains: cfg.Domains, Logger: logger, NewCodes: *newCodes,
		Policy: backend.URLPolicy{MaxLength: cfg.MaxURLLength, Own: cfg.OwnURLs, Blocked: blocklist}}
	if *domain != "" {
		stored, err := cfg.Domains.Param(*domain)
		if err != nil {
			return fmt.Errorf("import: --domain: %s", backend.ErrorMessage(err))
		}
		im.Domain = &stored
	}
	started := time.Now()
	if isTerminal(stdout) {
		last := time.Time{}
		im.Progress = func(s backend.ImportSummary) {
			if time.Since(last) < 100*time.Millisecond {
				return
			}
			last = time.Now()
			rate := float64(s.Read) / time.Since(started).Seconds()
			fmt.Fprintf(stdout, "\r%s read %d · imported %d · already there %d · skipped %d · %.0f/s ", spinner(s.Read), s.Read, s.Imported, s.Already, s.SkippedCount(), rate)
		}
	}
	sum, err := im.Run(ctx, source, records)
	if im.Progress != nil {
		fmt.Fprint(stdout, "\r\033[K")
	}
	fmt.Fprintf(stdout, "%stook %s\n", sum, time.Since(started).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("import stopped: %v (what was imported stays; run it again to go on)", err)
	}
	return nil
}

func spinner(n int) string { return string(`|/-\`[n/1000%4]) }

// isTerminal reports whether w is a terminal: only then is progress drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
