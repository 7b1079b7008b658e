//! The log group subscriber against a loopback CloudWatch Logs endpoint
//! scripting an account's groups and filters: the real aws-sdk-cloudwatchlogs
//! client builds, signs and parses every call.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ecs_lake_tests::JsonApiServer;
use serde_json::{Value, json};
use subscribe_logs::{Config, Insights, sweep};

const DEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:lake-IngestLogs";
const OLD_DEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:old-IngestLogs";
const OURS: &str = "ecs-postmortem-lake";

/// The scripted account: groups and their filters, changed by
/// PutSubscriptionFilter as CloudWatch Logs would (same name: replaced;
/// a third filter: LimitExceededException).
struct Account {
    filters: Mutex<BTreeMap<String, Vec<Value>>>,
    calls: Mutex<Vec<(String, Value)>>,
    /// PutSubscriptionFilter on this group is throttled once.
    throttle_once: Mutex<Option<String>>,
}

impl Account {
    fn new() -> Self {
        let f = |name: &str, dest: &str| json!({"filterName": name, "destinationArn": dest, "filterPattern": ""});
        let mut filters = BTreeMap::new();
        for (group, list) in [
            ("/ecs/api", vec![]),
            ("/ecs/web", vec![f(OURS, DEST)]),
            (
                "/ecs/worker",
                vec![
                    f(
                        "to-splunk",
                        "arn:aws:firehose:us-west-2:123456789012:deliverystream/splunk",
                    ),
                    f(
                        "to-datadog",
                        "arn:aws:lambda:us-west-2:123456789012:function:datadog",
                    ),
                ],
            ),
            (
                "/ecs/batch",
                vec![f(
                    "to-datadog",
                    "arn:aws:lambda:us-west-2:123456789012:function:datadog",
                )],
            ),
            ("/ecs/handmade", vec![f("my-own-name", DEST)]),
            ("/ecs/moved", vec![f(OURS, OLD_DEST)]),
            // Ours, but filtering (edited by hand): put back to every event.
            (
                "/ecs/filtered",
                vec![json!({"filterName": OURS, "destinationArn": DEST, "filterPattern": "ERROR"})],
            ),
            ("/aws/ecs/containerinsights/prod/performance", vec![]),
            ("/aws/ecs/containerinsights/prod/application", vec![]),
            ("/aws/lambda/something", vec![]),
        ] {
            filters.insert(group.to_owned(), list);
        }
        // Enough groups under /ecs/ to page DescribeLogGroups.
        for i in 0..55 {
            filters.insert(format!("/ecs/svc-{i:02}"), vec![]);
        }
        Self {
            filters: Mutex::new(filters),
            calls: Mutex::new(Vec::new()),
            throttle_once: Mutex::new(Some("/ecs/svc-07".into())),
        }
    }

    /// Listed by DescribeLogGroups but deleted before it is described.
    const GHOST: &'static str = "/ecs/ghost";

    fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == op)
            .count()
    }

    fn answer(&self, target: &str, body: &Value) -> (u16, String) {
        let op = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.calls.lock().unwrap().push((op.clone(), body.clone()));
        let error = |kind: &str, message: &str| {
            (400, json!({"__type": kind, "message": message}).to_string())
        };
        let mut filters = self.filters.lock().unwrap();
        match op.as_str() {
            "DescribeLogGroups" => {
                let prefix = body["logGroupNamePrefix"].as_str().unwrap_or_default();
                let ghost = Self::GHOST.to_owned();
                let mut names: Vec<&String> =
                    filters.keys().filter(|g| g.starts_with(prefix)).collect();
                if ghost.starts_with(prefix) {
                    names.push(&ghost);
                }
                // Pages of 50, as the API's default limit.
                let from: usize = body["nextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                let page: Vec<Value> = names
                    .iter()
                    .skip(from)
                    .take(50)
                    .map(|g| json!({"logGroupName": g}))
                    .collect();
                let mut answer = json!({"logGroups": page});
                if from + 50 < names.len() {
                    answer["nextToken"] = (from + 50).to_string().into();
                }
                (200, answer.to_string())
            }
            "DescribeSubscriptionFilters" => {
                let group = body["logGroupName"].as_str().unwrap();
                match filters.get(group) {
                    Some(list) => (200, json!({"subscriptionFilters": list}).to_string()),
                    None => error(
                        "ResourceNotFoundException",
                        "The specified log group does not exist.",
                    ),
                }
            }
            "PutSubscriptionFilter" => {
                let group = body["logGroupName"].as_str().unwrap().to_owned();
                let mut throttle = self.throttle_once.lock().unwrap();
                if throttle.as_deref() == Some(group.as_str()) {
                    *throttle = None;
                    return error("ThrottlingException", "Rate exceeded");
                }
                let list = filters.get_mut(&group).unwrap();
                let name = body["filterName"].as_str().unwrap();
                let new = json!({"filterName": name, "destinationArn": body["destinationArn"], "filterPattern": body["filterPattern"]});
                if let Some(existing) = list.iter_mut().find(|f| f["filterName"] == name) {
                    *existing = new;
                } else if list.len() >= 2 {
                    return error("LimitExceededException", "Resource limit exceeded.");
                } else {
                    list.push(new);
                }
                (200, "{}".to_owned())
            }
            other => error("UnknownOperationException", other),
        }
    }
}

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
    let account = Arc::new(Account::new());
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
    let account = Arc::new(Account::new());
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
    let account = Arc::new(Account::new());
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
