//! Lambda entry point: wires tracing, configuration and the store once, then
//! serves invocations with [`ingest_events::handle`].

use std::sync::Arc;

use ecs_lake::LakeStore;
use ecs_lake::lenient::now_micros;
use ecs_lake_aws::{Config, LakeLocation, LocalStore, S3Store};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_lake_aws::init_lambda_tracing();
    let config = Config::from_env()?;
    match config.lake {
        LakeLocation::S3 { bucket, prefix } => {
            let client = ecs_lake_aws::s3_client_from_env().await;
            serve(S3Store::new(client, bucket, prefix)).await
        }
        LakeLocation::Local(dir) => serve(LocalStore::new(dir)).await,
    }
}

async fn serve<S: LakeStore + 'static>(store: S) -> Result<(), Error> {
    let store = Arc::new(store);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let store = Arc::clone(&store);
        async move {
            let (response, _) =
                ingest_events::handle(store.as_ref(), &event.payload, now_micros()).await?;
            Ok::<_, Error>(response)
        }
    }))
    .await
}
