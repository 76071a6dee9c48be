# G-Doc: `make run` serves the app on http://localhost:8000 (embedded SQLite,
# nothing else needed); `make test` runs every test.
GO     ?= go
BIN    := bin/gdoc
NPM    ?= npm

.PHONY: all build web run dev test test-go test-fuzz test-ot-reference test-web test-e2e lint lint-go lint-web bench load clean

all: build

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund

web: web/node_modules/.package-lock.json
	cd web && $(NPM) run build

# The binary embeds web/dist (build tag webdist).
build: web
	$(GO) build -tags webdist -o $(BIN) ./cmd/gdoc

run: build
	./$(BIN)

# Vite on :3000 proxying /api and /ws to a server on :8000.
dev: web/node_modules/.package-lock.json
	$(GO) run ./cmd/gdoc & cd web && $(NPM) run dev

test: test-go test-fuzz test-ot-reference test-web test-e2e

test-go:
	$(GO) test -count=1 -timeout 20m ./...

# Every decoder of outside input, fuzzed for FUZZTIME each (20,000 inputs,
# a few seconds, in CI; by hand e.g. `make test-fuzz FUZZTIME=10m`). CI counts
# inputs rather than seconds: a time-bounded run sometimes ends with Go's own
# "context deadline exceeded" when the deadline falls while a worker is busy,
# which is a failure of the fuzzer, not of the code. `go test` alone already
# replays each target's seeds and testdata/fuzz regression cases; a crash
# found here is written to <package>/testdata/fuzz/<target>/: commit it.
FUZZTIME ?= 20000x
FUZZ_TARGETS := \
	./internal/ot:FuzzParseApply ./internal/ot:FuzzTransform ./internal/ot:FuzzCompose ./internal/ot:FuzzText \
	./internal/config:FuzzParseDotenv ./internal/httpapi:FuzzRESTBodies \
	./internal/ws:FuzzOTDialect ./internal/ws:FuzzSeedDialect

test-fuzz:
	@set -e; for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; name=$${target##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Re-proves internal/ot against the npm reference ot-text-unicode on cases
# generated with a fresh random seed (printed; OT_SEED=<n> reproduces).
test-ot-reference:
	GO=$(GO) sh tools/otref/check.sh

test-web: web/node_modules/.package-lock.json
	cd web && $(NPM) test

# Browser end-to-end tests: the built binary, served on 127.0.0.1, driven by
# playwright-core through Debian's Chromium.
test-e2e: build
	cd web && GDOC_BIN=$(CURDIR)/$(BIN) $(NPM) run e2e

# Go (gofmt, vet, staticcheck) and web (ESLint, see web/eslint.config.js).
lint: lint-go lint-web

lint-go:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

lint-web: web/node_modules/.package-lock.json
	cd web && $(NPM) run lint

# Go benchmarks of the hot paths (OT, storage, the authority).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/ot ./internal/sqlite ./internal/collab ./internal/ws

# The load generator against a running server (see README "Performance").
load:
	$(GO) run ./cmd/gdoc-load $(LOAD_ARGS)

clean:
	rm -rf bin web/dist
