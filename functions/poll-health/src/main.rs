//! Lambda entry point: wires tracing, the store and the ECS client once, then
//! polls on each (scheduled) invocation with [`poll_health::poll`].

use std::sync::Arc;

use ecs_lake::time::now_micros;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_lake_aws::init_lambda_tracing();
    let clusters = Arc::new(poll_health::clusters_from(
        std::env::var("CLUSTERS").ok().as_deref(),
    )?);
    let store = Arc::new(ecs_lake_aws::store_from_env().await?);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_ecs::Client::new(&sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (store, client, elb, clusters) = (
            Arc::clone(&store),
            client.clone(),
            elb.clone(),
            Arc::clone(&clusters),
        );
        async move {
            let deadline = ecs_lake_aws::write_deadline(event.context.deadline);
            let store = ecs_lake_aws::WithDeadline::new(store.as_ref(), deadline);
            let summary = poll_health::poll(&client, &elb, &store, &clusters, now_micros()).await?;
            Ok::<_, Error>(summary)
        }
    }))
    .await
}
