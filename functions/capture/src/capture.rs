//! Configuration capture: the task definitions and services behind the
//! running tasks, recorded once per version, so that a post-mortem quotes
//! what was configured even after AWS forgets it (an INACTIVE revision can
//! be described only while a task or service still references it).
//!
//! Each poll, from the tasks it has just described:
//! * every `taskDefinitionArn` not yet captured is described
//!   (`DescribeTaskDefinition`: one call per revision, ever), and so is
//!   every revision among the 100 registered last (`ListTaskDefinitions`,
//!   newest first), so that one is captured before any task of it runs;
//! * every service with a running task of a deployment (`startedBy`
//!   `ecs-svc/...`) not yet captured is described (`DescribeServices`, ten
//!   per call): a new deployment is a new version of the service; with it,
//!   its target groups and their attributes (ELBv2 `DescribeTargetGroups`,
//!   `DescribeTargetGroupAttributes`);
//! * and that service's deployment history (`ListServiceDeployments`,
//!   `DescribeServiceDeployments`, `DescribeServiceRevisions`) until every
//!   deployment it lists is final.
//!
//! What was captured is remembered as empty marker objects under
//! [`MARKERS`], listed once per poll. The answers are kept as AWS returned
//! them (the response body, read by an SDK interceptor, not re-serialised
//! from the SDK's types) and go through the same ingest path as
//! `ecs-query ingest` of the AWS CLI's output: the task definition's
//! environment values are redacted there, before anything is written.
//!
//! A describe call that fails (throttled, denied, a network error) never
//! fails or delays the health samples: it is counted in
//! [`Capture::failures`] and logged (the poll-health function reports it as
//! the `ConfigCaptureFailures` metric); no marker is written, so the next
//! poll tries again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::Task;
use bytes::Bytes;
use ecs_lake::arn;
use ecs_lake::lake::LakeFiles;
use ecs_lake::sources::events::service_of;
use ecs_lake::{Input, Outcome, ingest};
use serde::Serialize;
use tracing::{info, warn};

use crate::RawBody;

/// Where the markers of captured versions live, under the lake root.
pub const MARKERS: &str = "_state/captured";

/// Registered revisions looked at each poll, newest first (one page).
const NEWEST_REVISIONS: i32 = 100;
/// DescribeServices takes at most ten services per call.
const SERVICES_PER_CALL: usize = 10;
/// DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs.
const HISTORY_PER_CALL: usize = 20;

/// Statuses after which a service deployment's record no longer changes.
const TERMINAL: &[&str] = &[
    "SUCCESSFUL",
    "STOPPED",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
];

/// What one capture did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Capture {
    pub task_definitions: usize,
    pub services: usize,
    /// Target groups (with their attributes) of the services captured.
    pub target_groups: usize,
    pub service_deployments: usize,
    pub service_revisions: usize,
    /// Describe calls made.
    pub calls: usize,
    /// The budget ran out: the rest is captured by the next polls.
    pub deferred: bool,
    #[serde(skip)]
    started: Option<std::time::Instant>,
    #[serde(skip)]
    limits: Limits,
    /// `what: error` for each describe call or write that failed (retried next poll).
    pub failures: Vec<String>,
}

/// A marker: one captured version.
fn task_definition_marker(arn: &str) -> Option<String> {
    let (family, revision) = arn::task_definition(arn)?;
    Some(format!("{MARKERS}/task-definitions/{family}/{revision}"))
}

fn service_marker(cluster: &str, service: &str, deployment: &str) -> String {
    let deployment = deployment.replace('/', "-");
    format!("{MARKERS}/services/{cluster}/{service}/{deployment}")
}

/// The deployment history of a service is complete for this `ecs-svc` deployment.
fn history_marker(cluster: &str, service: &str, deployment: &str) -> String {
    let deployment = deployment.replace('/', "-");
    format!("{MARKERS}/history/{cluster}/{service}/{deployment}")
}

