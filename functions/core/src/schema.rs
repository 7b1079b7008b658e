//! The lake's tables: each Arrow schema is declared exactly once, here.
//!
//! This module is the contract between `functions/` (which writes) and `query/`
//! (which reads), and later the Glue tables for Athena. Every table is declared
//! with [`table!`], which generates from one column list:
//!
//! * `COLUMNS`, the documented column list (`ecs-query schema` prints it),
//! * `schema()`, the Arrow schema (timestamps are UTC microseconds),
//! * `col::*`, one name constant per column for the query side,
//! * `Builder`, typed Arrow builders in schema order, and `Builder::finish`.
//!
//! Changing a column is a contract change: the snapshot test at the bottom fails
//! and must be updated on purpose.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt32Array,
};
use arrow::compute::{SortColumn, lexsort_to_indices};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

/// The Hive partition column every table is partitioned by (`dt=YYYY-MM-DD`, UTC).
pub const PARTITION_COLUMN: &str = "dt";

/// A column's physical kind; maps to an Arrow type and builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Ts,
    I32,
    I64,
    F64,
    Bool,
    Bin,
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Str => DataType::Utf8,
            Kind::Ts => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::I32 => DataType::Int32,
            Kind::I64 => DataType::Int64,
            Kind::F64 => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Bin => DataType::Binary,
        }
    }
}

/// One documented column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    pub doc: &'static str,
}

/// One documented table.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: &'static [Column],
    /// Rows in each file are sorted by these columns (time first, so row groups prune).
    pub sort_by: &'static [&'static str],
    /// The column whose UTC date is the row's `dt` partition.
    pub time_column: &'static str,
    /// When the row was ingested (`ingested_at`; the quarantine's
    /// `received_at`): the one column in which two deliveries of the same
    /// row differ, so deduplication ignores it.
    pub ingest_column: &'static str,
    pub schema: fn() -> SchemaRef,
}

/// The SQL (and Glue) name of a stored table name: `_quarantine` is `quarantine`.
pub fn sql_name_of(stored: &str) -> &str {
    stored.trim_start_matches('_')
}

impl TableDef {
    /// The name queries use (DataFusion, Athena): the stored name without a
    /// leading underscore (the quarantine directory is `_quarantine`).
    pub fn sql_name(&self) -> &'static str {
        sql_name_of(self.name)
    }

    /// The row order of `batch` by this table's sort columns ([`TableDef::sort_by`]).
    pub fn sort_order(&self, batch: &RecordBatch) -> Result<UInt32Array, ArrowError> {
        let sort_columns = self
            .sort_by
            .iter()
            .map(|name| {
                Ok(SortColumn {
                    values: batch
                        .column_by_name(name)
                        .cloned()
                        .ok_or_else(|| ArrowError::SchemaError(format!("no column {name}")))?,
                    options: None,
                })
            })
            .collect::<Result<Vec<_>, ArrowError>>()?;
        lexsort_to_indices(&sort_columns, None)
    }
}

/// A value that is not among a column's known names: the error of parsing
/// a stored name back into its enum (`StopCause`, `ExitKind`, `Signature`,
/// `Level`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {column}")]
pub struct UnknownValue {
    /// `table.column`, e.g. `logs.signature`.
    pub column: &'static str,
    pub value: String,
}

impl UnknownValue {
    pub fn new(column: &'static str, value: &str) -> Self {
        Self {
            column,
            value: value.to_owned(),
        }
    }
}

