//! Lambda entry point: reads the configuration and builds the CloudWatch
//! Logs client once, then sweeps on each invocation (the schedule), or
//! subscribes the one group a `CreateLogGroup` event names.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_lake_aws::init_lambda_tracing();
    let config = Arc::new(subscribe_logs::Config::from_env(|k| std::env::var(k).ok())?);
    // Throttled calls back off and the client slows itself down.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(8))
        .load()
        .await;
    let client = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (client, config) = (client.clone(), Arc::clone(&config));
        async move {
            let only = subscribe_logs::created_group(&event.payload);
            // Stop with time left to report; the rest is the next run's.
            let deadline = ecs_lake_aws::write_deadline(event.context.deadline)
                .into_std()
                .checked_sub(std::time::Duration::from_secs(10));
            let sweep = subscribe_logs::sweep(&client, &config, only.as_deref(), deadline).await;
            println!("{}", subscribe_logs::metrics(&sweep));
            Ok::<_, Error>(sweep)
        }
    }))
    .await
}
