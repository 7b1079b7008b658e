//! Lambda entry point: reads the configuration once (the lake from
//! `LAKE_BUCKET`/`LAKE_PREFIX`, `JOB`, the optional `SNS_TOPIC_ARN` and
//! `WEBHOOK_SECRET_ARN`, the watch's settings, the report's engine:
//! `QUERY_ENGINE` and `ATHENA_*`) and loads the AWS configuration once (the lake's reads
//! and writes and SNS share it); then on each scheduled invocation either
//! writes the weekly report with [`report_lambda::write_report`] and
//! publishes [`report_lambda::summary`] (`JOB` unset or `report`), or runs
//! one evaluation of the deployment watch, [`report_lambda::watch`]
//! (`JOB=watch`).

use ecs_lake_aws::{Config, LakeLocation};
use ecs_query_engine::athena::Athena;
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::{Lake, LakeConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use report_lambda::{
    Outlets, Request, athena_settings, period, report_week, summary, watch, watch_settings,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Kept free at the end of a report invocation: writing the three files,
/// publishing the summary, stopping a running Athena query.
const MARGIN: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_lake_aws::init_lambda_tracing();
    let location = match Config::from_env()?.lake {
        LakeLocation::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}"),
        LakeLocation::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        LakeLocation::Local(dir) => dir.display().to_string(),
    };
    let topic = std::env::var("SNS_TOPIC_ARN")
        .ok()
        .filter(|t| !t.is_empty());
    let job = std::env::var("JOB").unwrap_or_default();
    let watching = match job.as_str() {
        "" | "report" => false,
        "watch" => true,
        other => return Err(format!("JOB={other:?}: set report or watch").into()),
    };
    let settings = watch_settings(|name| std::env::var(name).ok())?;
    // The watch always runs in the Lambda; the report on Athena when set.
    let athena = if watching {
        None
    } else {
        athena_settings(|name| std::env::var(name).ok())?
    };
    // The webhook's URL is a credential: kept in Secrets Manager, read per
    // evaluation (a rotated URL is used at once), never logged.
    let webhook_secret = std::env::var("WEBHOOK_SECRET_ARN")
        .ok()
        .filter(|s| !s.is_empty());
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let http = reqwest::Client::new();
    let lake_config = LakeConfig::at(location.clone());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (sdk, sns, topic, lake_config, location) = (
            sdk.clone(),
            sns.clone(),
            topic.clone(),
            lake_config.clone(),
            location.clone(),
        );
        let (secrets, http, webhook_secret) =
            (secrets.clone(), http.clone(), webhook_secret.clone());
        // One client per invocation, so its usage is this report's.
        let athena = athena
            .clone()
            .map(|settings| Arc::new(Athena::from_sdk(&sdk, settings)));
        async move {
            let now = ecs_lake::time::now_micros();
            // Opened per invocation: each run must see the files written
            // since the last. Reads and writes go through the lake's one
            // object store.
            let lake = Lake::open_with_sdk(&lake_config, &sdk).await?;
            if watching {
                let url = match &webhook_secret {
                    Some(secret) => Some(
                        ecs_query_engine::watch::webhook_url(&secrets, secret)
                            .await
                            .map_err(report_lambda::ReportError::Watch)?,
                    ),
                    None => None,
                };
                let outlets = Outlets {
                    sns: topic.as_deref().map(|t| (&sns, t)),
                    webhook: url.as_deref().map(|u| (&http, u)),
                };
                let watched = watch(&lake, &outlets, now, &settings).await?;
                return Ok::<_, Error>(json!(watched));
            }
            let request: Request = serde_json::from_value(event.payload).unwrap_or_default();
            let period = period(&request, now)?;
            let selector = request
                .service
                .as_deref()
                .map(Selector::parse)
                .unwrap_or_default();
            // What is left of the invocation, less a margin to write the
            // files, publish and stop a running Athena query.
            let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
            let time_left = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(MARGIN);
            let (report, written) =
                report_week(&lake, &lake.store(), athena, &period, &selector, time_left).await?;
            if let Some(topic) = &topic {
                let (subject, message) = summary(&report, &location);
                sns.publish()
                    .topic_arn(topic)
                    .subject(subject)
                    .message(message)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "publishing the summary to {topic}: {}",
                            aws_sdk_sns::error::DisplayErrorContext(e)
                        )
                    })?;
            }
            Ok(json!(written))
        }
    }))
    .await
}
