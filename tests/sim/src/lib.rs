//! # ecs-sim: a seeded ECS fleet simulator with ground truth
//!
//! Generates what AWS would deliver for a fleet over a time range, as exact
//! payloads: EventBridge `ECS Task State Change` and `ECS Deployment State
//! Change` events, and CloudWatch Logs subscription payloads (base64 of gzip)
//! for application logs and Container Insights performance records. Beside
//! them, [`Truth`]: what really happened to every task and deployment, decided
//! by the simulator, never read back from the lake, so tests can hold the
//! lake to it.
//!
//! Deterministic: the same preset and seed give byte-identical output.
//!
//! This first slice simulates services on Fargate: deployments with rolling
//! replacement (old tasks exit 143 on SIGTERM), per-revision memory (steady or
//! leaking until the container is OOM-killed with exit 137 at 100% of its
//! limit), and health checks whose start period is shorter than the app's
//! warm-up (UNHEALTHY samples, then a stop for failed ELB health checks).
//! Not yet: crash loops, segfaults, Spot interruptions, image pull failures,
//! circuit-breaker rollbacks, duplicate and out-of-order delivery, scale presets.

use std::io::Write;

use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const MINUTE_MS: i64 = 60_000;

/// A small deterministic generator (xorshift64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A 32-hex-digit id (task ids, runtime ids).
    pub fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
    pub fn uuid(&mut self) -> String {
        let h = self.hex32();
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }
}

/// How a revision's container uses memory over its uptime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Memory {
    /// Around `mib`, with small noise.
    Steady { mib: f64 },
    /// Starts at `start_mib` and grows by `mib_per_hour` until the OOM kill at the limit.
    Leak { start_mib: f64, mib_per_hour: f64 },
    /// Around `mib`, with short spikes of `spike_mib` more, `per_hour` of
    /// them on average; a spike that reaches the limit is an OOM kill.
    Spiky {
        mib: f64,
        spike_mib: f64,
        per_hour: f64,
    },
}

/// One task-definition revision of a service and how its app behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub revision: i32,
    pub image_tag: &'static str,
    pub memory: Memory,
    /// Seconds from start until the app answers its health check.
    pub warm_up_s: f64,
    /// Share of tasks whose warm-up exceeds the health check's grace and
    /// which are stopped for failed ELB health checks.
    pub health_failure_rate: f64,
    /// The app does not exit on SIGTERM: scheduler stops end in SIGKILL (137)
    /// after the 30 s stop timeout.
    pub ignores_sigterm: bool,
    /// The app crashes on its own: exit code, mean uptime before it does, and the last line it logs.
    pub crash: Option<Crash>,
    /// The image cannot be pulled: tasks fail to start and the deployment
    /// circuit breaker rolls back to the previous revision.
    pub pull_fails: bool,
    /// `NODE_OPTIONS=--max-old-space-size=<MiB>` in the task definition:
    /// the V8 heap cap (none: V8's default, above any limit here).
    pub node_heap_cap_mib: Option<i32>,
}

/// A crash: the container exits with `exit_code` after an exponentially
/// distributed uptime of mean `mean_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crash {
    pub exit_code: i32,
    pub mean_s: f64,
    pub line: &'static str,
}

impl Revision {
    /// A revision whose app cannot find its entry point: exit 1 about 20 s
    /// after each start (a crash loop).
    pub fn crash_loop(revision: i32, image_tag: &'static str) -> Self {
        Self {
            crash: Some(Crash {
                exit_code: 1,
                mean_s: 20.0,
                line: "Error: Cannot find module '/app/dist/server.js'",
            }),
            ..Revision::steady(revision, image_tag, 150.0, 4.0)
        }
    }

    /// A revision whose image cannot be pulled: its tasks fail to start.
    pub fn unpullable(revision: i32, image_tag: &'static str) -> Self {
        Self {
            pull_fails: true,
            ..Revision::steady(revision, image_tag, 200.0, 8.0)
        }
    }

    /// A well-behaved revision: steady memory, healthy after `warm_up_s`.
    pub fn steady(revision: i32, image_tag: &'static str, mib: f64, warm_up_s: f64) -> Self {
        Self {
            revision,
            image_tag,
            memory: Memory::Steady { mib },
            warm_up_s,
            health_failure_rate: 0.0,
            ignores_sigterm: false,
            crash: None,
            pull_fails: false,
            node_heap_cap_mib: None,
        }
    }
}

/// The container health check of every simulated service (no `startPeriod`):
/// interval and timeout in seconds, and retries. ECS's defaults, as most
/// task definitions leave them.
pub const HEALTH_CHECK_INTERVAL_S: i64 = 30;
pub const HEALTH_CHECK_TIMEOUT_S: i64 = 5;
pub const HEALTH_CHECK_RETRIES: i64 = 3;

/// The load balancer in front of every simulated service: the service's
/// health-check grace period, and its target group's health check
/// (interval, timeout, thresholds). A task that never answers is marked
/// unhealthy, and stopped, after the grace period and `unhealthy threshold`
/// failed checks.
pub const ELB_GRACE_PERIOD_S: i64 = 30;
pub const TARGET_GROUP_INTERVAL_S: i64 = 30;
pub const TARGET_GROUP_TIMEOUT_S: i64 = 5;
pub const TARGET_GROUP_HEALTHY_THRESHOLD: i64 = 5;
pub const TARGET_GROUP_UNHEALTHY_THRESHOLD: i64 = 3;
/// `deregistration_delay.timeout_seconds` of every service's target group
/// (ELB's default is 300 s; teams lower it for faster deployments). ECS
/// deregisters a task it stops and waits this long (connections drain)
/// before it sends SIGTERM.
pub const TARGET_GROUP_DEREGISTRATION_DELAY_S: i64 = 15;

/// A service and its deployments.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub cluster: String,
    pub name: String,
    pub family: String,
    pub container: String,
    pub cpu: i32,
    pub memory_mib: i32,
    pub desired: usize,
    /// (offset from the start in hours, revision): the first at 0 is the initial deployment.
    pub deployments: Vec<(f64, Revision)>,
    /// Fargate Spot: mean interruptions per task-day (0 on regular Fargate).
    pub spot_interruptions_per_day: f64,
    /// `Some`: not a service but standalone tasks run on a schedule
    /// (EventBridge RunTask, `startedBy` = `events-rule/<family>`, group
    /// `family:<family>`, no health check, no deployment events); the first
    /// revision's `crash` is how a failed run ends, `desired` is ignored.
    pub schedule: Option<Schedule>,
}

/// When a standalone task runs and how long it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub every_h: f64,
    pub runtime_s: f64,
    /// Share of runs that fail (the revision's `crash`).
    pub failure_rate: f64,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    /// Start, milliseconds since the epoch (UTC).
    pub start_ms: i64,
    pub hours: f64,
    pub services: Vec<Service>,
    /// Share of events delivered twice (at-least-once delivery).
    pub duplicate_rate: f64,
    /// Share of events delivered after the one that followed them.
    pub reorder_rate: f64,
}

