# kurz: `make run` starts the whole stack locally, `make test` runs every test.
SHELL := /bin/bash
GO    ?= go

.PHONY: run run-ha keys import test test-go test-yaegi test-deploy compose-test k8s docs bench fuzz soak deps deps-test traefik build clean

## run: install Redis/PostgreSQL if missing, build, start Redis, Postgres, 3 backends and Traefik (Ctrl-C stops)
run: deps traefik build
	./bin/kurz-stack

## run-ha: the same with 3 Redis and 3 Sentinels, a Postgres streaming replica and two Traefiks
run-ha: deps traefik build
	./bin/kurz-stack ha

## test: unit, integration, Yaegi, end-to-end and browser tests against real servers and the pinned Traefik
test: deps-test traefik test-yaegi test-go test-deploy compose-test

test-go:
	KURZ_TRAEFIK_BIN=$(CURDIR)/bin/traefik $(GO) test -count=1 -p 2 -timeout 20m ./...

test-yaegi:
	scripts/yaegi-test.sh

# deploy/ is a module of its own: Helm and the Kubernetes API stay out of kurz's.
test-deploy:
	cd deploy && KURZ_TRAEFIK_BIN=$(CURDIR)/bin/traefik $(GO) test -count=1 -timeout 10m ./...

## compose-test: docker-compose.yml for real, with images built here (installs docker.io and starts dockerd when root; see docs/docker.md)
compose-test:
	scripts/compose-test.sh

## k8s: render the Helm chart offline (default and HA-off values) into out/k8s/, and the plugin's checksum into deploy/traefik-values.yaml
k8s:
	cd deploy && $(GO) run ./cmd/render $(CURDIR)/out/k8s

## docs: write the generated tables of docs/configuration.md (the backends' settings, the edge's options)
docs:
	$(GO) test -count=1 -run 'TestSettings/OKDocsAreGenerated' ./backend/cmd/kurz -update
	$(GO) test -count=1 -run 'TestConfigurationReference/OKEdgeOptionsAreGenerated' . -update

## fuzz: run each fuzz target for FUZZTIME (default 1m); their seed corpora run in make test
FUZZTIME ?= 1m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadReply$$' -fuzztime $(FUZZTIME) -parallel 1 ./plugin/
	$(GO) test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME) -parallel 1 ./backend/
	$(GO) test -run '^$$' -fuzz '^FuzzJSONRequests$$' -fuzztime $(FUZZTIME) -parallel 1 ./backend/http/
	$(GO) test -run '^$$' -fuzz '^FuzzClassifyPacked$$' -fuzztime $(FUZZTIME) -parallel 1 ./backend/

## keys: manage API keys in make run's database, e.g. make keys ARGS="create --name ci --role admin"
KURZ_POSTGRES_PORT ?= 15432
keys: build
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:$(KURZ_POSTGRES_PORT)/kurz?sslmode=disable} ./bin/kurz keys $(ARGS)

## import: import another shortener's export into make run's stack, e.g. make import ARGS="shlink export.json" (docs/importing.md)
KURZ_REDIS_PORT ?= 16379
import: build
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:$(KURZ_POSTGRES_PORT)/kurz?sslmode=disable} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:$(KURZ_REDIS_PORT)/0} KURZ_CODE_SECRET=$${KURZ_CODE_SECRET:-$$(cat .state/code-secret)} \
	KURZ_PUBLIC_URL=$${KURZ_PUBLIC_URL:-http://127.0.0.1:8000} KURZ_DOMAINS=$${KURZ_DOMAINS:-127.0.0.1,localhost} ./bin/kurz import $(ARGS)

## soak: 30 minutes of mixed traffic with a fault every 1-3 minutes, as root (SOAK=30m; SOAK=3m for the short run)
SOAK ?= 30m
soak: deps-test traefik
	CI=true KURZ_SOAK_DURATION=$(SOAK) KURZ_TRAEFIK_BIN=$(CURDIR)/bin/traefik $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 2h ./e2e/partition/

## bench: the benchmark table (see docs/benchmarks.md)
bench: deps traefik build
	$(GO) run ./cmd/kurz-bench

deps:
	scripts/install-deps.sh

deps-test:
	KURZ_BROWSER_TESTS=1 scripts/install-deps.sh

## traefik: build the pinned Traefik once into bin/ (~15 minutes cold)
traefik:
	scripts/build-traefik.sh >/dev/null

build:
	$(GO) build -o bin/kurz ./backend/cmd/kurz
	$(GO) build -o bin/kurz-stack ./cmd/kurz-stack

clean:
	rm -rf .state bin/kurz bin/kurz-stack
