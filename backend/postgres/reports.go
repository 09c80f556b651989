package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/backend"
)

func scanReport(row pgx.Row) (backend.Report, error) {
	var r backend.Report
	err := row.Scan(&r.ID, &r.Code, &r.Target, &r.Reason, &r.CreatedAt)
	return r, err
}

func (db *DB) CreateReport(ctx context.Context, r backend.Report) (backend.Report, error) {
	ctx, done := db.begin(ctx, "create_report")
	out, err := scanReport(db.pool.QueryRow(ctx, `
		INSERT INTO reports (code, target, reason) VALUES ($1, $2, $3)
		RETURNING id, code, target, reason, created_at`, r.Code, r.Target, r.Reason))
	return out, done(err)
}

func (db *DB) ListReports(ctx context.Context, owner *int64, limit int) ([]backend.Report, error) {
	ctx, done := db.begin(ctx, "list_reports")
	rows, _ := db.pool.Query(ctx, `
		SELECT r.id, r.code, r.target, r.reason, r.created_at FROM reports r
		WHERE $1::bigint IS NULL OR EXISTS (SELECT 1 FROM url_mappings m WHERE m.domain = CASE WHEN strpos(r.code, '/') > 0 THEN split_part(r.code, '/', 1) ELSE '' END
			AND m.short_code = CASE WHEN strpos(r.code, '/') > 0 THEN split_part(r.code, '/', 2) ELSE r.code END AND m.owner_key_id = $1
			AND r.created_at >= m.created_at) -- not the reports of a deleted link whose alias it took
		ORDER BY r.created_at DESC, r.id DESC LIMIT $2`, owner, limit)
	reports, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend.Report, error) { return scanReport(r) })
	return reports, done(err)
}