impl Preset {
    /// Every task definition revision the preset runs, as
    /// `aws ecs describe-task-definition` (CLI v2) prints it, consistent with
    /// what the simulation does: the task's CPU and memory, the container's
    /// hard limit (the task's memory), the image, the health check the
    /// simulation applies, and the revision's heap setting. Registered an
    /// hour before the deployment that rolls it out.
    pub fn task_definition_documents(&self) -> Vec<serde_json::Value> {
        let mut docs = Vec::new();
        for svc in &self.services {
            for (offset_h, rev) in &svc.deployments {
                let registered_ms = self.start_ms + (offset_h * 3_600_000.0) as i64 - 3_600_000;
                let mut environment = vec![json!({"name": "PORT", "value": "8080"})];
                if let Some(mib) = rev.node_heap_cap_mib {
                    environment.push(json!({
                        "name": "NODE_OPTIONS",
                        "value": format!("--enable-source-maps --max-old-space-size={mib}"),
                    }));
                }
                let health_check = svc.schedule.is_none().then(|| {
                    json!({
                        "command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                        "interval": HEALTH_CHECK_INTERVAL_S,
                        "timeout": HEALTH_CHECK_TIMEOUT_S,
                        "retries": HEALTH_CHECK_RETRIES,
                    })
                });
                let mut container = json!({
                    "name": svc.container,
                    "image": format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}:{}", svc.family, rev.image_tag),
                    "cpu": 0,
                    "memory": svc.memory_mib,
                    "essential": true,
                    "environment": environment,
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": format!("/ecs/{}", svc.family),
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": "ecs",
                        },
                    },
                });
                if let Some(h) = health_check {
                    container["healthCheck"] = h;
                }
                docs.push(json!({
                    "taskDefinition": {
                        "taskDefinitionArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:{}", svc.family, rev.revision),
                        "containerDefinitions": [container],
                        "family": svc.family,
                        "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"),
                        "networkMode": "awsvpc",
                        "revision": rev.revision,
                        "status": "ACTIVE",
                        "requiresCompatibilities": ["FARGATE"],
                        "cpu": svc.cpu.to_string(),
                        "memory": svc.memory_mib.to_string(),
                        "registeredAt": iso(registered_ms).replace('Z', "+00:00"),
                        "registeredBy": format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"),
                    },
                    "tags": [],
                }));
            }
        }
        docs
    }

    /// Every service as `aws ecs describe-services` (CLI v2) prints it, and
    /// every target group as `aws elbv2 describe-target-groups` does,
    /// consistent with what the simulation does: the grace period and the
    /// target group's health check that stop the tasks that never answer.
    pub fn service_documents(&self) -> Vec<serde_json::Value> {
        let mut services = Vec::new();
        let mut groups = Vec::new();
        for svc in self.services.iter().filter(|s| s.schedule.is_none()) {
            let target_group = target_group_arn(&svc.name);
            let latest = svc.deployments.last().map_or(0, |(_, r)| r.revision);
            services.push(json!({
                "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}", svc.cluster, svc.name),
                "serviceName": svc.name,
                "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", svc.cluster),
                "loadBalancers": [{"targetGroupArn": target_group, "containerName": svc.container, "containerPort": 8080}],
                "status": "ACTIVE",
                "desiredCount": svc.desired,
                "launchType": "FARGATE",
                "taskDefinition": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:{latest}", svc.family),
                "deploymentConfiguration": {
                    "deploymentCircuitBreaker": {"enable": true, "rollback": true},
                    "maximumPercent": 200,
                    "minimumHealthyPercent": 100,
                },
                "healthCheckGracePeriodSeconds": ELB_GRACE_PERIOD_S,
                "schedulingStrategy": "REPLICA",
                "createdAt": iso(self.start_ms).replace('Z', "+00:00"),
            }));
            groups.push(json!({
                "TargetGroupArn": target_group,
                "TargetGroupName": svc.name,
                "Protocol": "HTTP",
                "Port": 8080,
                "HealthCheckProtocol": "HTTP",
                "HealthCheckPort": "traffic-port",
                "HealthCheckEnabled": true,
                "HealthCheckIntervalSeconds": TARGET_GROUP_INTERVAL_S,
                "HealthCheckTimeoutSeconds": TARGET_GROUP_TIMEOUT_S,
                "HealthyThresholdCount": TARGET_GROUP_HEALTHY_THRESHOLD,
                "UnhealthyThresholdCount": TARGET_GROUP_UNHEALTHY_THRESHOLD,
                "HealthCheckPath": "/health",
                "Matcher": {"HttpCode": "200"},
                "TargetType": "ip",
            }));
        }
        if services.is_empty() {
            return Vec::new();
        }
        // `aws elbv2 describe-target-group-attributes` names no target
        // group: each answer with the ARN it was asked for added.
        let attributes = groups.iter().map(|g| {
            json!({
                "TargetGroupArn": g["TargetGroupArn"],
                "Attributes": [
                    {"Value": TARGET_GROUP_DEREGISTRATION_DELAY_S.to_string(), "Key": "deregistration_delay.timeout_seconds"},
                    {"Value": "false", "Key": "stickiness.enabled"},
                    {"Value": "lb_cookie", "Key": "stickiness.type"},
                    {"Value": "0", "Key": "slow_start.duration_seconds"},
                    {"Value": "round_robin", "Key": "load_balancing.algorithm.type"},
                ],
            })
        });
        let mut docs = vec![
            json!({"services": services, "failures": []}),
            json!({"TargetGroups": groups}),
        ];
        docs.extend(attributes);
        docs
    }

    /// The case users bring most: a Node.js API (task 512 CPU / 1024 MiB).
    /// Revision 41 is healthy; revision 42, deployed after a day, leaks memory
    /// until its container is OOM-killed (exit 137 at 100% of the limit), and
    /// about half its tasks fail ELB health checks because the health check's
    /// grace is shorter than the app's warm-up.
    pub fn node_oom(hours: f64) -> Preset {
        Preset {
            name: "node-oom",
            start_ms: 1_795_046_400_000, // 2026-11-19T00:00:00Z
            hours,
            services: vec![Service {
                cluster: "prod".into(),
                name: "api".into(),
                family: "api".into(),
                container: "app".into(),
                cpu: 512,
                memory_mib: 1024,
                desired: 4,
                deployments: vec![
                    (0.0, Revision::steady(41, "v1.41.0", 410.0, 18.0)),
                    (
                        (hours / 4.0).min(24.0),
                        Revision {
                            memory: Memory::Leak {
                                start_mib: 430.0,
                                mib_per_hour: 75.0,
                            },
                            health_failure_rate: 0.5,
                            // Set with the release: above the 1024 MiB limit,
                            // so the kernel, not V8, ends the leak.
                            node_heap_cap_mib: Some(1536),
                            ..Revision::steady(42, "v1.42.0", 0.0, 75.0)
                        },
                    ),
                ],
                spot_interruptions_per_day: 0.0,
                schedule: None,
            }],
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
        }
    }

    /// [`Preset::node_oom`] plus:
    /// * a Python `worker` whose app ignores SIGTERM: tasks replaced by a
    ///   deployment are SIGKILLed (exit 137) when the stop timeout expires,
    ///   a 137 that is not an OOM kill;
    /// * a `checkout` service on Fargate Spot (interruptions) whose revision 12
    ///   segfaults now and then (139); revision 13's image cannot be pulled,
    ///   so its deployment fails and the circuit breaker rolls back to 12;
    /// * a `billing` service whose revision 5 crash-loops (exit 1) until 6 fixes it;
    /// * a JVM `search` service whose memory spikes reach its limit (OOM kills);
    /// * a Node.js `render` service whose 512 MiB heap cap is too low: spikes
    ///   exhaust V8's heap (exit 134, no OutOfMemoryError) far below the limit;
    /// * at-least-once delivery: 2% of events twice, 2% out of order.
    pub fn fleet(hours: f64) -> Preset {
        let mut p = Preset::node_oom(hours);
        p.name = "fleet";
        p.duplicate_rate = 0.02;
        p.reorder_rate = 0.02;
        let service =
            |name: &str, container: &str, cpu, memory_mib, desired, deployments| Service {
                cluster: "prod".into(),
                name: name.into(),
                family: name.into(),
                container: container.into(),
                cpu,
                memory_mib,
                desired,
                deployments,
                spot_interruptions_per_day: 0.0,
                schedule: None,
            };
        let ignores = |rev: i32, tag| Revision {
            ignores_sigterm: true,
            ..Revision::steady(rev, tag, 300.0, 5.0)
        };
        p.services.push(service(
            "worker",
            "worker",
            256,
            512,
            2,
            vec![
                (0.0, ignores(7, "2026.11.1")),
                (hours / 2.0, ignores(8, "2026.11.2")),
            ],
        ));
        let segfaults = Revision {
            crash: Some(Crash {
                exit_code: 139,
                mean_s: 8.0 * 3600.0,
                line: "Segmentation fault (core dumped)",
            }),
            ..Revision::steady(12, "v12", 200.0, 8.0)
        };
        let unpullable = Revision::unpullable(13, "v13-typo");
        let mut checkout = service(
            "checkout",
            "checkout",
            256,
            512,
            3,
            vec![(0.0, segfaults), (hours * 0.6, unpullable)],
        );
        checkout.spot_interruptions_per_day = 1.0;
        p.services.push(checkout);
        let crash_loop = Revision::crash_loop(5, "v5");
        p.services.push(service(
            "billing",
            "billing",
            256,
            512,
            2,
            vec![
                (0.0, Revision::steady(4, "v4", 150.0, 4.0)),
                (hours * 0.3, crash_loop),
                (hours * 0.3 + 0.5, Revision::steady(6, "v6", 150.0, 4.0)),
            ],
        ));
        // A JVM search service whose memory spikes (large queries): a spike
        // that reaches the limit is an OOM kill with no leak behind it.
        p.services.push(service(
            "search",
            "search",
            1024,
            2048,
            2,
            vec![(
                0.0,
                Revision {
                    memory: Memory::Spiky {
                        mib: 1300.0,
                        spike_mib: 800.0,
                        per_hour: 0.15,
                    },
                    ..Revision::steady(21, "corretto-21-v21", 0.0, 25.0)
                },
            )],
        ));
        // A standalone task: a database migration job every 6 hours,
        // run by an EventBridge rule; a quarter of the runs time out.
        p.services.push(Service {
            schedule: Some(Schedule {
                every_h: 6.0,
                runtime_s: 300.0,
                failure_rate: 0.25,
            }),
            ..service(
                "migrate",
                "migrate",
                256,
                512,
                1,
                vec![(
                    0.0,
                    Revision {
                        crash: Some(Crash {
                            exit_code: 1,
                            mean_s: 120.0,
                            line: "Error: connect ETIMEDOUT 10.0.1.5:5432",
                        }),
                        ..Revision::steady(3, "2026.11.0", 180.0, 0.0)
                    },
                )],
            )
        });
        // A Node.js renderer whose heap cap is too low for its large
        // documents: a spike exhausts the 512 MiB V8 heap long before the
        // 2048 MiB container limit, and Node aborts (exit 134, "JavaScript
        // heap out of memory"); ECS reports no OutOfMemoryError. Last, so
        // the services above draw the random numbers they drew before it.
        p.services.push(service(
            "render",
            "render",
            512,
            2048,
            2,
            vec![(
                0.0,
                Revision {
                    memory: Memory::Spiky {
                        mib: 420.0,
                        spike_mib: 350.0,
                        per_hour: 0.2,
                    },
                    node_heap_cap_mib: Some(512),
                    ..Revision::steady(3, "v3.0.4", 0.0, 6.0)
                },
            )],
        ));
        p
    }
}

