#!/usr/bin/env bash
# Measures the cors handler against its peers in one run and writes
# BENCHMARKS.md and the README's performance figures at the repository root:
#   1. Go benchmarks: this module's handler, rs/cors and go-chi/cors on the
#      same policy and requests (bench/*_test.go), compared with benchstat;
#   2. BenchmarkPolicySize (root module): a policy of 101,000 origins
#      against one of 520;
#   3. a load test: Caddy built with this module on loopback, eight sites
#      (bare respond, the header + @preflight recipe, cors, cors with
#      cross_origin_protection, and the headers cors sends set statically
#      by `header`; then cors and those static headers again behind the
#      headers of a real API response; then cors with its origins from an
#      `origin_source http`, answered from its cache) driven by wrk in
#      interleaved rounds, for actual requests and for preflights;
#   4. bench/cmd/report: the tables, the ratios and two SVG charts
#      (bench/benchmarks-handler.svg, bench/benchmarks-load.svg).
# Takes about 12 minutes on 2 cores; BENCHMARKS.md says how long its run took. Raw results stay
# in bench/out/.
#
# Knobs (environment): COUNT, BENCHTIME, ROUNDS, DURATION, CONNECTIONS,
# PORT_BASE (nine consecutive loopback ports from PORT_BASE+1: eight sites
# and the ask service of the sourced one).
set -euo pipefail

cd "$(dirname "$0")"
BENCH=$PWD
ROOT=$(cd .. && pwd)
OUT=$BENCH/out
COUNT=${COUNT:-8}
BENCHTIME=${BENCHTIME:-500ms}
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-4s}
CONNECTIONS=${CONNECTIONS:-32}
PORT_BASE=${PORT_BASE:-18180}
# benchstat pinned to the golang.org/x/perf version in bench/go.mod, so that
# every run compares with the same tool.
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

rm -rf "$OUT"
mkdir -p "$OUT/wrk"
: >"$OUT/commands.txt"

# note records a command, as run from bench/, for BENCHMARKS.md.
note() { printf '%s\n' "$*" >>"$OUT/commands.txt"; }
env_line() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/env.txt"; }

if ! command -v wrk >/dev/null; then
	echo "run.sh: installing wrk" >&2
	apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

# Pin Caddy and wrk to different cores when there are at least two, so that
# they do not steal each other's time slices and the ratios stay stable.
PIN_CADDY=() PIN_WRK=() CADDY_PROCS=$(nproc) PINNING="unpinned"
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_CADDY=(taskset -c 0) PIN_WRK=(taskset -c 1) CADDY_PROCS=1
	PINNING="Caddy on core 0, wrk on core 1"
fi

env_line date "$(date -u '+%Y-%m-%d %H:%M UTC')"
env_line commit "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!BENCHMARKS.md' ':!bench/*.svg' || echo ' (with uncommitted changes)')"
env_line cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
env_line cores "$(nproc)"
env_line memory "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
env_line kernel "$(uname -sr)"
env_line go "$(go env GOVERSION) $(go env GOOS)/$(go env GOARCH)"
env_line wrk "$(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
env_line load_start "$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== agreement: every library gives each case the same outcome" >&2
note "go test -count=1 ."
go test -count=1 . >&2

echo "== Go benchmarks ($COUNT interleaved rounds, benchtime=$BENCHTIME)" >&2
# One test binary, run COUNT times over all cases and libraries rather than
# -count COUNT per benchmark: a burst of background load then spreads over
# every library instead of landing on one.
note "go test -c -o out/bench.test ."
go test -c -o "$OUT/bench.test" .
note "for i in \$(seq $COUNT); do out/bench.test -test.run '^\$' -test.bench . -test.benchmem -test.benchtime $BENCHTIME; done > out/bench.txt"
for i in $(seq "$COUNT"); do
	echo "round $i/$COUNT" >&2
	"$OUT/bench.test" -test.run '^$' -test.bench . -test.benchmem -test.benchtime "$BENCHTIME"
done >"$OUT/bench.txt"

