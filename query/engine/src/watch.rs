//! The deployment watch: run every few minutes (the `watch` Lambda, or
//! `ecs-query watch` in a terminal), it tells the team within minutes what
//! the lake already knows: a revision that just rolled out is OOM-killed,
//! crash-loops, fails its health checks, or its deployment failed.
//!
//! One evaluation ([`evaluate`]):
//!
//! 1. the services with an abnormal stop ([`TaskRow::is_abnormal`]) since the
//!    last evaluation (less [`Settings::slack`], for late deliveries) are
//!    diagnosed over the last [`Settings::window`];
//! 2. a finding of a kind worth waking someone for ([`alerts_on`]) on a
//!    revision with at least [`Settings::min_stops`] abnormal stops in that
//!    window is an alert, keyed by (cluster, service, revision, kind): sent
//!    once ([`Status::New`]), and again only when it gets worse
//!    ([`Status::Worse`]: more severe, or twice the tasks a window later),
//!    or, once resolved, when the revision stops abnormally again;
//! 3. an open alert is [`Status::Resolved`] once a deployment of another
//!    revision of its service (a fix, or the circuit breaker's rollback)
//!    completed after its last abnormal stop, or after
//!    [`Settings::quiet`] without one;
//! 4. at most [`Settings::per_service_per_hour`] messages per service per
//!    rolling hour: the rest are held, not dropped, and go out at a later
//!    evaluation.
//!
//! What was sent is [`State`], kept in the lake under `_state/watch/`, so a
//! redeployed function does not repeat itself. Callers publish each alert
//! and then [`State::record`] it, so a failed publish is retried at the next
//! evaluation rather than lost.
//!
//! Messages ([`Alert::email`], [`Alert::chat`]) say what, where, the
//! figures, the first recommendation and its patch, and the commands to look
//! closer; [`publish`] sends both through one SNS topic (`MessageStructure`
//! `json`: plain text to email subscriptions, the custom-notification JSON
//! of Amazon Q Developer in chat applications to HTTPS ones);
//! [`post_webhook`] also posts it to a chat webhook whose URL is kept in
//! Secrets Manager ([`webhook_url`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use bytes::Bytes;
use ecs_lake::LakeStore;
use ecs_lake::time::date_time_of;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::diagnose::evidence::{self, Selector, TaskRow, label, service_key};
use crate::diagnose::findings::{self, Finding, FindingKind, Severity};
use crate::diagnose::patch::Patch;
use crate::error::{Error, Result};
use crate::lake::{Lake, LakeObjects};
use crate::summary::{DeploymentOutcome, Scope};

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;

/// How the watch decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How far back a service is diagnosed (µs): the figures are this window's.
    pub window: i64,
    /// Abnormal stops of a revision in the window before its findings alert.
    pub min_stops: usize,
    /// Messages per service in any rolling hour; the rest wait.
    pub per_service_per_hour: usize,
    /// An open alert without an abnormal stop for this long is resolved (µs).
    pub quiet: i64,
    /// How far before the last evaluation new stops are looked for (µs):
    /// events delivered late still count.
    pub slack: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            window: HOUR,
            min_stops: 2,
            per_service_per_hour: 4,
            quiet: 24 * HOUR,
            slack: 10 * MINUTE,
        }
    }
}

/// The finding kinds that alert: those that mean tasks are dying now. Not
/// stop-timeout kills (slow shutdowns), Spot interruptions (AWS's), memory
/// headroom or missing data (the weekly report's business).
pub fn alerts_on(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::OomKills
            | FindingKind::HeapExhausted
            | FindingKind::HealthChecks
            | FindingKind::CrashLoop
            | FindingKind::Segfaults
            | FindingKind::FailedDeployment
            | FindingKind::StartFailures
    )
}

