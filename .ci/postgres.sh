#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1:55432 for the store tests and prints the lines to
# evaluate:
#
#     eval "$(bash .ci/postgres.sh)"     # sets XINYONG_TEST_POSTGRES (and XINYONG_TEST_POSTGRES_DIR)
#
# * Installs Debian's `postgresql` package (15 on Debian 12) with apt-get if it is absent
#   (needs root).
# * If something on the port already answers SQL as user postgres, reuses it.
# * Otherwise creates a cluster in a fresh temporary directory (trust authentication, loopback
#   only, default durability settings: fsync on, synchronous_commit on) and starts it.
# * Prints nothing but `export …` lines on stdout; all chatter goes to stderr. Exits non-zero,
#   loudly, if it cannot provide a working server: CI must not skip the PostgreSQL tests.
#
# Stop the server with the command it prints on stderr. XINYONG_PG_PORT overrides the port.
set -euo pipefail

port="${XINYONG_PG_PORT:-55432}"
url="postgres://postgres@127.0.0.1:${port}/postgres"

say() { echo "postgres.sh: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

find_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && echo "$dir"
}

answers() {
    psql "$url" -w -X -A -t -q -c 'select 1' 2>/dev/null | grep -qx 1
}

print_exports() {
    echo "export XINYONG_TEST_POSTGRES=${url}"
    echo "export XINYONG_TEST_POSTGRES_DIR=${1}"
}

bin=$(find_bin || true)
if [[ -z "$bin" ]]; then
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed and this is not root: install the 'postgresql' package, or run as root"
    say "installing PostgreSQL from Debian's packages (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; } \
        || die "apt-get install postgresql failed"
    bin=$(find_bin || true)
    [[ -n "$bin" ]] || die "the postgresql package is installed but no /usr/lib/postgresql/*/bin/initdb was found"
fi
command -v psql >/dev/null || die "psql is not on PATH (package postgresql-client)"

if answers; then
    say "reusing the PostgreSQL server that answers on 127.0.0.1:${port}"
    print_exports ""
    exit 0
fi
if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
    die "something listens on 127.0.0.1:${port} but does not answer SQL as user postgres: free the port or set XINYONG_PG_PORT"
fi

dir=$(mktemp -d /tmp/xinyong-pg.XXXXXX)
as_owner=()
if [[ "$(id -u)" == 0 ]]; then
    # initdb refuses to run as root: the cluster belongs to the postgres user.
    id postgres >/dev/null 2>&1 || die "there is no 'postgres' user to own the cluster"
    chown postgres "$dir"
    as_owner=(runuser -u postgres --)
fi

say "creating a throwaway cluster in ${dir} with ${bin}"
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed (log above)"; }

say "starting it on 127.0.0.1:${port}"
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=200" >&2 \
    || { tail -n 30 "$dir/log" >&2 || true; die "the server did not start (log above)"; }

for _ in $(seq 1 60); do
    if answers; then
        say "ready; stop it with: ${as_owner[*]} $bin/pg_ctl -D $dir/data -m fast -w stop"
        print_exports "$dir"
        exit 0
    fi
    sleep 0.5
done
tail -n 30 "$dir/log" >&2 || true
die "the server started but does not answer on 127.0.0.1:${port} after 30 s (log above)"