impl Preset {
    /// Deployments landing through a working day, for the deployment watch:
    /// * `api` (Node.js, 1024 MiB): revision 42, rolled out after an hour,
    ///   leaks 240 MiB/h from 430 MiB and is OOM-killed from about 2.5 h
    ///   after its start; never fixed in the range;
    /// * `billing`: revision 5, rolled out at 2 h, crash-loops (exit 1
    ///   within seconds) until revision 6 fixes it half an hour later;
    /// * `checkout`: revision 13's image cannot be pulled at 4 h: its tasks
    ///   fail to start, the circuit breaker fails the deployment and rolls
    ///   back to 12;
    /// * `worker`: healthy throughout (a deployment of 8 at 3 h; Fargate Spot
    ///   interruptions, which are not the service's fault).
    pub fn rollouts(hours: f64) -> Preset {
        let service = |name: &str, memory_mib, desired, deployments| Service {
            cluster: "prod".into(),
            name: name.into(),
            family: name.into(),
            container: "app".into(),
            cpu: 256,
            memory_mib,
            desired,
            deployments,
            spot_interruptions_per_day: 0.0,
            schedule: None,
        };
        let leak = Revision {
            memory: Memory::Leak {
                start_mib: 430.0,
                mib_per_hour: 240.0,
            },
            ..Revision::steady(42, "v1.42.0", 0.0, 12.0)
        };
        let crash_loop = Revision::crash_loop(5, "v5");
        let unpullable = Revision::unpullable(13, "v13-typo");
        let mut worker = service(
            "worker",
            512,
            3,
            vec![
                (0.0, Revision::steady(7, "2026.11.1", 300.0, 5.0)),
                (3.0, Revision::steady(8, "2026.11.2", 300.0, 5.0)),
            ],
        );
        worker.spot_interruptions_per_day = 6.0;
        Preset {
            name: "rollouts",
            start_ms: 1_795_046_400_000, // 2026-11-19T00:00:00Z
            hours,
            services: vec![
                service(
                    "api",
                    1024,
                    4,
                    vec![
                        (0.0, Revision::steady(41, "v1.41.0", 410.0, 12.0)),
                        (1.0, leak),
                    ],
                ),
                service(
                    "billing",
                    512,
                    2,
                    vec![
                        (0.0, Revision::steady(4, "v4", 150.0, 4.0)),
                        (2.0, crash_loop),
                        (2.5, Revision::steady(6, "v6", 150.0, 4.0)),
                    ],
                ),
                service(
                    "checkout",
                    512,
                    3,
                    vec![
                        (0.0, Revision::steady(12, "v12", 200.0, 8.0)),
                        (4.0, unpullable),
                    ],
                ),
                worker,
            ],
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
        }
    }
}

impl Preset {
    /// For benchmarks and scale tests: `copies` copies of the [`Preset::fleet`]
    /// services (names suffixed `-1`, `-2`, ...) in `clusters` clusters.
    pub fn scale(copies: usize, clusters: usize, hours: f64) -> Preset {
        let fleet = Preset::fleet(hours);
        let mut p = Preset {
            name: "scale",
            services: Vec::new(),
            ..fleet.clone()
        };
        for i in 0..copies {
            for svc in &fleet.services {
                p.services.push(Service {
                    cluster: format!("prod-{}", i % clusters.max(1) + 1),
                    name: format!("{}-{}", svc.name, i + 1),
                    family: format!("{}-{}", svc.family, i + 1),
                    ..svc.clone()
                });
            }
        }
        p
    }
}

impl Preset {
    /// Task churn for event-volume tests: `services` services of 10 tasks that
    /// crash about a minute after they start (exit 1) and are replaced, for
    /// the whole range: about 6 task state change events per task-minute and a half.
    pub fn churn(services: usize, hours: f64) -> Preset {
        let crashing = Revision {
            crash: Some(Crash {
                exit_code: 1,
                mean_s: 60.0,
                line: "Error: ECONNREFUSED 10.0.3.7:5432",
            }),
            ..Revision::steady(1, "v1", 120.0, 3.0)
        };
        Preset {
            name: "churn",
            services: (0..services)
                .map(|i| Service {
                    cluster: format!("churn-{}", i % 10 + 1),
                    name: format!("job-{}", i + 1),
                    family: format!("job-{}", i + 1),
                    container: "job".into(),
                    cpu: 256,
                    memory_mib: 512,
                    desired: 10,
                    deployments: vec![(0.0, crashing.clone())],
                    spot_interruptions_per_day: 0.0,
                    schedule: None,
                })
                .collect(),
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            ..Preset::node_oom(hours)
        }
    }
}

/// What really happened to one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskTruth {
    pub task_id: String,
    pub cluster: String,
    /// Empty for a standalone task.
    pub service: String,
    pub family: String,
    pub revision: i32,
    /// Empty for a standalone task.
    pub deployment_id: String,
    /// `None` while still running at the end of the range.
    pub stop_cause: Option<&'static str>,
    pub exit_kind: Option<&'static str>,
    pub exit_code: Option<i32>,
    /// Highest per-minute MemoryUtilized reported, MiB.
    pub memory_peak_mib: i64,
    pub memory_limit_mib: i32,
    /// When the task started running (ms since the epoch).
    pub started_at_ms: i64,
    /// Seconds from start to the first passing health check; `None` if never.
    pub time_to_healthy_s: Option<f64>,
    /// When the task reached STOPPED (ms since the epoch); `None` while running.
    pub stopped_at_ms: Option<i64>,
}

/// What really happened to one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentTruth {
    pub deployment_id: String,
    pub service: String,
    pub revision: i32,
    /// `completed` once every desired task of the revision ran.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Truth {
    pub tasks: Vec<TaskTruth>,
    pub deployments: Vec<DeploymentTruth>,
}

/// Everything a simulation delivers.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// EventBridge events, JSON text, in delivery order.
    pub events: Vec<String>,
    /// CloudWatch Logs subscription payloads (`awslogs.data`: base64 of gzip).
    pub log_payloads: Vec<String>,
    /// Container Insights records in those payloads.
    pub metric_records: usize,
    /// The deployment history's documents ([`Sink::document`]).
    pub documents: Vec<String>,
    pub truth: Truth,
}

impl Output {
    /// The events as SQS batches (`{"Records": [...]}`) of at most `size`, as
    /// the `ingest-events` Lambda receives them.
    pub fn sqs_batches(&self, size: usize) -> Vec<String> {
        self.events
            .chunks(size.max(1))
            .enumerate()
            .map(|(b, chunk)| {
                let records: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, body)| json!({"messageId": format!("sim-{b}-{i}"), "body": body, "eventSource": "aws:sqs"}))
                    .collect();
                json!({"Records": records}).to_string()
            })
            .collect()
    }

    /// Each log payload as a Lambda subscription event `{"awslogs":{"data":...}}`.
    pub fn subscription_events(&self) -> Vec<String> {
        self.log_payloads
            .iter()
            .map(|d| json!({"awslogs": {"data": d}}).to_string())
            .collect()
    }
}

/// A service's target group.
fn target_group_arn(service: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{service}/0123456789abcdef"
    )
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// base64 of gzip.
pub fn gzip_base64(bytes: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(bytes);
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap_or_default())
}

/// How a simulated task ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Running,
    /// Replaced by a newer deployment: SIGTERM, exits 143.
    Replaced {
        at_ms: i64,
        by_deployment: usize,
    },
    OomKilled {
        at_ms: i64,
    },
    /// The runtime reached its own heap cap below the container's limit:
    /// Node.js prints "JavaScript heap out of memory" and aborts (exit 134).
    /// Not a kernel OOM kill: ECS reports no OutOfMemoryError.
    HeapExhausted {
        at_ms: i64,
    },
    ElbUnhealthy {
        at_ms: i64,
    },
    /// The app exited on its own (crash loop, segfault).
    Crashed {
        at_ms: i64,
        exit_code: i32,
    },
    /// The image could not be pulled: never started.
    FailedToStart {
        at_ms: i64,
    },
    SpotInterrupted {
        at_ms: i64,
    },
}

impl End {
    /// When the task begins to stop; `None` while it runs.
    fn stopping_at(self) -> Option<i64> {
        match self {
            End::Running => None,
            End::Replaced { at_ms, .. }
            | End::OomKilled { at_ms }
            | End::HeapExhausted { at_ms }
            | End::ElbUnhealthy { at_ms }
            | End::Crashed { at_ms, .. }
            | End::FailedToStart { at_ms }
            | End::SpotInterrupted { at_ms } => Some(at_ms),
        }
    }

    /// When a task that died is replaced by the service; `None` when it is not.
    fn replace_at(self) -> Option<i64> {
        match self {
            End::OomKilled { at_ms }
            | End::HeapExhausted { at_ms }
            | End::ElbUnhealthy { at_ms }
            | End::Crashed { at_ms, .. }
            | End::SpotInterrupted { at_ms } => Some(at_ms),
            End::Replaced { .. } | End::Running | End::FailedToStart { .. } => None,
        }
    }
}

/// How and when a task was stopped, and the truth about it.
struct Stop {
    code: &'static str,
    reason: String,
    exit: i32,
    container_reason: Option<&'static str>,
    stopping_ms: i64,
    stopped_ms: i64,
    cause: &'static str,
    kind: &'static str,
}

