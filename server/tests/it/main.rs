//! Whole-process tests of the `dockyard` binary and the server library
//! against real parts: the corpus, docker-pkg, registries, engines, a
//! browser elsewhere. One test binary (each would link the whole server).

mod common;
mod engines;
mod regsupport;

mod architecture;
mod build;
mod cli;
mod fleet;
mod hostile;
mod lifecycle;
mod lint;
mod registry;
mod render_corpus;
mod render_docker_pkg;
mod review;
mod service;
mod stores;
mod trust;
mod workflow;
