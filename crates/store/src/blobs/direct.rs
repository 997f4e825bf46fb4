//! A local directory whose writes skip the page cache.
//!
//! `object_store`'s `LocalFileSystem` writes through the page cache and then fsyncs: the
//! kernel copies every byte into freshly allocated cache pages and writes them back from
//! there. For the files we store (sealed attachments of up to several megabytes, written
//! once, rarely read again) that copy is most of the cost of storing them: at a few
//! hundred files a second it kept a whole core busy in the kernel. [`DirectLocal`] writes
//! new objects with `O_DIRECT` instead, so the disk reads them straight from a reused,
//! aligned buffer, and keeps everything else `LocalFileSystem`'s: the layout on disk, the
//! staging name (`<file>#<n>`), publishing by rename, reads, listing, deletion. Durability
//! is the same: the data and the file's size are synced (`fdatasync`) before the rename,
//! and the directory after it.
//!
//! A file system that refuses `O_DIRECT` (the open or the write fails with `EINVAL`) makes
//! the store fall back to `LocalFileSystem`'s own writes for good. A missing directory is
//! created here, each new entry synced in its parent, so the first file of a directory is
//! written past the cache like the rest (a new server, or a new shard, is no slower).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::UNIX_EPOCH;

use crate::buffers::{AlignedBuf, BLOCK};
use async_trait::async_trait;
use futures_core::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// A local directory: `O_DIRECT` writes, everything else by `LocalFileSystem`.
pub struct DirectLocal {
    inner: LocalFileSystem,
    /// False once the file system refused `O_DIRECT`.
    direct: AtomicBool,
}

impl DirectLocal {
    /// Over `inner`, which must have fsync enabled (it does the writes this one falls
    /// back to).
    pub fn new(inner: LocalFileSystem) -> Self {
        Self { inner, direct: AtomicBool::new(true) }
    }
}

impl fmt::Display for DirectLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DirectLocal({})", self.inner)
    }
}

impl fmt::Debug for DirectLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a direct write did not happen.
enum Refused {
    /// The file system does not do `O_DIRECT`: write the ordinary way from now on.
    Unsupported,
    Failed(std::io::Error),
}

impl From<std::io::Error> for Refused {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == ErrorKind::InvalidInput { Self::Unsupported } else { Self::Failed(e) }
    }
}

