package postgres

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
)

// The visit log is partitioned by day (visit_log_YYYYMMDD, in UTC): a day
// is made by the first fold with a visit of it, inside the fold's
// transaction (folds are serialised by the cursor's row lock), and dropped
// whole past the retention, never deleted row by row.

// partitionSet remembers the day partitions known to exist, so a fold
// makes only the missing ones.
type partitionSet struct {
	mu   sync.Mutex
	days map[string]bool
}

func (p *partitionSet) has(day string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.days[day]
}

func (p *partitionSet) add(days []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.days == nil {
		p.days = map[string]bool{}
	}
	for _, d := range days {
		p.days[d] = true
	}
}

// forget is called after a failed fold or a drop: what exists is asked again.
func (p *partitionSet) forget() {
	p.mu.Lock()
	p.days = nil
	p.mu.Unlock()
}

const visitLogDay = "20060102"

// visitLogColumns are the columns a fold copies; seq comes from its sequence.
var visitLogColumns = []string{"link_id", "code", "at", "referrer", "browser", "os", "device", "country", "bot", "user_agent"}

// logVisits copies visits into the log inside the fold's transaction,
// making the day partitions they need first.
func (db *DB) logVisits(ctx context.Context, tx pgx.Tx, visits []backend.LoggedVisit) error {
	if len(visits) == 0 {
		return nil
	}
	var made []string
	for _, v := range visits {
		day := v.At.UTC().Format(visitLogDay)
		if db.visitDays.has(day) || slices.Contains(made, day) {
			continue
		}
		start := v.At.UTC().Truncate(24 * time.Hour)
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS visit_log_%s PARTITION OF visit_log FOR VALUES FROM ('%s') TO ('%s')`,
			day, start.Format(time.RFC3339), start.Add(24*time.Hour).Format(time.RFC3339))); err != nil {
			return err
		}
		made = append(made, day)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"visit_log"}, visitLogColumns, pgx.CopyFromSlice(len(visits), func(i int) ([]any, error) {
		v := visits[i]
		var ua *string
		if v.UserAgent != "" {
			ua = &v.UserAgent
		}
		return []any{v.LinkID, v.Code, v.At, v.Referrer, v.Browser, v.OS, v.Device, v.Country, v.Bot, ua}, nil
	}))
	if err == nil {
		db.visitDays.add(made) // before the commit: a failed one forgets them all
	}
	return err
}

// DropVisitLog drops the day partitions that ended before before, each in a
// transaction that holds the cursor's lock, so no fold writes to it meanwhile.
func (db *DB) DropVisitLog(ctx context.Context, before time.Time) (int, error) {
	ctx, done := db.begin(ctx, "drop_visit_log")
	rows, _ := db.pool.Query(ctx, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'visit_log'::regclass ORDER BY c.relname`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, done(err)
	}
	dropped := 0
	for _, name := range names {
		day, err := time.Parse(visitLogDay, strings.TrimPrefix(name, "visit_log_"))
		if err != nil || day.Add(24*time.Hour).After(before) {
			continue // not one of ours, or not over yet
		}
		err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM visit_cursor WHERE id = 1 FOR UPDATE`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize())
			return err
		})
		if err != nil {
			return dropped, done(err)
		}
		dropped++
	}
	if dropped > 0 {
		db.visitDays.forget()
	}
	return dropped, done(nil)
}

// ListVisitLog pages the log newest first by (at, seq); the cursor is the
// last row's pair. One statement per selection, so each gets its own plan:
// a link's visits by its (link_id, at, seq) index, however many it has.
func (db *DB) ListVisitLog(ctx context.Context, q backend.VisitLogQuery) ([]backend.LoggedVisit, string, error) {
	ctx, done := db.begin(ctx, "list_visit_log")
	f := filterVisits(q)
	if q.Cursor != "" {
		at, seq, err := decodeVisitCursor(q.Cursor)
		if err != nil {
			return nil, "", done(err)
		}
		f.where = append(f.where, "(v.at, v.seq) < ("+f.arg(at)+", "+f.arg(seq)+")")
	}
	visits, err := db.visitRows(ctx, visitLogSelect+f.sql()+" ORDER BY v.at DESC, v.seq DESC LIMIT "+f.arg(q.Limit+1), f.args)
	if err != nil {
		return nil, "", done(err)
	}
	next := ""
	if len(visits) > q.Limit {
		visits = visits[:q.Limit]
		last := visits[len(visits)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.At.UnixMicro(), 10) + "." + strconv.FormatInt(last.Seq, 10)))
	}
	return visits, next, done(nil)
}

func (db *DB) PageVisitLog(ctx context.Context, q backend.VisitLogQuery) ([]backend.LoggedVisit, int64, error) {
	ctx, done := db.begin(ctx, "page_visit_log")
	f := filterVisits(q)
	var total int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM visit_log v`+f.sql(), f.args...).Scan(&total); err != nil {
		return nil, 0, done(err)
	}
	visits, err := db.visitRows(ctx, visitLogSelect+f.sql()+" ORDER BY v.at DESC, v.seq DESC LIMIT "+f.arg(q.Page.Size)+" OFFSET "+f.arg(q.Page.Offset()), f.args)
	return visits, total, done(err)
}

const visitLogSelect = `SELECT v.seq, v.link_id, v.code, v.at, v.referrer, v.browser, v.os, v.device, v.country, v.bot, coalesce(v.user_agent, '') FROM visit_log v`

func (db *DB) visitRows(ctx context.Context, sql string, args []any) ([]backend.LoggedVisit, error) {
	rows, _ := db.pool.Query(ctx, sql, args...)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.LoggedVisit, error) {
		var v backend.LoggedVisit
		err := r.Scan(&v.Seq, &v.LinkID, &v.Code, &v.At, &v.Referrer, &v.Browser, &v.OS, &v.Device, &v.Country, &v.Bot, &v.UserAgent)
		v.At = v.At.UTC()
		return v, err
	})
}

// filterVisits selects the logged visits of q, in visit_log v.
func filterVisits(q backend.VisitLogQuery) *filter {
	f := &filter{}
	if q.LinkID != nil {
		f.where = append(f.where, "v.link_id = "+f.arg(*q.LinkID))
	}
	if q.From != nil {
		f.where = append(f.where, "v.at >= "+f.arg(*q.From))
	}
	if q.To != nil {
		f.where = append(f.where, "v.at <= "+f.arg(*q.To))
	}
	if q.ExcludeBots {
		f.where = append(f.where, "NOT v.bot")
	}
	if q.Tag != "" || q.Owner != nil || q.Domain != nil {
		links := []string{}
		if q.Tag != "" {
			links = append(links, "m.tags @> ARRAY["+f.arg(q.Tag)+"::text]")
		}
		if q.Owner != nil {
			links = append(links, "m.owner_key_id = "+f.arg(*q.Owner))
		}
		if q.Domain != nil {
			links = append(links, "m.domain = "+f.arg(*q.Domain))
		}
		f.where = append(f.where, "v.link_id IN (SELECT m.id FROM url_mappings m WHERE "+strings.Join(links, " AND ")+")")
	}
	return f
}

func decodeVisitCursor(c string) (time.Time, int64, error) {
	bad := backend.Errorf(backend.EINVALID, "cursor is not one this server gave for visits")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, bad
	}
	at, seq, ok := strings.Cut(string(b), ".")
	micros, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, bad
	}
	return time.UnixMicro(micros), n, nil
}
