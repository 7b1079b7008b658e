//! Test harness for end-to-end tests across the Lambdas and `ecs-query`.
//!
//! Real components only: [`S3Server`] is a real S3 HTTP endpoint (s3s + s3s-fs)
//! on a loopback port, talked to by the real `aws-sdk-s3` client; Parquet is
//! read back with the `parquet` crate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

pub mod athena;
pub mod bench_s3;
pub mod recorded;
pub mod runtime_api;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

pub const ACCESS_KEY: &str = "AKIAECSLAKETESTKEY00";
pub const SECRET_KEY: &str = "ecs-lake-test-secret-key";
pub const REGION: &str = "us-east-1";

/// The fixtures directory (`tests/fixtures/aws`), with provenance in SOURCES.md.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aws")
}

/// One fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fixture names starting with `prefix`, sorted.
pub fn fixtures_starting_with(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Every recorded ECS event of the four known types (task, deployment,
/// service action, container instance), by fixture name.
pub fn ecs_event_fixtures() -> Vec<String> {
    [
        "ecs_task_",
        "ecs_deployment_",
        "ecs_service_action_",
        "ecs_container_instance_",
    ]
    .iter()
    .flat_map(|p| fixtures_starting_with(p))
    .collect()
}

/// Accepts connections on a loopback port, on its own thread and runtime (so
/// any test runtime can talk to it), handing each to `serve` inside that
/// runtime; dropping the returned sender stops it.
fn serve_loopback(
    serve: impl Fn(TokioIo<tokio::net::TcpStream>) + Send + 'static,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            accept_until(listener, serve, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    (addr_rx.recv().expect("server address"), stop_tx)
}

/// Hands each connection accepted on `listener` to `serve`, until `stop` completes.
pub async fn accept_until(
    listener: tokio::net::TcpListener,
    serve: impl Fn(TokioIo<tokio::net::TcpStream>),
    stop: impl std::future::Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((socket, _)) = accepted {
                    // Answers go out as written: with Nagle's algorithm a body
                    // written after its headers waits for the client's delayed
                    // ACK (40 ms on Linux).
                    let _ = socket.set_nodelay(true);
                    serve(TokioIo::new(socket));
                }
            }
            () = &mut stop => break,
        }
    }
}

/// Serves one connection (HTTP/1.1 or HTTP/2) with `service`, on a task of
/// the current runtime.
pub fn spawn_connection<S, B>(io: TokioIo<tokio::net::TcpStream>, service: S)
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = ConnBuilder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .into_owned();
    tokio::spawn(async move {
        let _ = conn.await;
    });
}

/// An S3 service over `s3` behind SigV4, accepting the test credentials
/// ([`ACCESS_KEY`], [`SECRET_KEY`]).
pub fn s3_service(s3: impl s3s::S3) -> s3s::service::S3Service {
    let mut b = S3ServiceBuilder::new(s3);
    b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    b.build()
}

/// A real S3 endpoint on 127.0.0.1, backed by a temporary directory, running
/// on its own thread and runtime so any test runtime can talk to it.
pub struct S3Server {
    pub endpoint: String,
    pub root: tempfile::TempDir,
    requests: std::sync::Arc<std::sync::Mutex<Vec<S3Request>>>,
    service: s3s::service::S3Service,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// An HTTPS endpoint in front of an [`S3Server`]'s buckets, its certificate
/// (for 127.0.0.1) issued by a certificate authority of the test's own.
pub struct TlsEndpoint {
    /// `https://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The authority's certificate (PEM): the root store a client must trust.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// One request the test S3 endpoint answered: what a client cost it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Request {
    pub method: String,
    /// `/bucket/key` (path-style).
    pub path: String,
    /// The query string, e.g. `list-type=2&prefix=...`.
    pub query: String,
    /// The `Range` header of a GET, e.g. `bytes=0-1023`.
    pub range: Option<String>,
}

impl S3Request {
    /// The key of an object GET (`/bucket/key` without the bucket), whole or ranged.
    pub fn object_get(&self) -> Option<String> {
        if self.method != "GET" || !self.query.is_empty() {
            return None;
        }
        let (_, key) = self.path.trim_start_matches('/').split_once('/')?;
        (!key.is_empty()).then(|| percent_decode(key))
    }

