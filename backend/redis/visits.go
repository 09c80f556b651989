package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

var pushVisits = goredis.NewScript(link.AddVisitsScript)

func (c *Cache) PushVisits(ctx context.Context, batchID string, n int, packed []byte) error {
	ctx, done := c.begin(Background(ctx), "push_visits")
	err := c.replicated(ctx, func(p goredis.Pipeliner) { // kept by the caller until a replica has it
		pushVisits.Eval(ctx, p, []string{link.VisitsKey, link.VisitsPushedKey, link.VisitsDroppedKey},
			link.HitsPushedTTL.Milliseconds(), batchID, link.VisitsStreamCap, n, packed)
	})
	return done(err, "")
}

// ReadVisits reads entries after the id after; an entry without a packed
// batch (not written by kurz) is returned empty, so the cursor passes it.
func (c *Cache) ReadVisits(ctx context.Context, after string, count int) ([]backend.VisitEntry, error) {
	ctx, done := c.begin(Background(ctx), "read_visits")
	msgs, err := c.client.XRangeN(ctx, link.VisitsKey, "("+after, "+", int64(count)).Result()
	if err != nil {
		if strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return nil, done(nil, "") // AddVisitsScript replaces it
		}
		return nil, done(err, "")
	}
	entries := make([]backend.VisitEntry, len(msgs))
	for i, m := range msgs {
		packed, _ := m.Values["e"].(string)
		entries[i] = backend.VisitEntry{ID: m.ID, Packed: packed}
	}
	return entries, done(nil, "")
}

// visitsEpoch returns visits:epoch, set to ARGV[1] when missing or not a string.
var visitsEpoch = goredis.NewScript(`
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'string' then return redis.call('GET', KEYS[1]) end
if t ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`)

func (c *Cache) VisitsEpoch(ctx context.Context) (string, error) {
	ctx, done := c.begin(Background(ctx), "visits_epoch")
	epoch, err := visitsEpoch.Run(ctx, c.client, []string{link.VisitsEpochKey}, newID()).Text()
	return epoch, done(err, "")
}

func (c *Cache) TrimVisits(ctx context.Context, through string) error {
	ms, seq, ok := strings.Cut(through, "-")
	s, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil {
		return errors.New("not a stream id: " + through)
	}
	ctx, done := c.begin(Background(ctx), "trim_visits")
	// MINID keeps ids from the given one: the next id after through.
	err = c.client.XTrimMinID(ctx, link.VisitsKey, ms+"-"+strconv.FormatUint(s+1, 10)).Err()
	return done(err, "")
}

func (c *Cache) DroppedVisits(ctx context.Context) (int64, error) {
	ctx, done := c.begin(Background(ctx), "dropped_visits")
	n, err := c.client.Get(ctx, link.VisitsDroppedKey).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, done(nil, "miss")
	}
	return n, done(err, "")
}
