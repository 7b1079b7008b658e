//! # subscribe-logs: every log group wired, none edited by hand
//!
//! A team with forty services on three clusters should not copy a
//! subscription filter per log group into the template, and a log group
//! created next month should be ingested without a redeploy. This function
//! subscribes, to the `ingest-logs` function:
//!
//! * every log group whose name starts with one of `LOG_GROUP_PREFIXES`
//!   (application logs; default `/ecs/`);
//! * every cluster's Container Insights performance group
//!   (`/aws/ecs/containerinsights/<cluster>/performance`), or only the
//!   clusters named in `CONTAINER_INSIGHTS_CLUSTERS` (`*`: all; empty: none).
//!
//! It runs on a schedule (a sweep of every such group) and on the
//! `CreateLogGroup` CloudTrail event (just the new group), so a group is
//! subscribed within minutes of its creation.
//!
//! **Never in the way**: a log group takes at most two subscription filters.
//! A group with a filter to our destination (whatever its name, e.g. one a
//! user made by hand) is left as it is; our own filter (`FILTER_NAME`) to
//! another destination (a redeployed stack) is updated in place; a group
//! with two filters of the user's is reported, never changed: a user's
//! filter is never removed. Re-running the sweep changes nothing that is
//! already right.
//!
//! **Faults**: a group that cannot be subscribed (limit reached, access
//! denied, throttled past the SDK's retries) is logged and counted in the
//! `SubscriptionFailures` metric (the stack alarms on it), and the others
//! are still subscribed; the invocation itself succeeds, so a broken group
//! does not make the schedule retry everything.

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

/// Container Insights performance groups: `<PREFIX><cluster><SUFFIX>`.
const INSIGHTS_PREFIX: &str = "/aws/ecs/containerinsights/";
const INSIGHTS_SUFFIX: &str = "/performance";

/// What to subscribe, and to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Application log groups: names starting with one of these.
    pub prefixes: Vec<String>,
    pub insights: Insights,
    /// The `ingest-logs` function's ARN.
    pub destination_arn: String,
    /// The name of the filters this function makes.
    pub filter_name: String,
    /// Groups never subscribed: the lake's own functions' logs (ingest-logs
    /// fed its own log would feed itself).
    pub exclude: Vec<String>,
}

/// Which clusters' Container Insights performance groups to subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insights {
    All,
    Clusters(Vec<String>),
}

impl Config {
    /// From the function's environment: `DESTINATION_ARN` (required),
    /// `LOG_GROUP_PREFIXES`, `CONTAINER_INSIGHTS_CLUSTERS`, `FILTER_NAME`,
    /// `EXCLUDE_LOG_GROUPS`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let list = |v: Option<String>| -> Vec<String> {
            v.unwrap_or_default()
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let destination_arn = get("DESTINATION_ARN")
            .filter(|a| a.starts_with("arn:"))
            .ok_or("DESTINATION_ARN must be the ingest-logs function's ARN")?;
        let prefixes = match get("LOG_GROUP_PREFIXES") {
            None => vec!["/ecs/".to_owned()],
            some => list(some),
        };
        if prefixes.iter().any(|p| p == "/") {
            return Err(
                "LOG_GROUP_PREFIXES may not be \"/\": it would subscribe every log group of the account"
                    .into(),
            );
        }
        let clusters = get("CONTAINER_INSIGHTS_CLUSTERS").unwrap_or_else(|| "*".into());
        let insights = if clusters.trim() == "*" {
            Insights::All
        } else {
            Insights::Clusters(list(Some(clusters)))
        };
        Ok(Self {
            prefixes,
            insights,
            destination_arn,
            filter_name: get("FILTER_NAME")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "ecs-postmortem-lake".into()),
            exclude: list(get("EXCLUDE_LOG_GROUPS")),
        })
    }

    /// Whether a log group is one to subscribe.
    pub fn wants(&self, group: &str) -> bool {
        if self.exclude.iter().any(|g| g == group) {
            return false;
        }
        if self.prefixes.iter().any(|p| group.starts_with(p.as_str())) {
            return true;
        }
        let cluster = group
            .strip_prefix(INSIGHTS_PREFIX)
            .and_then(|g| g.strip_suffix(INSIGHTS_SUFFIX))
            .filter(|c| !c.is_empty() && !c.contains('/'));
        match (cluster, &self.insights) {
            (Some(_), Insights::All) => true,
            (Some(c), Insights::Clusters(names)) => names.iter().any(|n| n == c),
            (None, _) => false,
        }
    }

    /// The prefixes to list groups by (DescribeLogGroups takes one prefix).
    fn listing_prefixes(&self) -> Vec<String> {
        let mut out = self.prefixes.clone();
        match &self.insights {
            Insights::All => out.push(INSIGHTS_PREFIX.to_owned()),
            Insights::Clusters(names) => out.extend(
                names
                    .iter()
                    .map(|c| format!("{INSIGHTS_PREFIX}{c}{INSIGHTS_SUFFIX}")),
            ),
        }
        out
    }
}

