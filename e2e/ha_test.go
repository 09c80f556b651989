package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kurzlink/kurz/internal/stack"
	"github.com/kurzlink/kurz/internal/testenv"
	"github.com/kurzlink/kurz/link"
)

// One stack with Redis Sentinel, a Postgres replica and two Traefiks; the
// subtests run in order, the failover last but one.
func TestHighAvailability(t *testing.T) {
	s := testenv.NewHAStack(t, map[string]string{"KURZ_HEALTHCHECK_INTERVAL": "1s"})
	t1, t2 := s.Traefiks[0], s.Traefiks[1]
	master := MustFailoverRedis(t, s)

	t.Run("PatchSeenThroughTheOtherTraefik", func(t *testing.T) {
		key := MustKey(t, s)
		code := MustShorten(t, s, "https://example.com/ha/before")
		for _, tr := range s.Traefiks {
			MustVisitOn(t, tr, code, 3) // into both hot caches
		}
		res, err := tryDoKey("PATCH", t1.URL()+"/api/links/"+code, key, `{"url":"https://example.com/ha/after"}`)
		if err != nil || res.Status != http.StatusOK {
			t.Fatalf("PATCH = %v %d %s", err, res.Status, res.Raw)
		}
		answered := time.Now()
		for do(t, "GET", t2.URL()+"/"+code, "", "").Header.Get("Location") != "https://example.com/ha/after" {
			if time.Since(answered) > time.Second {
				t.Fatal("the other Traefik still serves the old target 1 s after the PATCH answered")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("seen through the other Traefik %s after the answer", time.Since(answered).Round(time.Millisecond))
	})

	t.Run("NewLinksAtOnceThroughTheOtherTraefik", func(t *testing.T) {
		key := MustKey(t, s)
		waitEdgeAnswersUnknown(t, s, t2.URL())
		for i := 0; i < 15; i++ {
			plain := MustShortenOn(t, t1.URL(), fmt.Sprintf("https://example.com/ha/fresh/%d/%d", time.Now().UnixNano(), i))
			MustVisitOn(t, t2, plain, 1)
			alias := fmt.Sprintf("h%06d", (time.Now().UnixNano()/1000+int64(i))%1_000_000)
			res, err := tryDoKey("POST", t1.URL()+"/api/shorten", key, `{"url":"https://example.com/ha/fresh-alias","alias":"`+alias+`"}`)
			if err != nil || res.Status != http.StatusCreated {
				t.Fatalf("creating alias %s: %v %d %s", alias, err, res.Status, res.Raw)
			}
			MustVisitOn(t, t2, alias, 1)
			time.Sleep(25 * time.Millisecond) // under the API's rate limit
		}
	})

	t.Run("ReadReplica", func(t *testing.T) {
		b := s.Backends[0]
		miss := func(code string) response {
			master.Del(context.Background(), "code:"+code)
			return do(t, "GET", b.URL()+"/"+code, "", "")
		}
		code := MustShorten(t, s, "https://example.com/ha/replica")
		eventually(t, 10*time.Second, func() error { // replicated
			if n := queryIntAt(t, s.PostgresReplica.URL("kurz"), `SELECT count(*) FROM url_mappings WHERE short_code = $1`, code); n != 1 {
				return fmt.Errorf("the replica has %d rows of %s", n, code)
			}
			return nil
		})
		before := backendMetric(t, b, `kurz_postgres_reads_total{pool="replica"}`)
		if res := miss(code); res.Status != http.StatusMovedPermanently {
			t.Fatalf("redirect miss = %d %s", res.Status, res.Raw)
		}
		if got := backendMetric(t, b, `kurz_postgres_reads_total{pool="replica"}`) - before; got != 1 {
			t.Errorf("replica reads for one redirect miss = %v, want 1", got)
		}

		t.Run("LaggingReplica", func(t *testing.T) {
			mustSQL(t, s.PostgresReplica.URL("kurz"), `SELECT pg_wal_replay_pause()`)
			defer mustSQL(t, s.PostgresReplica.URL("kurz"), `SELECT pg_wal_replay_resume()`)
			fresh := MustShortenOn(t, b.URL(), "https://example.com/ha/created-a-moment-ago")
			before := backendMetric(t, b, `kurz_postgres_reads_total{pool="primary"}`)
			if res := miss(fresh); res.Status != http.StatusMovedPermanently {
				t.Fatalf("a link the replica has not seen = %d %s, want 301 from the primary", res.Status, res.Raw)
			}
			if got := backendMetric(t, b, `kurz_postgres_reads_total{pool="primary"}`) - before; got != 1 {
				t.Errorf("primary reads = %v, want 1", got)
			}
		})
		t.Run("ReplicaStopped", func(t *testing.T) {
			s.PostgresReplica.Stop()
			defer func() {
				if err := s.PostgresReplica.Start(); err != nil {
					t.Fatal(err)
				}
			}()
			for i := 0; i < 5; i++ {
				if res := miss(code); res.Status != http.StatusMovedPermanently {
					t.Fatalf("redirect miss with the replica down = %d %s", res.Status, res.Raw)
				}
			}
		})
	})

	t.Run("RedisMasterKilled", func(t *testing.T) {
		hot := MustShorten(t, s, "https://example.com/ha/hot")
		var cold []string
		for i := 0; i < 20; i++ {
			code := MustShorten(t, s, fmt.Sprintf("https://example.com/ha/cold/%d", i))
			cold = append(cold, code)
		}
		for _, tr := range s.Traefiks {
			MustVisitOn(t, tr, hot, 1)
		}
		var served, failed, hotServed atomic.Int64
		var mu sync.Mutex
		var firstFailure string
		var n atomic.Int64
		stop := startLoad(4, func() {
			i := n.Add(1)
			tr, code := s.Traefiks[i%2], hot
			if i%3 == 0 {
				code = cold[int(i/3)%len(cold)]
			}
			res, err := tryDo("GET", tr.URL()+"/"+code, "", "")
			if err != nil || res.Status != http.StatusMovedPermanently {
				failed.Add(1)
				mu.Lock()
				if firstFailure == "" {
					firstFailure = fmt.Sprintf("%v %d %s", err, res.Status, res.Raw)
				}
				mu.Unlock()
				return
			}
			served.Add(1)
			if code == hot {
				hotServed.Add(1)
			}
		})
		time.Sleep(500 * time.Millisecond)
		oldMaster := s.Redis.Addr()
		killed := time.Now()
		s.Redis.Kill()

		var creates []string
		for time.Since(killed) < 3*time.Second { // creation goes on during the failover
			creates = append(creates, MustShortenOn(t, s.Traefiks[len(creates)%2].URL(), fmt.Sprintf("https://example.com/ha/during/%d", len(creates))))
			time.Sleep(100 * time.Millisecond)
		}
		promoted := waitPromotion(t, s, oldMaster).Sub(killed)
		edgeBack := waitEdgeOnRedis(t, s).Sub(killed)
		stop()
		t.Logf("master SIGKILLed: promoted after %s, both edges back on Redis after %s; %d redirects served, %d failed",
			promoted.Round(10*time.Millisecond), edgeBack.Round(10*time.Millisecond), served.Load(), failed.Load())
		if failed.Load() != 0 {
			t.Errorf("%d redirects failed during the failover, want 0; first: %s", failed.Load(), firstFailure)
		}
		if edgeBack-promoted > 5*time.Second {
			t.Errorf("edges back on Redis %s after the promotion, want within 5 s", edgeBack-promoted)
		}
		for _, code := range creates {
			if res := do(t, "GET", t1.URL()+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
				t.Errorf("a link created during the failover (%s) answers %d", code, res.Status)
			}
		}
		time.Sleep(time.Second)
		if got := accessCount(t, s, hot); got > hotServed.Load()+2 {
			t.Errorf("access_count of the hot link = %d, more than the %d visits served: counted twice", got, hotServed.Load()+2)
		}
	})

	t.Run("OldMasterRejoinsAsReplica", func(t *testing.T) {
		if err := s.Redis.Start(); err != nil {
			t.Fatal(err)
		}
		old := goredis.NewClient(&goredis.Options{Addr: s.Redis.Addr()})
		defer old.Close()
		eventually(t, 20*time.Second, func() error {
			role, err := old.Do(context.Background(), "ROLE").Slice()
			if err != nil || len(role) == 0 || role[0] != "slave" {
				return fmt.Errorf("ROLE of the old master = %v %v, want slave", role, err)
			}
			return nil
		})
		code := MustShorten(t, s, "https://example.com/ha/after-rejoin")
		MustVisitOn(t, t1, code, 3)
		mustCount(t, s, code, 3)
	})
}

// MustFailoverRedis is a client of whichever Redis the Sentinels name master.
func MustFailoverRedis(tb testing.TB, s *stack.Stack) *goredis.Client {
	tb.Helper()
	var addrs []string
	for _, sn := range s.Sentinels {
		addrs = append(addrs, sn.Addr())
	}
	c := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: s.HA.MasterName, SentinelAddrs: addrs})
	tb.Cleanup(func() { c.Close() })
	return c
}

