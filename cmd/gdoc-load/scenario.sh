#!/bin/bash
# scenario.sh runs one load scenario against a fresh G-Doc server and stops
# it again (docs/performance.md lists the scenarios).
#
#   cmd/gdoc-load/scenario.sh <label> [perf] -- <gdoc-load flags>
#
# The server (GDOC_BIN, default bin/gdoc) listens on 127.0.0.1 on a random
# port with a fresh DATA_DIR (SQLite, synchronous=FULL), AUTH_RATE_LIMIT=0,
# the WebSocket admission caps and REST write limit off (the generator opens
# thousands of connections from one address for a few accounts) and a random
# SECRET_KEY; SERVER_ENV adds variables (e.g. GOGC=10 or
# MAX_BODY_BYTES=4194304). The load generator is GDOC_LOAD_BIN (default: go
# run ./cmd/gdoc-load). "perf" also records a CPU profile of the server
# with perf(1) (PERF_DELAY seconds in, for PERF_SECS seconds) to
# <label>.perf.data. The machine's load average is printed before and after:
# re-run when it was busy. For -mode soak the server also gets
# METRICS_ADDR=127.0.0.1:0 (a free port, read back from its log) and
# PPROF=true, and the generator -metrics-url.
set -u
label=$1
shift
prof=""
if [ "${1:-}" = perf ]; then prof=1; shift; fi
[ "${1:-}" = "--" ] && shift
bin=${GDOC_BIN:-bin/gdoc}
load=${GDOC_LOAD_BIN:-"go run ./cmd/gdoc-load"}
port=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
soak=""
for a in "$@"; do case $a in -mode=soak | --mode=soak) soak=1 ;; esac; done
prev=""
for a in "$@"; do [ "$a" = soak ] && { [ "$prev" = -mode ] || [ "$prev" = --mode ]; } && soak=1; prev=$a; done
metrics_env=""
[ -n "$soak" ] && metrics_env="METRICS_ADDR=127.0.0.1:0 PPROF=true"
key=$(head -c 36 /dev/urandom | base64 | tr -d '/+=' | head -c 48)
HOST=127.0.0.1 PORT=$port DATA_DIR=$dir AUTH_RATE_LIMIT=0 REST_WRITE_RATE_LIMIT=0 \
	WS_MAX_CONNECTIONS_PER_IP=0 WS_MAX_CONNECTIONS_PER_USER=0 WS_HANDSHAKES_PER_IP=0 WS_HANDSHAKES_PER_USER=0 \
	SECRET_KEY=$key LOG_LEVEL=${LOG_LEVEL:-info} \
	env $metrics_env ${SERVER_ENV:-} "$bin" >"$dir/server.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
extra=()
if [ -n "$soak" ]; then
	for _ in $(seq 100); do
		murl=$(grep -o 'metrics on http://127\.0\.0\.1:[0-9]*' "$dir/server.log" | head -1 | sed 's/^metrics on //')
		[ -n "$murl" ] && break
		sleep 0.1
	done
	extra=(-metrics-url "$murl")
fi
echo "== $label $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$prof" ]; then
	(sleep "${PERF_DELAY:-8}"; timeout "${PERF_SECS:-10}" perf record -F 499 -g -p $spid -o "$label.perf.data" >/dev/null 2>&1) &
	ppid=$!
fi
$load -url "http://127.0.0.1:$port" -server-pid $spid "${extra[@]}" "$@"
rc=$?
[ -n "$prof" ] && wait $ppid
echo "load rc=$rc; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
