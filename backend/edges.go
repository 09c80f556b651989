package backend

import (
	"context"
	"time"

	"github.com/kurzlink/kurz/link"
)

// EdgeInstance is what one Traefik instance's edge plugin last published.
type EdgeInstance struct {
	Name  string
	Stats link.EdgeStats
}

// EdgeStatsSource reads the edges' published statistics: every instance that
// published within link.EdgeStatsTTL, and how many values did not parse.
type EdgeStatsSource interface {
	EdgeStats(ctx context.Context) ([]EdgeInstance, int, error)
}

// edgeAnswered counts the code-shaped requests an edge answered itself:
// redirects from the hot cache or Redis, and 404s for codes no link can have.
func edgeAnswered(s link.EdgeStats) int64 { return s.HotAnswers + s.RedisAnswers + s.NotFound }

// edgePassed counts the code-shaped requests an edge passed to the backends.
func edgePassed(s link.EdgeStats) int64 {
	return s.PassedMiss + s.PassedError + s.PassedUnsafe + s.PassedDraining
}

// hitRatio is the share of the code-shaped requests the edge answered itself; 0 before any.
func hitRatio(s link.EdgeStats) float64 {
	answered, all := edgeAnswered(s), edgeAnswered(s)+edgePassed(s)
	if all == 0 {
		return 0
	}
	return float64(answered) / float64(all)
}

// rttQuantile estimates the q-quantile (0 < q ≤ 1) of the Redis round trips
// from the histogram, as Prometheus's histogram_quantile does: linear within
// the bucket; the last, unbounded bucket answers its lower bound. 0 without any.
func rttQuantile(s link.EdgeStats, q float64) time.Duration {
	var total int64
	for _, n := range s.RTT {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range s.RTT {
		if float64(seen+n) >= rank && n > 0 {
			lower := int64(0)
			if i > 0 {
				lower = link.EdgeRTTBounds[i-1]
			}
			if i == len(link.EdgeRTTBounds) {
				return time.Duration(lower) * time.Microsecond
			}
			upper := link.EdgeRTTBounds[i]
			frac := (rank - float64(seen)) / float64(n)
			return time.Duration(float64(lower)+frac*float64(upper-lower)) * time.Microsecond
		}
		seen += n
	}
	return time.Duration(link.EdgeRTTBounds[len(link.EdgeRTTBounds)-1]) * time.Microsecond
}
