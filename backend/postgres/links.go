package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kurzlink/kurz/backend"
)

const linkColumns = `id, short_code, original_url, url_hash, dedup, created_at, updated_at, access_count, expires_at, max_visits, coalesce(redirect_status, 0), version, owner_key_id, disabled`

func scanLink(row pgx.Row) (backend.Link, error) {
	var l backend.Link
	var redirect int16
	err := row.Scan(&l.ID, &l.Code, &l.URL, &l.URLHash, &l.Dedup, &l.CreatedAt, &l.UpdatedAt, &l.AccessCount, &l.ExpiresAt, &l.MaxVisits, &redirect, &l.Version, &l.OwnerKeyID, &l.Disabled)
	l.Redirect = int(redirect)
	return l, err
}

// createPlainSQL inserts unless the URL hash exists among plain links, and
// returns the row either way. When a concurrent insert of the same URL commits
// after this statement's snapshot, it returns no row and the caller runs it again.
const createPlainSQL = `
WITH ins AS (
	INSERT INTO url_mappings (id, short_code, original_url, url_hash, owner_key_id)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (url_hash) WHERE dedup DO NOTHING
	RETURNING ` + linkColumns + `, true AS created
)
SELECT * FROM ins
UNION ALL
SELECT ` + linkColumns + `, false FROM url_mappings WHERE url_hash = $4 AND dedup
LIMIT 1`

const createSQL = `
INSERT INTO url_mappings (id, short_code, original_url, url_hash, dedup, expires_at, max_visits, redirect_status, owner_key_id)
VALUES ($1, $2, $3, $4, false, $5, $6, nullif($7, 0), $8)
RETURNING ` + linkColumns

func (db *DB) CreateLink(ctx context.Context, l backend.Link) (backend.Link, bool, error) {
	ctx, done := db.begin(ctx, "create_link")
	if !l.Dedup {
		out, err := scanLink(db.pool.QueryRow(ctx, createSQL, l.ID, l.Code, l.URL, l.URLHash, l.ExpiresAt, l.MaxVisits, l.Redirect, l.OwnerKeyID))
		return out, err == nil, done(err)
	}
	for attempt := 0; ; attempt++ {
		var out backend.Link
		var created bool
		var redirect int16
		err := db.pool.QueryRow(ctx, createPlainSQL, l.ID, l.Code, l.URL, l.URLHash, l.OwnerKeyID).Scan(&out.ID, &out.Code, &out.URL, &out.URLHash,
			&out.Dedup, &out.CreatedAt, &out.UpdatedAt, &out.AccessCount, &out.ExpiresAt, &out.MaxVisits, &redirect, &out.Version, &out.OwnerKeyID, &out.Disabled, &created)
		if errors.Is(err, pgx.ErrNoRows) && attempt < 3 {
			continue
		}
		return out, created, done(err)
	}
}

const findByCodeSQL = `SELECT ` + linkColumns + ` FROM url_mappings WHERE short_code = $1`

func (db *DB) FindByCode(ctx context.Context, code string) (backend.Link, error) {
	ctx, done := db.begin(ctx, "find_by_code")
	l, err := scanLink(db.pool.QueryRow(ctx, findByCodeSQL, code))
	return l, done(err)
}

// ReadLink asks the replica first: a link created a moment ago may not have
// arrived there, and a replica that fails or is read-only answers nothing, so
// anything but a found link is asked of the primary.
func (db *DB) ReadLink(ctx context.Context, code string) (backend.Link, bool, error) {
	if db.replica != nil {
		rctx, done := db.begin(ctx, "read_link_replica")
		l, err := scanLink(db.replica.QueryRow(rctx, findByCodeSQL, code))
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
		WHERE short_code = $1 AND (max_visits IS NULL OR access_count < max_visits)
		  AND (expires_at IS NULL OR expires_at > now()) AND NOT disabled
		RETURNING original_url`, code).Scan(&url)
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

// ListLinks pages by (created_at, id), newest first; the cursor encodes the last row's pair.
func (db *DB) ListLinks(ctx context.Context, q backend.ListQuery) ([]backend.Link, string, error) {
	after, afterID, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	if db.replica != nil {
		links, next, err := db.listLinks(ctx, db.replica, q, after, afterID)
		if err == nil {
			db.reads.WithLabelValues("replica").Inc()
			return links, next, nil
		}
	}
	db.reads.WithLabelValues("primary").Inc()
	return db.listLinks(ctx, db.pool, q, after, afterID)
}

func (db *DB) listLinks(ctx context.Context, pool *pgxpool.Pool, q backend.ListQuery, after *time.Time, afterID int64) ([]backend.Link, string, error) {
	ctx, done := db.begin(ctx, "list_links")
	rows, err := pool.Query(ctx, `
		SELECT `+linkColumns+` FROM url_mappings
		WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2))
		  AND ($3 = '' OR original_url ILIKE '%' || $3 || '%' ESCAPE '\')
		  AND ($5::bigint IS NULL OR owner_key_id = $5)
		ORDER BY created_at DESC, id DESC
		LIMIT $4`, after, afterID, escapeLike(q.Search), q.Limit+1, q.Owner)
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
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return links, next, done(nil)
}

// ownedBy limits a statement on short_code = $1 to the links of owner $2 (NULL: any).
const ownedBy = `short_code = $1 AND ($2::bigint IS NULL OR owner_key_id = $2)`

func (db *DB) UpdateLink(ctx context.Context, code string, owner *int64, p backend.LinkPatch) (after backend.Link, inv backend.Invalidation, err error) {
	ctx, done := db.begin(ctx, "update_link")
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		before, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM url_mappings WHERE `+ownedBy+` FOR UPDATE`, code, owner))
		if err != nil {
			return err
		}
		after = before
		after.Dedup = false // a changed link stands alone: the next post of its URL gets a plain link
		if p.URL != nil {
			after.URL, after.URLHash = *p.URL, backend.HashURL(*p.URL)
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
		after, err = scanLink(tx.QueryRow(ctx, `
			UPDATE url_mappings SET original_url = $2, url_hash = $3, dedup = $4, expires_at = $5,
			       max_visits = $6, redirect_status = nullif($7, 0), disabled = $8, updated_at = now(),
			       version = nextval('url_mappings_version_seq')
			WHERE short_code = $1 RETURNING `+linkColumns,
			code, after.URL, after.URLHash, after.Dedup, after.ExpiresAt, after.MaxVisits, after.Redirect, after.Disabled))
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
		l, err := scanLink(tx.QueryRow(ctx, `DELETE FROM url_mappings WHERE `+ownedBy+` RETURNING `+linkColumns, code, owner))
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
	inv := backend.Invalidation{Code: l.Code}
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
			FROM unnest($1::text[]) AS d(domain)
			WHERE (lower(substring(m.original_url from '^[A-Za-z]+://\[?([^]/:?#]+)')) = d.domain
			   OR lower(substring(m.original_url from '^[A-Za-z]+://\[?([^]/:?#]+)')) LIKE '%.' || d.domain)
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

func encodeCursor(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", t.UnixMicro(), id)))
}

func decodeCursor(c string) (*time.Time, int64, error) {
	if c == "" {
		return nil, 0, nil
	}
	bad := backend.Errorf(backend.EINVALID, "cursor is not one this server gave")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, 0, bad
	}
	micros, id, ok := strings.Cut(string(b), ".")
	m, err1 := strconv.ParseInt(micros, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return nil, 0, bad
	}
	t := time.UnixMicro(m)
	return &t, n, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