/// The log group a `CreateLogGroup` event (CloudTrail, through EventBridge)
/// names; `None` for any other event (the schedule's).
pub fn created_group(event: &Value) -> Option<String> {
    let detail = event.get("detail")?;
    (detail.get("eventName")?.as_str()? == "CreateLogGroup")
        .then(|| detail.pointer("/requestParameters/logGroupName")?.as_str())
        .flatten()
        .map(str::to_owned)
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Sweep {
    /// Groups looked at.
    pub groups: usize,
    /// Groups subscribed now (or whose filter of ours was updated).
    pub subscribed: Vec<String>,
    /// Groups already subscribed to the destination.
    pub already: usize,
    /// Groups deleted between listing and subscribing: nothing to do.
    pub gone: usize,
    /// Groups left for the next run: the invocation's time ran out.
    pub deferred: usize,
    /// `group: why` for each group that could not be subscribed.
    pub failures: Vec<String>,
}

/// Subscribes every wanted group (or only `only`, when it is wanted), until
/// `deadline` (the groups left are the next run's: each run starts at
/// another place of the list, so none waits for ever). Never fails: failures
/// are in the result.
pub async fn sweep(
    client: &aws_sdk_cloudwatchlogs::Client,
    config: &Config,
    only: Option<&str>,
    deadline: Option<std::time::Instant>,
) -> Sweep {
    let mut out = Sweep::default();
    let groups: Vec<String> = match only {
        Some(group) => vec![group.to_owned()],
        None => {
            let mut groups = Vec::new();
            for prefix in config.listing_prefixes() {
                let listed = client
                    .describe_log_groups()
                    .log_group_name_prefix(&prefix)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await;
                match listed {
                    Ok(found) => groups.extend(
                        found
                            .iter()
                            .filter_map(|g| g.log_group_name())
                            .map(str::to_owned),
                    ),
                    Err(e) => out.failures.push(format!(
                        "listing {prefix}*: logs:DescribeLogGroups: {}",
                        DisplayErrorContext(&e)
                    )),
                }
            }
            groups
        }
    };
    let mut groups: Vec<String> = groups.into_iter().filter(|g| config.wants(g)).collect();
    groups.sort();
    groups.dedup();
    // Start where the hour says: a sweep cut short by its deadline is
    // continued from elsewhere by the next, not from the same first groups.
    if !groups.is_empty() {
        let hour = ecs_lake::time::now_micros() / 3_600_000_000;
        let start = usize::try_from(hour).unwrap_or_default() % groups.len();
        groups.rotate_left(start);
    }
    let total = groups.len();
    for (i, group) in groups.into_iter().enumerate() {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            out.deferred = total - i;
            warn!(
                deferred = out.deferred,
                "out of time: the rest is the next sweep's"
            );
            break;
        }
        out.groups += 1;
        match subscribe(client, config, &group).await {
            Ok(Done::Already) => out.already += 1,
            Ok(Done::Gone) => out.gone += 1,
            Ok(Done::Subscribed) => {
                info!(group, "subscribed");
                out.subscribed.push(group);
            }
            Err(why) => {
                warn!(group, why, "log group not subscribed");
                out.failures.push(format!("{group}: {why}"));
            }
        }
    }
    info!(
        groups = out.groups,
        subscribed = out.subscribed.len(),
        already = out.already,
        failures = out.failures.len(),
        "log group sweep"
    );
    out
}

enum Done {
    Already,
    Subscribed,
    /// The group no longer exists.
    Gone,
}

