# shellcheck shell=bash
# Shared paths for the scripts (sourced). Build output and installed tools
# live outside the clone so that repeated runs are incremental; both are
# created from nothing when absent.
# (Absolute, so that a script may change folder after sourcing this.)
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$HOME/.cache/dockyard/target}")
TOOLS=$(realpath -m "${DOCKYARD_TOOLS:-$HOME/.cache/dockyard/tools}")
export CARGO_TARGET_DIR TOOLS
export PATH="$TOOLS/bin:$TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export DOCKER_PKG_PYTHON=${DOCKER_PKG_PYTHON:-$TOOLS/docker-pkg/bin/python}
