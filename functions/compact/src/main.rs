//! Lambda entry point: wires tracing and the store once, then compacts the
//! open day and the recent closed ones on each (hourly) invocation with
//! [`compact_lambda::compact_recent`]. `COMPACT_DAYS` (default 3) is how many
//! days back it looks, so a missed run is caught up by the next.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_lake_aws::init_lambda_tracing();
    let days_back: u32 = match std::env::var("COMPACT_DAYS") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("COMPACT_DAYS={v:?} is not a number of days"))?,
        Err(_) => 3,
    };
    let store = Arc::new(ecs_lake_aws::store_from_env().await?);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let store = Arc::clone(&store);
        async move {
            let today = ecs_lake::time::today();
            let summary = compact_lambda::compact_recent(store.as_ref(), &today, days_back).await?;
            Ok::<_, Error>(summary)
        }
    }))
    .await
}