/// What the watch remembers between evaluations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// When the last evaluation finished looking (µs).
    pub last_run: Option<i64>,
    /// The alerts sent and not resolved, by [`Alert::key`].
    pub open: BTreeMap<String, Open>,
    /// Per `cluster/service`, when its messages of the last hour were sent (µs).
    pub sent: BTreeMap<String, Vec<i64>>,
    /// Messages the rate limit held back: sent first at a later evaluation
    /// (unless a newer message about the same key replaces them).
    pub held: Vec<Alert>,
    /// Alerts resolved in the last [`Settings::quiet`], with their
    /// revision's last abnormal stop (µs): said again only for a stop after it.
    pub resolved: BTreeMap<String, i64>,
}

/// An alert sent and not yet resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    pub cluster: String,
    pub service: String,
    pub revision: String,
    pub kind: FindingKind,
    pub severity: Severity,
    pub title: String,
    /// Tasks the finding was about when last sent.
    pub impact: usize,
    pub sent_at: i64,
    /// The revision's newest abnormal stop seen (µs).
    pub last_stop_at: i64,
}

/// Where the state of the watch named `name` is kept in the lake.
pub fn state_key(name: &str) -> String {
    format!("_state/watch/{name}.json")
}

impl State {
    /// The state saved under [`state_key`], or a new one if there is none.
    pub async fn load(store: &LakeObjects, name: &str) -> Result<State> {
        let key = state_key(name);
        let body = match store.get(&key).await {
            Ok(body) => body,
            Err(e) if e.is_not_found() => return Ok(State::default()),
            // S3 answers 403, not 404, for a missing key when the role may
            // list only under a prefix: missing if the listing says so.
            Err(e)
                if e.kind() == ecs_lake::lake::StoreErrorKind::Denied
                    && !store.exists(&key).await.unwrap_or(true) =>
            {
                return Ok(State::default());
            }
            Err(source) => return Err(Error::Read { key, source }),
        };
        serde_json::from_slice(&body).map_err(|e| Error::BadWatchState {
            location: store.location(),
            key,
            message: e.to_string(),
        })
    }

    pub async fn save(&self, store: &LakeObjects, name: &str) -> Result<()> {
        let body = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        let key = state_key(name);
        store
            .put(&key, Bytes::from(body))
            .await
            .map_err(|source| Error::Write { key, source })
    }

    /// Remembers that `alert` was sent at `now` (µs).
    pub fn record(&mut self, alert: &Alert, now: i64) {
        self.sent
            .entry(format!("{}/{}", alert.cluster, alert.service))
            .or_default()
            .push(now);
        match alert.status {
            Status::Resolved => {
                self.open.remove(&alert.key);
                self.resolved.insert(alert.key.clone(), alert.last_stop_at);
            }
            Status::New | Status::Worse => {
                self.open.insert(
                    alert.key.clone(),
                    Open {
                        cluster: alert.cluster.clone(),
                        service: alert.service.clone(),
                        revision: alert.revision.clone(),
                        kind: alert.kind,
                        severity: alert.severity,
                        title: alert.title.clone(),
                        impact: alert.impact,
                        sent_at: alert.at,
                        last_stop_at: alert.last_stop_at,
                    },
                );
            }
        }
    }

    /// Closes an evaluation: the newest stops of the open alerts it saw,
    /// the time it looked up to, and the send times older than the rate
    /// limit's hour forgotten.
    pub fn finish(&mut self, evaluation: &Evaluation) {
        for (key, at) in &evaluation.seen {
            if let Some(open) = self.open.get_mut(key) {
                open.last_stop_at = open.last_stop_at.max(*at);
            }
        }
        self.last_run = Some(evaluation.now);
        for times in self.sent.values_mut() {
            times.retain(|t| *t > evaluation.now - HOUR);
        }
        self.sent.retain(|_, times| !times.is_empty());
        self.held = evaluation.held.clone();
        // Kept while a stop that old can still be in a window.
        let forget = evaluation.now - evaluation.quiet.max(evaluation.window);
        self.resolved.retain(|_, last_stop| *last_stop > forget);
    }
}

