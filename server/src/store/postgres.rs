//! The PostgreSQL store (comes with the fleet work; see `store/mod.rs`).

use super::{Store, StoreError};
use std::sync::Arc;

/// Opens a PostgreSQL store.
pub fn open(_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Err(StoreError::Other("postgres".into(), "PostgreSQL support is not built into this dockyard yet".into()))
}
