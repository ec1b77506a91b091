#!/usr/bin/env bash
# End-to-end tests of the web app (issue 8): the real `xinyong serve`, driven in headless
# Chromium (Debian's /usr/bin/chromium) by npm's playwright-core. See docs/web.md.
#
#   scripts/test-web.sh                 # npm ci, build the binary (incrementally), run the tests
#   CHROMIUM=/path/to/chromium ...      # another Chromium
#   XINYONG_BIN=target/release/xinyong  # another server binary (then nothing is built)
#   NODE_TEST_ARGS='--test-name-pattern=citizen' ...
#
# Screenshots of every screen land in tests/web/screenshots/ (and docs/img/web-citizen.png).
# With CI set, a missing Chromium, Node.js or npm fails; otherwise the tests skip with the
# reason printed. `.ci/run` installs Chromium (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { echo "test-web.sh: $*" >&2; }
in_ci() { [[ -n "${CI:-}" ]]; }
missing() { # missing WHAT: fail in CI, skip otherwise
    if in_ci; then say "ERROR: $1"; exit 1; fi
    say "SKIPPED: $1"
    exit 0
}

chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x "$chromium" ]] || missing "no Chromium at $chromium (apt-get install chromium, or set CHROMIUM)"
command -v node >/dev/null 2>&1 || missing "no node on PATH (apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || missing "no npm on PATH (apt-get install npm)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
    || missing "Node.js $(node --version) is older than 18"

# playwright-core only (no browser download: the tests drive Debian's Chromium). npm's
# cache makes a repeated run work offline.
say "npm ci (tests/web)"
(cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline >&2)

if [[ -z "${XINYONG_BIN:-}" ]]; then
    say "cargo build -p xinyong"
    cargo build -p xinyong --locked >&2
    export XINYONG_BIN="$root/target/debug/xinyong"
fi
export CHROMIUM="$chromium"

say "node --test tests/web/web.test.mjs (Chromium: $("$chromium" --version 2>/dev/null | head -1))"
cd tests/web
# shellcheck disable=SC2086 # NODE_TEST_ARGS is a list of arguments
node --test --test-concurrency=1 ${NODE_TEST_ARGS:-} web.test.mjs
say "web app tests passed; screenshots in tests/web/screenshots/"