// waitPromotion waits until a Sentinel names a master other than old, and returns when.
func waitPromotion(tb testing.TB, s *stack.Stack, old string) time.Time {
	tb.Helper()
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Sentinels[0].Addr()})
	defer sc.Close()
	eventually(tb, 30*time.Second, func() error {
		addr, err := sc.GetMasterAddrByName(context.Background(), s.HA.MasterName).Result()
		if err != nil || strings.Join(addr, ":") == old {
			return fmt.Errorf("master still %v (%v)", addr, err)
		}
		return nil
	})
	return time.Now()
}

// waitEdgeOnRedis waits until both Traefiks answer a link that only Redis
// holds without a backend, and returns when.
func waitEdgeOnRedis(tb testing.TB, s *stack.Stack) time.Time {
	tb.Helper()
	for i := 0; ; i++ {
		code := MustShortenOn(tb, s.Traefik.URL(), fmt.Sprintf("https://example.com/ha/probe/%d", i))
		before := backendRedirects(tb, s)
		ok := true
		for _, tr := range s.Traefiks {
			if res := do(tb, "GET", tr.URL()+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
				ok = false
			}
		}
		if ok && backendRedirects(tb, s) == before {
			return time.Now()
		}
		if i > 300 {
			tb.Fatal("the edges never answered from the new master")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func MustVisitOn(tb testing.TB, t *stack.Traefik, code string, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if res := do(tb, "GET", t.URL()+"/"+code, "", ""); res.Status != http.StatusMovedPermanently {
			tb.Fatalf("GET /%s = %d", code, res.Status)
		}
	}
}

func MustShortenOn(tb testing.TB, base, url string) string {
	tb.Helper()
	res := do(tb, "POST", base+"/api/shorten", "application/json", `{"url":"`+url+`"}`)
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		tb.Fatalf("shorten %s: %d %s", url, res.Status, res.Raw)
	}
	return res.Body["short_code"].(string)
}

// backendMetric reads one sample of a replica's metrics; 0 if absent.
func backendMetric(tb testing.TB, b *stack.Backend, sample string) float64 {
	tb.Helper()
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", b.MetricsPort))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), " "); ok && name == sample {
			n, _ := strconv.ParseFloat(value, 64)
			return n
		}
	}
	return 0
}

