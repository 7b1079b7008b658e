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
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (client, config) = (client.clone(), Arc::clone(&config));
        async move {
            let only = subscribe_logs::created_group(&event.payload);
            let sweep = subscribe_logs::sweep(&client, &config, only.as_deref()).await;
            println!("{}", subscribe_logs::metrics(&sweep));
            Ok::<_, Error>(sweep)
        }
    }))
    .await
}
