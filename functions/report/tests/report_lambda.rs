//! The `report` Lambda's work against real components: a simulator lake
//! ingested into the in-process S3 endpoint (s3s) with aws-sdk-s3, read back
//! by DataFusion through object_store, the report written to
//! `reports/<week>/` through the same object store (as the Lambda's `main`
//! does) and read back over HTTP with aws-sdk-s3.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ecs_lake_aws::S3Store;
use ecs_lake_tests::{S3Server, list_keys};
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::report::Period;
use ecs_query_engine::{Lake, LakeConfig};
use report_lambda::{Request, period, summary, write_report};

const HOURS: f64 = 30.0;
const SEED: u64 = 5;

#[test]
fn writes_the_week_to_s3_and_summarises_it() {
    // The planner recurses deeply in debug builds: the CLI's stack size.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(run())
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn run() {
    let server = S3Server::start(&["lake"]);
    let store = S3Store::new(server.client(), "lake", "ecs/prod");
    let truth =
        ecs_lake_tests::ingest_simulation(&store, &ecs_sim::Preset::fleet(HOURS), SEED, 1).await;

    // A scheduled event's payload carries no week: the last complete one.
    let scheduled: Request =
        serde_json::from_str(r#"{"source": "aws.events", "detail-type": "Scheduled Event"}"#)
            .unwrap();
    let monday_w48 = Period::week("2026-W48").unwrap().from;
    assert_eq!(
        period(&scheduled, monday_w48 + 3_600_000_000).unwrap().name,
        "2026-W47"
    );
    let bad: Request = serde_json::from_str(r#"{"week": "2026-47"}"#).unwrap();
    assert!(
        period(&bad, 0)
            .unwrap_err()
            .to_string()
            .contains("2026-W47")
    );

    let lake = Lake::open_with_sdk(&LakeConfig::at("s3://lake/ecs/prod"), &server.sdk_config())
        .await
        .unwrap();
    let week = Period::week("2026-W47").unwrap();
    let (report, written) = write_report(&lake, &lake.store(), &week, &Selector::default())
        .await
        .unwrap();

    let keys = list_keys(&server.client(), "lake", "ecs/prod/reports/").await;
    assert_eq!(
        keys,
        [
            "ecs/prod/reports/2026-W47/report.html",
            "ecs/prod/reports/2026-W47/report.json",
            "ecs/prod/reports/2026-W47/report.md"
        ]
    );
    assert_eq!(written.keys.len(), 3);
    let html = server
        .client()
        .get_object()
        .bucket("lake")
        .key("ecs/prod/reports/2026-W47/report.html")
        .send()
        .await
        .unwrap();
    assert_eq!(html.content_type(), Some("text/html; charset=utf-8"));
    let body = html.body.collect().await.unwrap().into_bytes();
    assert!(body.starts_with(b"<!doctype html>"));
    let json: serde_json::Value = serde_json::from_slice(
        &server
            .client()
            .get_object()
            .bucket("lake")
            .key("ecs/prod/reports/2026-W47/report.json")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();

    // The figures are the simulator's.
    let ooms = truth
        .tasks
        .iter()
        .filter(|t| t.exit_kind == Some("sigkill_oom"))
        .count();
    assert!(ooms > 0);
    assert_eq!(report.totals.oom_kills, ooms);
    assert_eq!(json["totals"]["oom_kills"], ooms);
    assert_eq!(report.totals.tasks, truth.tasks.len());
    // Every service of the preset, the standalone job (by family) included.
    assert_eq!(
        written.services,
        ecs_sim::Preset::fleet(HOURS).services.len()
    );
    assert!(written.critical >= 2, "{written:?}");

    let (subject, message) = summary(&report, "s3://lake/ecs/prod");
    assert!(subject.len() <= 100);
    assert!(subject.contains(&format!("{ooms} OOM kills")), "{subject}");
    assert!(
        message.contains("s3://lake/ecs/prod/reports/2026-W47/report.html"),
        "{message}"
    );
    assert!(
        message.contains("prod/api: ") && message.contains("OOM kills on api:42"),
        "{message}"
    );

    // Re-running the same week overwrites the same three objects.
    write_report(&lake, &lake.store(), &week, &Selector::default())
        .await
        .unwrap();
    assert_eq!(
        list_keys(&server.client(), "lake", "ecs/prod/reports/")
            .await
            .len(),
        3
    );
}
