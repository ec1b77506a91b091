#!/usr/bin/env bash
# Runs every test of xinyong, after setting up what the tests need on a fresh Debian 12
# machine: PostgreSQL (Debian's package, a throwaway cluster on 127.0.0.1:55432) and
# Chromium (Debian's package) for the browser tests. `.ci/run` calls exactly this.
#
#   scripts/test.sh            # everything
#
# Outside CI, a part whose service cannot be provided (not root, no network) is skipped
# with a printed reason; with CI set, it fails instead: CI never skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*" >&2; }
in_ci() { [[ -n "${CI:-}" ]]; }
need() { # need WHAT REASON: fail in CI, warn otherwise
    if in_ci; then say "ERROR: $1: $2"; exit 1; else say "WARNING: $1 unavailable ($2); its tests will skip"; fi
}
as_root() { [[ "$(id -u)" == 0 ]]; }
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >&2 || { apt-get update -q >&2 && apt-get install -y -q "$@" >&2; }
}

# PostgreSQL for the store and service tests.
if [[ -z "${XINYONG_TEST_POSTGRES:-}" ]]; then
    if exports=$(bash .ci/postgres.sh); then
        eval "$exports"
    else
        need "PostgreSQL" "could not install or start it (see above)"
    fi
fi

# Chromium for the report and web app tests.
if [[ ! -x /usr/bin/chromium ]]; then
    if as_root && apt_install chromium; then
        say "installed Debian's chromium"
    else
        need "Chromium" "apt-get install chromium failed or not root"
    fi
fi

# Node.js and npm for the web app's browser tests (playwright-core drives Debian's Chromium).
if ! command -v npm >/dev/null 2>&1; then
    if as_root && apt_install nodejs npm; then
        say "installed Debian's nodejs and npm"
    else
        need "Node.js/npm" "apt-get install nodejs npm failed or not root"
    fi
fi

say "cargo test (workspace)"
# A clean clone builds once: incremental caches would only take disk (~2.4 GB) there.
if in_ci; then export CARGO_INCREMENTAL=0; fi
cargo test --workspace --locked --no-fail-fast

say "Python package (crates/python): build into a virtualenv, pytest"
scripts/test-python.sh

say "web app (tests/web): Playwright in Chromium"; scripts/test-web.sh

say "all tests passed"
