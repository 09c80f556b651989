package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/backend/postgres"
)

const keysUsage = `usage:
  kurz keys create --name NAME [--role author|admin] [--domain DOMAIN]
                                 make a key; it is printed once, only its hash is kept.
                                 author (the default): only the links made with it;
                                 admin: every link; --domain: only that short
                                 domain's (one of KURZ_DOMAINS)
  kurz keys signature ID|NAME    print a key's signature token, for YOURLS's
                                 timestamp signatures (needs KURZ_CODE_SECRET)
  kurz keys list                 list keys (names and roles, not secrets)
  kurz keys revoke ID|NAME       revoke a key (replicas notice within 10 s)`

// redactURL hides the password of a database URL, for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable DATABASE_URL)"
	}
	return u.Redacted()
}

// runKeys manages API keys in the database of DATABASE_URL.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", keysUsage)
	}
	url := getenv("DATABASE_URL")
	if url == "" {
		url = "postgres://kurz:kurz@127.0.0.1:5432/kurz?sslmode=disable"
	}
	where := func(err error) error {
		return fmt.Errorf("keys: the database at %s: %v\n(set DATABASE_URL; against make run's stack: make keys ARGS=\"list\")", redactURL(url), err)
	}
	db, err := postgres.Open(ctx, url, "", 10*time.Second, nil)
	if err != nil {
		return where(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return where(err)
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "what the key is for")
		role := fs.String("role", string(backend.RoleAuthor), "author or admin")
		domain := fs.String("domain", "", "the one short domain it manages")
		if err := fs.Parse(args[1:]); err != nil || *name == "" {
			return fmt.Errorf("keys create needs --name NAME\n%s", keysUsage)
		}
		r, err := backend.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("%s\n%s", backend.ErrorMessage(err), keysUsage)
		}
		key, k, err := backend.NewKeyRing(db, 0).Create(ctx, *name, r, *domain)
		if err != nil {
			return fmt.Errorf("keys create: %s", backend.ErrorMessage(err))
		}
		// One write: `| head -1` must not close the pipe between the key and its note (SIGPIPE).
		limited := ""
		if k.Domain != "" {
			limited = " for " + k.Domain
		}
		fmt.Fprintf(stdout, "%s\n# %s key %d %q%s created; store it now, it is not shown again\n", key, k.Role, k.ID, k.Name, limited)
		return nil
	case "signature":
		if len(args) != 2 {
			return fmt.Errorf("keys signature needs NAME or ID\n%s", keysUsage)
		}
		ring := backend.NewKeyRing(db, 0)
		if ring.SignatureSecret = backend.SignatureSecret(getenv("KURZ_CODE_SECRET")); ring.SignatureSecret == nil {
			return fmt.Errorf("keys signature needs KURZ_CODE_SECRET, the backends' code secret")
		}
		keys, err := db.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.RevokedAt == nil && (k.Name == args[1] || fmt.Sprint(k.ID) == args[1]) {
				fmt.Fprintf(stdout, "%s\n# signature token of key %d %q: YOURLS's timestamp=T&signature=md5(T . token)\n", ring.SignatureToken(k.ID), k.ID, k.Name)
				return nil
			}
		}
		return fmt.Errorf("keys signature: no active key is named or numbered %q", args[1])
	case "list":
		keys, err := db.ListKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tDOMAIN\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			domain := k.Domain
			if domain == "" {
				domain = "*"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, domain, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return fmt.Errorf("keys revoke needs NAME or ID\n%s", keysUsage)
		}
		k, err := db.RevokeKey(ctx, args[1])
		if err != nil {
			return fmt.Errorf("revoking %q: %s", args[1], backend.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "%s key %d %q revoked; its links stay, for admins to manage\n", k.Role, k.ID, k.Name)
		return nil
	default:
		return fmt.Errorf("unknown keys command %q\n%s", args[0], keysUsage)
	}
}
