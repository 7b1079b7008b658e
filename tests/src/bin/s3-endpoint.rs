//! A loopback S3 endpoint for benchmarks: serves a directory (each
//! subdirectory a bucket) with SigV4 auth (the test credentials of
//! `ecs-lake-tests`: `AKIAECSLAKETESTKEY00` / `ecs-lake-test-secret-key`,
//! region `us-east-1`), waits `--latency-ms` before answering each request
//! (independently: concurrent requests overlap, as S3's first-byte latency
//! does) and counts what it answered.
//!
//! ```text
//! cargo run --release -p ecs-lake-tests --bin s3-endpoint -- --root DIR --port 9000 --latency-ms 20
//! ```
//!
//! The first line on stdout is the endpoint's URL (`--port 0` picks a free
//! port). Counters, as JSON, at paths no S3 client uses (no latency, not counted):
//!
//! - `GET /__bench/stats`: `{"list", "get", "get_range", "head", "put", "other",
//!   "errors", "bytes", "request_ms", "max_in_flight", "latency_ms"}`: requests by
//!   kind (a GET with `list-type=2` or of a bucket is a LIST; `get_range` counts
//!   the GETs with a Range header, also in `get`), responses with status >= 400,
//!   the bytes of the responses' bodies (their Content-Length), the time requests
//!   spent in the endpoint until their headers were answered, summed (over a
//!   client's wall time: its mean requests in flight), and the most in flight at once;
//! - `POST /__bench/reset`: zeroes them, answering what they were.
//!
//! On SIGINT or SIGTERM it prints the totals on one line and exits.
//! Listings, GETs and HEADs are [`BenchFs`]'s: they cost what S3's do (see there).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use ecs_lake_tests::bench_s3::{BenchFs, RequestKind};
use ecs_lake_tests::{accept_until, s3_service, spawn_connection};

#[derive(Parser)]
#[command(about = "A loopback S3 endpoint with injected latency and request counters")]
struct Args {
    /// The directory to serve: each subdirectory is a bucket.
    #[arg(long)]
    root: std::path::PathBuf,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Milliseconds to wait before answering each request.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Log every request (method, path, status, bytes).
    #[arg(long)]
    verbose: bool,
}

/// What the endpoint answered since the start or the last reset.
#[derive(Default)]
struct Stats {
    list: AtomicU64,
    get: AtomicU64,
    get_range: AtomicU64,
    head: AtomicU64,
    put: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    request_us: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl Stats {
    fn counter(&self, kind: RequestKind) -> &AtomicU64 {
        match kind {
            RequestKind::List => &self.list,
            RequestKind::Get => &self.get,
            RequestKind::Head => &self.head,
            RequestKind::Put => &self.put,
            RequestKind::Other => &self.other,
        }
    }

    /// The counters as JSON; zeroed if `reset`.
    fn json(&self, latency_ms: u64, reset: bool) -> serde_json::Value {
        let read = |c: &AtomicU64| {
            if reset {
                c.swap(0, Ordering::Relaxed)
            } else {
                c.load(Ordering::Relaxed)
            }
        };
        serde_json::json!({
            "list": read(&self.list),
            "get": read(&self.get),
            "get_range": read(&self.get_range),
            "head": read(&self.head),
            "put": read(&self.put),
            "other": read(&self.other),
            "errors": read(&self.errors),
            "bytes": read(&self.bytes),
            "request_ms": read(&self.request_us) / 1000,
            "max_in_flight": if reset {
                self.max_in_flight.swap(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed)
            } else {
                self.max_in_flight.load(Ordering::Relaxed)
            },
            "latency_ms": latency_ms,
        })
    }
}

type Response = http::Response<s3s::Body>;

/// `/__bench/stats` and `/__bench/reset`.
fn bench_route(
    req: &http::Request<hyper::body::Incoming>,
    stats: &Stats,
    latency_ms: u64,
) -> Response {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&http::Method::GET, "/__bench/stats") => (200, stats.json(latency_ms, false)),
        (&http::Method::POST, "/__bench/reset") => (200, stats.json(latency_ms, true)),
        _ => (
            404,
            serde_json::json!({"error": "GET /__bench/stats or POST /__bench/reset"}),
        ),
    };
    let mut response = http::Response::new(s3s::Body::from(body.to_string()));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The length of a response's body: its Content-Length, else what the body knows.
fn body_bytes(response: &Response) -> u64 {
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| hyper::body::Body::size_hint(response.body()).exact())
        .unwrap_or(0)
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(if args.verbose {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        })
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> std::io::Result<()> {
    let s3 = s3_service(BenchFs::new(&args.root)?);
    let stats = Arc::new(Stats::default());
    let latency = Duration::from_millis(args.latency_ms);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("{url}");
    tracing::info!(%url, root = %args.root.display(), latency_ms = args.latency_ms, "serving");

    let serve = {
        let stats = Arc::clone(&stats);
        let (latency_ms, verbose) = (args.latency_ms, args.verbose);
        move |io| {
            let (s3, stats) = (s3.clone(), Arc::clone(&stats));
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (s3, stats) = (s3.clone(), Arc::clone(&stats));
                    async move {
                        if req.uri().path().starts_with("/__bench/") {
                            return Ok(bench_route(&req, &stats, latency_ms));
                        }
                        let kind = RequestKind::of(
                            req.method(),
                            req.uri().path(),
                            req.uri().query().unwrap_or(""),
                        );
                        let ranged = req.headers().contains_key(http::header::RANGE);
                        let what = verbose.then(|| format!("{} {}", req.method(), req.uri()));
                        let began = std::time::Instant::now();
                        let now_in_flight = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                        stats
                            .max_in_flight
                            .fetch_max(now_in_flight, Ordering::Relaxed);
                        tokio::time::sleep(latency).await;
                        let answered = hyper::service::Service::call(&s3, req).await;
                        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                        let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                        stats.request_us.fetch_add(took, Ordering::Relaxed);
                        let response: Response = answered?;
                        let bytes = body_bytes(&response);
                        stats.counter(kind).fetch_add(1, Ordering::Relaxed);
                        if kind == RequestKind::Get && ranged {
                            stats.get_range.fetch_add(1, Ordering::Relaxed);
                        }
                        if response.status().as_u16() >= 400 {
                            stats.errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                status = response.status().as_u16(),
                                ?kind,
                                "error answer"
                            );
                        }
                        stats.bytes.fetch_add(bytes, Ordering::Relaxed);
                        if let Some(what) = what {
                            tracing::debug!(status = response.status().as_u16(), bytes, "{what}");
                        }
                        Ok::<_, s3s::HttpError>(response)
                    }
                });
            spawn_connection(io, service);
        }
    };
    accept_until(listener, serve, shutdown()).await;
    println!("s3-endpoint totals: {}", stats.json(args.latency_ms, false));
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
