//! An S3 store for benchmarks (`s3-endpoint`): [`BenchFs`] serves a
//! directory through s3s-fs, except where s3s-fs costs what S3 does not, and
//! [`RequestKind`] says what a request is counted as.
//!
//! s3s-fs walks the whole bucket for every listing page, whatever the prefix,
//! and reads a whole object to hash it (its ETag) on every GET and HEAD,
//! ranged or not: on a lake of many files or large ones that is the endpoint's
//! time, not the client's. Real S3 lists a prefix at a cost that follows the
//! keys returned and answers a range in time that follows the range. So
//! [`BenchFs`] lists by walking only the directories under the prefix, in key
//! order, from the continuation point, and answers GET and HEAD from the
//! file's metadata (the ETag is the file's size and modification time: the
//! lake's objects are immutable). Everything else is s3s-fs's.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use s3s::dto::{
    CommonPrefix, ETag, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput,
    ListObjectsV2Input, ListObjectsV2Output, Object, StreamingBlob, Timestamp,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// What a request to the endpoint is counted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// ListObjects(V2): a GET with `list-type=2`, or any other GET of a bucket (path-style).
    List,
    /// GetObject, whole or a range.
    Get,
    /// HeadObject or HeadBucket.
    Head,
    Put,
    /// DELETE, POST, ListBuckets, GetBucketLocation, ...
    Other,
}

impl RequestKind {
    /// The kind of a path-style request (`/bucket` or `/bucket/key`).
    pub fn of(method: &http::Method, path: &str, query: &str) -> Self {
        let (bucket, key) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((path.trim_start_matches('/'), ""));
        match *method {
            http::Method::GET if query.contains("list-type=2") => Self::List,
            http::Method::GET if !key.is_empty() => Self::Get,
            http::Method::GET if !bucket.is_empty() && !query.contains("location") => Self::List,
            http::Method::HEAD => Self::Head,
            http::Method::PUT => Self::Put,
            _ => Self::Other,
        }
    }
}

/// A directory served as S3 (each subdirectory a bucket), as [`S3`] for
/// [`crate::s3_service`].
pub struct BenchFs {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
}

impl BenchFs {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let fs =
            s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        Ok(Self {
            fs,
            root: root.canonicalize()?,
        })
    }

    /// The file behind `bucket`/`key`, refusing names that climb out of the root.
    fn object_path(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        let climbs = |s: &str| s.split('/').any(|c| c == ".." || c == ".") || s.contains('\\');
        if bucket.is_empty() || climbs(bucket) || climbs(key) || key.starts_with('/') {
            return Err(s3_error!(InvalidArgument, "bad bucket or key"));
        }
        Ok(self.root.join(bucket).join(key))
    }

    async fn object_file(
        &self,
        bucket: &str,
        key: &str,
    ) -> S3Result<(tokio::fs::File, std::fs::Metadata)> {
        let path = self.object_path(bucket, key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(_) if !self.root.join(bucket).is_dir() => return Err(s3_error!(NoSuchBucket)),
            Err(_) => return Err(s3_error!(NoSuchKey)),
        };
        let meta = file
            .metadata()
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        if !meta.is_file() {
            return Err(s3_error!(NoSuchKey));
        }
        Ok((file, meta))
    }
}

/// An immutable object's ETag: its size and modification time.
fn etag(meta: &std::fs::Metadata) -> ETag {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    ETag::Strong(format!("{:x}-{nanos:x}", meta.len()))
}

fn modified(meta: &std::fs::Metadata) -> Option<Timestamp> {
    meta.modified().ok().map(Timestamp::from)
}