/// One record (a service deployment or revision), by its ARN's resource
/// (`service-deployment/<cluster>/<service>/<id>`).
fn record_marker(kind: &str, arn: &str) -> String {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    format!("{MARKERS}/{kind}/{resource}")
}

/// How much one capture may do: describe calls, and the time they may take
/// (throttled calls are retried by the SDK with backoff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_calls: usize,
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::POLL
    }
}

impl Limits {
    /// A poll's: a first poll of a large account, or one after a long
    /// outage, spreads its backlog over several polls instead of running
    /// past the function's 60 s timeout.
    pub const POLL: Limits = Limits {
        max_calls: 60,
        max_time: Duration::from_secs(20),
    };
    /// A backfill's: everything, however long it takes.
    pub const UNBOUNDED: Limits = Limits {
        max_calls: usize::MAX,
        max_time: Duration::MAX,
    };
}

/// What is being captured this poll: the inputs, each with the markers it
/// completes, and the markers that must not be written because something
/// they stand for could not be captured.
#[derive(Default)]
struct Work {
    inputs: Vec<(Input, Vec<String>)>,
    poisoned: BTreeSet<String>,
    /// Markers complete without an input (histories with nothing new).
    complete: Vec<String>,
}

impl Capture {
    /// One more describe call, if the poll's budget allows it.
    fn call(&mut self) -> bool {
        let late = self
            .started
            .is_some_and(|s| s.elapsed() > self.limits.max_time);
        if self.calls >= self.limits.max_calls || late {
            self.deferred = true;
            return false;
        }
        self.calls += 1;
        true
    }
}

/// The answer of a describe call and its body as the service sent it; or
/// `None`, the failure recorded in `out` as `what: error`.
fn kept<T, E: std::error::Error + 'static>(
    sent: Result<T, E>,
    body: &RawBody,
    what: &str,
    out: &mut Capture,
) -> Option<(T, Bytes)> {
    match (sent, body.take()) {
        (Ok(answer), Some(bytes)) => Some((answer, bytes)),
        (Ok(_), None) => {
            out.failures
                .push(format!("{what}: no response body to keep"));
            None
        }
        (Err(e), _) => {
            out.failures
                .push(format!("{what}: {}", DisplayErrorContext(&e)));
            None
        }
    }
}

/// What the described tasks say is worth capturing: task definition ARNs,
/// and per (cluster, service) the deployments running.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub task_definitions: BTreeSet<String>,
    pub deployments: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Seen {
    pub fn extend(&mut self, other: Seen) {
        self.task_definitions.extend(other.task_definitions);
        for (k, v) in other.deployments {
            self.deployments.entry(k).or_default().extend(v);
        }
    }
}

pub fn seen_in(tasks: &[Task]) -> Seen {
    let mut seen = Seen::default();
    for t in tasks {
        if let Some(arn) = t.task_definition_arn() {
            seen.task_definitions.insert(arn.to_owned());
        }
        let cluster = arn::cluster_name(t.cluster_arn(), t.task_arn());
        let service = service_of(t.group());
        let deployment = t.started_by().filter(|s| s.starts_with("ecs-svc/"));
        if let (Some(cluster), Some(service), Some(deployment)) = (cluster, service, deployment) {
            seen.deployments
                .entry((cluster.to_owned(), service.to_owned()))
                .or_default()
                .insert(deployment.to_owned());
        }
    }
    seen
}

