//! Day one: what AWS still holds, read into the lake
//! (`ecs-query backfill --from-aws`).
//!
//! Per cluster (those named, else every one `ListClusters` returns):
//! * its tasks, running and stopped (`ListTasks` for both desired statuses,
//!   `DescribeTasks` 100 at a time): stopped tasks stay describable for about
//!   an hour, and the answer is often the only record of them. Each task of
//!   the answer, as ECS sent it, is one input read as a task object (the
//!   same rows a task state change gives);
//! * the configuration behind those tasks: [`crate::capture`] without a
//!   budget (task definitions, services, target groups, deployment history);
//! * its Container Insights performance log group and lifecycle-event log
//!   group, and every application log group whose name starts with one of
//!   the prefixes (`DescribeLogGroups`), filtered to the crash signatures'
//!   phrases: `FilterLogEvents` over every part of `[since, now - 15 min)`
//!   no earlier run read, one UTC day at a time. Each answer page, as
//!   CloudWatch Logs sent it, is read as a `filter-log-events` output of its
//!   group (with the account of the group's ARN, as the subscription's
//!   `owner`), a day's pages written together.
//!
//! **Idempotent**: a task is written once per (`version`, `lastStatus`) and a
//! log window once, remembered by empty marker objects under [`MARKERS`],
//! written only after what they stand for is written. A window read again
//! after an interruption (it had no marker yet) gives rows equal to those
//! written before, which compaction removes. **Resumable**: a run reads only
//! the windows no marker covers, so an interrupted one goes on where it
//! stopped and an earlier `since` reads only what is older. The last 15
//! minutes are left to the next run ([`LATE_MS`]): a line delivered later
//! than that after its own time is missed. **Read-only** towards AWS, and
//! **never stops at one failure**: a denied or failing call is reported with
//! the IAM action it needs, and the rest goes on. Throttling is the SDK's
//! (retries with backoff, set by the caller's client configuration); calls
//! are made one at a time per cluster and per log group, four log groups at
//! a time.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ecs::types::DesiredStatus;
use bytes::Bytes;
use ecs_lake::envelope::{LogNames, split_file_named};
use ecs_lake::lake::LakeFiles;
use ecs_lake::sources::logs::signature;
use ecs_lake::time::Micros;
use ecs_lake::{Input, Outcome, ingest};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::{info, warn};

use crate::RawBody;
use crate::capture::{self, Capture, Limits, Seen};

/// The ingester name in object keys and quarantine rows.
pub const SOURCE: &str = "backfill";

/// Where a backfill's markers live, under the lake root.
pub const MARKERS: &str = "_state/backfill";

/// DescribeTasks takes at most 100 tasks per call.
const DESCRIBE_CHUNK: usize = 100;

/// A log group is read one UTC day at a time: the unit of resumption.
const DAY_MS: i64 = 86_400_000;

/// The last quarter of an hour is left to the next run: CloudWatch Logs
/// takes events stamped in the past (agents buffer, Container Insights
/// reports a minute late), and a window read is never read again.
pub const LATE_MS: i64 = 15 * 60 * 1000;

/// Log groups read at the same time.
const LOG_GROUPS_AT_ONCE: usize = 4;

/// A log window's pages are written together, in batches of at most about
/// this many bytes of answers: few objects, bounded memory.
const FLUSH_BYTES: usize = 8 * 1024 * 1024;

/// The AWS clients a backfill reads with.
#[derive(Clone, Copy)]
pub struct Clients<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub elb: &'a aws_sdk_elasticloadbalancingv2::Client,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Cluster names or ARNs; empty: every cluster (`ListClusters`).
    pub clusters: Vec<String>,
    /// Log events from this time on (epoch microseconds).
    pub since: Micros,
    /// Now: the end of the log window, and the ingest time.
    pub now: Micros,
    /// Application log groups: every group whose name starts with one of these.
    pub log_group_prefixes: Vec<String>,
    /// Read CloudWatch Logs at all.
    pub logs: bool,
}

/// A call that failed, with the IAM action it needs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Failure {
    /// The IAM action, e.g. `ecs:ListTasks`.
    pub action: &'static str,
    /// What it was called for, e.g. `cluster prod`.
    pub target: String,
    /// The service's error code, when it gave one (`AccessDeniedException`).
    pub code: Option<String>,
    pub message: String,
}

