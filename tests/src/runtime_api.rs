//! A built Lambda artifact run as Lambda runs it: the `bootstrap` executable
//! as a process with the environment Lambda gives a `provided.al2023`
//! function, fetching its invocations from a Lambda Runtime API on loopback
//! (the documented HTTP interface: `GET /2018-06-01/runtime/invocation/next`,
//! `POST .../invocation/{id}/response`, `.../error`, `/runtime/init/error`).
//! An arm64 `bootstrap` on another machine runs under `qemu-aarch64` with the
//! Debian arm64 C library (`libc6-arm64-cross`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

/// Where qemu-user finds the arm64 dynamic loader and C library.
pub const ARM64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// What an invocation answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `POST /invocation/{id}/response`: the handler's result.
    Response(Value),
    /// `POST /invocation/{id}/error`: the handler's error (`errorType`, `errorMessage`).
    Error(Value),
}

struct Pending {
    id: String,
    body: String,
    deadline_ms: u128,
}

#[derive(Default)]
struct Shared {
    /// Invocations not yet fetched by the function.
    queue: Mutex<std::collections::VecDeque<Pending>>,
    queued: tokio::sync::Notify,
    /// Answers awaited, by request id.
    waiting: Mutex<HashMap<String, tokio::sync::oneshot::Sender<Answer>>>,
    /// When the function first asked for an invocation: its init is done.
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
}

/// The Runtime API on a loopback port.
pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

const PREFIX: &str = "/2018-06-01/runtime/";

impl RuntimeApi {
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let (addr, stop) = crate::serve_loopback(move |io| {
            let state = Arc::clone(&state);
            let service = hyper::service::service_fn(move |req: http::Request<_>| {
                serve(Arc::clone(&state), req)
            });
            crate::spawn_connection(io, service);
        });
        Self {
            address: addr.to_string(),
            shared,
            _shutdown: stop,
        }
    }
}

async fn serve(
    state: Arc<Shared>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, http::Error> {
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return reply(404, "not a Runtime API path");
    };
    if route == "invocation/next" {
        state
            .first_next
            .lock()
            .expect("first")
            .get_or_insert_with(Instant::now);
        let pending = loop {
            let notified = state.queued.notified();
            if let Some(p) = state.queue.lock().expect("queue").pop_front() {
                break p;
            }
            notified.await;
        };
        return http::Response::builder()
            .status(200)
            .header("Lambda-Runtime-Aws-Request-Id", &pending.id)
            .header(
                "Lambda-Runtime-Deadline-Ms",
                pending.deadline_ms.to_string(),
            )
            .header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:111122223333:function:artifact-under-test",
            )
            .header(
                "Lambda-Runtime-Trace-Id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            )
            .body(Full::new(Bytes::from(pending.body)));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    if route == "init/error" {
        *state.init_error.lock().expect("init error") = Some(json.to_string());
        return reply(202, "");
    }
    let answer = match route.strip_prefix("invocation/") {
        Some(rest) => match rest.rsplit_once('/') {
            Some((id, "response")) => Some((id.to_owned(), Answer::Response(json))),
            Some((id, "error")) => Some((id.to_owned(), Answer::Error(json))),
            _ => None,
        },
        None => None,
    };
    let Some((id, answer)) = answer else {
        return reply(404, "unknown Runtime API route");
    };
    match state.waiting.lock().expect("waiting").remove(&id) {
        Some(tx) => {
            let _ = tx.send(answer);
            reply(202, "")
        }
        None => reply(400, "unknown request id"),
    }
}

fn reply(status: u16, text: &str) -> Result<http::Response<Full<Bytes>>, http::Error> {
    http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(text.to_owned())))
}

/// A function's configuration as the template sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub memory_mb: u64,
    pub timeout: Duration,
    /// The names of its environment variables (the template's global ones included).
    pub env: Vec<String>,
}

/// Reads a function's `MemorySize`, `Timeout` and environment variable names
/// from a SAM template (the function's own properties over `Globals`). The
/// template's layout is the repository's: two-space indentation.
pub fn settings(template: &str, logical_id: &str) -> Option<Settings> {
    let block = |start: &str, indent: usize| -> Option<Vec<&str>> {
        let at = template.find(start)?;
        Some(
            template[at + start.len()..]
                .lines()
                .skip(1)
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .collect(),
        )
    };
    let globals = block("\nGlobals:\n  Function:", 2)?;
    let function = block(&format!("\n  {logical_id}:"), 2)?;
    let scalar = |lines: &[&str], key: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(key)?.trim().parse::<u64>().ok())
    };
    let variables = |lines: &[&str]| -> Vec<String> {
        let Some(at) = lines.iter().position(|l| l.trim() == "Variables:") else {
            return Vec::new();
        };
        let indent = lines[at].len() - lines[at].trim_start().len();
        lines[at + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .filter(|l| l.len() - l.trim_start().len() == indent + 2)
            .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_owned()))
            .filter(|k| !k.starts_with('#'))
            .collect()
    };
    let memory_mb = scalar(&function, "MemorySize:").or(scalar(&globals, "MemorySize:"))?;
    let timeout = scalar(&function, "Timeout:").or(scalar(&globals, "Timeout:"))?;
    let mut env = variables(&globals);
    env.extend(variables(&function));
    env.sort();
    env.dedup();
    Some(Settings {
        memory_mb,
        timeout: Duration::from_secs(timeout),
        env,
    })
}

