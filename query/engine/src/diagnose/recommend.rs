//! The settings a finding recommends: memory sizes valid for the task's
//! CPU on Fargate, heap flags for recognisable runtimes, health-check
//! timings. Pure functions, table-tested.

use ecs_lake::sources::logs::signature::Signature;
use serde::Serialize;

/// Fargate's valid memory sizes (MiB) for a task CPU (units), per the
/// "Task CPU and memory" table of the ECS developer guide.
pub fn fargate_memory_sizes(cpu: i64) -> Vec<i64> {
    let gib = |g: i64| g * 1024;
    match cpu {
        256 => vec![512, 1024, 2048],
        512 => (1..=4).map(gib).collect(),
        1024 => (2..=8).map(gib).collect(),
        2048 => (4..=16).map(gib).collect(),
        4096 => (8..=30).map(gib).collect(),
        8192 => (4..=15).map(|i| gib(i * 4)).collect(),
        16384 => (4..=15).map(|i| gib(i * 8)).collect(),
        _ => Vec::new(),
    }
}

/// The smallest memory size of at least `mib` that the task can have:
/// a valid Fargate size for its CPU, else (EC2, or an unknown CPU) `mib`
/// rounded up to 128 MiB. `None` when no Fargate size for this CPU is large
/// enough (the CPU must grow too).
pub fn memory_size_at_least(mib: f64, cpu: Option<i64>, fargate: bool) -> Option<i64> {
    let want = mib.ceil() as i64;
    if fargate && let Some(cpu) = cpu {
        let sizes = fargate_memory_sizes(cpu);
        if !sizes.is_empty() {
            return sizes.into_iter().find(|s| *s >= want);
        }
    }
    Some(round_up(want, 128))
}

pub fn round_up(value: i64, step: i64) -> i64 {
    (value + step - 1).div_euclid(step) * step
}

/// A runtime the heap flags depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    Node,
    Jvm,
    Python,
    Go,
}

impl Runtime {
    /// From a log signature (the strongest evidence: the runtime said so).
    pub fn from_signature(signature: Signature) -> Option<Runtime> {
        match signature {
            Signature::NodeHeapOom => Some(Runtime::Node),
            Signature::JavaOom => Some(Runtime::Jvm),
            Signature::PythonMemoryError => Some(Runtime::Python),
            Signature::GoOom => Some(Runtime::Go),
            Signature::RustPanic | Signature::Segfault | Signature::Sigterm | Signature::Killed => {
                None
            }
        }
    }

    /// From an image name (`.../node:20-alpine`, `eclipse-temurin`, ...).
    pub fn from_image(image: &str) -> Option<Runtime> {
        let name = image
            .rsplit('/')
            .next()
            .unwrap_or(image)
            .to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if has(&["node", "bun", "deno"]) {
            Some(Runtime::Node)
        } else if has(&[
            "java", "jdk", "jre", "temurin", "corretto", "openjdk", "spring", "kotlin",
        ]) {
            Some(Runtime::Jvm)
        } else if has(&["python", "django", "flask", "uvicorn", "gunicorn"]) {
            Some(Runtime::Python)
        } else if has(&["golang"]) {
            Some(Runtime::Go)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Node => "Node.js",
            Runtime::Jvm => "JVM",
            Runtime::Python => "Python",
            Runtime::Go => "Go",
        }
    }

    /// The heap cap for a container limit, MiB: about 75% of it (the rest
    /// for buffers, stacks and native memory); `None` for Python, which has none.
    pub fn heap_cap_mib(self, limit_mib: i64) -> Option<i64> {
        (self != Runtime::Python).then(|| round_up(limit_mib * 3 / 4, 32).min(limit_mib))
    }

    /// The environment variable and the flag in it that cap the heap for a
    /// container limit ([`Runtime::heap_cap_mib`]); `None` for Python.
    pub fn heap_variable(self, limit_mib: i64) -> Option<(&'static str, String)> {
        let heap = self.heap_cap_mib(limit_mib)?;
        match self {
            Runtime::Node => Some(("NODE_OPTIONS", format!("--max-old-space-size={heap}"))),
            Runtime::Jvm => Some(("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75.0".to_owned())),
            Runtime::Go => Some(("GOMEMLIMIT", format!("{heap}MiB"))),
            Runtime::Python => None,
        }
    }

