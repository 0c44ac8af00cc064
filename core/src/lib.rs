//! dockyard's pure domain core: the docker-pkg catalog (config, changelogs,
//! control files, templates), its dependency graph and Debian versions.
//! Nothing here talks to Docker, a registry, a database or a browser.

pub mod catalog;
pub mod changelog;
pub mod config;
pub mod context;
pub mod control;
pub mod diag;
pub mod dockerignore;
pub mod files;
pub mod graph;
pub mod highlight;
pub mod impact;
pub mod jinja_compat;
pub mod jjb;
pub mod jobs;
pub mod label;
pub mod layout;
pub mod lifecycle;
pub mod limits;
pub mod lint;
pub mod ops;
pub mod patch;
pub mod pins;
pub mod plan;
pub mod provenance;
pub mod pyfmt;
pub mod pyobj;
pub mod render;
pub mod schedule;
pub mod shell;
pub mod update;
pub mod version;
pub mod yaml;

pub use diag::Diagnostic;
