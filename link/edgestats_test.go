package link_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kurzlink/kurz/link"
)

func sampleEdgeStats() link.EdgeStats {
	return link.EdgeStats{
		At: time.UnixMilli(1764750000123), HotAnswers: 1000, RedisAnswers: 20, PassedMiss: 3, PassedError: 4,
		PassedUnsafe: 5, PassedDraining: 6, NotFound: 7, Retries: 8, RedisErrors: 9, RedisTimeouts: 2,
		BreakerOpen: true, BreakerOpens: 1, MasterChanges: 16, RTT: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, RTTSumMicros: 12345,
		Batch: []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, BatchSum: 99, VisitsDropped: 13, HotEntries: 14, HotEvictions: 15,
	}
}

func TestEdgeStats(t *testing.T) {
	t.Run("OKRoundTrip", func(t *testing.T) {
		want := sampleEdgeStats()
		got, err := link.ParseEdgeStats(string(link.AppendEdgeStats(nil, want)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("OKUnknownFieldSkipped", func(t *testing.T) {
		line := string(link.AppendEdgeStats(nil, sampleEdgeStats())) + " future=12"
		if _, err := link.ParseEdgeStats(line); err != nil {
			t.Errorf("a newer edge's field: %v", err)
		}
	})
	good := string(link.AppendEdgeStats(nil, sampleEdgeStats()))
	for _, tc := range []struct{ name, in string }{
		{"ErrEmpty", ""},
		{"ErrOtherVersion", "v2" + good[2:]},
		{"ErrNegative", strings.Replace(good, "hot=1000", "hot=-1", 1)},
		{"ErrNotANumber", strings.Replace(good, "hot=1000", "hot=lots", 1)},
		{"ErrMissingField", strings.Replace(good, " hot=1000", "", 1)},
		{"ErrDuplicateField", strings.Replace(good, " hot=1000", " miss=1", 1)},
		{"ErrShortHistogram", strings.Replace(good, "rtt=1,2,3,", "rtt=1,2,", 1)},
		{"ErrBreakerNotABit", strings.Replace(good, "breaker=1", "breaker=2", 1)},
		{"ErrNoEquals", good + " stray"},
		{"ErrTooLong", good + " pad=" + strings.Repeat("1", link.MaxEdgeStatsBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := link.ParseEdgeStats(tc.in); err == nil {
				t.Errorf("ParseEdgeStats(%.80q) = nil error, want one", tc.in)
			}
		})
	}
}

func FuzzParseEdgeStats(f *testing.F) {
	f.Add(string(link.AppendEdgeStats(nil, sampleEdgeStats())))
	f.Add("v1 at=1")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := link.ParseEdgeStats(in)
		if err != nil {
			return
		}
		again, err := link.ParseEdgeStats(string(link.AppendEdgeStats(nil, s)))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Errorf("what parsed does not round-trip: %v", err)
		}
	})
}

// A value falls in the first bucket whose bound it does not exceed.
func TestEdgeBuckets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bounds []int64
		bucket func(int64) int
	}{{"RTT", link.EdgeRTTBounds, link.EdgeRTTBucket}, {"Batch", link.EdgeBatchBounds, link.EdgeBatchBucket}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.bucket(0); got != 0 {
				t.Errorf("bucket(0) = %d, want 0", got)
			}
			for i, b := range tc.bounds {
				if got := tc.bucket(b); got != i {
					t.Errorf("bucket(%d) = %d, want %d", b, got, i)
				}
				if got := tc.bucket(b + 1); got != i+1 {
					t.Errorf("bucket(%d) = %d, want %d", b+1, got, i+1)
				}
			}
			if got, want := tc.bucket(1<<40), len(tc.bounds); got != want {
				t.Errorf("bucket(huge) = %d, want the last, %d", got, want)
			}
		})
	}
}