#[async_trait]
impl ObjectStore for DirectLocal {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let plain = matches!(opts.mode, PutMode::Overwrite) && opts.attributes.is_empty();
        if !plain || !self.direct.load(Ordering::Relaxed) {
            return self.inner.put_opts(location, payload, opts).await;
        }
        let path = self.inner.path_to_filesystem(location)?;
        let bytes = payload.clone();
        let written = tokio::task::spawn_blocking(move || write(&path, &bytes))
            .await
            .map_err(|e| generic(std::io::Error::other(e)))?;
        match written {
            Ok(result) => Ok(result),
            Err(Refused::Failed(e)) => Err(generic(e)),
            Err(Refused::Unsupported) => {
                tracing::info!(
                    "the files directory does not take O_DIRECT writes; buffered from now"
                );
                self.direct.store(false, Ordering::Relaxed);
                self.inner.put_opts(location, payload, opts).await
            }
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

fn generic(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic { store: "DirectLocal", source: Box::new(e) }
}

/// Writes `payload` to a staging file beside `path` with `O_DIRECT`, syncs it, and
/// renames it over `path`; then syncs the directory.
fn write(path: &FsPath, payload: &PutPayload) -> Result<PutResult, Refused> {
    let len = payload.content_length();
    let (mut file, staging) = open_staged(path)?;
    let written = (|| -> Result<PutResult, Refused> {
        write_blocks(&mut file, payload)?;
        // The padding goes; the size is synced with the data (fdatasync covers what is
        // needed to read the data back).
        file.set_len(len as u64).map_err(Refused::Failed)?;
        file.sync_data().map_err(Refused::Failed)?;
        let meta = file.metadata().map_err(Refused::Failed)?;
        std::fs::rename(&staging, path).map_err(Refused::Failed)?;
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(Refused::Failed)?;
        }
        Ok(PutResult { e_tag: Some(e_tag(&meta)), version: None, extensions: Default::default() })
    })();
    drop(file);
    if written.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    written
}

/// One block of memory at a block boundary.
#[repr(C, align(4096))]
struct Block([u8; BLOCK]);

/// Writes `payload` in whole blocks, the last one zero-padded. A payload in one
/// block-aligned piece (an upload sealed in its [`AlignedBuf`]) is written straight from
/// its memory, only its last partial block copied; anything else through a pooled
/// aligned buffer.
fn write_blocks(file: &mut File, payload: &PutPayload) -> Result<(), Refused> {
    let mut chunks = payload.iter();
    if let (Some(only), None) = (chunks.next(), chunks.next())
        && only.as_ptr().align_offset(BLOCK) == 0
    {
        let whole = only.len() / BLOCK * BLOCK;
        file.write_all(&only[..whole])?;
        let rest = &only[whole..];
        if !rest.is_empty() {
            let mut tail = Block([0; BLOCK]);
            tail.0[..rest.len()].copy_from_slice(rest);
            file.write_all(&tail.0)?;
        }
        return Ok(());
    }
    let len = payload.content_length();
    let mut buffer = AlignedBuf::with_capacity(len);
    for chunk in payload {
        buffer.extend_from_slice(chunk);
    }
    buffer.resize(len.div_ceil(BLOCK) * BLOCK);
    file.write_all(buffer.as_slice())?;
    Ok(())
}

/// A new staging file `<path>#<n>` opened for direct writes; its directory is made
/// when missing.
fn open_staged(path: &FsPath) -> Result<(File, PathBuf), Refused> {
    let mut made_directory = false;
    let mut n = 1u32;
    loop {
        let mut staging = path.as_os_str().to_owned();
        staging.push(format!("#{n}"));
        let staging = PathBuf::from(staging);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_DIRECT)
            .open(&staging)
        {
            Ok(file) => return Ok((file, staging)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists && n < u32::MAX => n += 1,
            Err(e) if e.kind() == ErrorKind::NotFound && !made_directory => {
                made_directory = true;
                if let Some(dir) = path.parent() {
                    make_directory(dir).map_err(Refused::Failed)?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Creates `dir` and whatever of its ancestors is missing, and syncs its entry in its
/// parent, so that the directory survives a crash with the file written into it. The
/// entry is synced even when another writer made the directory a moment ago: its own
/// sync may not have happened yet.
fn make_directory(dir: &FsPath) -> std::io::Result<()> {
    let Some(parent) = dir.parent() else { return Ok(()) };
    let created = match std::fs::create_dir(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            make_directory(parent)?;
            std::fs::create_dir(dir)
        }
        other => other,
    };
    match created {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(e),
        _ => File::open(parent)?.sync_all(),
    }
}

/// `LocalFileSystem`'s entity tag: inode, modification time and size.
fn e_tag(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{:x}-{mtime:x}-{:x}\"", meta.ino(), meta.len())
}

#[cfg(test)]
mod tests {
    use object_store::ObjectStoreExt as _;

    use super::*;

    fn store() -> (DirectLocal, PathBuf) {
        let dir = std::env::temp_dir().join(format!("uslugi-direct-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let inner = LocalFileSystem::new_with_prefix(&dir).unwrap().with_fsync(true);
        (DirectLocal::new(inner), dir)
    }

    #[tokio::test]
    async fn writes_every_length_and_reads_it_back() -> Result<()> {
        let (store, dir) = store();
        let lengths = [0, 1, 4095, 4096, 4097, (1 << 20) + 3];
        for (i, len) in lengths.into_iter().enumerate() {
            let bytes: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
            // A new directory (and a new parent for the first) each time.
            let at = Path::from(format!("applications/{i:02x}/file-{i}"));
            // Twice: the first makes the directory, the second replaces the file; from
            // an ordinary vector (copied into aligned blocks) and from an aligned buffer
            // (written from where it is).
            store.put(&at, PutPayload::from(vec![9u8; 10])).await?;
            store.put(&at, PutPayload::from(bytes.clone())).await?;
            let read = store.get(&at).await?.bytes().await?;
            assert_eq!(read.as_ref(), bytes.as_slice(), "length {len}");
            let mut aligned = AlignedBuf::with_capacity(len);
            aligned.extend_from_slice(&bytes);
            aligned.as_mut_slice().reverse();
            store.put(&at, PutPayload::from(bytes::Bytes::from(aligned))).await?;
            let read = store.get(&at).await?.bytes().await?;
            assert!(read.iter().rev().eq(bytes.iter()), "length {len}, aligned");
        }
        // Only the published files are left: no staging files, no padding.
        let mut names = Vec::new();
        for shard in std::fs::read_dir(dir.join("applications")).unwrap() {
            let shard = shard.unwrap();
            for file in std::fs::read_dir(shard.path()).unwrap() {
                let file = file.unwrap().file_name();
                names.push(format!("{}/{}", shard.file_name().display(), file.display()));
            }
        }
        names.sort();
        let expected: Vec<_> = (0..lengths.len()).map(|i| format!("{i:02x}/file-{i}")).collect();
        assert_eq!(names, expected);
        assert!(store.direct.load(Ordering::Relaxed), "the direct path was used");
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    #[tokio::test]
    async fn conditional_writes_go_to_the_ordinary_store() -> Result<()> {
        let (store, dir) = store();
        let at = Path::from("a/b");
        let create = || PutOptions { mode: PutMode::Create, ..Default::default() };
        store.put_opts(&at, PutPayload::from_static(b"one"), create()).await?;
        let again = store.put_opts(&at, PutPayload::from_static(b"two"), create()).await;
        assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })));
        assert_eq!(store.get(&at).await?.bytes().await?.as_ref(), b"one");
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
