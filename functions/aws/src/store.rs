//! The two [`LakeStore`]s: S3 (production) and a local directory (the embedded default).

use std::path::{Path, PathBuf};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use ecs_lake::compact::LakeFiles;
use ecs_lake::lake::validate_key;
use ecs_lake::{LakeStore, StoreError};

/// A lake under `s3://bucket/prefix`, written with `aws-sdk-s3`.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_owned(),
        }
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

/// The Content-Type of a lake object, from its extension (reports are
/// opened in a browser straight from S3).
pub fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("parquet") => "application/vnd.apache.parquet",
        Some("html") => "text/html; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

impl LakeStore for S3Store {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        validate_key(key)?;
        let object_key = self.object_key(key);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .content_type(content_type(key))
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::new(format!(
                    "PUT s3://{}/{object_key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })
    }

    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

impl LakeFiles for S3Store {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        validate_key(prefix.trim_end_matches('/'))?;
        let full = self.object_key(prefix);
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                StoreError::new(format!(
                    "LIST s3://{}/{full}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(|k| k[strip.min(k.len())..].to_owned()),
            );
        }
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        validate_key(key)?;
        let object_key = self.object_key(key);
        let err =
            |e: String| StoreError::new(format!("GET s3://{}/{object_key}: {e}", self.bucket));
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| err(DisplayErrorContext(&e).to_string()))?;
        let body = out.body.collect().await.map_err(|e| err(e.to_string()))?;
        Ok(body.into_bytes())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let object_key = self.object_key(key);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::new(format!(
                    "DELETE s3://{}/{object_key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })
    }
}

/// A lake in a local directory. Writes go to a temporary file renamed into
/// place, so a reader never sees half a Parquet file.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl LakeStore for LocalStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        let err = |what: &str, e: std::io::Error| {
            StoreError::new(format!("{what} {}: {e}", path.display()))
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| err("creating the directory of", e))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        tokio::fs::write(&tmp, &body)
            .await
            .map_err(|e| err("writing", e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| err("renaming into", e))
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }
}

impl LakeFiles for LocalStore {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        validate_key(prefix.trim_end_matches('/'))?;
        // Walk from the deepest existing directory of the prefix.
        let (dir, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let mut keys = Vec::new();
        let mut stack = vec![self.root.join(dir)];
        while let Some(d) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&d).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::new(format!("listing {}: {e}", d.display()))),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| StoreError::new(format!("listing {}: {e}", d.display())))?
            {
                let path = entry.path();
                let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = rel
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                if is_dir {
                    stack.push(path);
                } else if key.starts_with(prefix) && !key.contains(".tmp-") {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| StoreError::new(format!("reading {}: {e}", path.display())))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            // Deleting what is gone is done (a re-run after a crash).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::new(format!("deleting {}: {e}", path.display()))),
        }
    }
}

/// Either store, chosen at run time from configuration.
#[derive(Clone, Debug)]
pub enum AnyStore {
    S3(S3Store),
    Local(LocalStore),
}

impl LakeStore for AnyStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        match self {
            AnyStore::S3(s) => s.put(key, body).await,
            AnyStore::Local(s) => s.put(key, body).await,
        }
    }

    fn location(&self) -> String {
        match self {
            AnyStore::S3(s) => s.location(),
            AnyStore::Local(s) => s.location(),
        }
    }
}

impl LakeFiles for AnyStore {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            AnyStore::S3(s) => s.list(prefix).await,
            AnyStore::Local(s) => s.list(prefix).await,
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        match self {
            AnyStore::S3(s) => s.get(key).await,
            AnyStore::Local(s) => s.get(key).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            AnyStore::S3(s) => s.delete(key).await,
            AnyStore::Local(s) => s.delete(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_writes_under_its_root_only() {
        let dir = std::env::temp_dir().join(format!("ecs-lake-store-{}", std::process::id()));
        let store = LocalStore::new(&dir);
        store
            .put("t/dt=2026-11-20/a.parquet", Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.join("t/dt=2026-11-20/a.parquet")).unwrap(),
            b"x"
        );
        assert!(store.put("../escape", Bytes::new()).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
