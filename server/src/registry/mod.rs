//! The registry adapter: credentials, an OCI distribution client, and the
//! index built from it (stored in `crate::store`).

pub mod auth;
pub mod client;
pub mod index;

pub use client::{ClientOptions, RegistryClient};
pub use index::{IndexOptions, IndexReport};