    /// A ListObjects(V2) request, and the prefix it lists.
    pub fn list_prefix(&self) -> Option<String> {
        if self.method != "GET" || !self.query.contains("list-type=2") {
            return None;
        }
        let prefix = self
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("prefix="))
            .unwrap_or("");
        Some(percent_decode(prefix))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A failure the test S3 endpoint injects into a PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 with S3's `SlowDown` error (throttling).
    SlowDown,
    /// 500 with S3's `InternalError`.
    InternalError,
    /// The connection is dropped without an answer.
    Reset,
    /// No answer for 30 s (the client's attempt timeout must fire).
    Stall,
}

/// Which PUTs fail, and how: either the first attempt at each of the next
/// `faults` distinct keys (transient: a retry succeeds), or every PUT whose
/// key contains `always` (persistent: until cleared).
#[derive(Debug, Default)]
pub struct Faults {
    state: std::sync::Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    transient: std::collections::VecDeque<Fault>,
    seen: std::collections::BTreeSet<String>,
    always: Option<(String, Fault)>,
    injected: Vec<(String, Fault)>,
}

impl Faults {
    /// Fails the first attempt at each of the next distinct keys, one fault each, in order.
    pub fn transient(&self, faults: &[Fault]) {
        let mut s = self.state.lock().expect("faults");
        s.transient.extend(faults);
    }
    /// Fails every PUT whose key contains `needle`, until [`Faults::clear`].
    pub fn always(&self, needle: &str, fault: Fault) {
        self.state.lock().expect("faults").always = Some((needle.to_owned(), fault));
    }
    pub fn clear(&self) {
        let mut s = self.state.lock().expect("faults");
        s.transient.clear();
        s.always = None;
    }
    /// (key, fault) of every failure injected so far.
    pub fn injected(&self) -> Vec<(String, Fault)> {
        self.state.lock().expect("faults").injected.clone()
    }
    fn on_put(&self, key: &str) -> Option<Fault> {
        let mut s = self.state.lock().expect("faults");
        let always = s
            .always
            .as_ref()
            .filter(|(needle, _)| key.contains(needle.as_str()))
            .map(|(_, f)| *f);
        let fault = match always {
            Some(f) => Some(f),
            None if s.seen.insert(key.to_owned()) => s.transient.pop_front(),
            None => None,
        };
        if let Some(f) = fault {
            s.injected.push((key.to_owned(), f));
        }
        fault
    }
}

fn s3_error(status: u16, code: &str, message: &str) -> http::Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    );
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

impl S3Server {
    /// Starts the server with the given buckets already created.
    pub fn start(buckets: &[&str]) -> Self {
        Self::start_with_faults(buckets, std::sync::Arc::new(Faults::default()))
    }