#[async_trait::async_trait]
impl S3 for BenchFs {
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let input = req.input;
        let (mut file, meta) = self.object_file(&input.bucket, &input.key).await?;
        let len = meta.len();
        let range = match &input.range {
            Some(r) => r.check(len)?,
            None => 0..len,
        };
        file.seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        let length = range.end - range.start;
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(length), 1 << 16);
        let output = GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: i64::try_from(length).ok(),
            content_range: input
                .range
                .is_some()
                .then(|| format!("bytes {}-{}/{len}", range.start, range.end.max(1) - 1)),
            last_modified: modified(&meta),
            e_tag: Some(etag(&meta)),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (_, meta) = self.object_file(&req.input.bucket, &req.input.key).await?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: i64::try_from(meta.len()).ok(),
            last_modified: modified(&meta),
            e_tag: Some(etag(&meta)),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let bucket = self.object_path(&input.bucket, "")?;
        if !bucket.is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        let Some(slash) = (match input.delimiter.as_deref() {
            None => Some(false),
            Some("/") => Some(true),
            Some(_) => None,
        }) else {
            return Err(s3_error!(NotImplemented, "only '/' as a delimiter"));
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = [&input.continuation_token, &input.start_after]
            .into_iter()
            .flatten()
            .max()
            .cloned()
            .unwrap_or_default();
        let max = usize::try_from(input.max_keys.unwrap_or(1000).clamp(0, 1000)).unwrap_or(0);
        let page =
            tokio::task::spawn_blocking(move || list_page(&bucket, &prefix, slash, &after, max))
                .await
                .map_err(|e| s3_error!(InternalError, "{e}"))?
                .map_err(|e| s3_error!(e, InternalError))?;
        let count = page.objects.len() + page.prefixes.len();
        let output = ListObjectsV2Output {
            key_count: i32::try_from(count).ok(),
            max_keys: input.max_keys.or(Some(1000)),
            is_truncated: Some(page.truncated),
            next_continuation_token: page.truncated.then_some(page.last).flatten(),
            contents: (!page.objects.is_empty()).then(|| {
                page.objects
                    .into_iter()
                    .map(|(key, size, time)| Object {
                        key: Some(key),
                        size: i64::try_from(size).ok(),
                        last_modified: time.map(Timestamp::from),
                        ..Default::default()
                    })
                    .collect()
            }),
            common_prefixes: (!page.prefixes.is_empty()).then(|| {
                page.prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect()
            }),
            continuation_token: input.continuation_token,
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    // The rest is s3s-fs's.
    async fn create_bucket(
        &self,
        req: S3Request<s3s::dto::CreateBucketInput>,
    ) -> S3Result<S3Response<s3s::dto::CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<s3s::dto::HeadBucketInput>,
    ) -> S3Result<S3Response<s3s::dto::HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<s3s::dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<s3s::dto::GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }
    async fn list_buckets(
        &self,
        req: S3Request<s3s::dto::ListBucketsInput>,
    ) -> S3Result<S3Response<s3s::dto::ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<s3s::dto::ListObjectsInput>,
    ) -> S3Result<S3Response<s3s::dto::ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }
    async fn put_object(
        &self,
        req: S3Request<s3s::dto::PutObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::PutObjectOutput>> {
        self.fs.put_object(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<s3s::dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<s3s::dto::DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<s3s::dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<s3s::dto::DeleteObjectsOutput>> {
        self.fs.delete_objects(req).await
    }
}

/// One page of a listing: objects (key, size, modified) and common prefixes,
/// each in key order; `truncated` when more follow `last`.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    pub objects: Vec<(String, u64, Option<SystemTime>)>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    pub last: Option<String>,
}

/// Lists up to `max` keys of the bucket directory under `prefix` after
/// `after`, grouped at the next `/` when `slash`, walking only the
/// directories that can hold such keys, in key order.
pub fn list_page(
    bucket: &Path,
    prefix: &str,
    slash: bool,
    after: &str,
    max: usize,
) -> std::io::Result<Page> {
    let mut walk = Walk {
        prefix,
        slash,
        after,
        max,
        page: Page::default(),
    };
    // Start at the deepest directory the prefix names.
    let base = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
    walk.dir(&bucket.join(base), base)?;
    Ok(walk.page)
}

struct Walk<'a> {
    prefix: &'a str,
    slash: bool,
    after: &'a str,
    max: usize,
    page: Page,
}

