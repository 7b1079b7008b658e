//! The parsed question, and the words that name each part.

/// What is counted or measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// Tasks whose deciding container exited with this code.
    Exit(i32),
    /// Tasks that stopped with an exit code.
    Exits,
    /// Tasks that stopped.
    Stops,
    /// Tasks the OOM killer ended.
    Oom,
    /// Tasks whose runtime ran out of its own heap (the logs say so: V8's
    /// "JavaScript heap out of memory", Java's `OutOfMemoryError`, ...),
    /// below the container's limit: not an OOM kill.
    HeapOom,
    /// Tasks that stopped on their own (the app exited or was OOM-killed) and
    /// were replaced: crash loops.
    Restarts,
    /// Tasks that failed a health check.
    Unhealthy,
    /// Seconds from start to the first HEALTHY.
    TimeToHealthy,
    MemoryPeak,
    CpuPeak,
    Deployments,
    /// Log lines, those containing the text (case-insensitive) when given.
    Logs(Option<String>),
}

/// What answers are grouped by (and what `where` can test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Revision,
    Family,
    Service,
    Cluster,
    Deployment,
    Container,
    Cause,
    ExitKind,
    ExitCode,
    Day,
    Hour,
    Az,
    LaunchType,
    Image,
    Task,
    Status,
    Signature,
    Level,
    Outcome,
}

impl Dim {
    /// The canonical name, as shown in help and errors.
    pub fn name(self) -> &'static str {
        DIMS.iter()
            .find(|(_, d)| *d == self)
            .map_or("?", |(w, _)| w)
    }
}

/// The time window: `[from, to)` in microseconds since the epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    /// No window: the whole lake.
    #[default]
    All,
    /// The last N microseconds before "now" (`--now`, or the clock).
    Last(i64),
    /// Absolute bounds (`since`, `until`).
    Range { from: Option<i64>, to: Option<i64> },
}

/// `where field = value` (or `!=`); `for X` is `where service = X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: Dim,
    pub negated: bool,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub metric: Metric,
    pub by: Vec<Dim>,
    pub window: Window,
    pub filters: Vec<Filter>,
    pub top: Option<usize>,
}

/// Spellings of the metrics (after lowercasing and reading `-`/`_` as spaces).
/// The first spelling of each is its canonical name.
/// `Exit` and `Logs` stand for their family: the parser reads the argument.
pub const METRICS: &[(&str, Metric)] = &[
    ("exit", Metric::Exit(0)),
    ("exits", Metric::Exits),
    ("exit codes", Metric::Exits),
    ("stops", Metric::Stops),
    ("stop", Metric::Stops),
    ("stopped", Metric::Stops),
    ("oom", Metric::Oom),
    ("ooms", Metric::Oom),
    ("oom kills", Metric::Oom),
    ("oom killed", Metric::Oom),
    ("out of memory", Metric::Oom),
    ("heap oom", Metric::HeapOom),
    ("heap ooms", Metric::HeapOom),
    ("heap out of memory", Metric::HeapOom),
    ("runtime oom", Metric::HeapOom),
    ("runtime ooms", Metric::HeapOom),
    ("restarts", Metric::Restarts),
    ("restart", Metric::Restarts),
    ("crash loops", Metric::Restarts),
    ("crash loop", Metric::Restarts),
    ("crashloops", Metric::Restarts),
    ("crashes", Metric::Restarts),
    ("unhealthy", Metric::Unhealthy),
    ("health checks", Metric::Unhealthy),
    ("health check failures", Metric::Unhealthy),
    ("time to healthy", Metric::TimeToHealthy),
    ("tth", Metric::TimeToHealthy),
    ("memory peak", Metric::MemoryPeak),
    ("mem peak", Metric::MemoryPeak),
    ("peak memory", Metric::MemoryPeak),
    ("memory", Metric::MemoryPeak),
    ("mem", Metric::MemoryPeak),
    ("cpu peak", Metric::CpuPeak),
    ("peak cpu", Metric::CpuPeak),
    ("cpu", Metric::CpuPeak),
    ("deployments", Metric::Deployments),
    ("deployment", Metric::Deployments),
    ("deploys", Metric::Deployments),
    ("logs", Metric::Logs(None)),
    ("log", Metric::Logs(None)),
    ("log lines", Metric::Logs(None)),
];

/// Spellings of the dimensions; the first of each is canonical.
pub const DIMS: &[(&str, Dim)] = &[
    ("revision", Dim::Revision),
    ("revisions", Dim::Revision),
    ("rev", Dim::Revision),
    ("revs", Dim::Revision),
    ("task definition", Dim::Revision),
    ("taskdef", Dim::Revision),
    ("family", Dim::Family),
    ("families", Dim::Family),
    ("service", Dim::Service),
    ("services", Dim::Service),
    ("svc", Dim::Service),
    ("svcs", Dim::Service),
    ("cluster", Dim::Cluster),
    ("clusters", Dim::Cluster),
    ("deployment", Dim::Deployment),
    ("deployments", Dim::Deployment),
    ("deploy", Dim::Deployment),
    ("deploys", Dim::Deployment),
    ("container", Dim::Container),
    ("containers", Dim::Container),
    ("cause", Dim::Cause),
    ("causes", Dim::Cause),
    ("stop cause", Dim::Cause),
    ("reason", Dim::Cause),
    ("exit kind", Dim::ExitKind),
    ("exit kinds", Dim::ExitKind),
    ("kind", Dim::ExitKind),
    ("exit code", Dim::ExitCode),
    ("exit codes", Dim::ExitCode),
    ("code", Dim::ExitCode),
    ("day", Dim::Day),
    ("days", Dim::Day),
    ("daily", Dim::Day),
    ("hour", Dim::Hour),
    ("hours", Dim::Hour),
    ("hourly", Dim::Hour),
    ("az", Dim::Az),
    ("azs", Dim::Az),
    ("availability zone", Dim::Az),
    ("zone", Dim::Az),
    ("launch type", Dim::LaunchType),
    ("launch types", Dim::LaunchType),
    ("launchtype", Dim::LaunchType),
    ("image", Dim::Image),
    ("images", Dim::Image),
    ("task", Dim::Task),
    ("tasks", Dim::Task),
    ("status", Dim::Status),
    ("last status", Dim::Status),
    ("signature", Dim::Signature),
    ("signatures", Dim::Signature),
    ("sig", Dim::Signature),
    ("level", Dim::Level),
    ("levels", Dim::Level),
    ("outcome", Dim::Outcome),
    ("outcomes", Dim::Outcome),
];

/// Words that start a clause.
pub const CLAUSES: &[&str] = &[
    "by", "last", "past", "since", "until", "where", "top", "limit", "for", "in",
];
