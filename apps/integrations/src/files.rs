//! The file store: uploaded course media and staff imports, on local disk (the embedded default)
//! or in an S3-compatible bucket (production), through one interface (`object_store`).
//! Keys always begin with the owning trust's id, so a trust's files are one prefix.

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::sync::Arc;
use trellis_domain::config::FilesConfig;

/// A handle on the configured store; cheap to clone.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({})", self.inner)
    }
}

/// A file read back: its total size, the part asked for, and the bytes.
pub struct Fetched {
    pub size: u64,
    pub range: std::ops::Range<u64>,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl FileStore {
    /// Opens the store the configuration names (creating the local folder).
    pub fn open(config: &FilesConfig) -> anyhow::Result<FileStore> {
        let inner: Arc<dyn ObjectStore> = match config.store.as_str() {
            "s3" => {
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&config.s3_bucket)
                    .with_region(&config.s3_region);
                if !config.s3_endpoint.is_empty() {
                    b = b.with_endpoint(&config.s3_endpoint).with_allow_http(config.s3_endpoint.starts_with("http://"));
                }
                if !config.s3_access_key_id.is_empty() {
                    b = b
                        .with_access_key_id(&config.s3_access_key_id)
                        .with_secret_access_key(&config.s3_secret_access_key);
                }
                Arc::new(b.build().context("files: S3 settings")?)
            }
            _ => {
                std::fs::create_dir_all(&config.dir).with_context(|| format!("files.dir {}", config.dir))?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&config.dir)
                        .with_context(|| format!("files.dir {}", config.dir))?,
                )
            }
        };
        Ok(FileStore { inner })
    }

    /// Stores a small file in one request.
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.inner
            .put(&StorePath::from(key), PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// Stores a file from a local path, in parts (media can be hundreds of MB).
    pub async fn put_file(&self, key: &str, path: &std::path::Path) -> anyhow::Result<()> {
        let upload = self.inner.put_multipart(&StorePath::from(key)).await.with_context(|| format!("storing {key}"))?;
        let mut writer = WriteMultipart::new(upload);
        let file = tokio::fs::File::open(path).await?;
        let mut reader = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
        while let Some(chunk) = reader.next().await {
            writer.wait_for_capacity(4).await?;
            writer.write(&chunk?);
        }
        writer.finish().await.with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// Copies a file to a local path, streamed (a held upload, to scan and import it).
    pub async fn get_to_file(&self, key: &str, path: &std::path::Path) -> anyhow::Result<u64> {
        use tokio::io::AsyncWriteExt;
        let fetched = self.get(key, None).await?;
        let mut out = tokio::fs::File::create(path).await?;
        let mut body = fetched.body;
        while let Some(chunk) = body.next().await {
            out.write_all(&chunk?).await?;
        }
        out.flush().await?;
        Ok(fetched.size)
    }

    /// Whether a file is there (`Err` only when the store cannot say).
    pub async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        match self.inner.head(&StorePath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a whole (small) file.
    pub async fn get_bytes(&self, key: &str) -> anyhow::Result<Bytes> {
        Ok(self.inner.get(&StorePath::from(key)).await?.bytes().await?)
    }

    /// Reads a file, or the byte range asked for (`start..end`, end exclusive; clamped).
    pub async fn get(&self, key: &str, range: Option<(u64, Option<u64>)>) -> anyhow::Result<Fetched> {
        let path = StorePath::from(key);
        let meta = self.inner.head(&path).await.with_context(|| format!("reading {key}"))?;
        let size = meta.size;
        let wanted = match range {
            Some((start, end)) if start < size => start..end.map_or(size, |e| e.min(size)),
            _ => 0..size,
        };
        let opts = GetOptions { range: Some(GetRange::Bounded(wanted.clone())), ..Default::default() };
        let res = self.inner.get_opts(&path, opts).await.with_context(|| format!("reading {key}"))?;
        let body = res.into_stream().map(|r| r.map_err(std::io::Error::other)).boxed();
        Ok(Fetched { size, range: wanted, body })
    }

    /// Deletes every file whose key begins with `prefix` (a folder, such as a package's);
    /// returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<u64> {
        let mut listed = self.inner.list(Some(&StorePath::from(prefix)));
        let mut keys = Vec::new();
        while let Some(meta) = listed.next().await {
            keys.push(meta.with_context(|| format!("listing {prefix}"))?.location);
        }
        let mut n = 0;
        for k in keys {
            match self.inner.delete(&k).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }

    /// Deletes a file (missing is fine).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.inner.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