    /// Like [`S3Server::start`], injecting `faults` into PUTs.
    pub fn start_with_faults(buckets: &[&str], faults: std::sync::Arc<Faults>) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        for b in buckets {
            std::fs::create_dir_all(root.path().join(b)).expect("bucket dir");
        }
        let service = s3_service(s3s_fs::FileSystem::new(root.path()).expect("s3s-fs"));
        let plain = service.clone();
        let requests: std::sync::Arc<std::sync::Mutex<Vec<S3Request>>> = Default::default();
        let log = std::sync::Arc::clone(&requests);
        let (addr, stop) = serve_loopback(move |io| {
            let (service, faults, log) = (
                service.clone(),
                std::sync::Arc::clone(&faults),
                std::sync::Arc::clone(&log),
            );
            let faulty =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (service, faults) = (service.clone(), std::sync::Arc::clone(&faults));
                    if let Ok(mut log) = log.lock() {
                        log.push(S3Request {
                            method: req.method().to_string(),
                            path: req.uri().path().to_owned(),
                            query: req.uri().query().unwrap_or("").to_owned(),
                            range: req
                                .headers()
                                .get(http::header::RANGE)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                        });
                    }
                    async move {
                        let fault = (req.method() == http::Method::PUT)
                            .then(|| faults.on_put(req.uri().path()))
                            .flatten();
                        match fault {
                            Some(Fault::SlowDown) => Ok(s3_error(
                                503,
                                "SlowDown",
                                "Please reduce your request rate.",
                            )),
                            Some(Fault::InternalError) => Ok(s3_error(
                                500,
                                "InternalError",
                                "We encountered an internal error. Please try again.",
                            )),
                            Some(Fault::Reset) => {
                                Err(s3s::HttpError::new("injected connection reset".into()))
                            }
                            Some(Fault::Stall) => {
                                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                                Err(s3s::HttpError::new("injected stall".into()))
                            }
                            None => hyper::service::Service::call(&service, req).await,
                        }
                    }
                });
            spawn_connection(io, faulty);
        });
        Self {
            endpoint: format!("http://{addr}"),
            root,
            requests,
            service: plain,
            _shutdown: stop,
        }
    }

    /// The same buckets over HTTPS (TLS 1.2/1.3 from rustls), for a client
    /// whose root store holds [`TlsEndpoint::ca_file`]: proves a client's
    /// TLS stack and root store work, where the plain endpoint cannot.
    pub fn start_tls(&self) -> TlsEndpoint {
        use tokio_rustls::rustls;
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ecs-lake tests CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).expect("CA file");

        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let service = self.service.clone();
        let (addr, stop) = serve_loopback(move |io| {
            let (acceptor, service) = (acceptor.clone(), service.clone());
            tokio::spawn(async move {
                // A client that does not trust the authority ends here.
                let Ok(tls) = acceptor.accept(io.into_inner()).await else {
                    return;
                };
                let conn = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .into_owned();
                let _ = conn.await;
            });
        });
        TlsEndpoint {
            endpoint: format!("https://{addr}"),
            ca_file,
            _dir: dir,
            _shutdown: stop,
        }
    }

    /// The requests answered since the start or the last [`S3Server::clear_requests`].
    pub fn requests(&self) -> Vec<S3Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn clear_requests(&self) {
        if let Ok(mut r) = self.requests.lock() {
            r.clear();
        }
    }

    /// A real aws-sdk-s3 client pointed at this endpoint (path-style, static test credentials).
    pub fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                ACCESS_KEY,
                SECRET_KEY,
                None,
                None,
                "ecs-lake-tests",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An AWS SDK configuration for this endpoint (static test credentials),
    /// as a Lambda or `ecs-query` would load from its environment.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "ecs-lake-tests"),
            ))
            .build()
    }

    /// The directory holding a bucket's objects (to break things on purpose).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.path().join(bucket)
    }
}

/// Keys under a prefix, sorted, through the S3 API.
pub async fn list_keys(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("list objects");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys.sort();
    keys
}

/// Every Parquet object under `prefix`, read back as Arrow batches.
pub async fn read_parquet(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for key in list_keys(client, bucket, prefix).await {
        let object = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("get object");
        let bytes: Bytes = object.body.collect().await.expect("body").into_bytes();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .expect("parquet footer")
            .build()
            .expect("reader");
        for batch in reader {
            batches.push(batch.expect("parquet batch"));
        }
    }
    batches
}

