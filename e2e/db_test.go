package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kurzlink/kurz/internal/stack"
)

// queryInt runs a query of one number on the stack's Postgres primary.
func queryInt(tb testing.TB, s *stack.Stack, sql string, args ...any) int64 {
	tb.Helper()
	return queryIntAt(tb, s.Postgres.URL("kurz"), sql, args...)
}

// queryIntAt runs a query of one number on the database at url.
func queryIntAt(tb testing.TB, url, sql string, args ...any) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
