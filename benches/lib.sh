# shellcheck shell=bash
# Sourced first by every benchmark: strict mode, the repository root as the
# working folder, what the tests use installed, and the release build as
# $bin. A benchmark that also needs the front end runs scripts/build-site.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null 2>&1
. scripts/env.sh
# DOCKYARD_BENCH_PREBUILT=1 measures the release binary already built
# (a second store or repository on the same build).
[ -n "${DOCKYARD_BENCH_PREBUILT:-}" ] || cargo build --quiet --release -p dockyard
bin="$CARGO_TARGET_DIR/release/dockyard"
export bin