struct Task {
    id: String,
    /// Seeds the generator of this task's payloads.
    seed: u64,
    deployment: usize,
    started_ms: i64,
    fails_health: bool,
    end: End,
}

impl Task {
    /// When its health check first passes: after the revision's warm-up,
    /// unless it fails its checks, never started, or stopped before.
    fn healthy_at(&self, svc: &Service, rev: &Revision, end_ms: i64) -> Option<i64> {
        if svc.schedule.is_some()
            || self.fails_health
            || matches!(self.end, End::FailedToStart { .. })
        {
            return None;
        }
        let at = self.started_ms + (rev.warm_up_s * 1000.0) as i64;
        (at < self.end.stopping_at().unwrap_or(end_ms).min(end_ms)).then_some(at)
    }
}

struct Deployment {
    id: String,
    at_ms: i64,
    rev: Revision,
    /// For a circuit-breaker rollback: the deployment it rolls back to.
    rolls_back_to: Option<String>,
}

/// Where a simulation's output goes: memory ([`Output`]) or files (the `ecs-sim` binary).
pub trait Sink {
    /// One EventBridge event, JSON text, in delivery order.
    fn event(&mut self, json: String);
    /// One CloudWatch Logs subscription payload (`awslogs.data`).
    fn log_payload(&mut self, data: String);
    fn task(&mut self, truth: TaskTruth);
    fn deployment(&mut self, truth: DeploymentTruth);
    /// One document of the service's deployment history, as `aws ecs
    /// describe-service-deployments` / `describe-service-revisions` print it.
    fn document(&mut self, _json: String) {}
    /// How many Container Insights records the payloads just delivered hold.
    fn metric_records(&mut self, _records: usize) {}
}

impl Sink for Output {
    fn event(&mut self, json: String) {
        self.events.push(json);
    }
    fn log_payload(&mut self, data: String) {
        self.log_payloads.push(data);
    }
    fn task(&mut self, truth: TaskTruth) {
        self.truth.tasks.push(truth);
    }
    fn deployment(&mut self, truth: DeploymentTruth) {
        self.truth.deployments.push(truth);
    }
    fn document(&mut self, json: String) {
        self.documents.push(json);
    }
    fn metric_records(&mut self, records: usize) {
        self.metric_records += records;
    }
}

/// Runs a preset with a seed, in memory.
pub fn simulate(preset: &Preset, seed: u64) -> Output {
    let mut out = Output::default();
    simulate_into(preset, seed, &mut out);
    out
}

/// Runs a preset with a seed into a sink, streaming: services one after
/// the other, each planned first (deployments and every task's start, end
/// and seed: cheap), then its tasks' payloads generated a few at a time, in
/// parallel (one thread per core), and delivered in task order. Memory stays
/// bounded by a few tasks' payloads whatever the range; each task has its own
/// generator, seeded by the plan, so the output does not depend on the
/// number of threads.
pub fn simulate_into(preset: &Preset, seed: u64, sink: &mut impl Sink) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    simulate_with_threads(preset, seed, sink, threads);
}

fn simulate_with_threads(preset: &Preset, seed: u64, sink: &mut impl Sink, threads: usize) {
    let end_ms = preset.start_ms + (preset.hours * 3_600_000.0) as i64;
    let mut delivery = Delivery {
        inner: sink,
        rng: Rng::new(seed ^ 0xde11_7e27),
        duplicate_rate: preset.duplicate_rate,
        reorder_rate: preset.reorder_rate,
        n: 0,
        late: Vec::new(),
        held: None,
    };
    for (i, svc) in preset.services.iter().enumerate() {
        let mut rng = Rng::new(seed.wrapping_add(0x1000_0000_0000 * (i as u64 + 1)));
        let (deployments, tasks) = plan_service(preset, svc, end_ms, &mut rng);
        if svc.schedule.is_none() {
            for (d, dep) in deployments.iter().enumerate() {
                deployment_events(svc, dep, d, &deployments, &mut delivery, &mut rng);
            }
        }
        // A few tasks per thread at a time: each thread generates a
        // contiguous run of them (few spawns for many short tasks), and the
        // runs are delivered in plan order.
        let threads = threads.max(1);
        for chunk in tasks.chunks(TASKS_PER_THREAD * threads) {
            let outputs: Vec<Output> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .chunks(chunk.len().div_ceil(threads))
                    .map(|run| {
                        let deployments = &deployments;
                        scope.spawn(move || {
                            run.iter()
                                .map(|t| {
                                    let mut out = Output::default();
                                    let mut rng = Rng::new(t.seed);
                                    task_payloads(svc, deployments, t, end_ms, &mut rng, &mut out);
                                    out
                                })
                                .collect::<Vec<Output>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            });
            for out in outputs {
                for e in out.events {
                    delivery.event(e);
                }
                for p in out.log_payloads {
                    delivery.log_payload(p);
                }
                delivery.metric_records(out.metric_records);
                for t in out.truth.tasks {
                    delivery.task(t);
                }
            }
        }
    }
    delivery.finish();
}

/// At-least-once, unordered delivery in a bounded window: some events twice
/// (the copy up to 20 events later), some swapped with the next one.
struct Delivery<'a, S: Sink> {
    inner: &'a mut S,
    rng: Rng,
    duplicate_rate: f64,
    reorder_rate: f64,
    n: usize,
    late: Vec<(usize, String)>,
    held: Option<String>,
}

impl<S: Sink> Delivery<'_, S> {
    fn emit(&mut self, e: String) {
        match self.held.take() {
            Some(h) => {
                self.inner.event(e);
                self.inner.event(h);
            }
            None if self.rng.unit() < self.reorder_rate => self.held = Some(e),
            None => self.inner.event(e),
        }
    }

    fn finish(mut self) {
        self.late.sort_by_key(|(at, _)| *at);
        for (_, e) in std::mem::take(&mut self.late) {
            self.emit(e);
        }
        if let Some(h) = self.held.take() {
            self.inner.event(h);
        }
    }
}

impl<S: Sink> Sink for Delivery<'_, S> {
    fn event(&mut self, json: String) {
        if self.rng.unit() < self.duplicate_rate {
            self.late
                .push((self.n + 1 + self.rng.below(20) as usize, json.clone()));
        }
        self.emit(json);
        self.n += 1;
        while let Some(pos) = self.late.iter().position(|(at, _)| *at <= self.n) {
            let e = self.late.swap_remove(pos).1;
            self.emit(e);
        }
    }
    fn log_payload(&mut self, data: String) {
        self.inner.log_payload(data);
    }
    fn task(&mut self, truth: TaskTruth) {
        self.inner.task(truth);
    }
    fn document(&mut self, json: String) {
        self.inner.document(json);
    }
    fn deployment(&mut self, truth: DeploymentTruth) {
        self.inner.deployment(truth);
    }
    fn metric_records(&mut self, records: usize) {
        self.inner.metric_records(records);
    }
}

fn deployment_id(rng: &mut Rng) -> String {
    format!(
        "ecs-svc/{}",
        1_000_000_000_000_000_000u64 + rng.below(8_999_999_999_999_999_999)
    )
}

/// Tasks generated per thread before delivery: bounds memory to a few
/// tasks' payloads per core (a task of months is a few MB of gzip).
const TASKS_PER_THREAD: usize = 8;

/// Seconds until the circuit breaker gives up on a deployment whose tasks fail to start.
const CIRCUIT_BREAKER_MS: i64 = 5 * 60_000;

/// A service's deployments (with the circuit breaker's rollbacks) and its
/// tasks: when each starts and how it ends.
fn plan_service(
    preset: &Preset,
    svc: &Service,
    end_ms: i64,
    rng: &mut Rng,
) -> (Vec<Deployment>, Vec<Task>) {
    if let (Some(schedule), Some((_, rev))) = (svc.schedule, svc.deployments.first()) {
        return plan_job(preset, svc, schedule, rev, end_ms, rng);
    }
    // The deployments as they happen: a revision that cannot start is rolled
    // back by the circuit breaker to the revision before it.
    let mut deployments: Vec<Deployment> = Vec::new();
    for (h, rev) in &svc.deployments {
        let at_ms = preset.start_ms + (h * 3_600_000.0) as i64;
        let id = deployment_id(rng);
        let previous = deployments.last().map(|d| (d.id.clone(), d.rev.clone()));
        deployments.push(Deployment {
            id,
            at_ms,
            rev: rev.clone(),
            rolls_back_to: None,
        });
        if let (true, Some((previous_id, previous_rev))) = (rev.pull_fails, previous) {
            deployments.push(Deployment {
                id: deployment_id(rng),
                at_ms: at_ms + CIRCUIT_BREAKER_MS,
                rev: previous_rev,
                rolls_back_to: Some(previous_id),
            });
        }
    }

    // Tasks, slot by slot (a slot is one of the `desired` tasks). A task
    // that dies is replaced by one of the same deployment after a short
    // delay. A rolling update (minimum healthy 100%) stops a slot's old task
    // only once a newer deployment's task in that slot is healthy: while the
    // new revision fails (health checks, crashes, an image that cannot be
    // pulled), the old task keeps serving. So each deployment's horizon in a
    // slot depends on the deployments after it: planned from the last back.
    let mut tasks: Vec<Task> = Vec::new();
    for slot in 0..svc.desired {
        let mut replaced: Option<(i64, usize)> = None;
        let mut per_deployment: Vec<Vec<Task>> = Vec::new();
        for (d, dep) in deployments.iter().enumerate().rev() {
            let until = replaced.map_or(end_ms, |(at, _)| at);
            let mut start = dep.at_ms + 20_000 + slot as i64 * 15_000;
            let mut first_healthy: Option<i64> = None;
            let mut these = Vec::new();
            while start < until {
                let fails_health = rng.unit() < dep.rev.health_failure_rate;
                let end = task_end(svc, dep, start, fails_health, replaced, end_ms, rng);
                let task = Task {
                    id: rng.hex32(),
                    seed: rng.next_u64(),
                    deployment: d,
                    started_ms: start,
                    fails_health,
                    end,
                };
                if first_healthy.is_none() {
                    first_healthy = task.healthy_at(svc, &dep.rev, end_ms);
                }
                these.push(task);
                match end.replace_at() {
                    Some(at_ms) => start = at_ms + 30_000,
                    None => break,
                }
            }
            per_deployment.push(these);
            if let Some(h) = first_healthy {
                replaced = Some((h + 5_000, d));
            }
        }
        tasks.extend(per_deployment.into_iter().rev().flatten());
    }
    (deployments, tasks)
}

