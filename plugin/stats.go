package plugin

import (
	"os"
	"strconv"
	"time"

	"github.com/kurzlink/kurz/link"
)

// instanceName names the n-th edge of this process in its published
// statistics: the host, this process, and n (one process may hold several
// edges, one per distinct configuration).
func instanceName(n int) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "traefik"
	}
	return host + "-" + processID[:8] + "-" + strconv.Itoa(n)
}

// statistics gathers the edge's counters, its Redis client's and its hot cache's.
func (e *edge) statistics(now time.Time) link.EdgeStats {
	entries, evictions := e.hot.sizeAndEvictions()
	s := link.EdgeStats{At: now, HotEntries: entries, HotEvictions: evictions}
	e.hot.mu.Lock()
	s.VisitsDropped = e.hot.droppedVisits
	e.hot.mu.Unlock()
	e.mu.Lock()
	s.HotAnswers = e.stats.hotAnswers
	s.RedisAnswers = e.stats.redisAnswers
	s.PassedMiss = e.stats.passedMiss
	s.PassedError = e.stats.passedError
	s.PassedUnsafe = e.stats.badValues
	s.PassedDraining = e.stats.passedDraining
	s.NotFound = e.stats.notFound
	s.Retries = e.stats.retries
	s.VisitsDropped += e.stats.droppedVisits + e.stats.fullStreamVisits
	e.mu.Unlock()
	c := e.redis
	c.mu.Lock()
	s.RedisErrors = c.errors
	s.RedisTimeouts = c.timeouts
	s.BreakerOpen = now.Before(c.openUntil)
	s.BreakerOpens = c.failures
	s.MasterChanges = c.masters
	s.RTT = append([]int64(nil), c.rtt...)
	s.RTTSumMicros = c.rttSum
	s.Batch = append([]int64(nil), c.batch...)
	s.BatchSum = c.batchSum
	c.mu.Unlock()
	return s
}

// publishStats writes the edge's statistics to Redis for the backends to
// export; a Redis that does not answer misses one publication, nothing more.
func (e *edge) publishStats(now time.Time) {
	line := string(link.AppendEdgeStats(nil, e.statistics(now)))
	e.redis.doAll([][]string{{"SET", link.EdgeStatsKey(e.instance), line, "PX", strconv.FormatInt(link.EdgeStatsTTL.Milliseconds(), 10)}})
}
