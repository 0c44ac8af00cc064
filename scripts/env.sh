# shellcheck shell=bash
# Shared paths for the scripts (sourced). Build output and installed tools
# live outside the clone so that repeated runs are incremental; both are
# created from nothing when absent.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/dockyard/target}
export TOOLS=${DOCKYARD_TOOLS:-$HOME/.cache/dockyard/tools}
export PATH="$TOOLS/bin:$TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export DOCKER_PKG_PYTHON=${DOCKER_PKG_PYTHON:-$TOOLS/docker-pkg/bin/python}
