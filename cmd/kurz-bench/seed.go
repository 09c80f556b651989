package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/link"
)

// seedURL is the target of the i-th seeded link.
func seedURL(i int) string { return fmt.Sprintf("https://example.com/seed/%d", i) }

// seedLinks creates n links the way the backend would (sequence id → code) in
// one COPY, and caches them in Redis as a create does.
func seedLinks(ctx context.Context, s *stack.Stack, n int) ([]string, error) {
	codec, err := link.NewCodec(s.Secret)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, s.Postgres.URL("kurz"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT nextval('url_mappings_id_seq') FROM generate_series(1, $1)`, n)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	codes := make([]string, n)
	data := make([][]any, n)
	for i, id := range ids {
		code, err := codec.Encode(id)
		if err != nil {
			return nil, err
		}
		url := seedURL(i)
		codes[i] = code
		data[i] = []any{id, code, url, backend.HashURL("", url)}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"url_mappings"},
		[]string{"id", "short_code", "original_url", "url_hash"}, pgx.CopyFromRows(data)); err != nil {
		return nil, err
	}
	rc := goredis.NewClient(&goredis.Options{Addr: s.Redis.Addr()})
	defer rc.Close()
	for start := 0; start < n; start += 5000 {
		end := min(start+5000, n)
		_, err := rc.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := start; i < end; i++ {
				p.Set(ctx, link.CodeKey(codes[i]), data[i][2], link.CodeTTL)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return codes, nil
}
