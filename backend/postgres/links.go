package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

const linkColumns = `id, short_code, original_url, url_hash, dedup, created_at, updated_at, access_count, expires_at, max_visits, coalesce(redirect_status, 0), version, owner_key_id, disabled, tags, coalesce(title, ''), valid_since, crawlable, forward_query, domain`

// scanLink scans linkColumns, then extra.
func scanLink(row pgx.Row, extra ...any) (backend.Link, error) {
	var l backend.Link
	var redirect int16
	err := row.Scan(append([]any{&l.ID, &l.Code, &l.URL, &l.URLHash, &l.Dedup, &l.CreatedAt, &l.UpdatedAt, &l.AccessCount, &l.ExpiresAt, &l.MaxVisits,
		&redirect, &l.Version, &l.OwnerKeyID, &l.Disabled, &l.Tags, &l.Title, &l.ValidSince, &l.Crawlable, &l.ForwardQuery, &l.Domain}, extra...)...)
	l.Redirect = int(redirect)
	if len(l.Tags) == 0 {
		l.Tags = nil
	}
	return l, err
}

// createPlainSQL inserts unless the URL hash exists among plain links, and
// returns the row either way. When a concurrent insert of the same URL commits
// after this statement's snapshot, it returns no row and the caller runs it again.
const createPlainSQL = `
WITH ins AS (
	INSERT INTO url_mappings (id, short_code, original_url, url_hash, owner_key_id, domain)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (url_hash) WHERE dedup DO NOTHING
	RETURNING ` + linkColumns + `, true AS created
)
SELECT * FROM ins
UNION ALL
SELECT ` + linkColumns + `, false FROM url_mappings WHERE url_hash = $4 AND dedup
LIMIT 1`

const createSQL = `
INSERT INTO url_mappings (id, short_code, original_url, url_hash, dedup, expires_at, max_visits, redirect_status, owner_key_id, tags, title, valid_since, crawlable, forward_query, domain)
VALUES ($1, $2, $3, $4, false, $5, $6, nullif($7, 0), $8, $9, nullif($10, ''), $11, $12, $13, $14)
RETURNING ` + linkColumns

// createArgs are createSQL's arguments for l.
func createArgs(l backend.Link) []any {
	tags := l.Tags
	if tags == nil {
		tags = []string{}
	}
	return []any{l.ID, l.Code, l.URL, l.URLHash, l.ExpiresAt, l.MaxVisits, l.Redirect, l.OwnerKeyID, tags, l.Title, l.ValidSince, l.Crawlable, l.ForwardQuery, l.Domain}
}

func (db *DB) CreateLink(ctx context.Context, l backend.Link) (backend.Link, bool, error) {
	ctx, done := db.begin(ctx, "create_link")
	if !l.Dedup {
		out, err := scanLink(db.pool.QueryRow(ctx, createSQL, createArgs(l)...))
		return out, err == nil, done(err)
	}
	for attempt := 0; ; attempt++ {
		var created bool
		out, err := scanLink(db.pool.QueryRow(ctx, createPlainSQL, l.ID, l.Code, l.URL, l.URLHash, l.OwnerKeyID, l.Domain), &created)
		if errors.Is(err, pgx.ErrNoRows) && attempt < 3 {
			continue
		}
		return out, created, done(err)
	}
}

func (db *DB) FindByURL(ctx context.Context, domain string, urlHash []byte) ([]backend.Link, error) {
	ctx, done := db.begin(ctx, "find_by_url")
	rows, _ := db.pool.Query(ctx, `SELECT `+linkColumns+` FROM url_mappings WHERE url_hash = $1 AND domain = $2 ORDER BY created_at, id LIMIT 100`, urlHash, domain)
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.Link, error) { return scanLink(r) })
	return links, done(err)
}

const findByCodeSQL = `SELECT ` + linkColumns + ` FROM url_mappings WHERE domain = $1 AND short_code = $2`