impl Failure {
    fn of<E>(action: &'static str, target: impl Into<String>, e: &E) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
    {
        Self {
            action,
            target: target.into(),
            code: e.code().map(str::to_owned),
            message: DisplayErrorContext(e).to_string(),
        }
    }

    /// A failure without a service error (a write, a missing body).
    fn other(action: &'static str, target: impl Into<String>, message: String) -> Self {
        Self {
            action,
            target: target.into(),
            code: None,
            message,
        }
    }

    /// The call was refused for want of permission.
    pub fn is_denied(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.contains("AccessDenied") || c == "UnauthorizedOperation")
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_denied() {
            write!(
                f,
                "{} denied for {}: allow it to the caller (see the README's IAM list)",
                self.action, self.target
            )
        } else {
            write!(f, "{} for {}: {}", self.action, self.target, self.message)
        }
    }
}

/// One log group's part of a backfill.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct GroupReport {
    pub group: String,
    /// Windows (a UTC day, or the part of one not read before) read now,
    /// each complete and marked.
    pub windows: usize,
    /// Windows read by earlier runs.
    pub windows_done_before: usize,
    /// Log events read.
    pub events: usize,
}

/// What a backfill did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub clusters: Vec<String>,
    /// Tasks ECS described.
    pub tasks_described: usize,
    /// Of those, the states not in the lake yet, written now.
    pub tasks_written: usize,
    /// The configuration captured behind the tasks.
    pub configuration: Capture,
    pub log_groups: Vec<GroupReport>,
    /// Rows written per table.
    pub rows: BTreeMap<&'static str, usize>,
    /// Inputs (tasks, log pages or their records) quarantined.
    pub quarantined: usize,
    /// Calls and writes that failed; the rest went on.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Adds what a part of the run wrote and what failed in it.
    fn absorb(&mut self, part: Report) {
        for (table, n) in part.rows {
            *self.rows.entry(table).or_default() += n;
        }
        self.quarantined += part.quarantined;
        self.failures.extend(part.failures);
    }
}

/// Reads what AWS holds into the lake (see the module docs). Never fails as
/// a whole: failures are in the report. `progress` is told what is being read.
pub async fn run<S: LakeFiles + Sync>(
    clients: Clients<'_>,
    store: &S,
    plan: &Plan,
    progress: &(dyn Fn(&str) + Sync),
) -> Report {
    let mut report = Report::default();
    let done: BTreeSet<String> = match store.list(&format!("{MARKERS}/")).await {
        Ok(keys) => keys.into_iter().collect(),
        Err(e) => {
            report.failures.push(Failure::other(
                "s3:ListBucket",
                format!("{MARKERS}/ in the lake"),
                e.to_string(),
            ));
            return report;
        }
    };
    report.clusters = if plan.clusters.is_empty() {
        progress("listing clusters");
        match clients
            .ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
        {
            Ok(arns) => arns.iter().map(|a| cluster_name(a).to_owned()).collect(),
            Err(e) => {
                report
                    .failures
                    .push(Failure::of("ecs:ListClusters", "the account", &e));
                Vec::new()
            }
        }
    } else {
        plan.clusters
            .iter()
            .map(|c| cluster_name(c).to_owned())
            .collect()
    };

    let mut seen = Seen::default();
    for cluster in report.clusters.clone() {
        progress(&format!("tasks of cluster {cluster}"));
        tasks(
            clients,
            store,
            plan,
            &cluster,
            &done,
            &mut seen,
            &mut report,
        )
        .await;
    }
    progress("task definitions, services, deployment history");
    report.configuration = capture::capture(
        clients.ecs,
        clients.elb,
        store,
        &seen,
        plan.now,
        SOURCE,
        Limits::UNBOUNDED,
    )
    .await;

    if plan.logs {
        let clusters = report.clusters.clone();
        let groups = log_groups(clients, plan, &clusters, &mut report).await;
        let phrases: Vec<String> = signature::phrases().map(|p| format!("?\"{p}\"")).collect();
        let crash_filter = phrases.join(" ");
        // A few groups at a time: each reads its windows in order, and the
        // SDK's retries absorb the throttling of all of them.
        let mut read = futures::stream::iter(&groups)
            .map(|group| {
                let filter = group.filtered.then_some(crash_filter.as_str());
                let done = &done;
                async move {
                    progress(&format!("log group {}", group.name));
                    let mut part = Report::default();
                    let g = log_group(clients, store, plan, group, filter, done, &mut part).await;
                    (g, part)
                }
            })
            .buffer_unordered(LOG_GROUPS_AT_ONCE);
        while let Some((g, part)) = read.next().await {
            report.log_groups.push(g);
            report.absorb(part);
        }
        report.log_groups.sort_by(|a, b| a.group.cmp(&b.group));
    }
    info!(
        clusters = report.clusters.len(),
        tasks_described = report.tasks_described,
        tasks_written = report.tasks_written,
        log_groups = report.log_groups.len(),
        failures = report.failures.len(),
        "backfill from AWS"
    );
    report
}

