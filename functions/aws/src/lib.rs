//! # ecs-lake-aws: the thin AWS layer
//!
//! What the pure core must not know about: where bytes go (S3 through
//! `aws-sdk-s3`, or a local directory), configuration from the environment, and
//! tracing setup for Lambda. Lambdas build these once in `main` and pass them
//! to handlers that are generic over [`ecs_lake::LakeStore`].

mod config;
mod deadline;
pub mod metrics;
mod store;

pub use config::{Config, ConfigError, LakeLocation};
pub use deadline::{RESPONSE_MARGIN, WithDeadline, write_deadline};
pub use metrics::emf;
pub use store::{AnyStore, LocalStore, S3Store, content_type};

/// JSON logs for CloudWatch at the level of [`log_filter`], no ANSI.
/// `Targets` rather than `EnvFilter` keeps a regex engine out of the Lambda
/// binary (bench/RESULTS.md: binary size).
pub fn init_lambda_tracing() {
    use tracing_subscriber::prelude::*;
    let filter = log_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_ansi(false)
                .without_time() // CloudWatch stamps every line
                .with_target(false),
        )
        .try_init();
}

/// Which events a Lambda logs, from `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`.
///
/// Lambda's advanced logging controls set `AWS_LAMBDA_LOG_LEVEL` (TRACE,
/// DEBUG, INFO, WARN, ERROR, FATAL; `tracing` has no FATAL, so ERROR) from
/// the function's configuration: when it holds a level it wins, as in
/// `lambda_runtime`'s own subscriber, so the console setting is the one that
/// counts. Otherwise `RUST_LOG` (`info`, or `target=level,...`), otherwise
/// INFO. A value that is not a level counts as unset.
pub fn log_filter(
    lambda_level: Option<&str>,
    rust_log: Option<&str>,
) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let lambda = lambda_level.and_then(|v| match v.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARN" => Some(LevelFilter::WARN),
        "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
        _ => None,
    });
    match lambda {
        Some(level) => Targets::new().with_default(level),
        None => rust_log
            .and_then(|v| v.parse::<Targets>().ok())
            .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO)),
    }
}

/// A yes/no setting from the environment: `true`/`false` (also `1`/`0`,
/// `on`/`off`, `yes`/`no`), `default` when unset.
pub fn flag_from_env(name: &str, default: bool) -> Result<bool, ConfigError> {
    flag(name, std::env::var(name).ok().as_deref(), default)
}

fn flag(name: &str, value: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true" | "1" | "on" | "yes") => Ok(true),
        Some("false" | "0" | "off" | "no") => Ok(false),
        Some(other) => Err(ConfigError(format!("{name}={other:?}: use true or false"))),
    }
}

/// Attempts per S3 request (the first and four retries), with the SDK's
/// exponential backoff and jitter: rides out `SlowDown`, 500s, resets and
/// timeouts. The ingest Lambdas bound the whole by the invocation's
/// deadline with [`WithDeadline`].
pub const S3_ATTEMPTS: u32 = 5;
/// How long one S3 attempt may take before it is retried (a PUT is at most
/// a few MB).
pub const S3_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The lake's S3 retry policy on a client configuration; `attempt_timeout`
/// is [`S3_ATTEMPT_TIMEOUT`] in production (tests shorten it).
pub fn with_lake_retries(
    config: aws_sdk_s3::config::Builder,
    attempt_timeout: std::time::Duration,
) -> aws_sdk_s3::config::Builder {
    config
        .retry_config(
            aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(S3_ATTEMPTS),
        )
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
}

/// An S3 client from the standard AWS chain (env, profile, SSO, instance or
/// task role), with the lake's retry policy.
pub async fn s3_client_from_env() -> aws_sdk_s3::Client {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    s3_client(&sdk, false)
}

/// An S3 client from a loaded AWS configuration, with the lake's retry
/// policy; path-style addressing for S3-compatible endpoints (`path_style`).
pub fn s3_client(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let config = with_lake_retries(aws_sdk_s3::config::Builder::from(sdk), S3_ATTEMPT_TIMEOUT)
        .force_path_style(path_style);
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The lake a Lambda writes to, from `LAKE_BUCKET`/`LAKE_PREFIX` or `LAKE_DIR`.
pub async fn store_from_env() -> Result<AnyStore, ConfigError> {
    Ok(match Config::from_env()?.lake {
        LakeLocation::S3 { bucket, prefix } => {
            AnyStore::S3(S3Store::new(s3_client_from_env().await, bucket, prefix))
        }
        LakeLocation::Local(dir) => AnyStore::Local(LocalStore::new(dir)),
    })
}

#[cfg(test)]
mod flag_tests {
    #[test]
    fn flags() {
        assert!(super::flag("X", None, true).unwrap());
        assert!(!super::flag("X", Some("OFF"), true).unwrap());
        assert!(super::flag("X", Some("1"), false).unwrap());
        let e = super::flag("REDACT_SECRETS", Some("maybe"), true).unwrap_err();
        assert!(e.to_string().contains("REDACT_SECRETS"));
    }
}

#[cfg(test)]
mod log_filter_tests {
    use super::log_filter;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn lambda_level_first_then_rust_log_then_info() {
        let level = |lambda, rust_log| log_filter(lambda, rust_log).default_level();
        assert_eq!(level(None, None), Some(LevelFilter::INFO));
        assert_eq!(level(None, Some("debug")), Some(LevelFilter::DEBUG));
        assert_eq!(level(Some("WARN"), Some("debug")), Some(LevelFilter::WARN));
        assert_eq!(level(Some("TRACE"), None), Some(LevelFilter::TRACE));
        assert_eq!(level(Some("FATAL"), None), Some(LevelFilter::ERROR));
        assert_eq!(level(Some("error"), None), Some(LevelFilter::ERROR));
        assert_eq!(
            level(Some("verbose"), Some("warn")),
            Some(LevelFilter::WARN)
        );
        assert_eq!(level(Some(""), None), Some(LevelFilter::INFO));
        assert_eq!(level(None, Some("x=loud")), Some(LevelFilter::INFO));
    }

    #[test]
    fn rust_log_keeps_its_per_target_levels() {
        let f = log_filter(None, Some("warn,ingest_logs=debug"));
        assert!(f.would_enable("ingest_logs", &tracing::Level::DEBUG));
        assert!(!f.would_enable("ecs_lake", &tracing::Level::INFO));
        // The console's level replaces them.
        let f = log_filter(Some("INFO"), Some("warn,ingest_logs=debug"));
        assert!(!f.would_enable("ingest_logs", &tracing::Level::DEBUG));
        assert!(f.would_enable("ecs_lake", &tracing::Level::INFO));
    }
}