/// What kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    /// Sent before; now more severe, or twice the tasks a window later.
    Worse,
    /// Sent before; ended by a later revision, a rollback, or quiet.
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Worse => "worse",
            Status::Resolved => "resolved",
        }
    }
}

/// One message to the team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub status: Status,
    /// `cluster/service/family:revision/kind`: one message per key until it changes.
    pub key: String,
    pub cluster: String,
    pub service: String,
    /// `family:revision`.
    pub revision: String,
    /// The deployment that rolled the revision out, when the lake knows it.
    pub deployment: Option<String>,
    pub kind: FindingKind,
    pub severity: Severity,
    /// The finding's title (for resolved: what was resolved).
    pub title: String,
    /// The figures: the revision's abnormal stops in the window, then the
    /// finding's evidence (for resolved: what ended it).
    pub figures: Vec<String>,
    pub recommendation: Option<String>,
    pub patch: Option<Patch>,
    /// `ecs-query` commands to look closer.
    pub commands: Vec<String>,
    /// When it was decided (µs).
    pub at: i64,
    /// Tasks the finding is about.
    pub impact: usize,
    /// The revision's newest abnormal stop (µs).
    pub last_stop_at: i64,
}

/// What one evaluation decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// The time it evaluated at (µs).
    pub now: i64,
    /// [`Settings::quiet`] and [`Settings::window`] it evaluated with (µs).
    pub quiet: i64,
    pub window: i64,
    /// Services with abnormal stops since the last evaluation.
    pub services: Vec<String>,
    /// To send, in order.
    pub alerts: Vec<Alert>,
    /// Over the rate limit: they go out at a later evaluation.
    pub held: Vec<Alert>,
    /// Open alerts whose finding is still there, with the revision's newest
    /// abnormal stop.
    pub seen: Vec<(String, i64)>,
}

/// The abnormal stops of one revision in the window.
struct Stops<'a> {
    tasks: Vec<&'a TaskRow>,
}

impl Stops<'_> {
    fn first(&self) -> i64 {
        self.tasks
            .iter()
            .filter_map(|t| t.stop_time())
            .min()
            .unwrap_or_default()
    }
    fn last(&self) -> i64 {
        self.tasks
            .iter()
            .filter_map(|t| t.stop_time())
            .max()
            .unwrap_or_default()
    }
    /// The deployment of the newest stop.
    fn deployment(&self) -> Option<String> {
        self.tasks
            .iter()
            .filter(|t| t.deployment_id.is_some())
            .max_by_key(|t| t.stop_time())
            .and_then(|t| t.deployment_id.clone())
    }
}