/// A scheduled standalone task's runs: one every `every_h` hours; each ends
/// after `runtime_s` with exit 0, or earlier with the revision's crash.
fn plan_job(
    preset: &Preset,
    svc: &Service,
    schedule: Schedule,
    rev: &Revision,
    end_ms: i64,
    rng: &mut Rng,
) -> (Vec<Deployment>, Vec<Task>) {
    let rule = Deployment {
        id: format!("events-rule/{}", svc.family),
        at_ms: preset.start_ms,
        rev: rev.clone(),
        rolls_back_to: None,
    };
    let every_ms = (schedule.every_h * 3_600_000.0).max(60_000.0) as i64;
    let mut tasks = Vec::new();
    let mut start = preset.start_ms + 30_000;
    while start < end_ms {
        let fails = rng.unit() < schedule.failure_rate;
        let crash = rev.crash.filter(|_| fails);
        let end = match crash {
            Some(c) => End::Crashed {
                at_ms: start + ((0.2 + 0.8 * rng.unit()) * c.mean_s * 1000.0) as i64,
                exit_code: c.exit_code,
            },
            None => End::Crashed {
                at_ms: start + (schedule.runtime_s * 1000.0) as i64,
                exit_code: 0,
            },
        };
        let end = if end.stopping_at().is_some_and(|at| at >= end_ms) {
            End::Running
        } else {
            end
        };
        tasks.push(Task {
            id: rng.hex32(),
            seed: rng.next_u64(),
            deployment: 0,
            started_ms: start,
            fails_health: false,
            end,
        });
        start += every_ms;
    }
    (vec![rule], tasks)
}

/// How a task that starts at `started_ms` ends: the first of a crash, a
/// Spot interruption, a failed health check, an OOM kill, and its
/// replacement by a newer deployment (`replaced`: when, and by which).
fn task_end(
    svc: &Service,
    dep: &Deployment,
    started_ms: i64,
    fails_health: bool,
    replaced: Option<(i64, usize)>,
    end_ms: i64,
    rng: &mut Rng,
) -> End {
    if dep.rev.pull_fails {
        return End::FailedToStart { at_ms: started_ms };
    }
    let until = replaced.map_or(end_ms, |(at, _)| at.min(end_ms));
    // Whatever comes first of a crash and a Spot interruption, if before the rest.
    let exponential =
        |rng: &mut Rng, mean_ms: f64| started_ms + (-(1.0 - rng.unit()).ln() * mean_ms) as i64;
    let crash = dep
        .rev
        .crash
        .map(|c| (exponential(rng, c.mean_s * 1000.0), c.exit_code));
    let spot = (svc.spot_interruptions_per_day > 0.0)
        .then(|| exponential(rng, 86_400_000.0 / svc.spot_interruptions_per_day));
    let early = match (crash, spot) {
        (Some((c, code)), Some(s)) if c <= s => Some(End::Crashed {
            at_ms: c,
            exit_code: code,
        }),
        (Some((c, code)), None) => Some(End::Crashed {
            at_ms: c,
            exit_code: code,
        }),
        (_, Some(s)) => Some(End::SpotInterrupted { at_ms: s }),
        (None, None) => None,
    };
    if let Some(e) = early
        && e.replace_at().is_some_and(|at| at < until)
    {
        return e;
    }
    if fails_health {
        // Health check: 30 s interval, 3 retries, 30 s grace: the target group
        // marks it unhealthy after grace + 3 failed checks.
        let at_ms = started_ms
            + (ELB_GRACE_PERIOD_S + TARGET_GROUP_UNHEALTHY_THRESHOLD * TARGET_GROUP_INTERVAL_S)
                * 1000;
        if at_ms < until {
            return End::ElbUnhealthy { at_ms };
        }
    }
    // Memory runs out at the lower of the container's limit (the kernel
    // kills it) and the runtime's heap ceiling (the runtime aborts).
    let (ceiling, by_runtime) = memory_ceiling(&dep.rev, svc.memory_mib);
    let oom_at = match dep.rev.memory {
        Memory::Leak {
            start_mib,
            mib_per_hour,
        } => {
            let hours = (ceiling - start_mib) / mib_per_hour;
            Some(started_ms + (hours * 3_600_000.0) as i64)
        }
        // The first spike ends it when a spike reaches the ceiling.
        Memory::Spiky {
            mib,
            spike_mib,
            per_hour,
        } if per_hour > 0.0 && mib + spike_mib >= ceiling => {
            Some(exponential(rng, 3_600_000.0 / per_hour))
        }
        Memory::Steady { .. } | Memory::Spiky { .. } => None,
    };
    if let Some(at_ms) = oom_at.filter(|at| *at < until) {
        return if by_runtime {
            End::HeapExhausted { at_ms }
        } else {
            End::OomKilled { at_ms }
        };
    }
    match replaced {
        Some((at_ms, by_deployment)) if at_ms < end_ms => End::Replaced {
            at_ms,
            by_deployment,
        },
        _ => End::Running,
    }
}

/// What a Node.js process holds besides its V8 heap (code, stacks, buffers
/// outside the heap), MiB: a heap at its cap makes the container this much
/// larger.
pub const NODE_NON_HEAP_MIB: f64 = 90.0;

/// Where a revision's memory runs out, MiB, and whether the runtime (its
/// heap cap plus what it holds outside the heap) gets there before the
/// container's limit does.
fn memory_ceiling(rev: &Revision, limit_mib: i32) -> (f64, bool) {
    let limit = f64::from(limit_mib);
    match rev.node_heap_cap_mib {
        Some(cap) if f64::from(cap) + NODE_NON_HEAP_MIB < limit => {
            (f64::from(cap) + NODE_NON_HEAP_MIB, true)
        }
        _ => (limit, false),
    }
}

fn memory_at(rev: &Revision, limit: i32, up_ms: i64, rng: &mut Rng) -> i64 {
    let (ceiling, _) = memory_ceiling(rev, limit);
    let mib = match rev.memory {
        Memory::Steady { mib } => mib + rng.unit() * 20.0 - 10.0,
        Memory::Leak {
            start_mib,
            mib_per_hour,
        } => start_mib + mib_per_hour * up_ms as f64 / 3_600_000.0 + rng.unit() * 6.0 - 3.0,
        // A spike lasts about a minute: a sample catches one with the
        // chance of one starting in that minute.
        Memory::Spiky {
            mib,
            spike_mib,
            per_hour,
        } => {
            // A spike that reaches the ceiling ends the task (see
            // `task_end`): a task still running has not had one.
            let spike = rng.unit() < per_hour / 60.0 && mib + spike_mib < ceiling;
            mib + rng.unit() * 20.0 - 10.0 + if spike { spike_mib } else { 0.0 }
        }
    };
    (mib.round() as i64).clamp(1, ceiling as i64)
}

/// When a deployment (not a rollback) ends, and how: the circuit breaker
/// rolls back a revision that cannot start; a newer deployment stops one
/// still in progress; else it completes.
fn deployment_end(
    svc: &Service,
    dep: &Deployment,
    d: usize,
    all: &[Deployment],
) -> (&'static str, i64) {
    let next = all.get(d + 1).map(|n| n.at_ms);
    if dep.rev.pull_fails {
        return (
            "ROLLBACK_SUCCESSFUL",
            next.unwrap_or(dep.at_ms + CIRCUIT_BREAKER_MS) + 60_000,
        );
    }
    let done = dep.at_ms + 20_000 + svc.desired as i64 * 15_000 + 60_000;
    match next {
        Some(n) if n <= done => ("STOPPED", n),
        _ => ("SUCCESSFUL", done),
    }
}

/// The ECS circuit breaker's threshold: half the desired count, at least 3, at most 200.
fn circuit_breaker_threshold(desired: usize) -> usize {
    desired.div_ceil(2).clamp(3, 200)
}

/// The service revision a deployment rolls out, as its ARN (numbered after
/// the deployment: no random number is drawn, so the simulation's stream
/// does not change).
fn service_revision_arn(svc: &Service, dep: &Deployment) -> String {
    let n = dep.id.trim_start_matches("ecs-svc/");
    format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{}/{}/{n}",
        svc.cluster, svc.name
    )
}

