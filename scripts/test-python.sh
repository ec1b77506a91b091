#!/usr/bin/env bash
# Builds the Python package (crates/python, PyO3 + maturin) into a virtualenv and runs its
# tests (pytest crates/python/tests), including the comparison with the CLI's metrics.csv,
# for which it builds the `xinyong` binary too.
#
#   scripts/test-python.sh            # build (incrementally) and test
#   XINYONG_PY_VENV=DIR ...           # another virtualenv (default: target/py-venv)
#   XINYONG_PY_PROFILE=dev ...        # a faster, unoptimized build of the extension
#   PYTEST_ARGS="-k gil" ...          # extra pytest arguments
#
# Idempotent: the virtualenv is reused, and the extension is rebuilt by cargo's incremental
# machinery in target/python (a cold build takes minutes on two cores; a rebuild after no
# change, seconds). With CI set, anything missing fails; otherwise a machine without
# Python 3 or pip skips with the reason printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { echo "test-python.sh: $*" >&2; }
in_ci() { [[ -n "${CI:-}" ]]; }
missing() { # missing WHAT: fail in CI, skip otherwise
    if in_ci; then say "ERROR: $1"; exit 1; fi
    say "SKIPPED: $1"
    exit 0
}

python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || missing "no $python on PATH"
"$python" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null || missing "$python is older than 3.9"
"$python" -m pip --version >/dev/null 2>&1 || missing "$python has no pip"
command -v cargo >/dev/null 2>&1 || missing "no cargo on PATH (Rust builds the extension)"

venv=${XINYONG_PY_VENV:-$root/target/py-venv}
if [[ ! -x "$venv/bin/python" ]]; then
    say "creating the virtualenv $venv"
    "$python" -m venv "$venv" || missing "cannot create a virtualenv (install python3-venv)"
fi
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"

# Build and test requirements. `pip install` of what is already there is quick; a marker
# file skips even that when this list has not changed.
requirements="maturin>=1.16,<2 pytest>=7 pandas>=2 numpy>=1.24 pyarrow>=14 tqdm>=4.60 nbformat>=5 mypy>=1.10"
marker="$venv/.xinyong-requirements"
if [[ ! -f "$marker" || "$(cat "$marker")" != "$requirements" ]]; then
    say "installing $requirements"
    # shellcheck disable=SC2086 # the list is split on purpose
    python -m pip install --quiet $requirements
    echo "$requirements" >"$marker"
fi

# The CLI the tests compare against, built from the same sources (its profile does not
# matter: results are bit-identical across builds). `cargo test --workspace` builds it
# (target/debug/xinyong) for its own process tests, so after scripts/test.sh's cargo test
# this is a no-op; building with other flags or features would compile the workspace again.
if [[ -z "${XINYONG_BIN:-}" ]]; then
    say "cargo test --workspace --no-run (for target/debug/xinyong)"
    cargo test --workspace --locked --no-run --quiet
    export XINYONG_BIN="$root/target/debug/xinyong"
fi

# The extension. `pip install ./crates/python` is the user's command; here the build
# goes through the venv's maturin (no isolated build env to download) into a target dir
# under the ignored target/ that survives between runs (pyproject.toml sets --locked, so
# crates/python/Cargo.lock is authoritative).
profile=${XINYONG_PY_PROFILE:-release}
say "building the xinyong package ($profile profile)"
started=$SECONDS
CARGO_TARGET_DIR="$root/target/python" python -m pip install --quiet --no-build-isolation --force-reinstall --no-deps \
    --config-settings=maturin.build-args="--profile $profile" ./crates/python
say "built in $((SECONDS - started)) s"

say "pytest crates/python/tests"
# From outside crates/python, so that `import xinyong` is the installed package.
# shellcheck disable=SC2086
python -m pytest crates/python/tests -q -p no:cacheprovider ${PYTEST_ARGS:-}