func (db *DB) FindByCode(ctx context.Context, key string) (backend.Link, error) {
	ctx, done := db.begin(ctx, "find_by_code")
	domain, code := link.SplitKey(key)
	l, err := scanLink(db.pool.QueryRow(ctx, findByCodeSQL, domain, code))
	return l, done(err)
}

// ReadLink asks the replica first: a link created a moment ago may not have
// arrived there, and a replica that fails or is read-only answers nothing, so
// anything but a found link is asked of the primary.
func (db *DB) ReadLink(ctx context.Context, code string) (backend.Link, bool, error) {
	if db.replica != nil {
		rctx, done := db.begin(ctx, "read_link_replica")
		domain, c := link.SplitKey(code)
		l, err := scanLink(db.replica.QueryRow(rctx, findByCodeSQL, domain, c))
		if done(err) == nil {
			db.reads.WithLabelValues("replica").Inc()
			return l, true, nil
		}
	}
	db.reads.WithLabelValues("primary").Inc()
	l, err := db.FindByCode(ctx, code)
	return l, false, err
}

// Visit counts a visit only while the link is live: the row lock of the
// UPDATE serializes concurrent visits from every replica.
func (db *DB) Visit(ctx context.Context, code string) (string, error) {
	ctx, done := db.begin(ctx, "visit")
	var url string
	err := db.pool.QueryRow(ctx, `
		UPDATE url_mappings SET access_count = access_count + 1
		WHERE domain = $1 AND short_code = $2 AND (max_visits IS NULL OR access_count < max_visits)
		  AND (expires_at IS NULL OR expires_at > now()) AND NOT disabled
		RETURNING original_url`, domainOf(code), codeOf(code)).Scan(&url)
	if errors.Is(err, pgx.ErrNoRows) {
		l, ferr := db.FindByCode(ctx, code)
		if ferr != nil {
			return "", done(ferr)
		}
		if gone := l.Gone(time.Now()); gone != nil {
			return "", done(gone)
		}
		return "", done(backend.Errorf(backend.EGONE, "this link has reached its visit limit"))
	}
	return url, done(err)
}

// ListLinks pages by (created_at, id), newest first, or by (access_count,
// id), most visited first; the cursor encodes the last row's pair.
func (db *DB) ListLinks(ctx context.Context, q backend.ListQuery) ([]backend.Link, string, error) {
	after, err := decodeCursor(q.Cursor, q.Order)
	if err != nil {
		return nil, "", err
	}
	if db.replica != nil {
		links, next, err := db.listLinks(ctx, db.replica, q, after)
		if err == nil {
			db.reads.WithLabelValues("replica").Inc()
			return links, next, nil
		}
	}
	db.reads.WithLabelValues("primary").Inc()
	return db.listLinks(ctx, db.pool, q, after)
}

func (db *DB) listLinks(ctx context.Context, pool *pgxpool.Pool, q backend.ListQuery, after *cursor) ([]backend.Link, string, error) {
	ctx, done := db.begin(ctx, "list_links")
	f := filterLinks(q)
	order := `created_at DESC, id DESC`
	switch {
	case after == nil:
	case q.Order == backend.OrderMostVisited:
		f.where = append(f.where, "(access_count, id) < ("+f.arg(after.count)+", "+f.arg(after.id)+")")
	default:
		f.where = append(f.where, "(created_at, id) < ("+f.arg(after.time)+", "+f.arg(after.id)+")")
	}
	if q.Order == backend.OrderMostVisited {
		order = `access_count DESC, id DESC`
	}
	rows, err := pool.Query(ctx, `SELECT `+linkColumns+` FROM url_mappings`+f.sql()+` ORDER BY `+order+` LIMIT `+f.arg(q.Limit+1), f.args...)
	if err != nil {
		return nil, "", done(err)
	}
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.Link, error) { return scanLink(r) })
	if err != nil {
		return nil, "", done(err)
	}
	next := ""
	if len(links) > q.Limit {
		links = links[:q.Limit]
		last := links[len(links)-1]
		next = encodeCursor(cursor{time: last.CreatedAt, count: last.AccessCount, id: last.ID}, q.Order)
	}
	return links, next, done(nil)
}