/// Column values as display strings (nulls as `∅`), across batches.
pub fn column(batches: &[RecordBatch], name: &str) -> Vec<String> {
    use arrow::util::display::array_value_to_string;
    batches
        .iter()
        .flat_map(|b| {
            let c = b
                .column_by_name(name)
                .unwrap_or_else(|| panic!("no column {name}"))
                .clone();
            (0..b.num_rows())
                .map(move |r| {
                    if c.is_null(r) {
                        "∅".to_owned()
                    } else {
                        array_value_to_string(&c, r).expect("display")
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every table's rows under `prefix`, each row its columns' display strings
/// but the ingest time (which tells two writes of the same row apart),
/// sorted: what two lakes written from the same input must agree on.
pub async fn lake_rows(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<&'static str, Vec<String>> {
    let mut tables = std::collections::BTreeMap::new();
    for table in ecs_lake::schema::TABLES {
        let batches = read_parquet(client, bucket, &format!("{prefix}/{}/", table.name)).await;
        let Some(first) = batches.first() else {
            continue;
        };
        let names: Vec<String> = first
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != table.ingest_column)
            .collect();
        let columns: Vec<Vec<String>> = names.iter().map(|n| column(&batches, n)).collect();
        let mut rows: Vec<String> = (0..row_count(&batches))
            .map(|r| {
                columns
                    .iter()
                    .map(|c| c[r].as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        rows.sort();
        tables.insert(table.name, rows);
    }
    tables
}

/// Total rows across batches.
pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// An SQS event whose records carry these `(message id, body)` pairs, as
/// Lambda delivers a batch from the EventBridge rule's queue.
pub fn sqs_event(bodies: &[(String, String)]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id, "receiptHandle": "rh", "body": body, "attributes": {},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:ecs-events", "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// A CloudWatch Logs DATA_MESSAGE payload as a subscription sends it
/// (base64 of gzip of the JSON), with these messages one second apart from
/// `first_ms`; event ids are `ev0`, `ev1`, ...
pub fn cwl_payload(group: &str, stream: &str, first_ms: i64, messages: &[String]) -> String {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": format!("ev{i}"), "timestamp": first_ms + i as i64 * 1000, "message": m}))
        .collect();
    let doc = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group,
        "logStream": stream, "subscriptionFilters": ["ecs-lake"], "logEvents": events,
    });
    gzip_base64(doc.to_string().as_bytes())
}

/// base64 of gzip of `bytes`.
pub fn gzip_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip in memory");
    base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip in memory"))
}

/// One AWS API call as the loopback endpoints see it: `(X-Amz-Target, body)`
/// -> `(status, answer)`.
type RawHandler = dyn Fn(&str, &[u8]) -> (u16, String) + Send + Sync;

/// A loopback HTTP endpoint answering every request with `handler`, the
/// answer typed `content_type`: its URL and what stops it.
fn serve_api(
    content_type: &'static str,
    handler: std::sync::Arc<RawHandler>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    use http_body_util::{BodyExt, Full};
    let (addr, stop) = serve_loopback(move |io| {
        let handler = handler.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                async move {
                    let target = req
                        .headers()
                        .get("x-amz-target")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let (status, answer) = handler(&target, &body);
                    hyper::Response::builder()
                        .status(status)
                        .header("content-type", content_type)
                        .body(Full::new(Bytes::from(answer)))
                }
            });
        spawn_connection(io, service);
    });
    (format!("http://{addr}"), stop)
}

/// The AWS configuration of every client of a loopback endpoint: the test
/// credentials, [`REGION`], the endpoint.
fn loopback_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(
            aws_sdk_ecs::config::Credentials::new(
                ACCESS_KEY,
                SECRET_KEY,
                None,
                None,
                "ecs-lake-tests",
            ),
        ))
        .build()
}

/// Answers one AWS JSON-protocol call: `(X-Amz-Target, request body)` -> `(status, body)`.
pub type JsonHandler = dyn Fn(&str, &serde_json::Value) -> (u16, String) + Send + Sync;

/// A real HTTP endpoint for an AWS JSON-protocol API (ECS, CloudWatch Logs), on loopback, whose
/// answers come from a handler (recorded responses). The real SDK client talks
/// to it, so request building, signing and response parsing are the SDK's own.
pub struct JsonApiServer {
    pub endpoint: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl JsonApiServer {
    pub fn start(handler: std::sync::Arc<JsonHandler>) -> Self {
        let (endpoint, _shutdown) = serve_api(
            "application/x-amz-json-1.1",
            std::sync::Arc::new(move |target: &str, body: &[u8]| {
                let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
                handler(target, &json)
            }),
        );
        Self {
            endpoint,
            _shutdown,
        }
    }

    /// The AWS configuration of a client of this endpoint (any SDK client:
    /// Athena's, in `query/tests/athena_engine.rs`).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        loopback_sdk_config(&self.endpoint)
    }

    /// A real aws-sdk-ecs client pointed at this endpoint.
    pub fn ecs_client(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&loopback_sdk_config(&self.endpoint))
    }

    /// A real aws-sdk-secretsmanager client pointed at this endpoint (the
    /// same JSON protocol; `secretsmanager.GetSecretValue` and the like).
    pub fn secrets_client(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&loopback_sdk_config(&self.endpoint))
    }

    /// A real aws-sdk-cloudwatchlogs client pointed at this endpoint (the
    /// same JSON protocol; the handler tells the APIs apart by X-Amz-Target).
    pub fn logs_client(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&loopback_sdk_config(&self.endpoint))
    }
}

