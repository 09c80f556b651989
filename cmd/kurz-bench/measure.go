package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// scenario is one measured load.
type scenario struct {
	Name     string  `json:"name"`
	RPS      float64 `json:"requests_per_second"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Note     string  `json:"note,omitempty"`
}

type target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

type results struct {
	Date                 string     `json:"date"`
	Machine              string     `json:"machine"`
	Load                 string     `json:"load"`
	Scenarios            []scenario `json:"scenarios"`
	Targets              []target   `json:"targets"`
	IdleTraefikRSSMB     [2]float64 `json:"idle_traefik_rss_mb"`   // with, without the plugin
	LoadedTraefikRSSMB   [2]float64 `json:"loaded_traefik_rss_mb"` // after edge hot, after ceiling
	TraefikRSSMB         float64    `json:"traefik_rss_mb"`
	CeilingTraefikRSSMB  float64    `json:"ceiling_traefik_rss_mb"`
	BackendRSSMB         float64    `json:"backend_rss_mb"`
	RedisReadsPerRequest float64    `json:"redis_reads_per_edge_redis_request"`
	StormQueriesPer1000  float64    `json:"storm_postgres_lookups_per_1000_requests"`
	MetricsCost          [2]float64 `json:"metrics_cost"`           // 1 − ceiling with entrypoint / all metrics ÷ ceiling
	FailoverPromotedS    float64    `json:"failover_promoted_s"`    // Redis master SIGKILLed → Sentinel names another
	FailoverEdgeBackS    float64    `json:"failover_edge_back_s"`   // → the edge answers from the new master
	FoldVisitsPerSecond  float64    `json:"fold_visits_per_second"` // visit analytics folded by one backend
	DroppedVisits        int64      `json:"dropped_visits"`         // refused by a full visits stream during the run
	Total                string     `json:"total"`
}

func fromWrk(name string, w wrkResult, note string) scenario {
	return scenario{Name: name, RPS: w.rps(), P50MS: float64(w.P50US) / 1000, P99MS: float64(w.P99US) / 1000,
		Requests: w.Requests, Errors: w.socketErrors() + w.StatusErrors, Note: note}
}

// measure runs every scenario in turn against the same machine state.
func (b *bench) measure(ctx context.Context, log io.Writer) (*results, error) {
	res := &results{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		Load: fmt.Sprintf("wrk -t%d -c%d on loopback; pairs compared run interleaved, %d rounds of %s each, median shown; others %s; %s warm-ups",
			b.threads, b.connections, rounds, b.duration/2, b.duration, b.warmup)}
	edge := b.stack.Traefik.URL()
	hot := "/" + b.codes[0]
	uniform, err := b.writePaths("uniform", b.uniformPaths())
	if err != nil {
		return nil, err
	}
	mix, err := b.writePaths("zipf", b.zipfPaths(200000, 3))
	if err != nil {
		return nil, err
	}
	rc := goredis.NewClient(&goredis.Options{Addr: b.stack.Redis.Addr()})
	defer rc.Close()

	step := func(name string) { fmt.Fprintf(log, "  %-22s …\n", name) }
	ceilingLoad := load{url: b.ceiling.URL() + hot}
	hotLoad := load{url: edge + hot}
	redisLoad := load{url: edge, host: "edge-redis.bench", arg: uniform}
	proxiedLoad := load{url: edge, host: "proxied.bench", arg: uniform}

	step("ceiling ↔ edge hot")
	pair, err := b.interleaved(ctx, ceilingLoad, hotLoad)
	if err != nil {
		return nil, err
	}
	ceiling, edgeHot := pair[0], pair[1]
	ceilingRSS := rssMB(b.ceiling.Pid())
	edgeHotRSS := rssMB(b.stack.Traefik.Pid()) // after the same load as the ceiling's: the plugin's share
	step("floor map ↔ edge hot")
	pair, err = b.interleaved(ctx, load{url: b.floors.URL() + hot, host: "floor-map.bench"}, hotLoad)
	if err != nil {
		return nil, err
	}
	floorMap, edgeHotFloored := pair[0], pair[1]
	step("floor redis ↔ edge redis")
	pair, err = b.interleaved(ctx, load{url: b.floors.URL(), host: "floor-redis.bench", arg: uniform}, redisLoad)
	if err != nil {
		return nil, err
	}
	floorRedis, edgeRedisFloored := pair[0], pair[1]
	step("edge redis ↔ proxied")
	pair, err = b.interleaved(ctx, redisLoad, proxiedLoad)
	if err != nil {
		return nil, err
	}
	edgeRedis, proxied := pair[0], pair[1]
	step("edge redis ↔ sentinel")
	pair, err = b.interleaved(ctx, redisLoad, load{url: edge, host: "edge-sentinel.bench", arg: uniform})
	if err != nil {
		return nil, err
	}
	edgeRedis2, edgeSentinel := pair[0], pair[1]
	step("redis round trips")
	readsBefore := redisReads(ctx, rc)
	alone, err := b.wrk(ctx, redisLoad, 3*time.Second) // alone: no backend reads Redis meanwhile
	if err != nil {
		return nil, err
	}
	res.RedisReadsPerRequest = float64(redisReads(ctx, rc)-readsBefore) / float64(max(alone.Requests, 1))
	step("ceiling ↔ mix")
	// The ceiling replays the same paths: wrk's per-request work is then equal too.
	pair, err = b.interleaved(ctx, load{url: b.ceiling.URL(), arg: mix}, load{url: edge, arg: mix})
	if err != nil {
		return nil, err
	}
	ceilingMix, mixed := pair[0], pair[1]
	step("ceiling ↔ storm")
	storm, err := b.writePaths("storm", b.stormPaths(200000))
	if err != nil {
		return nil, err
	}
	lookupsBefore := b.postgresLookups()
	pair, err = b.interleaved(ctx, load{url: b.ceiling.URL(), arg: storm}, load{url: edge, arg: storm})
	if err != nil {
		return nil, err
	}
	ceilingStorm, stormed := pair[0], pair[1]
	// The counter saw the warm-up and every round: as many requests as the median rate makes in that time.
	stormRequests := stormed.rps() * (b.warmup + time.Duration(rounds)*b.duration/2).Seconds()
	res.StormQueriesPer1000 = 1000 * (b.postgresLookups() - lookupsBefore) / max(stormRequests, 1)
	step("analytics fold")
	foldRate, droppedVisits, err := b.foldRate(ctx, rc, 200000)
	if err != nil {
		return nil, err
	}
	res.FoldVisitsPerSecond, res.DroppedVisits = foldRate, droppedVisits
	step("durable postgres")
	// Creation is measured against a Postgres that syncs its commits, as make run's does.
	b.stack.Postgres.Durable = true
	b.stack.Postgres.Stop()
	if err := b.stack.Postgres.Start(); err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second) // the replicas' pools reconnect
	step("create")
	create, err := b.load(ctx, load{url: edge, arg: "create"})
	if err != nil {
		return nil, err
	}
	step("pgbench")
	clients := 3 * max(4, runtime.NumCPU()) // pgxpool's default pool size, for each of 3 replicas
	tps, latency, err := b.pgbench(ctx, clients)
	if err != nil {
		return nil, err
	}

	var metered [2]wrkResult
	for i, mode := range []string{"entrypoint", "all"} {
		step("ceiling ↔ " + mode + " metrics")
		pair, err = b.interleaved(ctx, ceilingLoad, load{url: b.metered[i].URL() + hot})
		if err != nil {
			return nil, err
		}
		res.MetricsCost[i] = 1 - pair[1].rps()/pair[0].rps()
		metered[i] = pair[1]
	}

	step("redis failover")
	promoted, edgeBack, err := b.failover(ctx)
	if err != nil {
		return nil, err
	}
	res.FailoverPromotedS, res.FailoverEdgeBackS = promoted.Seconds(), edgeBack.Seconds()

	res.Scenarios = []scenario{
		fromWrk("Ceiling (redirectRegex; no plugin, no metrics, no access log: the bare Traefik, as shipped)", ceiling, ""),
		fromWrk("Edge, hot (plugin hot cache), shipped defaults", edgeHot, ""),
		fromWrk("Floor, map: the least an interpreted plugin does to redirect (a map and a 301; same build, not shipped)", floorMap, ""),
		fromWrk("Edge, hot, beside the map floor", edgeHotFloored, ""),
		fromWrk("Floor, Redis: one pipelined GET per request on a shared connection (same build, not shipped)", floorRedis, ""),
		fromWrk("Edge, Redis (hot cache off), beside the Redis floor", edgeRedisFloored, ""),
		fromWrk("Edge, Redis (hot cache off)", edgeRedis, ""),
		fromWrk("Proxied (backend, Redis hit)", proxied, ""),
		fromWrk("Edge, Redis, second pair (hot cache off)", edgeRedis2, ""),
		fromWrk("Edge, Redis through Sentinel (hot cache off)", edgeSentinel, ""),
		fromWrk("Ceiling, same paths as the mix", ceilingMix, ""),
		fromWrk("Realistic mix (Zipf, 3 % unknown)", mixed, "errors are the expected 404s of unknown codes"),
		fromWrk("Ceiling, same paths as the storm", ceilingStorm, ""),
		fromWrk("Unknown-code storm (random code-shaped paths)", stormed, "errors are the 404s of the unknown codes"),
		fromWrk("Create (POST /api/shorten), Postgres durable", create, ""),
		{Name: fmt.Sprintf("pgbench, same INSERT, %d connections, durable", clients), RPS: tps, P50MS: latency, Note: "p50 column: pgbench's average latency"},
		fromWrk("Ceiling with entrypoint metrics (KURZ_TRAEFIK_METRICS=entrypoints)", metered[0], ""),
		fromWrk("Ceiling with router and service metrics too (KURZ_TRAEFIK_METRICS=all)", metered[1], ""),
	}
	res.IdleTraefikRSSMB = b.idleRSS
	res.LoadedTraefikRSSMB = [2]float64{edgeHotRSS, ceilingRSS}
	res.TraefikRSSMB = rssMB(b.stack.Traefik.Pid())
	res.CeilingTraefikRSSMB = rssMB(b.ceiling.Pid())
	res.BackendRSSMB = rssMB(b.stack.Backends[0].Pid())

	ratio := func(a, b float64) float64 { return a / b }
	of := func(a, b wrkResult) string { return fmt.Sprintf(" (%.0f / %.0f)", a.rps(), b.rps()) }
	res.Targets = []target{
		with(check("Edge, hot, shipped defaults ≥ 0.85 × bare ceiling (req/s)", ratio(edgeHot.rps(), ceiling.rps()), 0.85, true), of(edgeHot, ceiling)),
		with(check("Edge, hot ≥ 0.90 × ceiling with the same observability (req/s; both without metrics, as shipped; visit analytics on)", ratio(edgeHot.rps(), ceiling.rps()), 0.90, true), of(edgeHot, ceiling)),
		check("Edge, hot p99 ≤ 1.5 × ceiling p99", ratio(float64(edgeHot.P99US), float64(ceiling.P99US)), 1.5, false),
		with(check("Edge, hot ≥ 0.95 × the map floor (req/s)", ratio(edgeHotFloored.rps(), floorMap.rps()), 0.95, true), of(edgeHotFloored, floorMap)),
		with(check("Edge, Redis ≥ 0.90 × the Redis floor (req/s)", ratio(edgeRedisFloored.rps(), floorRedis.rps()), 0.90, true), of(edgeRedisFloored, floorRedis)),
		with(check("Edge, Redis ≥ 1.8 × proxied (req/s)", ratio(edgeRedis.rps(), proxied.rps()), 1.8, true), of(edgeRedis, proxied)),
		with(check("Edge, Redis ≥ 0.60 × ceiling (req/s)", ratio(edgeRedis.rps(), ceiling.rps()), 0.60, true), of(edgeRedis, ceiling)),
		with(check("Edge, Redis through Sentinel ≥ 0.90 × Edge, Redis (req/s, within noise)", ratio(edgeSentinel.rps(), edgeRedis2.rps()), 0.90, true), of(edgeSentinel, edgeRedis2)),
		with(check("Realistic mix ≥ 0.80 × ceiling (req/s, same paths)", ratio(mixed.rps(), ceilingMix.rps()), 0.80, true), of(mixed, ceilingMix)),
		with(check("Realistic mix with visit analytics on ≥ 0.70 × ceiling (req/s, same paths)", ratio(mixed.rps(), ceilingMix.rps()), 0.70, true), of(mixed, ceilingMix)),
		{Name: "One backend folds visits faster than the edge's highest redirect rate (edge hot)", Want: fmt.Sprintf("> %.0f visits/s", edgeHot.rps()),
			Got: fmt.Sprintf("%.0f visits/s", res.FoldVisitsPerSecond), Met: res.FoldVisitsPerSecond > edgeHot.rps()},
		{Name: "No visit dropped by a full stream during the run", Want: "0", Got: strconv.FormatInt(res.DroppedVisits, 10), Met: res.DroppedVisits == 0},
		with(check("Unknown-code storm ≥ 0.80 × ceiling (req/s, same paths)", ratio(stormed.rps(), ceilingStorm.rps()), 0.80, true), of(stormed, ceilingStorm)),
		{Name: "Unknown-code storm: Postgres lookups per 1,000 requests < 1", Want: "< 1", Got: fmt.Sprintf("%.1f", res.StormQueriesPer1000), Met: res.StormQueriesPer1000 < 1},
		with(check("Create ≥ 0.50 × pgbench, both on a durable Postgres (req/s)", ratio(create.rps(), tps), 0.50, true), fmt.Sprintf(" (%.0f / %.0f)", create.rps(), tps)),
		checkMB("Backend replica ≤ 50 MB resident", res.BackendRSSMB, 50),
		checkMB("Plugin adds ≤ 20 MB to Traefik (after the same load)", edgeHotRSS-ceilingRSS, 20),
	}
	return res, nil
}

func check(name string, got, want float64, atLeast bool) target {
	t := target{Name: name, Got: fmt.Sprintf("%.2f ×", got)}
	if atLeast {
		t.Want, t.Met = fmt.Sprintf("≥ %.2f ×", want), got >= want
	} else {
		t.Want, t.Met = fmt.Sprintf("≤ %.2f ×", want), got <= want
	}
	return t
}

func checkMB(name string, got, limit float64) target {
	return target{Name: name, Want: fmt.Sprintf("≤ %.0f MB", limit), Got: fmt.Sprintf("%.1f MB", got), Met: got <= limit}
}

// with adds what a target's figure divides to its Got column.
func with(t target, numbers string) target {
	t.Got += numbers
	return t
}

// postgresLookups sums the Postgres lookups of links (redirect misses) of every replica.
func (b *bench) postgresLookups() float64 {
	var n float64
	for _, r := range b.stack.Backends {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.MetricsPort))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "kurz_postgres_query_duration_seconds_count{") &&
				(strings.Contains(line, `op="find_by_code"`) || strings.Contains(line, `op="read_link_replica"`)) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				n += v
			}
		}
	}
	return n
}

// failover SIGKILLs the Redis master and times the Sentinel's promotion and
// the edge's first answer from the new master (the route passes misses to a
// dead service, so only the edge answers 301).
func (b *bench) failover(ctx context.Context) (promoted, edgeBack time.Duration, err error) {
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: b.sentinel.Addr()})
	defer sc.Close()
	client := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	old := b.stack.Redis.Addr()
	killed := time.Now()
	b.stack.Redis.Kill()
	for promoted == 0 || edgeBack == 0 {
		if time.Since(killed) > time.Minute || ctx.Err() != nil {
			return 0, 0, fmt.Errorf("no failover within a minute (promoted after %s)", promoted)
		}
		if addr, err := sc.GetMasterAddrByName(ctx, "kurz").Result(); promoted == 0 && err == nil && net.JoinHostPort(addr[0], addr[1]) != old {
			promoted = time.Since(killed)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", b.stack.Traefik.URL()+"/"+b.codes[1], nil)
		req.Host = "edge-sentinel.bench"
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if promoted != 0 && res.StatusCode == http.StatusMovedPermanently {
				edgeBack = time.Since(killed)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return promoted, edgeBack, nil
}

// redisReads is Redis's count of read events: one per round trip a client makes.
func redisReads(ctx context.Context, rc *goredis.Client) int64 {
	info, err := rc.Info(ctx, "stats").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_reads_processed:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func rssMB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", model, runtime.NumCPU(), runtime.Version())
}
