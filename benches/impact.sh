#!/usr/bin/env bash
# Benchmark: `dockyard impact` over the real history of the Wikimedia
# catalog. A git repository is made from the corpus snapshots in date
# order, with the changes between two snapshots replayed one image folder
# per commit (then config.yaml and jjb/); impact runs on every commit
# against its parent, with both revisions rendered, in the repository as
# committed (loose objects) and packed (as a clone). Prints how many
# changes were classified, the classes found, and the time per change.
#   benches/impact.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 tools/replay_history.py ../shared/corpus "$work/repo" "$bin"