/// One evaluation at `now` (µs) against what `state` says was sent.
///
/// Lists the lake afresh: an evaluation sees every file written before it.
pub async fn evaluate(
    lake: &Lake,
    state: &State,
    now: i64,
    settings: &Settings,
) -> Result<Evaluation> {
    crate::listing::forget_listings();
    let ctx = &lake.ctx;
    let since = state
        .last_run
        .map_or(now - settings.window, |t| t - settings.slack)
        .min(now);
    let recent = evidence::task_rows(
        ctx,
        Scope {
            from: Some(since),
            to: Some(now + 1),
        },
        &Selector::default(),
    )
    .await?;
    let mut services: BTreeSet<(String, String)> = BTreeSet::new();
    for t in recent.iter().filter(|t| t.is_abnormal()) {
        if t.stop_time().is_some_and(|at| at >= since) {
            services.insert(service_key(&t.cluster, &t.service, &t.family));
        }
    }

    let mut evaluation = Evaluation {
        now,
        quiet: settings.quiet,
        window: settings.window,
        services: services.iter().map(|(c, s)| format!("{c}/{s}")).collect(),
        ..Evaluation::default()
    };
    let mut candidates = Vec::new();
    let window = Scope {
        from: Some(now - settings.window),
        to: Some(now + 1),
    };
    if !services.is_empty() {
        let config = crate::config::Configuration::load(ctx).await?;
        for (cluster, service) in &services {
            let selector = Selector::parse(&format!("{cluster}/{service}"));
            let (gathered, tasks) =
                evidence::gather_with_tasks(ctx, window, &selector, &config).await?;
            for svc in &gathered {
                let found = findings::findings(svc);
                candidates.extend(alerts_of(
                    svc.cluster.as_str(),
                    &svc.service,
                    &found,
                    &tasks,
                    state,
                    now,
                    settings,
                    &lake.location,
                    &mut evaluation.seen,
                ));
            }
        }
    }
    candidates.extend(resolutions(lake, state, &evaluation.seen, now, settings).await?);

    // What the rate limit held before goes first, unless this evaluation
    // has a newer message about the same key; then the most severe, new and
    // worse before resolved.
    let held = state
        .held
        .iter()
        .filter(|h| !candidates.iter().any(|c| c.key == h.key))
        .cloned()
        .collect::<Vec<_>>();
    candidates.sort_by_key(|a| (a.severity, a.status == Status::Resolved, a.key.clone()));
    let candidates = held.into_iter().chain(candidates);
    let mut budget: BTreeMap<String, usize> = BTreeMap::new();
    for alert in candidates {
        let service = format!("{}/{}", alert.cluster, alert.service);
        let used = budget.entry(service.clone()).or_insert_with(|| {
            state
                .sent
                .get(&service)
                .map_or(0, |times| times.iter().filter(|t| **t > now - HOUR).count())
        });
        if *used < settings.per_service_per_hour {
            *used += 1;
            evaluation.alerts.push(alert);
        } else {
            evaluation.held.push(alert);
        }
    }
    Ok(evaluation)
}

/// The alerts of one service's findings: new ones, and worse ones.
#[allow(clippy::too_many_arguments)]
fn alerts_of(
    cluster: &str,
    service: &str,
    found: &[Finding],
    tasks: &[TaskRow],
    state: &State,
    now: i64,
    settings: &Settings,
    location: &str,
    seen: &mut Vec<(String, i64)>,
) -> Vec<Alert> {
    let own = evidence::tasks_of(tasks, cluster, service);
    let mut out = Vec::new();
    for f in found.iter().filter(|f| alerts_on(f.kind)) {
        for revision in &f.revisions {
            let stops = Stops {
                tasks: own
                    .iter()
                    .copied()
                    .filter(|t| t.is_abnormal() && &label(&t.family, t.revision) == revision)
                    .collect(),
            };
            let key = format!("{cluster}/{service}/{revision}/{}", f.kind.as_str());
            if state.open.contains_key(&key) {
                seen.push((key.clone(), stops.last()));
            }
            if stops.tasks.len() < settings.min_stops {
                continue;
            }
            let status = match state.open.get(&key) {
                // Resolved, and no abnormal stop of the revision since.
                None if state
                    .resolved
                    .get(&key)
                    .is_some_and(|at| stops.last() <= *at) =>
                {
                    continue;
                }
                None => Status::New,
                Some(open) => {
                    // More severe; or twice the tasks a window after it was said
                    // (a crash loop's count grows every minute: not news).
                    let more =
                        f.impact >= 2 * open.impact.max(1) && now - open.sent_at >= settings.window;
                    if f.severity < open.severity || more {
                        Status::Worse
                    } else {
                        continue;
                    }
                }
            };
            let mut figures = vec![format!(
                "{} abnormal stop{} of {revision} in the last {} (first {}, last {})",
                stops.tasks.len(),
                if stops.tasks.len() == 1 { "" } else { "s" },
                duration(settings.window),
                date_time_of(stops.first()),
                date_time_of(stops.last()),
            )];
            figures.extend(f.evidence.iter().map(ToString::to_string));
            let lake = lake_flag(location);
            let mut commands = vec![format!(
                "ecs-query{lake} diagnose {cluster}/{service} last {}",
                duration(settings.window).replace(' ', "")
            )];
            if let Some(task) = f.example_tasks.first() {
                commands.push(format!("ecs-query{lake} timeline {task}"));
            }
            out.push(Alert {
                status,
                key,
                cluster: cluster.to_owned(),
                service: service.to_owned(),
                revision: revision.clone(),
                deployment: stops.deployment(),
                kind: f.kind,
                severity: f.severity,
                title: f.title.to_string(),
                figures,
                recommendation: f.recommendations.first().map(ToString::to_string),
                patch: f.patches.first().cloned(),
                commands,
                at: now,
                impact: f.impact,
                last_stop_at: stops.last(),
            });
        }
    }
    out
}