/// A cluster's name from its name or ARN.
fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit_once(":cluster/").map_or(cluster, |(_, n)| n)
}

/// The marker of one state of one task.
fn task_marker(cluster: &str, task_id: &str, version: i64, status: &str) -> String {
    format!("{MARKERS}/tasks/{cluster}/{task_id}/{version}-{status}")
}

/// The prefix of a log group's window markers; each key under it is the
/// window `<start>-<end>` (epoch milliseconds, end excluded). The group's
/// name is one key segment, percent-encoded (`/ecs/api` -> `%2Fecs%2Fapi`).
fn log_marker_prefix(group: &str) -> String {
    let mut encoded = String::with_capacity(group.len() * 2);
    for b in group.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{MARKERS}/logs/{encoded}/")
}

/// Ingests inputs, adding to the report; the outcomes, in input order.
async fn write<S: LakeFiles>(
    store: &S,
    inputs: &[Input],
    now: Micros,
    report: &mut Report,
) -> Vec<Outcome> {
    if inputs.is_empty() {
        return Vec::new();
    }
    let r = ingest(store, SOURCE, inputs, now).await;
    for (table, n) in &r.rows {
        *report.rows.entry(table).or_default() += n;
    }
    report.quarantined += r.quarantined();
    r.outcomes
}

/// Writes an empty marker; a failure is reported (the work is redone next run).
async fn mark<S: LakeFiles>(store: &S, key: &str, report: &mut Report) -> bool {
    match store.put(key, Bytes::new()).await {
        Ok(()) => true,
        Err(e) => {
            report
                .failures
                .push(Failure::other("s3:PutObject", key, e.to_string()));
            false
        }
    }
}

/// The running and stopped tasks of one cluster.
async fn tasks<S: LakeFiles>(
    clients: Clients<'_>,
    store: &S,
    plan: &Plan,
    cluster: &str,
    done: &BTreeSet<String>,
    seen: &mut Seen,
    report: &mut Report,
) {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow, default)]
        tasks: Vec<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "taskArn")]
        task_arn: String,
        #[serde(default)]
        version: i64,
        #[serde(rename = "lastStatus", default)]
        last_status: String,
    }
    // A set: a task that stops between the two calls is listed by both.
    let mut arns = BTreeSet::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        match clients
            .ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
        {
            Ok(found) => arns.extend(found),
            Err(e) => {
                // What the other status listed is still described; a
                // denial is reported once (the other status is denied too).
                let failure = Failure::of("ecs:ListTasks", format!("cluster {cluster}"), &e);
                let denied = failure.is_denied();
                report.failures.push(failure);
                if denied {
                    break;
                }
            }
        }
    }
    let arns: Vec<String> = arns.into_iter().collect();
    let mut inputs = Vec::new();
    let mut markers = Vec::new();
    for chunk in arns.chunks(DESCRIBE_CHUNK) {
        let body = RawBody::default();
        let sent = clients
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .customize()
            .interceptor(body.clone())
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                report.failures.push(Failure::of(
                    "ecs:DescribeTasks",
                    format!("cluster {cluster}"),
                    &e,
                ));
                continue;
            }
        };
        seen.extend(capture::seen_in(answer.tasks()));
        for f in answer.failures() {
            // A task gone between the calls (MISSING): nothing left to read.
            warn!(
                cluster,
                arn = f.arn(),
                reason = f.reason(),
                "DescribeTasks failure"
            );
        }
        let Some(bytes) = body.take() else {
            warn!(cluster, "DescribeTasks: no response body to keep");
            continue;
        };
        let Ok(raw) = serde_json::from_slice::<Answer<'_>>(&bytes) else {
            warn!(cluster, "DescribeTasks: the answer is not JSON");
            continue;
        };
        for task in raw.tasks {
            report.tasks_described += 1;
            let Ok(head) = serde_json::from_str::<Head>(task.get()) else {
                // Not markable: read (and quarantined with its reason) each run.
                inputs.push(Input::new(
                    format!("DescribeTasks:{cluster}"),
                    task.get().as_bytes().to_vec(),
                ));
                markers.push(None);
                continue;
            };
            let id = head.task_arn.rsplit('/').next().unwrap_or_default();
            let marker = task_marker(cluster, id, head.version, &head.last_status);
            if done.contains(&marker) {
                continue;
            }
            inputs.push(Input::new(
                format!("DescribeTasks:{}", head.task_arn),
                task.get().as_bytes().to_vec(),
            ));
            markers.push(Some(marker));
        }
    }
    let outcomes = write(store, &inputs, plan.now, report).await;
    for ((input, marker), outcome) in inputs.iter().zip(&markers).zip(&outcomes) {
        match outcome {
            Outcome::Written => {
                report.tasks_written += 1;
                if let Some(marker) = marker {
                    mark(store, marker, report).await;
                }
            }
            // The same answer would be refused again: not retried.
            Outcome::Quarantined { .. } => {
                if let Some(marker) = marker {
                    mark(store, marker, report).await;
                }
            }
            Outcome::Failed { error } => report.failures.push(Failure::other(
                "s3:PutObject",
                input.id.clone(),
                error.clone(),
            )),
        }
    }
}