/// A deployment's history as ECS keeps it: `describe-service-revisions` for
/// the revision it rolls out and `describe-service-deployments` for it, in
/// the shapes of the ECS API reference (CLI v2 timestamps). The status
/// reasons are worded by us. A circuit-breaker rollback is part of the
/// deployment that failed (`ROLLBACK_SUCCESSFUL`, `rollback` naming the
/// revision before), as ECS records it.
fn history_documents(
    svc: &Service,
    dep: &Deployment,
    d: usize,
    all: &[Deployment],
    out: &mut impl Sink,
) {
    let service_arn = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}",
        svc.cluster, svc.name
    );
    let cluster_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", svc.cluster);
    let target = service_revision_arn(svc, dep);
    let created_ms = dep.at_ms - 1_500;
    let revision = json!({"serviceRevisions": [{
        "serviceRevisionArn": target,
        "serviceArn": service_arn,
        "clusterArn": cluster_arn,
        "taskDefinition": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:{}", svc.family, dep.rev.revision),
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "containerImages": [{
            "containerName": svc.container,
            "image": format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}:{}", svc.family, dep.rev.image_tag),
        }],
        "loadBalancers": [{
            "targetGroupArn": target_group_arn(&svc.name),
            "containerName": svc.container,
            "containerPort": 8080,
        }],
        "createdAt": iso(created_ms - 500),
    }], "failures": []});
    out.document(revision.to_string());

    let previous = d.checked_sub(1).and_then(|p| all.get(p));
    let (status, end_ms) = deployment_end(svc, dep, d, all);
    let threshold = circuit_breaker_threshold(svc.desired);
    let failed = status == "ROLLBACK_SUCCESSFUL";
    let mut record = json!({
        "serviceDeploymentArn": format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{}/{}/{}",
            svc.cluster, svc.name, dep.id.trim_start_matches("ecs-svc/")
        ),
        "serviceArn": service_arn,
        "clusterArn": cluster_arn,
        "createdAt": iso(created_ms),
        "startedAt": iso(dep.at_ms),
        "updatedAt": iso(end_ms),
        "sourceServiceRevisions": previous.map(|p| vec![json!({
            "arn": service_revision_arn(svc, p),
            "requestedTaskCount": if failed { svc.desired } else { 0 },
            "runningTaskCount": if failed { svc.desired } else { 0 },
            "pendingTaskCount": 0,
        })]).unwrap_or_default(),
        "targetServiceRevision": {
            "arn": target,
            "requestedTaskCount": if failed { 0 } else { svc.desired },
            "runningTaskCount": if failed { 0 } else { svc.desired },
            "pendingTaskCount": 0,
        },
        "status": status,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": true, "rollback": true},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "alarms": {"alarmNames": [], "rollback": false, "enable": false},
        },
        "deploymentCircuitBreaker": {
            "status": if failed { "TRIGGERED" } else { "MONITORING_COMPLETE" },
            "failureCount": if failed { threshold } else { 0 },
            "threshold": threshold,
        },
        "alarms": {"status": "DISABLED"},
    });
    if let Some(o) = record.as_object_mut() {
        let key = if status == "STOPPED" {
            "stoppedAt"
        } else {
            "finishedAt"
        };
        o.insert(key.into(), iso(end_ms).into());
        if failed {
            o.insert(
                "statusReason".into(),
                "ECS deployment circuit breaker: task failed to start.".into(),
            );
            if let Some(p) = previous {
                o.insert(
                    "rollback".into(),
                    json!({
                        "reason": "Service deployment rolled back because the circuit breaker threshold was exceeded.",
                        "startedAt": iso(dep.at_ms + CIRCUIT_BREAKER_MS),
                        "serviceRevisionArn": service_revision_arn(svc, p),
                    }),
                );
            }
        }
    }
    out.document(json!({"serviceDeployments": [record], "failures": []}).to_string());
}

/// An EventBridge event as EventBridge delivers it: the envelope's fields in
/// its order (`version`, `id`, `detail-type`, `source`, `account`, `time`,
/// `region`, `resources`, `detail`, as the real task and deployment events of
/// `tests/fixtures/aws/` have it), `time` to the second. `json!` would sort
/// the keys.
fn eventbridge_event(
    id: String,
    detail_type: &str,
    at_ms: i64,
    resource: &str,
    detail: Value,
) -> String {
    #[derive(Serialize)]
    struct Event<'a> {
        version: &'a str,
        id: String,
        #[serde(rename = "detail-type")]
        detail_type: &'a str,
        source: &'a str,
        account: &'a str,
        time: String,
        region: &'a str,
        resources: [&'a str; 1],
        detail: Value,
    }
    serde_json::to_string(&Event {
        version: "0",
        id,
        detail_type,
        source: "aws.ecs",
        account: ACCOUNT,
        time: iso(at_ms - at_ms % 1000).replace(".000Z", "Z"),
        region: REGION,
        resources: [resource],
        detail,
    })
    .unwrap_or_default()
}

fn deployment_events(
    svc: &Service,
    dep: &Deployment,
    d: usize,
    all: &[Deployment],
    out: &mut impl Sink,
    rng: &mut Rng,
) {
    let service_arn = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}",
        svc.cluster, svc.name
    );
    let event = |kind: &str, name: &str, at_ms: i64, reason: &str, rng: &mut Rng| {
        eventbridge_event(
            rng.uuid(),
            "ECS Deployment State Change",
            at_ms,
            &service_arn,
            json!({"eventType": kind, "eventName": name, "deploymentId": dep.id, "updatedAt": iso(at_ms), "reason": reason}),
        )
    };
    let started = match &dep.rolls_back_to {
        Some(to) => format!("ECS deployment circuit breaker: rolling back to deploymentId {to}."),
        None => "ECS deployment in progress.".to_owned(),
    };
    out.event(event(
        "INFO",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        dep.at_ms,
        &started,
        rng,
    ));
    if dep.rolls_back_to.is_none() {
        history_documents(svc, dep, d, all, out);
    }
    if dep.rev.pull_fails {
        let failed_at = all
            .get(d + 1)
            .map_or(dep.at_ms + CIRCUIT_BREAKER_MS, |n| n.at_ms)
            - 1_000;
        out.event(event(
            "ERROR",
            "SERVICE_DEPLOYMENT_FAILED",
            failed_at,
            "ECS deployment circuit breaker: task failed to start.",
            rng,
        ));
        out.deployment(DeploymentTruth {
            deployment_id: dep.id.clone(),
            service: svc.name.to_owned(),
            revision: dep.rev.revision,
            outcome: "rolled_back",
        });
        return;
    }
    let done = dep.at_ms + 20_000 + svc.desired as i64 * 15_000 + 60_000;
    let next = all.get(d + 1).map(|n| n.at_ms);
    if next.is_none_or(|n| done < n) {
        out.event(event(
            "INFO",
            "SERVICE_DEPLOYMENT_COMPLETED",
            done,
            "ECS deployment completed.",
            rng,
        ));
        out.deployment(DeploymentTruth {
            deployment_id: dep.id.clone(),
            service: svc.name.to_owned(),
            revision: dep.rev.revision,
            outcome: "completed",
        });
    }
}