/// Describes what `seen` holds that is not captured yet and ingests the
/// answers. Never fails: failures are in the result.
/// `source` names the ingester in object keys and quarantine rows.
pub async fn capture<S: LakeFiles>(
    client: &aws_sdk_ecs::Client,
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    store: &S,
    seen: &Seen,
    now: ecs_lake::time::Micros,
    source: &str,
    limits: Limits,
) -> Capture {
    let mut out = Capture {
        started: Some(std::time::Instant::now()),
        limits,
        ..Capture::default()
    };
    // With the trailing slash: the IAM policy grants this prefix only.
    let captured: BTreeSet<String> = match store.list(&format!("{MARKERS}/")).await {
        Ok(keys) => keys.into_iter().collect(),
        Err(e) => {
            // Without the markers every version would be described again:
            // skip this poll's capture rather than flood the API.
            out.failures.push(format!("listing {MARKERS}: {e}"));
            report(&out);
            return out;
        }
    };
    let mut work = Work::default();

    // The running tasks' revisions, and the newest registered ones: a
    // revision is captured before (or without) a task of it running, e.g.
    // one whose image cannot be pulled.
    let mut revisions = seen.task_definitions.clone();
    if out.call() {
        match client
            .list_task_definitions()
            .sort(aws_sdk_ecs::types::SortOrder::Desc)
            .max_results(NEWEST_REVISIONS)
            .send()
            .await
        {
            Ok(list) => revisions.extend(list.task_definition_arns().iter().cloned()),
            Err(e) => out
                .failures
                .push(format!("ListTaskDefinitions: {}", DisplayErrorContext(&e))),
        }
    }
    for arn in &revisions {
        let Some(marker) = task_definition_marker(arn) else {
            continue;
        };
        if captured.contains(&marker) {
            continue;
        }
        if !out.call() {
            break;
        }
        let body = RawBody::default();
        let sent = client
            .describe_task_definition()
            .task_definition(arn)
            .customize()
            .interceptor(body.clone())
            .send()
            .await;
        if let Some((_, bytes)) = kept(
            sent,
            &body,
            &format!("DescribeTaskDefinition {arn}"),
            &mut out,
        ) {
            work.inputs.push((
                Input::new(format!("DescribeTaskDefinition:{arn}"), bytes),
                vec![marker],
            ));
        }
    }

    // Per cluster: the services to describe, each with the markers its answer completes.
    let mut pending: BTreeMap<&str, Vec<(&str, Vec<String>)>> = BTreeMap::new();
    for ((cluster, service), deployments) in &seen.deployments {
        let markers: Vec<String> = deployments
            .iter()
            .map(|d| service_marker(cluster, service, d))
            .filter(|m| !captured.contains(m))
            .collect();
        if !markers.is_empty() {
            pending.entry(cluster).or_default().push((service, markers));
        }
    }
    // The target groups of the services described, each with the markers
    // of the services behind it: a service is captured only with them.
    let mut target_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (cluster, batch) in pending {
        for chunk in batch.chunks(SERVICES_PER_CALL) {
            if !out.call() {
                break;
            }
            let names: Vec<String> = chunk.iter().map(|(s, _)| (*s).to_owned()).collect();
            let body = RawBody::default();
            let sent = client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(names.clone()))
                .customize()
                .interceptor(body.clone())
                .send()
                .await;
            let what = format!("DescribeServices {cluster} {}", names.join(","));
            let Some((answer, bytes)) = kept(sent, &body, &what, &mut out) else {
                continue;
            };
            for f in answer.failures() {
                warn!(
                    cluster,
                    arn = f.arn(),
                    reason = f.reason(),
                    "DescribeServices failure"
                );
            }
            for svc in answer.services() {
                let markers: Vec<String> = chunk
                    .iter()
                    .filter(|(name, _)| Some(*name) == svc.service_name())
                    .flat_map(|(_, m)| m.iter().cloned())
                    .collect();
                for arn in svc
                    .load_balancers()
                    .iter()
                    .filter_map(|lb| lb.target_group_arn())
                {
                    target_groups
                        .entry(arn.to_owned())
                        .or_default()
                        .extend(markers.iter().cloned());
                }
            }
            let markers = chunk.iter().flat_map(|(_, m)| m.clone()).collect();
            let id = format!("DescribeServices:{cluster}/{}", names.join(","));
            work.inputs.push((Input::new(id, bytes), markers));
        }
    }

    let target_groups: Vec<(String, Vec<String>)> = target_groups.into_iter().collect();
    for chunk in target_groups.chunks(HISTORY_PER_CALL) {
        describe_target_groups(elb, chunk, &mut work, &mut out).await;
    }

    for ((cluster, service), deployments) in &seen.deployments {
        let markers: Vec<String> = deployments
            .iter()
            .map(|d| history_marker(cluster, service, d))
            .filter(|m| !captured.contains(m))
            .collect();
        if !markers.is_empty() {
            history(
                client,
                (cluster, service),
                markers,
                &captured,
                &mut work,
                &mut out,
            )
            .await;
        }
    }

    let Work {
        inputs,
        mut poisoned,
        complete,
    } = work;
    let (inputs, markers): (Vec<Input>, Vec<Vec<String>>) = inputs.into_iter().unzip();
    let ingested = if inputs.is_empty() {
        Vec::new()
    } else {
        ingest(store, source, &inputs, now).await.outcomes
    };
    for ((input, markers), outcome) in inputs.iter().zip(&markers).zip(&ingested) {
        match outcome {
            Outcome::Written => match input.id.split(':').next() {
                Some("DescribeTaskDefinition") => out.task_definitions += 1,
                Some("DescribeServices") => out.services += input.id.matches(',').count() + 1,
                Some("DescribeServiceDeployments") => out.service_deployments += 1,
                Some("DescribeServiceRevisions") => out.service_revisions += 1,
                Some("DescribeTargetGroups") => {
                    out.target_groups += input.id.matches(',').count() + 1
                }
                _ => {}
            },
            // Kept in quarantine with the reason; not retried (the same
            // answer would be refused again): its markers are written.
            Outcome::Quarantined { reason } => out
                .failures
                .push(format!("{}: quarantined: {reason}", input.id)),
            // Retried next poll: none of its markers is written.
            Outcome::Failed { error } => {
                out.failures.push(format!("{}: {error}", input.id));
                poisoned.extend(markers.iter().cloned());
            }
        }
    }
    // A marker is written once everything it stands for is in the lake.
    let done: BTreeSet<&String> = markers
        .iter()
        .flatten()
        .chain(&complete)
        .filter(|m| !poisoned.contains(*m))
        .collect();
    for m in done {
        if let Err(e) = store.put(m, Bytes::new()).await {
            out.failures.push(format!("marker {m}: {e}"));
        }
    }
    report(&out);
    out
}