/// One group: subscribed, already right, or why not.
async fn subscribe(
    client: &aws_sdk_cloudwatchlogs::Client,
    config: &Config,
    group: &str,
) -> Result<Done, String> {
    let filters = match client
        .describe_subscription_filters()
        .log_group_name(group)
        .send()
        .await
    {
        Ok(filters) => filters,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(Done::Gone),
        Err(e) => {
            return Err(format!(
                "logs:DescribeSubscriptionFilters: {}",
                DisplayErrorContext(&e)
            ));
        }
    };
    let filters = filters.subscription_filters();
    let ours = |f: &&aws_sdk_cloudwatchlogs::types::SubscriptionFilter| {
        f.filter_name() == Some(config.filter_name.as_str())
    };
    let to_us = filters
        .iter()
        .find(|f| f.destination_arn() == Some(config.destination_arn.as_str()));
    match to_us {
        // One a user made to our destination is theirs to shape (it may
        // filter: their choice); ours is re-put only if it filters.
        Some(f) if !ours(&f) || f.filter_pattern().unwrap_or_default().is_empty() => {
            return Ok(Done::Already);
        }
        _ => {}
    }
    if !filters.iter().any(|f| ours(&f)) && filters.len() >= 2 {
        let names: Vec<&str> = filters.iter().filter_map(|f| f.filter_name()).collect();
        return Err(format!(
            "it has two subscription filters already ({}), the most a log group takes; ours was not added and theirs are left alone",
            names.join(", ")
        ));
    }
    // New, or ours re-pointed (a redeployed stack): PutSubscriptionFilter
    // with our name creates or replaces only ours.
    client
        .put_subscription_filter()
        .log_group_name(group)
        .filter_name(&config.filter_name)
        .filter_pattern("")
        .destination_arn(&config.destination_arn)
        .send()
        .await
        .map_err(|e| {
            let limit = e.code() == Some("LimitExceededException");
            if limit {
                "it has two subscription filters already, the most a log group takes".to_owned()
            } else {
                format!("logs:PutSubscriptionFilter: {}", DisplayErrorContext(&e))
            }
        })?;
    Ok(Done::Subscribed)
}

/// The sweep as CloudWatch metrics (embedded metric format, printed to the
/// function's log): `LogGroupsSubscribed` and `SubscriptionFailures` (the
/// stack alarms on the latter).
pub fn metrics(s: &Sweep) -> Value {
    ecs_lake_aws::emf(
        "subscribe-logs",
        &[
            ("LogGroupsSubscribed", s.subscribed.len()),
            ("SubscriptionFailures", s.failures.len()),
            ("LogGroupsDeferred", s.deferred),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_env(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const DEST: (&str, &str) = (
        "DESTINATION_ARN",
        "arn:aws:lambda:eu-west-1:111122223333:function:ingest-logs",
    );

    #[test]
    fn which_groups_are_wanted() {
        let all = config(&[DEST]).unwrap();
        assert!(all.wants("/ecs/api"));
        assert!(all.wants("/aws/ecs/containerinsights/prod/performance"));
        assert!(!all.wants("/aws/ecs/containerinsights/prod/application"));
        assert!(!all.wants("/aws/lambda/ingest-logs"));
        let some = config(&[
            DEST,
            ("LOG_GROUP_PREFIXES", "/app/, /ecs/web"),
            ("CONTAINER_INSIGHTS_CLUSTERS", "prod"),
        ])
        .unwrap();
        assert!(some.wants("/app/x") && some.wants("/ecs/web-2"));
        assert!(!some.wants("/ecs/api"));
        assert!(some.wants("/aws/ecs/containerinsights/prod/performance"));
        assert!(!some.wants("/aws/ecs/containerinsights/staging/performance"));
        let own = config(&[DEST, ("EXCLUDE_LOG_GROUPS", "/ecs/lake-own, x")]).unwrap();
        assert!(!own.wants("/ecs/lake-own") && own.wants("/ecs/lake-own-2"));
        let none = config(&[DEST, ("CONTAINER_INSIGHTS_CLUSTERS", "")]).unwrap();
        assert!(!none.wants("/aws/ecs/containerinsights/prod/performance"));
        assert_eq!(none.listing_prefixes(), ["/ecs/"]);
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(config(&[]).unwrap_err().contains("DESTINATION_ARN"));
        assert!(
            config(&[DEST, ("LOG_GROUP_PREFIXES", "/")])
                .unwrap_err()
                .contains("every log group")
        );
    }

    #[test]
    fn create_log_group_events_name_their_group() {
        let event = serde_json::json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.logs",
            "detail": {"eventSource": "logs.amazonaws.com", "eventName": "CreateLogGroup",
                       "requestParameters": {"logGroupName": "/ecs/new"}}
        });
        assert_eq!(created_group(&event).as_deref(), Some("/ecs/new"));
        let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(created_group(&scheduled), None);
    }
}
