//! The log group subscriber against a loopback CloudWatch Logs endpoint
//! scripting an account's groups and filters: the real aws-sdk-cloudwatchlogs
//! client builds, signs and parses every call.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use ecs_lake_tests::JsonApiServer;
use ecs_lake_tests::recorded::{DEST, LogsAccount, OURS};
use serde_json::{Value, json};
use subscribe_logs::{Config, Insights, sweep};

fn config() -> Config {
    Config {
        prefixes: vec!["/ecs/".into()],
        insights: Insights::All,
        destination_arn: DEST.into(),
        filter_name: OURS.into(),
        exclude: Vec::new(),
    }
}

#[tokio::test]
async fn every_wanted_group_is_subscribed_and_no_user_filter_is_touched() {
    let account = Arc::new(LogsAccount::new());
    let a = account.clone();
    let api = JsonApiServer::start(Arc::new(move |t: &str, b: &Value| a.answer(t, b)));
    let client = api.logs_client();

    let first = sweep(&client, &config(), None, None).await;
    // 8 named + 55 numbered /ecs/ groups, and prod's performance group.
    assert_eq!(first.groups, 64);
    // Deleted between listing and describing: nothing to do, no failure.
    assert_eq!(first.gone, 1);
    // Already right: ours (web) and a user's own filter to our destination.
    assert_eq!(first.already, 2);
    // The worker group has two filters of the user's: reported, left alone.
    assert_eq!(first.failures.len(), 1, "{:?}", first.failures);
    assert!(
        first.failures[0].starts_with(
            "/ecs/worker: it has two subscription filters already (to-splunk, to-datadog)"
        ),
        "{:?}",
        first.failures
    );
    let mut subscribed = first.subscribed.clone();
    subscribed.sort();
    assert_eq!(subscribed.len(), 60);
    for g in [
        "/ecs/api",
        "/ecs/batch",
        "/ecs/moved",
        "/ecs/filtered",
        "/ecs/svc-07",
        "/aws/ecs/containerinsights/prod/performance",
    ] {
        assert!(subscribed.iter().any(|s| s == g), "{g} in {subscribed:?}");
    }

    let filters = account.filters.lock().unwrap().clone();
    let names = |g: &str| -> Vec<(String, String)> {
        filters[g]
            .iter()
            .map(|f| {
                (
                    f["filterName"].as_str().unwrap().to_owned(),
                    f["destinationArn"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // The user's filters stay; ours is added beside one, or re-pointed.
    assert_eq!(names("/ecs/batch")[0].0, "to-datadog");
    assert_eq!(names("/ecs/batch")[1], (OURS.to_owned(), DEST.to_owned()));
    assert_eq!(names("/ecs/moved"), [(OURS.to_owned(), DEST.to_owned())]);
    assert_eq!(filters["/ecs/filtered"][0]["filterPattern"], "");
    assert_eq!(names("/ecs/worker").len(), 2);
    assert!(names("/ecs/worker").iter().all(|(n, _)| n != OURS));
    assert_eq!(
        names("/ecs/handmade"),
        [("my-own-name".to_owned(), DEST.to_owned())]
    );
    // Not wanted: other Container Insights groups, other services' groups.
    assert!(filters["/aws/ecs/containerinsights/prod/application"].is_empty());
    assert!(filters["/aws/lambda/something"].is_empty());
    assert_eq!(account.count("DeleteSubscriptionFilter"), 0);

    // Again: nothing changes, nothing is put.
    let puts = account.count("PutSubscriptionFilter");
    let second = sweep(&client, &config(), None, None).await;
    assert_eq!(account.count("PutSubscriptionFilter"), puts);
    assert!(second.subscribed.is_empty());
    assert_eq!((second.already, second.gone), (62, 1));
    assert_eq!(second.failures.len(), 1);
    assert_eq!(*account.filters.lock().unwrap(), filters);

    // The metric the stack alarms on.
    let m = subscribe_logs::metrics(&second);
    assert_eq!(m["SubscriptionFailures"], 1);
    assert_eq!(m["LogGroupsSubscribed"], 0);
}

#[tokio::test]
async fn a_created_group_is_subscribed_alone_and_only_when_wanted() {
    let account = Arc::new(LogsAccount::new());
    account
        .filters
        .lock()
        .unwrap()
        .insert("/ecs/new-service".into(), vec![]);
    let a = account.clone();
    let api = JsonApiServer::start(Arc::new(move |t: &str, b: &Value| a.answer(t, b)));
    let client = api.logs_client();
    let event = |group: &str| {
        json!({
            "version": "0", "id": "c3d4", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.logs", "account": "123456789012", "time": "2026-11-27T02:00:00Z",
            "region": "us-west-2", "resources": [],
            "detail": {"eventVersion": "1.08", "eventSource": "logs.amazonaws.com",
                       "eventName": "CreateLogGroup", "awsRegion": "us-west-2",
                       "requestParameters": {"logGroupName": group}}
        })
    };
    let only = subscribe_logs::created_group(&event("/ecs/new-service"));
    let s = sweep(&client, &config(), only.as_deref(), None).await;
    assert_eq!(s.subscribed, ["/ecs/new-service"]);
    assert_eq!(account.count("DescribeLogGroups"), 0);
    assert_eq!(account.count("DescribeSubscriptionFilters"), 1);

    let only = subscribe_logs::created_group(&event("/aws/lambda/something"));
    let s = sweep(&client, &config(), only.as_deref(), None).await;
    assert_eq!((s.groups, s.subscribed.len()), (0, 0));
    assert_eq!(account.count("DescribeSubscriptionFilters"), 1);
}

#[tokio::test]
async fn the_lake_own_groups_are_never_subscribed_and_a_late_run_defers_the_rest() {
    let account = Arc::new(LogsAccount::new());
    let a = account.clone();
    let api = JsonApiServer::start(Arc::new(move |t: &str, b: &Value| a.answer(t, b)));
    let client = api.logs_client();
    let own = Config {
        exclude: vec!["/ecs/svc-00".into()],
        ..config()
    };
    // No time left: nothing is described, everything is the next run's.
    let late = sweep(&client, &own, None, Some(std::time::Instant::now())).await;
    assert_eq!((late.groups, late.deferred), (0, 63));
    assert_eq!(account.count("DescribeSubscriptionFilters"), 0);
    let s = sweep(&client, &own, None, None).await;
    assert_eq!(s.groups, 63);
    assert!(!s.subscribed.iter().any(|g| g == "/ecs/svc-00"));
    assert!(account.filters.lock().unwrap()["/ecs/svc-00"].is_empty());
}