// pageOrders are the columns of each order of numbered pages.
var pageOrders = map[backend.ListOrder]string{
	backend.OrderNewest:      "created_at",
	backend.OrderMostVisited: "access_count",
	backend.OrderCode:        "short_code",
	backend.OrderURL:         "original_url",
	backend.OrderTitle:       "coalesce(title, '')",
}

func (db *DB) PageLinks(ctx context.Context, q backend.ListQuery) ([]backend.Link, int64, error) {
	column, ok := pageOrders[q.Order]
	if !ok || q.Page == nil {
		return nil, 0, backend.Errorf(backend.EINVALID, "links cannot be ordered by %q", q.Order)
	}
	pool := db.pool
	if db.replica != nil {
		pool = db.replica
	}
	ctx, done := db.begin(ctx, "page_links")
	dir := " DESC"
	if q.Ascending {
		dir = " ASC"
	}
	f := filterLinks(q)
	var total int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM url_mappings`+f.sql(), f.args...).Scan(&total); err != nil {
		return nil, 0, done(err)
	}
	rows, _ := pool.Query(ctx, `SELECT `+linkColumns+` FROM url_mappings`+f.sql()+` ORDER BY `+column+dir+`, id`+dir+
		` LIMIT `+f.arg(q.Page.Size)+` OFFSET `+f.arg(q.Page.Offset()), f.args...)
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.Link, error) { return scanLink(r) })
	return links, total, done(err)
}

// filter builds a WHERE clause and its arguments.
type filter struct {
	where []string
	args  []any
}

// arg adds an argument and names its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

func (f *filter) sql() string {
	if len(f.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.where, " AND ")
}

// filterLinks selects the links of q, in url_mappings.
func filterLinks(q backend.ListQuery) *filter {
	f := &filter{}
	if q.Search != "" {
		p := f.arg(escapeLike(q.Search))
		f.where = append(f.where, `(original_url ILIKE '%' || `+p+` || '%' ESCAPE '\' OR title ILIKE '%' || `+p+` || '%' ESCAPE '\'
			OR short_code ILIKE '%' || `+p+` || '%' ESCAPE '\' OR array_to_string(tags, ',') ILIKE '%' || `+p+` || '%' ESCAPE '\')`)
	}
	if q.Owner != nil {
		f.where = append(f.where, "owner_key_id = "+f.arg(*q.Owner))
	}
	// tagged is true for links with every one of tags (all), or any of them.
	tagged := func(tags []string, all bool) string {
		if all {
			return "tags @> " + f.arg(tags) + "::text[]"
		}
		return "tags && " + f.arg(tags) + "::text[]"
	}
	if len(q.Tags) > 0 {
		f.where = append(f.where, tagged(q.Tags, q.AllTags))
	}
	if len(q.ExcludeTags) > 0 {
		f.where = append(f.where, "NOT ("+tagged(q.ExcludeTags, q.ExcludeAllTags)+")")
	}
	if q.CreatedAfter != nil {
		f.where = append(f.where, "created_at >= "+f.arg(*q.CreatedAfter))
	}
	if q.CreatedBefore != nil {
		f.where = append(f.where, "created_at < "+f.arg(*q.CreatedBefore))
	}
	if q.Domain != nil {
		f.where = append(f.where, "domain = "+f.arg(*q.Domain))
	}
	if q.ExcludeUsedUp {
		f.where = append(f.where, "(max_visits IS NULL OR access_count < max_visits)")
	}
	if q.ExcludeExpired {
		f.where = append(f.where, "(expires_at IS NULL OR expires_at > now())")
	}
	return f
}

