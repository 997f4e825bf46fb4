//! Blob storage for files (attachments) through `object_store`: a local directory by
//! default, in memory for tests. Nodes that share a directory (or, later, an
//! S3-compatible bucket) share the files. Callers seal what they store: the store sees
//! ciphertext only.

use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::StoreError;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("store", &self.store.to_string()).finish()
    }
}

fn failed(e: object_store::Error) -> StoreError {
    StoreError::Blob(e.to_string())
}

impl Blobs {
    /// Files under `dir` (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Blob(format!("{}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(failed)?;
        Ok(Self { store: Arc::new(store) })
    }

    /// Files in memory (tests, benchmarks).
    pub fn memory() -> Self {
        Self { store: Arc::new(object_store::memory::InMemory::new()) }
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store.put(&ObjectPath::from(key), PutPayload::from(bytes)).await.map_err(failed)?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let found = self.store.get(&ObjectPath::from(key)).await.map_err(failed)?;
        Ok(found.bytes().await.map_err(failed)?.to_vec())
    }

    /// Deletes a blob; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
}