echo "== benchstat" >&2
# Deltas are against the first column: rs/cors in one table, go-chi/cors in
# the other.
note "go run $BENCHSTAT -col '/lib@(rs-cors caddy-cors go-chi-cors)' out/bench.txt > out/benchstat-rs.txt"
go run "$BENCHSTAT" -col '/lib@(rs-cors caddy-cors go-chi-cors)' "$OUT/bench.txt" >"$OUT/benchstat-rs.txt"
note "go run $BENCHSTAT -col '/lib@(go-chi-cors caddy-cors)' out/bench.txt > out/benchstat-chi.txt"
go run "$BENCHSTAT" -col '/lib@(go-chi-cors caddy-cors)' "$OUT/bench.txt" >"$OUT/benchstat-chi.txt"

echo "== policy size: 101,000 origins against 520 ($COUNT runs)" >&2
note "go -C .. test -run '^\$' -bench BenchmarkPolicySize -benchmem -count $COUNT -benchtime $BENCHTIME . > out/policysize.txt"
go -C "$ROOT" test -run '^$' -bench BenchmarkPolicySize -benchmem -count "$COUNT" -benchtime "$BENCHTIME" . >"$OUT/policysize.txt"
note "go run $BENCHSTAT -col /policy out/policysize.txt > out/benchstat-policysize.txt"
go run "$BENCHSTAT" -col /policy "$OUT/policysize.txt" >"$OUT/benchstat-policysize.txt"

echo "== load test" >&2
note "go build -o out/caddy ./cmd/caddy"
go build -o "$OUT/caddy" ./cmd/caddy
env_line caddy "$("$OUT/caddy" version | awk '{print $1}')"

export BARE_PORT=$((PORT_BASE + 1)) RECIPE_PORT=$((PORT_BASE + 2)) CORS_PORT=$((PORT_BASE + 3)) STATIC_PORT=$((PORT_BASE + 4))
export PROTECTED_PORT=$((PORT_BASE + 5)) REALISTIC_STATIC_PORT=$((PORT_BASE + 6)) REALISTIC_CORS_PORT=$((PORT_BASE + 7))
export SOURCED_PORT=$((PORT_BASE + 8)) ASK_PORT=$((PORT_BASE + 9))
declare -A PORT=([bare]=$BARE_PORT [recipe]=$RECIPE_PORT [cors]=$CORS_PORT [static]=$STATIC_PORT [protected]=$PROTECTED_PORT
	[realistic-static]=$REALISTIC_STATIC_PORT [realistic-cors]=$REALISTIC_CORS_PORT [sourced]=$SOURCED_PORT)
sites=(bare recipe static cors protected realistic-static realistic-cors sourced)
for p in "${PORT[@]}" "$ASK_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "run.sh: port $p is in use; set PORT_BASE" >&2
		exit 1
	fi
done

note "BARE_PORT=$BARE_PORT RECIPE_PORT=$RECIPE_PORT CORS_PORT=$CORS_PORT STATIC_PORT=$STATIC_PORT PROTECTED_PORT=$PROTECTED_PORT REALISTIC_STATIC_PORT=$REALISTIC_STATIC_PORT REALISTIC_CORS_PORT=$REALISTIC_CORS_PORT SOURCED_PORT=$SOURCED_PORT ASK_PORT=$ASK_PORT GOMAXPROCS=$CADDY_PROCS ${PIN_CADDY[*]} out/caddy run --config loadtest/Caddyfile --adapter caddyfile"
GOMAXPROCS=$CADDY_PROCS "${PIN_CADDY[@]}" "$OUT/caddy" run --config loadtest/Caddyfile --adapter caddyfile \
	>"$OUT/caddy.log" 2>&1 &
CADDY_PID=$!
trap 'kill "$CADDY_PID" 2>/dev/null || true; wait "$CADDY_PID" 2>/dev/null || true' EXIT