/// Target groups and their attributes, as `aws elbv2
/// describe-target-groups` and `describe-target-group-attributes` print
/// them. ELBv2 answers XML, so the SDK's values are written back as JSON
/// with the API's member names (which are the CLI's keys); each attributes
/// answer gets the ARN it was asked for (it names none).
async fn describe_target_groups(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    groups: &[(String, Vec<String>)],
    work: &mut Work,
    out: &mut Capture,
) {
    use aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext as ElbError;
    // The services behind these groups are captured with them, or not at all.
    let services: Vec<String> = groups.iter().flat_map(|(_, m)| m.iter().cloned()).collect();
    if !out.call() {
        work.poisoned.extend(services);
        return;
    }
    let arns: Vec<String> = groups.iter().map(|(a, _)| a.clone()).collect();
    let answer = match elb
        .describe_target_groups()
        .set_target_group_arns(Some(arns.clone()))
        .send()
        .await
    {
        Ok(a) => a,
        Err(e) => {
            let not_found = e
                .as_service_error()
                .is_some_and(|se| se.is_target_group_not_found_exception());
            if not_found && groups.len() > 1 {
                // One deleted group fails the call: ask for each alone.
                for g in groups {
                    Box::pin(describe_target_groups(
                        elb,
                        std::slice::from_ref(g),
                        work,
                        out,
                    ))
                    .await;
                }
            } else if not_found {
                // Deleted since: nothing to capture, the service is still whole.
                warn!(arn = arns[0].as_str(), "target group not found");
            } else {
                out.failures.push(format!(
                    "DescribeTargetGroups {}: {}",
                    arns.join(","),
                    ElbError(&e)
                ));
                work.poisoned.extend(services);
            }
            return;
        }
    };
    let found: Vec<serde_json::Value> = answer
        .target_groups()
        .iter()
        .map(target_group_json)
        .collect();
    for (arn, markers) in groups {
        if !out.call() {
            work.poisoned.extend(markers.iter().cloned());
            continue;
        }
        match elb
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
        {
            Ok(a) => {
                let attributes: Vec<serde_json::Value> = a
                    .attributes()
                    .iter()
                    .map(|kv| serde_json::json!({"Value": kv.value(), "Key": kv.key()}))
                    .collect();
                let doc = serde_json::json!({"TargetGroupArn": arn, "Attributes": attributes});
                work.inputs.push((
                    Input::new(
                        format!("DescribeTargetGroupAttributes:{arn}"),
                        doc.to_string(),
                    ),
                    markers.clone(),
                ));
            }
            Err(e) => {
                out.failures.push(format!(
                    "DescribeTargetGroupAttributes {arn}: {}",
                    ElbError(&e)
                ));
                work.poisoned.extend(markers.iter().cloned());
            }
        }
    }
    if !found.is_empty() {
        let id = format!("DescribeTargetGroups:{}", arns.join(","));
        let doc = serde_json::json!({"TargetGroups": found});
        work.inputs
            .push((Input::new(id, doc.to_string()), services));
    }
}

