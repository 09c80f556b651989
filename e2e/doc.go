// Package e2e tests kurz end to end: requests go through the pinned Traefik
// binary with the edge plugin loaded, to backend replicas, Redis and Postgres,
// all real processes started by internal/stack.
package e2e