/// The open alerts that a later completed deployment, or quiet, ended.
async fn resolutions(
    lake: &Lake,
    state: &State,
    seen: &[(String, i64)],
    now: i64,
    settings: &Settings,
) -> Result<Vec<Alert>> {
    if state.open.is_empty() {
        return Ok(Vec::new());
    }
    let last_stop = |key: &str, open: &Open| {
        seen.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, at)| *at)
            .fold(open.last_stop_at, i64::max)
    };
    let from = state
        .open
        .iter()
        .map(|(k, o)| last_stop(k, o))
        .min()
        .unwrap_or(now);
    let deployments = evidence::deployment_rows(
        &lake.ctx,
        Scope {
            from: Some(from - settings.window),
            to: Some(now + 1),
        },
        &Selector::default(),
    )
    .await?;
    let mut out = Vec::new();
    for (key, open) in &state.open {
        let last = last_stop(key, open);
        let ended_by = deployments
            .iter()
            .filter(|d| {
                service_key(&d.cluster, &d.service, &d.family)
                    == (open.cluster.clone(), open.service.clone())
            })
            .filter(|d| d.outcome == DeploymentOutcome::Completed && d.label() != open.revision)
            .filter(|d| d.ended_at.is_some_and(|e| e > last && e <= now))
            .min_by_key(|d| d.ended_at);
        let why = match ended_by {
            Some(d) => format!(
                "{} {} (deployment {}) completed at {}, after the last abnormal stop of {} at {}",
                if d.is_rollback {
                    "the rollback to"
                } else {
                    "the deployment of"
                },
                d.label(),
                d.deployment_id,
                date_time_of(d.ended_at.unwrap_or_default()),
                open.revision,
                date_time_of(last),
            ),
            None if now - last >= settings.quiet => format!(
                "no abnormal stop of {} for {} (the last at {})",
                open.revision,
                duration(now - last),
                date_time_of(last)
            ),
            None => continue,
        };
        out.push(Alert {
            status: Status::Resolved,
            key: key.clone(),
            cluster: open.cluster.clone(),
            service: open.service.clone(),
            revision: open.revision.clone(),
            deployment: ended_by.map(|d| d.deployment_id.clone()),
            kind: open.kind,
            severity: open.severity,
            title: open.title.clone(),
            figures: vec![why],
            recommendation: None,
            patch: None,
            commands: vec![format!(
                "ecs-query{} postmortem {}/{} --since {}",
                lake_flag(&lake.location),
                open.cluster,
                open.service,
                date_time_of(open.sent_at - settings.window)
            )],
            at: now,
            impact: open.impact,
            last_stop_at: last,
        });
    }
    Ok(out)
}

/// ` --lake <location>`, unless it is the default.
fn lake_flag(location: &str) -> String {
    if location == "./ecs-lake" {
        String::new()
    } else {
        format!(" --lake {location}")
    }
}

