package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/backend/redis"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// Every backend exports every edge's published statistics; what does not
// parse (a value Redis holds from anything but an edge) is counted, not exported.
func TestEdgeStatsAreExported(t *testing.T) {
	r := testenv.NewRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer c.Close()
	ctx := context.Background()
	stats := link.EdgeStats{At: time.UnixMilli(1764750000000), HotAnswers: 1000, RedisAnswers: 7, PassedMiss: 2,
		RTT: []int64{5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, RTTSumMicros: 300500, Batch: []int64{6}, BatchSum: 6}
	c.Set(ctx, link.EdgeStatsKey("edge-a"), string(link.AppendEdgeStats(nil, stats)), link.EdgeStatsTTL)
	c.Set(ctx, link.EdgeStatsKey("edge-bad"), "v1 hot=lots", link.EdgeStatsTTL)
	c.Set(ctx, link.EdgeStatsKey("edge-huge"), "v1 "+strings.Repeat("x", 1<<20), link.EdgeStatsTTL)
	c.XAdd(ctx, &goredis.XAddArgs{Stream: link.VisitsKey, ID: "1000-1", Values: []string{"n", "1", "e", "x"}})

	reg := prometheus.NewRegistry()
	cache, err := redis.Open(r.URL(), redis.Sentinel{}, time.Second, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	edges, malformed, err := cache.EdgeStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 1 || edges[0].Name != "edge-a" || edges[0].Stats.HotAnswers != 1000 || malformed != 2 {
		t.Fatalf("EdgeStats = %+v, %d malformed; want edge-a alone, 2 malformed", edges, malformed)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, m := range got[name].GetMetric() {
			match := true
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					match = false
				}
			}
			if match {
				switch {
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kurz_edge_answers_total", map[string]string{"edge": "edge-a", "source": "hot"}, 1000},
		{"kurz_edge_answers_total", map[string]string{"edge": "edge-a", "source": "redis"}, 7},
		{"kurz_edge_passed_total", map[string]string{"edge": "edge-a", "reason": "miss"}, 2},
		{"kurz_edge_redis_round_trip_seconds", map[string]string{"edge": "edge-a"}, 6},
		{"kurz_edge_stats_malformed", nil, 2},
		{"kurz_edges", nil, 1},
		{"kurz_visits_stream_length", nil, 1},
	} {
		if got := value(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if lag := value("kurz_visits_fold_lag_seconds", nil); lag < float64(time.Now().Unix()-10) {
		t.Errorf("fold lag = %v s, want the age of an entry made at 1 s past the epoch", lag)
	}
}
