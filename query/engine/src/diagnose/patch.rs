//! A recommendation as the change to apply: the task definition (or
//! service) fields as a JSON fragment, and the AWS CLI commands that apply
//! it. Only where the lake knows the container to change (its task
//! definition is in the lake); a finding without it says how to add it.
//!
//! The commands register a new revision from the current one with `jq`
//! (the fields `register-task-definition` refuses removed) and roll the
//! service onto it, so a change to one field keeps every other field,
//! including environment values the lake never stores.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::evidence::ServiceEvidence;
use super::findings::{Fact, Finding, Recommendation};
use super::recommend::Runtime;

/// One change to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    /// What it changes, in words.
    pub what: String,
    /// The fields, as a fragment of the task definition (or of
    /// `update-service`'s input).
    pub fragment: Value,
    /// The AWS CLI commands that apply it.
    pub commands: Vec<String>,
}

/// The fields `describe-task-definition` returns that
/// `register-task-definition` refuses.
const READ_ONLY: &str = "del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities, .registeredAt, .registeredBy, .deregisteredAt)";

/// The patches of a finding's recommendations, for the service `svc`.
pub fn patches(svc: &ServiceEvidence, f: &Finding) -> Vec<Patch> {
    let Some(revision) = f.revisions.first() else {
        return Vec::new();
    };
    // The container the finding's evidence names from the task definition.
    let container = f.evidence.iter().find_map(|e| match e {
        Fact::ConfiguredMemory { container, .. } | Fact::ContainerHealthCheck { container, .. } => {
            Some(container.as_str())
        }
        _ => None,
    });
    let container = container.or_else(|| {
        let r = svc.revisions.iter().find(|r| &r.label == revision)?;
        (r.config.len() == 1).then(|| r.config[0].container_name.as_str())
    });
    let Some(container) = container else {
        return Vec::new();
    };
    let target = Target {
        cluster: &svc.cluster,
        service: &svc.service,
        revision,
        container,
    };
    f.recommendations
        .iter()
        .filter_map(|r| target.patch(r))
        .collect()
}

struct Target<'a> {
    cluster: &'a str,
    service: &'a str,
    revision: &'a str,
    container: &'a str,
}

impl Target<'_> {
    fn family(&self) -> &str {
        self.revision
            .rsplit_once(':')
            .map_or(self.revision, |(f, _)| f)
    }

    /// Describe, edit with `jq`, register, roll the service.
    fn register(&self, edit: &str) -> Vec<String> {
        let mut commands = vec![
            format!(
                "aws ecs describe-task-definition --task-definition {} --query taskDefinition > td.json",
                self.revision
            ),
            format!("jq '{edit} | {READ_ONLY}' td.json > td-new.json"),
            "aws ecs register-task-definition --cli-input-json file://td-new.json".to_owned(),
        ];
        if !self.service.starts_with(super::evidence::STANDALONE) {
            commands.push(format!(
                "aws ecs update-service --cluster {} --service {} --task-definition {}",
                self.cluster,
                self.service,
                self.family()
            ));
        }
        commands
    }

    fn in_container(&self, path: &str) -> String {
        format!(
            "(.containerDefinitions[] | select(.name == \"{}\") | {path})",
            self.container
        )
    }

    fn patch(&self, r: &Recommendation) -> Option<Patch> {
        let name = self.container;
        match r {
            Recommendation::CapHeap {
                runtime, limit_mib, ..
            }
            | Recommendation::RaiseHeapCap {
                runtime, limit_mib, ..
            } => {
                let (variable, value) = runtime.heap_variable(*limit_mib)?;
                // Replace the flag inside the variable (its other flags,
                // which the lake does not store, are kept), or add it.
                let pattern = match runtime {
                    Runtime::Node => "--max[-_]old[-_]space[-_]size=[0-9]+",
                    Runtime::Jvm => "-XX:MaxRAMPercentage=[0-9.]+",
                    Runtime::Go => "^.*$",
                    Runtime::Python => return None,
                };
                let edit = format!(
                    "{env} |= (if any(.[]; .name == \"{variable}\") then map(if .name == \"{variable}\" then .value |= (if test(\"{pattern}\") then sub(\"{pattern}\"; \"{value}\") else . + \" {value}\" end) else . end) else . + [{{\"name\": \"{variable}\", \"value\": \"{value}\"}}] end)",
                    env = self.in_container(".environment"),
                );
                Some(Patch {
                    what: format!("{variable} in container {name}: {value}"),
                    fragment: json!({"containerDefinitions": [{"name": name, "environment": [{"name": variable, "value": value}]}]}),
                    commands: self.register(&edit),
                })
            }
            Recommendation::SetMemory {
                memory_mib,
                reservation_mib,
                ..
            } => {
                let edit = format!(
                    ".memory = \"{memory_mib}\" | {} = {reservation_mib} | {} |= (if . == null then null else {memory_mib} end)",
                    self.in_container(".memoryReservation"),
                    self.in_container(".memory"),
                );
                Some(Patch {
                    what: format!(
                        "task memory {memory_mib} MiB, container {name} memoryReservation {reservation_mib} MiB"
                    ),
                    fragment: json!({"memory": memory_mib.to_string(), "containerDefinitions": [{"name": name, "memoryReservation": reservation_mib}]}),
                    commands: self.register(&edit),
                })
            }
            Recommendation::StartPeriod { seconds, .. } => {
                let mut commands = self.register(&format!(
                    "{} = {seconds}",
                    self.in_container(".healthCheck.startPeriod")
                ));
                if !self.service.starts_with(super::evidence::STANDALONE) {
                    commands.push(format!(
                        "aws ecs update-service --cluster {} --service {} --health-check-grace-period-seconds {seconds}  # load-balanced services only",
                        self.cluster, self.service
                    ));
                }
                Some(Patch {
                    what: format!(
                        "container {name} healthCheck.startPeriod and the service's healthCheckGracePeriodSeconds: {seconds} s"
                    ),
                    fragment: json!({
                        "containerDefinitions": [{"name": name, "healthCheck": {"startPeriod": seconds}}],
                        "healthCheckGracePeriodSeconds": seconds,
                    }),
                    commands,
                })
            }
            Recommendation::HandleSigterm => Some(Patch {
                what: format!("container {name} runs under an init that forwards SIGTERM"),
                fragment: json!({"containerDefinitions": [{"name": name, "linuxParameters": {"initProcessEnabled": true}}]}),
                commands: self.register(&format!(
                    "{} = true",
                    self.in_container(".linuxParameters.initProcessEnabled")
                )),
            }),
            _ => None,
        }
    }
}