fn task_payloads(
    svc: &Service,
    deployments: &[Deployment],
    t: &Task,
    end_ms: i64,
    rng: &mut Rng,
    out: &mut impl Sink,
) {
    let dep = &deployments[t.deployment];
    let rev = &dep.rev;
    let task_arn = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{}/{}",
        svc.cluster, t.id
    );
    let td_arn = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:{}",
        svc.family, rev.revision
    );
    let image = format!(
        "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}:{}",
        svc.family, rev.image_tag
    );
    let created = t.started_ms - 14_000;
    let pull_start = created + 4_000;
    let pull_stop = created + 11_000;
    let healthy_at = t.healthy_at(svc, rev, end_ms);
    let standalone = svc.schedule.is_some();

    // How it ends. A scheduler stop sends SIGTERM: the app exits 143, or, if
    // it ignores SIGTERM, is killed (137) when the 30 s stop timeout expires.
    // ECS first deregisters the task from the service's target group and
    // waits the deregistration delay, then sends SIGTERM.
    let draining_ms = if standalone {
        0
    } else {
        TARGET_GROUP_DEREGISTRATION_DELAY_S * 1_000
    };
    let scheduler_stop = |code: &'static str, at_ms: i64, reason: String, cause: &'static str| {
        let (exit, stopped_ms, kind) = if rev.ignores_sigterm {
            (
                137,
                at_ms + draining_ms + 30_500,
                "sigkill_after_stop_timeout",
            )
        } else {
            (143, at_ms + draining_ms + 2_000, "sigterm")
        };
        Stop {
            code,
            reason,
            exit,
            container_reason: None,
            stopping_ms: at_ms,
            stopped_ms,
            cause,
            kind,
        }
    };
    let stop = match t.end {
        End::Running => None,
        End::Replaced {
            at_ms,
            by_deployment,
        } => Some(scheduler_stop(
            "ServiceSchedulerInitiated",
            at_ms,
            format!(
                "Scaling activity initiated by (deployment {})",
                deployments[by_deployment].id
            ),
            "deployment_replaced",
        )),
        End::OomKilled { at_ms } => Some(Stop {
            code: "EssentialContainerExited",
            reason: "Essential container in task exited".to_owned(),
            exit: 137,
            container_reason: Some("OutOfMemoryError: Container killed due to memory usage"),
            stopping_ms: at_ms,
            stopped_ms: at_ms + 1_000,
            cause: "oom_killed",
            kind: "sigkill_oom",
        }),
        End::ElbUnhealthy { at_ms } => Some(scheduler_stop(
            "ServiceSchedulerInitiated",
            at_ms,
            format!(
                "Task failed ELB health checks in (target-group {})",
                target_group_arn(&svc.name)
            ),
            "elb_health_check",
        )),
        End::SpotInterrupted { at_ms } => Some(scheduler_stop(
            "SpotInterruption",
            at_ms,
            "Your Spot Task was interrupted.".to_owned(),
            "spot_interruption",
        )),
        // V8's abort: no OutOfMemoryError from ECS, the app's own exit.
        End::HeapExhausted { at_ms } => Some(Stop {
            code: "EssentialContainerExited",
            reason: "Essential container in task exited".to_owned(),
            exit: 134,
            container_reason: None,
            stopping_ms: at_ms,
            stopped_ms: at_ms + 1_000,
            cause: "essential_container_exited",
            kind: "abort",
        }),
        End::Crashed { at_ms, exit_code } => Some(Stop {
            code: "EssentialContainerExited",
            reason: "Essential container in task exited".to_owned(),
            exit: exit_code,
            container_reason: None,
            stopping_ms: at_ms,
            stopped_ms: at_ms + 1_000,
            cause: "essential_container_exited",
            kind: match exit_code {
                0 => "clean",
                139 => "segfault",
                _ => "app_error",
            },
        }),
        End::FailedToStart { at_ms } => Some(Stop {
            code: "TaskFailedToStart",
            reason: format!(
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
            ),
            exit: 0, // not reported: the container never ran
            container_reason: Some("CannotPullContainerError: failed to resolve ref"),
            stopping_ms: at_ms,
            stopped_ms: at_ms + 1_000,
            cause: "failed_to_start",
            kind: "unknown",
        }),
    };
    let last_ms = stop.as_ref().map_or(end_ms, |s| s.stopped_ms);
    let never_started = matches!(t.end, End::FailedToStart { .. });

    // Task state change events: PROVISIONING, PENDING, RUNNING, then DEPROVISIONING and STOPPED.
    let mut version = 0;
    let mut event = |last: &str, desired: &str, at_ms: i64, stopped: bool, rng: &mut Rng| {
        version += 1;
        let mut container = json!({
            "containerArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container/{}/{}/{}", svc.cluster, t.id, "c0ffee00-0000-4000-8000-000000000001"),
            "lastStatus": if stopped { "STOPPED" } else if last == "RUNNING" || last == "DEPROVISIONING" { "RUNNING" } else { "PENDING" },
            "name": svc.container, "image": image, "taskArn": task_arn, "cpu": "0", "memory": svc.memory_mib.to_string(),
            "runtimeId": format!("{}-1234567890", t.id), "networkInterfaces": [],
        });
        let mut detail = json!({
            "attachments": [], "availabilityZone": format!("{REGION}a"), "capacityProviderName": if svc.spot_interruptions_per_day > 0.0 { "FARGATE_SPOT" } else { "FARGATE" },
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", svc.cluster),
            "containers": [], "cpu": svc.cpu.to_string(), "memory": svc.memory_mib.to_string(),
            "createdAt": iso(created), "desiredStatus": desired, "group": if standalone { format!("family:{}", svc.family) } else { format!("service:{}", svc.name) },
            "launchType": "FARGATE", "lastStatus": last, "platformVersion": "1.4.0",
            "startedBy": dep.id, "taskArn": task_arn, "taskDefinitionArn": td_arn,
            "updatedAt": iso(at_ms), "version": version,
        });
        if at_ms >= pull_start {
            detail["pullStartedAt"] = iso(pull_start).into();
        }
        if at_ms >= pull_stop {
            detail["pullStoppedAt"] = iso(pull_stop).into();
        }
        if !never_started && at_ms >= t.started_ms {
            detail["startedAt"] = iso(t.started_ms).into();
            detail["connectivity"] = "CONNECTED".into();
            detail["connectivityAt"] = iso(created + 3_000).into();
            // The container has a health check: UNKNOWN until it passes (or
            // is declared failed), as ECS reports it.
            let health = match (healthy_at, &stop) {
                (Some(h), _) if at_ms >= h => "HEALTHY",
                (None, Some(s)) if t.fails_health && at_ms >= s.stopping_ms => "UNHEALTHY",
                _ => "UNKNOWN",
            };
            container["healthStatus"] = health.into();
            detail["healthStatus"] = health.into();
        }
        if let Some(s) = &stop
            && at_ms >= s.stopping_ms
        {
            detail["stopCode"] = s.code.into();
            detail["stoppedReason"] = s.reason.clone().into();
            detail["stoppingAt"] = iso(s.stopping_ms).into();
            if stopped {
                detail["stoppedAt"] = iso(s.stopped_ms).into();
                detail["executionStoppedAt"] = iso(s.stopped_ms - 500).into();
                if !never_started {
                    container["exitCode"] = s.exit.into();
                }
                if let Some(r) = s.container_reason {
                    container["reason"] = r.into();
                }
            }
        }
        detail["containers"] = json!([container]);
        eventbridge_event(
            rng.uuid(),
            "ECS Task State Change",
            at_ms,
            &task_arn,
            detail,
        )
    };
    out.event(event("PROVISIONING", "RUNNING", created, false, rng));
    out.event(event("PENDING", "RUNNING", pull_start, false, rng));
    if !never_started {
        out.event(event("RUNNING", "RUNNING", t.started_ms, false, rng));
    }
    // ECS sends a task state change when the health status changes.
    if let Some(h) = healthy_at {
        out.event(event("RUNNING", "RUNNING", h, false, rng));
    }
    if let Some(s) = &stop {
        out.event(event(
            "DEPROVISIONING",
            "STOPPED",
            s.stopping_ms,
            false,
            rng,
        ));
        out.event(event("STOPPED", "STOPPED", s.stopped_ms, true, rng));
    }

    // Container Insights: one Task and one Container record per minute of uptime.
    let limit = svc.memory_mib;
    let mut peak = 0;
    let mut perf = Vec::new();
    let identity = {
        let mut fields = json!({
            "Version": "0", "TaskId": t.id, "TaskDefinitionFamily": svc.family,
            "TaskDefinitionRevision": rev.revision.to_string(), "ServiceName": svc.name, "ClusterName": svc.cluster,
            "AvailabilityZone": format!("{REGION}a"), "LaunchType": "FARGATE",
        });
        if standalone && let Some(f) = fields.as_object_mut() {
            f.remove("ServiceName");
        }
        let fields = fields.to_string();
        fields[1..fields.len() - 1].to_owned()
    };
    let container_identity = {
        let fields = json!({"ContainerName": svc.container, "Image": image}).to_string();
        fields[1..fields.len() - 1].to_owned()
    };
    // CloudWatch Logs sends a stream's events in payloads of at most 10,000:
    // flushed as they fill, so a task of months never sits whole in memory.
    let group = format!("/aws/ecs/containerinsights/{}/performance", svc.cluster);
    let stream = format!("FargateTelemetry-{}", rng.below(10_000));
    let first_minute = t.started_ms - t.started_ms % MINUTE_MS + MINUTE_MS;
    let mut minute = first_minute;
    while minute <= last_ms.min(end_ms) {
        let up = minute - t.started_ms;
        let mem = match (t.end, stop.as_ref()) {
            // The kill happens when the container reaches its limit: the last sample says so.
            (End::OomKilled { at_ms }, _) if minute + MINUTE_MS > at_ms => i64::from(limit),
            // A runtime that exhausts its heap dies at its ceiling, below the limit.
            (End::HeapExhausted { at_ms }, _) if minute + MINUTE_MS > at_ms => {
                memory_ceiling(rev, limit).0 as i64
            }
            _ => memory_at(rev, limit, up, rng),
        };
        peak = peak.max(mem);
        let healthy = healthy_at.is_some_and(|h| minute >= h);
        // UNKNOWN (0) during the start period; 1 only once checks fail past the grace.
        let unhealthy = !healthy && t.fails_health && up >= 30_000;
        let cpu = 40.0 + rng.unit() * 60.0;
        // Written directly (this is the bulk of a large simulation): the
        // identity part is serialized once per task, the numbers per minute.
        let numbers = format!(
            r#""Timestamp":{minute},"CpuUtilized":{cpu:.3},"CpuReserved":{}.0,"MemoryUtilized":{mem},"MemoryReserved":{limit}"#,
            svc.cpu
        );
        perf.push((
            minute,
            format!(r#"{{"Type":"Task",{identity},"KnownStatus":"RUNNING",{numbers}}}"#),
        ));
        perf.push((
            minute,
            format!(
                r#"{{"Type":"Container",{identity},{container_identity},"ContainerKnownStatus":"RUNNING","UnHealthyContainerHealthStatus":{},"RestartCount":0,{numbers}}}"#,
                i32::from(unhealthy)
            ),
        ));
        minute += MINUTE_MS;
        if perf.len() >= MAX_LOG_EVENTS {
            out.metric_records(perf.len());
            push_payloads(out, &group, &stream, &perf);
            perf.clear();
        }
    }
    if !perf.is_empty() {
        out.metric_records(perf.len());
        push_payloads(out, &group, &stream, &perf);
    }

    // Application logs.
    let mut lines = vec![(
        t.started_ms + 500,
        format!(
            "{{\"level\":\"info\",\"msg\":\"starting {} {}\",\"pid\":1}}",
            svc.name, rev.image_tag
        ),
    )];
    if let Some(h) = healthy_at {
        lines.push((
            h,
            "{\"level\":\"info\",\"msg\":\"listening on :8080\"}".to_owned(),
        ));
    }
    match t.end {
        // An OOM kill is the kernel's: the container crossed its memory limit
        // before the runtime reached its own heap cap (none, or one above the
        // limit, as api:42's), and a SIGKILL leaves no last words. Node's
        // "JavaScript heap out of memory" comes only from a heap cap below
        // the limit, and ends in an abort (exit 134) with no OutOfMemoryError:
        // V8's report on stderr, one log event per line (awslogs splits them).
        End::HeapExhausted { at_ms } => {
            let cap = f64::from(rev.node_heap_cap_mib.unwrap_or_default());
            let report = [
                "<--- Last few GCs --->".to_owned(),
                format!(
                    "[1:0x6b8c8a0] {:>8} ms: Mark-Compact (reduce) {:.1} ({:.1}) -> {:.1} ({:.1}) MB, 412.47 / 0.00 ms  (average mu = 0.153, current mu = 0.031) allocation failure; scavenge might not succeed",
                    at_ms - t.started_ms - 450,
                    cap - 1.1,
                    cap + 10.5,
                    cap - 1.6,
                    cap + 8.1
                ),
                "<--- JS stacktrace --->".to_owned(),
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
                    .to_owned(),
                " 1: 0xb8ced1 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]"
                    .to_owned(),
            ];
            for (i, line) in report.into_iter().enumerate() {
                lines.push((at_ms - 40 + i as i64, line));
            }
        }
        End::Crashed {
            at_ms,
            exit_code: 0,
        } => {
            lines.push((
                at_ms - 200,
                "{\"level\":\"info\",\"msg\":\"done\"}".to_owned(),
            ));
        }
        End::Crashed { at_ms, .. } => {
            if let Some(c) = rev.crash {
                lines.push((at_ms - 200, c.line.to_owned()));
            }
        }
        // An app that ignores SIGTERM says nothing before it is killed.
        End::Replaced { at_ms, .. }
        | End::ElbUnhealthy { at_ms }
        | End::SpotInterrupted { at_ms }
            if !rev.ignores_sigterm =>
        {
            lines.push((
                at_ms + draining_ms + 100,
                "{\"level\":\"info\",\"msg\":\"Received SIGTERM, shutting down gracefully\"}"
                    .to_owned(),
            ));
        }
        End::Replaced { .. }
        | End::ElbUnhealthy { .. }
        | End::SpotInterrupted { .. }
        | End::FailedToStart { .. }
        | End::OomKilled { .. }
        | End::Running => {}
    }
    lines.retain(|(ms, _)| *ms <= end_ms);
    push_payloads(
        out,
        &format!("/ecs/{}", svc.name),
        &format!("ecs/{}/{}", svc.container, t.id),
        &lines,
    );

    let (stop_cause, exit_kind, exit_code) = match &stop {
        Some(s) => (
            Some(s.cause),
            Some(s.kind),
            (!never_started).then_some(s.exit),
        ),
        None => (None, None, None),
    };
    out.task(TaskTruth {
        task_id: t.id.clone(),
        cluster: svc.cluster.to_owned(),
        service: if standalone {
            String::new()
        } else {
            svc.name.to_owned()
        },
        family: svc.family.to_owned(),
        revision: rev.revision,
        deployment_id: if standalone {
            String::new()
        } else {
            dep.id.clone()
        },
        stop_cause,
        exit_kind,
        exit_code,
        memory_peak_mib: peak,
        memory_limit_mib: limit,
        started_at_ms: t.started_ms,
        time_to_healthy_s: healthy_at.map(|h| (h - t.started_ms) as f64 / 1000.0),
        stopped_at_ms: stop.as_ref().map(|s| s.stopped_ms),
    });
}