impl Walk<'_> {
    /// Whether the page is full; marks it truncated (another key was found).
    fn full(&mut self) -> bool {
        let full = self.page.objects.len() + self.page.prefixes.len() >= self.max;
        self.page.truncated |= full;
        full
    }

    /// Walks `dir`, whose keys start with `base`; true once the page is full.
    fn dir(&mut self, dir: &Path, base: &str) -> std::io::Result<bool> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        // A directory's keys are `name/...`: sorting by that keeps key order.
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_dir = entry.file_type()?.is_dir();
            let key = format!("{base}{name}{}", if is_dir { "/" } else { "" });
            keys.push((key, is_dir, entry.path()));
        }
        keys.sort_unstable();
        for (key, is_dir, path) in keys {
            let under = key.starts_with(self.prefix);
            if !is_dir {
                if under && key.as_str() > self.after {
                    if self.full() {
                        return Ok(true);
                    }
                    let meta = std::fs::metadata(&path)?;
                    self.page.last = Some(key.clone());
                    self.page
                        .objects
                        .push((key, meta.len(), meta.modified().ok()));
                }
            } else if under && self.slash {
                if key.as_str() > self.after && has_file(&path)? {
                    if self.full() {
                        return Ok(true);
                    }
                    self.page.last = Some(key.clone());
                    self.page.prefixes.push(key);
                }
            } else if (under || self.prefix.starts_with(&key))
                // Not wholly at or before the continuation point.
                && (key.as_str() > self.after || self.after.starts_with(&key))
                && self.dir(&path, &key)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Whether a directory holds a file somewhere (S3 has no empty "directories").
fn has_file(dir: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() || has_file(&entry.path())? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<T>(input: T) -> S3Request<T> {
        S3Request {
            input,
            method: http::Method::GET,
            uri: http::Uri::from_static("/"),
            headers: Default::default(),
            extensions: Default::default(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    /// Every page of a listing: (objects, common prefixes).
    async fn pages(
        s3: &impl S3,
        prefix: &str,
        delimiter: Option<&str>,
        max: i32,
    ) -> Vec<(Vec<String>, Vec<String>)> {
        let mut token = None;
        let mut pages = Vec::new();
        loop {
            let input = ListObjectsV2Input::builder()
                .bucket("lake".into())
                .prefix(Some(prefix.into()))
                .delimiter(delimiter.map(Into::into))
                .max_keys(Some(max))
                .continuation_token(token.take())
                .build()
                .unwrap();
            let out = s3.list_objects_v2(request(input)).await.unwrap().output;
            pages.push((
                out.contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| o.key)
                    .collect(),
                out.common_prefixes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.prefix)
                    .collect(),
            ));
            match out.next_continuation_token {
                Some(t) if out.is_truncated == Some(true) => token = Some(t),
                _ => return pages,
            }
        }
    }

    #[tokio::test]
    async fn lists_as_s3s_fs_does_walking_only_the_prefix() {
        let root = tempfile::tempdir().unwrap();
        let lake = root.path().join("lake");
        for key in [
            "task_events/dt=2026-11-19/a.parquet",
            "task_events/dt=2026-11-19/b.parquet",
            "task_events/dt=2026-11-20/a.parquet",
            "task_events/dt=2026-11-2x.parquet",
            "task_events-old/x.parquet",
            "metrics/dt=2026-11-20/m.parquet",
            "top.json",
        ] {
            let path = lake.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, key).unwrap();
        }
        std::fs::create_dir_all(lake.join("task_events/dt=2026-11-21/empty")).unwrap();
        let ours = BenchFs::new(root.path()).unwrap();
        let theirs = s3s_fs::FileSystem::new(root.path()).unwrap();
        for prefix in [
            "",
            "task_events/",
            "task_events",
            "task_events/dt=2026-11-2",
            "task_events/dt=2026-11-19/",
            "nothing/",
        ] {
            for delimiter in [None, Some("/")] {
                for max in [1, 2, 1000] {
                    let a = pages(&ours, prefix, delimiter, max).await;
                    let b = pages(&theirs, prefix, delimiter, max).await;
                    assert_eq!(
                        a, b,
                        "prefix {prefix:?}, delimiter {delimiter:?}, max {max}"
                    );
                }
            }
        }
    }

    #[test]
    fn kinds() {
        use http::Method;
        let kind = |m: Method, p: &str, q: &str| RequestKind::of(&m, p, q);
        assert_eq!(
            kind(Method::GET, "/b", "list-type=2&prefix=x"),
            RequestKind::List
        );
        assert_eq!(kind(Method::GET, "/b/", ""), RequestKind::List);
        assert_eq!(kind(Method::GET, "/b", "location"), RequestKind::Other);
        assert_eq!(kind(Method::GET, "/", ""), RequestKind::Other);
        assert_eq!(
            kind(Method::GET, "/b/t/dt=1/x.parquet", ""),
            RequestKind::Get
        );
        assert_eq!(kind(Method::HEAD, "/b/k", ""), RequestKind::Head);
        assert_eq!(kind(Method::PUT, "/b/k", ""), RequestKind::Put);
        assert_eq!(kind(Method::DELETE, "/b/k", ""), RequestKind::Other);
    }
}