func (db *DB) CrawlableCodes(ctx context.Context, domain string, limit int) ([]string, error) {
	ctx, done := db.begin(ctx, "crawlable_codes")
	pool := db.pool
	if db.replica != nil {
		pool = db.replica
	}
	rows, _ := pool.Query(ctx, `SELECT short_code FROM url_mappings WHERE crawlable AND domain = $1 ORDER BY short_code LIMIT $2`, domain, limit)
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return codes, done(err)
}

// ownedBy limits a statement to the link of domain $1 and code $2 if owner $3 has it (NULL: any).
const ownedBy = `domain = $1 AND short_code = $2 AND ($3::bigint IS NULL OR owner_key_id = $3)`

func domainOf(key string) string { d, _ := link.SplitKey(key); return d }
func codeOf(key string) string   { _, c := link.SplitKey(key); return c }

func (db *DB) UpdateLink(ctx context.Context, code string, owner *int64, p backend.LinkPatch) (after backend.Link, inv backend.Invalidation, err error) {
	ctx, done := db.begin(ctx, "update_link")
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		before, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM url_mappings WHERE `+ownedBy+` FOR UPDATE`, domainOf(code), codeOf(code), owner))
		if err != nil {
			return err
		}
		after = before
		after.Dedup = false // a changed link stands alone: the next post of its URL gets a plain link
		if p.URL != nil {
			after.URL, after.URLHash = *p.URL, backend.HashURL(after.Domain, *p.URL)
		}
		if p.SetExpiresAt {
			after.ExpiresAt = p.ExpiresAt
		}
		if p.SetMaxVisits {
			after.MaxVisits = p.MaxVisits
		}
		if p.Redirect != nil {
			after.Redirect = *p.Redirect
		}
		if p.Disabled != nil {
			after.Disabled = *p.Disabled
		}
		if p.Tags != nil {
			after.Tags = *p.Tags
		}
		if p.Title != nil {
			after.Title = *p.Title
		}
		if p.SetValidSince {
			after.ValidSince = p.ValidSince
		}
		if p.Crawlable != nil {
			after.Crawlable = *p.Crawlable
		}
		if p.ForwardQuery != nil {
			after.ForwardQuery = *p.ForwardQuery
		}
		if err := after.CheckWindow(); err != nil {
			return err
		}
		tags := after.Tags
		if tags == nil {
			tags = []string{}
		}
		after, err = scanLink(tx.QueryRow(ctx, `
			UPDATE url_mappings SET original_url = $2, url_hash = $3, dedup = $4, expires_at = $5,
			       max_visits = $6, redirect_status = nullif($7, 0), disabled = $8, tags = $9, title = nullif($10, ''),
			       valid_since = $11, crawlable = $12, forward_query = $13, updated_at = now(), version = nextval('url_mappings_version_seq')
			WHERE id = $1 RETURNING `+linkColumns,
			before.ID, after.URL, after.URLHash, after.Dedup, after.ExpiresAt, after.MaxVisits, after.Redirect, after.Disabled,
			tags, after.Title, after.ValidSince, after.Crawlable, after.ForwardQuery))
		if err != nil {
			return err
		}
		inv, err = insertInvalidation(ctx, tx, before, after.Version)
		return err
	})
	return after, inv, done(err)
}

func (db *DB) DeleteLink(ctx context.Context, code string, owner *int64) (inv backend.Invalidation, err error) {
	ctx, done := db.begin(ctx, "delete_link")
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		l, err := scanLink(tx.QueryRow(ctx, `DELETE FROM url_mappings WHERE `+ownedBy+` RETURNING `+linkColumns, domainOf(code), codeOf(code), owner))
		if err != nil {
			return err
		}
		// Its visits go with it: whoever takes the freed alias starts from none
		// (the roll-ups over all links keep them).
		if _, err := tx.Exec(ctx, `DELETE FROM visit_stats WHERE code = $1`, code); err != nil {
			return err
		}
		inv, err = insertInvalidation(ctx, tx, l, 0)
		return err
	})
	return inv, done(err)
}

// insertInvalidation stores the invalidation of l's entries at version (0: a new one).
func insertInvalidation(ctx context.Context, tx pgx.Tx, l backend.Link, version int64) (backend.Invalidation, error) {
	inv := backend.Invalidation{Code: l.Key()}
	if l.Dedup {
		inv.URLHash = l.URLHash
	}
	err := tx.QueryRow(ctx, `
		INSERT INTO cache_invalidations (code, url_hash, version)
		VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE nextval('url_mappings_version_seq') END)
		RETURNING id, version`, inv.Code, inv.URLHash, version).Scan(&inv.ID, &inv.Version)
	return inv, err
}

// BlockLinksTo gives every link whose target's host is one of domains or
// below one a new version and stores its invalidation, in one transaction:
// a fill that read the link before is refused as older, however late it lands.
func (db *DB) BlockLinksTo(ctx context.Context, domains []string) ([]backend.Invalidation, error) {
	ctx, done := db.begin(ctx, "block_links")
	var invs []backend.Invalidation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
			UPDATE url_mappings m SET version = nextval('url_mappings_version_seq')
			FROM unnest($1::text[]) AS d(blocked)
			WHERE (lower(substring(m.original_url from '^[A-Za-z]+://\[?([^]/:?#]+)')) = d.blocked
			   OR lower(substring(m.original_url from '^[A-Za-z]+://\[?([^]/:?#]+)')) LIKE '%.' || d.blocked)
			RETURNING `+linkColumns, domains)
		links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.Link, error) { return scanLink(r) })
		if err != nil {
			return err
		}
		for _, l := range links {
			inv, err := insertInvalidation(ctx, tx, l, l.Version)
			if err != nil {
				return err
			}
			invs = append(invs, inv)
		}
		return nil
	})
	return invs, done(err)
}