/// The conversions of an enum stored by name (in a column, or in JSON):
/// given its `ALL` and `as_str`, `from_name`, `Display`, `FromStr` (the
/// error names `$column`) and serde by that name, so the read side holds the
/// enum and a misspelt name is an error rather than a silent non-match.
/// Used for `StopCause`, `ExitKind`, `Signature`, `Level` here and for the
/// engine's own (`DeploymentOutcome`, `FindingKind`).
#[macro_export]
macro_rules! stored_name {
    ($ty:ty, $column:literal) => {
        impl $ty {
            /// The variant stored as `name`, if it is one.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == name)
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::schema::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_name(s).ok_or_else(|| $crate::schema::UnknownValue::new($column, s))
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                name.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// Builder types per [`Kind`]; used by [`table!`].
pub trait KindBuilder {
    type Builder: ArrayBuilder;
    /// A builder with room for `rows` values and, for strings and bytes,
    /// `bytes` bytes of them.
    fn with_capacity(rows: usize, bytes: usize) -> Self::Builder;
    /// A builder with arrow's default room (what its `new()` makes: 1024
    /// values, and 1024 bytes of strings).
    fn new_builder() -> Self::Builder {
        Self::with_capacity(1024, 1024)
    }
}
macro_rules! kind_builder {
    ($kind:ident, $builder:ty, |$rows:ident, $bytes:ident| $with_capacity:expr) => {
        pub struct $kind;
        impl KindBuilder for $kind {
            type Builder = $builder;
            fn with_capacity($rows: usize, $bytes: usize) -> $builder {
                $with_capacity
            }
        }
    };
}
/// Marker types naming the column kinds in [`table!`] declarations.
pub mod kinds {
    use super::*;
    kind_builder!(Str, StringBuilder, |rows, bytes| {
        StringBuilder::with_capacity(rows, bytes)
    });
    kind_builder!(Ts, TimestampMicrosecondBuilder, |rows, _bytes| {
        TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC")
    });
    kind_builder!(I32, Int32Builder, |rows, _bytes| {
        Int32Builder::with_capacity(rows)
    });
    kind_builder!(I64, Int64Builder, |rows, _bytes| {
        Int64Builder::with_capacity(rows)
    });
    kind_builder!(F64, Float64Builder, |rows, _bytes| {
        Float64Builder::with_capacity(rows)
    });
    kind_builder!(Bool, BooleanBuilder, |rows, _bytes| {
        BooleanBuilder::with_capacity(rows)
    });
    kind_builder!(Bin, BinaryBuilder, |rows, bytes| {
        BinaryBuilder::with_capacity(rows, bytes)
    });
}

macro_rules! nullable {
    (required) => {
        false
    };
    (optional) => {
        true
    };
}

/// Declares a table: see the module docs.
macro_rules! table {
    (
        $(#[doc = $tdoc:literal])*
        $module:ident = $name:literal, sort_by [$($sort:literal),*], time $time:literal, ingest $ingest:literal {
            $( $col:ident : $kind:ident $null:ident => $doc:literal ),* $(,)?
        }
    ) => {
        $(#[doc = $tdoc])*
        pub mod $module {
            use super::*;

            pub const NAME: &str = $name;

            pub const COLUMNS: &[Column] = &[
                $( Column { name: stringify!($col), kind: Kind::$kind, nullable: nullable!($null), doc: $doc } ),*
            ];

            pub static DEF: TableDef = TableDef {
                name: $name,
                doc: concat!($($tdoc, "\n"),*),
                columns: COLUMNS,
                sort_by: &[$($sort),*],
                time_column: $time,
                ingest_column: $ingest,
                schema,
            };

            /// Column name constants, for building queries without typos.
            #[allow(non_upper_case_globals)]
            pub mod col {
                $( pub const $col: &str = stringify!($col); )*
            }

            pub fn schema() -> SchemaRef {
                static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
                    Arc::new(Schema::new(
                        COLUMNS.iter().map(|c| Field::new(c.name, c.kind.data_type(), c.nullable)).collect::<Vec<_>>(),
                    ))
                });
                SCHEMA.clone()
            }

            /// Typed builders in schema order. Append one value to every column per row.
            pub struct Builder {
                $( pub $col: <kinds::$kind as KindBuilder>::Builder, )*
            }

            impl Default for Builder {
                fn default() -> Self {
                    Self { $( $col: <kinds::$kind as KindBuilder>::new_builder(), )* }
                }
            }

            impl Builder {
                /// Builders with room for `rows` rows, and `bytes(column)`
                /// bytes of values in each string or binary column (other
                /// columns ignore it).
                pub fn with_capacity(rows: usize, bytes: impl Fn(&str) -> usize) -> Self {
                    Self { $( $col: <kinds::$kind as KindBuilder>::with_capacity(rows, bytes(stringify!($col))), )* }
                }

                /// Rows appended so far (every column has the same length when rows are complete).
                pub fn len(&self) -> usize {
                    let lens = [$( ArrayBuilder::len(&self.$col) ),*];
                    lens[0]
                }

                pub fn is_empty(&self) -> bool {
                    self.len() == 0
                }

                /// Finishes the rows into a batch, leaving the builder empty for reuse.
                pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
                    let columns: Vec<ArrayRef> = vec![$( ArrayBuilder::finish(&mut self.$col) ),*];
                    RecordBatch::try_new(schema(), columns)
                }
            }
        }
    };
}

table! {
    /// One row per `ECS Task State Change` event: the task's lifecycle as ECS
    /// reported it at that moment, with the stop classification once it stopped.
    /// Duplicates (at-least-once delivery) share `event_id`, and the same
    /// `task_arn` + `version`; the latest state of a task is its highest `version`.
    task_events = "task_events", sort_by ["event_time", "cluster", "service"], time "event_time", ingest "ingested_at" {
        event_id: Str required => "EventBridge event id",
        event_time: Ts required => "EventBridge event time (UTC)",
        ingested_at: Ts required => "when this row was written",
        account: Str optional => "AWS account id",
        region: Str optional => "AWS region",
        cluster: Str optional => "cluster name (from clusterArn or the task ARN)",
        service: Str optional => "service name, from group `service:<name>`; null for standalone tasks",
        task_id: Str required => "task id (last segment of the task ARN)",
        task_arn: Str required => "task ARN (old or new format)",
        task_group: Str optional => "task group (`service:<name>` or `family:<name>` or custom)",
        started_by: Str optional => "startedBy",
        deployment_id: Str optional => "deployment id (`ecs-svc/...`) when startedBy is a service deployment",
        family: Str optional => "task definition family",
        revision: I32 optional => "task definition revision",
        task_definition_arn: Str optional => "task definition ARN",
        last_status: Str optional => "lastStatus (PROVISIONING ... RUNNING ... STOPPED)",
        desired_status: Str optional => "desiredStatus",
        health_status: Str optional => "task healthStatus when present (HEALTHY, UNHEALTHY, UNKNOWN)",
        stop_code: Str optional => "stopCode",
        stopped_reason: Str optional => "stoppedReason",
        stop_cause: Str optional => "why ECS stopped it (classifier; null until the task stopped)",
        exit_kind: Str optional => "how the deciding container's process ended (classifier; null until stopped)",
        exit_code: I32 optional => "exit code of the deciding container",
        exit_container: Str optional => "the deciding container: OOM-killed, else the one that exited by itself",
        created_at: Ts optional => "createdAt",
        connectivity_at: Ts optional => "connectivityAt",
        pull_started_at: Ts optional => "pullStartedAt",
        pull_stopped_at: Ts optional => "pullStoppedAt",
        started_at: Ts optional => "startedAt",
        stopping_at: Ts optional => "stoppingAt",
        execution_stopped_at: Ts optional => "executionStoppedAt",
        stopped_at: Ts optional => "stoppedAt",
        updated_at: Ts optional => "updatedAt",
        cpu: I32 optional => "task CPU units (strings and \"null\" normalized)",
        memory: I32 optional => "task memory, MiB",
        launch_type: Str optional => "FARGATE, EC2, EXTERNAL",
        availability_zone: Str optional => "availabilityZone",
        capacity_provider: Str optional => "capacityProviderName",
        platform_version: Str optional => "Fargate platform version",
        container_instance_arn: Str optional => "EC2 container instance ARN",
        version: I64 optional => "detail.version: monotonic per task; duplicates share it",
        raw: Str required => "the original EventBridge event, JSON",
    }
}

table! {
    /// One row per container per `ECS Task State Change` event.
    container_events = "container_events", sort_by ["event_time", "cluster", "service"], time "event_time", ingest "ingested_at" {
        event_id: Str required => "EventBridge event id",
        event_time: Ts required => "EventBridge event time (UTC)",
        ingested_at: Ts required => "when this row was written",
        account: Str optional => "AWS account id",
        region: Str optional => "AWS region",
        cluster: Str optional => "cluster name",
        service: Str optional => "service name, null for standalone tasks",
        task_id: Str required => "task id",
        task_arn: Str required => "task ARN",
        family: Str optional => "task definition family",
        revision: I32 optional => "task definition revision",
        deployment_id: Str optional => "deployment id (`ecs-svc/...`)",
        task_version: I64 optional => "detail.version of the task event",
        task_last_status: Str optional => "the task's lastStatus in this event",
        stop_cause: Str optional => "the task's stop cause (classifier), null while it runs",
        container_name: Str required => "container name",
        container_arn: Str optional => "container ARN",
        image: Str optional => "image reference",
        image_digest: Str optional => "imageDigest",
        runtime_id: Str optional => "runtimeId",
        last_status: Str optional => "container lastStatus",
        exit_code: I32 optional => "exitCode, null until the container stopped (or when it never started)",
        exit_kind: Str optional => "how this container's process ended (classifier); null until it stopped",
        reason: Str optional => "container reason, e.g. OutOfMemoryError: Container killed due to memory usage",
        health_status: Str optional => "container healthStatus when present",
        cpu: I32 optional => "container CPU units",
        memory: I32 optional => "container hard memory limit, MiB",
        memory_reservation: I32 optional => "container soft memory limit, MiB",
    }
}

table! {
    /// One row per `ECS Deployment State Change` or `ECS Service Action` event.
    service_events = "service_events", sort_by ["event_time", "cluster", "service"], time "event_time", ingest "ingested_at" {
        event_id: Str required => "EventBridge event id",
        event_time: Ts required => "EventBridge event time (UTC)",
        ingested_at: Ts required => "when this row was written",
        account: Str optional => "AWS account id",
        region: Str optional => "AWS region",
        detail_type: Str required => "ECS Deployment State Change or ECS Service Action",
        event_type: Str optional => "INFO, WARN, ERROR",
        event_name: Str optional => "SERVICE_DEPLOYMENT_COMPLETED, SERVICE_STEADY_STATE, SERVICE_TASK_PLACEMENT_FAILURE, ...",
        cluster: Str optional => "cluster name (clusterArn, else the service ARN)",
        service: Str optional => "service name (from resources[0])",
        service_arn: Str optional => "service ARN",
        deployment_id: Str optional => "deploymentId (deployment events)",
        reason: Str optional => "reason, e.g. circuit-breaker messages or RESOURCE:CPU",
        rollback: Bool optional => "the reason says the circuit breaker is rolling back",
        created_at: Ts optional => "createdAt (service actions)",
        updated_at: Ts optional => "updatedAt (deployment events)",
        raw: Str required => "the original EventBridge event, JSON",
    }
}

table! {
    /// One row per ECS event of a type the other tables do not take (service
    /// deployment lifecycle hooks, daemon and managed-instance events, event
    /// types AWS adds later), stored as received so nothing readable is
    /// quarantined; the detail is in `raw`.
    other_events = "other_events", sort_by ["event_time", "detail_type"], time "event_time", ingest "ingested_at" {
        event_id: Str required => "EventBridge event id",
        event_time: Ts required => "EventBridge event time (UTC)",
        ingested_at: Ts required => "when this row was written",
        account: Str optional => "AWS account id",
        region: Str optional => "AWS region",
        detail_type: Str required => "the detail-type as received",
        cluster: Str optional => "cluster name, from detail.clusterArn or the first resource that names one",
        resource: Str optional => "resources[0]",
        raw: Str required => "the original EventBridge event, JSON",
    }
}

table! {
    /// One row per `ECS Container Instance State Change` event (EC2 hosts).
    instance_events = "instance_events", sort_by ["event_time", "cluster"], time "event_time", ingest "ingested_at" {
        event_id: Str required => "EventBridge event id",
        event_time: Ts required => "EventBridge event time (UTC)",
        ingested_at: Ts required => "when this row was written",
        account: Str optional => "AWS account id",
        region: Str optional => "AWS region",
        cluster: Str optional => "cluster name",
        container_instance_arn: Str optional => "container instance ARN",
        container_instance_id: Str optional => "container instance id",
        ec2_instance_id: Str optional => "EC2 instance id",
        status: Str optional => "ACTIVE, DRAINING, ...",
        status_reason: Str optional => "statusReason",
        agent_connected: Bool optional => "whether the ECS agent is connected",
        agent_update_status: Str optional => "agentUpdateStatus",
        registered_cpu: I64 optional => "registered CPU units",
        registered_memory: I64 optional => "registered memory, MiB",
        remaining_cpu: I64 optional => "remaining CPU units",
        remaining_memory: I64 optional => "remaining memory, MiB",
        agent_version: Str optional => "ECS agent version",
        docker_version: Str optional => "Docker version",
        version: I64 optional => "detail.version",
        updated_at: Ts optional => "updatedAt",
        raw: Str required => "the original EventBridge event, JSON",
    }
}

table! {
    /// One row per Container Insights performance record (log group
    /// `/aws/ecs/containerinsights/<cluster>/performance`): `Type` Task and
    /// Container every minute, plus Service and Cluster. Columns that a record
    /// type does not carry are null. Memory is MiB, CPU is CPU units, network and
    /// storage counters are bytes (cumulative as Container Insights reports them).
    metrics = "metrics", sort_by ["time", "cluster", "task_id"], time "time", ingest "ingested_at" {
        time: Ts required => "Timestamp: the minute the record covers (UTC)",
        ingested_at: Ts required => "when this row was written",
        record_type: Str required => "Type: Task, Container, Service, Cluster (others kept as sent)",
        cluster: Str optional => "ClusterName (else from the log group)",
        service: Str optional => "ServiceName (Fargate and enhanced observability records carry it)",
        task_id: Str optional => "TaskId",
        family: Str optional => "TaskDefinitionFamily",
        revision: I32 optional => "TaskDefinitionRevision (sent as a string)",
        container: Str optional => "ContainerName (Container records)",
        image: Str optional => "Image (Container records)",
        launch_type: Str optional => "LaunchType: EC2, FARGATE",
        availability_zone: Str optional => "AvailabilityZone",
        known_status: Str optional => "KnownStatus (Task) or ContainerKnownStatus (Container)",
        container_instance_id: Str optional => "ContainerInstanceId (EC2)",
        ec2_instance_id: Str optional => "EC2InstanceId (EC2)",
        cpu_utilized: F64 optional => "CpuUtilized, CPU units",
        cpu_reserved: F64 optional => "CpuReserved, CPU units",
        memory_utilized: I64 optional => "MemoryUtilized, MiB",
        memory_reserved: I64 optional => "MemoryReserved, MiB (the task or container limit)",
        network_rx_bytes: I64 optional => "NetworkRxBytes",
        network_rx_packets: I64 optional => "NetworkRxPackets",
        network_rx_dropped: I64 optional => "NetworkRxDropped",
        network_rx_errors: I64 optional => "NetworkRxErrors",
        network_tx_bytes: I64 optional => "NetworkTxBytes",
        network_tx_packets: I64 optional => "NetworkTxPackets",
        network_tx_dropped: I64 optional => "NetworkTxDropped",
        network_tx_errors: I64 optional => "NetworkTxErrors",
        storage_read_bytes: I64 optional => "StorageReadBytes (cumulative)",
        storage_write_bytes: I64 optional => "StorageWriteBytes (cumulative)",
        ephemeral_storage_utilized: F64 optional => "EphemeralStorageUtilized, GB (Fargate)",
        ephemeral_storage_reserved: F64 optional => "EphemeralStorageReserved, GB (Fargate)",
        restart_count: I64 optional => "RestartCount (containers with a restart policy)",
        unhealthy: I32 optional => "UnHealthyContainerHealthStatus: 1 unhealthy, 0 healthy (enhanced observability, containers with a health check)",
        created_at: Ts optional => "CreatedAt (Task)",
        started_at: Ts optional => "StartedAt (Task)",
        pull_started_at: Ts optional => "PullStartedAt (Task)",
        pull_stopped_at: Ts optional => "PullStoppedAt (Task)",
        desired_task_count: I64 optional => "DesiredTaskCount (Service)",
        running_task_count: I64 optional => "RunningTaskCount (Service)",
        pending_task_count: I64 optional => "PendingTaskCount (Service)",
        deployment_count: I64 optional => "DeploymentCount (Service)",
        task_set_count: I64 optional => "TaskSetCount (Service)",
        task_count: I64 optional => "TaskCount (Cluster)",
        container_instance_count: I64 optional => "ContainerInstanceCount (Cluster)",
        service_count: I64 optional => "ServiceCount (Cluster)",
        log_group: Str required => "the performance log group it came from",
        log_stream: Str optional => "log stream (AgentTelemetry-<container instance>, FargateTelemetry-<n>)",
        event_id: Str optional => "CloudWatch Logs event id; duplicates share it",
        raw: Str required => "the original performance record, JSON",
    }
}

table! {
    /// One row per application log event from a CloudWatch Logs subscription or
    /// export. Task and container come from the awslogs stream name
    /// (`prefix/container/task-id`) or from FireLens metadata in a JSON message.
    logs = "logs", sort_by ["time", "log_group", "log_stream"], time "time", ingest "ingested_at" {
        time: Ts required => "the log event's timestamp (UTC)",
        ingested_at: Ts required => "when this row was written",
        log_group: Str required => "log group",
        log_stream: Str required => "log stream",
        event_id: Str optional => "CloudWatch Logs event id; duplicates share it",
        account: Str optional => "owner: the account that owns the log group",
        cluster: Str optional => "cluster (FireLens ecs_cluster)",
        task_id: Str optional => "task id (awslogs stream name or FireLens ecs_task_arn)",
        container: Str optional => "container name (awslogs stream name or FireLens container_name)",
        family: Str optional => "task definition family (FireLens ecs_task_definition)",
        revision: I32 optional => "task definition revision (FireLens ecs_task_definition)",
        stream: Str optional => "stdout or stderr (FireLens source)",
        level: Str optional => "trace, debug, info, warn, error, fatal: from a JSON level field or the text",
        signature: Str optional => "known crash or memory line: node_heap_oom, java_oom, python_memory_error, go_oom, rust_panic, killed, segfault, sigterm",
        message: Str required => "the log message as sent",
    }
}

table! {
    /// Health samples: one row per container health status seen, from task
    /// state change events, Container Insights (`UnHealthyContainerHealthStatus`)
    /// or the DescribeTasks poller. Transitions are derived by the query side.
    health = "health", sort_by ["time", "cluster", "task_id"], time "time", ingest "ingested_at" {
        time: Ts required => "when the status was observed (UTC)",
        ingested_at: Ts required => "when this row was written",
        cluster: Str optional => "cluster name",
        service: Str optional => "service name, when known",
        task_id: Str required => "task id",
        family: Str optional => "task definition family",
        revision: I32 optional => "task definition revision",
        container: Str optional => "container name; null for the task's aggregate health",
        status: Str required => "HEALTHY, UNHEALTHY or UNKNOWN",
        source: Str required => "task_event, container_insights or poller",
    }
}

table! {
    /// One row per task definition revision, as `DescribeTaskDefinition` (or
    /// `aws ecs describe-task-definition`, `register-task-definition`) returned
    /// it when the lake first saw it. Environment values are never stored:
    /// `raw` keeps their names, and the heap settings read from them are in
    /// `container_definitions`; secrets keep only their `valueFrom` ARN.
    task_definitions = "task_definitions", sort_by ["family", "revision"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "when the definition was read (the document's time, else when it was ingested)",
        ingested_at: Ts required => "when this row was written",
        source: Str required => "describe_task_definition (the API or its CLI output) or backfill",
        task_definition_arn: Str required => "taskDefinitionArn",
        family: Str required => "task definition family",
        revision: I32 required => "revision",
        status: Str optional => "ACTIVE, INACTIVE or DELETE_IN_PROGRESS",
        network_mode: Str optional => "awsvpc, bridge, host or none (null: the default, bridge on EC2)",
        requires_compatibilities: Str optional => "requiresCompatibilities, comma-separated (EC2, FARGATE, EXTERNAL)",
        cpu: I64 optional => "task-level CPU units",
        memory: I64 optional => "task-level memory, MiB",
        task_role_arn: Str optional => "taskRoleArn",
        execution_role_arn: Str optional => "executionRoleArn",
        registered_at: Ts optional => "registeredAt",
        registered_by: Str optional => "registeredBy",
        deregistered_at: Ts optional => "deregisteredAt",
        containers: I32 required => "number of container definitions",
        raw: Str required => "the task definition, JSON, environment values redacted",
    }
}

table! {
    /// One row per container of a task definition revision (see
    /// `task_definitions`): the limits, health check, timeouts and the runtime
    /// heap settings found in its environment, parsed into numbers.
    container_definitions = "container_definitions", sort_by ["family", "revision", "container_name"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "as in task_definitions",
        ingested_at: Ts required => "when this row was written",
        task_definition_arn: Str required => "taskDefinitionArn",
        family: Str required => "task definition family",
        revision: I32 required => "revision",
        container_name: Str required => "container name",
        image: Str optional => "image",
        essential: Bool optional => "essential (ECS's default when absent: true)",
        cpu: I64 optional => "container CPU units",
        memory: I64 optional => "hard memory limit, MiB (the kernel kills the container above it)",
        memory_reservation: I64 optional => "soft memory limit, MiB",
        health_check_command: Str optional => "healthCheck.command, space-separated",
        health_check_interval: I64 optional => "healthCheck.interval, s (ECS's default when absent: 30)",
        health_check_timeout: I64 optional => "healthCheck.timeout, s (default 5)",
        health_check_retries: I64 optional => "healthCheck.retries (default 3)",
        health_check_start_period: I64 optional => "healthCheck.startPeriod, s (absent: no grace)",
        stop_timeout: I64 optional => "stopTimeout, s (absent: 30 on Fargate, the agent's ECS_CONTAINER_STOP_TIMEOUT on EC2)",
        start_timeout: I64 optional => "startTimeout, s",
        init_process_enabled: Bool optional => "linuxParameters.initProcessEnabled",
        restart_policy: Bool optional => "restartPolicy.enabled",
        ulimits: Str optional => "ulimits as name=soft:hard, comma-separated",
        log_driver: Str optional => "logConfiguration.logDriver",
        log_group: Str optional => "the awslogs-group option",
        environment_names: Str optional => "environment variable names, comma-separated (values are not stored)",
        secrets: Str optional => "secrets as NAME=valueFrom ARN, comma-separated",
        heap_settings: Str optional => "the heap flags found in the environment, e.g. NODE_OPTIONS=--max-old-space-size=1536 (only those tokens)",
        node_max_old_space_mib: I64 optional => "--max-old-space-size in NODE_OPTIONS, MiB",
        java_xmx_mib: I64 optional => "-Xmx in JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or JAVA_OPTS, MiB",
        java_max_ram_percentage: F64 optional => "-XX:MaxRAMPercentage in the same variables, %",
        go_memlimit_mib: I64 optional => "GOMEMLIMIT, MiB",
    }
}

table! {
    /// One row per service as `DescribeServices` (or `aws ecs describe-services`,
    /// `create-service`, `update-service`) returned it: what the diagnosis
    /// quotes of the service (health-check grace period, deployment
    /// configuration, load balancers).
    services = "services", sort_by ["cluster", "service"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "when the service was read (when it was ingested)",
        ingested_at: Ts required => "when this row was written",
        cluster: Str optional => "cluster name (clusterArn, else the service ARN)",
        service: Str required => "serviceName",
        service_arn: Str required => "serviceArn",
        status: Str optional => "ACTIVE, DRAINING or INACTIVE",
        launch_type: Str optional => "launchType",
        desired_count: I64 optional => "desiredCount",
        task_definition: Str optional => "the service's task definition ARN",
        health_check_grace_period_seconds: I64 optional => "healthCheckGracePeriodSeconds (load-balanced services)",
        circuit_breaker_enable: Bool optional => "deploymentConfiguration.deploymentCircuitBreaker.enable",
        circuit_breaker_rollback: Bool optional => "deploymentConfiguration.deploymentCircuitBreaker.rollback",
        alarms_enable: Bool optional => "deploymentConfiguration.alarms.enable",
        alarms_rollback: Bool optional => "deploymentConfiguration.alarms.rollback",
        alarm_names: Str optional => "deploymentConfiguration.alarms.alarmNames, comma-separated",
        maximum_percent: I64 optional => "deploymentConfiguration.maximumPercent",
        minimum_healthy_percent: I64 optional => "deploymentConfiguration.minimumHealthyPercent",
        target_groups: Str optional => "the load balancers' target group ARNs, comma-separated",
        created_at: Ts optional => "createdAt",
        raw: Str required => "the service, JSON",
    }
}

table! {
    /// One row per target group as `aws elbv2 describe-target-groups`
    /// returned it: the load balancer's health check.
    target_groups = "target_groups", sort_by ["target_group_arn"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "when the target group was read (when it was ingested)",
        ingested_at: Ts required => "when this row was written",
        target_group_arn: Str required => "TargetGroupArn",
        name: Str optional => "TargetGroupName",
        protocol: Str optional => "Protocol",
        port: I64 optional => "Port",
        target_type: Str optional => "TargetType: instance, ip, lambda, alb",
        health_check_protocol: Str optional => "HealthCheckProtocol",
        health_check_port: Str optional => "HealthCheckPort (a port, or traffic-port)",
        health_check_path: Str optional => "HealthCheckPath",
        health_check_interval: I64 optional => "HealthCheckIntervalSeconds",
        health_check_timeout: I64 optional => "HealthCheckTimeoutSeconds",
        healthy_threshold: I64 optional => "HealthyThresholdCount",
        unhealthy_threshold: I64 optional => "UnhealthyThresholdCount",
        matcher: Str optional => "Matcher.HttpCode (or GrpcCode)",
        raw: Str required => "the target group, JSON",
    }
}

table! {
    /// One row per target group's attributes as `aws elbv2
    /// describe-target-group-attributes` returned them, with the ARN they
    /// were asked for added (the answer does not name its target group):
    /// `{"TargetGroupArn": "...", "Attributes": [...]}`.
    target_group_attributes = "target_group_attributes", sort_by ["target_group_arn"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "when the attributes were read (when they were ingested)",
        ingested_at: Ts required => "when this row was written",
        target_group_arn: Str required => "TargetGroupArn (added to the answer)",
        deregistration_delay_s: I64 optional => "deregistration_delay.timeout_seconds: how long ECS waits for a stopping task's connections to drain before SIGTERM",
        slow_start_s: I64 optional => "slow_start.duration_seconds",
        stickiness_enabled: Bool optional => "stickiness.enabled",
        load_balancing_algorithm: Str optional => "load_balancing.algorithm.type",
        attributes: Str required => "every attribute as key=value, comma-separated",
        raw: Str required => "the answer, JSON",
    }
}

table! {
    /// One row per service deployment as `ListServiceDeployments` (a brief)
    /// or `DescribeServiceDeployments` (the whole record) returned it (or
    /// `aws ecs list-/describe-service-deployments`): what ECS itself says
    /// of a deployment, which it keeps for 90 days. A brief fills only the
    /// columns it has; readers prefer the latest whole record per ARN.
    service_deployments = "service_deployments", sort_by ["cluster", "service", "created_at"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "when it was read (when it was ingested)",
        ingested_at: Ts required => "when this row was written",
        service_deployment_arn: Str required => "serviceDeploymentArn",
        cluster: Str optional => "cluster name (clusterArn, else the service ARN)",
        service: Str optional => "service name (from serviceArn)",
        service_arn: Str optional => "serviceArn",
        detailed: Bool required => "true for DescribeServiceDeployments' record, false for a ListServiceDeployments brief",
        status: Str optional => "PENDING, SUCCESSFUL, STOPPED, STOP_REQUESTED, IN_PROGRESS, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED",
        status_reason: Str optional => "statusReason",
        lifecycle_stage: Str optional => "lifecycleStage",
        created_at: Ts optional => "createdAt",
        started_at: Ts optional => "startedAt",
        finished_at: Ts optional => "finishedAt",
        stopped_at: Ts optional => "stoppedAt",
        updated_at: Ts optional => "updatedAt",
        target_service_revision_arn: Str optional => "targetServiceRevision.arn (targetServiceRevisionArn in a brief)",
        source_service_revision_arns: Str optional => "sourceServiceRevisions' ARNs, comma-separated",
        circuit_breaker_enable: Bool optional => "deploymentConfiguration.deploymentCircuitBreaker.enable",
        circuit_breaker_rollback: Bool optional => "deploymentConfiguration.deploymentCircuitBreaker.rollback",
        circuit_breaker_status: Str optional => "deploymentCircuitBreaker.status: TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED",
        circuit_breaker_failure_count: I64 optional => "deploymentCircuitBreaker.failureCount: tasks that failed to reach RUNNING",
        circuit_breaker_threshold: I64 optional => "deploymentCircuitBreaker.threshold",
        alarms_status: Str optional => "alarms.status: TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED",
        alarm_names: Str optional => "alarms.alarmNames, comma-separated",
        triggered_alarm_names: Str optional => "alarms.triggeredAlarmNames, comma-separated",
        rollback_reason: Str optional => "rollback.reason",
        rollback_started_at: Ts optional => "rollback.startedAt",
        rollback_service_revision_arn: Str optional => "rollback.serviceRevisionArn: the revision rolled back to",
        raw: Str required => "the service deployment, JSON",
    }
}

table! {
    /// One row per service revision as `DescribeServiceRevisions` (or
    /// `aws ecs describe-service-revisions`) returned it: the task
    /// definition and images a service deployment rolled out.
    service_revisions = "service_revisions", sort_by ["cluster", "service", "created_at"], time "captured_at", ingest "ingested_at" {
        captured_at: Ts required => "when it was read (when it was ingested)",
        ingested_at: Ts required => "when this row was written",
        service_revision_arn: Str required => "serviceRevisionArn",
        cluster: Str optional => "cluster name (clusterArn, else the service ARN)",
        service: Str optional => "service name (from serviceArn)",
        service_arn: Str optional => "serviceArn",
        task_definition: Str optional => "taskDefinition ARN",
        family: Str optional => "the task definition's family",
        revision: I64 optional => "the task definition's revision",
        launch_type: Str optional => "launchType",
        capacity_providers: Str optional => "capacityProviderStrategy's providers, comma-separated",
        platform_version: Str optional => "platformVersion",
        container_images: Str optional => "containerImages as name=image@digest, comma-separated",
        target_groups: Str optional => "loadBalancers' target group ARNs, comma-separated",
        created_at: Ts optional => "createdAt",
        raw: Str required => "the service revision, JSON",
    }
}

table! {
    /// Every input that could not be normalized, kept whole with the reason.
    /// Stored under `_quarantine/`, partitioned by the day it was received.
    quarantine = "_quarantine", sort_by ["received_at"], time "received_at", ingest "received_at" {
        received_at: Ts required => "when the input was received",
        source: Str required => "which ingester saw it: events, logs, backfill",
        input_id: Str optional => "where it came from: SQS message id, Kinesis sequence number, file:line; `/<event id>` for one log event of a payload",
        reason: Str required => "why it could not be normalized",
        detail_type: Str optional => "the EventBridge detail-type, when it could be read",
        size: I64 required => "size of the raw input in bytes",
        raw: Bin required => "the input, byte for byte",
    }
}

table! {
    /// Derived, never ingested: one row per task and day of `metrics`, the
    /// day's peaks over the task's Task and Container records, written by
    /// compaction beside each compacted `metrics` day and named after the same
    /// run (`compacted-<run>-peaks.parquet`). A reader uses a day's peaks only
    /// while that day's metrics are exactly that run's files, else it reads
    /// the metrics themselves; compacting the day again rebuilds them.
    task_peaks = "task_peaks", sort_by ["task_id"], time "last_time", ingest "compacted_at" {
        task_id: Str required => "task id",
        first_time: Ts required => "the task's first sample that day",
        last_time: Ts required => "the task's last sample that day",
        samples: I64 required => "Task and Container records that day",
        memory_peak: I64 optional => "max MemoryUtilized, MiB",
        memory_reserved: I64 optional => "max MemoryReserved, MiB",
        cpu_peak: F64 optional => "max CpuUtilized, CPU units",
        cpu_reserved: F64 optional => "max CpuReserved, CPU units",
        compacted_at: Ts required => "when compaction wrote the row",
    }
}

table! {
    /// Derived, never ingested: one row per task and day of `health`, the
    /// day's first observations and UNHEALTHY count, written by compaction
    /// beside each compacted `health` day and named after the same run
    /// (`compacted-<run>-health.parquet`). Used like `task_peaks`: only while
    /// that day's health rows are exactly that run's files.
    task_health = "task_health", sort_by ["task_id"], time "last_time", ingest "compacted_at" {
        task_id: Str required => "task id",
        first_time: Ts required => "the task's first health observation that day",
        last_time: Ts required => "the task's last health observation that day",
        samples: I64 required => "health observations that day",
        first_healthy_at: Ts optional => "first HEALTHY that day, not counting Container Insights",
        first_unhealthy_at: Ts optional => "first UNHEALTHY that day",
        unhealthy_samples: I64 required => "UNHEALTHY observations that day",
        compacted_at: Ts required => "when compaction wrote the row",
    }
}

/// Tables derived from others at compaction, rebuilt by compacting again;
/// not ingested, not compacted themselves (see `crate::derived`).
pub static DERIVED: &[&TableDef] = &[&task_peaks::DEF, &task_health::DEF];

/// Every table, in documentation order.
pub static TABLES: &[&TableDef] = &[
    &task_events::DEF,
    &container_events::DEF,
    &service_events::DEF,
    &instance_events::DEF,
    &other_events::DEF,
    &metrics::DEF,
    &logs::DEF,
    &health::DEF,
    &task_definitions::DEF,
    &container_definitions::DEF,
    &services::DEF,
    &target_groups::DEF,
    &target_group_attributes::DEF,
    &service_deployments::DEF,
    &service_revisions::DEF,
    &quarantine::DEF,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The schemas are a contract (query/, Athena): changing one must be deliberate.
    #[test]
    fn schema_snapshots() {
        for t in TABLES {
            let text: String = (t.schema)()
                .fields()
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}{}\n",
                        f.name(),
                        f.data_type(),
                        if f.is_nullable() { "" } else { " NOT NULL" }
                    )
                })
                .collect();
            insta::assert_snapshot!(t.name, text);
        }
    }

    #[test]
    fn declared_sort_and_time_columns_exist() {
        for t in TABLES {
            let schema = (t.schema)();
            for c in t.sort_by.iter().chain([&t.time_column]) {
                assert!(
                    schema.field_with_name(c).is_ok(),
                    "{}: no column {c}",
                    t.name
                );
            }
            assert_eq!(
                schema
                    .field_with_name(t.time_column)
                    .map(|f| f.data_type().clone())
                    .ok(),
                Some(Kind::Ts.data_type())
            );
        }
    }

    #[test]
    fn ingest_columns_are_required_timestamps() {
        for t in TABLES {
            let schema = (t.schema)();
            let field = schema.field_with_name(t.ingest_column);
            assert!(
                field.is_ok_and(|f| !f.is_nullable() && f.data_type() == &Kind::Ts.data_type()),
                "{}: {} is not a required timestamp",
                t.name,
                t.ingest_column
            );
            // Every other column is content: two deliveries agree on it.
            let times = schema
                .fields()
                .iter()
                .filter(|f| {
                    ["ingested_at", "received_at", "quarantined_at"].contains(&f.name().as_str())
                })
                .count();
            assert_eq!(times, 1, "{}: one ingest-time column", t.name);
        }
    }

    #[test]
    fn builders_finish_in_schema_order() {
        let mut b = task_events::Builder::default();
        assert!(b.is_empty());
        let batch = b.finish().unwrap();
        assert_eq!(batch.schema(), task_events::schema());
        assert_eq!(task_events::col::stop_cause, "stop_cause");
    }
}