func mustSQL(tb testing.TB, databaseURL, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// A change is answered once Postgres has it; its invalidation is applied to
// the Redis master and forgotten only when a replica has it too. A master
// that dies before its replicas got the invalidation must not take it with
// it: after the failover the change is served, not the old target.
func TestChangeSurvivesAFailoverBeforeReplication(t *testing.T) {
	s := testenv.NewHAStack(t, map[string]string{"KURZ_HEALTHCHECK_INTERVAL": "1s"})
	key := MustKey(t, s)
	code := MustShorten(t, s, "https://example.com/ha/before")
	MustVisitOn(t, s.Traefik, code, 1) // cached in Redis
	mustReplicasOnline(t, s)
	for _, r := range s.RedisReplicas { // and there
		rc := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
		eventually(t, 10*time.Second, func() error {
			if v, _ := rc.Get(context.Background(), link.CodeKey(code)).Result(); v != "https://example.com/ha/before" {
				return fmt.Errorf("replica %s holds %q", r.Addr(), v)
			}
			return nil
		})
		rc.Close()
	}
	for _, r := range s.RedisReplicas {
		if err := r.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			for _, r := range s.RedisReplicas {
				r.Signal(syscall.SIGCONT)
			}
		}
	}
	t.Cleanup(thaw)
	res := testenv.Do(t, "PATCH", s.Traefik.URL()+"/api/links/"+code, `{"url":"https://example.com/ha/after"}`,
		"Content-Type", "application/json", "Authorization", "Bearer "+key)
	if res.Status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", res.Status, res.Raw)
	}
	time.Sleep(time.Second) // applied to the master, not to a replica
	if n := queryInt(t, s, `SELECT count(*) FROM cache_invalidations WHERE code = $1`, code); n != 1 {
		t.Errorf("%d stored invalidations of %s while no replica has it, want it kept", n, code)
	}
	oldMaster := s.Redis.Addr()
	s.Redis.Kill()
	thaw()
	waitPromotion(t, s, oldMaster)
	eventually(t, 15*time.Second, func() error {
		for _, tr := range s.Traefiks {
			r := do(t, "GET", tr.URL()+"/"+code, "", "")
			if got := r.Header.Get("Location"); got != "https://example.com/ha/after" {
				return fmt.Errorf("%s answers %d %q after the failover, want the change", tr.URL(), r.Status, got)
			}
		}
		return nil
	})
	eventually(t, 15*time.Second, func() error { // forgotten once a replica of the new master has it
		if n := queryInt(t, s, `SELECT count(*) FROM cache_invalidations WHERE code = $1`, code); n != 0 {
			return fmt.Errorf("%d stored invalidations of %s after the failover, want none", n, code)
		}
		return nil
	})
}