func (db *DB) PendingInvalidations(ctx context.Context, limit int) ([]backend.Invalidation, error) {
	ctx, done := db.begin(ctx, "pending_invalidations")
	rows, _ := db.pool.Query(ctx, `SELECT id, code, url_hash, version, announce FROM cache_invalidations ORDER BY id LIMIT $1`, limit)
	invs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.Invalidation, error) {
		var inv backend.Invalidation
		err := r.Scan(&inv.ID, &inv.Code, &inv.URLHash, &inv.Version, &inv.Announce)
		return inv, err
	})
	return invs, done(err)
}

func (db *DB) DeleteInvalidations(ctx context.Context, ids []int64) error {
	ctx, done := db.begin(ctx, "delete_invalidations")
	_, err := db.pool.Exec(ctx, `DELETE FROM cache_invalidations WHERE id = ANY($1)`, ids)
	return done(err)
}

// cursor is the sort key of the last row of a page.
type cursor struct {
	time  time.Time // newest first
	count int64     // most visited first
	id    int64
}

// encodeCursor writes c for order: "{micros}.{id}" by date (the format of
// earlier releases), "v{count}.{id}" by visits.
func encodeCursor(c cursor, order backend.ListOrder) string {
	key := strconv.FormatInt(c.time.UnixMicro(), 10)
	if order == backend.OrderMostVisited {
		key = "v" + strconv.FormatInt(c.count, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key + "." + strconv.FormatInt(c.id, 10)))
}

func decodeCursor(c string, order backend.ListOrder) (*cursor, error) {
	if c == "" {
		return nil, nil
	}
	bad := backend.Errorf(backend.EINVALID, "cursor is not one this server gave for this order")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, bad
	}
	key, id, ok := strings.Cut(string(b), ".")
	byVisits := strings.HasPrefix(key, "v")
	if byVisits != (order == backend.OrderMostVisited) {
		return nil, bad
	}
	k, err1 := strconv.ParseInt(strings.TrimPrefix(key, "v"), 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return nil, bad
	}
	if byVisits {
		return &cursor{count: k, id: n}, nil
	}
	return &cursor{time: time.UnixMicro(k), id: n}, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