/// One target group with the API's member names.
fn target_group_json(g: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    let mut put = |key: &str, v: Option<serde_json::Value>| {
        if let Some(v) = v {
            o.insert(key.to_owned(), v);
        }
    };
    let text = |v: Option<&str>| v.map(|s| serde_json::Value::from(s.to_owned()));
    put("TargetGroupArn", text(g.target_group_arn()));
    put("TargetGroupName", text(g.target_group_name()));
    put("Protocol", text(g.protocol().map(|p| p.as_str())));
    put("Port", g.port().map(Into::into));
    put("VpcId", text(g.vpc_id()));
    put(
        "HealthCheckProtocol",
        text(g.health_check_protocol().map(|p| p.as_str())),
    );
    put("HealthCheckPort", text(g.health_check_port()));
    put(
        "HealthCheckEnabled",
        g.health_check_enabled().map(Into::into),
    );
    put(
        "HealthCheckIntervalSeconds",
        g.health_check_interval_seconds().map(Into::into),
    );
    put(
        "HealthCheckTimeoutSeconds",
        g.health_check_timeout_seconds().map(Into::into),
    );
    put(
        "HealthyThresholdCount",
        g.healthy_threshold_count().map(Into::into),
    );
    put(
        "UnhealthyThresholdCount",
        g.unhealthy_threshold_count().map(Into::into),
    );
    put("HealthCheckPath", text(g.health_check_path()));
    put(
        "Matcher",
        g.matcher().map(|m| {
            let mut matcher = serde_json::Map::new();
            if let Some(c) = m.http_code() {
                matcher.insert("HttpCode".into(), c.into());
            }
            if let Some(c) = m.grpc_code() {
                matcher.insert("GrpcCode".into(), c.into());
            }
            matcher.into()
        }),
    );
    put(
        "LoadBalancerArns",
        Some(g.load_balancer_arns().to_vec().into()),
    );
    put("TargetType", text(g.target_type().map(|t| t.as_str())));
    put("ProtocolVersion", text(g.protocol_version()));
    put(
        "IpAddressType",
        text(g.ip_address_type().map(|t| t.as_str())),
    );
    o.into()
}

