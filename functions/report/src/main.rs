//! Lambda entry point: reads the configuration once (the lake from
//! `LAKE_BUCKET`/`LAKE_PREFIX`, the optional `SNS_TOPIC_ARN`) and loads the
//! AWS configuration once (the lake's reads and writes and SNS share it),
//! then on each (weekly, scheduled) invocation writes the report with
//! [`report_lambda::write_report`] and publishes [`report_lambda::summary`].

use ecs_lake_aws::{Config, LakeLocation};
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::{Lake, LakeConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use report_lambda::{Request, period, summary, write_report};
use serde_json::Value;

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
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let lake_config = LakeConfig::at(location.clone());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (sdk, sns, topic, lake_config, location) = (
            sdk.clone(),
            sns.clone(),
            topic.clone(),
            lake_config.clone(),
            location.clone(),
        );
        async move {
            let request: Request = serde_json::from_value(event.payload).unwrap_or_default();
            let now = ecs_lake::time::now_micros();
            let period = period(&request, now)?;
            let selector = request
                .service
                .as_deref()
                .map(Selector::parse)
                .unwrap_or_default();
            // Opened per invocation: a weekly run must see the files written
            // since the last. Reads and the report's writes go through the
            // lake's one object store.
            let lake = Lake::open_with_sdk(&lake_config, &sdk).await?;
            let (report, written) = write_report(&lake, &lake.store(), &period, &selector).await?;
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
            Ok::<_, Error>(written)
        }
    }))
    .await
}