/// A log group to read.
struct LogGroup {
    name: String,
    /// Application logs: only the crash signatures' lines are read.
    filtered: bool,
    /// The account, from the group's ARN: the subscription's `owner`, so
    /// that a line read both ways is the same row.
    owner: Option<String>,
}

/// The log groups to read: each cluster's Container Insights performance
/// and lifecycle-event groups (unfiltered), and the application groups under
/// the prefixes (filtered to crash lines). Groups that do not exist are left
/// out.
async fn log_groups(
    clients: Clients<'_>,
    plan: &Plan,
    clusters: &[String],
    report: &mut Report,
) -> Vec<LogGroup> {
    let mut groups: BTreeMap<String, LogGroup> = BTreeMap::new();
    let mut prefixes: Vec<(String, bool)> = plan
        .log_group_prefixes
        .iter()
        .map(|p| (p.clone(), true))
        .collect();
    for c in clusters {
        for g in [
            format!("/aws/ecs/containerinsights/{c}/performance"),
            format!("/aws/events/ecs/containerinsights/{c}/performance"),
        ] {
            prefixes.push((g, false));
        }
    }
    for (prefix, filtered) in prefixes {
        match clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
        {
            Ok(found) => {
                for g in found {
                    let Some(name) = g.log_group_name() else {
                        continue;
                    };
                    // A cluster's own groups are exact names, not prefixes.
                    if !filtered && name != prefix {
                        continue;
                    }
                    // arn:aws:logs:<region>:<account>:log-group:<name>:*
                    let owner = g.arn().and_then(|a| a.split(':').nth(4)).map(str::to_owned);
                    // Container Insights groups are never filtered, even
                    // when an application prefix also covers them.
                    let filtered = filtered && groups.get(name).is_none_or(|g| g.filtered);
                    groups.insert(
                        name.to_owned(),
                        LogGroup {
                            name: name.to_owned(),
                            filtered,
                            owner,
                        },
                    );
                }
            }
            Err(e) => report.failures.push(Failure::of(
                "logs:DescribeLogGroups",
                format!("prefix {prefix}"),
                &e,
            )),
        }
    }
    groups.into_values().collect()
}

/// One log group: every part of `[since, now - LATE)` no earlier run read,
/// one UTC day at a time, each day's pages written together (in batches of
/// [`FLUSH_BYTES`]) and then marked.
async fn log_group<S: LakeFiles>(
    clients: Clients<'_>,
    store: &S,
    plan: &Plan,
    group: &LogGroup,
    filter: Option<&str>,
    done: &BTreeSet<String>,
    report: &mut Report,
) -> GroupReport {
    let name = group.name.as_str();
    let mut g = GroupReport {
        group: name.to_owned(),
        ..GroupReport::default()
    };
    let prefix = log_marker_prefix(name);
    let read_before: Vec<(i64, i64)> = done
        .range(prefix.clone()..)
        .take_while(|k| k.starts_with(&prefix))
        .filter_map(|k| {
            let (s, e) = k[prefix.len()..].split_once('-')?;
            Some((s.parse().ok()?, e.parse().ok()?))
        })
        .collect();
    g.windows_done_before = read_before.len();
    let names = LogNames {
        log_group: Some(name.to_owned()),
        log_stream: None,
        owner: group.owner.clone(),
    };
    let to = plan.now.div_euclid(1000) - LATE_MS;
    for (gap_start, gap_end) in gaps(read_before, plan.since.div_euclid(1000), to) {
        let mut start = gap_start;
        while start < gap_end {
            // Windows end at UTC midnight, or where the gap does.
            let end = ((start.div_euclid(DAY_MS) + 1) * DAY_MS).min(gap_end);
            let Some(events) =
                log_window(clients, store, plan, &names, filter, (start, end), report).await
            else {
                // Not marked: the next run reads this window again.
                return g;
            };
            if !mark(store, &format!("{prefix}{start}-{end}"), report).await {
                return g;
            }
            g.events += events;
            g.windows += 1;
            start = end;
        }
    }
    g
}