/// Most log events in one CloudWatch Logs subscription payload.
const MAX_LOG_EVENTS: usize = 10_000;

/// CloudWatch Logs batches a stream's events: at most 10,000 per payload.
fn push_payloads(out: &mut impl Sink, group: &str, stream: &str, events: &[(i64, String)]) {
    for chunk in events.chunks(MAX_LOG_EVENTS) {
        let log_events: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, (ms, m))| json!({"id": format!("{:056}", (*ms as u128) * 1000 + i as u128), "timestamp": ms, "message": m}))
            .collect();
        let doc = json!({
            "messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": group, "logStream": stream,
            "subscriptionFilters": ["ecs-lake"], "logEvents": log_events,
        });
        out.log_payload(gzip_base64(doc.to_string().as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;

    /// One service, revision 1 healthy, revision 2 deployed after 2 h.
    fn rolling(new: Revision) -> Preset {
        let mut p = Preset::node_oom(6.0);
        p.services[0].deployments = vec![(0.0, Revision::steady(1, "v1", 300.0, 10.0)), (2.0, new)];
        p
    }

    fn truth(p: &Preset) -> Truth {
        simulate(p, 9).truth
    }

    /// The top-level keys of a JSON object, in the order they are written.
    fn keys(json: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(
                        self,
                        mut m: M,
                    ) -> Result<Keys, M::Error> {
                        let mut keys = Vec::new();
                        while let Some(k) = m.next_key::<String>()? {
                            m.next_value::<serde::de::IgnoredAny>()?;
                            keys.push(k);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(V)
            }
        }
        serde_json::from_str::<Keys>(json).unwrap().0
    }

    #[test]
    fn events_have_the_envelope_order_eventbridge_delivers() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/aws/");
        let real =
            |name: &str| keys(&std::fs::read_to_string(format!("{fixtures}{name}")).unwrap());
        let task = real("ecs_task_stopped_fargate_essential_exit2_fivexl.json");
        let deployment = real("ecs_deployment_COMPLETED_awsdocs.json");
        let out = simulate(&rolling(Revision::steady(2, "v2", 300.0, 40.0)), 9);
        let kinds: Vec<(Value, Vec<String>)> = out
            .events
            .iter()
            .map(|e| {
                (
                    serde_json::from_str::<Value>(e).unwrap()["detail-type"].clone(),
                    keys(e),
                )
            })
            .collect();
        for (kind, expected) in [
            ("ECS Task State Change", &task),
            ("ECS Deployment State Change", &deployment),
        ] {
            let seen: Vec<&Vec<String>> = kinds
                .iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, keys)| keys)
                .collect();
            assert!(!seen.is_empty(), "no {kind} events");
            assert!(
                seen.iter().all(|k| *k == expected),
                "{kind}: {:?} vs {expected:?}",
                seen[0]
            );
        }
    }

    #[test]
    fn a_failing_revision_never_replaces_the_old_tasks() {
        let p = rolling(Revision {
            health_failure_rate: 1.0,
            ..Revision::steady(2, "v2", 300.0, 10.0)
        });
        let t = truth(&p);
        let old: Vec<&TaskTruth> = t.tasks.iter().filter(|t| t.revision == 1).collect();
        assert_eq!(
            old.len(),
            p.services[0].desired,
            "one task per slot, never replaced"
        );
        assert!(old.iter().all(|t| t.stop_cause.is_none()), "{old:#?}");
        let new: Vec<&TaskTruth> = t.tasks.iter().filter(|t| t.revision == 2).collect();
        assert!(new.len() > p.services[0].desired);
        assert!(
            new.iter()
                .all(|t| t.stop_cause.is_none_or(|c| c == "elb_health_check"))
        );
    }

    #[test]
    fn a_healthy_revision_replaces_each_old_task_once_its_own_is_healthy() {
        let p = rolling(Revision::steady(2, "v2", 300.0, 40.0));
        let out = simulate(&p, 9);
        let deployed_ms = p.start_ms + 2 * 3_600_000;
        let old: Vec<&TaskTruth> = out.truth.tasks.iter().filter(|t| t.revision == 1).collect();
        assert_eq!(old.len(), p.services[0].desired);
        for (slot, t) in old.iter().enumerate() {
            assert_eq!(t.stop_cause, Some("deployment_replaced"));
            // Slot s's new task starts 20 s + 15 s * s after the deployment and
            // is healthy 40 s later; the old one begins stopping 5 s after that.
            let stopping = deployed_ms + 20_000 + slot as i64 * 15_000 + 40_000 + 5_000;
            // Drained from the target group, then SIGTERM: stopped 2 s later.
            let drained = stopping + TARGET_GROUP_DEREGISTRATION_DELAY_S * 1_000;
            assert_eq!(t.stopped_at_ms, Some(drained + 2_000), "slot {slot}");
        }
    }

    #[test]
    fn output_does_not_depend_on_the_number_of_threads() {
        // Generated in parallel chunks, delivered in plan order.
        let p = Preset::fleet(12.0);
        let run = |threads| {
            let mut out = Output::default();
            simulate_with_threads(&p, 4, &mut out, threads);
            out
        };
        let (a, b) = (run(1), run(5));
        assert!(a.events.len() > 500, "{}", a.events.len());
        assert_eq!(a.events, b.events);
        assert_eq!(a.log_payloads, b.log_payloads);
        assert_eq!(a.truth, b.truth);
    }
}