/// The machine an ELF executable is built for, from its header (`e_machine`).
pub fn elf_machine(path: &Path) -> Result<&'static str, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Err(format!("{} is not an ELF executable", path.display()));
    }
    Ok(match u16::from_le_bytes([bytes[18], bytes[19]]) {
        0xB7 => "aarch64",
        0x3E => "x86_64",
        _ => "other",
    })
}

/// A launched artifact.
pub struct Function {
    child: tokio::process::Child,
    api: RuntimeApi,
    started: Instant,
    timeout: Duration,
    output: Arc<Mutex<String>>,
    next_id: u32,
}

impl Function {
    /// Starts `bootstrap` (under `qemu-aarch64` when it is an arm64 binary on
    /// another machine) with Lambda's environment for a function of
    /// `settings`, and `env` (the template's variables and the endpoints).
    pub fn launch(bootstrap: &Path, settings: &Settings, env: &[(String, String)]) -> Self {
        let api = RuntimeApi::start();
        let machine = elf_machine(bootstrap).unwrap_or_else(|e| panic!("{e}"));
        let mut command = if machine == "aarch64" && std::env::consts::ARCH != "aarch64" {
            let mut c = tokio::process::Command::new("qemu-aarch64");
            c.arg("-L").arg(ARM64_SYSROOT).arg(bootstrap);
            c
        } else {
            tokio::process::Command::new(bootstrap)
        };
        let name = bootstrap
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Lambda's reserved variables (AWS Lambda Developer Guide, "Defined
        // runtime environment variables"), credentials as a role gives them.
        command
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                settings.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/27/[$LATEST]2f6d4b1e0c9a4f1d8e7b6a5c4d3e2f10",
            )
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env(
                "LAMBDA_TASK_ROOT",
                bootstrap.parent().unwrap_or(Path::new("/")),
            )
            .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
            .env("_HANDLER", "bootstrap")
            .env("AWS_REGION", crate::REGION)
            .env("AWS_DEFAULT_REGION", crate::REGION)
            .env("AWS_ACCESS_KEY_ID", crate::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", crate::SECRET_KEY)
            .env("AWS_SESSION_TOKEN", "artifact-test-session-token");
        for (k, v) in env {
            command.env(k, v);
        }
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bootstrap.display()));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut out = output.lock().expect("output");
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Self {
            child,
            api,
            started,
            timeout: settings.timeout,
            output,
            next_id: 0,
        }
    }

    /// Invokes the function with `event`; fails when it exits, reports an
    /// init error or does not answer within its configured timeout.
    pub async fn invoke(&mut self, event: &Value) -> Result<Answer, String> {
        self.next_id += 1;
        let id = format!("8476a536-e9f4-11e8-9739-2dfe598c{:04x}", self.next_id);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = &self.api.shared;
        shared
            .waiting
            .lock()
            .expect("waiting")
            .insert(id.clone(), tx);
        let deadline = SystemTime::now() + self.timeout;
        shared.queue.lock().expect("queue").push_back(Pending {
            id,
            body: event.to_string(),
            deadline_ms: deadline
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default(),
        });
        shared.queued.notify_waiters();
        tokio::select! {
            answer = rx => answer.map_err(|_| "the Runtime API dropped the invocation".to_owned()),
            status = self.child.wait() => Err(format!(
                "the function exited ({status:?}) before answering; init error: {:?}\n{}",
                shared.init_error.lock().expect("init error"),
                self.output()
            )),
            () = tokio::time::sleep(self.timeout) => Err(format!(
                "no answer within the configured timeout ({:?})\n{}",
                self.timeout,
                self.output()
            )),
        }
    }

    /// From the start of the process to its first request for an
    /// invocation: the cold init (under qemu when emulated).
    pub fn init_duration(&self) -> Option<Duration> {
        let first = (*self.api.shared.first_next.lock().expect("first"))?;
        Some(first - self.started)
    }

    /// The process's peak resident memory (`VmHWM`), in KiB; under qemu,
    /// the emulator's own memory included (an upper bound for the function's).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// What the function printed so far (its logs: stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }
}

/// The directory `sam build` writes the functions to, `sam/.aws-sam/build`
/// unless `ECS_LAKE_ARTIFACTS` names another.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("ECS_LAKE_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../sam/.aws-sam/build"))
}

/// The `bootstrap` `sam build` wrote for a function of the template: under
/// its `CodeUri` in the built template, which is the logical id, or
/// `<first id>-Shared` for functions SAM built once together (the report
/// and the watch).
pub fn built_bootstrap(logical_id: &str) -> PathBuf {
    let dir = artifacts_dir();
    let built = std::fs::read_to_string(dir.join("template.yaml")).unwrap_or_default();
    let code_uri = built
        .split(&format!("\n  {logical_id}:\n"))
        .nth(1)
        .and_then(|block| {
            block
                .lines()
                .take_while(|l| l.is_empty() || l.starts_with("    "))
                .find_map(|l| l.trim().strip_prefix("CodeUri: "))
        })
        .unwrap_or(logical_id);
    dir.join(code_uri).join("bootstrap")
}
