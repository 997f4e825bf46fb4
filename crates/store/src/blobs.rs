//! Blob storage for files (attachments) through `object_store`: a local directory by
//! default (each file and its directory entry fsynced before `put` returns, so a file the
//! user was told is attached survives a crash; on Linux new files are written past the
//! page cache, see [`direct`]), an S3-compatible bucket by configuration,
//! in memory for tests. Nodes that share a directory or a bucket share the files. Callers
//! seal what they store: the store sees ciphertext only.

use std::sync::Arc;

use bytes::Bytes;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use crate::StoreError;

#[cfg(target_os = "linux")]
pub mod direct;

/// Where an S3-compatible bucket is and how to sign in to it; what is `None` comes from the
/// `AWS_*` environment.
#[derive(Clone, Default)]
pub struct S3 {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Access key id and secret.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.credentials.as_ref().map(|_| "…"))
            .finish()
    }
}

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
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(failed)?
            .with_fsync(true);
        #[cfg(target_os = "linux")]
        let store = direct::DirectLocal::new(store);
        Ok(Self { store: Arc::new(store) })
    }

    /// Files in an S3-compatible bucket: `url` is `s3://bucket[/prefix]`; the endpoint,
    /// region and credentials come from `s3`, else from the standard `AWS_*` environment
    /// variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`).
    pub fn s3(url: &str, s3: &S3) -> Result<Self, StoreError> {
        let (bucket, prefix) = url
            .strip_prefix("s3://")
            .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
            .filter(|(bucket, _)| !bucket.is_empty())
            .ok_or_else(|| StoreError::Blob(format!("{url}: expected s3://bucket[/prefix]")))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &s3.endpoint {
            builder =
                builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &s3.region {
            builder = builder.with_region(region);
        }
        if let Some((id, secret)) = &s3.credentials {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = builder.build().map_err(failed)?;
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            store: if prefix.is_empty() {
                Arc::new(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            },
        })
    }

    /// Files in memory (tests, benchmarks).
    pub fn memory() -> Self {
        Self { store: Arc::new(object_store::memory::InMemory::new()) }
    }

    /// Stores `bytes` under `key` (a `Vec<u8>`, or a [`crate::buffers::AlignedBuf`] the local store
    /// writes from without a copy).
    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<(), StoreError> {
        let payload = PutPayload::from(bytes.into());
        self.store.put(&ObjectPath::from(key), payload).await.map_err(failed)?;
        Ok(())
    }

    /// The blob's bytes, or `None` when there is none under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let found = match self.store.get(&ObjectPath::from(key)).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(failed(e)),
        };
        Ok(Some(found.bytes().await.map_err(failed)?.to_vec()))
    }

    /// Deletes a blob; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
}