/// A service's deployment history (ECS keeps 90 days): the deployments
/// `ListServiceDeployments` names that are not captured in their final
/// state are described, and the service revisions they name. Once every
/// listed deployment is final, `done` (the history markers of the
/// deployments seen running) completes with the last input; until then the
/// next poll looks again.
async fn history(
    client: &aws_sdk_ecs::Client,
    (cluster, service): (&str, &str),
    done: Vec<String>,
    captured: &BTreeSet<String>,
    work: &mut Work,
    out: &mut Capture,
) {
    if !out.call() {
        return;
    }
    // Every page of the list.
    let mut briefs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .set_next_token(token.take())
            .send()
            .await;
        match page {
            Ok(p) => {
                briefs.extend(p.service_deployments().iter().cloned());
                token = p.next_token().map(str::to_owned);
            }
            Err(e) => {
                out.failures.push(format!(
                    "ListServiceDeployments {cluster}/{service}: {}",
                    DisplayErrorContext(&e)
                ));
                return;
            }
        }
        if token.is_none() {
            break;
        }
    }
    let wanted: Vec<String> = briefs
        .iter()
        .filter_map(|b| b.service_deployment_arn())
        .filter(|arn| !captured.contains(&record_marker("service-deployments", arn)))
        .map(str::to_owned)
        .collect();
    let mut all_final = true;
    let mut revisions: BTreeSet<String> = BTreeSet::new();
    // The history's inputs: each also completes `done`, if all are written.
    let first = work.inputs.len();
    for chunk in wanted.chunks(HISTORY_PER_CALL) {
        if !out.call() {
            all_final = false;
            break;
        }
        let body = RawBody::default();
        let sent = client
            .describe_service_deployments()
            .set_service_deployment_arns(Some(chunk.to_vec()))
            .customize()
            .interceptor(body.clone())
            .send()
            .await;
        let what = format!("DescribeServiceDeployments {cluster}/{service}");
        let Some((answer, bytes)) = kept(sent, &body, &what, out) else {
            all_final = false;
            continue;
        };
        if !answer.failures().is_empty() || answer.service_deployments().len() < chunk.len() {
            all_final = false;
        }
        let mut markers = Vec::new();
        for d in answer.service_deployments() {
            let status = d.status().map(|s| s.as_str()).unwrap_or_default();
            match d.service_deployment_arn() {
                Some(arn) if TERMINAL.contains(&status) => {
                    markers.push(record_marker("service-deployments", arn));
                }
                _ => all_final = false,
            }
            let arns = d
                .target_service_revision()
                .and_then(|r| r.arn())
                .into_iter()
                .chain(d.source_service_revisions().iter().filter_map(|r| r.arn()))
                .chain(d.rollback().and_then(|r| r.service_revision_arn()));
            revisions.extend(arns.map(str::to_owned));
        }
        let id = format!("DescribeServiceDeployments:{cluster}/{service}");
        work.inputs.push((Input::new(id, bytes), markers));
    }
    let revisions: Vec<String> = revisions
        .into_iter()
        .filter(|arn| !captured.contains(&record_marker("service-revisions", arn)))
        .collect();
    for chunk in revisions.chunks(HISTORY_PER_CALL) {
        if !out.call() {
            all_final = false;
            break;
        }
        let body = RawBody::default();
        let sent = client
            .describe_service_revisions()
            .set_service_revision_arns(Some(chunk.to_vec()))
            .customize()
            .interceptor(body.clone())
            .send()
            .await;
        let what = format!("DescribeServiceRevisions {cluster}/{service}");
        let Some((_, bytes)) = kept(sent, &body, &what, out) else {
            all_final = false;
            continue;
        };
        // A revision never changes: captured once.
        let markers = chunk
            .iter()
            .map(|arn| record_marker("service-revisions", arn))
            .collect();
        let id = format!("DescribeServiceRevisions:{cluster}/{service}");
        work.inputs.push((Input::new(id, bytes), markers));
    }
    if all_final {
        if work.inputs.len() == first {
            // Nothing new to describe: the history is complete already.
            work.complete.extend(done);
        } else {
            // Written with every input of the history: only if all are.
            for (_, markers) in &mut work.inputs[first..] {
                markers.extend(done.iter().cloned());
            }
        }
    }
}

/// Logs the capture (the poll-health function also emits it as metrics).
fn report(c: &Capture) {
    for f in &c.failures {
        warn!(
            failure = f.as_str(),
            "configuration capture failed; retried next poll"
        );
    }
    info!(
        task_definitions = c.task_definitions,
        services = c.services,
        failures = c.failures.len(),
        "configuration capture"
    );
}
