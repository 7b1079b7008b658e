//! Lambda entry point: wires tracing and the store once, then serves
//! invocations with [`ingest_events::handle`], writes bounded by the
//! invocation's deadline.

use std::sync::Arc;

use ecs_lake::time::now_micros;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_lake_aws::init_lambda_tracing();
    let store = Arc::new(ecs_lake_aws::store_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let store = Arc::clone(&store);
        async move {
            let deadline = ecs_lake_aws::write_deadline(event.context.deadline);
            let store = ecs_lake_aws::WithDeadline::new(store.as_ref(), deadline);
            let (response, _) = ingest_events::handle(&store, &event.payload, now_micros()).await?;
            Ok::<_, Error>(response)
        }
    }))
    .await
}