/// `1 h`, `20 min`, `2 d`.
fn duration(micros: i64) -> String {
    let minutes = micros / MINUTE;
    if minutes % (24 * 60) == 0 && minutes > 0 {
        format!("{} d", minutes / (24 * 60))
    } else if minutes % 60 == 0 && minutes > 0 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

impl Alert {
    /// `[critical] prod/api api:42: <title>`, or `[resolved] ...`.
    pub fn headline(&self) -> String {
        let tag = match self.status {
            Status::Resolved => "resolved",
            Status::Worse => "worse",
            Status::New => self.severity.as_str(),
        };
        format!(
            "[{tag}] {}/{} {}: {}",
            self.cluster, self.service, self.revision, self.title
        )
    }

    /// `, deployment <id>` (the id between `quote`s), or nothing.
    fn deployment_words(&self, quote: &str) -> String {
        self.deployment
            .as_deref()
            .map(|d| format!(", deployment {quote}{d}{quote}"))
            .unwrap_or_default()
    }

    /// The email: subject (SNS allows 100 characters) and plain text.
    pub fn email(&self) -> (String, String) {
        let mut subject = self.headline();
        // SNS wants a subject shorter than 100 characters.
        if subject.chars().count() > 99 {
            subject = subject.chars().take(98).collect::<String>() + "…";
        }
        let mut body = format!("{}\n\n", self.headline());
        let _ = writeln!(
            body,
            "Where: cluster {}, service {}, revision {}{}",
            self.cluster,
            self.service,
            self.revision,
            self.deployment_words("")
        );
        let _ = writeln!(body, "When: {}\n", date_time_of(self.at));
        for f in &self.figures {
            let _ = writeln!(body, "- {f}");
        }
        if let Some(r) = &self.recommendation {
            let _ = writeln!(body, "\nWhat to change: {r}");
        }
        if let Some(p) = &self.patch {
            let _ = writeln!(
                body,
                "\nPatch ({}):\n{}\n\n{}",
                p.what,
                serde_json::to_string_pretty(&p.fragment).unwrap_or_default(),
                p.commands.join("\n")
            );
        }
        let _ = writeln!(body, "\nLook closer:");
        for c in &self.commands {
            let _ = writeln!(body, "  {c}");
        }
        (subject, body)
    }

    /// The custom notification Amazon Q Developer in chat applications
    /// renders in Slack and Microsoft Teams (`version` 1.0, `source`
    /// `custom`; Markdown content; the key as the thread, so "resolved"
    /// lands under the alert).
    pub fn chat(&self) -> Value {
        let icon = match (self.status, self.severity) {
            (Status::Resolved, _) => ":white_check_mark:",
            (_, Severity::Critical) => ":rotating_light:",
            _ => ":warning:",
        };
        let mut description = String::new();
        let _ = writeln!(
            description,
            "*{}/{}* on `{}`{}",
            self.cluster,
            self.service,
            self.revision,
            self.deployment_words("`")
        );
        for f in &self.figures {
            let _ = writeln!(description, "• {f}");
        }
        if let Some(r) = &self.recommendation {
            let _ = writeln!(description, "*What to change:* {r}");
        }
        if let Some(p) = &self.patch {
            let _ = writeln!(
                description,
                "*Patch ({}):*\n```{}```",
                p.what,
                serde_json::to_string(&p.fragment).unwrap_or_default()
            );
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": format!("{}@{}", self.key, self.at),
            "content": {
                "textType": "client-markdown",
                "title": format!("{icon} {}", self.headline()),
                "description": description,
                "nextSteps": self.commands.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>(),
                "keywords": [self.cluster, self.service, self.revision, self.kind.as_str(), self.status.as_str()],
            },
            "metadata": {
                "threadId": self.key,
                "summary": self.headline(),
                "eventType": format!("ecs-lake-watch-{}", self.status.as_str()),
                "relatedResources": self.deployment.iter().collect::<Vec<_>>(),
                "additionalContext": {
                    "cluster": self.cluster,
                    "service": self.service,
                    "revision": self.revision,
                    "kind": self.kind.as_str(),
                    "severity": self.severity.as_str(),
                    "status": self.status.as_str(),
                },
            },
        })
    }

    /// The SNS `Subject` and `Message` for `MessageStructure=json`: the
    /// email text to email subscriptions, the chat notification to HTTPS
    /// ones (Amazon Q Developer subscribes over HTTPS) and to everything
    /// else (SQS, Lambda: machine-readable).
    pub fn sns_message(&self) -> (String, String) {
        let (subject, body) = self.email();
        let chat = self.chat().to_string();
        let message = json!({"default": chat, "https": chat, "email": body}).to_string();
        (subject, message)
    }
}

