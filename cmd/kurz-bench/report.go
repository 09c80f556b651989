package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// report prints the markdown table and writes it, with the JSON, under dir.
func report(stdout io.Writer, dir string, res *results) error {
	var md strings.Builder
	fmt.Fprintf(&md, "Run %s on %s; %s; total %s.\n\n", res.Date, res.Machine, res.Load, res.Total)
	md.WriteString("| scenario | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|\n")
	for _, s := range res.Scenarios {
		p99 := fmt.Sprintf("%.2f", s.P99MS)
		if s.P99MS == 0 {
			p99 = "—"
		}
		name := s.Name
		if s.Note != "" {
			name += " ¹"
		}
		fmt.Fprintf(&md, "| %s | %.0f | %.2f | %s | %d |\n", name, s.RPS, s.P50MS, p99, s.Errors)
	}
	md.WriteString("\n| target | wanted | got | |\n|---|---|---|---|\n")
	for _, t := range res.Targets {
		mark := "met"
		if !t.Met {
			mark = "**missed**"
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, mark)
	}
	fmt.Fprintf(&md, "\nResident memory of Traefik with / without the plugin: %.1f / %.1f MB before any load, %.1f / %.1f MB after the edge-hot / ceiling scenario. ",
		res.IdleTraefikRSSMB[0], res.IdleTraefikRSSMB[1], res.LoadedTraefikRSSMB[0], res.LoadedTraefikRSSMB[1])
	fmt.Fprintf(&md, "After every scenario (the plugin's Traefik also proxied): %.1f / %.1f MB; one backend replica %.1f MB. "+
		"Redis read events (round trips) per edge-served redirect, hot cache off: %.3f.\n",
		res.TraefikRSSMB, res.CeilingTraefikRSSMB, res.BackendRSSMB, res.RedisReadsPerRequest)
	fmt.Fprintf(&md, "\nTraefik's Prometheus metrics (off as shipped) cost %.0f %% of the ceiling's rate by entrypoint, %.0f %% with router and service labels; "+
		"the unknown-code storm made %.1f Postgres lookups per 1,000 requests.\n", res.MetricsCost[0]*100, res.MetricsCost[1]*100, res.StormQueriesPer1000)
	fmt.Fprintf(&md, "\nVisit analytics (on throughout): one backend folded 200,000 queued visits at %.0f visits/s; a full stream refused %d visits during the run.\n",
		res.FoldVisitsPerSecond, res.DroppedVisits)
	fmt.Fprintf(&md, "\nRedis master SIGKILLed at the end: a replica promoted by Sentinel after %.2f s; the edge answered from it after %.2f s.\n",
		res.FailoverPromotedS, res.FailoverEdgeBackS)
	for _, s := range res.Scenarios {
		if s.Note != "" {
			fmt.Fprintf(&md, "\n¹ %s: %s.", s.Name, s.Note)
		}
	}
	md.WriteString("\n")
	fmt.Fprint(stdout, "\n"+md.String())

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), js, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten to %s\n", filepath.Join(dir, "results.{json,md}"))
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644)
}
