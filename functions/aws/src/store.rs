//! The two [`LakeStore`]s: S3 (production) and a local directory (the embedded default).

use std::path::{Path, PathBuf};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use ecs_lake::lake::{LakeFiles, StoreErrorKind, validate_key};
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
            .map_err(|e| s3_error("PUT", &self.bucket, &object_key, &e).with_key(key))
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
            let page =
                page.map_err(|e| s3_error("LIST", &self.bucket, &full, &e).with_key(prefix))?;
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
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| s3_error("GET", &self.bucket, &object_key, &e).with_key(key))?;
        // The body streams after the answer: a failure here is the connection's.
        let body = out.body.collect().await.map_err(|e| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("GET s3://{}/{object_key}: {e}", self.bucket),
            )
            .with_key(key)
        })?;
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
            .map_err(|e| s3_error("DELETE", &self.bucket, &object_key, &e).with_key(key))
    }
}

/// An aws-sdk-s3 failure as a [`StoreError`]: the kind from the service's
/// error code and HTTP status, or from how the request failed; the message
/// the operation, the object and the SDK's whole error chain.
fn s3_error<E>(
    op: &str,
    bucket: &str,
    object_key: &str,
    e: &SdkError<E, HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = match e {
        SdkError::TimeoutError(_) => StoreErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => StoreErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_io() => StoreErrorKind::Unavailable,
        SdkError::ServiceError(s) => s3_kind(s.err().code(), Some(s.raw().status().as_u16())),
        SdkError::ResponseError(r) => s3_kind(None, Some(r.raw().status().as_u16())),
        _ => StoreErrorKind::Other,
    };
    StoreError::new(
        kind,
        format!(
            "{op} s3://{bucket}/{object_key}: {}",
            DisplayErrorContext(e)
        ),
    )
}

/// The kind of an S3 error answer: by its error code when S3 sent one (a
/// HEAD or a 503 may come without a body), else by its HTTP status.
fn s3_kind(code: Option<&str>, status: Option<u16>) -> StoreErrorKind {
    match code {
        Some("NoSuchKey" | "NoSuchBucket" | "NotFound") => StoreErrorKind::NotFound,
        Some(
            "AccessDenied"
            | "AllAccessDisabled"
            | "AccountProblem"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken",
        ) => StoreErrorKind::Denied,
        Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreErrorKind::Throttled
        }
        Some("RequestTimeout") => StoreErrorKind::Timeout,
        Some("InternalError" | "ServiceUnavailable") => StoreErrorKind::Unavailable,
        _ => match status {
            Some(404) => StoreErrorKind::NotFound,
            Some(401 | 403) => StoreErrorKind::Denied,
            // S3 answers 503 SlowDown when it throttles.
            Some(429 | 503) => StoreErrorKind::Throttled,
            Some(408) => StoreErrorKind::Timeout,
            Some(500..=599) => StoreErrorKind::Unavailable,
            _ => StoreErrorKind::Other,
        },
    }
}

/// A local file-system failure as a [`StoreError`] about `key`.
fn io_error(what: &str, path: &Path, key: &str, e: &std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    let kind = match e.kind() {
        ErrorKind::NotFound => StoreErrorKind::NotFound,
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => StoreErrorKind::Denied,
        ErrorKind::TimedOut => StoreErrorKind::Timeout,
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, format!("{what} {}: {e}", path.display())).with_key(key)
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
        let err = |what: &str, e: std::io::Error| io_error(what, &path, key, &e);
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
                Err(e) => return Err(io_error("listing", &d, prefix, &e)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| io_error("listing", &d, prefix, &e))?
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
            .map_err(|e| io_error("reading", &path, key, &e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            // Deleting what is gone is done (a re-run after a crash).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("deleting", &path, key, &e)),
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

    #[tokio::test]
    async fn local_store_errors_keep_their_kind() {
        let dir = std::env::temp_dir().join(format!("ecs-lake-kinds-{}", std::process::id()));
        let store = LocalStore::new(&dir);
        let e = store.get("t/dt=2026-11-20/gone.parquet").await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::NotFound);
        assert_eq!(e.key.as_deref(), Some("t/dt=2026-11-20/gone.parquet"));
        assert!(e.to_string().contains("gone.parquet"), "{e}");
        let e = store.put("../escape", Bytes::new()).await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::InvalidKey);
        // A directory where the object should be: neither missing nor denied.
        std::fs::create_dir_all(dir.join("t/dir.parquet")).unwrap();
        let e = store.get("t/dir.parquet").await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Other, "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn s3_error_codes_and_statuses() {
        use StoreErrorKind::*;
        let cases = [
            (Some("NoSuchKey"), Some(404), NotFound),
            (Some("NoSuchBucket"), Some(404), NotFound),
            (None, Some(404), NotFound), // HEAD answers without a body
            (Some("AccessDenied"), Some(403), Denied),
            (Some("ExpiredToken"), Some(400), Denied),
            (Some("InvalidAccessKeyId"), Some(403), Denied),
            (None, Some(403), Denied),
            (Some("SlowDown"), Some(503), Throttled),
            (None, Some(503), Throttled),
            (None, Some(429), Throttled),
            (Some("RequestTimeout"), Some(400), Timeout),
            (Some("InternalError"), Some(500), Unavailable),
            (None, Some(502), Unavailable),
            (Some("InvalidArgument"), Some(400), Other),
            (None, None, Other),
        ];
        for (code, status, kind) in cases {
            assert_eq!(s3_kind(code, status), kind, "{code:?} {status:?}");
        }
    }

    #[test]
    fn s3_service_errors_are_mapped_from_the_sdk_error() {
        use aws_sdk_s3::error::ErrorMetadata;
        use aws_sdk_s3::operation::get_object::GetObjectError;
        use aws_sdk_s3::primitives::SdkBody;
        let answer = |status: u16, code: &str| {
            let err = GetObjectError::generic(ErrorMetadata::builder().code(code).build());
            let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
            SdkError::service_error(err, raw)
        };
        let e = s3_error("GET", "lake", "p/k.parquet", &answer(404, "NoSuchKey"));
        assert_eq!(e.kind, StoreErrorKind::NotFound);
        assert!(e.message.starts_with("GET s3://lake/p/k.parquet: "), "{e}");
        assert!(e.message.contains("NoSuchKey"), "{e}");
        let e = s3_error("PUT", "lake", "k", &answer(503, "SlowDown"));
        assert_eq!(e.kind, StoreErrorKind::Throttled);
        let e = s3_error("PUT", "lake", "k", &answer(403, "AccessDenied"));
        assert_eq!(e.kind, StoreErrorKind::Denied);
        let timeout: SdkError<GetObjectError, HttpResponse> =
            SdkError::timeout_error("attempt timed out");
        assert_eq!(
            s3_error("GET", "lake", "k", &timeout).kind,
            StoreErrorKind::Timeout
        );
    }
}