/// Publishes `alert` to the SNS `topic`.
pub async fn publish(sns: &aws_sdk_sns::Client, topic: &str, alert: &Alert) -> Result<()> {
    let (subject, message) = alert.sns_message();
    sns.publish()
        .topic_arn(topic)
        .subject(subject)
        .message(message)
        .message_structure("json")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::Publish {
            what: alert.key.clone(),
            topic: topic.to_owned(),
            message: aws_sdk_sns::error::DisplayErrorContext(e).to_string(),
        })
}

/// The webhook URL kept in the Secrets Manager secret `secret` (its
/// `SecretString`: the URL itself, or JSON with a `url` field). The URL is
/// a credential: it is never logged or stored.
pub async fn webhook_url(secrets: &aws_sdk_secretsmanager::Client, secret: &str) -> Result<String> {
    let value = secrets
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| Error::Webhook {
            what: format!("reading the secret {secret}"),
            message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
        })?;
    let text = value.secret_string().unwrap_or_default().trim();
    let url = match serde_json::from_str::<Value>(text) {
        Ok(doc) => doc["url"].as_str().unwrap_or_default().to_owned(),
        Err(_) => text.to_owned(),
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::Webhook {
            what: format!("the secret {secret}"),
            message: "holds no URL: store the webhook URL itself, or {\"url\": \"https://...\"}"
                .into(),
        });
    }
    Ok(url)
}