for site in "${sites[@]}"; do
	for _ in $(seq 100); do
		curl -fso /dev/null "http://127.0.0.1:${PORT[$site]}/" && continue 2
		kill -0 "$CADDY_PID" 2>/dev/null || { cat "$OUT/caddy.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "run.sh: $site site did not come up" >&2
	cat "$OUT/caddy.log" >&2
	exit 1
done

# What each site answers, kept for the report, and checked so that the load
# test never measures a site that refuses. The sourced site asks its service
# here, once: the rounds then run on its cache.
ORIGIN=https://app.example.com
for site in "${sites[@]}"; do
	url="http://127.0.0.1:${PORT[$site]}/"
	curl -sS -o /dev/null -D "$OUT/headers-$site-actual.txt" -H "Origin: $ORIGIN" "$url"
	curl -sS -o /dev/null -D "$OUT/headers-$site-preflight.txt" -X OPTIONS -H "Origin: $ORIGIN" \
		-H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: authorization,content-type' "$url"
done
for f in recipe-actual recipe-preflight static-actual cors-actual cors-preflight protected-actual protected-preflight \
	realistic-static-actual realistic-cors-actual realistic-cors-preflight sourced-actual sourced-preflight; do
	if ! grep -qi "^Access-Control-Allow-Origin: $ORIGIN" "$OUT/headers-$f.txt"; then
		echo "run.sh: $f does not grant $ORIGIN:" >&2
		cat "$OUT/headers-$f.txt" >&2
		exit 1
	fi
done
for f in realistic-static-actual realistic-static-preflight realistic-cors-actual realistic-cors-preflight; do
	if ! grep -qi '^X-Ratelimit-Reset: ' "$OUT/headers-$f.txt" || ! grep -qi '^Vary: Accept-Encoding' "$OUT/headers-$f.txt"; then
		echo "run.sh: $f lacks the realistic response headers:" >&2
		cat "$OUT/headers-$f.txt" >&2
		exit 1
	fi
done

wrk_run() { # kind site output
	"${PIN_WRK[@]}" wrk -t1 -c"$CONNECTIONS" -d"$2" -s "loadtest/$1.lua" "http://127.0.0.1:${PORT[$3]}/" >"$4"
}
note "${PIN_WRK[*]} wrk -t1 -c$CONNECTIONS -d$DURATION -s loadtest/{actual,preflight}.lua http://127.0.0.1:{$BARE_PORT,$RECIPE_PORT,$STATIC_PORT,$CORS_PORT,$PROTECTED_PORT,$REALISTIC_STATIC_PORT,$REALISTIC_CORS_PORT,$SOURCED_PORT}/  # $ROUNDS interleaved rounds"
env_line load "wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds; Caddy GOMAXPROCS=$CADDY_PROCS, $PINNING"

# Warm each site up (connections, Go's scheduler, the CPU's caches).
for site in "${sites[@]}"; do
	for kind in actual preflight; do
		wrk_run "$kind" 2s "$site" /dev/null
	done
done

printf 'round\tkind\tsite\trequests_per_sec\tlatency_avg\tnon_2xx\n' >"$OUT/load.tsv"
for round in $(seq "$ROUNDS"); do
	for kind in actual preflight; do
		# Rotate the order each round so that no site always runs first
		# or last (thermal and background-noise drift).
		for i in "${!sites[@]}"; do
			site=${sites[$(((i + round - 1) % ${#sites[@]}))]}
			f="$OUT/wrk/$round-$kind-$site.txt"
			wrk_run "$kind" "$DURATION" "$site" "$f"
			rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
			lat=$(awk '$1 == "Latency" {print $2; exit}' "$f")
			non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$kind" "$site" "$rps" "$lat" "${non2xx:-0}" >>"$OUT/load.tsv"
			echo "round $round $kind $site: $rps req/s" >&2
		done
	done
done

env_line load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
env_line elapsed "$((SECONDS / 60)) min $((SECONDS % 60)) s"

echo "== report" >&2
note "go run ./cmd/report"
go run ./cmd/report -in "$OUT" -md "$ROOT/BENCHMARKS.md" -readme "$ROOT/README.md" -gomod "$BENCH/go.mod" -charts "$BENCH"
echo "wrote $ROOT/BENCHMARKS.md and the README's performance figures" >&2