/// Reads and writes one window `[start, end)` of a log group; the number of
/// events, or `None` when a call or a write failed (reported).
async fn log_window<S: LakeFiles>(
    clients: Clients<'_>,
    store: &S,
    plan: &Plan,
    names: &LogNames,
    filter: Option<&str>,
    (start, end): (i64, i64),
    report: &mut Report,
) -> Option<usize> {
    let group = names.log_group.as_deref().unwrap_or_default();
    let mut events = 0;
    let mut pending: Vec<Input> = Vec::new();
    let mut pending_bytes = 0;
    let mut token: Option<String> = None;
    for page in 0.. {
        let body = RawBody::default();
        let sent = clients
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start)
            // Both bounds are inclusive: the next window starts at `end`.
            .end_time(end - 1)
            .set_filter_pattern(filter.map(str::to_owned))
            .set_next_token(token.clone())
            .customize()
            .interceptor(body.clone())
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                report.failures.push(Failure::of(
                    "logs:FilterLogEvents",
                    format!("log group {group}"),
                    &e,
                ));
                return None;
            }
        };
        events += answer.events().len();
        if !answer.events().is_empty() {
            let Some(bytes) = body.take() else {
                report.failures.push(Failure::other(
                    "logs:FilterLogEvents",
                    format!("log group {group}"),
                    "no response body to keep".into(),
                ));
                return None;
            };
            let page_name = format!("FilterLogEvents:{group}@{start}#{page}");
            match split_file_named(&page_name, &bytes, names) {
                Ok(inputs) => pending.extend(inputs),
                // Cannot happen: the page is read with its group named.
                Err(missing) => warn!(group, %missing, "FilterLogEvents page not read"),
            }
            pending_bytes += bytes.len();
        }
        token = answer.next_token().map(str::to_owned);
        if pending_bytes >= FLUSH_BYTES || (token.is_none() && !pending.is_empty()) {
            let outcomes = write(store, &pending, plan.now, report).await;
            if let Some(error) = outcomes.iter().find_map(|o| match o {
                Outcome::Failed { error } => Some(error.clone()),
                _ => None,
            }) {
                report.failures.push(Failure::other(
                    "s3:PutObject",
                    format!("log group {group} from {start}"),
                    error,
                ));
                return None;
            }
            pending.clear();
            pending_bytes = 0;
        }
        if token.is_none() {
            break;
        }
    }
    Some(events)
}

/// The parts of `[from, to)` that no interval of `read` covers, in order.
fn gaps(mut read: Vec<(i64, i64)>, from: i64, to: i64) -> Vec<(i64, i64)> {
    read.sort_unstable();
    let mut out = Vec::new();
    let mut at = from;
    for (s, e) in read {
        if s > at {
            out.push((at, s.min(to)));
        }
        at = at.max(e);
        if at >= to {
            break;
        }
    }
    if at < to {
        out.push((at, to));
    }
    out.retain(|(s, e)| s < e);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_from_arns() {
        assert_eq!(
            cluster_name("arn:aws:ecs:eu-west-1:111122223333:cluster/prod"),
            "prod"
        );
        assert_eq!(cluster_name("prod"), "prod");
    }

    #[test]
    fn gaps_are_what_no_run_read() {
        assert_eq!(gaps(vec![], 0, 10), [(0, 10)]);
        assert_eq!(gaps(vec![(3, 5), (0, 2)], 0, 10), [(2, 3), (5, 10)]);
        // An earlier --since reads only what is older; a later now only what is newer.
        assert_eq!(gaps(vec![(5, 8)], 2, 10), [(2, 5), (8, 10)]);
        assert_eq!(gaps(vec![(0, 10)], 2, 8), []);
        assert_eq!(gaps(vec![(0, 4), (2, 6)], 0, 6), []);
    }

    #[test]
    fn log_markers_are_one_segment_per_group() {
        assert_eq!(
            log_marker_prefix("/aws/ecs/containerinsights/prod/performance"),
            "_state/backfill/logs/%2Faws%2Fecs%2Fcontainerinsights%2Fprod%2Fperformance/"
        );
    }
}