    /// The heap setting that makes the runtime collect (or fail with its own
    /// out-of-memory error and stack) before the container's limit kills it.
    pub fn heap_setting(self, limit_mib: i64) -> String {
        let heap = self.heap_cap_mib(limit_mib).unwrap_or(limit_mib);
        match self {
            Runtime::Node => format!(
                "NODE_OPTIONS=--max-old-space-size={heap} (about 75% of the {limit_mib} MiB limit, leaving room for buffers and native memory)"
            ),
            Runtime::Jvm => "JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0 (the heap follows the container limit; \
                             metaspace, threads and direct buffers need the rest)"
                .to_owned(),
            Runtime::Go => format!("GOMEMLIMIT={heap}MiB (the GC works harder before the limit)"),
            Runtime::Python => "Python has no heap cap: bound caches and worker counts (e.g. gunicorn --max-requests to recycle workers)".to_owned(),
        }
    }
}

/// A health check grace or start period covering `p95` seconds of warm-up
/// with half again as much headroom, rounded up to 10 s (ECS: at most 300 s
/// for a container health check's startPeriod).
pub fn grace_period_s(p95_warm_up_s: f64) -> i64 {
    round_up((p95_warm_up_s * 1.5).ceil() as i64, 10).max(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes_follow_the_cpu_table() {
        assert_eq!(fargate_memory_sizes(256), vec![512, 1024, 2048]);
        assert_eq!(fargate_memory_sizes(512), vec![1024, 2048, 3072, 4096]);
        assert_eq!(fargate_memory_sizes(1024).first(), Some(&2048));
        assert_eq!(fargate_memory_sizes(4096).last(), Some(&30720));
        assert_eq!(fargate_memory_sizes(8192).first(), Some(&16384));
        assert_eq!(fargate_memory_sizes(16384).last(), Some(&122880));
        assert!(fargate_memory_sizes(300).is_empty());
    }

    #[test]
    fn memory_size_rounds_to_a_valid_size() {
        // (want MiB, cpu, fargate) -> size
        let cases = [
            (1100.0, Some(512), true, Some(2048)),
            (1024.0, Some(512), true, Some(1024)),
            (700.0, Some(256), true, Some(1024)),
            (2100.0, Some(256), true, None),
            (700.0, Some(256), false, Some(768)),
            (700.0, None, true, Some(768)),
        ];
        for (want, cpu, fargate, size) in cases {
            assert_eq!(
                memory_size_at_least(want, cpu, fargate),
                size,
                "{want} {cpu:?} {fargate}"
            );
        }
    }

    #[test]
    fn runtimes_are_recognised() {
        assert_eq!(
            Runtime::from_signature(Signature::NodeHeapOom),
            Some(Runtime::Node)
        );
        assert_eq!(Runtime::from_signature(Signature::Segfault), None);
        assert_eq!(
            Runtime::from_image("public.ecr.aws/docker/library/node:20-alpine"),
            Some(Runtime::Node)
        );
        assert_eq!(
            Runtime::from_image("eclipse-temurin:21-jre"),
            Some(Runtime::Jvm)
        );
        assert_eq!(
            Runtime::from_image("123.dkr.ecr.us-east-1.amazonaws.com/api:v1.42.0"),
            None
        );
        assert!(
            Runtime::Node
                .heap_setting(1024)
                .contains("--max-old-space-size=768")
        );
        assert!(
            Runtime::Jvm
                .heap_setting(2048)
                .contains("MaxRAMPercentage=75")
        );
    }

    #[test]
    fn grace_covers_warm_up_with_headroom() {
        assert_eq!(grace_period_s(75.0), 120);
        assert_eq!(grace_period_s(18.0), 30);
        assert_eq!(grace_period_s(1.0), 10);
    }
}