/// Answers one AWS query-protocol call (ELBv2): the form-encoded request body
/// (`Action=DescribeTargetGroups&Version=...`) -> `(status, XML body)`.
pub type QueryHandler = dyn Fn(&str) -> (u16, String) + Send + Sync;

/// A real HTTP endpoint for an AWS query-protocol API (ELBv2), on loopback,
/// answering from a handler; the real SDK client builds, signs and parses.
pub struct QueryApiServer {
    pub endpoint: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl QueryApiServer {
    pub fn start(handler: std::sync::Arc<QueryHandler>) -> Self {
        let (endpoint, _shutdown) = serve_api(
            "text/xml",
            std::sync::Arc::new(move |_: &str, body: &[u8]| {
                handler(&String::from_utf8_lossy(body))
            }),
        );
        Self {
            endpoint,
            _shutdown,
        }
    }

    /// A real aws-sdk-elasticloadbalancingv2 client pointed at this endpoint.
    pub fn elbv2_client(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&loopback_sdk_config(&self.endpoint))
    }

    /// A real aws-sdk-sns client pointed at this endpoint (SNS speaks the
    /// same query protocol).
    pub fn sns_client(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&loopback_sdk_config(&self.endpoint))
    }
}

/// A simulation's EventBridge events (`e<n>`) and CloudWatch Logs payloads
/// (`l<n>`) as ingest inputs, in the simulator's delivery order.
pub fn simulation_inputs(sim: &ecs_sim::Output) -> Vec<ecs_lake::Input> {
    use ecs_lake::{Input, InputKind};
    sim.events
        .iter()
        .enumerate()
        .map(|(i, e)| Input::new(format!("e{i}"), e.clone().into_bytes()))
        .chain(sim.log_payloads.iter().enumerate().map(|(i, p)| {
            Input::of(
                InputKind::LogsPayload,
                format!("l{i}"),
                p.clone().into_bytes(),
            )
        }))
        .collect()
}

/// Runs the simulator and ingests its payloads into `store` through the
/// Lambdas' code path (`ecs_lake::ingest`), in `batches` calls (as a stream
/// of invocations would: several files per day, duplicate deliveries landing
/// in different files). Returns the ground truth.
pub async fn ingest_simulation<S: ecs_lake::LakeStore>(
    store: &S,
    preset: &ecs_sim::Preset,
    seed: u64,
    batches: usize,
) -> ecs_sim::Truth {
    let sim = ecs_sim::simulate(preset, seed);
    let inputs = simulation_inputs(&sim);
    for chunk in inputs.chunks(inputs.len().div_ceil(batches.max(1)).max(1)) {
        let report = ecs_lake::ingest(store, "test", chunk, 1_800_000_000_000_000).await;
        assert_eq!(report.failed(), 0, "every simulated input is written");
    }
    sim.truth
}
