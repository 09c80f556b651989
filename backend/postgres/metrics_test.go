package postgres_test

import (
	"context"
	"testing"
)

// The outbox backlog is what was changed in Postgres and not yet applied to Redis.
func TestOutboxBacklog(t *testing.T) {
	ctx := context.Background()
	db := MustMigrated(t)
	if n, age, err := db.OutboxBacklog(ctx); err != nil || n != 0 || age != 0 {
		t.Fatalf("empty outbox: %d entries, oldest %s, %v; want 0, 0, nil", n, age, err)
	}
	var ids []int64
	for i, code := range []string{"outbox1", "outbox2"} {
		MustCreate(t, db, int64(9000+i), code, false)
		inv, err := db.DeleteLink(ctx, code, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.ID)
	}
	if n, _, err := db.OutboxBacklog(ctx); err != nil || n != 2 {
		t.Errorf("after two deletes: %d entries, %v; want 2", n, err)
	}
	if err := db.DeleteInvalidations(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if n, _, err := db.OutboxBacklog(ctx); err != nil || n != 0 {
		t.Errorf("after applying them: %d entries, %v; want 0", n, err)
	}
}