/// Posts `alert` to a chat webhook as `{"text": ...}` (Slack's incoming
/// webhooks and the many that accept its shape): the headline, where, the
/// figures, what to change and the commands.
pub async fn post_webhook(http: &reqwest::Client, url: &str, alert: &Alert) -> Result<()> {
    let mut text = format!("*{}*\n", alert.headline());
    let (_, body) = alert.email();
    // The email's lines after its headline.
    text.push_str(
        body.split_once("\n\n")
            .map_or(body.as_str(), |(_, rest)| rest),
    );
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .body(json!({ "text": text }).to_string())
        .send()
        .await;
    // The URL is a credential: errors name the alert, never the URL.
    match answer {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(Error::Webhook {
            what: format!("posting {}", alert.key),
            message: format!("the webhook answered HTTP {}", r.status()),
        }),
        Err(e) => Err(Error::Webhook {
            what: format!("posting {}", alert.key),
            message: e.without_url().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn alert(status: Status, service: &str, at: i64) -> Alert {
        Alert {
            status,
            key: format!("prod/{service}/{service}:2/oom_kills"),
            cluster: "prod".into(),
            service: service.into(),
            revision: format!("{service}:2"),
            deployment: Some("ecs-svc/1".into()),
            kind: FindingKind::OomKills,
            severity: Severity::Critical,
            title: "OOM kills".into(),
            figures: vec!["3 abnormal stops".into()],
            recommendation: None,
            patch: None,
            commands: vec![],
            at,
            impact: 3,
            last_stop_at: at - MINUTE,
        }
    }

    #[test]
    fn recording_opens_and_resolving_closes_and_the_hour_is_forgotten() {
        let mut state = State::default();
        state.record(&alert(Status::New, "api", 10 * HOUR), 10 * HOUR);
        assert_eq!(state.open.len(), 1);
        let key = "prod/api/api:2/oom_kills".to_owned();
        state.finish(&Evaluation {
            now: 10 * HOUR + 5 * MINUTE,
            seen: vec![(key.clone(), 10 * HOUR + 4 * MINUTE)],
            ..Evaluation::default()
        });
        assert_eq!(state.open[&key].last_stop_at, 10 * HOUR + 4 * MINUTE);
        assert_eq!(state.sent["prod/api"], vec![10 * HOUR]);
        state.record(
            &alert(Status::Resolved, "api", 11 * HOUR + MINUTE),
            11 * HOUR + MINUTE,
        );
        assert!(state.open.is_empty());
        state.finish(&Evaluation {
            now: 11 * HOUR + 2 * MINUTE,
            quiet: 24 * HOUR,
            ..Evaluation::default()
        });
        assert_eq!(
            state.resolved[&key],
            11 * HOUR,
            "said again only after a later stop"
        );
        assert_eq!(
            state.sent["prod/api"],
            vec![11 * HOUR + MINUTE],
            "older than an hour: forgotten"
        );
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&text).unwrap(), state);
    }

    #[test]
    fn the_sns_message_carries_email_text_and_the_chat_notification() {
        let a = alert(Status::New, "api", 1_795_060_800_000_000);
        let (subject, message) = a.sns_message();
        assert!(
            subject.starts_with("[critical] prod/api api:2: OOM kills"),
            "{subject}"
        );
        let m: Value = serde_json::from_str(&message).unwrap();
        assert!(
            m["email"]
                .as_str()
                .unwrap()
                .contains("deployment ecs-svc/1")
        );
        let chat: Value = serde_json::from_str(m["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert_eq!(chat["content"]["textType"], "client-markdown");
        assert_eq!(chat["metadata"]["threadId"], a.key);
        assert_eq!(m["default"], m["https"]);
        let long = Alert {
            title: "x".repeat(200),
            ..a
        };
        assert_eq!(long.email().0.chars().count(), 99);
    }

    /// `stops` OOM-killed tasks of prod/api api:42, a minute apart from 10 h.
    fn oom_killed(stops: usize) -> Vec<TaskRow> {
        (0..stops)
            .map(|i| TaskRow {
                cluster: Some("prod".into()),
                service: Some("api".into()),
                task_id: format!("t{i}"),
                family: Some("api".into()),
                revision: Some(42),
                deployment_id: Some("ecs-svc/42".into()),
                stop_cause: Some(ecs_lake::classify::StopCause::OomKilled),
                exit_kind: Some(ecs_lake::classify::ExitKind::SigkillOom),
                exit_code: Some(137),
                started_at: Some(8 * HOUR),
                stopped_at: Some(10 * HOUR + i as i64 * MINUTE),
                memory_limit: Some(1024),
                ..TaskRow::default()
            })
            .collect()
    }

    fn alerts_for(tasks: &[TaskRow], state: &State) -> Vec<Alert> {
        let svc = evidence::assemble(tasks.to_vec(), Vec::new(), Vec::new());
        let found = findings::findings(&svc[0]);
        assert!(found.iter().any(|f| f.kind == FindingKind::OomKills));
        let mut seen = Vec::new();
        alerts_of(
            "prod",
            "api",
            &found,
            tasks,
            state,
            11 * HOUR,
            &Settings::default(),
            "./ecs-lake",
            &mut seen,
        )
    }

    #[test]
    fn one_abnormal_stop_is_not_yet_an_alert_the_second_is() {
        assert!(alerts_for(&oom_killed(1), &State::default()).is_empty());
        let two = alerts_for(&oom_killed(2), &State::default());
        assert_eq!(two.len(), 1, "{two:#?}");
        assert_eq!(two[0].key, "prod/api/api:42/oom_kills");
        assert_eq!(two[0].deployment.as_deref(), Some("ecs-svc/42"));
        assert_eq!(two[0].last_stop_at, 10 * HOUR + MINUTE);
        assert_eq!(two[0].commands[0], "ecs-query diagnose prod/api last 1h");
    }

    #[test]
    fn a_resolved_alert_is_said_again_only_for_a_later_stop() {
        let mut state = State::default();
        state
            .resolved
            .insert("prod/api/api:42/oom_kills".into(), 10 * HOUR + MINUTE);
        assert!(alerts_for(&oom_killed(2), &state).is_empty());
        let again = alerts_for(&oom_killed(3), &state);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].status, Status::New);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(HOUR), "1 h");
        assert_eq!(duration(20 * MINUTE), "20 min");
        assert_eq!(duration(48 * HOUR), "2 d");
        assert_eq!(duration(90 * MINUTE), "90 min");
    }
}
