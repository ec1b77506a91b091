#!/usr/bin/env bash
# Runs the benchmarks recorded in docs/BENCHMARKS.md and keeps their raw output in
# target/bench/ (one file per command). Needs PostgreSQL for the service's PostgreSQL rows
# (started here with .ci/postgres.sh when XINYONG_TEST_POSTGRES is unset and we are root).
#
#   scripts/bench.sh            # everything below (about 25 minutes on 2 cores)
#   scripts/bench.sh sim        # only the simulator rows
#   scripts/bench.sh serve      # only the service rows
#   scripts/bench.sh china      # the China-scale milestones: 100 M × 365 days and
#                               # 1.4 billion × 3 days (about 50 minutes; 16 GiB free)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
out=target/bench
mkdir -p "$out"
cargo build --release -p xinyong
x=target/release/xinyong

run() { # run NAME COMMAND...: prints and keeps the output
    local name=$1; shift
    echo "== $name: $*" | tee "$out/$name.txt"
    { /usr/bin/time -v "$@" 2>&1; } | tee -a "$out/$name.txt"
}

{ uname -a; lscpu | grep -E 'Model name|^CPU\(s\)'; free -g | head -2; uptime; } > "$out/machine.txt"

if [[ $what == all || $what == sim ]]; then
    run bandwidth "$x" bench bandwidth
    run sim-100k "$x" bench sim --scenario default --no-floor
    run sim-10M "$x" bench sim --scenario china-scale --citizens 10000000 --days 365
    run sim-100M "$x" bench sim --scenario china-scale --citizens 100000000 --days 10
fi

if [[ $what == china ]]; then
    run sim-100M-year "$x" bench sim --scenario china-scale --citizens 100000000 --days 365
    run sim-china-3days "$x" bench sim --scenario china-scale --days 3
fi

if [[ $what == all || $what == serve ]]; then
    if [[ -z "${XINYONG_TEST_POSTGRES:-}" ]]; then eval "$(bash .ci/postgres.sh)"; fi
    n=0
    fresh_pg() { # a URL whose search_path is a new, empty schema (each run needs a fresh log)
        n=$((n + 1)); local schema="bench_$(date +%s)_$n"
        psql "$XINYONG_TEST_POSTGRES" -qc "CREATE SCHEMA $schema" >&2
        echo "$XINYONG_TEST_POSTGRES?options=-c%20search_path%3D$schema"
    }
    run serve-sqlite "$x" bench serve --spawn sqlite --duration 10
    run serve-sqlite-paced "$x" bench serve --spawn sqlite --mode single --rate 1000 --duration 10
    run serve-sqlite-naive "$x" bench serve --spawn sqlite --commit naive --duration 10
    run serve-postgres "$x" bench serve --spawn "$(fresh_pg)" --duration 10
    run serve-postgres-paced "$x" bench serve --spawn "$(fresh_pg)" --mode single --rate 1000 --duration 10
    run serve-postgres-naive "$x" bench serve --spawn "$(fresh_pg)" --commit naive --duration 10
fi
echo "raw output in $out/"