// Counts are folded into Postgres only once a replica has the batch taken
// from Redis: a new master without the rename would still hold the hits and
// fold them again. While the replicas are frozen nothing is folded; once
// they are back every visit is counted, once.
func TestCountsFoldOnlyWhatAReplicaHas(t *testing.T) {
	s := testenv.NewHAStack(t, map[string]string{"KURZ_HEALTHCHECK_INTERVAL": "1s"})
	code := MustShorten(t, s, "https://example.com/ha/counted")
	MustVisitOn(t, s.Traefik, code, 1)
	mustCount(t, s, code, 1)
	mustReplicasOnline(t, s)
	for _, r := range s.RedisReplicas {
		if err := r.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	frozen := true
	thaw := func() {
		if frozen {
			frozen = false
			for _, r := range s.RedisReplicas {
				r.Signal(syscall.SIGCONT)
			}
		}
	}
	t.Cleanup(thaw)
	MustVisitOn(t, s.Traefik, code, 5)
	time.Sleep(2 * time.Second) // several push and fold intervals
	if got := accessCount(t, s, code); got != 1 {
		t.Errorf("access_count = %d while no replica has the batch, want 1: folded before a replica had it", got)
	}
	thaw()
	mustCount(t, s, code, 6)
}

// mustReplicasOnline waits until every Redis replica has finished its first
// sync: until then the master lists none, and waits for none.
func mustReplicasOnline(tb testing.TB, s *stack.Stack) {
	tb.Helper()
	mc := goredis.NewClient(&goredis.Options{Addr: s.Redis.Addr()})
	defer mc.Close()
	eventually(tb, 20*time.Second, func() error {
		info, err := mc.Info(context.Background(), "replication").Result()
		if n := strings.Count(info, "state=online"); err != nil || n != len(s.RedisReplicas) {
			return fmt.Errorf("%d of %d replicas online (%v)", n, len(s.RedisReplicas), err)
		}
		return nil
	})
}

// A 7-character alias created while Sentinel fails the Redis master over is
// never answered 404 by an edge: not at once after its create, not later,
// through either Traefik.
func TestNewAliasesDuringAFailoverAreNever404(t *testing.T) {
	s := testenv.NewHAStack(t, map[string]string{"KURZ_HEALTHCHECK_INTERVAL": "1s"})
	key := MustKey(t, s)
	mustReplicasOnline(t, s)
	created, notFound := 0, 0
	var missed []string
	check := func(alias string) {
		for _, tr := range s.Traefiks {
			if r := do(t, "GET", tr.URL()+"/"+alias, "", ""); r.Status == http.StatusNotFound {
				notFound++
				missed = append(missed, alias+" via "+tr.URL())
			}
		}
	}
	var aliases []string
	oldMaster := s.Redis.Addr()
	killed := time.Now()
	s.Redis.Kill()
	for i := 0; time.Since(killed) < 6*time.Second; i++ {
		alias := fmt.Sprintf("fo%05d", i) // 7 characters: the edge answers unknown ones itself
		res := testenv.Do(t, "POST", s.Traefiks[i%2].URL()+"/api/shorten", `{"url":"https://example.com/ha/alias/`+alias+`","alias":"`+alias+`"}`,
			"Content-Type", "application/json", "Authorization", "Bearer "+key)
		if res.Status != http.StatusCreated {
			continue // refused during the failover: nothing was promised
		}
		created++
		aliases = append(aliases, alias)
		check(alias)
	}
	waitPromotion(t, s, oldMaster)
	waitEdgeOnRedis(t, s)
	time.Sleep(3 * time.Second) // the edges trust their view again
	for _, alias := range aliases {
		check(alias)
	}
	t.Logf("%d aliases created during the failover, each asked of both Traefiks at once and after it", created)
	if created == 0 {
		t.Fatal("no alias was created during the failover: the test proves nothing")
	}
	if notFound != 0 {
		t.Errorf("%d answers were 404 for aliases whose create had answered 201: %v", notFound, missed)
	}
}
